/* program_cp_ring.c — one rank's part of a ring (or zigzag) over a
 * transport (cp_transport: NCCL in program_nccl.c; tests copy between
 * ranks' shards). The rank holds an equal shard — segment `rank` of R, or
 * segments rank and 2R-1-rank of 2R concatenated; a grid: equal rows — so
 * the whole problem is R shards and where every block lies follows from
 * the rank. The K/V block travels around the ring in two buffers: at step s
 * the rank sends the block it holds to rank+1 and receives the next from
 * rank-1, and computes the partials of the block it holds against its
 * query segments unless mask analysis proves a pair empty; each query
 * segment's partials are merged into its rows of o and lse. On the GPU
 * the transfers run on a stream of their own, overlapped with the partials
 * on the caller's stream; two events order them: step s computes only
 * after its block arrived (step s-1's transfer), and step s+1's transfer
 * overwrites a buffer only after step s's partials read it. */
#include <stdio.h>
#include <string.h>

#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/cuda_module.h"
#include "runtime/program/program_cp.h"

/* The communication stream and the two events that order it with compute. */
typedef struct ring_sync {
    const cuda_api *cu;
    CUstream main, comm;
    CUevent computed, arrived;
} ring_sync;

/* On the CPU every step is synchronous: no streams, no events. */
static attnc_status sync_open(ring_sync *y, bool gpu, void *stream, strbuf *err)
{
    memset(y, 0, sizeof *y);
    y->main = y->comm = (CUstream)stream;
    if (!gpu)
        return ATTNC_OK;
    attnc_status st = cuda_api_get(&y->cu, err);
    if (!st && y->cu->cuStreamCreate)
        st = cuda_check(y->cu, y->cu->cuStreamCreate(&y->comm, CU_STREAM_NON_BLOCKING), "cuStreamCreate", err);
    if (!st)
        st = cuda_check(y->cu, y->cu->cuEventCreate(&y->computed, CU_EVENT_DISABLE_TIMING), "cuEventCreate", err);
    if (!st)
        st = cuda_check(y->cu, y->cu->cuEventCreate(&y->arrived, CU_EVENT_DISABLE_TIMING), "cuEventCreate", err);
    return st;
}

/* After the waits are enqueued: `from` records ev, `to` waits for it. */
static attnc_status order(ring_sync *y, CUstream from, CUevent ev, CUstream to, strbuf *err)
{
    if (from == to || !y->cu)
        return ATTNC_OK;
    attnc_status st = cuda_check(y->cu, y->cu->cuEventRecord(ev, from), "cuEventRecord", err);
    return st ? st : cuda_check(y->cu, y->cu->cuStreamWaitEvent(to, ev, 0), "cuStreamWaitEvent", err);
}

static void sync_close(ring_sync *y)
{
    if (!y->cu)
        return;
    if (y->comm != y->main && y->cu->cuStreamDestroy)
        y->cu->cuStreamDestroy(y->comm);
    if (y->computed)
        y->cu->cuEventDestroy(y->computed);
    if (y->arrived)
        y->cu->cuEventDestroy(y->arrived);
}

/* Tokens [i len, (i+1) len) of t (dim 2). */
static attnc_tensor slice(const attnc_tensor *t, int64_t i, int64_t len)
{
    attnc_tensor v = *t;
    v.data = (char *)t->data + (size_t)(i * len * t->stride[2]) * prog_esize(t->dtype);
    v.shape[2] = len;
    return v;
}

/* The ring's layout for this rank: ns segments per shard (ring 1, zigzag 2)
 * of sq query / sk key tokens (srows outer rows on a grid), the whole
 * problem for the emptiness test, and the workspace carved into the two
 * K/V buffers and ns x R x ns partials. */
typedef struct ring_plan {
    int ns, segs[2];
    int64_t sq, sk, srows;
    cp_whole_t whole;
    size_t bytes[2], part, lpart;
    void *buf[2][2];
    char *po, *pl;
} ring_plan;

static void ring_layout(attnc_cp_plan *p, const cp_whole_t *w, int rank, void *ws, ring_plan *rp)
{
    int R = p->o.ranks;
    size_t es = prog_esize(w->t[ARG_Q]->dtype);
    int64_t kl = w->sizes[SZ_KV_TOKENS];
    rp->ns = cp_rank_segments(p, rank, rp->segs);
    rp->sq = w->T / rp->ns, rp->sk = kl / rp->ns;
    rp->srows = p->orig->grid_ndim > 0 ? w->axis / rp->ns : 0;
    rp->whole = *w;
    rp->whole.axis *= R, rp->whole.kaxis *= R;
    rp->whole.sizes[SZ_TOKENS] *= R, rp->whole.sizes[SZ_KV_TOKENS] *= R;
    if (p->orig->grid_ndim > 0)
        rp->whole.sizes[SZ_GRID0] *= R;
    rp->bytes[0] = (size_t)(w->B * w->KH * kl * w->D) * es;
    rp->bytes[1] = (size_t)(w->B * w->KH * kl * w->Dv) * es;
    rp->part = (size_t)(w->B * w->H * rp->sq * w->Dv) * es, rp->lpart = (size_t)(w->B * w->H * rp->sq) * 4;
    char *c = ws;
    for (int b = 0; b < 2; b++, c += rp->bytes[0] + rp->bytes[1]) {
        rp->buf[b][0] = c;
        rp->buf[b][1] = c + rp->bytes[0];
    }
    rp->po = c;
    rp->pl = c + rp->part * (size_t)(rp->ns * R * rp->ns);
}

static size_t ring_bytes(const cp_whole_t *w, int R, int ns)
{
    size_t es = prog_esize(w->t[ARG_Q]->dtype), kl = (size_t)w->sizes[SZ_KV_TOKENS];
    return 2 * (size_t)(w->B * w->KH) * kl * (size_t)(w->D + w->Dv) * es +
           (size_t)(R * ns) * (size_t)(w->B * w->H * w->T) * ((size_t)w->Dv * es + 4);
}

/* The partials of the block in buf[cur] (the owner's ns key segments)
 * against this rank's ns query segments; np[i] counts segment i's. */
static attnc_status ring_step(attnc_cp_plan *p, const cp_whole_t *w, ring_plan *rp, int owner, int cur, int *np)
{
    int R = p->o.ranks, n = R * rp->ns, osegs[2];
    bool grid = p->orig->grid_ndim > 0;
    attnc_dtype dt = w->t[ARG_Q]->dtype;
    cp_rank_segments(p, owner, osegs);
    int64_t kl = w->sizes[SZ_KV_TOKENS], k4[4] = {w->B, w->KH, kl, w->D}, v4[4] = {w->B, w->KH, kl, w->Dv};
    int64_t o4[4] = {w->B, w->H, rp->sq, w->Dv};
    attnc_tensor kb = prog_dense(dt, rp->buf[cur][0], 4, k4), vb = prog_dense(dt, rp->buf[cur][1], 4, v4);
    attnc_status st = ATTNC_OK;
    for (int i = 0; i < rp->ns && !st; i++)
        for (int j = 0; j < rp->ns && !st; j++) {
            cp_seg qs = cp_segment(&rp->whole, grid, false, rp->segs[i], n);
            cp_seg ks = cp_segment(&rp->whole, grid, true, osegs[j], n);
            if (cp_pair_empty(p, &rp->whole, &qs, &ks)) {
                p->skipped++;
                continue;
            }
            size_t slot = (size_t)(i * R * rp->ns + np[i]++);
            attnc_tensor q = slice(w->t[ARG_Q], i, rp->sq), k = slice(&kb, j, rp->sk), v = slice(&vb, j, rp->sk);
            attnc_tensor o = prog_dense(dt, rp->po + rp->part * slot, 4, o4);
            attnc_tensor l = prog_dense(ATTNC_F32, rp->pl + rp->lpart * slot, 3, o4);
            const attnc_tensor *views[5] = {&q, &k, &v, &o, &l};
            pblock b = {qs.lo, ks.lo, 0, rp->whole.sizes[SZ_TOKENS], rp->whole.sizes[SZ_KV_TOKENS], w->H,
                        rp->whole.axis, rp->srows};
            st = prog_launch_part(p->fwd, w->a, views, &b, p->mem.stream);
            p->computed++;
        }
    return st;
}

static attnc_status ring(attnc_cp_plan *p, cp_whole_t *w, int rank, const cp_transport *tr, void *ws, ring_sync *y,
                         strbuf *err)
{
    int R = p->o.ranks;
    ring_plan rp;
    ring_layout(p, w, rank, ws, &rp);
    int64_t kl = w->sizes[SZ_KV_TOKENS];
    attnc_status st = cp_copy_tokens(p, w->t[ARG_K], true, rp.buf[0][0], 0, w->KH, kl, 0, 0, kl, err);
    if (!st)
        st = cp_copy_tokens(p, w->t[ARG_V], true, rp.buf[0][1], 0, w->KH, kl, 0, 0, kl, err);
    if (!st) /* the local block is in buf[0] before the first send */
        st = order(y, y->main, y->computed, y->comm, err);
    int np[2] = {0, 0};
    for (int s = 0; s < R && !st; s++) {
        int cur = s % 2;
        if (s > 0) /* the block this step computes has arrived */
            st = order(y, y->comm, y->arrived, y->main, err);
        if (!st && s + 1 < R)
            st = tr->pass(tr->user, p, rank, s, rp.buf[cur], rp.buf[1 - cur], rp.bytes, y->comm, err);
        if (!st)
            st = ring_step(p, w, &rp, (rank - s + R) % R, cur, np);
        if (!st) /* the next transfer overwrites buf[cur] only after these partials read it */
            st = order(y, y->main, y->computed, y->comm, err);
    }
    int64_t bhtd[4] = {w->B, w->H, rp.sq, w->Dv};
    for (int i = 0; i < rp.ns && !st; i++) {
        attnc_tensor o = slice(w->t[ARG_O], i, rp.sq), l = w->t[ARG_LSE] ? slice(w->t[ARG_LSE], i, rp.sq) : o;
        size_t first = (size_t)(i * R * rp.ns);
        st = pmerge_run(&p->merge, rp.po + rp.part * first, (const float *)(rp.pl + rp.lpart * first), np[i], bhtd, &o,
                        w->t[ARG_LSE] ? &l : NULL, p->mem.stream, err);
    }
    return st;
}

static attnc_status ring_fail(attnc_cp_plan *p, attnc_status st, const char *msg)
{
    snprintf(p->errmsg, sizeof p->errmsg, "%s", msg);
    return st;
}

attnc_status cp_ring_rank(attnc_cp_plan *p, const attnc_args *a, int rank, const cp_transport *tr, void *stream)
{
    if (p->o.kind == ATTNC_CP_ULYSSES)
        return ring_fail(p, ATTNC_ERR_INTERNAL, "cp_ring_rank: a Ulysses plan has no ring (cp_ulysses_ranks)");
    if (!a || a->k != p->fwd)
        return ring_fail(p, ATTNC_ERR_INVALID_ARGUMENT, "attnc_cp_launch: args not made by attnc_cp_args_create");
    cp_whole_t w;
    attnc_status st = cp_whole(p, a, p->o.ranks, &w);
    if (st)
        return st;
    int ns = p->o.kind == ATTNC_CP_ZIGZAG ? 2 : 1;
    if ((p->orig->grid_ndim > 0 ? w.axis : w.T) % ns || w.sizes[SZ_KV_TOKENS] % ns)
        return ring_fail(p, ATTNC_ERR_INVALID_ARGUMENT, "attnc_cp_launch: a zigzag shard holds two equal segments: "
                                                        "its tokens (grid rows) must be even");
    p->mem.stream = stream;
    p->computed = p->skipped = 0;
    strbuf err;
    sb_init(&err);
    void *ws = pm_alloc(&p->mem, ring_bytes(&w, p->o.ranks, ns), &err);
    ring_sync y = {0};
    st = ws ? sync_open(&y, p->mem.gpu, stream, &err) : p->mem.gpu ? ATTNC_ERR_CUDA : ATTNC_ERR_NOMEM;
    if (!st)
        st = ring(p, &w, rank, tr, ws, &y, &err);
    if (ws && p->mem.gpu) { /* the workspace and the stream go now: wait for them even after an error */
        attnc_status sy = cuda_synchronize(&err);
        st = st ? st : sy;
    }
    sync_close(&y);
    if (ws)
        pm_free(&p->mem, ws);
    if (st && !p->errmsg[0])
        snprintf(p->errmsg, sizeof p->errmsg, "%s", err.len ? sb_cstr(&err) : attnc_kernel_errmsg(p->fwd));
    sb_free(&err);
    return st;
}
