/* nvptx_bwd_parts.c — the GPU backward's union parts ($ATTNC_BWD_PARTS,
 * nvptx_kernel.h): the tiles that mask analysis skips in the forward are
 * skipped in the backward too.
 *
 * dQ kernel: the forward's key parts of the kv_range (sinks || window),
 * read into the plan as nvptx_plan.c reads them; fa2_range and
 * fa2_kv_tile_origin then walk them as the forward does.
 *
 * dK/dV kernel: the q_range's transposed parts (mask_analysis.h, qnparts:
 * one box of query tiles per term of the mask over the key box; for
 * causal && (sinks || window) a sink key tile sees every later query
 * tile, a window key tile those up to the window's end). Each part is
 * clamped like the hull, clipped to it and normalised (range_parts.h), and
 * the loop's flat index j runs over the parts' tiles in order: gb_q_part
 * maps it to its part. An inverse q range with parts (sinks || window
 * without causal: the forward's hull holds every sink, so its inversion
 * is nearly every query tile) becomes a bounds range over every query tile
 * with the parts inside, with no scan and no forward-range check (the
 * parts hold every query tile keeping a pair, the mask and the class test
 * do the rest). Without parts (or with the switch off) the hull. */
#include "nvptx_bwd_impl.h"
#include "range_parts.h"

void gb_parts_read(const tir_op *op, bwd_plan *bp)
{
    bool q = op->kind == TIR_Q_RANGE, inverse = q && op->range_mode == RANGE_INVERSE;
    if (!nvptx_bwd_parts_on() || (op->range_mode != RANGE_BOUNDS && !inverse) || op->range_nparts < 2)
        return;
    int n = op->range_nparts, nd = bp->fp.ndims;
    if (op->range_ndims != nd || n > TIR_MAX_PARTS || (!q && op->kind != TIR_KV_RANGE))
        return;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < nd; d++)
            if (!op->part_lo[i][d] || !op->part_hi[i][d])
                return; /* the hull alone */
    for (int i = 0; i < n; i++)
        for (int d = 0; d < nd; d++) {
            if (q) {
                bp->qplo[i][d] = op->part_lo[i][d];
                bp->qphi[i][d] = op->part_hi[i][d];
            } else {
                bp->fp.plo[i][d] = op->part_lo[i][d];
                bp->fp.phi[i][d] = op->part_hi[i][d];
            }
        }
    if (q)
        bp->q_nparts = n;
    else
        bp->fp.nparts = n;
    if (inverse) { /* the parts inside every query tile: no scan, no forward-range check */
        bp->qmode = RANGE_BOUNDS;
        for (int d = 0; d < 3; d++)
            bp->qlo[d] = bp->qhi[d] = NULL;
    }
}

LLVMValueRef gb_q_parts(gbw *g, const LLVMValueRef *lo, const LLVMValueRef *hi, const LLVMValueRef *last)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    const bwd_plan *bp = g->bp;
    rparts rp = {0};
    rp.n = bp->q_nparts;
    rp.nd = f->p->ndims;
    f->mode = EXM_BOX; /* over the key box (k_lo/k_hi), as the hull's bounds */
    for (int i = 0; i < rp.n; i++)
        for (int d = 0; d < rp.nd; d++)
            gb_q_bounds(g, bp->qplo[i][d], bp->qphi[i][d], last[d], &rp.lo[i][d], &rp.hi[i][d]);
    rparts_clip(nv->b, &rp, lo, hi);
    rparts_normalize(nv->b, nv->i32, &rp);
    LLVMValueRef base = nv_i32(nv, 0);
    for (int i = 0; i < rp.n; i++) {
        g->qp_base[i] = base;
        for (int d = 0; d < rp.nd; d++) {
            g->qp_lo[i][d] = rp.lo[i][d];
            LLVMValueRef span = LLVMBuildSub(nv->b, rp.hi[i][d], rp.lo[i][d], "");
            g->qp_cnt[i][d] = nv_smax(nv, LLVMBuildAdd(nv->b, span, nv_i32(nv, 1), ""), nv_i32(nv, 0));
        }
        base = LLVMBuildAdd(nv->b, base, rparts_count(nv->b, nv->i32, &rp, i), "");
    }
    return base;
}

/* Empty parts have the next one's base, so the last part whose base is
 * <= j holds it. */
LLVMValueRef gb_q_part(gbw *g, LLVMValueRef j, LLVMValueRef *lo, LLVMValueRef *cnt)
{
    nv_ctx *nv = &g->f.nv;
    int nd = g->f.p->ndims;
    LLVMValueRef base = g->qp_base[0];
    for (int d = 0; d < nd; d++) {
        lo[d] = g->qp_lo[0][d];
        cnt[d] = g->qp_cnt[0][d];
    }
    for (int i = 1; i < g->bp->q_nparts; i++) {
        LLVMValueRef in = LLVMBuildICmp(nv->b, LLVMIntSGE, j, g->qp_base[i], "");
        base = LLVMBuildSelect(nv->b, in, g->qp_base[i], base, "");
        for (int d = 0; d < nd; d++) {
            lo[d] = LLVMBuildSelect(nv->b, in, g->qp_lo[i][d], lo[d], "");
            cnt[d] = LLVMBuildSelect(nv->b, in, g->qp_cnt[i][d], cnt[d], "");
        }
    }
    return LLVMBuildSub(nv->b, j, base, "");
}
