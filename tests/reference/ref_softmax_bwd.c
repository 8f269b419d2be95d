/* ref_softmax_bwd.c — exact gradients of softmax attention in double, row
 * by row (batch, head, query) with the formulas of reference.h; ∂f/∂s and
 * ∂f/∂(param element) come from ref_dual.c. Outputs arrive zeroed
 * (ref_backward) and are accumulated here. */
#include <math.h>
#include <stdlib.h>

#include "ref_internal.h"

typedef struct bwd {
    const ref_problem *p;
    const ref_view *dout;
    const ref_grads *g;
    dense w;
    double *f, *fs; /* per key: modified score (NAN: dropped) and ∂f/∂s */
    double *o, *dorow;
    int64_t (*reads)[2];
    int cap;
    bool *has_grad; /* per param */
    bool any_param;
} bwd;

static const expr *mask_of(const recipe *r)
{
    return r->mask_surface ? r->mask_surface : r->mask;
}

/* Sets the key side of pt to key j. */
static void at_key(const bwd *B, ref_point *pt, int64_t j)
{
    pt->k_t = j;
    ref_grid_coords(B->p, j, pt->k_c);
}

static double dot(const double *a, const double *b, int n)
{
    double s = 0;
    for (int d = 0; d < n; d++)
        s += a[d] * b[d];
    return s;
}

/* Scores of the row's kept keys and their ∂f/∂s; returns the maximum kept
 * score (-inf when no key is kept), the same rule as ref_softmax.c. */
/* Σ |a_d b_d|: the magnitude of a dot product's terms. */
static double dot_abs(const double *a, const double *b, int n)
{
    double s = 0;
    for (int d = 0; d < n; d++)
        s += fabs(a[d] * b[d]);
    return s;
}

static double row_scores(bwd *B, ref_point *pt)
{
    const ref_problem *p = B->p;
    int D = p->r->head_dim;
    const double *q = ref_row_of(p, B->w.q, pt->batch, pt->head, pt->q_t, false, D);
    double mx = -INFINITY;
    for (int64_t j = 0; j < p->sizes[SZ_KV_TOKENS]; j++) {
        at_key(B, pt, j);
        B->f[j] = NAN;
        if (mask_of(p->r) && !ref_eval_bool(pt, mask_of(p->r)))
            continue;
        pt->score = dot(q, ref_row_of(p, B->w.k, pt->batch, pt->kv_head, j, true, D), D);
        ref_seed s = {.param = -1};
        ref_dual f = ref_eval_dual(pt, p->r->score, &s);
        if (f.v == -INFINITY)
            continue; /* dropped like a masked key */
        B->f[j] = f.v;
        B->fs[j] = f.d;
        if (f.v > mx || isnan(f.v))
            mx = f.v;
    }
    return mx;
}

/* Accumulates dF · ∂f/∂param[e] for every param element the score reads at
 * the pair pt (its score already set). */
static bool param_grads(bwd *B, ref_point *pt, double dF)
{
    ref_seed s = {.param = -1, .reads = B->reads, .cap = B->cap};
    ref_eval_dual(pt, B->p->r->score, &s);
    if (s.nreads > B->cap) { /* grow and read again */
        void *n = realloc(B->reads, sizeof *B->reads * (size_t)s.nreads);
        if (!n)
            return false;
        B->reads = n;
        B->cap = s.nreads;
        return param_grads(B, pt, dF);
    }
    for (int i = 0; i < s.nreads; i++) {
        int q = (int)B->reads[i][0];
        double *dp = B->g->dparams ? B->g->dparams[q] : NULL;
        if (!dp || !B->has_grad[q])
            continue;
        ref_seed e = {.param = q, .elem = B->reads[i][1]};
        double term = dF * ref_eval_dual(pt, B->p->r->score, &e).d;
        dp[B->reads[i][1]] += term;
        if (B->g->dparams_abs && B->g->dparams_abs[q])
            B->g->dparams_abs[q][B->reads[i][1]] += fabs(term);
    }
    return true;
}

static bool row_backward(bwd *B, ref_point *pt, int64_t row)
{
    const ref_problem *p = B->p;
    const int64_t *sz = p->sizes;
    int D = p->r->head_dim, Dv = p->r->head_dim_v;
    double mx = row_scores(B, pt);
    if (mx == -INFINITY)
        return true; /* no kept key: every gradient of the row is 0 */
    /* O exactly as the forward computes it */
    double l = 0;
    for (int d = 0; d < Dv; d++)
        B->o[d] = 0;
    for (int64_t j = 0; j < sz[SZ_KV_TOKENS]; j++) {
        if (isnan(B->f[j]) && !isnan(mx))
            continue;
        double e = exp(B->f[j] - mx);
        const double *v = ref_row_of(p, B->w.v, pt->batch, pt->kv_head, j, true, Dv);
        l += e;
        for (int d = 0; d < Dv; d++)
            B->o[d] += e * v[d];
    }
    for (int d = 0; d < Dv; d++)
        B->o[d] /= l;
    const ref_view *dv = B->dout;
    for (int d = 0; d < Dv; d++)
        B->dorow[d] = ref_load_elem(dv->dt, dv->data, pt->batch * dv->stride[0] + pt->head * dv->stride[1] +
                                                          pt->q_t * dv->stride[2] + d * dv->stride[3]);
    double Dsum = dot(B->dorow, B->o, Dv), Dsum_abs = dot_abs(B->dorow, B->o, Dv);
    const double *q = ref_row_of(p, B->w.q, pt->batch, pt->head, pt->q_t, false, D);
    int64_t kv_row0 = (pt->batch * sz[SZ_KV_HEADS] + pt->kv_head) * sz[SZ_KV_TOKENS];
    for (int64_t j = 0; j < sz[SZ_KV_TOKENS]; j++) {
        if (isnan(B->f[j]) && !isnan(mx))
            continue;
        const double *k = ref_row_of(p, B->w.k, pt->batch, pt->kv_head, j, true, D);
        const double *v = ref_row_of(p, B->w.v, pt->batch, pt->kv_head, j, true, Dv);
        double P = exp(B->f[j] - mx) / l, dP = dot(B->dorow, v, Dv);
        double dF = P * (dP - Dsum);
        double dS = dF * B->fs[j], dS_abs = P * fabs(B->fs[j]) * (dot_abs(B->dorow, v, Dv) + Dsum_abs);
        for (int d = 0; B->g->dq && d < D; d++)
            B->g->dq[row * D + d] += dS * k[d];
        for (int d = 0; B->g->dk && d < D; d++)
            B->g->dk[(kv_row0 + j) * D + d] += dS * q[d];
        for (int d = 0; B->g->dq_abs && d < D; d++)
            B->g->dq_abs[row * D + d] += dS_abs * fabs(k[d]);
        for (int d = 0; B->g->dk_abs && d < D; d++)
            B->g->dk_abs[(kv_row0 + j) * D + d] += dS_abs * fabs(q[d]);
        for (int d = 0; B->g->dv && d < Dv; d++)
            B->g->dv[(kv_row0 + j) * Dv + d] += P * B->dorow[d];
        if (B->any_param && dF != 0) {
            at_key(B, pt, j);
            pt->score = dot(q, k, D);
            if (!param_grads(B, pt, dF))
                return false;
        }
    }
    return true;
}

static void release(bwd *B)
{
    free(B->w.q);
    free(B->w.k);
    free(B->w.v);
    free(B->f);
    free(B->reads);
    free(B->has_grad);
}

bool ref_softmax_backward(const ref_problem *p, const ref_view *dout, const ref_grads *g, const char **err)
{
    const int64_t *sz = p->sizes;
    const recipe *r = p->r;
    int64_t group = sz[SZ_KV_HEADS] > 0 ? sz[SZ_HEADS] / sz[SZ_KV_HEADS] : 0;
    if (group <= 0 || sz[SZ_HEADS] % sz[SZ_KV_HEADS]) {
        *err = "heads must be a positive multiple of kv_heads";
        return false;
    }
    int64_t nk = sz[SZ_KV_TOKENS] > 0 ? sz[SZ_KV_TOKENS] : 1;
    bwd B = {.p = p, .dout = dout, .g = g, .cap = 16};
    B.w = (dense){ref_widen(&p->q, sz[SZ_BATCH], sz[SZ_HEADS], sz[SZ_TOKENS], r->head_dim),
                  ref_widen(&p->k, sz[SZ_BATCH], sz[SZ_KV_HEADS], sz[SZ_KV_TOKENS], r->head_dim),
                  ref_widen(&p->v, sz[SZ_BATCH], sz[SZ_KV_HEADS], sz[SZ_KV_TOKENS], r->head_dim_v)};
    B.f = malloc(sizeof(double) * (size_t)(2 * nk + 2 * r->head_dim_v));
    B.reads = malloc(sizeof *B.reads * (size_t)B.cap);
    B.has_grad = calloc((size_t)r->nparams + 1, sizeof(bool));
    if (!B.w.q || !B.w.k || !B.w.v || !B.f || !B.reads || !B.has_grad) {
        release(&B);
        *err = "out of memory";
        return false;
    }
    B.fs = B.f + nk;
    B.o = B.fs + nk;
    B.dorow = B.o + r->head_dim_v;
    for (int i = 0; i < r->nparams; i++)
        B.any_param |= B.has_grad[i] = ref_param_has_grad(r, i) && g->dparams && g->dparams[i];
    ref_point pt = {.sizes = sz, .params = p->params, .nparams = r->nparams, .grid_ndim = r->grid_ndim};
    int64_t row = 0;
    bool ok = true;
    for (pt.batch = 0; ok && pt.batch < sz[SZ_BATCH]; pt.batch++)
        for (pt.head = 0; ok && pt.head < sz[SZ_HEADS]; pt.head++)
            for (pt.q_t = 0; ok && pt.q_t < sz[SZ_TOKENS]; pt.q_t++, row++) {
                pt.kv_head = pt.head / group;
                ref_grid_coords(p, pt.q_t, pt.q_c);
                ok = row_backward(&B, &pt, row);
            }
    release(&B);
    if (!ok)
        *err = "out of memory";
    return ok;
}
