/* expr_diff.c — symbolic derivatives of score expressions; see expr_diff.h
 * for the rules. One recursive walk per variable, memoised per node so a
 * shared subtree (a DAG) is differentiated once and its derivative shared. */
#include "expr_diff.h"

#include <math.h>
#include <stdint.h>

/* ---- a pointer-keyed memo (open addressing, arena memory) ---- */

typedef struct memo_slot {
    const expr *key;
    expr *d;        /* derivative, NULL until computed */
    signed char has_s; /* does the subtree read s: -1 unknown, 0, 1 */
} memo_slot;

typedef struct dctx {
    arena *a;
    const expr *var; /* NULL: differentiate in s; else a float param read */
    memo_slot *slots;
    size_t cap, used;
    const expr *where;  /* the subexpression without a derivative */
    const char *reason; /* why (static text) */
    bool failed;
} dctx;

static size_t slot_hash(const expr *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

static bool memo_grow(dctx *c)
{
    size_t ncap = c->cap ? c->cap * 2 : 64;
    memo_slot *ns = ARENA_ARRAY(c->a, memo_slot, ncap);
    if (!ns)
        return false;
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slots[i].key)
            continue;
        size_t j = slot_hash(c->slots[i].key, ncap);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = c->slots[i];
    }
    c->slots = ns;
    c->cap = ncap;
    return true;
}

/* The slot of e, created on first use; NULL when out of memory. */
static memo_slot *memo_get(dctx *c, const expr *e)
{
    if ((c->used + 1) * 2 > c->cap && !memo_grow(c))
        return NULL;
    size_t j = slot_hash(e, c->cap);
    while (c->slots[j].key && c->slots[j].key != e)
        j = (j + 1) & (c->cap - 1);
    if (!c->slots[j].key) {
        c->slots[j].key = e;
        c->slots[j].has_s = -1;
        c->used++;
    }
    return &c->slots[j];
}

static expr *fail(dctx *c, const expr *where, const char *reason)
{
    if (!c->failed) {
        c->failed = true;
        c->where = where;
        c->reason = reason;
    }
    return NULL;
}

static expr *oom(dctx *c)
{
    return fail(c, NULL, "out of memory");
}

/* Does e read the score s? Memoised: derivative trees share heavily. */
static bool reads_s(dctx *c, const expr *e)
{
    if (!e)
        return false;
    if (e->kind == EX_SCORE)
        return true;
    if (!e->nargs)
        return false;
    memo_slot *m = memo_get(c, e);
    if (m && m->has_s >= 0)
        return m->has_s;
    bool r = false;
    for (int i = 0; i < e->nargs && !r; i++)
        r = reads_s(c, e->args[i]);
    if ((m = memo_get(c, e)))
        m->has_s = r;
    return r;
}

/* ---- simplifying constructors (every result is float-typed) ---- */

static bool const_value(const expr *e, double *v)
{
    if (e && e->kind == EX_CONST_FLOAT) {
        *v = e->u.fval;
        return true;
    }
    if (e && e->kind == EX_CONST_INT) {
        *v = (double)e->u.ival;
        return true;
    }
    return false;
}

static bool is_const(const expr *e, double want)
{
    double v;
    return const_value(e, &v) && v == want;
}

static expr *as_float(arena *a, expr *x)
{
    if (x && x->kind == EX_CONST_INT)
        return ex_float(a, (double)x->u.ival);
    return x && x->type == TY_INT ? ex_unary(a, UN_TO_FLOAT, x) : x;
}

static expr *mk_neg(arena *a, expr *x)
{
    double v;
    if (const_value(x, &v))
        return ex_float(a, -v);
    if (x && x->kind == EX_UNARY && x->u.unop == UN_NEG)
        return as_float(a, x->args[0]);
    return ex_unary(a, UN_NEG, as_float(a, x));
}

static expr *mk_sub(arena *a, expr *l, expr *r);

static expr *mk_add(arena *a, expr *l, expr *r)
{
    double x, y;
    if (!l || !r)
        return NULL;
    if (const_value(l, &x) && const_value(r, &y))
        return ex_float(a, x + y);
    if (is_const(l, 0))
        return as_float(a, r);
    if (is_const(r, 0))
        return as_float(a, l);
    if (r->kind == EX_UNARY && r->u.unop == UN_NEG)
        return mk_sub(a, l, r->args[0]);
    return ex_binary(a, BIN_ADD, as_float(a, l), r);
}

static expr *mk_sub(arena *a, expr *l, expr *r)
{
    double x, y;
    if (!l || !r)
        return NULL;
    if (const_value(l, &x) && const_value(r, &y))
        return ex_float(a, x - y);
    if (is_const(r, 0))
        return as_float(a, l);
    if (is_const(l, 0))
        return mk_neg(a, r);
    if (r->kind == EX_UNARY && r->u.unop == UN_NEG)
        return mk_add(a, l, r->args[0]);
    return ex_binary(a, BIN_SUB, as_float(a, l), r);
}

/* x as (constant factor) * rest; rest NULL when x is a constant. */
static double split_factor(expr *x, expr **rest)
{
    double v;
    if (const_value(x, &v)) {
        *rest = NULL;
        return v;
    }
    if (x->kind == EX_BINARY && x->u.binop == BIN_MUL && const_value(x->args[0], &v)) {
        *rest = x->args[1];
        return v;
    }
    *rest = x;
    return 1.0;
}

static expr *mk_mul(arena *a, expr *l, expr *r)
{
    if (!l || !r)
        return NULL;
    if (is_const(l, 0) || is_const(r, 0))
        return ex_float(a, 0.0);
    expr *lr, *rr;
    double k = split_factor(l, &lr) * split_factor(r, &rr);
    expr *rest = !lr ? rr : !rr ? lr : ex_binary(a, BIN_MUL, as_float(a, lr), rr);
    if (!rest)
        return ex_float(a, k);
    if (k == 1.0)
        return as_float(a, rest);
    if (k == -1.0)
        return mk_neg(a, rest);
    return ex_binary(a, BIN_MUL, ex_float(a, k), rest); /* constant first */
}

static expr *mk_div(arena *a, expr *l, expr *r)
{
    double x, y;
    if (!l || !r)
        return NULL;
    if (is_const(l, 0))
        return ex_float(a, 0.0);
    if (is_const(r, 1))
        return as_float(a, l);
    if (const_value(r, &y) && y != 0) {
        int ex;
        if (fabs(frexp(y, &ex)) == 0.5) /* a power of two: its reciprocal is exact */
            return mk_mul(a, ex_float(a, 1.0 / y), l);
        if (const_value(l, &x))
            return ex_float(a, x / y);
    }
    return ex_binary(a, BIN_DIV, as_float(a, l), r);
}

static expr *mk_select(arena *a, expr *c, expr *t, expr *f)
{
    if (!c || !t || !f)
        return NULL;
    if (expr_equal(t, f))
        return as_float(a, t);
    return ex_select(a, c, as_float(a, t), as_float(a, f));
}

/* ---- the derivative ---- */

static expr *diff(dctx *c, const expr *e);

static bool is_var(const dctx *c, const expr *e)
{
    if (!c->var)
        return e->kind == EX_SCORE;
    return e->kind == EX_PARAM && expr_equal(e, c->var);
}

/* An int (or an index) has derivative 0 — unless, in s, it rounds a value of
 * s: floor(...) of an expression reading s. Bools (select conditions) are
 * never differentiated, so whatever they read is fine. */
static bool int_is_constant(dctx *c, const expr *e)
{
    if (!e || c->var || e->type == TY_BOOL || !reads_s(c, e))
        return true;
    if (e->type == TY_FLOAT || (e->kind == EX_UNARY && e->u.unop == UN_FLOOR)) {
        fail(c, e, "floor() of an expression of s has no derivative");
        return false;
    }
    for (int i = 0; i < e->nargs; i++)
        if (!int_is_constant(c, e->args[i]))
            return false;
    return true;
}

static expr *zero(dctx *c)
{
    return ex_float(c->a, 0.0);
}

static expr *diff_unary(dctx *c, const expr *e)
{
    arena *a = c->a;
    expr *u = e->args[0], *du = diff(c, u);
    if (!du || is_const(du, 0))
        return du;
    expr *self = (expr *)e;
    switch (e->u.unop) {
    case UN_NEG: return mk_neg(a, du);
    case UN_ABS: /* sign(u) du, sign(0) = 0 */
        return ex_select(a, ex_binary(a, BIN_GT, u, ex_float(a, 0.0)), du,
                         ex_select(a, ex_binary(a, BIN_LT, u, ex_float(a, 0.0)), mk_neg(a, du), zero(c)));
    case UN_EXP: return mk_mul(a, self, du);
    case UN_LOG: return mk_div(a, du, u);
    case UN_TANH: return mk_mul(a, mk_sub(a, ex_float(a, 1.0), mk_mul(a, self, self)), du);
    case UN_SQRT: return mk_div(a, mk_mul(a, ex_float(a, 0.5), du), self);
    default: return zero(c); /* float() of an int: checked by diff() */
    }
}

static expr *diff_binary(dctx *c, const expr *e)
{
    arena *a = c->a;
    expr *l = e->args[0], *r = e->args[1];
    expr *dl = diff(c, l), *dr = diff(c, r);
    if (!dl || !dr)
        return NULL;
    bool zl = is_const(dl, 0), zr = is_const(dr, 0);
    if (zl && zr)
        return zero(c);
    switch (e->u.binop) {
    case BIN_ADD: return mk_add(a, dl, dr);
    case BIN_SUB: return mk_sub(a, dl, dr);
    case BIN_MUL: return mk_add(a, mk_mul(a, dl, r), mk_mul(a, l, dr));
    case BIN_DIV: /* (dl - (l / r) dr) / r, sharing the node l / r */
        return mk_div(a, zr ? dl : mk_sub(a, dl, mk_mul(a, (expr *)e, dr)), r);
    case BIN_MIN: return mk_select(a, ex_binary(a, BIN_LE, l, r), dl, dr);
    case BIN_MAX: return mk_select(a, ex_binary(a, BIN_GE, l, r), dl, dr);
    case BIN_MOD:
        return fail(c, e, c->var ? "a float '%' of a param read has no derivative"
                                 : "a float '%' of an expression of s has no derivative");
    default: return zero(c); /* comparisons are bool, never reached */
    }
}

static expr *diff_node(dctx *c, const expr *e)
{
    if (is_var(c, e))
        return ex_float(c->a, 1.0);
    if (e->type != TY_FLOAT)
        return int_is_constant(c, e) ? zero(c) : NULL;
    switch (e->kind) {
    case EX_PARAM: /* another read: its indices are ints */
        for (int i = 0; i < e->nargs; i++)
            if (!int_is_constant(c, e->args[i]))
                return NULL;
        return zero(c);
    case EX_UNARY:
        return diff_unary(c, e);
    case EX_BINARY:
        return diff_binary(c, e);
    case EX_SELECT: {
        expr *dt = diff(c, e->args[1]), *df = diff(c, e->args[2]);
        if (!dt || !df)
            return NULL;
        return is_const(dt, 0) && is_const(df, 0) ? dt : mk_select(c->a, e->args[0], dt, df);
    }
    default: /* constants, coordinates, sizes; s when differentiating in a param */
        return zero(c);
    }
}

static expr *diff(dctx *c, const expr *e)
{
    if (c->failed)
        return NULL;
    memo_slot *m = memo_get(c, e);
    if (!m)
        return oom(c);
    if (m->d)
        return m->d;
    expr *d = diff_node(c, e);
    if (!d)
        return c->failed ? NULL : oom(c);
    if (!(m = memo_get(c, e))) /* the table may have grown meanwhile */
        return oom(c);
    m->d = d;
    return d;
}

static expr *run(arena *a, const expr *e, const expr *var, strbuf *why, const expr **where)
{
    dctx c = {.a = a, .var = var};
    if (where)
        *where = NULL;
    expr *d = e ? diff(&c, e) : NULL;
    if (d && !a->failed)
        return d;
    if (!e)
        fail(&c, NULL, "no expression");
    else if (!c.failed || a->failed)
        oom(&c);
    if (why)
        sb_puts(why, c.reason ? c.reason : "out of memory");
    if (where)
        *where = c.where;
    return NULL;
}

expr *expr_diff_score_at(arena *a, const expr *e, strbuf *why, const expr **where)
{
    return run(a, e, NULL, why, where);
}

expr *expr_diff_score(arena *a, const expr *e, strbuf *why)
{
    return run(a, e, NULL, why, NULL);
}

expr *expr_diff_param(arena *a, const expr *e, const expr *var, strbuf *why)
{
    if (!var || var->kind != EX_PARAM || var->type != TY_FLOAT) {
        if (why)
            sb_puts(why, "not a float param read");
        return NULL;
    }
    return run(a, e, var, why, NULL);
}

/* ---- param sites ---- */

typedef struct sites {
    arena *a;
    expr_param_site *v;
    int n, cap;
    dctx seen; /* visited nodes (a DAG may share subtrees) */
    bool oom;
} sites;

static void add_site(sites *S, const expr *e)
{
    for (int i = 0; i < S->n; i++)
        if (expr_equal(S->v[i].read, e))
            return;
    if (S->n == S->cap) {
        int ncap = S->cap ? S->cap * 2 : 8;
        expr_param_site *nv = ARENA_ARRAY(S->a, expr_param_site, ncap);
        if (!nv) {
            S->oom = true;
            return;
        }
        for (int i = 0; i < S->n; i++)
            nv[i] = S->v[i];
        S->v = nv;
        S->cap = ncap;
    }
    S->v[S->n++] = (expr_param_site){e->u.param, e->nargs, e->args, NULL, e};
}

/* Float reads in value positions: through float operators and select
 * branches, never into indices, conditions or ints. */
static void collect(sites *S, const expr *e)
{
    if (!e || e->type != TY_FLOAT || S->oom)
        return;
    memo_slot *m = memo_get(&S->seen, e);
    if (!m) {
        S->oom = true;
        return;
    }
    if (m->has_s == 1)
        return;
    m->has_s = 1; /* here: "visited" */
    switch (e->kind) {
    case EX_PARAM:
        add_site(S, e);
        return;
    case EX_UNARY:
    case EX_BINARY:
        for (int i = 0; i < e->nargs; i++)
            collect(S, e->args[i]);
        return;
    case EX_SELECT:
        collect(S, e->args[1]);
        collect(S, e->args[2]);
        return;
    default:
        return;
    }
}

int expr_param_sites(arena *a, const expr *e, expr_param_site **out, strbuf *why)
{
    sites S = {.a = a, .seen = {.a = a}};
    *out = NULL;
    collect(&S, e);
    if (S.oom || a->failed) {
        if (why)
            sb_puts(why, "out of memory");
        return -1;
    }
    for (int i = 0; i < S.n; i++) {
        S.v[i].partial = run(a, e, S.v[i].read, why, NULL);
        if (!S.v[i].partial)
            return -1;
    }
    *out = S.v;
    return S.n;
}
