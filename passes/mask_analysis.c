/* mask_analysis.c — the mask_analysis pass: fills the kernel's kv_range op
 * (mode and closed-form tile bounds) and tile_class op (full/empty tests)
 * from mask_analyze(). The concrete evaluators live in mask_eval.c, the
 * range derivation in mask_bounds.c, the interval rules in mask_sym.c. */
#include "mask_analysis.h"
#include "mask_sym.h"
#include "passes.h"

bool mask_bounds_derive(arena *a, const recipe *r, mask_info *mi);

static bool uses_head(const expr *m)
{
    return expr_uses_kind(m, EX_HEAD) || expr_uses_kind(m, EX_KV_HEAD);
}

bool mask_analyze(arena *a, const recipe *r, const schedule *s, mask_info *out)
{
    *out = (mask_info){0};
    out->grid_ndim = r->grid_ndim;
    out->ndims = r->grid_ndim > 0 ? r->grid_ndim : 1;
    for (int d = 0; d < out->ndims; d++) {
        out->q_tile[d] = s->q_tile[d] > 0 ? s->q_tile[d] : 1;
        out->kv_tile[d] = s->kv_tile[d] > 0 ? s->kv_tile[d] : 1;
    }
    out->mask = r->mask;
    if (!r->mask) {
        out->mode = RANGE_ALL;
        out->full = ex_bool(a, true);
        out->empty = ex_bool(a, false);
        return out->full && out->empty;
    }
    out->uses_head = uses_head(r->mask);
    out->uses_batch = expr_uses_kind(r->mask, EX_BATCH);
    sym_ctx c = {a, r->grid_ndim};
    sym_bool b = sym_cond(&c, r->mask);
    out->full = b.must_true;
    out->empty = b.must_false;
    if (mask_bounds_derive(a, r, out))
        out->mode = RANGE_BOUNDS;
    else
        out->mode = expr_uses_kind(r->mask, EX_PARAM) ? RANGE_BLOCK_TABLE : RANGE_ALL;
    return !a->failed && out->full && out->empty;
}

typedef struct fill_ctx {
    const mask_info *mi;
    int nfilled;
} fill_ctx;

static void fill_op(tir_op *op, void *user)
{
    fill_ctx *f = user;
    const mask_info *mi = f->mi;
    if (op->kind == TIR_KV_RANGE) {
        op->range_mode = mi->mode;
        op->range_ndims = mi->mode == RANGE_BOUNDS ? mi->ndims : 0;
        for (int d = 0; d < op->range_ndims; d++) {
            op->range_lo[d] = mi->range_lo[d];
            op->range_hi[d] = mi->range_hi[d];
        }
        f->nfilled++;
    } else if (op->kind == TIR_TILE_CLASS) {
        op->full_expr = mi->full;
        op->empty_expr = mi->empty;
    }
}

bool pass_mask_analysis(tir_kernel *k, const recipe *r, strbuf *err)
{
    if (k->family == FAMILY_LINEAR)
        return true; /* linear attention visits every block; causality is in decay_mask */
    mask_info mi;
    if (!mask_analyze(k->arena, r, &k->sched, &mi)) {
        sb_puts(err, "mask analysis: out of memory");
        return false;
    }
    fill_ctx f = {&mi, 0};
    tir_walk(k->body, fill_op, &f);
    if (f.nfilled != 1) {
        sb_printf(err, "mask analysis: expected one kv_range op, found %d", f.nfilled);
        return false;
    }
    return true;
}
