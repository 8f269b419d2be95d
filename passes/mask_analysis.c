/* mask_analysis.c — the mask_analysis pass: fills the kernel's kv_range op
 * (mode and closed-form tile bounds) and tile_class op (full/empty tests)
 * from mask_analyze(). The concrete evaluators live in mask_eval.c, the
 * range derivation in mask_bounds.c, the interval rules in mask_sym.c.
 *
 * Those rules compute with exact integers, while the language's ints wrap
 * on overflow. So the analysis only applies to a mask none of whose integer
 * operations can overflow for any launch within the size limits, and keeps
 * a derived test or bound only when it cannot overflow either
 * (ir/expr_range.h); otherwise every tile pair is partial and the mask is
 * evaluated per element, with the language's exact semantics. */
#include "mask_analysis.h"
#include "mask_sym.h"
#include "passes.h"

int mask_bounds_derive(arena *a, const recipe *r, mask_info *mi);
int mask_bounds_derive_q(arena *a, const recipe *r, mask_info *mi);
int mask_bounds_derive_parts(arena *a, const recipe *r, mask_info *mi);
int mask_bounds_derive_qparts(arena *a, const recipe *r, mask_info *mi);

static bool uses_head(const expr *m)
{
    return expr_uses_kind(m, EX_HEAD) || expr_uses_kind(m, EX_KV_HEAD);
}

void mask_range_env(const recipe *r, range_env *env)
{
    int64_t fixed[SZ_MAX];
    for (int i = 0; i < SZ_MAX; i++)
        fixed[i] = r->sizes[i].fixed;
    range_env_init(env, r->grid_ndim, fixed);
    env->nparams = r->nparams < RANGE_MAX_PARAMS ? r->nparams : RANGE_MAX_PARAMS;
    for (int i = 0; i < env->nparams; i++)
        env->param_dtype[i] = r->params[i].dtype;
}

static bool fits(const expr *e, const range_env *env)
{
    return expr_int_range(e, env).fits;
}

/* Drops every derived test or bound that could overflow when evaluated. */
static void keep_exact(arena *a, const range_env *env, mask_info *mi)
{
    if (!fits(mi->full, env))
        mi->full = ex_bool(a, false);
    if (!fits(mi->empty, env))
        mi->empty = ex_bool(a, false);
    tir_range_mode unbounded = expr_uses_kind(mi->mask, EX_PARAM) ? RANGE_BLOCK_TABLE : RANGE_ALL;
    for (int d = 0; d < mi->ndims && mi->qmode == RANGE_BOUNDS; d++)
        if (!mi->qrange_lo[d] || !mi->qrange_hi[d] || !fits(mi->qrange_lo[d], env) || !fits(mi->qrange_hi[d], env))
            mi->qmode = RANGE_INVERSE; /* the forward's bounds inverted, if they stay */
    for (int p = 0; p < mi->qnparts; p++)
        for (int d = 0; d < mi->ndims; d++)
            if (!fits(mi->qpart_lo[p][d], env) || !fits(mi->qpart_hi[p][d], env))
                mi->qnparts = 0; /* the hull alone */
    if (mi->mode != RANGE_BOUNDS) {
        mi->nparts = mi->qnparts = 0;
        return;
    }
    for (int d = 0; d < mi->ndims; d++)
        if (!fits(mi->range_lo[d], env) || !fits(mi->range_hi[d], env)) {
            mi->mode = mi->qmode = unbounded; /* the transposed ranges invert these */
            mi->nparts = mi->qnparts = 0;
            return;
        }
    for (int p = 0; p < mi->nparts; p++)
        for (int d = 0; d < mi->ndims; d++)
            if (!fits(mi->part_lo[p][d], env) || !fits(mi->part_hi[p][d], env))
                mi->nparts = 0; /* the hull alone */
}

/* P[t] or P[batch, t] with t side's flat token index: the param, or -1. */
static int doc_read(const recipe *r, const expr *e, coord_side side)
{
    if (!e || e->kind != EX_PARAM || e->u.param < 0 || e->u.param >= r->nparams)
        return -1;
    const recipe_param *p = &r->params[e->u.param];
    if (e->nargs != p->ndim || e->nargs < 1 || e->nargs > 2 || (p->dtype != DT_I32 && p->dtype != DT_I64))
        return -1;
    const expr *t = e->args[e->nargs - 1];
    if (t->kind != EX_COORD || t->u.coord.side != side || t->u.coord.dim > 0)
        return -1;
    if (e->nargs == 2 && (e->args[0]->kind != EX_BATCH || p->const_dims[0] > 0 || p->dims[0] != SZ_BATCH))
        return -1;
    return e->u.param;
}

/* The document-id param every term of the key set filters on (ids[k] ==
 * ids[q], the same param and layout in each), or -1. A term's filter is
 * one of its conjuncts, so the mask keeps no pair of two documents. */
static int doc_span_param(const recipe *r, const mask_info *mi)
{
    const key_set *ks = mi->keys;
    /* a block table: a range bounded by nothing but the document filter
     * (document(ids) alone); its kv_range gets the whole key range as
     * bounds beside the cut (fill_op) */
    bool table = mi->mode == RANGE_BLOCK_TABLE && mi->nparts == 0 && mi->range_lo[0] && mi->range_hi[0];
    if (r->grid_ndim != 0 || r->cross || (mi->mode != RANGE_BOUNDS && !table) || !ks || ks->n < 1)
        return -1;
    int param = -1;
    for (int i = 0; i < ks->n; i++) {
        int pk = doc_read(r, ks->t[i].fk[KEY_T], SIDE_K), pq = doc_read(r, ks->t[i].fq[KEY_T], SIDE_Q);
        if (pk < 0 || pk != pq || (param >= 0 && pk != param))
            return -1;
        param = pk;
    }
    return param;
}

static bool is_true(const expr *e)
{
    return e && e->kind == EX_CONST_BOOL && e->u.ival;
}

/* e with every document filter of param (either side first) as true. */
static expr *drop_filter(arena *a, const recipe *r, const expr *e, int param)
{
    if (!e)
        return NULL;
    if (e->kind == EX_BINARY && e->u.binop == BIN_EQ && e->nargs == 2) {
        const expr *x = e->args[0], *y = e->args[1];
        if ((doc_read(r, x, SIDE_K) == param && doc_read(r, y, SIDE_Q) == param) ||
            (doc_read(r, x, SIDE_Q) == param && doc_read(r, y, SIDE_K) == param))
            return ex_bool(a, true);
    }
    switch (e->kind) {
    case EX_UNARY: return ex_unary(a, e->u.unop, drop_filter(a, r, e->args[0], param));
    case EX_BINARY: {
        expr *x = drop_filter(a, r, e->args[0], param), *y = drop_filter(a, r, e->args[1], param);
        /* `true && m` is m: the filter gone, the kernel's element mask has no term for it */
        if (e->u.binop == BIN_AND && is_true(x))
            return y;
        if (e->u.binop == BIN_AND && is_true(y))
            return x;
        return ex_binary(a, e->u.binop, x, y);
    }
    case EX_SELECT:
        return ex_select(a, drop_filter(a, r, e->args[0], param), drop_filter(a, r, e->args[1], param),
                         drop_filter(a, r, e->args[2], param));
    default: return (expr *)e; /* leaves (and param reads) are shared, never written */
    }
}

/* Both tests inside one document of param from one pass: the full test
 * over the boxes (the return) and, where it exists, the element mask
 * without the filter (*elem, when elem is not NULL; NULL where it still
 * reads a param). */
static const expr *span_tests(arena *a, const recipe *r, int param, const expr **elem)
{
    if (elem)
        *elem = NULL;
    if (!r->mask || param < 0 || param >= r->nparams || r->grid_ndim != 0)
        return NULL;
    range_env env;
    mask_range_env(r, &env);
    if (!fits(r->mask, &env))
        return NULL;
    expr *m = drop_filter(a, r, r->mask, param);
    if (!m)
        return NULL;
    sym_ctx c = {a, 0, NULL};
    const expr *full = sym_cond(&c, m).must_true;
    if (!full || (full->kind == EX_CONST_BOOL && !full->u.ival) || !fits(full, &env))
        return NULL;
    if (elem && !expr_uses_kind(m, EX_PARAM))
        *elem = m;
    return full;
}

const expr *mask_span_full(arena *a, const recipe *r, int param)
{
    return span_tests(a, r, param, NULL);
}

const expr *mask_span_elem(arena *a, const recipe *r, int param)
{
    const expr *elem;
    span_tests(a, r, param, &elem);
    return elem;
}

bool mask_analyze(arena *a, const recipe *r, const schedule *s, mask_info *out)
{
    return mask_analyze_dil(a, r, s, NULL, out);
}

bool mask_analyze_dil(arena *a, const recipe *r, const schedule *s, const int *dil, mask_info *out)
{
    *out = (mask_info){0};
    out->span_param = -1;
    out->grid_ndim = r->grid_ndim;
    out->ndims = r->grid_ndim > 0 ? r->grid_ndim : 1;
    for (int d = 0; d < SCHED_MAX_DIMS; d++)
        out->dil[d] = dil && d < out->ndims && dil[d] > 1 ? dil[d] : 1;
    for (int d = 0; d < out->ndims; d++) {
        out->q_tile[d] = s->q_tile[d] > 0 ? s->q_tile[d] : 1;
        out->kv_tile[d] = s->kv_tile[d] > 0 ? s->kv_tile[d] : 1;
    }
    out->mask = r->mask;
    out->keys = ARENA_NEW(a, key_set);
    if (!out->keys || !mask_keys_collect(a, r->grid_ndim, r->mask, out->keys))
        return false;
    if (!r->mask) {
        out->mode = out->qmode = RANGE_ALL;
        out->full = ex_bool(a, true);
        out->empty = ex_bool(a, false);
        return out->full && out->empty;
    }
    out->uses_head = uses_head(r->mask);
    range_env env;
    mask_range_env(r, &env);
    bool exact = fits(r->mask, &env);
    out->uses_batch = expr_uses_kind(r->mask, EX_BATCH);
    sym_ctx c = {a, r->grid_ndim, mask_dilated(out) ? out->dil : NULL};
    sym_bool b = exact ? sym_cond(&c, r->mask) : (sym_bool){ex_bool(a, false), ex_bool(a, false)};
    out->full = b.must_true;
    out->empty = b.must_false;
    tir_range_mode unbounded = expr_uses_kind(r->mask, EX_PARAM) ? RANGE_BLOCK_TABLE : RANGE_ALL;
    int kbound = exact ? mask_bounds_derive(a, r, out) : 0;
    int qbound = exact ? mask_bounds_derive_q(a, r, out) : 0;
    /* a union of bounded parts bounds the range even when their hull is
     * everything (k.t < 4 || k.t >= kv_tokens - 16); masks that read
     * runtime tensors keep their block table then */
    int parts = exact && (kbound || unbounded == RANGE_ALL) ? mask_bounds_derive_parts(a, r, out) : 0;
    out->mode = kbound || parts ? RANGE_BOUNDS : unbounded;
    /* the transposed closed form when it bounds as many sides as the
     * forward's; else invert the forward's bounds (neighborhoods) */
    out->qmode = !kbound ? unbounded : qbound >= kbound ? RANGE_BOUNDS : RANGE_INVERSE;
    if (out->qmode == RANGE_BOUNDS || out->qmode == RANGE_INVERSE)
        mask_bounds_derive_qparts(a, r, out);
    keep_exact(a, &env, out);
    out->span_param = doc_span_param(r, out);
    out->span_ndim = out->span_param >= 0 ? r->params[out->span_param].ndim : 0;
    return !a->failed && out->full && out->empty;
}

typedef struct fill_ctx {
    const mask_info *mi;
    int nfilled;
    const tir_kernel *k;
    const recipe *r;
} fill_ctx;

static void fill_op(tir_op *op, void *user)
{
    fill_ctx *f = user;
    const mask_info *mi = f->mi;
    if (op->kind == TIR_KV_RANGE || op->kind == TIR_Q_RANGE) {
        bool q = op->kind == TIR_Q_RANGE;
        op->range_mode = q ? mi->qmode : mi->mode;
        bool bounds = op->range_mode == RANGE_BOUNDS;
        /* a block table cut by documents (document(ids) alone): the whole
         * key range as bounds too, so that a consumer of the cut (the GPU
         * kernels) visits each query tile's documents only; one without it
         * (the host) keeps the table */
        bool doc_table = !q && op->range_mode == RANGE_BLOCK_TABLE && mi->span_param >= 0;
        op->range_ndims = bounds || doc_table || op->range_mode == RANGE_INVERSE ? mi->ndims : 0;
        for (int d = 0; d < op->range_ndims; d++) { /* inverse: the forward's bounds */
            op->range_lo[d] = q && bounds ? mi->qrange_lo[d] : mi->range_lo[d];
            op->range_hi[d] = q && bounds ? mi->qrange_hi[d] : mi->range_hi[d];
        }
        bool qparts = q && (bounds || op->range_mode == RANGE_INVERSE);
        op->range_nparts = qparts ? mi->qnparts : !q && bounds ? mi->nparts : 0;
        op->span = !q && (bounds || doc_table) && mi->span_param >= 0;
        op->span_param = op->span ? mi->span_param : -1;
        const expr *elem = NULL;
        op->span_full_expr = op->span ? (expr *)span_tests(f->k->arena, f->r, op->span_param, &elem) : NULL;
        op->span_mask_expr = (expr *)elem;
        for (int p = 0; p < op->range_nparts; p++)
            for (int d = 0; d < mi->ndims; d++) {
                op->part_lo[p][d] = q ? mi->qpart_lo[p][d] : mi->part_lo[p][d];
                op->part_hi[p][d] = q ? mi->qpart_hi[p][d] : mi->part_hi[p][d];
            }
        f->nfilled++;
    } else if (op->kind == TIR_TILE_CLASS) {
        op->full_expr = mi->full;
        op->empty_expr = mi->empty;
    } else if (op->kind == TIR_SCORE && op->mask_expr && mask_dilated(mi)) {
        /* dilation groups: `k mod δ == q mod δ` and the groups' lengths
         * are one value per tile, not per element */
        op->mask_expr = mask_dil_residues(f->k->arena, op->mask_expr, mi->grid_ndim, mi->dil);
    }
}

bool pass_mask_analysis(tir_kernel *k, const recipe *r, strbuf *err)
{
    if (k->family == FAMILY_LINEAR)
        return true; /* linear attention visits every block; causality is in decay_mask */
    mask_info mi;
    if (!mask_analyze_dil(k->arena, r, &k->sched, k->dil, &mi)) {
        sb_puts(err, "mask analysis: out of memory");
        return false;
    }
    fill_ctx f = {&mi, 0, k, r};
    tir_walk(k->body, fill_op, &f);
    int want = k->programs == PROG_DEFAULT ? 1 : f.nfilled > 1 ? 1 : f.nfilled; /* backward kernels: 0 or 1 */
    if (f.nfilled != want) {
        sb_printf(err, "mask analysis: expected one kv_range or q_range op, found %d", f.nfilled);
        return false;
    }
    return true;
}
