/* ref_softmax.c — brute-force softmax attention in double: for every
 * (batch, head, query) the kept keys, their modified scores, and the exact
 * normalised sum. See reference.h. */
#include <math.h>
#include <stdlib.h>

#include "ref_internal.h"

/* Grid coordinates of flat token t, outermost first. */
void ref_grid_coords(const ref_problem *p, int64_t t, int64_t *c)
{
    int nd = p->r->grid_ndim;
    for (int d = nd - 1; d >= 0; d--) {
        int64_t ext = p->sizes[SZ_GRID0 + d];
        c[d] = ext > 0 ? t % ext : 0;
        t = ext > 0 ? t / ext : 0;
    }
    if (nd == 0)
        c[0] = t;
}

double *ref_widen(const ref_view *v, int64_t n0, int64_t n1, int64_t n2, int64_t n3)
{
    double *out = malloc(sizeof(double) * (size_t)(n0 * n1 * n2 * n3 + 1));
    if (!out)
        return NULL;
    double *o = out;
    for (int64_t a = 0; a < n0; a++)
        for (int64_t b = 0; b < n1; b++)
            for (int64_t c = 0; c < n2; c++)
                for (int64_t d = 0; d < n3; d++) {
                    int64_t off = a * v->stride[0] + b * v->stride[1] + c * v->stride[2] + d * v->stride[3];
                    *o++ = ref_load_elem(v->dt, v->data, off);
                }
    return out;
}

const double *ref_row_of(const ref_problem *p, const double *base, int64_t b, int64_t h, int64_t t, bool kv,
                            int dim)
{
    int64_t nh = kv ? p->sizes[SZ_KV_HEADS] : p->sizes[SZ_HEADS];
    int64_t nt = kv ? p->sizes[SZ_KV_TOKENS] : p->sizes[SZ_TOKENS];
    return base + ((b * nh + h) * nt + t) * dim;
}

static double dot_qk(const ref_problem *p, const dense *w, const ref_point *pt)
{
    int D = p->r->head_dim;
    const double *q = ref_row_of(p, w->q, pt->batch, pt->head, pt->q_t, false, D);
    const double *k = ref_row_of(p, w->k, pt->batch, pt->kv_head, pt->k_t, true, D);
    double s = 0;
    for (int d = 0; d < D; d++)
        s += q[d] * k[d];
    return s;
}

/* One query row: scores of kept keys into sc (NAN where dropped). Returns
 * the maximum kept score (-inf when none). */
static double row_scores(const ref_problem *p, const dense *w, ref_point *pt, double *sc)
{
    const expr *mask = p->r->mask_surface ? p->r->mask_surface : p->r->mask;
    double mx = -INFINITY;
    for (int64_t j = 0; j < p->sizes[SZ_KV_TOKENS]; j++) {
        pt->k_t = j;
        ref_grid_coords(p, j, pt->k_c);
        sc[j] = NAN;
        if (mask && !ref_eval_bool(pt, mask))
            continue;
        pt->score = dot_qk(p, w, pt);
        double s = ref_eval_float(pt, p->r->score);
        if (s == -INFINITY)
            continue; /* a score of -inf drops the key like the mask does */
        sc[j] = s;
        if (s > mx || isnan(s))
            mx = s;
    }
    return mx;
}

static void row_output(const ref_problem *p, const dense *w, const ref_point *pt, const double *sc, double mx,
                       double *o, double *lse)
{
    int dv = p->r->head_dim_v;
    for (int d = 0; d < dv; d++)
        o[d] = 0;
    if (mx == -INFINITY) { /* no kept key: O = 0, LSE = -inf */
        if (lse)
            *lse = -INFINITY;
        return;
    }
    double l = 0;
    for (int64_t j = 0; j < p->sizes[SZ_KV_TOKENS]; j++) {
        if (isnan(sc[j]) && !isnan(mx))
            continue;
        double e = exp(sc[j] - mx);
        const double *v = ref_row_of(p, w->v, pt->batch, pt->kv_head, j, true, dv);
        l += e;
        for (int d = 0; d < dv; d++)
            o[d] += e * v[d];
    }
    for (int d = 0; d < dv; d++)
        o[d] /= l;
    if (lse)
        *lse = mx + log(l);
}

bool ref_softmax(const ref_problem *p, double *o, double *lse, const char **err)
{
    const int64_t *sz = p->sizes;
    int64_t group = sz[SZ_KV_HEADS] > 0 ? sz[SZ_HEADS] / sz[SZ_KV_HEADS] : 0;
    if (group <= 0 || sz[SZ_HEADS] % sz[SZ_KV_HEADS]) {
        *err = "heads must be a positive multiple of kv_heads";
        return false;
    }
    double *sc = malloc(sizeof(double) * (size_t)(sz[SZ_KV_TOKENS] > 0 ? sz[SZ_KV_TOKENS] : 1));
    dense w = {ref_widen(&p->q, sz[SZ_BATCH], sz[SZ_HEADS], sz[SZ_TOKENS], p->r->head_dim),
               ref_widen(&p->k, sz[SZ_BATCH], sz[SZ_KV_HEADS], sz[SZ_KV_TOKENS], p->r->head_dim),
               ref_widen(&p->v, sz[SZ_BATCH], sz[SZ_KV_HEADS], sz[SZ_KV_TOKENS], p->r->head_dim_v)};
    if (!sc || !w.q || !w.k || !w.v) {
        free(sc);
        free(w.q);
        free(w.k);
        free(w.v);
        *err = "out of memory";
        return false;
    }
    ref_point pt = {0};
    pt.sizes = sz;
    pt.params = p->params;
    pt.nparams = p->r->nparams;
    pt.grid_ndim = p->r->grid_ndim;
    int64_t row = 0;
    for (pt.batch = 0; pt.batch < sz[SZ_BATCH]; pt.batch++)
        for (pt.head = 0; pt.head < sz[SZ_HEADS]; pt.head++)
            for (pt.q_t = 0; pt.q_t < sz[SZ_TOKENS]; pt.q_t++, row++) {
                pt.kv_head = pt.head / group;
                ref_grid_coords(p, pt.q_t, pt.q_c);
                double mx = row_scores(p, &w, &pt, sc);
                row_output(p, &w, &pt, sc, mx, o + row * p->r->head_dim_v, lse ? lse + row : NULL);
            }
    free(sc);
    free(w.q);
    free(w.k);
    free(w.v);
    return true;
}
