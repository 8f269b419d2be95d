/* recipe_builders.h — hand-built typed recipes for the IR and pass tests,
 * with masks expanded exactly as frontend/forms.h defines the named forms
 * (the front end does this for real recipes). Header-only: each test is
 * its own executable. */
#ifndef ATTNC_TESTS_RECIPE_BUILDERS_H
#define ATTNC_TESTS_RECIPE_BUILDERS_H

#include <math.h>
#include <string.h>

#include "frontend/recipe.h"
#include "ir/expr.h"

#define RB_B(op, l, r) ex_binary(a, BIN_##op, (l), (r))
#define RB_I(v) ex_int(a, (v))

static inline recipe *rb_recipe(arena *a, const char *name, int grid_ndim)
{
    recipe *r = ARENA_NEW(a, recipe);
    r->name = name;
    r->family = FAMILY_SOFTMAX;
    r->qkv_dtype = DT_BF16;
    r->head_dim = r->head_dim_v = 64;
    r->grid_ndim = grid_ndim;
    static const char *names[] = {"z", "y", "x"};
    for (int d = 0; d < grid_ndim; d++)
        r->grid_names[d] = names[3 - grid_ndim + d];
    r->scale = 0.125;
    r->score = RB_B(MUL, ex_leaf(a, EX_SCORE), ex_float(a, 0.125));
    r->sched.is_auto = true;
    r->sched.ndims = grid_ndim ? grid_ndim : 1;
    return r;
}

static inline expr *rb_t(arena *a, coord_side s)
{
    return ex_coord(a, s, -1);
}

static inline expr *rb_causal(arena *a)
{
    return RB_B(LE, rb_t(a, SIDE_K), rb_t(a, SIDE_Q));
}

static inline expr *rb_sliding(arena *a, int64_t left, int64_t right)
{
    return RB_B(AND, RB_B(LE, RB_B(SUB, rb_t(a, SIDE_Q), RB_I(left)), rb_t(a, SIDE_K)),
                RB_B(LE, rb_t(a, SIDE_K), RB_B(ADD, rb_t(a, SIDE_Q), RB_I(right))));
}

/* One dim of FORM_NEIGHBORHOOD (forms.h). dim -1: the sequence (t). */
static inline expr *rb_nb_dim(arena *a, int dim, size_id extent, int64_t w, int64_t dil, int64_t stride, bool causal)
{
    expr *i = ex_coord(a, SIDE_Q, dim), *j = ex_coord(a, SIDE_K, dim), *L = ex_size(a, extent);
    expr *g = RB_B(MOD, i, RB_I(dil));
    expr *same = RB_B(EQ, RB_B(MOD, j, RB_I(dil)), g);
    expr *ip = RB_B(DIV, i, RB_I(dil)), *jp = RB_B(DIV, j, RB_I(dil));
    if (causal) {
        expr *lo = RB_B(MAX, RB_B(SUB, ip, RB_I(w - 1)), RB_I(0));
        return RB_B(AND, same, RB_B(AND, RB_B(LE, lo, jp), RB_B(LE, jp, ip)));
    }
    expr *Lg = RB_B(DIV, RB_B(ADD, RB_B(SUB, L, g), RB_I(dil - 1)), RB_I(dil));
    expr *c = RB_B(MIN, RB_B(ADD, RB_B(MUL, RB_B(DIV, ip, RB_I(stride)), RB_I(stride)), RB_I(stride / 2)),
                   RB_B(SUB, Lg, RB_I(1)));
    expr *start = RB_B(MAX, RB_B(MIN, RB_B(SUB, c, RB_I(w / 2)), RB_B(SUB, Lg, RB_I(w))), RB_I(0));
    return RB_B(AND, same, RB_B(AND, RB_B(LE, start, jp), RB_B(LT, jp, RB_B(ADD, start, RB_I(w)))));
}

/* nd-dim neighborhood over a grid (nd = grid dims) or a sequence (nd = 0). */
static inline expr *rb_neighborhood(arena *a, int nd, const int64_t *w, const int64_t *dil, const int64_t *stride,
                                    const bool *causal)
{
    if (nd == 0)
        return rb_nb_dim(a, -1, SZ_TOKENS, w[0], dil[0], stride[0], causal[0]);
    expr *m = NULL;
    for (int d = 0; d < nd; d++) {
        expr *x = rb_nb_dim(a, d, SZ_GRID0 + d, w[d], dil[d], stride[d], causal[d]);
        m = m ? RB_B(AND, m, x) : x;
    }
    return m;
}

static inline expr *rb_radial(arena *a, int64_t F, int64_t W)
{
    expr *qt = rb_t(a, SIDE_Q), *kt = rb_t(a, SIDE_K);
    expr *d = ex_unary(a, UN_ABS, RB_B(SUB, RB_B(DIV, qt, RB_I(F)), RB_B(DIV, kt, RB_I(F))));
    expr *band = ex_unary(a, UN_POW2I, ex_unary(a, UN_LOG2I, RB_B(MAX, d, RB_I(1))));
    expr *ds = ex_unary(a, UN_ABS, RB_B(SUB, RB_B(MOD, qt, RB_I(F)), RB_B(MOD, kt, RB_I(F))));
    return RB_B(LT, RB_B(MUL, ds, band), RB_I(W));
}

static inline expr *rb_strided_heads(arena *a, int64_t S, int64_t Lw)
{
    expr *qt = rb_t(a, SIDE_Q), *kt = rb_t(a, SIDE_K);
    return RB_B(AND, RB_B(LE, kt, qt),
                RB_B(OR, RB_B(LT, RB_B(SUB, qt, kt), RB_I(Lw)),
                     RB_B(EQ, RB_B(MOD, kt, RB_I(S)), RB_B(MOD, ex_leaf(a, EX_HEAD), RB_I(S)))));
}

static inline expr *rb_sinks(arena *a, int64_t n)
{
    return RB_B(LT, rb_t(a, SIDE_K), RB_I(n));
}

/* document(ids): ids is param 0, i32 [tokens]. */
static inline expr *rb_document(arena *a, recipe *r)
{
    recipe_param *p = ARENA_NEW(a, recipe_param);
    p->name = "ids";
    p->dtype = DT_I32;
    p->ndim = 1;
    p->dims[0] = SZ_TOKENS;
    r->params = p;
    r->nparams = 1;
    expr *qi[1] = {rb_t(a, SIDE_Q)}, *ki[1] = {rb_t(a, SIDE_K)};
    return RB_B(EQ, ex_param(a, 0, TY_INT, 1, qi), ex_param(a, 0, TY_INT, 1, ki));
}

static inline recipe *rb_linear(arena *a, const char *name, bool causal, decay_kind decay, bool normalize)
{
    recipe *r = rb_recipe(a, name, 0);
    r->family = FAMILY_LINEAR;
    r->linear.causal = causal;
    r->linear.feature = FEATURE_ELU1;
    r->linear.decay = decay;
    r->linear.decay_param = -1;
    r->linear.normalize = normalize;
    r->linear.block = 64;
    r->linear.intra_quadratic = true;
    if (decay != DECAY_NONE) {
        recipe_param *p = ARENA_NEW(a, recipe_param);
        p->name = "decay";
        p->dtype = DT_F32;
        p->ndim = 1;
        p->dims[0] = SZ_HEADS;
        r->params = p;
        r->nparams = 1;
        r->linear.decay_param = 0;
    }
    return r;
}

#endif
