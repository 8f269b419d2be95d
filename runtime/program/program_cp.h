/*
 * program_cp.h — context parallelism's internals (program_cp*.c,
 * program_nccl.c): the plan, the whole problem of a launch, segments of
 * the sharded axis, and the schedules.
 */
#ifndef ATTNC_RUNTIME_PROGRAM_CP_H
#define ATTNC_RUNTIME_PROGRAM_CP_H

#include "passes/mask_analysis.h"
#include "runtime/program/program.h"

struct attnc_cp_plan {
    attnc_context *ctx;
    attnc_cp_options o;
    attnc_kernel *fwd; /* ATTNC_BUILD_GLOBAL_COORDS */
    arena arena;
    recipe *orig;      /* the recipe as written: mask analysis of the whole problem */
    mask_info mi;
    bool mi_ok;
    pmerge merge;
    pmem mem;
    int64_t computed, skipped; /* block pairs of the last launch */
    void *nccl;                /* program_nccl.c's state */
    char errmsg[ERRMSG_CAP];
};

/* The whole problem of a launch (simulated) or this rank's (NCCL). */
typedef struct cp_whole_t {
    const attnc_args *a;
    const attnc_tensor *t[5]; /* q, k, v, o, lse (NULL when unset) */
    int64_t B, H, KH, T, D, Dv;
    int64_t axis, kaxis; /* extent of the sharded axis: tokens / kv tokens, or outer grid rows */
    int64_t inner;       /* tokens per row of the sharded axis (1 for a sequence) */
    int64_t sizes[SZ_MAX];
} cp_whole_t;

/* A segment of the sharded axis: real [lo, lo + len), padded to pad
 * (rows for a grid, tokens for a sequence); t0/tlen/tpad in tokens. */
typedef struct cp_seg {
    int64_t lo, len, pad;
    int64_t t0, tlen, tpad;
} cp_seg;

attnc_status cp_whole(attnc_cp_plan *p, const attnc_args *a, int shards, cp_whole_t *w);
cp_seg cp_segment(const cp_whole_t *w, bool grid, bool kv, int s, int n);
/* Segment s of rank r's own segments (ring: 1, zigzag: 2) of n = R or 2R. */
int cp_rank_segments(const attnc_cp_plan *p, int r, int *segs);
bool cp_pair_empty(const attnc_cp_plan *p, const cp_whole_t *w, const cp_seg *q, const cp_seg *k);
attnc_status cp_copy_tokens(attnc_cp_plan *p, const attnc_tensor *t, bool to_dense, void *dense, int64_t h0,
                            int64_t nh, int64_t pad, int64_t at, int64_t t0, int64_t len, strbuf *err);

attnc_status cp_ring_sim(attnc_cp_plan *p, const cp_whole_t *w);    /* ring and zigzag */
attnc_status cp_ulysses_sim(attnc_cp_plan *p, const cp_whole_t *w);

/* How a ring's K/V blocks move (program_cp_ring.c): at step s (0 <= s <
 * R-1) rank `rank` sends the block in cur (k, v: bytes[0], bytes[1]) to
 * rank+1 and receives rank-1's into nxt, on stream cs. */
typedef struct cp_transport {
    attnc_status (*pass)(void *user, attnc_cp_plan *p, int rank, int step, void *const cur[2], void *const nxt[2],
                         const size_t bytes[2], void *cs, strbuf *err);
    void *user;
} cp_transport;
/* Rank `rank`'s part of a ring or zigzag: a holds its shard (attnc_cp_launch). */
attnc_status cp_ring_rank(attnc_cp_plan *p, const attnc_args *a, int rank, const cp_transport *tr, void *stream);

/* Ulysses' all-to-all (program_cp_uly.c): rank `rank` sends slot j of its
 * send buffer (slot bytes each, R slots) to rank j and receives rank j's
 * slot `rank` into slot j of recv. sends holds the send buffers of the n
 * ranks being run together (a loopback transport reads them; NCCL's, with
 * n = 1, has its own). */
typedef struct cp_a2a {
    attnc_status (*exchange)(void *user, attnc_cp_plan *p, int rank, void *const *sends, int n, void *recv,
                             size_t slot, strbuf *err);
    void *user;
} cp_a2a;
/* Ulysses for the n ranks ranks[k], each holding shard a[k], in lockstep. */
attnc_status cp_ulysses_ranks(attnc_cp_plan *p, const attnc_args *const *a, const int *ranks, int n, const cp_a2a *tr,
                              void *stream);

/* NCCL (program_nccl.c): dlopen("libnccl.so.2") once; ATTNC_ERR_NO_DRIVER without it. */
attnc_status nccl_open(attnc_cp_plan *p);
void nccl_release(attnc_cp_plan *p);

#endif
