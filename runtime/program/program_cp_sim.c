/* program_cp_sim.c — the simulated-ranks schedules of context parallelism
 * (program_cp.c says what they compute). Every rank runs in this process,
 * in rank order, on one device; where NCCL would move a block between
 * ranks, the block is copied into the receiving rank's buffer. Buffers are
 * dense [batch, heads, tokens, dim] in q's dtype (lse f32), allocated once
 * per launch and zeroed, so padded slab rows hold zeros. */
#include <stdio.h>
#include <string.h>

#include "runtime/cuda/cuda_module.h"
#include "runtime/program/program_cp.h"

typedef struct cp_buf {
    void *base;
    size_t at;
} cp_buf;

/* Carves n bytes (256-aligned) from a workspace being sized (base NULL) or filled. */
static void *carve(cp_buf *b, size_t n)
{
    void *p = b->base ? (char *)b->base + b->at : NULL;
    b->at += (n + 255) & ~(size_t)255;
    return p;
}

static attnc_status alloc_zeroed(attnc_cp_plan *p, size_t n, void **out, strbuf *err)
{
    *out = pm_alloc(&p->mem, n, err);
    if (!*out)
        return p->mem.gpu ? ATTNC_ERR_CUDA : ATTNC_ERR_NOMEM;
    if (!p->mem.gpu) {
        memset(*out, 0, n);
        return ATTNC_OK;
    }
    return cuda_memset8((uint64_t)(uintptr_t)*out, 0, n, err);
}

static attnc_status finish(attnc_cp_plan *p, attnc_status st, void *ws, strbuf *err)
{
    if (st && !p->errmsg[0])
        snprintf(p->errmsg, sizeof p->errmsg, "%s", err->len ? sb_cstr(err) : attnc_kernel_errmsg(p->fwd));
    if (ws) {
        if (p->mem.gpu && !st)
            st = cuda_synchronize(err); /* the workspace is freed now */
        pm_free(&p->mem, ws);
    }
    sb_free(err);
    return st;
}

typedef struct ring_ws {
    void *q, *k, *v, *o, *lse, *po, *pl;
    size_t part, lpart; /* bytes of one partial */
} ring_ws;

static void ring_layout(const cp_whole_t *w, int64_t tpad, int64_t kpad, int n, cp_buf *b, ring_ws *r)
{
    size_t es = prog_esize(w->t[ARG_Q]->dtype);
    r->part = (size_t)(w->B * w->H * tpad * w->Dv) * es;
    r->lpart = (size_t)(w->B * w->H * tpad) * 4;
    r->q = carve(b, (size_t)(w->B * w->H * tpad * w->D) * es);
    r->k = carve(b, (size_t)(w->B * w->KH * kpad * w->D) * es);
    r->v = carve(b, (size_t)(w->B * w->KH * kpad * w->Dv) * es);
    r->o = carve(b, r->part);
    r->lse = carve(b, r->lpart);
    r->po = carve(b, r->part * (size_t)n);
    r->pl = carve(b, r->lpart * (size_t)n);
}

/* Receives key segment kb into the rank's buffers and launches the partial. */
static attnc_status ring_part(attnc_cp_plan *p, const cp_whole_t *w, const ring_ws *r, const cp_seg *qs,
                              const cp_seg *ks, int slot, strbuf *err)
{
    attnc_status st = cp_copy_tokens(p, w->t[ARG_K], true, r->k, 0, w->KH, ks->tpad, 0, ks->t0, ks->tlen, err);
    if (!st)
        st = cp_copy_tokens(p, w->t[ARG_V], true, r->v, 0, w->KH, ks->tpad, 0, ks->t0, ks->tlen, err);
    if (st)
        return st;
    attnc_dtype dt = w->t[ARG_Q]->dtype;
    int64_t qs4[4] = {w->B, w->H, qs->tpad, w->D}, ks4[4] = {w->B, w->KH, ks->tpad, w->D};
    int64_t vs4[4] = {w->B, w->KH, ks->tpad, w->Dv}, os4[4] = {w->B, w->H, qs->tpad, w->Dv};
    attnc_tensor q = prog_dense(dt, r->q, 4, qs4), k = prog_dense(dt, r->k, 4, ks4), v = prog_dense(dt, r->v, 4, vs4);
    size_t part = (size_t)(w->B * w->H * qs->tpad), es = prog_esize(dt); /* partials of this segment, packed */
    attnc_tensor o = prog_dense(dt, (char *)r->po + part * (size_t)w->Dv * es * (size_t)slot, 4, os4);
    attnc_tensor l = prog_dense(ATTNC_F32, (char *)r->pl + part * 4 * (size_t)slot, 3, os4);
    const attnc_tensor *views[5] = {&q, &k, &v, &o, &l};
    bool grid = p->orig->grid_ndim > 0;
    pblock b = {qs->lo, ks->lo, 0, w->T, w->sizes[SZ_KV_TOKENS], w->H, w->axis, grid ? qs->pad : 0};
    return prog_launch_part(p->fwd, w->a, views, &b, p->mem.stream);
}

/* One query segment of rank r: its partials over the ring, merged, written back. */
static attnc_status ring_segment(attnc_cp_plan *p, const cp_whole_t *w, const ring_ws *r, int rank, const cp_seg *qs,
                                 int n, strbuf *err)
{
    bool grid = p->orig->grid_ndim > 0;
    attnc_status st = cp_copy_tokens(p, w->t[ARG_Q], true, r->q, 0, w->H, qs->tpad, 0, qs->t0, qs->tlen, err);
    int np = 0, R = p->o.ranks;
    for (int step = 0; step < R && !st; step++) { /* ring order: own blocks, then rank-1, rank-2, ... */
        int owner = (rank - step + R) % R, segs[2];
        int ns = cp_rank_segments(p, owner, segs);
        for (int i = 0; i < ns && !st; i++) {
            cp_seg ks = cp_segment(w, grid, true, segs[i], n);
            if (cp_pair_empty(p, w, qs, &ks)) {
                p->skipped++;
                continue;
            }
            st = ring_part(p, w, r, qs, &ks, np++, err);
            p->computed++;
        }
    }
    int64_t bhtd[4] = {w->B, w->H, qs->tpad, w->Dv};
    attnc_dtype dt = w->t[ARG_Q]->dtype;
    attnc_tensor o = prog_dense(dt, r->o, 4, bhtd), l = prog_dense(ATTNC_F32, r->lse, 3, bhtd);
    if (!st)
        st = pmerge_run(&p->merge, r->po, r->pl, np, bhtd, &o, &l, p->mem.stream, err);
    if (!st)
        st = cp_copy_tokens(p, w->t[ARG_O], false, r->o, 0, w->H, qs->tpad, 0, qs->t0, qs->tlen, err);
    if (!st && w->t[ARG_LSE])
        st = cp_copy_tokens(p, w->t[ARG_LSE], false, r->lse, 0, w->H, qs->tpad, 0, qs->t0, qs->tlen, err);
    return st;
}

attnc_status cp_ring_sim(attnc_cp_plan *p, const cp_whole_t *w)
{
    strbuf err;
    sb_init(&err);
    bool grid = p->orig->grid_ndim > 0;
    int n = p->o.ranks * (p->o.kind == ATTNC_CP_ZIGZAG ? 2 : 1);
    int64_t tpad = 0, kpad = 0;
    for (int s = 0; s < n; s++) {
        cp_seg q = cp_segment(w, grid, false, s, n), k = cp_segment(w, grid, true, s, n);
        tpad = q.tpad > tpad ? q.tpad : tpad;
        kpad = k.tpad > kpad ? k.tpad : kpad;
    }
    cp_buf b = {NULL, 0};
    ring_ws r;
    ring_layout(w, tpad, kpad, n, &b, &r);
    void *ws = NULL;
    attnc_status st = alloc_zeroed(p, b.at, &ws, &err);
    b = (cp_buf){ws, 0};
    ring_layout(w, tpad, kpad, n, &b, &r);
    for (int rank = 0; rank < p->o.ranks && !st; rank++) {
        int segs[2], ns = cp_rank_segments(p, rank, segs);
        for (int i = 0; i < ns && !st; i++) {
            cp_seg qs = cp_segment(w, grid, false, segs[i], n);
            if (qs.tlen > 0)
                st = ring_segment(p, w, &r, rank, &qs, n, &err);
        }
    }
    return finish(p, st, ws, &err);
}

/* ---- Ulysses ---- */

typedef struct uly_ws {
    void *q, *k, *v, *o, *lse;
} uly_ws;

static void uly_layout(const cp_whole_t *w, int64_t hq, int64_t hk, cp_buf *b, uly_ws *u)
{
    size_t es = prog_esize(w->t[ARG_Q]->dtype);
    int64_t N = w->sizes[SZ_KV_TOKENS];
    u->q = carve(b, (size_t)(w->B * hq * w->T * w->D) * es);
    u->k = carve(b, (size_t)(w->B * hk * N * w->D) * es);
    u->v = carve(b, (size_t)(w->B * hk * N * w->Dv) * es);
    u->o = carve(b, (size_t)(w->B * hq * w->T * w->Dv) * es);
    u->lse = carve(b, (size_t)(w->B * hq * w->T) * 4);
}

/* All-to-all: every rank's token shard of heads [h0, h0 + nh) in or out of the head-sharded buffer. */
static attnc_status all_to_all(attnc_cp_plan *p, const cp_whole_t *w, int which, bool in, void *dense, int64_t h0,
                               int64_t nh, strbuf *err)
{
    bool kv = which == ARG_K || which == ARG_V;
    int64_t L = kv ? w->sizes[SZ_KV_TOKENS] : w->T;
    attnc_status st = ATTNC_OK;
    for (int j = 0; j < p->o.ranks && !st; j++) {
        int64_t t0 = L * j / p->o.ranks, t1 = L * (j + 1) / p->o.ranks;
        st = cp_copy_tokens(p, w->t[which], in, dense, h0, nh, L, t0, t0, t1 - t0, err);
    }
    return st;
}

static attnc_status uly_rank(attnc_cp_plan *p, const cp_whole_t *w, const uly_ws *u, int r, strbuf *err)
{
    int64_t hq = w->H / p->o.ranks, hk = w->KH / p->o.ranks, N = w->sizes[SZ_KV_TOKENS];
    attnc_status st = all_to_all(p, w, ARG_Q, true, u->q, r * hq, hq, err);
    if (!st)
        st = all_to_all(p, w, ARG_K, true, u->k, r * hk, hk, err);
    if (!st)
        st = all_to_all(p, w, ARG_V, true, u->v, r * hk, hk, err);
    attnc_dtype dt = w->t[ARG_Q]->dtype;
    int64_t qs[4] = {w->B, hq, w->T, w->D}, ks[4] = {w->B, hk, N, w->D}, vs[4] = {w->B, hk, N, w->Dv};
    int64_t os[4] = {w->B, hq, w->T, w->Dv};
    attnc_tensor q = prog_dense(dt, u->q, 4, qs), k = prog_dense(dt, u->k, 4, ks), v = prog_dense(dt, u->v, 4, vs);
    attnc_tensor o = prog_dense(dt, u->o, 4, os), l = prog_dense(ATTNC_F32, u->lse, 3, os);
    const attnc_tensor *views[5] = {&q, &k, &v, &o, &l};
    pblock b = {0, 0, r * hq, w->T, N, w->H, w->axis, 0};
    if (!st)
        st = prog_launch_part(p->fwd, w->a, views, &b, p->mem.stream);
    p->computed++;
    if (!st)
        st = all_to_all(p, w, ARG_O, false, u->o, r * hq, hq, err);
    if (!st && w->t[ARG_LSE])
        st = all_to_all(p, w, ARG_LSE, false, u->lse, r * hq, hq, err);
    return st;
}

attnc_status cp_ulysses_sim(attnc_cp_plan *p, const cp_whole_t *w)
{
    int R = p->o.ranks;
    if (w->H % R || w->KH % R) {
        snprintf(p->errmsg, sizeof p->errmsg, "Ulysses over %d ranks needs heads (%lld) and kv_heads (%lld) divisible "
                 "by the ranks", R, (long long)w->H, (long long)w->KH);
        return ATTNC_ERR_INVALID_ARGUMENT;
    }
    strbuf err;
    sb_init(&err);
    cp_buf b = {NULL, 0};
    uly_ws u;
    uly_layout(w, w->H / R, w->KH / R, &b, &u);
    void *ws = NULL;
    attnc_status st = alloc_zeroed(p, b.at, &ws, &err);
    b = (cp_buf){ws, 0};
    uly_layout(w, w->H / R, w->KH / R, &b, &u);
    for (int r = 0; r < R && !st; r++)
        st = uly_rank(p, w, &u, r, &err);
    return finish(p, st, ws, &err);
}
