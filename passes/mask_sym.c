/* mask_sym.c — symbolic interval evaluation of mask expressions over a
 * query box and a key box; see mask_sym.h for the contract. Every rule
 * returns bounds that contain every value the expression takes for points in
 * the boxes (NULL where no finite bound is known). */
#include "mask_sym.h"

#define B(op, l, r) s_bin(c->a, BIN_##op, (l), (r))

expr *sym_corner(arena *a, coord_side side, bool hi, int dim)
{
    return ex_coord(a, side, (hi ? TIR_BOX_HI : TIR_BOX_LO) + dim);
}

expr *sym_flat_corner(const sym_ctx *c, coord_side side, bool hi)
{
    expr *t = sym_corner(c->a, side, hi, 0);
    for (int d = 1; d < c->grid_ndim; d++)
        t = B(ADD, B(MUL, t, ex_size(c->a, SZ_GRID0 + d)), sym_corner(c->a, side, hi, d));
    return t;
}

static sym_ival point(expr *e)
{
    return (sym_ival){e, e};
}

static sym_ival coord_ival(const sym_ctx *c, const expr *e)
{
    coord_side side = e->u.coord.side;
    int d = e->u.coord.dim;
    if (d >= TIR_BOX_LO) /* already a corner: a point */
        return point((expr *)e);
    if (d < 0 || c->grid_ndim == 0) /* t, or dim 0 of a sequence */
        return (sym_ival){sym_flat_corner(c, side, false), sym_flat_corner(c, side, true)};
    return (sym_ival){sym_corner(c->a, side, false, d), sym_corner(c->a, side, true, d)};
}

/* e is > 0 for every value of its variables: constants > 0, sizes, sums,
 * products and selects of such, and 2^ilog2(x) (ilog2 is >= 0, so the
 * power is >= 1: radial's 2^bl(d), whose band width divides by it). */
static bool known_positive(const expr *e)
{
    if (e->kind == EX_CONST_INT)
        return e->u.ival > 0;
    if (e->kind == EX_SIZE)
        return true;
    if (e->kind == EX_BINARY && (e->u.binop == BIN_ADD || e->u.binop == BIN_MUL || e->u.binop == BIN_MAX))
        return known_positive(e->args[0]) && known_positive(e->args[1]);
    if (e->kind == EX_SELECT)
        return known_positive(e->args[1]) && known_positive(e->args[2]);
    if (e->kind == EX_UNARY && e->u.unop == UN_POW2I)
        return e->args[0]->kind == EX_UNARY && e->args[0]->u.unop == UN_LOG2I;
    return false;
}

static sym_ival mul_ival(const sym_ctx *c, sym_ival x, sym_ival y, const expr *ye)
{
    if (ye->kind == EX_CONST_INT) {
        int64_t k = ye->u.ival;
        if (k >= 0)
            return (sym_ival){x.lo ? B(MUL, x.lo, y.lo) : NULL, x.hi ? B(MUL, x.hi, y.hi) : NULL};
        return (sym_ival){x.hi ? B(MUL, x.hi, y.lo) : NULL, x.lo ? B(MUL, x.lo, y.lo) : NULL};
    }
    if (!x.lo || !x.hi || !y.lo || !y.hi)
        return (sym_ival){NULL, NULL};
    expr *p[4] = {B(MUL, x.lo, y.lo), B(MUL, x.lo, y.hi), B(MUL, x.hi, y.lo), B(MUL, x.hi, y.hi)};
    return (sym_ival){B(MIN, B(MIN, p[0], p[1]), B(MIN, p[2], p[3])),
                      B(MAX, B(MAX, p[0], p[1]), B(MAX, p[2], p[3]))};
}

/* Floor division by a divisor known to be >= 1: monotone in the numerator;
 * for a fixed numerator >= 0 it falls as the divisor grows, for < 0 it rises. */
static sym_ival div_ival(const sym_ctx *c, sym_ival x, sym_ival y, const expr *ye)
{
    if (!known_positive(ye) || !y.lo)
        return (sym_ival){NULL, NULL};
    if (ye->kind == EX_CONST_INT || expr_equal(y.lo, y.hi))
        return (sym_ival){x.lo ? B(DIV, x.lo, y.lo) : NULL, x.hi ? B(DIV, x.hi, y.lo) : NULL};
    if (!y.hi)
        return (sym_ival){NULL, NULL};
    expr *zero = s_int(c->a, 0);
    expr *lo = x.lo ? s_select(c->a, B(GE, x.lo, zero), B(DIV, x.lo, y.hi), B(DIV, x.lo, y.lo)) : NULL;
    expr *hi = x.hi ? s_select(c->a, B(GE, x.hi, zero), B(DIV, x.hi, y.lo), B(DIV, x.hi, y.hi)) : NULL;
    return (sym_ival){lo, hi};
}

/* Floor modulo by a positive divisor lies in [0, d-1]; when the whole
 * numerator range falls in one period it is [lo mod d, hi mod d]. */
static sym_ival mod_ival(const sym_ctx *c, sym_ival x, sym_ival y, const expr *ye)
{
    if (!known_positive(ye) || !y.hi)
        return (sym_ival){NULL, NULL};
    expr *zero = s_int(c->a, 0), *top = B(SUB, y.hi, s_int(c->a, 1));
    if (ye->kind != EX_CONST_INT || !x.lo || !x.hi)
        return (sym_ival){zero, top};
    expr *same = B(EQ, B(DIV, x.lo, y.lo), B(DIV, x.hi, y.lo));
    return (sym_ival){s_select(c->a, same, B(MOD, x.lo, y.lo), zero), s_select(c->a, same, B(MOD, x.hi, y.lo), top)};
}

/* `coord mod c` on a box strided by a multiple of c (dilation-group
 * tiling): every token of the box has the lo corner's residue. */
static bool strided_mod(const sym_ctx *c, const expr *e, sym_ival *out)
{
    const expr *x = e->args[0], *m = e->args[1];
    if (!c->dil || x->kind != EX_COORD || m->kind != EX_CONST_INT || m->u.ival <= 0)
        return false;
    int dim = x->u.coord.dim;
    if (c->grid_ndim == 0 ? dim > 0 : (dim < 0 || dim >= c->grid_ndim))
        return false; /* the flat t of a grid is not strided */
    int d = dim < 0 ? 0 : dim;
    if (c->dil[d] <= 1 || c->dil[d] % m->u.ival != 0)
        return false;
    expr *r = B(MOD, sym_corner(c->a, x->u.coord.side, false, d), s_int(c->a, m->u.ival));
    *out = (sym_ival){r, r};
    return true;
}

static sym_ival minmax_ival(const sym_ctx *c, bool is_min, sym_ival x, sym_ival y)
{
    expr_binop op = is_min ? BIN_MIN : BIN_MAX;
    expr *lo, *hi;
    if (is_min) {
        lo = x.lo && y.lo ? s_bin(c->a, op, x.lo, y.lo) : NULL;
        hi = x.hi && y.hi ? s_bin(c->a, op, x.hi, y.hi) : x.hi ? x.hi : y.hi;
    } else {
        lo = x.lo && y.lo ? s_bin(c->a, op, x.lo, y.lo) : x.lo ? x.lo : y.lo;
        hi = x.hi && y.hi ? s_bin(c->a, op, x.hi, y.hi) : NULL;
    }
    return (sym_ival){lo, hi};
}

static sym_ival binary_ival(const sym_ctx *c, const expr *e)
{
    sym_ival x = sym_int(c, e->args[0]), y = sym_int(c, e->args[1]);
    switch (e->u.binop) {
    case BIN_ADD:
        return (sym_ival){B(ADD, x.lo, y.lo), B(ADD, x.hi, y.hi)};
    case BIN_SUB:
        return (sym_ival){B(SUB, x.lo, y.hi), B(SUB, x.hi, y.lo)};
    case BIN_MUL:
        if (e->args[0]->kind == EX_CONST_INT)
            return mul_ival(c, y, x, e->args[0]);
        return mul_ival(c, x, y, e->args[1]);
    case BIN_DIV:
        if (e->type == TY_FLOAT)
            return (sym_ival){NULL, NULL};
        return div_ival(c, x, y, e->args[1]);
    case BIN_MOD:
        if (e->type == TY_FLOAT)
            return (sym_ival){NULL, NULL};
        if (strided_mod(c, e, &x))
            return x;
        return mod_ival(c, x, y, e->args[1]);
    case BIN_MIN:
    case BIN_MAX:
        return minmax_ival(c, e->u.binop == BIN_MIN, x, y);
    default:
        return (sym_ival){NULL, NULL};
    }
}

static sym_ival unary_ival(const sym_ctx *c, const expr *e)
{
    sym_ival x = sym_int(c, e->args[0]);
    arena *a = c->a;
    switch (e->u.unop) {
    case UN_NEG:
        return (sym_ival){x.hi ? s_bin(a, BIN_SUB, s_int(a, 0), x.hi) : NULL,
                          x.lo ? s_bin(a, BIN_SUB, s_int(a, 0), x.lo) : NULL};
    case UN_ABS: {
        if (e->type == TY_FLOAT)
            return (sym_ival){NULL, NULL};
        expr *zero = s_int(a, 0);
        expr *nhi = x.hi ? B(SUB, zero, x.hi) : NULL, *nlo = x.lo ? B(SUB, zero, x.lo) : NULL;
        expr *lo = x.lo && x.hi ? B(MAX, B(MAX, x.lo, nhi), zero) : zero;
        return (sym_ival){lo, x.lo && x.hi ? B(MAX, nlo, x.hi) : NULL};
    }
    case UN_LOG2I: /* monotone; below 1 it is 0 */
        return (sym_ival){x.lo ? ex_unary(a, UN_LOG2I, x.lo) : s_int(a, 0), x.hi ? ex_unary(a, UN_LOG2I, x.hi) : NULL};
    case UN_POW2I:
        return (sym_ival){x.lo ? ex_unary(a, UN_POW2I, x.lo) : s_int(a, 0), x.hi ? ex_unary(a, UN_POW2I, x.hi) : NULL};
    case UN_TO_FLOAT:
    case UN_FLOOR:
        return (sym_ival){x.lo ? ex_unary(a, e->u.unop, x.lo) : NULL, x.hi ? ex_unary(a, e->u.unop, x.hi) : NULL};
    default:
        return (sym_ival){NULL, NULL};
    }
}

static sym_ival select_ival(const sym_ctx *c, const expr *e)
{
    sym_bool cond = sym_cond(c, e->args[0]);
    sym_ival t = sym_int(c, e->args[1]), f = sym_int(c, e->args[2]);
    if (s_is_bool(cond.must_true, true))
        return t;
    if (s_is_bool(cond.must_false, true))
        return f;
    expr *lo = t.lo && f.lo ? s_select(c->a, cond.must_true, t.lo, s_select(c->a, cond.must_false, f.lo, B(MIN, t.lo, f.lo))) : NULL;
    expr *hi = t.hi && f.hi ? s_select(c->a, cond.must_true, t.hi, s_select(c->a, cond.must_false, f.hi, B(MAX, t.hi, f.hi))) : NULL;
    return (sym_ival){lo, hi};
}

sym_ival sym_int(const sym_ctx *c, const expr *e)
{
    if (!e)
        return (sym_ival){NULL, NULL};
    switch (e->kind) {
    case EX_CONST_INT:
    case EX_CONST_FLOAT:
    case EX_SIZE:
    case EX_HEAD:
    case EX_KV_HEAD:
    case EX_BATCH:
        return point((expr *)e);
    case EX_COORD:
        return coord_ival(c, e);
    case EX_BINARY:
        return binary_ival(c, e);
    case EX_UNARY:
        return unary_ival(c, e);
    case EX_SELECT:
        return select_ival(c, e);
    default: /* params, the score: unknown */
        return (sym_ival){NULL, NULL};
    }
}

/* ---- bool ---- */

static expr *F(const sym_ctx *c)
{
    return ex_bool(c->a, false);
}

/* a < b (strict) or a <= b for every point: bounds hi(a) vs lo(b). */
static expr *always_less(const sym_ctx *c, sym_ival x, sym_ival y, bool strict)
{
    if (!x.hi || !y.lo)
        return F(c);
    return s_bin(c->a, strict ? BIN_LT : BIN_LE, x.hi, y.lo);
}

static sym_bool compare_cond(const sym_ctx *c, expr_binop op, sym_ival x, sym_ival y)
{
    switch (op) {
    case BIN_LT:
        return (sym_bool){always_less(c, x, y, true), always_less(c, y, x, false)};
    case BIN_LE:
        return (sym_bool){always_less(c, x, y, false), always_less(c, y, x, true)};
    case BIN_GT:
        return compare_cond(c, BIN_LT, y, x);
    case BIN_GE:
        return compare_cond(c, BIN_LE, y, x);
    case BIN_EQ: {
        expr *mt = x.lo && x.hi && y.lo && y.hi
                       ? B(AND, B(AND, B(EQ, x.lo, x.hi), B(EQ, y.lo, y.hi)), B(EQ, x.lo, y.lo))
                       : F(c);
        return (sym_bool){mt, B(OR, always_less(c, x, y, true), always_less(c, y, x, true))};
    }
    default: { /* NE */
        sym_bool eq = compare_cond(c, BIN_EQ, x, y);
        return (sym_bool){eq.must_false, eq.must_true};
    }
    }
}

static sym_bool bool_eq(const sym_ctx *c, sym_bool x, sym_bool y)
{
    expr *mt = B(OR, B(AND, x.must_true, y.must_true), B(AND, x.must_false, y.must_false));
    expr *mf = B(OR, B(AND, x.must_true, y.must_false), B(AND, x.must_false, y.must_true));
    return (sym_bool){mt, mf};
}

static sym_bool binary_cond(const sym_ctx *c, const expr *e)
{
    expr_binop op = e->u.binop;
    if (op == BIN_AND || op == BIN_OR || ((op == BIN_EQ || op == BIN_NE) && e->args[0]->type == TY_BOOL)) {
        sym_bool x = sym_cond(c, e->args[0]), y = sym_cond(c, e->args[1]);
        if (op == BIN_AND)
            return (sym_bool){B(AND, x.must_true, y.must_true), B(OR, x.must_false, y.must_false)};
        if (op == BIN_OR)
            return (sym_bool){B(OR, x.must_true, y.must_true), B(AND, x.must_false, y.must_false)};
        sym_bool eq = bool_eq(c, x, y);
        return op == BIN_EQ ? eq : (sym_bool){eq.must_false, eq.must_true};
    }
    if (op < BIN_LT)
        return (sym_bool){F(c), F(c)};
    return compare_cond(c, op, sym_int(c, e->args[0]), sym_int(c, e->args[1]));
}

static sym_bool select_cond(const sym_ctx *c, const expr *e)
{
    sym_bool k = sym_cond(c, e->args[0]), t = sym_cond(c, e->args[1]), f = sym_cond(c, e->args[2]);
    expr *mt = B(OR, B(OR, B(AND, k.must_true, t.must_true), B(AND, k.must_false, f.must_true)),
                 B(AND, t.must_true, f.must_true));
    expr *mf = B(OR, B(OR, B(AND, k.must_true, t.must_false), B(AND, k.must_false, f.must_false)),
                 B(AND, t.must_false, f.must_false));
    return (sym_bool){mt, mf};
}

sym_bool sym_cond(const sym_ctx *c, const expr *e)
{
    if (!e)
        return (sym_bool){F(c), F(c)};
    switch (e->kind) {
    case EX_CONST_BOOL:
        return (sym_bool){ex_bool(c->a, e->u.ival != 0), ex_bool(c->a, e->u.ival == 0)};
    case EX_UNARY:
        if (e->u.unop == UN_NOT) {
            sym_bool x = sym_cond(c, e->args[0]);
            return (sym_bool){x.must_false, x.must_true};
        }
        return (sym_bool){F(c), F(c)};
    case EX_BINARY:
        return binary_cond(c, e);
    case EX_SELECT:
        return select_cond(c, e);
    default: /* bool params and anything unknown */
        return (sym_bool){F(c), F(c)};
    }
}
