/* program_split.c — attnc_program_*: one forward attention computed by a
 * program of kernels, the worked example of programs (issue 13): the keys
 * are cut into `kv_splits` contiguous ranges, one global-coordinates
 * forward kernel runs per range into a workspace of partial (O, LSE), and
 * the LSE-merge kernel writes the caller's o and lse. Splitting the keys
 * is also what decoding (split-K) and ring attention do. */
#include <stdio.h>
#include <string.h>

#include "runtime/program/program.h"

struct attnc_program {
    attnc_context *ctx;
    attnc_kernel *fwd; /* built with ATTNC_BUILD_GLOBAL_COORDS */
    pmerge merge;
    pmem mem;
    int splits;
    bool cross;        /* the recipe's own k/v may have other tokens than q */
    void *ws;          /* partial O then partial LSE; kept between launches */
    size_t ws_bytes;
    char errmsg[ERRMSG_CAP];
};

static attnc_status perr(attnc_program *p, attnc_status st, const char *msg)
{
    snprintf(p->errmsg, sizeof p->errmsg, "%s", msg);
    return st;
}

attnc_status attnc_program_build_kv_split(attnc_program **out, attnc_context *ctx, const attnc_recipe *r, int kv_splits,
                                          const attnc_build_options *options)
{
    if (out)
        *out = NULL;
    if (!ctx)
        return ATTNC_ERR_INVALID_ARGUMENT;
    if (!out || !r || kv_splits < 1 || kv_splits > ATTNC_PROGRAM_MAX_SPLITS)
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT, "attnc_program_build_kv_split: %s",
                         !out || !r ? "out or recipe is NULL" : "kv_splits is not 1..64");
    attnc_build_options o;
    attnc_status st = kernel_options_read(ctx, options, &o);
    if (st)
        return st;
    o.flags |= ATTNC_BUILD_GLOBAL_COORDS;
    attnc_program *p = ctx_calloc(ctx, sizeof *p);
    if (!p)
        return ctx_error(ctx, ATTNC_ERR_NOMEM, "out of memory creating a program");
    p->ctx = ctx;
    p->splits = kv_splits;
    p->mem = (pmem){ctx, o.backend == ATTNC_BACKEND_CUDA, NULL};
    st = attnc_kernel_build(&p->fwd, ctx, r, &o);
    if (!st && p->fwd->r->grid_ndim > 0)
        st = ctx_error(ctx, ATTNC_ERR_UNSUPPORTED, "a key-range split of a token grid: use attnc_cp_* (grid slabs)");
    if (!st) {
        p->cross = r->r->cross;
        strbuf err;
        sb_init(&err);
        st = pmerge_init(&p->merge, p->mem.gpu, r->r->qkv_dtype, &err);
        if (st)
            ctx_error(ctx, st, "the merge kernel: %s", sb_cstr(&err));
        sb_free(&err);
    }
    if (st) {
        attnc_program_destroy(p);
        return st;
    }
    *out = p;
    return ATTNC_OK;
}

void attnc_program_destroy(attnc_program *p)
{
    if (!p)
        return;
    if (p->ws)
        pm_free(&p->mem, p->ws);
    pmerge_free(&p->merge);
    attnc_kernel_destroy(p->fwd);
    ctx_free(p->ctx, p);
}

const char *attnc_program_errmsg(const attnc_program *p)
{
    return !p ? "" : p->errmsg[0] ? p->errmsg : p->fwd ? attnc_kernel_errmsg(p->fwd) : "";
}

attnc_status attnc_program_args_create(attnc_args **out, const attnc_program *p)
{
    if (out)
        *out = NULL;
    return p ? attnc_args_create(out, p->fwd) : ATTNC_ERR_INVALID_ARGUMENT;
}

const attnc_kernel *attnc_program_kernel(const attnc_program *p)
{
    return p ? p->fwd : NULL;
}

static attnc_status workspace(attnc_program *p, size_t bytes)
{
    if (bytes <= p->ws_bytes)
        return ATTNC_OK;
    strbuf err;
    sb_init(&err);
    if (p->ws)
        pm_free(&p->mem, p->ws);
    p->ws_bytes = 0;
    p->ws = pm_alloc(&p->mem, bytes, &err);
    attnc_status st = p->ws ? ATTNC_OK : perr(p, p->mem.gpu ? ATTNC_ERR_CUDA : ATTNC_ERR_NOMEM, sb_cstr(&err));
    if (p->ws)
        p->ws_bytes = bytes;
    sb_free(&err);
    return st;
}

/* The whole launch validated once, as one block at offset 0, before any
 * part runs: a bad launch writes nothing. */
static attnc_status validate_whole(attnc_program *p, const attnc_args *a)
{
    for (int i = ARG_Q; i <= ARG_O; i++)
        if (!a->tensor_set[i])
            return perr(p, ATTNC_ERR_INVALID_ARGUMENT, "attnc_program_launch: q, k, v and o must be set");
    const attnc_tensor *q = &a->tensors[ARG_Q], *k = &a->tensors[ARG_K];
    if (!p->cross && q->ndim == 4 && k->ndim == 4 && q->shape[2] != k->shape[2])
        return perr(p, ATTNC_ERR_INVALID_ARGUMENT, "attnc_program_launch: k's tokens differ from q's and the "
                    "recipe is not cross-attention");
    const attnc_tensor *views[5] = {q, k, &a->tensors[ARG_V], &a->tensors[ARG_O],
                                    a->tensor_set[ARG_LSE] ? &a->tensors[ARG_LSE] : NULL};
    pblock b = {0, 0, 0, q->shape[2], k->shape[2], q->shape[1], 0, 0};
    attnc_status st = prog_validate_part(p->fwd, a, views, &b);
    return st ? perr(p, st, attnc_kernel_errmsg(p->fwd)) : ATTNC_OK;
}

attnc_status attnc_program_launch(attnc_program *p, const attnc_args *a, void *stream)
{
    if (!p)
        return ATTNC_ERR_INVALID_ARGUMENT;
    p->errmsg[0] = 0;
    if (!a || a->k != p->fwd)
        return perr(p, ATTNC_ERR_INVALID_ARGUMENT, "attnc_program_launch: args not made by attnc_program_args_create");
    if (a->cu_seqlens_set[0] || a->cu_seqlens_set[1])
        return perr(p, ATTNC_ERR_UNSUPPORTED, "attnc_program_launch: programs have no varlen form (cu_seqlens)");
    const attnc_tensor *q = &a->tensors[ARG_Q], *k = &a->tensors[ARG_K], *v = &a->tensors[ARG_V];
    const attnc_tensor *o = &a->tensors[ARG_O], *lse = a->tensor_set[ARG_LSE] ? &a->tensors[ARG_LSE] : NULL;
    attnc_status st = validate_whole(p, a);
    if (st)
        return st;
    int64_t B = q->shape[0], H = q->shape[1], T = q->shape[2], N = k->shape[2], Dv = o->shape[3];
    int64_t shp[4] = {B, H, T, Dv}, bhtd[4] = {B, H, T, Dv};
    size_t part = (size_t)(B * H * T * Dv) * prog_esize(o->dtype), lpart = (size_t)(B * H * T) * sizeof(float);
    size_t lse_at = ((part * (size_t)p->splits) + 255) & ~(size_t)255;
    if ((st = workspace(p, lse_at + lpart * (size_t)p->splits)))
        return st;
    p->mem.stream = stream;
    for (int s = 0; s < p->splits; s++) {
        int64_t kb = N * s / p->splits, ke = N * (s + 1) / p->splits;
        attnc_tensor ks = *k, vs = *v;
        ks.data = (char *)k->data + (size_t)(kb * k->stride[2]) * prog_esize(k->dtype);
        vs.data = (char *)v->data + (size_t)(kb * v->stride[2]) * prog_esize(v->dtype);
        ks.shape[2] = vs.shape[2] = ke - kb;
        attnc_tensor po = prog_dense(o->dtype, (char *)p->ws + part * (size_t)s, 4, shp);
        attnc_tensor pl = prog_dense(ATTNC_F32, (char *)p->ws + lse_at + lpart * (size_t)s, 3, shp);
        const attnc_tensor *views[5] = {q, &ks, &vs, &po, &pl};
        pblock b = {0, kb, 0, T, N, H, 0, 0};
        if ((st = prog_launch_part(p->fwd, a, views, &b, stream)))
            return st;
    }
    strbuf err;
    sb_init(&err);
    st = pmerge_run(&p->merge, p->ws, (const float *)((char *)p->ws + lse_at), p->splits, bhtd, o, lse, stream, &err);
    if (st)
        perr(p, st, sb_cstr(&err));
    sb_free(&err);
    return st;
}
