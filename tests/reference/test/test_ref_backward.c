/*
 * The fp64 reference's gradients (ref_backward) against finite differences
 * of its own forward (ref_run), in double: L = Σ dO ∘ O, and for each input
 * the 4-point central difference
 *   (−L(x + 2hδ) + 8 L(x + hδ) − 8 L(x − hδ) + L(x − 2hδ)) / 12h
 * along random directions δ (every element at once) and along single
 * elements. Inputs lie on a 2^-12 grid away from 0 and the steps are powers
 * of two, so every perturbed input is exact in f32 (the reference reads f32
 * views). Every shipped recipe, then the cases that need their own shapes:
 * fully masked rows, GQA, cross attention, BSHD strides, a score using every
 * operator with params read twice, linear attention variants and N = 65536
 * with decays near 1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "ref_check.h"
#include "ref_grad_check.h"
#include "reference.h"

enum { T_Q, T_K, T_V, T_DO, T_N, MAXP = 8 };

typedef struct prob {
    arena a;
    diag_list d;
    recipe *r;
    int64_t sz[SZ_MAX];
    float *x[T_N]; /* q, k, v, dO */
    size_t n[T_N];
    float *par[MAXP];
    size_t npar[MAXP];
    ref_view pview[MAXP];
    ref_problem rp;
    ref_view dout;
    uint64_t rng;
    double h;     /* finite-difference step */
    double dgrid; /* directions are multiples of 1/dgrid in [-1, 1] */
} prob;

static double uni(prob *P)
{
    P->rng = P->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(P->rng >> 11) / 9007199254740992.0;
}

/* A value on the 2^-12 grid in [lo, hi) at least 1/64 away from 0. */
static float grid_value(prob *P, double lo, double hi)
{
    for (;;) {
        double x = round((lo + (hi - lo) * uni(P)) * 4096) / 4096;
        if (fabs(x) >= 1.0 / 64 && x >= lo && x < hi)
            return (float)x;
    }
}

static void load_text(prob *P, const char *name, const char *text, size_t len)
{
    diag_list_init(&P->d, &P->a, name, text, len);
    P->r = frontend_parse(&P->a, name, text, len, &P->d);
    if (!P->r) {
        strbuf sb;
        sb_init(&sb);
        diag_render(&P->d, &sb);
        fail_msg("%s", sb_cstr(&sb));
    }
}

static void load_file(prob *P, const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/recipes/%s", ATTNC_SOURCE_DIR, file);
    size_t len;
    const char *err;
    char *text = frontend_read_file(&P->a, path, &len, &err);
    if (!text)
        fail_msg("%s: %s", path, err);
    load_text(P, path, text, len);
}

static ref_view view4(const float *data, int64_t b, int64_t h, int64_t s, int64_t d, bool bshd)
{
    ref_view v = {DT_F32, data, 4, {b, h, s, d}, {0, 0, 0, 1}};
    if (bshd) {
        v.stride[1] = d, v.stride[2] = h * d, v.stride[0] = s * h * d;
    } else {
        v.stride[2] = d, v.stride[1] = s * d, v.stride[0] = h * s * d;
    }
    return v;
}

/* Tensors and params of shape sh with seeded values. */
static void setup(prob *P, const ref_shape *sh, uint64_t seed)
{
    const recipe *r = P->r;
    P->rng = seed;
    P->h = 1.0 / 1024;
    P->dgrid = 256;
    ref_shape_sizes(r, sh, P->sz);
    const int64_t *z = P->sz;
    int64_t rows[T_N] = {z[SZ_HEADS] * z[SZ_TOKENS], z[SZ_KV_HEADS] * z[SZ_KV_TOKENS],
                         z[SZ_KV_HEADS] * z[SZ_KV_TOKENS], z[SZ_HEADS] * z[SZ_TOKENS]};
    int cols[T_N] = {r->head_dim, r->head_dim, r->head_dim_v, r->head_dim_v};
    for (int t = 0; t < T_N; t++) {
        P->n[t] = (size_t)(z[SZ_BATCH] * rows[t] * cols[t]);
        P->x[t] = malloc(sizeof(float) * (P->n[t] + 1));
        for (size_t i = 0; i < P->n[t]; i++)
            P->x[t][i] = grid_value(P, -1, 1);
    }
    P->rp.r = r;
    memcpy(P->rp.sizes, z, sizeof P->rp.sizes);
    P->rp.q = view4(P->x[T_Q], z[SZ_BATCH], z[SZ_HEADS], z[SZ_TOKENS], r->head_dim, sh->bshd);
    P->rp.k = view4(P->x[T_K], z[SZ_BATCH], z[SZ_KV_HEADS], z[SZ_KV_TOKENS], r->head_dim, sh->bshd);
    P->rp.v = view4(P->x[T_V], z[SZ_BATCH], z[SZ_KV_HEADS], z[SZ_KV_TOKENS], r->head_dim_v, sh->bshd);
    P->dout = view4(P->x[T_DO], z[SZ_BATCH], z[SZ_HEADS], z[SZ_TOKENS], r->head_dim_v, sh->bshd);
    assert_true(r->nparams <= MAXP);
    for (int i = 0; i < r->nparams; i++) {
        const recipe_param *rp = &r->params[i];
        ref_view *v = &P->pview[i];
        v->ndim = rp->ndim;
        size_t n = 1;
        for (int d = rp->ndim - 1; d >= 0; d--) {
            v->shape[d] = rp->const_dims[d] > 0 ? rp->const_dims[d] : z[rp->dims[d]];
            v->stride[d] = d == rp->ndim - 1 ? 1 : v->stride[d + 1] * v->shape[d + 1];
            n *= (size_t)v->shape[d];
        }
        P->npar[i] = n;
        P->par[i] = malloc(sizeof(float) * (n + 1));
        bool decay = r->family == FAMILY_LINEAR && r->linear.decay_param == i;
        bool flt = rp->dtype == DT_F32 || rp->dtype == DT_BF16 || rp->dtype == DT_F16;
        for (size_t j = 0; j < n; j++) {
            if (decay)
                P->par[i][j] = r->linear.decay == DECAY_PER_HEAD ? grid_value(P, 0.5, 0.99) : grid_value(P, -0.5, -0.02);
            else if (flt)
                P->par[i][j] = grid_value(P, -1, 1);
            else /* ids and table flags, stored as f32 and read as ints */
                P->par[i][j] = (float)(int)(uni(P) * (rp->dtype == DT_U8 ? 2 : 3));
        }
        v->dt = DT_F32;
        v->data = P->par[i];
    }
    P->rp.params = P->pview;
}

static void release(prob *P)
{
    for (int t = 0; t < T_N; t++)
        free(P->x[t]);
    for (int i = 0; P->r && i < P->r->nparams; i++)
        free(P->par[i]);
    arena_free_all(&P->a);
}

/* L = Σ dO ∘ O with O from the forward reference. */
static double loss(prob *P)
{
    const int64_t *z = P->sz;
    int Dv = P->r->head_dim_v;
    size_t n = (size_t)(z[SZ_BATCH] * z[SZ_HEADS] * z[SZ_TOKENS] * Dv);
    double *o = malloc(sizeof(double) * (n + 1));
    const char *err = NULL;
    assert_true(ref_run(&P->rp, o, NULL, &err));
    double L = 0;
    size_t i = 0;
    for (int64_t b = 0; b < z[SZ_BATCH]; b++)
        for (int64_t h = 0; h < z[SZ_HEADS]; h++)
            for (int64_t t = 0; t < z[SZ_TOKENS]; t++)
                for (int d = 0; d < Dv; d++, i++) {
                    const ref_view *v = &P->dout;
                    L += o[i] * ((const float *)v->data)[b * v->stride[0] + h * v->stride[1] + t * v->stride[2] + d];
                }
    free(o);
    return L;
}

typedef struct grads {
    double *dq, *dk, *dv, *dp[MAXP];
    ref_grads g;
} grads;

static void backward(prob *P, grads *G)
{
    memset(G, 0, sizeof *G);
    G->dq = malloc(sizeof(double) * (P->n[T_Q] + 1));
    G->dk = malloc(sizeof(double) * (P->n[T_K] + 1));
    G->dv = malloc(sizeof(double) * (P->n[T_V] + 1));
    for (int i = 0; i < P->r->nparams; i++) {
        G->dp[i] = malloc(sizeof(double) * (P->npar[i] + 1));
        for (size_t j = 0; j < P->npar[i]; j++)
            G->dp[i][j] = NAN; /* poisoned: ref_backward overwrites every element */
    }
    for (size_t i = 0; i < P->n[T_Q]; i++)
        G->dq[i] = NAN;
    G->g = (ref_grads){G->dq, G->dk, G->dv, G->dp, NULL, NULL, NULL};
    const char *err = NULL;
    if (!ref_backward(&P->rp, &P->dout, &G->g, &err))
        fail_msg("ref_backward: %s", err);
}

static void free_grads(grads *G)
{
    free(G->dq);
    free(G->dk);
    free(G->dv);
    for (int i = 0; i < MAXP; i++)
        free(G->dp[i]);
}

/* One perturbable tensor: its f32 storage and its gradient (same order). */
typedef struct target {
    const char *name;
    float *x;
    const double *g;
    size_t n;
} target;

static int targets(prob *P, grads *G, target *t)
{
    int n = 0;
    t[n++] = (target){"q", P->x[T_Q], G->dq, P->n[T_Q]};
    t[n++] = (target){"k", P->x[T_K], G->dk, P->n[T_K]};
    t[n++] = (target){"v", P->x[T_V], G->dv, P->n[T_V]};
    for (int i = 0; i < P->r->nparams; i++)
        if (ref_param_has_grad(P->r, i))
            t[n++] = (target){P->r->params[i].name, P->par[i], G->dp[i], P->npar[i]};
    return n;
}

/* The 4-point difference of L along delta over the targets (delta[i] NULL: fixed). */
static double fd_along(prob *P, target *t, int nt, float **delta)
{
    float *save[MAXP + 3];
    for (int i = 0; i < nt; i++) {
        save[i] = malloc(sizeof(float) * (t[i].n + 1));
        memcpy(save[i], t[i].x, sizeof(float) * t[i].n);
    }
    static const double at[4] = {2, 1, -1, -2}, w[4] = {-1, 8, -8, 1};
    double acc = 0;
    for (int s = 0; s < 4; s++) {
        for (int i = 0; i < nt; i++)
            for (size_t j = 0; delta[i] && j < t[i].n; j++)
                t[i].x[j] = (float)((double)save[i][j] + at[s] * P->h * delta[i][j]);
        acc += w[s] * loss(P);
    }
    for (int i = 0; i < nt; i++) {
        memcpy(t[i].x, save[i], sizeof(float) * t[i].n);
        free(save[i]);
    }
    return acc / (12 * P->h);
}

static void expect_agree(const char *recipe_name, const char *what, double analytic, double fd, double scale)
{
    double tol = 1e-7 * fmax(scale, 1e-3);
    if (!(fabs(analytic - fd) <= tol))
        fail_msg("%s: %s: gradient %.12g, finite difference %.12g (|diff| %.3g > %.3g)", recipe_name, what, analytic,
                 fd, fabs(analytic - fd), tol);
}

/* No NaN or inf in any gradient. */
static void expect_finite(prob *P, target *t, int nt)
{
    for (int i = 0; i < nt; i++)
        for (size_t j = 0; j < t[i].n; j++)
            if (!isfinite(t[i].g[j]))
                fail_msg("%s: d%s[%zu] = %g", P->r->name, t[i].name, j, t[i].g[j]);
}

/* Directional checks: each target alone (when each), then all together;
 * then `elems` single elements of each target. */
static void check_fd(prob *P, bool each, int elems)
{
    grads G;
    backward(P, &G);
    target t[MAXP + 3];
    int nt = targets(P, &G, t);
    expect_finite(P, t, nt);
    float *dir[MAXP + 3];
    double joint = 0, joint_scale = 0;
    for (int i = 0; i < nt; i++) {
        dir[i] = malloc(sizeof(float) * (t[i].n + 1));
        double an = 0, scale = 0;
        for (size_t j = 0; j < t[i].n; j++) {
            dir[i][j] = (float)(round((2 * uni(P) - 1) * P->dgrid) / P->dgrid);
            an += t[i].g[j] * dir[i][j];
            scale += fabs(t[i].g[j] * dir[i][j]);
        }
        joint += an;
        joint_scale += scale;
        if (each) {
            float *only[MAXP + 3] = {0};
            only[i] = dir[i];
            char what[64];
            snprintf(what, sizeof what, "d%s along a random direction", t[i].name);
            expect_agree(P->r->name, what, an, fd_along(P, t, nt, only), scale);
        }
    }
    expect_agree(P->r->name, "every gradient along one random direction", joint, fd_along(P, t, nt, dir), joint_scale);
    for (int i = 0; i < nt; i++) {
        float *unit = calloc(t[i].n + 1, sizeof(float));
        for (int e = 0; e < elems && t[i].n; e++) {
            size_t j = (size_t)(uni(P) * (double)t[i].n);
            unit[j] = 1;
            float *only[MAXP + 3] = {0};
            only[i] = unit;
            char what[64];
            snprintf(what, sizeof what, "d%s[%zu]", t[i].name, j);
            expect_agree(P->r->name, what, t[i].g[j], fd_along(P, t, nt, only), fabs(t[i].g[j]) + 1e-2);
            unit[j] = 0;
        }
        free(unit);
        free(dir[i]);
    }
    free_grads(&G);
}

/* ---- every shipped recipe ---- */

static void small_shape(const recipe *r, ref_shape *sh)
{
    memset(sh, 0, sizeof *sh);
    sh->batch = 2;
    sh->heads = 2;
    sh->kv_heads = r->gqa ? 1 : 0;
    sh->tokens = 37;
    int64_t mins[3];
    ref_min_extents(r, mins);
    for (int d = 0; d < r->grid_ndim; d++)
        sh->grid[d] = r->sizes[SZ_GRID0 + d].fixed > 0 ? 0 : (mins[d] > 2 ? mins[d] + 1 : 4);
    if (r->grid_ndim)
        sh->batch = 1;
    if (r->grid_ndim == 3)
        sh->heads = 1;
}

static void backward_every_shipped_recipe(void **state)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/recipes", ATTNC_SOURCE_DIR);
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".attn"))
            continue;
        prob P = {0};
        arena_init(&P.a, NULL);
        load_file(&P, de->d_name);
        ref_shape sh;
        small_shape(P.r, &sh);
        bool fixed_big = P.r->grid_ndim && P.r->sizes[SZ_GRID0].fixed > 0; /* blocked2d: 64 x 64 tokens */
        if (fixed_big)
            sh.heads = 1;
        setup(&P, &sh, 1000 + (uint64_t)n);
        check_fd(&P, !fixed_big, fixed_big ? 0 : 3);
        release(&P);
        n++;
    }
    closedir(dp);
    assert_true(n >= 21);
}

/* ---- cases with their own recipes and shapes ---- */

static void text_problem(prob *P, const char *text, const ref_shape *sh, uint64_t seed)
{
    memset(P, 0, sizeof *P);
    arena_init(&P->a, NULL);
    load_text(P, "t.attn", text, strlen(text));
    setup(P, sh, seed);
}

/* Rows with no kept key: exactly zero gradients, and the rest still right. */
static void backward_fully_masked_rows(void **state)
{
    prob P;
    ref_shape sh = {.batch = 1, .heads = 2, .tokens = 9};
    text_problem(&P,
                 "recipe t\ninput q, k, v : f32 [batch, heads, tokens, 16]\n"
                 "mask k.t < q.t && q.t != 4\nscore s * scale\n",
                 &sh, 7);
    grads G;
    backward(&P, &G);
    for (int64_t h = 0; h < 2; h++)
        for (int64_t t = 0; t < 9; t++) {
            if (t != 0 && t != 4)
                continue;
            for (int d = 0; d < 16; d++)
                if (G.dq[((h * 9) + t) * 16 + d] != 0.0 || signbit(G.dq[((h * 9) + t) * 16 + d]))
                    fail_msg("dq of the empty row %lld is %g", (long long)t, G.dq[((h * 9) + t) * 16 + d]);
        }
    /* key 8 is seen by no query: dk and dv of it are exactly zero */
    for (int64_t h = 0; h < 2; h++)
        for (int d = 0; d < 16; d++) {
            assert_true(G.dk[((h * 9) + 8) * 16 + d] == 0.0);
            assert_true(G.dv[((h * 9) + 8) * 16 + d] == 0.0);
        }
    free_grads(&G);
    check_fd(&P, true, 4);
    release(&P);

    /* block-sparse tables that empty whole rows of blocks */
    prob B;
    ref_shape sb = {.batch = 1, .heads = 2, .tokens = 10};
    text_problem(&B,
                 "recipe b\ninput q, k, v : f32 [batch, heads, tokens, 16]\nparam table : u8 [heads, nqb, nkb]\n"
                 "mask blocks(table, bq: 4, bk: 4)\n",
                 &sb, 11);
    for (size_t j = 0; j < B.npar[0]; j++) /* table [2, 3, 3]: head 0 keeps only query block 1 */
        B.par[0][j] = j < 9 ? (j / 3 == 1) : 1;
    backward(&B, &G);
    for (int64_t t = 0; t < 10; t++)
        for (int d = 0; d < 16; d++)
            if ((t < 4 || t >= 8) && G.dq[t * 16 + d] != 0.0)
                fail_msg("block-sparse: dq of the empty row %lld is %g", (long long)t, G.dq[t * 16 + d]);
    assert_false(ref_param_has_grad(B.r, 0));
    for (size_t j = 0; j < B.npar[0]; j++)
        assert_true(G.dp[0][j] == 0.0); /* a mask-only param: zeros */
    free_grads(&G);
    check_fd(&B, true, 2);
    release(&B);
}

static void backward_gqa_and_cross_attention(void **state)
{
    prob P;
    ref_shape sh = {.batch = 2, .heads = 6, .kv_heads = 2, .tokens = 11};
    text_problem(&P,
                 "recipe g\ninput q : f32 [batch, heads, tokens, 32]\ninput k : f32 [batch, kv_heads, tokens, 32]\n"
                 "input v : f32 [batch, kv_heads, tokens, 16]\n"
                 "mask causal\nscore s * scale + float(kv_head)\n",
                 &sh, 21);
    check_fd(&P, true, 6);
    release(&P);

    ref_shape sc = {.batch = 1, .heads = 2, .tokens = 5, .kv_tokens = 13};
    text_problem(&P,
                 "recipe c\ninput q : f32 [batch, heads, tokens, 32]\ninput k, v : f32 [batch, heads, kv_tokens, 32]\n"
                 "mask k.t >= q.t\nscore s * 0.3 - 0.05 * float(k.t)\n",
                 &sc, 22);
    assert_true(P.r->cross);
    check_fd(&P, true, 6);
    release(&P);

    /* one token: O = V, so dQ = dK = 0 exactly and dV = dO */
    ref_shape s1 = {.batch = 2, .heads = 2, .tokens = 1};
    text_problem(&P, "recipe o\ninput q, k, v : f32 [batch, heads, tokens, 16]\nmask causal\n", &s1, 24);
    grads G;
    backward(&P, &G);
    for (size_t i = 0; i < P.n[T_Q]; i++) {
        assert_true(G.dq[i] == 0.0 && G.dk[i] == 0.0);
        assert_true(G.dv[i] == (double)P.x[T_DO][i]);
    }
    free_grads(&G);
    release(&P);

    ref_shape sm = {.batch = 1, .heads = 4, .kv_heads = 1, .tokens = 7, .kv_tokens = 9};
    text_problem(&P,
                 "recipe m\ninput q : f32 [batch, heads, tokens, 16]\ninput k, v : f32 [batch, kv_heads, kv_tokens, 16]\n",
                 &sm, 23);
    check_fd(&P, true, 6);
    release(&P);
}

/* BSHD storage gives bit-identical gradients (they come back BHSD). */
static void backward_bshd_strides(void **state)
{
    const char *text = "recipe s\ninput q, k, v : f32 [batch, heads, tokens, 16]\nparam bias : f32 [heads, 16]\n"
                       "mask causal\nscore softcap(s * scale, 5.0) + bias[head, q.t - k.t]\n";
    ref_shape sh = {.batch = 2, .heads = 3, .tokens = 12};
    prob A, B;
    text_problem(&A, text, &sh, 31);
    sh.bshd = true;
    text_problem(&B, text, &sh, 31);
    /* same logical values: B's storage is A's transposed */
    const int64_t *z = A.sz;
    for (int t = 0; t < T_N; t++) {
        int cols = 16;
        int64_t H = z[SZ_HEADS], S = z[SZ_TOKENS];
        for (int64_t b = 0; b < z[SZ_BATCH]; b++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t s = 0; s < S; s++)
                    for (int d = 0; d < cols; d++)
                        B.x[t][((b * S + s) * H + h) * cols + d] = A.x[t][((b * H + h) * S + s) * cols + d];
    }
    grads GA, GB;
    backward(&A, &GA);
    backward(&B, &GB);
    assert_memory_equal(GA.dq, GB.dq, sizeof(double) * A.n[T_Q]);
    assert_memory_equal(GA.dk, GB.dk, sizeof(double) * A.n[T_K]);
    assert_memory_equal(GA.dv, GB.dv, sizeof(double) * A.n[T_V]);
    assert_memory_equal(GA.dp[0], GB.dp[0], sizeof(double) * A.npar[0]);
    free_grads(&GA);
    free_grads(&GB);
    check_fd(&A, true, 0);
    release(&A);
    release(&B);
}

/* Every operator of the score language, params read twice, a param read
 * only as an index, an int param, and a learned softcap. */
static void backward_every_score_operator(void **state)
{
    prob P;
    ref_shape sh = {.batch = 1, .heads = 2, .tokens = 10};
    text_problem(&P,
                 "recipe ops\ninput q, k, v : f32 [batch, heads, tokens, 16]\n"
                 "param bias : f32 [heads, 24]\nparam cap : f32 [heads]\nparam w : f32 [2]\nparam ids : i32 [tokens]\n"
                 "mask k.t <= q.t + 2\n"
                 "score softcap(s * scale, 2.0 + abs(cap[head])) + bias[head, q.t - k.t + 11] * bias[head, k.t] +\n"
                 "      select(s > 0.0, 0.5 * s, exp(0.25 * s) - 1.0) + min(s, w[0]) - max(0.3 * s, w[1]) +\n"
                 "      log(1.5 + tanh(s)) * sqrt(2.0 + s * s) / (3.0 + abs(s)) +\n"
                 "      bias[head, floor(w[0] * 4.0) + 12] * float(ids[k.t]) +\n"
                 "      clamp(s, -1.0, 1.0) * float(floor(bias[head, 0] * 2.0))\n",
                 &sh, 41);
    assert_true(ref_param_has_grad(P.r, 0));
    assert_true(ref_param_has_grad(P.r, 1));
    assert_true(ref_param_has_grad(P.r, 2));
    assert_false(ref_param_has_grad(P.r, 3)); /* int */
    /* floor() arguments well inside their steps */
    P.par[2][0] = 0.3f;
    P.par[0][0] = P.par[0][24] = 0.8f;
    /* steps so small (2^-16 along directions of 1/16ths, exact in f32) that
     * no perturbation crosses a kink of select/min/max/clamp/abs */
    P.h = 1.0 / 65536;
    P.dgrid = 16;
    check_fd(&P, true, 8);
    release(&P);

    /* a float param read only in an index or a condition gets no gradient */
    ref_shape s2 = {.batch = 1, .heads = 1, .tokens = 6};
    text_problem(&P,
                 "recipe idx\ninput q, k, v : f32 [batch, heads, tokens, 16]\nparam tb : f32 [8]\nparam u : f32\n"
                 "score s * tb[floor(u * 4.0) + 4] + select(u > 0.0, s, -s)\n",
                 &s2, 42);
    assert_true(ref_param_has_grad(P.r, 0));
    assert_false(ref_param_has_grad(P.r, 1));
    grads G;
    backward(&P, &G);
    assert_true(G.dp[1][0] == 0.0);
    int64_t read = (int64_t)floor(P.par[1][0] * 4.0) + 4;
    for (int64_t j = 0; j < 8; j++)
        if (j != read)
            assert_true(G.dp[0][j] == 0.0);
    assert_true(G.dp[0][read] != 0.0);
    free_grads(&G);
    check_fd(&P, true, 3);
    release(&P);
}

static void backward_linear_variants(void **state)
{
    static const char *const texts[] = {
        "recipe a\ninput q, k, v : f32 [batch, heads, tokens, 16]\nparam lam : f32 [heads]\n"
        "linear {\n causal\n decay lam[head]\n normalize\n feature elu1\n}\n",
        "recipe b\ninput q : f32 [batch, heads, tokens, 16]\ninput k : f32 [batch, kv_heads, tokens, 16]\n"
        "input v : f32 [batch, kv_heads, tokens, 32]\n"
        "param g : f32 [batch, heads, tokens]\nlinear {\n causal\n decay g[batch, head, t]\n feature relu\n}\n",
        "recipe c\ninput q, k, v : f32 [batch, heads, tokens, 16]\nlinear {\n causal\n normalize\n}\n",
        "recipe d\ninput q, k, v : f32 [batch, heads, tokens, 16]\nlinear {\n noncausal\n feature relu\n normalize\n}\n",
        "recipe e\ninput q : f32 [batch, heads, tokens, 16]\ninput k, v : f32 [batch, heads, kv_tokens, 16]\n"
        "linear {\n noncausal\n}\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        prob P;
        /* T = 10: the checkpoint blocks are 4, 4 and 2 tokens */
        ref_shape sh = {.batch = 2, .heads = 2, .kv_heads = i == 1 ? 1 : 0, .tokens = 10, .kv_tokens = 7};
        text_problem(&P, texts[i], &sh, 50 + i);
        P.h = 1.0 / 16384; /* 1 / (φ(q)·z) varies fast where the denominator is small */
        check_fd(&P, true, 6);
        release(&P);
    }
}

/* N = 65536 with λ = 0.9999 and log-gates of −1e-4: finite gradients, and
 * the decay gradient still agrees with finite differences. */
static void backward_linear_long_decay_near_one(void **state)
{
    static const char *const texts[] = {
        "recipe l\ninput q, k, v : f32 [batch, heads, tokens, 16]\nparam lam : f32 [heads]\n"
        "linear {\n causal\n decay lam[head]\n}\n",
        "recipe g\ninput q, k, v : f32 [batch, heads, tokens, 16]\nparam g : f32 [batch, heads, tokens]\n"
        "linear {\n causal\n decay g[batch, head, t]\n normalize\n}\n",
    };
    for (int i = 0; i < 2; i++) {
        prob P;
        ref_shape sh = {.batch = 1, .heads = 1, .tokens = 65536};
        text_problem(&P, texts[i], &sh, 60 + (uint64_t)i);
        for (size_t j = 0; j < P.npar[0]; j++)
            P.par[0][j] = i == 0 ? 1.0f - 1.0f / 8192 : -1.0f / 8192;
        grads G;
        backward(&P, &G);
        target t[4];
        int nt = targets(&P, &G, t);
        assert_int_equal(nt, 4);
        expect_finite(&P, t, nt);
        /* one decay element against finite differences (a smaller step: L is a
         * polynomial of high degree in λ) */
        P.h = 1.0 / 1048576;
        size_t j = i == 0 ? 0 : 40000;
        float *unit = calloc(P.npar[0] + 1, sizeof(float));
        unit[j] = 1;
        float *only[4] = {0, 0, 0, unit};
        double fdv = fd_along(&P, t, nt, only);
        if (!(fabs(fdv - t[3].g[j]) <= 1e-6 * fabs(t[3].g[j]) + 1e-9))
            fail_msg("%s: d%s[%zu] = %.12g, finite difference %.12g", P.r->name, t[3].name, j, t[3].g[j], fdv);
        free(unit);
        free_grads(&G);
        release(&P);
    }
}

static void backward_rejects_malformed_problems(void **state)
{
    prob P;
    ref_shape sh = {.batch = 1, .heads = 3, .kv_heads = 2, .tokens = 4};
    text_problem(&P, "recipe g\ninput q : f32 [batch, heads, tokens, 16]\ninput k, v : f32 [batch, kv_heads, tokens, 16]\n",
                 &sh, 70);
    double dq[3 * 4 * 16];
    ref_grads g = {dq, NULL, NULL, NULL, NULL, NULL, NULL};
    const char *err = NULL;
    assert_false(ref_backward(&P.rp, &P.dout, &g, &err));
    assert_non_null(strstr(err, "kv_heads"));
    assert_false(ref_backward(&P.rp, NULL, &g, &err));
    assert_false(ref_backward(NULL, &P.dout, &g, &err));
    release(&P);
}

/* ref_check_grads: the reference's own gradients rounded to f32 pass (dq
 * given in BSHD storage); a NaN, a nonzero where the reference is exactly
 * zero, or a 10% error fail and are named. */
static void check_grads_compares_every_output(void **state)
{
    prob P;
    ref_shape sh = {.batch = 1, .heads = 2, .tokens = 9};
    text_problem(&P,
                 "recipe t\ninput q, k, v : f32 [batch, heads, tokens, 16]\nparam bias : f32 [heads, 9]\n"
                 "mask k.t < q.t\nscore s * scale + bias[head, k.t]\n",
                 &sh, 81);
    grads G;
    backward(&P, &G);
    float *dq = malloc(sizeof(float) * P.n[T_Q]), *dk = malloc(sizeof(float) * P.n[T_K]);
    float *dv = malloc(sizeof(float) * P.n[T_V]), *db = malloc(sizeof(float) * P.npar[0]);
    for (int64_t h = 0; h < 2; h++) /* dq in BSHD storage */
        for (int64_t t = 0; t < 9; t++)
            for (int d = 0; d < 16; d++)
                dq[(t * 2 + h) * 16 + d] = (float)G.dq[(h * 9 + t) * 16 + d];
    for (size_t i = 0; i < P.n[T_K]; i++)
        dk[i] = (float)G.dk[i], dv[i] = (float)G.dv[i];
    for (size_t i = 0; i < P.npar[0]; i++)
        db[i] = (float)G.dp[0][i];
    ref_view pviews[1] = {{DT_F32, db, 2, {2, 9}, {9, 1}}};
    ref_grad_outputs out = {view4(dq, 1, 2, 9, 16, true), view4(dk, 1, 2, 9, 16, false),
                            view4(dv, 1, 2, 9, 16, false), pviews};
    ref_grad_result res[REF_GRAD_MAX];
    int n = 0;
    const char *err = NULL;
    assert_true(ref_check_grads(&P.rp, &P.dout, &out, 1e-6, res, &n, &err));
    assert_int_equal(n, 4);
    assert_string_equal(res[3].name, "dbias");
    /* query 0 sees no key: its dq is exactly 0, so any nonzero there fails */
    assert_true(G.dq[0] == 0.0);
    dq[0] = 1e-30f;
    assert_false(ref_check_grads(&P.rp, &P.dout, &out, 1e-6, res, &n, &err));
    assert_false(res[0].ok);
    assert_int_equal(res[0].nonzero_at_zero, 1);
    dq[0] = 0;
    dv[5] = NAN;
    assert_false(ref_check_grads(&P.rp, &P.dout, &out, 1e-6, res, &n, &err));
    assert_true(res[0].ok);
    assert_int_equal(res[2].cmp.nan_count, 1);
    dv[5] = (float)G.dv[5];
    for (size_t i = 0; i < P.npar[0]; i++)
        db[i] *= 1.1f;
    assert_false(ref_check_grads(&P.rp, &P.dout, &out, 1e-6, res, &n, &err));
    assert_false(res[3].ok);
    assert_true(res[1].ok && res[2].ok);
    free(dq);
    free(dk);
    free(dv);
    free(db);
    free_grads(&G);
    release(&P);
}

/* The first seed (from 1) whose reference dbias is exactly 0 in some head
 * while another head's is not: a per-head bias cancels in the softmax, so
 * its gradient is rounding noise that now and then sums to exactly 0. */
static int exact_zero_head(prob *P, grads *G, uint64_t *seed)
{
    static const char *text = "recipe c\ninput q, k, v : f32 [batch, heads, tokens, 16]\nparam bias : f32 [heads]\n"
                              "mask k.t <= q.t\nscore s * scale + bias[head]\n";
    ref_shape sh = {.batch = 1, .heads = 4, .tokens = 3};
    for (*seed = 1; *seed <= 2000; (*seed)++) {
        text_problem(P, text, &sh, *seed);
        backward(P, G);
        int zero = -1, nonzero = 0;
        for (int h = 0; h < 4; h++)
            if (G->dp[0][h] == 0.0)
                zero = h;
            else
                nonzero++;
        if (zero >= 0 && nonzero > 0)
            return zero;
        free_grads(G);
        release(P);
    }
    fail_msg("no seed gives an exactly zero dbias head");
    return -1;
}

/* ref_check_grads_slack: a param element whose terms cancel to exactly 0
 * in fp64 accepts f32 rounding relative to its terms (fuzz_diff's
 * bias_per_head_grad_cancels_to_zero), not relative to the other heads'
 * 1e-16 noise; a value far beyond rounding still fails. */
static void check_grads_slack_cancelled_param(void **state)
{
    prob P;
    grads G;
    uint64_t seed;
    int h0 = exact_zero_head(&P, &G, &seed);
    float *dq = malloc(sizeof(float) * P.n[T_Q]), *dk = malloc(sizeof(float) * P.n[T_K]);
    float *dv = malloc(sizeof(float) * P.n[T_V]), db[4];
    for (size_t i = 0; i < P.n[T_Q]; i++)
        dq[i] = (float)G.dq[i];
    for (size_t i = 0; i < P.n[T_K]; i++)
        dk[i] = (float)G.dk[i], dv[i] = (float)G.dv[i];
    for (int h = 0; h < 4; h++)
        db[h] = (float)G.dp[0][h];
    ref_view pviews[1] = {{DT_F32, db, 1, {4}, {1}}};
    ref_grad_outputs out = {view4(dq, 1, 4, 3, 16, false), view4(dk, 1, 4, 3, 16, false),
                            view4(dv, 1, 4, 3, 16, false), pviews};
    ref_grad_result res[REF_GRAD_MAX];
    int n = 0;
    const char *err = NULL;
    db[h0] = 1e-7f; /* f32 rounding of terms of size ~1 */
    if (!ref_check_grads_slack(&P.rp, &P.dout, &out, 1e-4, 1e-5, res, &n, &err))
        fail_msg("seed %llu head %d: %s rel L2 %g, %zu nonzero at zero", (unsigned long long)seed, h0, res[3].name,
                 res[3].cmp.rel_l2, res[3].nonzero_at_zero);
    db[h0] = 0.1f;
    assert_false(ref_check_grads_slack(&P.rp, &P.dout, &out, 1e-4, 1e-5, res, &n, &err));
    assert_int_equal(res[3].nonzero_at_zero, 1);
    free(dq);
    free(dk);
    free(dv);
    free_grads(&G);
    release(&P);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backward_every_shipped_recipe),
        cmocka_unit_test(backward_fully_masked_rows),
        cmocka_unit_test(backward_gqa_and_cross_attention),
        cmocka_unit_test(backward_bshd_strides),
        cmocka_unit_test(backward_every_score_operator),
        cmocka_unit_test(backward_linear_variants),
        cmocka_unit_test(backward_linear_long_decay_near_one),
        cmocka_unit_test(backward_rejects_malformed_problems),
        cmocka_unit_test(check_grads_compares_every_output),
        cmocka_unit_test(check_grads_slack_cancelled_param),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
