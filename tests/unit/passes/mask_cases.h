/* mask_cases.h — the mask recipes the mask-analysis tests and the report
 * walk, each with a random (or fixed) shape. Header-only (see
 * recipe_builders.h). */
#ifndef ATTNC_TESTS_MASK_CASES_H
#define ATTNC_TESTS_MASK_CASES_H

#include <stdint.h>
#include <stdlib.h>

#include "passes/mask_analysis.h"
#include "recipe_builders.h"

typedef enum {
    MC_CAUSAL,
    MC_CAUSAL_GRID2, /* causal on the flat index of a 2-D grid */
    MC_SLIDING,
    MC_SLIDING_SINKS,
    MC_NB1D,
    MC_NB2D,
    MC_NB3D,
    MC_RADIAL,
    MC_STRIDED_HEADS,
    MC_DOC_CAUSAL,
    MC_DOCUMENT,
    MC_BLOCKS,
    MC_UNION_SEQ,    /* 2..5 random terms: sinks, windows, blocks of keys, tails, congruences */
    MC_CAUSAL_UNION, /* causal && such a union */
    MC_UNION_GRID2,  /* a union on a 2-D grid: windows, corner boxes, row bands, flat sinks */
    MC_COUNT
} mask_case;
enum { MC_UNION_FIRST = MC_UNION_SEQ }; /* random unions: their modes vary with the draw */

static const char *const mc_names[MC_COUNT] = {
    "causal", "causal_grid2d", "sliding_window", "sliding_window||sinks", "neighborhood1d", "neighborhood2d",
    "neighborhood3d", "radial", "strided_heads", "document&&causal", "document", "blocks",
    "union", "causal&&union", "union2d",
};

/* Runtime tensors for document/blocks: ids[t] and table[qb][kb]. */
typedef struct mc_params {
    int64_t ids[4096];
    uint8_t table[64][64];
    int64_t bq, bk;
} mc_params;

static inline int64_t mc_param_reader(void *user, int param, const int64_t *idx, int n)
{
    const mc_params *p = user;
    if (n == 1)
        return idx[0] >= 0 && idx[0] < 4096 ? p->ids[idx[0]] : 0;
    if (idx[0] < 0 || idx[0] >= 64 || idx[1] < 0 || idx[1] >= 64)
        return 0;
    return p->table[idx[0]][idx[1]];
}

static inline int64_t mc_rand(int64_t lo, int64_t hi)
{
    return lo + rand() % (hi - lo + 1);
}

static inline int mc_pow2(int max_log2)
{
    return 1 << (rand() % (max_log2 + 1));
}

/* Random neighborhood args for a dim of extent L: w * dil <= L. */
static inline void mc_nb_args(int64_t L, int64_t *w, int64_t *dil, int64_t *stride, bool *causal)
{
    *dil = mc_rand(1, L >= 6 ? 3 : 1);
    int64_t maxw = L / *dil;
    *w = mc_rand(1, maxw < 1 ? 1 : maxw);
    *causal = rand() % 4 == 0;
    *stride = *causal ? 1 : mc_rand(1, *w);
}

/* One random term of a union over a sequence of n tokens. */
static inline expr *mc_union_term(arena *a, int64_t n)
{
    expr *k = rb_t(a, SIDE_K);
    switch (rand() % 6) {
    case 0: return rb_sinks(a, mc_rand(1, 12));
    case 1:
    case 2: return rb_sliding(a, mc_rand(0, n / 4), mc_rand(0, 3) ? 0 : mc_rand(0, n / 8));
    case 3: {
        int64_t lo = mc_rand(0, n);
        return RB_B(AND, RB_B(GE, k, RB_I(lo)), RB_B(LT, k, RB_I(lo + mc_rand(1, 40))));
    }
    case 4: return RB_B(GE, k, RB_B(SUB, ex_size(a, SZ_KV_TOKENS), RB_I(mc_rand(1, 20))));
    default: return RB_B(EQ, RB_B(MOD, k, RB_I(mc_rand(2, 40))), RB_I(0));
    }
}

/* One random term of a union on a 2-D grid. */
static inline expr *mc_union_term2(arena *a)
{
    expr *qy = ex_coord(a, SIDE_Q, 0), *qx = ex_coord(a, SIDE_Q, 1);
    expr *ky = ex_coord(a, SIDE_K, 0), *kx = ex_coord(a, SIDE_K, 1);
    int64_t r = mc_rand(0, 3);
    switch (rand() % 4) {
    case 0: /* a window around the query */
        return RB_B(AND, RB_B(AND, RB_B(LE, RB_B(SUB, qy, RB_I(r)), ky), RB_B(LE, ky, RB_B(ADD, qy, RB_I(r)))),
                    RB_B(AND, RB_B(LE, RB_B(SUB, qx, RB_I(r + 1)), kx), RB_B(LE, kx, RB_B(ADD, qx, RB_I(r)))));
    case 1: return RB_B(AND, RB_B(LT, ky, RB_I(mc_rand(1, 4))), RB_B(LT, kx, RB_I(mc_rand(1, 5))));
    case 2: return RB_B(AND, RB_B(GE, ky, RB_B(SUB, qy, RB_I(r))), RB_B(LE, ky, qy));
    default: return rb_sinks(a, mc_rand(1, 12));
    }
}

static inline expr *mc_union(arena *a, int gnd, int64_t n)
{
    int terms = mc_rand(2, 5);
    expr *u = NULL;
    for (int i = 0; i < terms; i++) {
        expr *t = gnd ? mc_union_term2(a) : mc_union_term(a, n);
        u = u ? RB_B(OR, u, t) : t;
    }
    return u;
}

/* Builds case c with random sizes into env (sizes) and random tiles in s. */
static inline recipe *mc_build(arena *a, mask_case c, eval_env *env, schedule *s, mc_params *p)
{
    int gnd = c == MC_CAUSAL_GRID2 || c == MC_NB2D || c == MC_UNION_GRID2 ? 2 : c == MC_NB3D ? 3 : 0;
    recipe *r = rb_recipe(a, mc_names[c], gnd);
    memset(env, 0, sizeof *env);
    env->grid_ndim = gnd;
    env->sizes[SZ_BATCH] = 1;
    env->sizes[SZ_HEADS] = env->sizes[SZ_KV_HEADS] = 4;
    env->head = env->kv_head = rand() % 4;
    int64_t n = 1;
    for (int d = 0; d < gnd; d++) {
        env->sizes[SZ_GRID0 + d] = gnd == 3 ? mc_rand(1, 7) : mc_rand(1, 18);
        n *= env->sizes[SZ_GRID0 + d];
    }
    if (gnd == 0)
        n = mc_rand(1, 240);
    env->sizes[SZ_TOKENS] = env->sizes[SZ_KV_TOKENS] = n;
    *s = schedule_default(gnd ? gnd : 1, TARGET_HOST, false);
    for (int d = 0; d < s->ndims; d++) {
        s->q_tile[d] = mc_pow2(gnd ? 3 : 6);
        s->kv_tile[d] = mc_pow2(gnd ? 3 : 6);
    }
    int64_t w[3], dil[3], st[3];
    bool cz[3];
    switch (c) {
    case MC_CAUSAL:
    case MC_CAUSAL_GRID2:
        r->mask = rb_causal(a);
        break;
    case MC_SLIDING:
        r->mask = rb_sliding(a, mc_rand(0, n), mc_rand(0, n / 4));
        break;
    case MC_SLIDING_SINKS:
        r->mask = ex_binary(a, BIN_OR, rb_sliding(a, mc_rand(0, n / 2), 0), rb_sinks(a, mc_rand(1, 8)));
        break;
    case MC_NB1D:
        mc_nb_args(n, &w[0], &dil[0], &st[0], &cz[0]);
        r->mask = rb_neighborhood(a, 0, w, dil, st, cz);
        break;
    case MC_NB2D:
    case MC_NB3D:
        for (int d = 0; d < gnd; d++)
            mc_nb_args(env->sizes[SZ_GRID0 + d], &w[d], &dil[d], &st[d], &cz[d]);
        r->mask = rb_neighborhood(a, gnd, w, dil, st, cz);
        break;
    case MC_RADIAL:
        r->mask = rb_radial(a, mc_rand(1, 32), mc_rand(1, 16));
        break;
    case MC_STRIDED_HEADS:
        r->mask = rb_strided_heads(a, mc_rand(1, 4), mc_rand(1, 40));
        break;
    case MC_DOC_CAUSAL:
    case MC_DOCUMENT: {
        int64_t seg = 0, left = 0;
        for (int64_t t = 0; t < n; t++) {
            if (left == 0) {
                seg++;
                left = mc_rand(1, 60);
            }
            p->ids[t] = seg;
            left--;
        }
        expr *doc = rb_document(a, r);
        r->mask = c == MC_DOCUMENT ? doc : ex_binary(a, BIN_AND, doc, rb_causal(a));
        break;
    }
    case MC_UNION_SEQ:
    case MC_UNION_GRID2:
        r->mask = mc_union(a, gnd, n);
        break;
    case MC_CAUSAL_UNION:
        r->mask = RB_B(AND, rb_causal(a), mc_union(a, 0, n));
        break;
    default: { /* MC_BLOCKS */
        p->bq = mc_rand(1, 32);
        p->bk = mc_rand(1, 32);
        for (int i = 0; i < 64; i++)
            for (int j = 0; j < 64; j++)
                p->table[i][j] = rand() % 3 == 0;
        recipe_param *pr = ARENA_NEW(a, recipe_param);
        pr->name = "table";
        pr->dtype = DT_U8;
        pr->ndim = 2;
        r->params = pr;
        r->nparams = 1;
        expr *idx[2] = {RB_B(DIV, rb_t(a, SIDE_Q), RB_I(p->bq)), RB_B(DIV, rb_t(a, SIDE_K), RB_I(p->bk))};
        r->mask = RB_B(NE, ex_param(a, 0, TY_INT, 2, idx), RB_I(0));
        break;
    }
    }
    env->param = mc_param_reader;
    env->param_user = p;
    r->sched = *s;
    return r;
}

#endif
