/* mask_bounds.c — closed-form key-tile ranges: solve the mask's constraints
 * for each key coordinate and bound the solution over the query box.
 *
 * The mask is read as a tree of && and || over atoms. An atom `a OP b`
 * (OP one of < <= > >= ==, possibly under !) is isolated when a - b is a sum
 * of terms of which exactly one reads the key: `k.X` or `k.X div c` (c > 0
 * constant), with coefficient +1 or -1. Then k.X OP' X(q) gives a lower
 * and/or upper bound on k.X; for `k div c >= X` the bound on k is X*c, for
 * `k div c <= X` it is X*c + c - 1. Bounds of && intersect, bounds of ||
 * join (a dim bounded on only one side of || is unbounded). Dropping an
 * atom only widens the range, so unsupported atoms are simply ignored.
 * A bound on the flat index t bounds grid dim 0 (t div (G1*G2)).
 * Finally X is bounded over the query box (mask_sym.h) and turned into a
 * clamped key tile index.
 *
 * Unions: when the mask's key set (mask_keys.h) is a union of a few terms,
 * each term bounded the same way is one part of the range (sinks || window
 * gives two), so a query tile visits the union of the parts instead of
 * their hull (mask_bounds_derive_parts).
 *
 * The backward's transposed ranges (the query tiles one key tile is seen
 * by) are the same derivation with the roles swapped: solve for the query
 * coordinate, bound over the key box, clamp to query tiles; a union's
 * transposed parts solve each term of the mask's disjunctive normal form so
 * (mask_bounds_derive_qparts). */
#include "mask_analysis.h"
#include "mask_atom.h"
#include "mask_sym.h"

typedef struct key_bounds {
    expr *lo[NKEY], *hi[NKEY]; /* NULL: unbounded */
} key_bounds;

/* The side solved for (SIDE_K: key ranges of a query box; SIDE_Q: query
 * ranges of a key box) and the context of the bounds. */
typedef struct bctx {
    sym_ctx c;
    coord_side side;
} bctx;

/* side.X or side.X div c: returns the coordinate index (0..2, KEY_T) and the divisor. */
static int key_var(const expr *e, int grid_ndim, coord_side side, int64_t *div)
{
    *div = 1;
    if (e->kind == EX_BINARY && e->u.binop == BIN_DIV && e->args[1]->kind == EX_CONST_INT &&
        e->args[1]->u.ival > 0) {
        *div = e->args[1]->u.ival;
        e = e->args[0];
    }
    if (e->kind != EX_COORD || e->u.coord.side != side || e->u.coord.dim >= 3)
        return -1;
    if (e->u.coord.dim < 0 || grid_ndim == 0)
        return KEY_T;
    return e->u.coord.dim;
}

/* Sets *kb to the bound one atom gives (k OP X over the query box). */
static void isolate(const bctx *b, expr_binop op, const expr *l, const expr *r, key_bounds *kb)
{
    const sym_ctx *c = &b->c;
    atom_term t[ATOM_MAX_TERMS];
    int n = 0;
    if (op == BIN_NE || !atom_terms(l, r, t, &n))
        return;
    int key = -1, ksign = 0;
    int64_t div = 1;
    for (int i = 0; i < n; i++) {
        if (!expr_uses_coord(t[i].e, b->side))
            continue;
        if (key >= 0 || (key = key_var(t[i].e, c->grid_ndim, b->side, &div)) < 0)
            return; /* two key terms, or one we cannot solve for */
        ksign = t[i].sign;
    }
    if (key < 0)
        return;
    /* ksign*K + rest OP 0  =>  K OP' X with X = -ksign * rest */
    expr *x = atom_rest(c->a, t, n, b->side, ksign);
    if (!x)
        return;
    if (ksign < 0)
        op = cmp_flip(op);
    expr *one = s_int(c->a, 1), *lo = NULL, *hi = NULL;
    if (op == BIN_GE || op == BIN_EQ)
        lo = x;
    if (op == BIN_GT)
        lo = s_bin(c->a, BIN_ADD, x, one);
    if (op == BIN_LE || op == BIN_EQ)
        hi = x;
    if (op == BIN_LT)
        hi = s_bin(c->a, BIN_SUB, x, one);
    expr *d = s_int(c->a, div);
    if (lo)
        kb->lo[key] = sym_int(c, s_bin(c->a, BIN_MUL, lo, d)).lo;
    if (hi)
        kb->hi[key] = sym_int(c, s_bin(c->a, BIN_ADD, s_bin(c->a, BIN_MUL, hi, d), s_int(c->a, div - 1))).hi;
}

static void combine(const sym_ctx *c, bool both, key_bounds *x, const key_bounds *y)
{
    for (int i = 0; i < NKEY; i++) {
        if (both) { /* &&: intersect */
            x->lo[i] = x->lo[i] && y->lo[i] ? s_bin(c->a, BIN_MAX, x->lo[i], y->lo[i]) : x->lo[i] ? x->lo[i] : y->lo[i];
            x->hi[i] = x->hi[i] && y->hi[i] ? s_bin(c->a, BIN_MIN, x->hi[i], y->hi[i]) : x->hi[i] ? x->hi[i] : y->hi[i];
        } else { /* ||: join */
            x->lo[i] = x->lo[i] && y->lo[i] ? s_bin(c->a, BIN_MIN, x->lo[i], y->lo[i]) : NULL;
            x->hi[i] = x->hi[i] && y->hi[i] ? s_bin(c->a, BIN_MAX, x->hi[i], y->hi[i]) : NULL;
        }
    }
}

static void collect(const bctx *b, const expr *e, bool negated, key_bounds *kb)
{
    const sym_ctx *c = &b->c;
    *kb = (key_bounds){0};
    if (e->kind == EX_UNARY && e->u.unop == UN_NOT) {
        collect(b, e->args[0], !negated, kb);
        return;
    }
    if (e->kind != EX_BINARY)
        return;
    expr_binop op = e->u.binop;
    if (op == BIN_AND || op == BIN_OR) {
        key_bounds other;
        collect(b, e->args[0], negated, kb);
        collect(b, e->args[1], negated, &other);
        combine(c, (op == BIN_AND) != negated, kb, &other); /* De Morgan under ! */
        return;
    }
    if (op >= BIN_LT && op <= BIN_NE && e->args[0]->type == TY_INT && e->args[1]->type == TY_INT)
        isolate(b, negated ? cmp_negate(op) : op, e->args[0], e->args[1], kb);
}

/* Extent of dim d of the solved side: grid size, or (kv_)tokens for a sequence. */
static expr *key_extent(arena *a, int grid_ndim, coord_side side, int d)
{
    return ex_size(a, grid_ndim == 0 ? (side == SIDE_K ? SZ_KV_TOKENS : SZ_TOKENS) : (size_id)(SZ_GRID0 + d));
}

/* Coordinate bounds of key dim d, with t's bounds folded into dim 0. */
static void dim_bounds(const sym_ctx *c, const key_bounds *kb, int d, expr **lo, expr **hi)
{
    *lo = c->grid_ndim == 0 ? kb->lo[KEY_T] : kb->lo[d];
    *hi = c->grid_ndim == 0 ? kb->hi[KEY_T] : kb->hi[d];
    if (c->grid_ndim == 0 || d != 0 || (!kb->lo[KEY_T] && !kb->hi[KEY_T]))
        return;
    expr *inner = s_int(c->a, 1);
    for (int e = 1; e < c->grid_ndim; e++)
        inner = s_bin(c->a, BIN_MUL, inner, ex_size(c->a, SZ_GRID0 + e));
    key_bounds one = {0}, other = {0};
    one.lo[0] = *lo;
    one.hi[0] = *hi;
    other.lo[0] = kb->lo[KEY_T] ? s_bin(c->a, BIN_DIV, kb->lo[KEY_T], inner) : NULL;
    other.hi[0] = kb->hi[KEY_T] ? s_bin(c->a, BIN_DIV, kb->hi[KEY_T], inner) : NULL;
    combine(c, true, &one, &other);
    *lo = one.lo[0];
    *hi = one.hi[0];
}

/* Turns coordinate bounds kb into clamped tile indices of the solved side
 * per dim (los/his); unb_lo/unb_hi (may be NULL) record the unbounded
 * sides. Returns how many of the 2 x ndims sides got a bound. */
static int tile_bounds(const bctx *b, const recipe *r, const mask_info *mi, const key_bounds *kb, expr **los,
                       expr **his, bool *unb_lo, bool *unb_hi)
{
    arena *a = b->c.a;
    int any = 0;
    for (int d = 0; d < mi->ndims; d++) {
        expr *lo, *hi;
        dim_bounds(&b->c, kb, d, &lo, &hi);
        any += (lo != NULL) + (hi != NULL);
        int tile = b->side == SIDE_K ? mi->kv_tile[d] : mi->q_tile[d];
        int dil = b->side == SIDE_K && b->c.dil ? b->c.dil[d] : 1;
        expr *t = s_int(a, tile);
        expr *len = key_extent(a, r->grid_ndim, b->side, d);
        if (dil > 1) /* the query box's group g = q.lo mod δ: (L - g + δ - 1) div δ keys */
            len = s_bin(a, BIN_DIV,
                        s_bin(a, BIN_ADD,
                              s_bin(a, BIN_SUB, len,
                                    s_bin(a, BIN_MOD, sym_corner(a, SIDE_Q, false, d), s_int(a, dil))),
                              s_int(a, dil - 1)),
                        s_int(a, dil));
        expr *n = s_bin(a, BIN_DIV, s_bin(a, BIN_ADD, len, s_int(a, tile - 1)), t);
        expr *last = s_bin(a, BIN_SUB, n, s_int(a, 1));
        /* a key k >= X of group g has k div δ >= X div δ (and <= for <=):
         * group-local tile bounds are X div (tile * δ) */
        expr *td = s_int(a, (int64_t)tile * dil);
        los[d] = lo ? s_bin(a, BIN_MAX, s_bin(a, BIN_DIV, lo, td), s_int(a, 0)) : s_int(a, 0);
        his[d] = hi ? s_bin(a, BIN_MIN, s_bin(a, BIN_DIV, hi, td), last) : last;
        if (unb_lo)
            unb_lo[d] = !lo;
        if (unb_hi)
            unb_hi[d] = !hi;
    }
    return any;
}

/* Fills los/his (tile indices of the solved side, clamped) for each dim;
 * returns how many of the 2 x ndims sides got a bound. */
static int derive(arena *a, const recipe *r, const mask_info *mi, coord_side side, expr **los, expr **his)
{
    bctx b = {{a, r->grid_ndim, side == SIDE_K && mask_dilated(mi) ? mi->dil : NULL}, side};
    key_bounds kb;
    collect(&b, r->mask, false, &kb);
    return tile_bounds(&b, r, mi, &kb, los, his, NULL, NULL);
}

/* Fills mi->range_lo/hi; returns how many sides got a bound. */
int mask_bounds_derive(arena *a, const recipe *r, mask_info *mi)
{
    return derive(a, r, mi, SIDE_K, mi->range_lo, mi->range_hi);
}

/* Fills mi->qrange_lo/hi (query tiles of a key box); returns how many
 * sides got a bound. */
int mask_bounds_derive_q(arena *a, const recipe *r, mask_info *mi)
{
    return derive(a, r, mi, SIDE_Q, mi->qrange_lo, mi->qrange_hi);
}

/* ---- unions: one part per term of the key set ---------------------------- */

typedef struct part {
    expr *lo[SCHED_MAX_DIMS], *hi[SCHED_MAX_DIMS];
    bool unb_lo[SCHED_MAX_DIMS], unb_hi[SCHED_MAX_DIMS];
    bool dropped;
} part;

/* Whether part x holds every tile of part y whatever the sizes: per dim,
 * x is unbounded on a side or has y's very bound there. */
static bool part_covers(const mask_info *mi, const part *x, const part *y)
{
    for (int d = 0; d < mi->ndims; d++) {
        if (!x->unb_lo[d] && !expr_equal(x->lo[d], y->lo[d]))
            return false;
        if (!x->unb_hi[d] && !expr_equal(x->hi[d], y->hi[d]))
            return false;
    }
    return true;
}

/* Drops parts another kept part covers; returns how many stay. */
static int drop_covered(const mask_info *mi, part *p, int n)
{
    int kept = n;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n && !p[j].dropped; i++)
            if (i != j && !p[i].dropped && part_covers(mi, &p[i], &p[j])) {
                p[j].dropped = true;
                kept--;
            }
    return kept;
}

/* A key term's bounds over the query box. */
static void term_bounds(const bctx *b, const key_term *t, key_bounds *kb)
{
    for (int v = 0; v < NKEY; v++) {
        kb->lo[v] = t->lo[v] ? sym_int(&b->c, t->lo[v]).lo : NULL;
        kb->hi[v] = t->hi[v] ? sym_int(&b->c, t->hi[v]).hi : NULL;
    }
}

/* Fills mi->nparts and mi->part_lo/hi when the mask's key set is a union of
 * 2..TIR_MAX_PARTS terms each bounded in some dim and none covering another
 * (the parts are then tighter than the hull); else leaves nparts 0. Each
 * part holds its term's keys (mask_keys.h: a term only widens when atoms are
 * dropped), so their union holds every kept key. */
int mask_bounds_derive_parts(arena *a, const recipe *r, mask_info *mi)
{
    const key_set *ks = mi->keys;
    mi->nparts = 0;
    if (!ks || ks->n < 2 || ks->n > TIR_MAX_PARTS)
        return 0;
    bctx b = {{a, r->grid_ndim, mask_dilated(mi) ? mi->dil : NULL}, SIDE_K};
    part p[TIR_MAX_PARTS] = {0};
    for (int i = 0; i < ks->n; i++) {
        key_bounds kb;
        term_bounds(&b, &ks->t[i], &kb);
        if (!tile_bounds(&b, r, mi, &kb, p[i].lo, p[i].hi, p[i].unb_lo, p[i].unb_hi))
            return 0; /* an unbounded term: the union is the hull */
    }
    if (drop_covered(mi, p, ks->n) < 2)
        return 0;
    for (int i = 0; i < ks->n; i++) {
        if (p[i].dropped)
            continue;
        for (int d = 0; d < mi->ndims; d++) {
            mi->part_lo[mi->nparts][d] = p[i].lo[d];
            mi->part_hi[mi->nparts][d] = p[i].hi[d];
        }
        mi->nparts++;
    }
    return mi->nparts;
}

/* ---- the transposed union: query parts of a key box ---------------------- */

/* The mask in disjunctive normal form over its literals (an atom or any
 * non-&&/|| subexpression, possibly negated): at most TIR_MAX_PARTS terms
 * of at most DNF_LITS literals. Exact boolean rewriting, so every pair the
 * mask keeps satisfies every literal of some term. */
enum { DNF_LITS = 24 };

typedef struct dnf_term {
    int n;
    const expr *lit[DNF_LITS];
    bool neg[DNF_LITS];
} dnf_term;

typedef struct dnf {
    int n;
    dnf_term t[TIR_MAX_PARTS];
} dnf;

/* false: more terms or literals than the limits. */
static bool dnf_of(const expr *e, bool neg, dnf *out)
{
    out->n = 0;
    if (e->kind == EX_UNARY && e->u.unop == UN_NOT && e->nargs == 1)
        return dnf_of(e->args[0], !neg, out);
    bool conj = e->kind == EX_BINARY && e->nargs == 2 && e->u.binop == (neg ? BIN_OR : BIN_AND);
    bool disj = e->kind == EX_BINARY && e->nargs == 2 && e->u.binop == (neg ? BIN_AND : BIN_OR);
    if (!conj && !disj) {
        out->n = 1;
        out->t[0] = (dnf_term){1, {e}, {neg}};
        return true;
    }
    dnf x, y;
    if (!dnf_of(e->args[0], neg, &x) || !dnf_of(e->args[1], neg, &y))
        return false;
    if (disj) {
        if (x.n + y.n > TIR_MAX_PARTS)
            return false;
        *out = x;
        for (int i = 0; i < y.n; i++)
            out->t[out->n++] = y.t[i];
        return true;
    }
    if (x.n * y.n > TIR_MAX_PARTS)
        return false;
    for (int i = 0; i < x.n; i++)
        for (int j = 0; j < y.n; j++) {
            dnf_term *t = &out->t[out->n++];
            if (x.t[i].n + y.t[j].n > DNF_LITS)
                return false;
            *t = x.t[i];
            for (int l = 0; l < y.t[j].n; l++) {
                t->lit[t->n] = y.t[j].lit[l];
                t->neg[t->n++] = y.t[j].neg[l];
            }
        }
    return true;
}

/* When no pair of term t can involve the key box (a bool over its corners,
 * false when unknown): one of its literals that reads no query coordinate
 * is false for every key of the box (sinks: k.t < 4 on a box past them). */
static expr *term_empty(const bctx *b, const dnf_term *t)
{
    arena *a = b->c.a;
    expr *empty = ex_bool(a, false);
    for (int i = 0; i < t->n; i++) {
        if (expr_uses_coord(t->lit[i], SIDE_Q) || t->lit[i]->type != TY_BOOL)
            continue;
        sym_bool sb = sym_cond(&b->c, t->lit[i]);
        expr *never = t->neg[i] ? sb.must_true : sb.must_false;
        if (never && !s_is_bool(never, false))
            empty = s_is_bool(empty, false) ? never : s_bin(a, BIN_OR, empty, never);
    }
    return empty;
}

/* Fills mi->qnparts and mi->qpart_lo/hi (query tiles of a key box, one
 * part per DNF term of the mask) when the mask is a union of 2..TIR_MAX_PARTS
 * terms each bounded on some side or empty on some key boxes; else leaves
 * qnparts 0 (the hull qrange_lo/hi alone). A term's part is its atoms
 * solved for the query (collect) and bounded over the key box, emptied
 * (hi -1) where term_empty holds; dropping literals only widens a part, so
 * the union holds every query tile that keeps a pair with the key box. */
int mask_bounds_derive_qparts(arena *a, const recipe *r, mask_info *mi)
{
    mi->qnparts = 0;
    dnf d;
    if (!r->mask || mask_dilated(mi) || !dnf_of(r->mask, false, &d) || d.n < 2)
        return 0;
    bctx b = {{a, r->grid_ndim, NULL}, SIDE_Q};
    for (int i = 0; i < d.n; i++) {
        const dnf_term *t = &d.t[i];
        key_bounds kb = {0};
        for (int l = 0; l < t->n; l++) {
            key_bounds one;
            collect(&b, t->lit[l], t->neg[l], &one);
            combine(&b.c, true, &kb, &one);
        }
        expr *lo[SCHED_MAX_DIMS], *hi[SCHED_MAX_DIMS];
        int sides = tile_bounds(&b, r, mi, &kb, lo, hi, NULL, NULL);
        expr *empty = term_empty(&b, t);
        if (!sides && s_is_bool(empty, false))
            return mi->qnparts = 0; /* this term sees every query tile: the hull */
        if (!s_is_bool(empty, false))
            hi[0] = s_select(a, empty, s_int(a, -1), hi[0]);
        for (int dd = 0; dd < mi->ndims; dd++) {
            mi->qpart_lo[i][dd] = lo[dd];
            mi->qpart_hi[i][dd] = hi[dd];
        }
    }
    mi->qnparts = d.n;
    return a->failed ? (mi->qnparts = 0) : mi->qnparts;
}
