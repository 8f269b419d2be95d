/*
 * expand_forms.c — replaces every EX_FORM node of a mask by the plain
 * expression its definition in forms.h states, term for term.
 *
 * Constants are folded while building (x * 1 -> x, 7 div 2 -> 3, ...) so the
 * common cases stay small, but nothing is simplified on assumptions about
 * coordinate ranges: the expansion equals the definition for every input.
 * Grid extents the recipe fixes appear as constants; the others as sizes.
 */
#include "sema.h"

typedef struct ex_ctx {
    arena *a;
    const recipe *r;
} ex_ctx;

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

static bool is_int(const expr *e, int64_t v)
{
    return e && e->kind == EX_CONST_INT && e->u.ival == v;
}

static bool both_const(const expr *l, const expr *r)
{
    return l && r && l->kind == EX_CONST_INT && r->kind == EX_CONST_INT;
}

/* Integer arithmetic with folding of constants and identities. */
static expr *op(ex_ctx *c, expr_binop o, expr *l, expr *r)
{
    if (both_const(l, r)) {
        int64_t a = l->u.ival, b = r->u.ival, v;
        switch (o) {
        case BIN_ADD: if (!__builtin_add_overflow(a, b, &v)) return ex_int(c->a, v); break;
        case BIN_SUB: if (!__builtin_sub_overflow(a, b, &v)) return ex_int(c->a, v); break;
        case BIN_MUL: if (!__builtin_mul_overflow(a, b, &v)) return ex_int(c->a, v); break;
        case BIN_DIV: if (b != 0 && !(a == INT64_MIN && b == -1)) return ex_int(c->a, floor_div(a, b)); break;
        case BIN_MOD: if (b != 0 && !(a == INT64_MIN && b == -1)) return ex_int(c->a, floor_mod(a, b)); break;
        case BIN_MIN: return ex_int(c->a, a < b ? a : b);
        case BIN_MAX: return ex_int(c->a, a > b ? a : b);
        default: break;
        }
    }
    if ((o == BIN_ADD || o == BIN_SUB) && is_int(r, 0))
        return l;
    if (o == BIN_ADD && is_int(l, 0))
        return r;
    if ((o == BIN_MUL || o == BIN_DIV) && is_int(r, 1))
        return l;
    if (o == BIN_MUL && is_int(l, 1))
        return r;
    if (o == BIN_MOD && is_int(r, 1))
        return ex_int(c->a, 0);
    return ex_binary(c->a, o, l, r);
}

static expr *and2(ex_ctx *c, expr *l, expr *r)
{
    if (!l)
        return r;
    return ex_binary(c->a, BIN_AND, l, r);
}

static expr *coord(ex_ctx *c, coord_side side, int dim)
{
    return ex_coord(c->a, side, dim);
}

static expr *size(ex_ctx *c, size_id id)
{
    int64_t f = c->r->sizes[id].fixed;
    return f > 0 ? ex_int(c->a, f) : ex_size(c->a, id);
}

static int64_t arg(const expr *f, int i)
{
    return f->args[i]->u.ival;
}

/* One dimension of FORM_NEIGHBORHOOD, exactly as forms.h states it. */
static expr *neighborhood_dim(ex_ctx *c, expr *i, expr *j, expr *L, int64_t w, int64_t dl, int64_t st, bool causal)
{
    expr *W = ex_int(c->a, w), *D = ex_int(c->a, dl), *S = ex_int(c->a, st);
    expr *g = op(c, BIN_MOD, i, D);
    /* Lg = (L - g + δ - 1) div δ */
    expr *Lg = op(c, BIN_DIV, op(c, BIN_ADD, op(c, BIN_SUB, L, g), ex_int(c->a, dl - 1)), D);
    expr *i1 = op(c, BIN_DIV, i, D), *j1 = op(c, BIN_DIV, j, D);
    expr *keep = dl == 1 ? NULL : ex_binary(c->a, BIN_EQ, op(c, BIN_MOD, j, D), g);
    if (causal) {
        expr *lo = op(c, BIN_MAX, op(c, BIN_ADD, op(c, BIN_SUB, i1, W), ex_int(c->a, 1)), ex_int(c->a, 0));
        keep = and2(c, keep, ex_binary(c->a, BIN_LE, lo, j1));
        return and2(c, keep, ex_binary(c->a, BIN_LE, j1, i1));
    }
    /* c = min((i' div σ) * σ + σ div 2, Lg - 1) */
    expr *leader = op(c, BIN_ADD, op(c, BIN_MUL, op(c, BIN_DIV, i1, S), S), ex_int(c->a, st / 2));
    expr *ctr = op(c, BIN_MIN, leader, op(c, BIN_SUB, Lg, ex_int(c->a, 1)));
    /* start = clamp(c - w div 2, 0, Lg - w): the upper bound first, so Lg < w gives 0 */
    expr *start = op(c, BIN_MAX, op(c, BIN_MIN, op(c, BIN_SUB, ctr, ex_int(c->a, w / 2)), op(c, BIN_SUB, Lg, W)),
                     ex_int(c->a, 0));
    keep = and2(c, keep, ex_binary(c->a, BIN_LE, start, j1));
    return and2(c, keep, ex_binary(c->a, BIN_LT, j1, op(c, BIN_ADD, start, W)));
}

static expr *expand_neighborhood(ex_ctx *c, const expr *f)
{
    int nd = f->nargs / 4;
    expr *keep = NULL;
    for (int d = 0; d < nd; d++) {
        bool grid = c->r->grid_ndim > 0;
        expr *i = coord(c, SIDE_Q, grid ? d : -1), *j = coord(c, SIDE_K, grid ? d : -1);
        expr *L = size(c, grid ? (size_id)(SZ_GRID0 + d) : SZ_TOKENS);
        keep = and2(c, keep, neighborhood_dim(c, i, j, L, arg(f, d), arg(f, nd + d), arg(f, 2 * nd + d),
                                              arg(f, 3 * nd + d) != 0));
    }
    return keep;
}

/* FORM_RADIAL: |si - sj| * 2^ilog2(max(|fi - fj|, 1)) < W */
static expr *expand_radial(ex_ctx *c, const expr *f)
{
    expr *F = ex_int(c->a, arg(f, 0)), *qt = coord(c, SIDE_Q, -1), *kt = coord(c, SIDE_K, -1);
    expr *d = ex_unary(c->a, UN_ABS, op(c, BIN_SUB, op(c, BIN_DIV, qt, F), op(c, BIN_DIV, kt, F)));
    expr *band = ex_unary(c->a, UN_POW2I, ex_unary(c->a, UN_LOG2I, op(c, BIN_MAX, d, ex_int(c->a, 1))));
    expr *ds = ex_unary(c->a, UN_ABS, op(c, BIN_SUB, op(c, BIN_MOD, qt, F), op(c, BIN_MOD, kt, F)));
    return ex_binary(c->a, BIN_LT, op(c, BIN_MUL, ds, band), ex_int(c->a, arg(f, 1)));
}

/* 2^bl(x) for x >= 0 (bl the bit length; 1 for x = 0). */
static expr *pow2_bitlen(ex_ctx *c, expr *x)
{
    expr *p = op(c, BIN_MUL, ex_unary(c->a, UN_POW2I, ex_unary(c->a, UN_LOG2I, x)), ex_int(c->a, 2));
    return ex_select(c->a, ex_binary(c->a, BIN_GE, x, ex_int(c->a, 1)), p, ex_int(c->a, 1));
}

/* FORM_RADIAL_VIDEO (forms.h): (sink && fj == 0) || (split && band). */
static expr *expand_radial_video(ex_ctx *c, const expr *f)
{
    int64_t F = arg(f, 0), B = arg(f, 1), k = arg(f, 2), m = arg(f, 3), P = 1;
    while (P <= F)
        P *= 2; /* 2^bl(F) */
    expr *qt = coord(c, SIDE_Q, -1), *kt = coord(c, SIDE_K, -1), *Fe = ex_int(c->a, F);
    expr *fj = op(c, BIN_DIV, kt, Fe);
    expr *d = ex_unary(c->a, UN_ABS, op(c, BIN_SUB, op(c, BIN_DIV, qt, Fe), fj));
    expr *G = pow2_bitlen(c, d), *BG = op(c, BIN_MUL, ex_int(c->a, B), G);
    expr *split = ex_binary(c->a, BIN_OR, ex_binary(c->a, BIN_GE, ex_int(c->a, P), BG),
                            ex_binary(c->a, BIN_EQ, op(c, BIN_MOD, d, op(c, BIN_DIV, BG, ex_int(c->a, P))), ex_int(c->a, 0)));
    expr *width = op(c, BIN_DIV, ex_int(c->a, P * k), op(c, BIN_MUL, G, ex_int(c->a, (int64_t)1 << m)));
    expr *ds = ex_unary(c->a, UN_ABS, op(c, BIN_SUB, op(c, BIN_MOD, qt, Fe), op(c, BIN_MOD, kt, Fe)));
    expr *band = ex_binary(c->a, BIN_OR, ex_binary(c->a, BIN_LE, d, ex_int(c->a, 1)),
                           ex_binary(c->a, BIN_LE, ds, op(c, BIN_MAX, width, ex_int(c->a, B))));
    expr *keep = ex_binary(c->a, BIN_AND, split, band);
    if (arg(f, 4))
        keep = ex_binary(c->a, BIN_OR, ex_binary(c->a, BIN_EQ, fj, ex_int(c->a, 0)), keep);
    return keep;
}

/* The leading indices of a runtime table: [], [batch], [heads], [batch, heads]. */
static int lead_indices(ex_ctx *c, const recipe_param *p, int nlead, expr **idx)
{
    for (int i = 0; i < nlead; i++) {
        bool is_batch = !p->const_dims[i] && p->dims[i] == SZ_BATCH;
        idx[i] = ex_leaf(c->a, is_batch ? EX_BATCH : EX_HEAD);
    }
    return nlead;
}

static expr *expand_document(ex_ctx *c, const expr *f)
{
    int p = (int)arg(f, 0);
    const recipe_param *pr = &c->r->params[p];
    expr *qi[2], *ki[2];
    int n = lead_indices(c, pr, pr->ndim - 1, qi);
    lead_indices(c, pr, pr->ndim - 1, ki);
    qi[n] = coord(c, SIDE_Q, -1);
    ki[n] = coord(c, SIDE_K, -1);
    expr_type ty = pr->dtype <= DT_F32 ? TY_FLOAT : TY_INT;
    return ex_binary(c->a, BIN_EQ, ex_param(c->a, p, ty, n + 1, qi), ex_param(c->a, p, ty, n + 1, ki));
}

static expr *expand_blocks(ex_ctx *c, const expr *f)
{
    int p = (int)arg(f, 0);
    const recipe_param *pr = &c->r->params[p];
    expr *idx[4];
    int n = lead_indices(c, pr, pr->ndim - 2, idx);
    idx[n] = op(c, BIN_DIV, coord(c, SIDE_Q, -1), ex_int(c->a, arg(f, 1)));
    idx[n + 1] = op(c, BIN_DIV, coord(c, SIDE_K, -1), ex_int(c->a, arg(f, 2)));
    expr_type ty = pr->dtype <= DT_F32 ? TY_FLOAT : TY_INT;
    return ex_binary(c->a, BIN_NE, ex_param(c->a, p, ty, n + 2, idx), ex_int(c->a, 0));
}

static expr *expand_one(ex_ctx *c, const expr *f)
{
    expr *qt = coord(c, SIDE_Q, -1), *kt = coord(c, SIDE_K, -1);
    switch (f->u.form) {
    case FORM_CAUSAL:
        return ex_binary(c->a, BIN_LE, kt, qt);
    case FORM_SLIDING_WINDOW:
        return ex_binary(c->a, BIN_AND, ex_binary(c->a, BIN_LE, op(c, BIN_SUB, qt, f->args[0]), kt),
                         ex_binary(c->a, BIN_LE, kt, op(c, BIN_ADD, qt, f->args[1])));
    case FORM_NEIGHBORHOOD:
        return expand_neighborhood(c, f);
    case FORM_RADIAL:
        return expand_radial(c, f);
    case FORM_RADIAL_VIDEO:
        return expand_radial_video(c, f);
    case FORM_STRIDED_HEADS: {
        expr *S = f->args[0];
        expr *local = ex_binary(c->a, BIN_LT, op(c, BIN_SUB, qt, kt), f->args[1]);
        expr *shard = ex_binary(c->a, BIN_EQ, op(c, BIN_MOD, kt, S), op(c, BIN_MOD, ex_leaf(c->a, EX_HEAD), S));
        return ex_binary(c->a, BIN_AND, ex_binary(c->a, BIN_LE, kt, qt), ex_binary(c->a, BIN_OR, local, shard));
    }
    case FORM_SINKS:
        return ex_binary(c->a, BIN_LT, kt, f->args[0]);
    case FORM_DOCUMENT:
        return expand_document(c, f);
    case FORM_BLOCKS:
        return expand_blocks(c, f);
    default:
        return ex_bool(c->a, true);
    }
}

static expr *expand(ex_ctx *c, const expr *e)
{
    if (!e)
        return NULL;
    if (e->kind == EX_FORM)
        return expand_one(c, e);
    if (e->nargs == 0)
        return (expr *)e;
    expr *copy = ARENA_NEW(c->a, expr);
    expr **args = ARENA_ARRAY(c->a, expr *, e->nargs);
    if (!copy || !args)
        return NULL;
    *copy = *e;
    copy->args = args;
    for (int i = 0; i < e->nargs; i++)
        if (!(args[i] = expand(c, e->args[i])))
            return NULL;
    return copy;
}

expr *fe_expand_forms(arena *a, const recipe *r, const expr *surface)
{
    ex_ctx c = {a, r};
    return expand(&c, surface);
}
