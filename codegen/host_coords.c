/* host_coords.c — token coordinates of tile rows and the emit_expr
 * environment of the host generator.
 *
 * A box tile's rows enumerate the box row-major (last dim fastest); row r
 * has box-local coordinates r_d and global coordinates lo_d + r_d. The flat
 * token index is row-major over the grid extents (t = (z*Y + y)*X + x); for a
 * plain sequence the one coordinate is t itself. Box corners used by range
 * and class expressions are lo_d and the clipped hi_d = min(lo_d+ext_d, L_d)-1. */
#include "host_gen.h"

LLVMValueRef hbox_extent(hgen *g, const hval *box, int d)
{
    if (g->tk->grid_ndim > 0)
        return g->size[SZ_GRID0 + d];
    return g->size[box->kside ? SZ_KV_TOKENS : SZ_TOKENS];
}

int hbox_rows(const hval *box)
{
    int n = 1;
    for (int d = 0; d < box->nd; d++)
        n *= box->ext[d];
    return n;
}

LLVMValueRef hbox_hi(hgen *g, const hval *box, int d)
{
    if (hdil(g, d) > 1)
        return hdil_box_hi(g, box, d);
    LLVMValueRef end = LLVMBuildAdd(g->b, box->lo[d], hc_i64(g, box->ext[d]), "");
    end = hgen_imin(g, end, hbox_extent(g, box, d));
    return LLVMBuildSub(g->b, end, hc_i64(g, 1), "");
}

hrow hbox_row(hgen *g, const hval *box, LLVMValueRef row)
{
    hrow h = {0}; /* box->nd >= 1 always; zeroed so -O2 can see c[0] is set */
    LLVMValueRef rem = row;
    h.valid = LLVMConstInt(g->i1, 1, false);
    for (int d = box->nd - 1; d >= 0; d--) {
        LLVMValueRef local = rem;
        if (d > 0) {
            local = LLVMBuildURem(g->b, rem, hc_i64(g, box->ext[d]), "");
            rem = LLVMBuildUDiv(g->b, rem, hc_i64(g, box->ext[d]), "");
        }
        if (hdil(g, d) > 1) /* a strided box of one dilation group */
            local = LLVMBuildMul(g->b, local, hc_i64(g, hdil(g, d)), "");
        h.c[d] = LLVMBuildAdd(g->b, box->lo[d], local, "");
        LLVMValueRef in = LLVMBuildICmp(g->b, LLVMIntSLT, h.c[d], hbox_extent(g, box, d), "");
        h.valid = LLVMBuildAnd(g->b, h.valid, in, "");
    }
    h.t = h.c[0];
    for (int d = 1; d < box->nd; d++)
        h.t = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, h.t, hbox_extent(g, box, d), ""), h.c[d], "");
    for (int d = box->nd; d < SCHED_MAX_DIMS; d++)
        h.c[d] = hc_i64(g, 0);
    return h;
}

LLVMValueRef hgen_tiles_along(hgen *g, bool kside, int d, int ext)
{
    hval probe = {0};
    probe.kside = kside;
    LLVMValueRef L = hbox_extent(g, &probe, d);
    return LLVMBuildSDiv(g->b, LLVMBuildAdd(g->b, L, hc_i64(g, ext - 1), ""), hc_i64(g, ext), "");
}

/* ---- emit_expr callbacks ---- */

static LLVMValueRef cb_coord(void *user, coord_side side, int dim)
{
    hexpr_ctx *x = user;
    hgen *g = x->g;
    const hval *box = side == SIDE_Q ? x->qbox : x->kbox;
    if (dim >= TIR_BOX_HI && box && dim - TIR_BOX_HI < box->nd)
        return hbox_hi(g, box, dim - TIR_BOX_HI);
    if (dim >= TIR_BOX_LO && dim < TIR_BOX_HI && box && dim - TIR_BOX_LO < box->nd)
        return box->lo[dim - TIR_BOX_LO];
    const hrow *r = side == SIDE_Q ? x->q : x->k;
    if (!r || dim >= SCHED_MAX_DIMS)
        return NULL;
    return dim < 0 ? r->t : r->c[dim];
}

static LLVMValueRef cb_size(void *user, size_id id)
{
    hexpr_ctx *x = user;
    return id < SZ_MAX ? x->g->size[id] : NULL;
}

static LLVMValueRef cb_leaf(void *user, expr_kind k)
{
    hexpr_ctx *x = user;
    switch (k) {
    case EX_HEAD: return x->g->head;
    case EX_KV_HEAD: return x->g->kv_head;
    case EX_BATCH: return x->g->batch;
    case EX_SCORE: return x->score;
    default: return NULL;
    }
}

/* Element of a runtime param: indices clamped into its shape, converted to
 * int64 or f32 by dtype. */
static LLVMValueRef cb_param(void *user, int p, LLVMValueRef *idx, int n)
{
    hexpr_ctx *x = user;
    hgen *g = x->g;
    if (p < 0 || p >= g->tk->nparams)
        return NULL;
    const tir_param *rp = &g->tk->params[p];
    LLVMValueRef off = hc_i64(g, 0);
    for (int d = 0; d < rp->ndim; d++) {
        LLVMValueRef i = d < n ? idx[d] : hc_i64(g, 0);
        LLVMValueRef top = LLVMBuildSub(g->b, g->param_shape[p][d], hc_i64(g, 1), "");
        i = hgen_imax(g, hgen_imin(g, i, top), hc_i64(g, 0));
        off = LLVMBuildAdd(g->b, off, LLVMBuildMul(g->b, i, g->param_stride[p][d], ""), "");
    }
    LLVMTypeRef et;
    switch (rp->dtype) {
    case DT_BF16:
    case DT_F16: et = g->i16; break;
    case DT_F32: et = g->f32; break;
    case DT_I32: et = g->i32; break;
    case DT_I64: et = g->i64; break;
    default: et = g->i8; break;
    }
    LLVMValueRef ptr = LLVMBuildGEP2(g->b, et, g->param_ptr[p], &off, 1, "");
    LLVMValueRef v = LLVMBuildLoad2(g->b, et, ptr, "");
    switch (rp->dtype) {
    case DT_BF16: {
        LLVMValueRef w = LLVMBuildShl(g->b, LLVMBuildZExt(g->b, v, g->i32, ""), LLVMConstInt(g->i32, 16, false), "");
        return LLVMBuildBitCast(g->b, w, g->f32, "");
    }
    case DT_F16: return LLVMBuildFPExt(g->b, LLVMBuildBitCast(g->b, v, LLVMHalfTypeInContext(g->ctx), ""), g->f32, "");
    case DT_U8: return LLVMBuildZExt(g->b, v, g->i64, "");
    case DT_I32: return LLVMBuildSExt(g->b, v, g->i64, "");
    default: return v;
    }
}

LLVMValueRef hgen_expr(hexpr_ctx *x, const expr *e)
{
    hgen *g = x->g;
    expr_env env = {g->ctx, g->mod, g->b, g->i64, false, cb_coord, cb_size, cb_leaf, cb_param, x, NULL};
    LLVMValueRef v = emit_expr(&env, e);
    if (!v)
        hgen_fail(g, "internal error: host codegen cannot emit an expression (unexpected leaf or form)");
    return v;
}
