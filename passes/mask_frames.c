/* mask_frames.c — see mask_frames.h. */
#include "mask_frames.h"

enum { LV_NONE, LV_FRAME, LV_ELEM }; /* what of the key a subtree reads */

static bool is_key(const expr *e)
{
    return e->kind == EX_COORD && e->u.coord.side == SIDE_K;
}

/* c > 0 when e is `k.t op c` (a constant; the flat token or dim 0). */
static int64_t key_by(const expr *e, expr_binop op)
{
    if (e->kind != EX_BINARY || e->u.binop != op || e->nargs != 2 || !is_key(e->args[0]) ||
        e->args[0]->u.coord.dim > 0)
        return 0;
    const expr *c = e->args[1];
    return c->kind == EX_CONST_INT && c->u.ival > 0 ? c->u.ival : 0;
}

bool mask_is_key_by(const expr *e, expr_binop op, int64_t F)
{
    return F > 0 && key_by(e, op) == F;
}

/* Whether every key coordinate of e is under `div F` or `mod F`, one F
 * (*F: 0 until the first is seen). */
static bool one_period(const expr *e, int64_t *F)
{
    int64_t c = key_by(e, BIN_DIV);
    if (!c)
        c = key_by(e, BIN_MOD);
    if (c) {
        if (*F && *F != c)
            return false;
        *F = c;
        return true;
    }
    if (is_key(e))
        return false;
    for (int i = 0; i < e->nargs; i++)
        if (!one_period(e->args[i], F))
            return false;
    return true;
}

static int level(const expr *e, int64_t F)
{
    if (key_by(e, BIN_DIV) == F)
        return LV_FRAME;
    if (is_key(e) || e->kind == EX_SCORE)
        return LV_ELEM;
    int lv = LV_NONE;
    for (int i = 0; i < e->nargs; i++) {
        int l = level(e->args[i], F);
        lv = l > lv ? l : lv;
    }
    return lv;
}

static bool collect(const expr *e, int64_t F, const expr **nodes, int *n, int max)
{
    int lv = level(e, F);
    if (lv == LV_NONE)
        return true;
    if (lv == LV_FRAME) {
        for (int i = 0; i < *n; i++)
            if (nodes[i] == e)
                return true;
        if (*n == max)
            return false;
        nodes[(*n)++] = e;
        return true;
    }
    for (int i = 0; i < e->nargs; i++)
        if (!collect(e->args[i], F, nodes, n, max))
            return false;
    return true;
}

int mask_key_frame_nodes(const expr *mask, int64_t F, const expr **nodes, int max)
{
    int n = 0;
    return mask && collect(mask, F, nodes, &n, max) ? n : -1;
}

const expr *mask_key_atom(const expr *mask, int64_t F)
{
    const expr *atom = NULL;
    for (const expr *e = mask; e && level(e, F) == LV_ELEM;) {
        if (e->type == TY_BOOL)
            atom = e;
        const expr *next = NULL;
        int n = 0;
        for (int i = 0; i < e->nargs; i++)
            if (level(e->args[i], F) == LV_ELEM)
                next = e->args[i], n++;
        e = n == 1 ? next : NULL;
    }
    return atom;
}

int64_t mask_key_period(const expr *mask, int grid_ndim, int kv_tile)
{
    enum { MAX_NODES = 16 };
    const expr *nodes[MAX_NODES];
    int64_t F = 0;
    if (!mask || grid_ndim != 0 || !one_period(mask, &F) || F < kv_tile || F > INT32_MAX)
        return 0;
    return mask_key_frame_nodes(mask, F, nodes, MAX_NODES) > 0 ? F : 0;
}

/* b's parts split at its first multiple of F after lo: 1 or 2. */
static int split(const tok_box *b, int64_t F, tok_box parts[2])
{
    int64_t cut = (b->lo[0] / F + 1) * F;
    parts[0] = parts[1] = *b;
    if (cut > b->hi[0])
        return 1;
    parts[0].hi[0] = cut - 1;
    parts[1].lo[0] = cut;
    return 2;
}

mask_class mask_classify_frames(const mask_info *mi, const eval_env *env, const tok_box *q, const tok_box *k,
                                int64_t F)
{
    mask_class cl = mask_classify_boxes(mi, env, q, k);
    if (cl != MASK_PARTIAL || F <= 0 || mi->ndims != 1 || mi->grid_ndim != 0 || mask_dilated(mi))
        return cl;
    tok_box qp[2], kp[2];
    int nq = split(q, F, qp), nk = split(k, F, kp);
    if (nq == 1 && nk == 1)
        return cl;
    bool empty = true, full = true;
    for (int i = 0; i < nq; i++)
        for (int j = 0; j < nk; j++) {
            mask_class c = mask_classify_boxes(mi, env, &qp[i], &kp[j]);
            empty &= c == MASK_EMPTY;
            full &= c == MASK_FULL;
        }
    return empty ? MASK_EMPTY : full ? MASK_FULL : MASK_PARTIAL;
}
