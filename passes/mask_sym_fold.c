/* mask_sym_fold.c — folding expression constructors for the analyses: fold
 * constant operands, drop x+0, x*1, x div 1, true&&x ... so the range and
 * class expressions printed in the IR stay short. See mask_sym.h.
 *
 * A fold happens only when its result is exact: constants that would
 * overflow 64 bits are left as the operation they are (support/checked.h),
 * so folding never changes a value, wrapped or not. */
#include "../ir/expr_eval.h"
#include "../support/checked.h"
#include "mask_sym.h"

bool s_is_int(const expr *e, int64_t v)
{
    return e && e->kind == EX_CONST_INT && e->u.ival == v;
}

bool s_is_bool(const expr *e, bool v)
{
    return e && e->kind == EX_CONST_BOOL && (e->u.ival != 0) == v;
}

expr *s_int(arena *a, int64_t v)
{
    return ex_int(a, v);
}

static bool is_const(const expr *e)
{
    return e && (e->kind == EX_CONST_INT || e->kind == EX_CONST_BOOL);
}

/* l op r for two constants; NULL when an int result would overflow. */
static expr *fold_const(arena *a, expr_binop op, expr *l, expr *r)
{
    int64_t x = l->u.ival, y = r->u.ival, exact;
    if ((op == BIN_ADD && !ck_add(x, y, &exact)) || (op == BIN_SUB && !ck_sub(x, y, &exact)) ||
        (op == BIN_MUL && !ck_mul(x, y, &exact)) || (op == BIN_DIV && x == INT64_MIN && y == -1))
        return NULL;
    expr tmp = {.kind = EX_BINARY, .u.binop = op};
    expr *args[2] = {l, r};
    tmp.nargs = 2;
    tmp.args = args;
    tmp.type = op >= BIN_LT ? TY_BOOL : TY_INT;
    eval_env env = {0};
    expr_val v;
    if (!expr_eval(&tmp, &env, &v))
        return NULL;
    return tmp.type == TY_BOOL ? ex_bool(a, v.i != 0) : ex_int(a, v.i);
}

static expr *fold_logic(arena *a, expr_binop op, expr *l, expr *r)
{
    bool and_ = op == BIN_AND;
    if (s_is_bool(l, !and_) || s_is_bool(r, !and_))
        return ex_bool(a, !and_); /* false && x, true || x */
    if (s_is_bool(l, and_))
        return r;
    if (s_is_bool(r, and_))
        return l;
    if (expr_equal(l, r))
        return l;
    return ex_binary(a, op, l, r);
}

/* x+0, x-0, x*1, x div 1 -> x; x*0 -> 0; x mod 1 -> 0; min/max(x, x) -> x. */
static expr *fold_identity(arena *a, expr_binop op, expr *l, expr *r)
{
    bool ints = l->type == TY_INT && r->type == TY_INT;
    if (!ints)
        return NULL;
    if ((op == BIN_ADD && s_is_int(l, 0)))
        return r;
    if ((op == BIN_ADD || op == BIN_SUB) && s_is_int(r, 0))
        return l;
    if ((op == BIN_MUL || op == BIN_DIV) && s_is_int(r, 1))
        return l;
    if (op == BIN_MUL && s_is_int(l, 1))
        return r;
    if (op == BIN_MUL && (s_is_int(l, 0) || s_is_int(r, 0)))
        return ex_int(a, 0);
    if (op == BIN_MOD && s_is_int(r, 1))
        return ex_int(a, 0);
    if ((op == BIN_MIN || op == BIN_MAX) && expr_equal(l, r))
        return l;
    if (op == BIN_SUB && expr_equal(l, r))
        return ex_int(a, 0);
    if (op == BIN_SUB && s_is_int(l, 0) && r->kind == EX_BINARY && r->u.binop == BIN_SUB)
        return s_bin(a, BIN_SUB, r->args[1], r->args[0]); /* 0 - (x - y) = y - x */
    if (op == BIN_SUB && r->kind == EX_BINARY && r->u.binop == BIN_SUB && s_is_int(r->args[0], 0))
        return s_bin(a, BIN_ADD, l, r->args[1]); /* x - (0 - y) = x + y */
    if (op == BIN_ADD && r->kind == EX_BINARY && r->u.binop == BIN_SUB && s_is_int(r->args[0], 0))
        return s_bin(a, BIN_SUB, l, r->args[1]); /* x + (0 - y) = x - y */
    return NULL;
}

/* (x + c1) + c2 -> x + (c1 + c2), (x - c1) + c2 ... keeps bounds like
 * (q.hi0 + 3) - 1 short. */
static expr *fold_offset(arena *a, expr_binop op, expr *l, expr *r)
{
    if ((op != BIN_ADD && op != BIN_SUB) || r->kind != EX_CONST_INT || l->kind != EX_BINARY)
        return NULL;
    if ((l->u.binop != BIN_ADD && l->u.binop != BIN_SUB) || l->args[1]->kind != EX_CONST_INT)
        return NULL;
    int64_t c1 = l->args[1]->u.ival, c2 = r->u.ival, c, neg;
    if ((l->u.binop == BIN_SUB && !ck_neg(c1, &c1)) || (op == BIN_SUB && !ck_neg(c2, &c2)) || !ck_add(c1, c2, &c) ||
        !ck_neg(c, &neg))
        return NULL; /* not exact in 64 bits: leave (x + c1) + c2 as it is */
    if (c == 0)
        return l->args[0];
    return c > 0 ? ex_binary(a, BIN_ADD, l->args[0], ex_int(a, c)) : ex_binary(a, BIN_SUB, l->args[0], ex_int(a, neg));
}

expr *s_bin(arena *a, expr_binop op, expr *l, expr *r)
{
    if (!l || !r)
        return NULL;
    if (op == BIN_AND || op == BIN_OR)
        return fold_logic(a, op, l, r);
    expr *f = is_const(l) && is_const(r) && l->type != TY_FLOAT && r->type != TY_FLOAT ? fold_const(a, op, l, r) : NULL;
    if (!f)
        f = fold_identity(a, op, l, r);
    if (!f)
        f = fold_offset(a, op, l, r);
    if (f)
        return f;
    if (op == BIN_ADD && r->kind == EX_CONST_INT && r->u.ival < 0 && r->u.ival != INT64_MIN)
        return ex_binary(a, BIN_SUB, l, ex_int(a, -r->u.ival));
    return ex_binary(a, op, l, r);
}

expr *s_not(arena *a, expr *x)
{
    if (!x)
        return NULL;
    if (x->kind == EX_CONST_BOOL)
        return ex_bool(a, !x->u.ival);
    return ex_unary(a, UN_NOT, x);
}

expr *s_select(arena *a, expr *c, expr *t, expr *f)
{
    if (!c || !t || !f)
        return NULL;
    if (c->kind == EX_CONST_BOOL)
        return c->u.ival ? t : f;
    if (expr_equal(t, f))
        return t;
    return ex_select(a, c, t, f);
}
