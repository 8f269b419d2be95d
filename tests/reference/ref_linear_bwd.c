/* ref_linear_bwd.c — exact gradients of linear attention in double: the
 * recurrence of ref_linear.c run forward once to store the state (S, z)
 * every C = ceil(√T) tokens, then backward block by block (the block's
 * states recomputed from its checkpoint, bit-identical to the forward)
 * with the adjoints G = ∂L/∂S_t and g = ∂L/∂z_t:
 *   dnum = dO / den, dden = −(dO · o) / den   (normalize, den ≠ 0; else 0)
 *   dφ(q_t) = S_t dnum + dden z_t
 *   G += φ(q_t)ᵀ dnum,  g += dden φ(q_t)
 *   dφ(k_t) = G v_t + g,  dv_t = φ(k_t) G
 *   ∂L/∂a_t = <G, S_{t−1}> + <g, z_{t−1}>,  then G *= a_t, g *= a_t.
 * Without normalize dnum = dO and dden = 0. Non-causal: one state over all
 * keys, the same formulas without decay. See reference.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_internal.h"

typedef struct lbwd {
    const ref_problem *p;
    const ref_view *dout;
    const ref_grads *g;
    int dk, dv;
    size_t W;      /* doubles per state: S (dk x dv) then z (dk) */
    int64_t C;     /* tokens per checkpoint block */
    double *ckpt;  /* [blocks][W]: the state before each block */
    double *blk;   /* [C][W]: states after each token of the block */
    double *G;     /* [W]: adjoints of S and z */
    double *rq, *fq, *rk, *fk, *vv, *dnum, *dorow;
    double *dgate; /* d<decay param>, or NULL */
} lbwd;

static double feature_grad(feature_map f, double x)
{
    switch (f) {
    case FEATURE_ELU1: return x > 0 ? 1 : exp(x);
    case FEATURE_RELU: return x > 0 ? 1 : 0;
    default: return 1;
    }
}

static void load_raw(const ref_view *v, int64_t b, int64_t h, int64_t t, int n, double *raw, double *feat,
                     feature_map f)
{
    ref_load_row(v, b, h, t, n, FEATURE_IDENTITY, raw);
    for (int d = 0; feat && d < n; d++)
        feat[d] = ref_feature(f, raw[d]);
}

/* next = a * prev + φ(k) ⊗ v (and z), in the forward's order of operations. */
static void step(const lbwd *L, const double *prev, double *next, double a)
{
    int dk = L->dk, dv = L->dv;
    const double *zp = prev + (size_t)dk * dv;
    double *zn = next + (size_t)dk * dv;
    for (int i = 0; i < dk; i++) {
        zn[i] = a * zp[i] + L->fk[i];
        for (int j = 0; j < dv; j++)
            next[i * dv + j] = a * prev[i * dv + j] + L->fk[i] * L->vv[j];
    }
}

/* Token t's output gradient into dq and the adjoints, given its state st. */
static void query_backward(lbwd *L, const double *st, int64_t b, int64_t h, int64_t t)
{
    const ref_problem *p = L->p;
    int dk = L->dk, dv = L->dv;
    const double *z = st + (size_t)dk * dv;
    bool normalize = p->r->linear.normalize;
    load_raw(&p->q, b, h, t, dk, L->rq, L->fq, p->r->linear.feature);
    const ref_view *o = L->dout;
    for (int j = 0; j < dv; j++)
        L->dorow[j] = ref_load_elem(o->dt, o->data, b * o->stride[0] + h * o->stride[1] + t * o->stride[2] + j * o->stride[3]);
    double den = 0, dden = 0;
    for (int i = 0; i < dk; i++)
        den += L->fq[i] * z[i];
    for (int j = 0; j < dv; j++)
        L->dnum[j] = normalize ? 0 : L->dorow[j];
    if (normalize && den != 0) {
        double dot_o = 0;
        for (int j = 0; j < dv; j++) {
            double num = 0;
            for (int i = 0; i < dk; i++)
                num += L->fq[i] * st[i * dv + j];
            dot_o += L->dorow[j] * (num / den);
            L->dnum[j] = L->dorow[j] / den;
        }
        dden = -dot_o / den;
    }
    double *dq = L->g->dq ? L->g->dq + ((b * p->sizes[SZ_HEADS] + h) * p->sizes[SZ_TOKENS] + t) * dk : NULL;
    double *gz = L->G + (size_t)dk * dv;
    for (int i = 0; i < dk; i++) {
        double dfq = dden * z[i];
        for (int j = 0; j < dv; j++) {
            dfq += st[i * dv + j] * L->dnum[j];
            L->G[i * dv + j] += L->fq[i] * L->dnum[j];
        }
        gz[i] += dden * L->fq[i];
        if (dq)
            dq[i] += dfq * feature_grad(p->r->linear.feature, L->rq[i]);
    }
}

/* Key/value token s's gradients from the adjoints (its rows in rk/fk/vv). */
static void key_backward(lbwd *L, int64_t b, int64_t kvh, int64_t s)
{
    const ref_problem *p = L->p;
    int dk = L->dk, dv = L->dv;
    int64_t row = (b * p->sizes[SZ_KV_HEADS] + kvh) * p->sizes[SZ_KV_TOKENS] + s;
    const double *gz = L->G + (size_t)dk * dv;
    for (int i = 0; L->g->dk && i < dk; i++) {
        double dfk = gz[i];
        for (int j = 0; j < dv; j++)
            dfk += L->G[i * dv + j] * L->vv[j];
        L->g->dk[row * dk + i] += dfk * feature_grad(p->r->linear.feature, L->rk[i]);
    }
    for (int j = 0; L->g->dv && j < dv; j++) {
        double acc = 0;
        for (int i = 0; i < dk; i++)
            acc += L->fk[i] * L->G[i * dv + j];
        L->g->dv[row * dv + j] += acc;
    }
}

static void load_kv(lbwd *L, int64_t b, int64_t kvh, int64_t t)
{
    const ref_problem *p = L->p;
    load_raw(&p->k, b, kvh, t, L->dk, L->rk, L->fk, p->r->linear.feature);
    load_raw(&p->v, b, kvh, t, L->dv, L->vv, NULL, FEATURE_IDENTITY);
}

static void causal_head(lbwd *L, int64_t b, int64_t h, int64_t kvh)
{
    const ref_problem *p = L->p;
    int64_t T = p->sizes[SZ_TOKENS], C = L->C, nb = (T + C - 1) / C;
    size_t W = L->W;
    double *cur = L->G; /* scratch for the forward sweep; G is cleared below */
    memset(cur, 0, sizeof(double) * W);
    for (int64_t blk = 0; blk < nb; blk++) {
        memcpy(L->ckpt + blk * W, cur, sizeof(double) * W);
        for (int64_t t = blk * C; t < T && t < (blk + 1) * C; t++) {
            load_kv(L, b, kvh, t);
            step(L, cur, L->blk, ref_decay_at(p, b, h, t));
            memcpy(cur, L->blk, sizeof(double) * W);
        }
    }
    memset(L->G, 0, sizeof(double) * W);
    for (int64_t blk = nb - 1; blk >= 0; blk--) {
        int64_t start = blk * C, end = start + C < T ? start + C : T;
        for (int64_t t = start; t < end; t++) {
            load_kv(L, b, kvh, t);
            const double *prev = t == start ? L->ckpt + blk * W : L->blk + (t - start - 1) * W;
            step(L, prev, L->blk + (t - start) * W, ref_decay_at(p, b, h, t));
        }
        for (int64_t t = end - 1; t >= start; t--) {
            const double *st = L->blk + (t - start) * W;
            const double *prev = t == start ? L->ckpt + blk * W : L->blk + (t - start - 1) * W;
            query_backward(L, st, b, h, t);
            load_kv(L, b, kvh, t);
            key_backward(L, b, kvh, t);
            double a = ref_decay_at(p, b, h, t);
            if (L->dgate) {
                double da = 0;
                for (size_t i = 0; i < W; i++)
                    da += L->G[i] * prev[i];
                bool log_space = p->r->linear.decay == DECAY_PER_TOKEN;
                L->dgate[ref_decay_elem(p, b, h, t)] += log_space ? da * a : da;
            }
            for (size_t i = 0; i < W; i++)
                L->G[i] *= a;
        }
    }
}

static void noncausal_head(lbwd *L, int64_t b, int64_t h, int64_t kvh)
{
    const ref_problem *p = L->p;
    double *S = L->blk;
    memset(S, 0, sizeof(double) * L->W);
    memset(L->G, 0, sizeof(double) * L->W);
    for (int64_t s = 0; s < p->sizes[SZ_KV_TOKENS]; s++) {
        load_kv(L, b, kvh, s);
        step(L, S, S, 1.0); /* in place: each element reads only itself */
    }
    for (int64_t t = 0; t < p->sizes[SZ_TOKENS]; t++)
        query_backward(L, S, b, h, t);
    for (int64_t s = 0; s < p->sizes[SZ_KV_TOKENS]; s++) {
        load_kv(L, b, kvh, s);
        key_backward(L, b, kvh, s);
    }
}

bool ref_linear_backward(const ref_problem *p, const ref_view *dout, const ref_grads *g, const char **err)
{
    const int64_t *sz = p->sizes;
    const recipe_linear *lin = &p->r->linear;
    if (sz[SZ_KV_HEADS] <= 0 || sz[SZ_HEADS] % sz[SZ_KV_HEADS]) {
        *err = "heads must be a positive multiple of kv_heads";
        return false;
    }
    if (lin->causal && sz[SZ_KV_TOKENS] != sz[SZ_TOKENS]) {
        *err = "causal linear attention needs kv_tokens == tokens";
        return false;
    }
    lbwd L = {.p = p, .dout = dout, .g = g, .dk = p->r->head_dim, .dv = p->r->head_dim_v};
    L.W = (size_t)L.dk * L.dv + L.dk;
    int64_t T = lin->causal ? sz[SZ_TOKENS] : 1;
    L.C = (int64_t)ceil(sqrt((double)(T > 0 ? T : 1)));
    int64_t nb = (T + L.C - 1) / L.C;
    size_t n = L.W * (size_t)(nb + L.C + 1) + 4 * (size_t)L.dk + 3 * (size_t)L.dv;
    double *mem = malloc(sizeof(double) * n);
    if (!mem) {
        *err = "out of memory";
        return false;
    }
    L.ckpt = mem;
    L.blk = L.ckpt + L.W * (size_t)nb;
    L.G = L.blk + L.W * (size_t)L.C;
    L.rq = L.G + L.W;
    L.fq = L.rq + L.dk;
    L.rk = L.fq + L.dk;
    L.fk = L.rk + L.dk;
    L.vv = L.fk + L.dk;
    L.dnum = L.vv + L.dv;
    L.dorow = L.dnum + L.dv;
    if (g->dparams && lin->decay_param >= 0 && ref_param_has_grad(p->r, lin->decay_param) && p->params)
        L.dgate = g->dparams[lin->decay_param];
    int64_t group = sz[SZ_HEADS] / sz[SZ_KV_HEADS];
    for (int64_t b = 0; b < sz[SZ_BATCH]; b++)
        for (int64_t h = 0; h < sz[SZ_HEADS]; h++) {
            if (lin->causal)
                causal_head(&L, b, h, h / group);
            else
                noncausal_head(&L, b, h, h / group);
        }
    free(mem);
    return true;
}
