/* ref_varlen.c — the fp64 reference for varlen (packed, cu_seqlens)
 * problems: each sequence is an independent ref_run on slices of the
 * packed views, its outputs scattered back into the packed rows. Nothing
 * here knows about tiles or kernels: it states attnc.h's definition (B
 * attentions, each at local coordinates with its own lengths). */
#include <stdlib.h>
#include <string.h>

#include "reference.h"

static ref_view sliced(ref_view v, int d, int64_t start, int64_t len)
{
    v.data = (const char *)v.data + start * v.stride[d] * dtype_size(v.dt);
    v.shape[d] = len;
    return v;
}

bool ref_run_varlen(const ref_problem *p, int64_t nseq, const int32_t *cu_q, const int32_t *cu_k, double *o,
                    double *lse, const char **err)
{
    const recipe *r = p->r;
    if (p->sizes[SZ_BATCH] != 1 || nseq < 1 || cu_q[0] != 0 || cu_q[nseq] != p->sizes[SZ_TOKENS] || cu_k[0] != 0 ||
        cu_k[nseq] != p->sizes[SZ_KV_TOKENS] || r->grid_ndim > 0) {
        *err = "varlen: batch must be 1, offsets must run from 0 to the packed token counts, token sequences only";
        return false;
    }
    int64_t H = p->sizes[SZ_HEADS], T = p->sizes[SZ_TOKENS], dv = r->head_dim_v;
    int np = r->nparams;
    ref_view *params = calloc((size_t)(np > 0 ? np : 1), sizeof *params);
    if (!params) {
        *err = "out of memory";
        return false;
    }
    bool ok = true;
    for (int64_t b = 0; b < nseq && ok; b++) {
        int64_t q0 = cu_q[b], lq = cu_q[b + 1] - q0, k0 = cu_k[b], lk = cu_k[b + 1] - k0;
        if (lq < 0 || lk < 0 || (!r->cross && lq != lk)) {
            *err = "varlen: offsets decrease, or q and k lengths differ in a self-attention recipe";
            ok = false;
            break;
        }
        ref_problem s = *p;
        s.sizes[SZ_TOKENS] = lq;
        s.sizes[SZ_KV_TOKENS] = lk;
        s.q = sliced(p->q, 2, q0, lq);
        s.k = sliced(p->k, 2, k0, lk);
        s.v = sliced(p->v, 2, k0, lk);
        for (int i = 0; i < np; i++) {
            params[i] = p->params[i];
            const recipe_param *rp = &r->params[i];
            for (int d = 0; d < rp->ndim; d++) {
                if (rp->const_dims[d] > 0)
                    continue;
                if (rp->dims[d] == SZ_TOKENS)
                    params[i] = sliced(params[i], d, q0, lq);
                else if (rp->dims[d] == SZ_KV_TOKENS)
                    params[i] = sliced(params[i], d, k0, lk);
                else if (rp->dims[d] == SZ_BATCH)
                    params[i] = sliced(params[i], d, b, 1);
            }
        }
        s.params = params;
        double *so = malloc(sizeof(double) * (size_t)(H * lq * dv + 1)), *sl = malloc(sizeof(double) * (size_t)(H * lq + 1));
        ok = so && sl && ref_run(&s, so, lse ? sl : NULL, err);
        if (!so || !sl)
            *err = "out of memory";
        for (int64_t h = 0; ok && h < H; h++) /* scatter: packed o is [1, H, T, dv] */
            for (int64_t i = 0; i < lq; i++) {
                memcpy(o + (h * T + q0 + i) * dv, so + (h * lq + i) * dv, sizeof(double) * (size_t)dv);
                if (lse)
                    lse[h * T + q0 + i] = sl[h * lq + i];
            }
        free(so);
        free(sl);
    }
    free(params);
    return ok;
}

bool ref_backward_varlen(const ref_problem *p, int64_t nseq, const int32_t *cu_q, const int32_t *cu_k,
                         const ref_view *dout, double *dq, double *dk, double *dv, const char **err)
{
    const recipe *r = p->r;
    if (p->sizes[SZ_BATCH] != 1 || r->nparams > 0 || r->grid_ndim > 0) {
        *err = "varlen backward reference: batch 1, no params, token sequences only";
        return false;
    }
    int64_t H = p->sizes[SZ_HEADS], Hk = p->sizes[SZ_KV_HEADS], T = p->sizes[SZ_TOKENS], Tk = p->sizes[SZ_KV_TOKENS];
    int64_t D = r->head_dim, Dv = r->head_dim_v;
    bool ok = true;
    for (int64_t b = 0; b < nseq && ok; b++) {
        int64_t q0 = cu_q[b], lq = cu_q[b + 1] - q0, k0 = cu_k[b], lk = cu_k[b + 1] - k0;
        ref_problem s = *p;
        s.sizes[SZ_TOKENS] = lq;
        s.sizes[SZ_KV_TOKENS] = lk;
        s.q = sliced(p->q, 2, q0, lq);
        s.k = sliced(p->k, 2, k0, lk);
        s.v = sliced(p->v, 2, k0, lk);
        ref_view sd = sliced(*dout, 2, q0, lq);
        double *g[3] = {calloc((size_t)(H * lq * D + 1), sizeof(double)), calloc((size_t)(Hk * lk * D + 1), sizeof(double)),
                        calloc((size_t)(Hk * lk * Dv + 1), sizeof(double))};
        ref_grads gr = {g[0], g[1], g[2], NULL, NULL, NULL, NULL};
        ok = g[0] && g[1] && g[2];
        if (!ok)
            *err = "out of memory";
        ok = ok && (lq == 0 || ref_backward(&s, &sd, &gr, err));
        for (int64_t h = 0; ok && h < H; h++)
            for (int64_t i = 0; i < lq; i++)
                memcpy(dq + (h * T + q0 + i) * D, g[0] + (h * lq + i) * D, sizeof(double) * (size_t)D);
        for (int64_t h = 0; ok && h < Hk; h++)
            for (int64_t j = 0; j < lk; j++) {
                memcpy(dk + (h * Tk + k0 + j) * D, g[1] + (h * lk + j) * D, sizeof(double) * (size_t)D);
                memcpy(dv + (h * Tk + k0 + j) * Dv, g[2] + (h * lk + j) * Dv, sizeof(double) * (size_t)Dv);
            }
        for (int i = 0; i < 3; i++)
            free(g[i]);
    }
    return ok;
}
