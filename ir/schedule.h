/*
 * schedule.h — how a recipe runs, kept apart from what it computes.
 *
 * A schedule is a small value the autotuner enumerates: the query and key
 * tile shapes (a box of tokens, one extent per token-grid dimension), the
 * pipeline depth, the warps per block, and for linear attention the block
 * size and the inter-block strategy. The same recipe lowers under any legal
 * schedule; schedule_check() says why a schedule is refused.
 */
#ifndef ATTNC_IR_SCHEDULE_H
#define ATTNC_IR_SCHEDULE_H

#include <stdbool.h>

#include "../support/strbuf.h"

enum { SCHED_MAX_DIMS = 3 };

typedef enum {
    INTER_STATE,   /* one running KV state carried block to block */
    INTER_CHUNKED, /* chunk states computed in parallel, then combined */
    INTER_CHAIN,   /* GPU: CTAs over all of Dv; segment states passed CTA to CTA */
} inter_mode;

typedef enum { TARGET_HOST, TARGET_SM80, TARGET_SM90A } target_arch;

/* Which tensor-core instructions a GPU softmax kernel uses: mma.sync (sm_80
 * and up), wgmma (sm_90a) with every warp both loading and computing, or
 * wgmma with a producer warpgroup that only loads (warp specialised; the
 * schedule's warps then count the computing warps). AUTO lets the code
 * generator choose per arch and tile; printed only when not AUTO. */
typedef enum { MMA_AUTO, MMA_SYNC, MMA_WGMMA, MMA_WGMMA_WS } mma_kind;

typedef struct schedule {
    bool is_auto;                /* `tile auto`: the runtime picks the rest */
    int ndims;                   /* tile dims: the recipe's grid dims (1 for a sequence) */
    int q_tile[SCHED_MAX_DIMS];  /* tokens per query tile, per dim */
    int kv_tile[SCHED_MAX_DIMS]; /* tokens per key/value tile, per dim */
    int stages;                  /* K/V pipeline depth (>= 1) */
    int warps;                   /* warps per block (GPU); ignored on the host */
    int linear_block;            /* linear attention block (chunk) size */
    inter_mode inter;
    mma_kind mma;                /* GPU softmax kernels: mma.sync or wgmma */
    /* mma=wgmma_ws key loop (nvptx_fa2_overlap.c): 0 the plain loop; 1 S of
     * the next tile issued before the softmax of this one (intra-warpgroup
     * overlap); 2 that and the two computing warpgroups taking turns at the
     * tensor cores (ping-pong). Printed only when not 0. */
    int overlap;
    /* mma=wgmma_ws: true (`regs=even`) keeps every warp at the launch's
     * register share (at most 168 at 384 threads); false (the default,
     * `regs=shift`) has the producer warpgroup hand its registers to the
     * computing warps with setmaxnreg. Kernels without a producer have even
     * registers whatever it says. Printed only when true. */
    bool even_regs;
    /* mma=wgmma_ws with TMA (`persist=1`): a persistent kernel, one block
     * per SM looping over (query tile, head, batch) items, whose producer
     * loads the next item's Q and first K/V tiles while the computing warps
     * finish the current one (nvptx_fa2_persist.c). Kernels that cannot
     * (no TMA producer, ping-pong, document cuts) run one item per block
     * whatever it says. Printed only when true. */
    bool persistent;
    /* Token grids (`qgroup=N`): the query tiles are numbered in slabs of N
     * tiles of the first grid dim, that dim fastest inside a slab, so the
     * blocks resident together are the tiles of a GNA stride group, which
     * share their key window (fewer L2 misses). 0 or 1: row-major, the
     * last dim fastest. Sequences ignore it. Printed only when > 1. */
    int q_group;
    /* Token grids of 3 dims (`qchunk=C`): inside each slab (qgroup=, or
     * slabs of one tile of dim 0), the positions over dims 1.. are
     * numbered in chunks of C tiles of the last dim: chunk by chunk, the
     * middle dim, then the last dim inside the chunk; so the resident
     * blocks cover a squarer patch than whole rows of the last dim (their
     * windows' union is smaller). 0 or 1: no chunks. Printed only when > 1. */
    int q_chunk;
} schedule;

/* The overlapped loop's accumulators per thread, 3/4 key tile (S and the
 * packed P of the previous tile) + value head dim / 2 (O), at most this:
 * 176 keys at head dim 128 (FA3's tile) take 196, and ptxas fits them in
 * 219 of the 240 registers without spills or serialised wgmma
 * (test_ptx_odd_tiles); three computing warpgroups have 160 registers:
 * 128 (144 keys at head dim 64, 140, spilled). schedule_overlap_regs:
 * the bound for a number of computing warps. */
enum { SCHED_OVERLAP_REGS = 196, SCHED_OVERLAP_REGS_3WG = 128 };
static inline int schedule_overlap_regs(int warps)
{
    return warps > 8 ? SCHED_OVERLAP_REGS_3WG : SCHED_OVERLAP_REGS;
}

/* Product of the tile extents. */
int schedule_q_tokens(const schedule *s);
int schedule_kv_tokens(const schedule *s);

/* The documented default used when a recipe says `tile auto` and no tuned
 * choice exists: for `ndims` grid dims on `arch`. */
schedule schedule_default(int ndims, target_arch arch, bool linear);

/* Parses "q=64 kv=64 stages=2 warps=4" or "q=8x16 kv=8x8 ..." or "auto".
 * Returns false with a message in err on a malformed spec. */
bool schedule_parse(const char *spec, int ndims, schedule *out, strbuf *err);
/* Every field, as schedule_parse reads it back: the form cache keys and
 * tuning records are made of. */
void schedule_print(strbuf *out, const schedule *s);
/* What a kernel of the family uses: block= and inter= only for linear
 * attention (softmax kernels ignore them). Parses back to the same kernel;
 * the text for people (attnc ir/run/bench/tune, attnc_kernel_schedule). */
void schedule_print_for(strbuf *out, const schedule *s, bool linear);

/* Legality for a target, independent of any recipe: tile extents positive
 * and powers of two, MMA granularity on GPUs (query tile tokens a multiple of
 * 16 * warps / 4 ...), shared memory budget for head_dim and dtype size.
 * Returns true, or false with the reason in err. */
bool schedule_check(const schedule *s, target_arch arch, int head_dim, int elem_size, strbuf *err);

/* Whether the producer kernel's overlapped key loop (overlap=1|2,
 * codegen/nvptx_fa2_overlap.c) can run s's tiles (sequences or 2-D/3-D
 * boxes, counted in tokens; the plan also needs a TMA producer for them:
 * no dilation groups): wgmma (sm_90a), a warpgroup per 64 query rows
 * (q tokens = 16 * warps, warps in 4s),
 * head dims in 64s up to 256, and S, P and O in registers (3/4 key tile + value head
 * dim / 2 <= 192). overlap=2 also needs warps = 8. The code generator
 * refuses the rest, saying why (nvptx_plan.c). */
bool schedule_overlap_fits(const schedule *s, target_arch arch, int head_dim, int head_dim_v);

/* The candidates the autotuner times for a `tile auto` recipe on `arch`:
 * tile shapes (powers of two; for 2-D/3-D grids boxes with an aspect ratio of
 * at most 4), pipeline stages and warps (GPU), overlap=1|2 of the producer
 * kernel on sm_90a sequences where it fits (and there, at 8 warps,
 * regs=even), and for linear attention the
 * block size and inter-block mode (state, chunked; on GPUs also chain with
 * 64-token blocks); each kept only if schedule_check passes
 * for head_dim/elem_size. Writes at most `max` into out (out may be NULL
 * when max is 0) and returns how many legal candidates exist. */
int schedule_enumerate(int ndims, target_arch arch, int head_dim, int elem_size, bool linear, schedule *out,
                       int max);

#endif
