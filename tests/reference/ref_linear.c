/* ref_linear.c — linear attention by its recurrence, one token at a time, in
 * double (recipe.h, recipe_linear):
 *   causal:      S_t = a_t S_{t-1} + φ(k_t)ᵀ v_t,  o_t = φ(q_t) S_t
 *                a_t = λ = param[head] (per head) or exp(g_t), g_t = param[b, h, t]
 *   non-causal:  o_t = φ(q_t) Σ_s φ(k_s)ᵀ v_s
 *   normalize:   o_t /= φ(q_t)·z_t, z_t the same recurrence over φ(k_s);
 *                a zero denominator gives o_t = 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_internal.h"

double ref_feature(feature_map f, double x)
{
    switch (f) {
    case FEATURE_ELU1: return x > 0 ? x + 1 : exp(x);
    case FEATURE_RELU: return x > 0 ? x : 0;
    default: return x;
    }
}

void ref_load_row(const ref_view *v, int64_t b, int64_t h, int64_t t, int n, feature_map f, double *out)
{
    for (int d = 0; d < n; d++) {
        int64_t off = b * v->stride[0] + h * v->stride[1] + t * v->stride[2] + d * v->stride[3];
        out[d] = ref_feature(f, ref_load_elem(v->dt, v->data, off));
    }
}

/* The decay factor a_t applied to the state before token t is added. */
double ref_decay_at(const ref_problem *p, int64_t b, int64_t h, int64_t t)
{
    const recipe_linear *lin = &p->r->linear;
    if (lin->decay == DECAY_NONE || lin->decay_param < 0 || !p->params)
        return 1.0;
    const ref_view *v = &p->params[lin->decay_param];
    int64_t idx[3] = {b, h, t};
    if (lin->decay == DECAY_PER_HEAD)
        return ref_view_get(v, &idx[1], 1);
    int n = v->ndim < 1 ? 1 : v->ndim > 3 ? 3 : v->ndim; /* [b, h, t], [h, t] or [t] */
    return exp(ref_view_get(v, idx + 3 - n, n));
}

int64_t ref_decay_elem(const ref_problem *p, int64_t b, int64_t h, int64_t t)
{
    const ref_view *v = &p->params[p->r->linear.decay_param];
    int64_t idx[3] = {b, h, t};
    if (p->r->linear.decay == DECAY_PER_HEAD)
        return ref_view_elem(v, &idx[1], 1);
    int n = v->ndim < 1 ? 1 : v->ndim > 3 ? 3 : v->ndim;
    return ref_view_elem(v, idx + 3 - n, n);
}

typedef struct lin_state {
    int dk, dv;
    double *S, *z, *fq, *fk, *vv;
} lin_state;

static void add_token(lin_state *st, double a)
{
    for (int i = 0; i < st->dk; i++) {
        st->z[i] = a * st->z[i] + st->fk[i];
        for (int j = 0; j < st->dv; j++)
            st->S[i * st->dv + j] = a * st->S[i * st->dv + j] + st->fk[i] * st->vv[j];
    }
}

static void apply(const lin_state *st, bool normalize, double *o)
{
    double den = 0;
    for (int i = 0; i < st->dk; i++)
        den += st->fq[i] * st->z[i];
    for (int j = 0; j < st->dv; j++) {
        double s = 0;
        for (int i = 0; i < st->dk; i++)
            s += st->fq[i] * st->S[i * st->dv + j];
        o[j] = !normalize ? s : den != 0 ? s / den : 0;
    }
}

static void run_head(const ref_problem *p, lin_state *st, int64_t b, int64_t h, int64_t kvh, double *o)
{
    const recipe_linear *lin = &p->r->linear;
    int64_t T = p->sizes[SZ_TOKENS], Tk = p->sizes[SZ_KV_TOKENS];
    memset(st->S, 0, sizeof(double) * (size_t)st->dk * (size_t)st->dv);
    memset(st->z, 0, sizeof(double) * (size_t)st->dk);
    if (!lin->causal) {
        for (int64_t s = 0; s < Tk; s++) {
            ref_load_row(&p->k, b, kvh, s, st->dk, lin->feature, st->fk);
            ref_load_row(&p->v, b, kvh, s, st->dv, FEATURE_IDENTITY, st->vv);
            add_token(st, 1.0);
        }
    }
    for (int64_t t = 0; t < T; t++) {
        if (lin->causal) {
            ref_load_row(&p->k, b, kvh, t, st->dk, lin->feature, st->fk);
            ref_load_row(&p->v, b, kvh, t, st->dv, FEATURE_IDENTITY, st->vv);
            add_token(st, ref_decay_at(p, b, h, t));
        }
        ref_load_row(&p->q, b, h, t, st->dk, lin->feature, st->fq);
        apply(st, lin->normalize, o + t * st->dv);
    }
}

bool ref_linear(const ref_problem *p, double *o, const char **err)
{
    const int64_t *sz = p->sizes;
    if (sz[SZ_KV_HEADS] <= 0 || sz[SZ_HEADS] % sz[SZ_KV_HEADS]) {
        *err = "heads must be a positive multiple of kv_heads";
        return false;
    }
    if (p->r->linear.causal && sz[SZ_KV_TOKENS] != sz[SZ_TOKENS]) {
        *err = "causal linear attention needs kv_tokens == tokens";
        return false;
    }
    lin_state st = {p->r->head_dim, p->r->head_dim_v, NULL, NULL, NULL, NULL, NULL};
    size_t n = (size_t)st.dk * (size_t)st.dv + 3 * (size_t)st.dk + (size_t)st.dv;
    double *mem = malloc(sizeof(double) * n);
    if (!mem) {
        *err = "out of memory";
        return false;
    }
    st.S = mem;
    st.z = st.S + (size_t)st.dk * (size_t)st.dv;
    st.fq = st.z + st.dk;
    st.fk = st.fq + st.dk;
    st.vv = st.fk + st.dk;
    int64_t group = sz[SZ_HEADS] / sz[SZ_KV_HEADS];
    for (int64_t b = 0; b < sz[SZ_BATCH]; b++)
        for (int64_t h = 0; h < sz[SZ_HEADS]; h++)
            run_head(p, &st, b, h, h / group, o + ((b * sz[SZ_HEADS] + h) * sz[SZ_TOKENS]) * st.dv);
    free(mem);
    return true;
}
