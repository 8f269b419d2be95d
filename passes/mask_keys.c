/* mask_keys.c — the mask as a union of per-query key sets (mask_keys.h):
 * atoms solved for one key variable, && as the product of unions, || as
 * their concatenation, ! pushed to the atoms (De Morgan). */
#include "mask_atom.h"
#include "mask_keys.h"
#include "mask_sym.h"

typedef struct kctx {
    arena *a;
    int grid_ndim;
} kctx;

static int key_index(const kctx *c, int dim)
{
    return dim < 0 || c->grid_ndim == 0 ? KEY_T : dim;
}

typedef enum { KV_PLAIN, KV_DIV, KV_MOD } kv_shape;

/* k.X, k.X div c or k.X mod c (c > 0 constant): the key variable, or -1. */
static int key_var(const kctx *c, const expr *e, kv_shape *shape, int64_t *cst)
{
    *shape = KV_PLAIN;
    *cst = 1;
    if (e->kind == EX_BINARY && (e->u.binop == BIN_DIV || e->u.binop == BIN_MOD) &&
        e->args[1]->kind == EX_CONST_INT && e->args[1]->u.ival > 0) {
        *shape = e->u.binop == BIN_DIV ? KV_DIV : KV_MOD;
        *cst = e->args[1]->u.ival;
        e = e->args[0];
    }
    if (e->kind != EX_COORD || e->u.coord.side != SIDE_K || e->u.coord.dim >= 3)
        return -1;
    return key_index(c, e->u.coord.dim);
}

static bool reads_only(const expr *e, int grid_ndim, int var, bool *any)
{
    if (e->kind == EX_SCORE)
        return false;
    if (e->kind == EX_COORD) {
        if (e->u.coord.side != SIDE_K || e->u.coord.dim >= 3)
            return false;
        *any = true;
        int v = e->u.coord.dim < 0 || grid_ndim == 0 ? KEY_T : e->u.coord.dim;
        return v == var;
    }
    for (int i = 0; i < e->nargs; i++)
        if (!reads_only(e->args[i], grid_ndim, var, any))
            return false;
    return true;
}

bool mask_keys_reads_only(const expr *e, int grid_ndim, int var)
{
    bool any = false;
    return reads_only(e, grid_ndim, var, &any) && any;
}

static bool query_only(const expr *e)
{
    return !expr_uses_coord(e, SIDE_K) && !expr_uses_kind(e, EX_SCORE);
}

static void universal(key_term *t, bool exact)
{
    *t = (key_term){0};
    t->exact = exact;
}

/* fk(k.X) == fq(q) with the sides in either order. */
static bool value_filter(const kctx *c, const expr *l, const expr *r, key_term *t)
{
    if (l->type != TY_INT || r->type != TY_INT)
        return false;
    for (int side = 0; side < 2; side++) {
        const expr *q = side ? l : r, *k = side ? r : l;
        if (!query_only(q))
            continue;
        for (int v = 0; v < NKEY; v++)
            if (mask_keys_reads_only(k, c->grid_ndim, v)) {
                t->fk[v] = k;
                t->fq[v] = q;
                return true;
            }
    }
    return false;
}

/* k OP x for key variable v of shape (plain, div c, mod c). */
static void bound(const kctx *c, key_term *t, int v, kv_shape shape, int64_t cst, expr_binop op, expr *x)
{
    arena *a = c->a;
    if (shape == KV_MOD) {
        if (op != BIN_EQ) {
            t->exact = false;
            return;
        }
        t->mod[v] = cst;
        t->res[v] = x;
        return;
    }
    expr *one = s_int(a, 1), *lo = NULL, *hi = NULL;
    if (op == BIN_GE || op == BIN_EQ)
        lo = x;
    if (op == BIN_GT)
        lo = s_bin(a, BIN_ADD, x, one);
    if (op == BIN_LE || op == BIN_EQ)
        hi = x;
    if (op == BIN_LT)
        hi = s_bin(a, BIN_SUB, x, one);
    expr *d = s_int(a, cst);
    if (lo)
        t->lo[v] = s_bin(a, BIN_MUL, lo, d);
    if (hi)
        t->hi[v] = s_bin(a, BIN_ADD, s_bin(a, BIN_MUL, hi, d), s_int(a, cst - 1));
}

/* One comparison atom `l op r` that reads the key. */
static void atom(const kctx *c, expr_binop op, const expr *l, const expr *r, key_term *t)
{
    universal(t, true);
    atom_term s[ATOM_MAX_TERMS];
    int n = 0, key = -1, ksign = 0;
    kv_shape shape = KV_PLAIN;
    int64_t cst = 1;
    bool linear = op != BIN_NE && atom_terms(l, r, s, &n);
    for (int i = 0; linear && i < n; i++) {
        if (!expr_uses_coord(s[i].e, SIDE_K))
            continue;
        if (key >= 0 || (key = key_var(c, s[i].e, &shape, &cst)) < 0)
            linear = false; /* two key terms, or one we cannot solve for */
        ksign = s[i].sign;
    }
    if (linear && key >= 0) {
        /* ksign*K + rest OP 0  =>  K OP' x with x = -ksign * rest */
        expr *x = atom_rest(c->a, s, n, SIDE_K, ksign);
        if (x && !expr_uses_kind(x, EX_SCORE)) {
            bound(c, t, key, shape, cst, ksign < 0 ? cmp_flip(op) : op, x);
            return;
        }
    }
    if (op == BIN_EQ && value_filter(c, l, r, t))
        return;
    t->exact = false;
}

static bool is_universal(const key_term *t)
{
    for (int v = 0; v < NKEY; v++)
        if (t->lo[v] || t->hi[v] || t->mod[v] || t->fk[v])
            return false;
    return !t->qcond;
}

static expr *and_cond(arena *a, expr *x, expr *y)
{
    return !x ? y : !y ? x : s_bin(a, BIN_AND, x, y);
}

static expr *pick(arena *a, expr_binop op, expr *x, expr *y)
{
    return x && y ? s_bin(a, op, x, y) : x ? x : y;
}

bool mask_keys_and(arena *a, const key_term *x, const key_term *y, key_term *o)
{
    key_term z = *x;
    z.exact = x->exact && y->exact;
    for (int v = 0; v < NKEY; v++) {
        z.lo[v] = pick(a, BIN_MAX, x->lo[v], y->lo[v]);
        z.hi[v] = pick(a, BIN_MIN, x->hi[v], y->hi[v]);
        if (y->mod[v] && !x->mod[v]) {
            z.mod[v] = y->mod[v];
            z.res[v] = y->res[v];
        } else if (y->mod[v] && x->mod[v] != y->mod[v]) {
            z.exact = false; /* two moduli: keep one, an over-approximation */
        } else if (y->mod[v] && !expr_equal(x->res[v], y->res[v])) {
            z.qcond = and_cond(a, z.qcond, s_bin(a, BIN_EQ, x->res[v], y->res[v]));
        }
        if (y->fk[v] && !x->fk[v]) {
            z.fk[v] = y->fk[v];
            z.fq[v] = y->fq[v];
        } else if (y->fk[v] && !(expr_equal(x->fk[v], y->fk[v]) && expr_equal(x->fq[v], y->fq[v]))) {
            z.exact = false;
        }
    }
    z.qcond = and_cond(a, z.qcond, y->qcond);
    *o = z;
    return !a->failed;
}

/* The hull of terms [0, n): a single term containing all of them. */
static key_term hull(arena *a, const key_term *t, int n)
{
    key_term h = t[0];
    h.exact = n == 1 && t[0].exact;
    for (int i = 1; i < n; i++)
        for (int v = 0; v < NKEY; v++) {
            h.lo[v] = h.lo[v] && t[i].lo[v] ? s_bin(a, BIN_MIN, h.lo[v], t[i].lo[v]) : NULL;
            h.hi[v] = h.hi[v] && t[i].hi[v] ? s_bin(a, BIN_MAX, h.hi[v], t[i].hi[v]) : NULL;
            if (h.mod[v] != t[i].mod[v] || (h.mod[v] && !expr_equal(h.res[v], t[i].res[v])))
                h.mod[v] = 0;
            if (h.fk[v] && !(t[i].fk[v] && expr_equal(h.fk[v], t[i].fk[v]) && expr_equal(h.fq[v], t[i].fq[v])))
                h.fk[v] = h.fq[v] = NULL;
        }
    for (int i = 1; i < n; i++)
        h.qcond = h.qcond && t[i].qcond ? s_bin(a, BIN_OR, h.qcond, t[i].qcond) : NULL;
    return h;
}

static void set_hull(arena *a, key_set *s)
{
    if (s->n > 1) {
        s->t[0] = hull(a, s->t, s->n);
        s->n = 1;
    }
}

static void set_or(arena *a, key_set *x, const key_set *y)
{
    for (int i = 0; i < y->n; i++) {
        if (is_universal(&y->t[i]) && y->t[i].exact) { /* everything: the union is this term */
            x->n = 1;
            x->t[0] = y->t[i];
            return;
        }
    }
    for (int i = 0; i < x->n; i++)
        if (is_universal(&x->t[i]) && x->t[i].exact)
            return;
    if (x->n + y->n > KEYS_MAX_TERMS) {
        key_term all[2 * KEYS_MAX_TERMS];
        for (int i = 0; i < x->n; i++)
            all[i] = x->t[i];
        for (int i = 0; i < y->n; i++)
            all[x->n + i] = y->t[i];
        x->t[0] = hull(a, all, x->n + y->n);
        x->n = 1;
        return;
    }
    for (int i = 0; i < y->n; i++)
        x->t[x->n++] = y->t[i];
}

static void set_and(arena *a, key_set *x, key_set *y)
{
    while (x->n * y->n > KEYS_MAX_TERMS)
        set_hull(a, x->n >= y->n ? x : y);
    key_set z = {0};
    for (int i = 0; i < x->n; i++)
        for (int j = 0; j < y->n; j++)
            mask_keys_and(a, &x->t[i], &y->t[j], &z.t[z.n++]);
    *x = z;
}

static void collect(const kctx *c, const expr *e, bool negated, key_set *out)
{
    *out = (key_set){0};
    out->n = 1;
    key_term *t = &out->t[0];
    universal(t, true);
    if (e->kind == EX_CONST_BOOL) {
        if ((e->u.ival != 0) == negated)
            out->n = 0; /* false: no pair */
        return;
    }
    if (query_only(e)) {
        t->qcond = negated ? s_not(c->a, (expr *)e) : (expr *)e;
        return;
    }
    if (e->kind == EX_UNARY && e->u.unop == UN_NOT) {
        collect(c, e->args[0], !negated, out);
        return;
    }
    if (e->kind != EX_BINARY) {
        t->exact = false;
        return;
    }
    expr_binop op = e->u.binop;
    if (op == BIN_AND || op == BIN_OR) {
        key_set other;
        collect(c, e->args[0], negated, out);
        collect(c, e->args[1], negated, &other);
        if ((op == BIN_AND) != negated) /* De Morgan under ! */
            set_and(c->a, out, &other);
        else
            set_or(c->a, out, &other);
        return;
    }
    if (op >= BIN_LT && op <= BIN_NE && e->args[0]->type == TY_INT && e->args[1]->type == TY_INT)
        atom(c, negated ? cmp_negate(op) : op, e->args[0], e->args[1], t);
    else
        t->exact = false;
}

bool mask_keys_collect(arena *a, int grid_ndim, const expr *mask, key_set *out)
{
    kctx c = {a, grid_ndim};
    if (!mask) {
        *out = (key_set){.n = 1, .exact = true};
        universal(&out->t[0], true);
        return true;
    }
    collect(&c, mask, false, out);
    out->exact = true;
    for (int i = 0; i < out->n; i++)
        out->exact &= out->t[i].exact;
    return !a->failed;
}
