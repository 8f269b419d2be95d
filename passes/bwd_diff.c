/* bwd_diff.c — a stand-in for ir/expr_diff.c (branch h-diff): forward-mode
 * differentiation of score expressions with respect to one leaf (the score
 * `s`, or one param read node). See bwd_diff.h. */
#include "bwd_diff.h"

typedef struct dctx {
    arena *a;
    const expr *wrt; /* the param node, or NULL for s */
    strbuf *why;
    bool failed;
} dctx;

static bool is_var(const dctx *c, const expr *e)
{
    return c->wrt ? e == c->wrt : e->kind == EX_SCORE;
}

/* Whether e depends on the variable. */
static bool depends(const dctx *c, const expr *e)
{
    if (is_var(c, e))
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (depends(c, e->args[i]))
            return true;
    return false;
}

/* Records the first reason only. */
static void fail(dctx *c, const char *what, const char *name)
{
    if (!c->failed)
        sb_printf(c->why, "the score is not differentiable: %s%s%s", what, name ? name : "",
                  name ? (c->wrt ? " of an expression of a float param" : " of an expression of s") : "");
    c->failed = true;
}

static expr *F(dctx *c, double v)
{
    return ex_float(c->a, v);
}

static expr *mul(dctx *c, expr *x, expr *y)
{
    return ex_binary(c->a, BIN_MUL, x, y);
}

static expr *d(dctx *c, const expr *e);

static expr *d_unary(dctx *c, const expr *e)
{
    expr *x = e->args[0], *dx = d(c, x);
    arena *a = c->a;
    switch (e->u.unop) {
    case UN_NEG: return ex_unary(a, UN_NEG, dx);
    case UN_ABS: return ex_select(a, ex_binary(a, BIN_LT, x, F(c, 0)), ex_unary(a, UN_NEG, dx), dx);
    case UN_EXP: return mul(c, (expr *)e, dx);
    case UN_LOG: return ex_binary(a, BIN_DIV, dx, x);
    case UN_TANH: return mul(c, ex_binary(a, BIN_SUB, F(c, 1), mul(c, (expr *)e, (expr *)e)), dx);
    case UN_SQRT: return ex_binary(a, BIN_DIV, dx, mul(c, F(c, 2), (expr *)e));
    default: /* float(int), floor, ...: int arguments do not depend on a float */
        if (depends(c, x))
            fail(c, "", e->u.unop == UN_TO_FLOAT ? "float() of an int" : expr_unop_name(e->u.unop));
        return F(c, 0);
    }
}

static expr *d_binary(dctx *c, const expr *e)
{
    expr *x = e->args[0], *y = e->args[1];
    arena *a = c->a;
    if (e->type != TY_FLOAT) { /* comparisons, logic, ints: piecewise constant */
        if ((e->u.binop == BIN_DIV || e->u.binop == BIN_MOD) && depends(c, e))
            fail(c, "integer ", expr_binop_name(e->u.binop));
        return F(c, 0);
    }
    expr *dx = d(c, x), *dy = d(c, y);
    switch (e->u.binop) {
    case BIN_ADD: return ex_binary(a, BIN_ADD, dx, dy);
    case BIN_SUB: return ex_binary(a, BIN_SUB, dx, dy);
    case BIN_MUL: return ex_binary(a, BIN_ADD, mul(c, dx, y), mul(c, x, dy));
    case BIN_DIV:
        return ex_binary(a, BIN_DIV, ex_binary(a, BIN_SUB, mul(c, dx, y), mul(c, x, dy)), mul(c, y, y));
    case BIN_MIN: return ex_select(a, ex_binary(a, BIN_LE, x, y), dx, dy);
    case BIN_MAX: return ex_select(a, ex_binary(a, BIN_GE, x, y), dx, dy);
    default:
        fail(c, "float ", expr_binop_name(e->u.binop));
        return F(c, 0);
    }
}

static expr *d(dctx *c, const expr *e)
{
    if (is_var(c, e))
        return F(c, 1);
    if (e->type != TY_FLOAT || !depends(c, e)) {
        if (e->type == TY_INT && depends(c, e) && e->kind == EX_UNARY)
            return d_unary(c, e); /* floor(s): reports */
        if (e->type == TY_INT && depends(c, e) && e->kind == EX_BINARY)
            return d_binary(c, e);
        if (e->type != TY_FLOAT && depends(c, e) && e->kind == EX_PARAM)
            fail(c, "a param index that depends on a float", NULL);
        return F(c, 0);
    }
    switch (e->kind) {
    case EX_UNARY: return d_unary(c, e);
    case EX_BINARY: return d_binary(c, e);
    case EX_SELECT: return ex_select(c->a, e->args[0], d(c, e->args[1]), d(c, e->args[2]));
    default: return F(c, 0); /* a float param other than the variable */
    }
}

expr *expr_diff_score(arena *a, const expr *e, strbuf *why)
{
    dctx c = {a, NULL, why, false};
    expr *r = d(&c, e);
    return c.failed ? NULL : r;
}

typedef struct site_list {
    arena *a;
    const expr *nodes[64];
    int n;
    bool overflow;
} site_list;

static void collect_sites(site_list *s, const expr *e)
{
    if (e->kind == EX_PARAM && e->type == TY_FLOAT) {
        for (int i = 0; i < s->n; i++)
            if (s->nodes[i] == e)
                return;
        if (s->n == 64)
            s->overflow = true;
        else
            s->nodes[s->n++] = e;
    }
    for (int i = 0; i < e->nargs; i++)
        collect_sites(s, e->args[i]);
}

int expr_param_sites(arena *a, const expr *e, expr_param_site **out, strbuf *why)
{
    site_list s = {a, {0}, 0, false};
    collect_sites(&s, e);
    if (s.overflow) {
        sb_puts(why, "the score reads more than 64 float params");
        return -1;
    }
    *out = ARENA_ARRAY(a, expr_param_site, s.n > 0 ? s.n : 1);
    if (!*out)
        return -1;
    for (int i = 0; i < s.n; i++) {
        dctx c = {a, s.nodes[i], why, false};
        expr *p = d(&c, e);
        if (c.failed || !p)
            return -1;
        (*out)[i] = (expr_param_site){s.nodes[i]->u.param, s.nodes[i]->nargs, s.nodes[i]->args, p};
    }
    return s.n;
}
