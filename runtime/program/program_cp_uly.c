/* program_cp_uly.c — Ulysses per rank (attnc_cp_launch with ULYSSES): the
 * rank's token shard of q, k and v goes out by head group (slot j = heads
 * [j H/R, (j+1) H/R) of its tokens, to rank j) and comes back as its head
 * group over every token (slot j = rank j's tokens); one launch with
 * head_offset; o and lse go back the same way reversed. The exchange is a
 * cp_a2a transport (NCCL: one group of sends and receives). Ranks given
 * together run in lockstep, phase by phase, so a loopback transport can
 * run every rank in one process (tests). Shards are equal: rank j's tokens
 * are [j T, (j+1) T) of R T. */
#include <stdio.h>
#include <string.h>

#include "runtime/cuda/cuda_module.h"
#include "runtime/program/program_cp.h"

typedef struct uly_rank {
    const attnc_args *a;
    cp_whole_t w;
    int rank;
    char *ws, *send, *recv, *hq, *hk, *hv, *ho, *hl;
} uly_rank;

static size_t esz(const cp_whole_t *w)
{
    return prog_esize(w->t[ARG_Q]->dtype);
}

/* Bytes of one slot of tensor i: a head group of the shard's tokens. */
static size_t slot_bytes(const attnc_cp_plan *p, const cp_whole_t *w, int i)
{
    int64_t R = p->o.ranks, h = i == ARG_K || i == ARG_V ? w->KH / R : w->H / R;
    int64_t t = i == ARG_K || i == ARG_V ? w->sizes[SZ_KV_TOKENS] : w->T;
    int64_t cols = i == ARG_LSE ? 1 : i == ARG_V || i == ARG_O ? w->Dv : w->D;
    return (size_t)(w->B * h * t * cols) * (i == ARG_LSE ? 4 : esz(w));
}

static attnc_status uly_alloc(attnc_cp_plan *p, uly_rank *u, strbuf *err)
{
    size_t slot = 0, R = (size_t)p->o.ranks;
    for (int i = 0; i < 5; i++)
        slot = slot_bytes(p, &u->w, i) > slot ? slot_bytes(p, &u->w, i) : slot;
    size_t h[5];
    for (int i = 0; i < 5; i++)
        h[i] = (slot_bytes(p, &u->w, i) * R + 255) & ~(size_t)255;
    u->ws = pm_alloc(&p->mem, 2 * slot * R + h[0] + h[1] + h[2] + h[3] + h[4], err);
    if (!u->ws)
        return p->mem.gpu ? ATTNC_ERR_CUDA : ATTNC_ERR_NOMEM;
    u->send = u->ws, u->recv = u->send + slot * R;
    u->hq = u->recv + slot * R, u->hk = u->hq + h[0], u->hv = u->hk + h[1], u->ho = u->hv + h[2], u->hl = u->ho + h[3];
    return ATTNC_OK;
}

/* Slots and the head-group buffer of tensor i: slot j holds b x h rows of
 * `run` bytes (one head's tokens); in the head-group buffer that run sits
 * at token j T of each head's R T tokens. */
static attnc_status regroup(attnc_cp_plan *p, const uly_rank *u, int i, char *head, bool to_head, strbuf *err)
{
    const cp_whole_t *w = &u->w;
    int64_t R = p->o.ranks, h = i == ARG_K || i == ARG_V ? w->KH / R : w->H / R;
    size_t slot = slot_bytes(p, w, i), run = slot / (size_t)(w->B * h);
    char *slots = to_head ? u->recv : u->send;
    attnc_status st = ATTNC_OK;
    for (int64_t j = 0; j < R && !st; j++) {
        char *s = slots + slot * (size_t)j, *d = head + run * (size_t)j;
        st = to_head ? pm_copy2d(&p->mem, d, run * (size_t)R, s, run, run, (size_t)(w->B * h), err)
                     : pm_copy2d(&p->mem, s, run, d, run * (size_t)R, run, (size_t)(w->B * h), err);
    }
    return st;
}

/* The shard's tensor i by head group into the send slots (out), or the
 * received slots back into the shard's tensor (back). */
static attnc_status shard_slots(attnc_cp_plan *p, const uly_rank *u, int i, bool back, strbuf *err)
{
    const cp_whole_t *w = &u->w;
    const attnc_tensor *t = w->t[i];
    int64_t R = p->o.ranks, h = i == ARG_K || i == ARG_V ? w->KH / R : w->H / R, T = t->shape[2];
    size_t slot = slot_bytes(p, w, i);
    attnc_status st = ATTNC_OK;
    for (int64_t j = 0; j < R && !st; j++)
        st = cp_copy_tokens(p, t, !back, (back ? u->recv : u->send) + slot * (size_t)j, j * h, h, T, 0, 0, T, err);
    return st;
}

static attnc_status exchange(attnc_cp_plan *p, uly_rank *us, int n, int i, const cp_a2a *tr, strbuf *err)
{
    attnc_status st = ATTNC_OK;
    void *sends[ATTNC_CP_MAX_RANKS];
    for (int k = 0; k < n; k++)
        sends[k] = us[k].send;
    for (int k = 0; k < n && !st; k++)
        st = tr->exchange(tr->user, p, us[k].rank, sends, n, us[k].recv, slot_bytes(p, &us[k].w, i), err);
    return st;
}

static attnc_status launch_group(attnc_cp_plan *p, uly_rank *u)
{
    const cp_whole_t *w = &u->w;
    int64_t R = p->o.ranks, hq = w->H / R, hk = w->KH / R, T = w->T * R, N = w->sizes[SZ_KV_TOKENS] * R;
    attnc_dtype dt = w->t[ARG_Q]->dtype;
    int64_t qs[4] = {w->B, hq, T, w->D}, ks[4] = {w->B, hk, N, w->D}, vs[4] = {w->B, hk, N, w->Dv};
    int64_t os[4] = {w->B, hq, T, w->Dv};
    attnc_tensor q = prog_dense(dt, u->hq, 4, qs), k = prog_dense(dt, u->hk, 4, ks), v = prog_dense(dt, u->hv, 4, vs);
    attnc_tensor o = prog_dense(dt, u->ho, 4, os), l = prog_dense(ATTNC_F32, u->hl, 3, os);
    const attnc_tensor *views[5] = {&q, &k, &v, &o, &l};
    pblock b = {0, 0, u->rank * hq, T, N, w->H, w->axis * R, p->orig->grid_ndim > 0 ? w->axis * R : 0};
    p->computed++;
    return prog_launch_part(p->fwd, u->a, views, &b, p->mem.stream);
}

/* The phases, each over every rank given before the next. */
static attnc_status phases(attnc_cp_plan *p, uly_rank *us, int n, const cp_a2a *tr, strbuf *err)
{
    static const int in[3] = {ARG_Q, ARG_K, ARG_V};
    attnc_status st = ATTNC_OK;
    for (int x = 0; x < 3 && !st; x++) {
        for (int k = 0; k < n && !st; k++)
            st = shard_slots(p, &us[k], in[x], false, err);
        if (!st)
            st = exchange(p, us, n, in[x], tr, err);
        for (int k = 0; k < n && !st; k++)
            st = regroup(p, &us[k], in[x], x == 0 ? us[k].hq : x == 1 ? us[k].hk : us[k].hv, true, err);
    }
    for (int k = 0; k < n && !st; k++)
        st = launch_group(p, &us[k]);
    for (int i = ARG_O; i <= ARG_LSE && !st; i++) {
        if (!us[0].w.t[i])
            continue;
        for (int k = 0; k < n && !st; k++)
            st = regroup(p, &us[k], i, i == ARG_O ? us[k].ho : us[k].hl, false, err);
        if (!st)
            st = exchange(p, us, n, i, tr, err);
        for (int k = 0; k < n && !st; k++)
            st = shard_slots(p, &us[k], i, true, err);
    }
    return st;
}

attnc_status cp_ulysses_ranks(attnc_cp_plan *p, const attnc_args *const *a, const int *ranks, int n, const cp_a2a *tr,
                              void *stream)
{
    int R = p->o.ranks;
    uly_rank us[ATTNC_CP_MAX_RANKS];
    memset(us, 0, sizeof us);
    strbuf err;
    sb_init(&err);
    p->mem.stream = stream;
    p->computed = p->skipped = 0;
    attnc_status st = ATTNC_OK;
    for (int k = 0; k < n && !st; k++) {
        us[k].a = a[k], us[k].rank = ranks[k];
        if (!a[k] || a[k]->k != p->fwd)
            st = ATTNC_ERR_INVALID_ARGUMENT, sb_puts(&err, "attnc_cp_launch: args not made by attnc_cp_args_create");
        else if (!(st = cp_whole(p, a[k], R, &us[k].w)) && (us[k].w.H % R || us[k].w.KH % R))
            st = ATTNC_ERR_INVALID_ARGUMENT, sb_printf(&err, "Ulysses over %d ranks needs heads and kv_heads divisible "
                                                             "by the ranks", R);
        if (!st)
            st = uly_alloc(p, &us[k], &err);
    }
    if (!st)
        st = phases(p, us, n, tr, &err);
    if (p->mem.gpu) {
        attnc_status sy = cuda_synchronize(&err); /* the buffers go now, even after an error */
        st = st ? st : sy;
    }
    for (int k = 0; k < n; k++)
        if (us[k].ws)
            pm_free(&p->mem, us[k].ws);
    if (st && !p->errmsg[0])
        snprintf(p->errmsg, sizeof p->errmsg, "%s", err.len ? sb_cstr(&err) : attnc_kernel_errmsg(p->fwd));
    sb_free(&err);
    return st;
}
