/* mask_dilation.c — dilation-group tiling: which masks use it and the
 * geometry of its strided tiles at concrete sizes.
 *
 * A dilated neighborhood keeps a pair only when k.X mod δ == q.X mod δ, so a
 * contiguous query box's kept keys are spread over δ times more key tiles
 * than they fill (δ^2 on a 2-D grid). Under dilation-group tiling a tile of
 * dim d is a strided box of one group g: tokens g + δ·i' for i' in a run of
 * the group's own index i' = i div δ, the group holding
 * Lg = (L - g + δ - 1) div δ tokens. Query tile index q of dim d is group
 * q mod δ, group-local tile q div δ (δ · ceil(ceil(L/δ) / tile) tiles; the
 * last group-local tile of a shorter group may be empty). A query box's key
 * tiles are the group-local tiles of the same group, so inside the group the
 * mask is a plain neighborhood on the group's sub-grid and the range is as
 * tight as an undilated window's (mask_bounds.c divides by tile·δ). */
#include "mask_analysis.h"

bool mask_dilated(const mask_info *mi)
{
    for (int d = 0; d < SCHED_MAX_DIMS; d++)
        if (mi->dil[d] > 1)
            return true;
    return false;
}

int64_t tok_box_len(const tok_box *b, int d)
{
    if (b->hi[d] < b->lo[d])
        return 0;
    int64_t s = b->step[d] > 1 ? b->step[d] : 1;
    return (b->hi[d] - b->lo[d]) / s + 1;
}

/* Whether e is `q.X mod m` for tile dim d (the coordinate, or t on a sequence). */
static bool is_query_residue(const expr *e, int grid_ndim, int d, int64_t m)
{
    if (!e || e->kind != EX_BINARY || e->u.binop != BIN_MOD || e->nargs != 2)
        return false;
    const expr *x = e->args[0], *c = e->args[1];
    if (c->kind != EX_CONST_INT || c->u.ival != m || x->kind != EX_COORD || x->u.coord.side != SIDE_Q)
        return false;
    return grid_ndim == 0 ? x->u.coord.dim <= 0 : x->u.coord.dim == d;
}

/* The modulus every term requires on dim d as k mod δ == q mod δ, or 1. */
static int term_dilation(const key_set *ks, int grid_ndim, int d)
{
    int64_t dil = 0;
    for (int i = 0; i < ks->n; i++) {
        const key_term *t = &ks->t[i];
        int64_t found = 0;
        int vars[2] = {grid_ndim == 0 ? KEY_T : d, grid_ndim == 0 ? 0 : -1};
        for (int j = 0; j < 2; j++) {
            int v = vars[j];
            if (v >= 0 && t->mod[v] > 1 && is_query_residue(t->res[v], grid_ndim, d, t->mod[v]))
                found = t->mod[v];
        }
        if (!found || (dil && found != dil))
            return 1;
        dil = found;
    }
    return dil > 1 && dil <= (1 << 20) ? (int)dil : 1;
}

bool mask_group_dilation(arena *a, const recipe *r, const schedule *s, int dil[SCHED_MAX_DIMS])
{
    for (int d = 0; d < SCHED_MAX_DIMS; d++)
        dil[d] = 1;
    if (!r->mask || r->cross || r->family != FAMILY_SOFTMAX)
        return true;
    key_set *ks = ARENA_NEW(a, key_set);
    if (!ks || !mask_keys_collect(a, r->grid_ndim, r->mask, ks))
        return false;
    if (ks->n < 1)
        return true;
    int nd = r->grid_ndim > 0 ? r->grid_ndim : 1, want[SCHED_MAX_DIMS] = {1, 1, 1};
    bool any = false;
    for (int d = 0; d < nd; d++) {
        want[d] = term_dilation(ks, r->grid_ndim, d);
        any |= want[d] > 1;
    }
    if (!any)
        return true;
    mask_info mi;
    if (!mask_analyze_dil(a, r, s, want, &mi))
        return false;
    if (mi.mode != RANGE_BOUNDS || mi.span_param >= 0)
        return true; /* the old path: contiguous tiles */
    for (int d = 0; d < nd; d++)
        dil[d] = want[d];
    return true;
}

/* Group length of group g along an extent L. */
static int64_t group_len(int64_t L, int64_t dil, int64_t g)
{
    return L - g > 0 ? (L - g + dil - 1) / dil : 0;
}

void mask_kv_box(const mask_info *mi, const eval_env *env, const tok_box *q, const int64_t idx[], tok_box *out)
{
    int64_t ext[SCHED_MAX_DIMS];
    mask_extents(mi, env, false, ext);
    *out = (tok_box){0};
    for (int d = 0; d < mi->ndims; d++) {
        int64_t t = mi->kv_tile[d], dl = mi->dil[d] > 1 ? mi->dil[d] : 1;
        int64_t g = dl > 1 ? q->lo[d] % dl : 0, lg = group_len(ext[d], dl, g);
        int64_t first = idx[d] * t, last = first + t < lg ? first + t - 1 : lg - 1;
        out->step[d] = dl;
        out->lo[d] = first * dl + g;
        out->hi[d] = last >= first ? last * dl + g : out->lo[d] - 1;
    }
}

/* `coord mod c` of a dilated dim with c dividing δ: every row of a strided
 * box has the lo corner's residue, so the per-element mask reads the
 * corner (one value per tile) instead of dividing each coordinate. */
static bool group_residue(const expr *e, int grid_ndim, const int *dil, coord_side *side, int *d)
{
    if (e->kind != EX_BINARY || e->u.binop != BIN_MOD || e->nargs != 2 || e->type != TY_INT)
        return false;
    const expr *x = e->args[0], *c = e->args[1];
    if (x->kind != EX_COORD || c->kind != EX_CONST_INT || c->u.ival <= 0)
        return false;
    int dim = x->u.coord.dim;
    if (grid_ndim == 0 ? dim > 0 : (dim < 0 || dim >= grid_ndim))
        return false;
    *d = dim < 0 ? 0 : dim;
    *side = x->u.coord.side;
    return dil[*d] > 1 && dil[*d] % c->u.ival == 0;
}

expr *mask_dil_residues(arena *a, const expr *e, int grid_ndim, const int *dil)
{
    if (!e)
        return NULL;
    coord_side side;
    int d;
    if (group_residue(e, grid_ndim, dil, &side, &d))
        return ex_binary(a, BIN_MOD, ex_coord(a, side, TIR_BOX_LO + d), ex_int(a, e->args[1]->u.ival));
    if (e->nargs == 0)
        return (expr *)e;
    expr **args = NULL;
    for (int i = 0; i < e->nargs; i++) {
        expr *n = mask_dil_residues(a, e->args[i], grid_ndim, dil);
        if (n == e->args[i] || (!n && a->failed))
            continue;
        if (!args) {
            args = ARENA_ARRAY(a, expr *, e->nargs);
            if (!args)
                return NULL;
            for (int j = 0; j < e->nargs; j++)
                args[j] = e->args[j];
        }
        args[i] = n;
    }
    if (!args)
        return (expr *)e;
    expr *c = ARENA_NEW(a, expr);
    if (!c)
        return NULL;
    *c = *e;
    c->args = args;
    return c;
}
