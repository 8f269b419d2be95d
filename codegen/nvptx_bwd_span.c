/* nvptx_bwd_span.c — the document span cut in the GPU backward
 * (bp->doc_param, $ATTNC_BWD_DOC_SPAN=1): a mask that keeps only pairs of
 * one document (mask analysis' span, ir/tile_ir.h) lets each kernel skip
 * the tiles of other documents, as the forward does (nvptx_fa2_span.c).
 *
 *   dQ kernel: one CTA per query tile over its key range: the forward's cut
 *     itself (fa2_range -> fa2_doc_span on the dQ plan, nvptx_bwd.c
 *     emit_one), and its full-tile runs under ATTNC_DOC_FULL.
 *   dK/dV kernel: one CTA per key tile over its query range: the same scan
 *     transposed (here). The key tile's first and last key give ids v1,
 *     v2; when every key of the tile has one of them, the CTA scans the
 *     queries of its static query range for v1 / v2 and cuts the range to
 *     the tiles of the first and last such query (empty: none). A key tile
 *     with a third id keeps its range (documents shorter than a tile), so
 *     any ids stay correct: documents need not be contiguous or sorted.
 * The static range scanned is the q_range's bounds when they read no
 * query head (they are then the same for every head of the head loop),
 * else every query. The cut is computed once per CTA, before the head
 * loop and before the producer ring's threads part (every thread takes
 * the barriers), through the scan words (off_scan; the ring's mbarriers
 * are initialised there afterwards, behind the scan's last barrier); the
 * cut stays in two shared words (off_span) that q_range reads per head. */
#include "nvptx_bwd_impl.h"

static LLVMValueRef c32(gbw *g, int v)
{
    return nv_i32(&g->f.nv, v);
}

bool gb_q_bounds_headless(const bwd_plan *bp)
{
    return bp->qmode == RANGE_BOUNDS && bp->q_ndims >= 1 && bp->qlo[0] && bp->qhi[0] &&
           !expr_uses_kind(bp->qlo[0], EX_HEAD) && !expr_uses_kind(bp->qhi[0], EX_HEAD);
}

void gb_dkv_doc_span(gbw *g)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    int Tq = f->p->q_ext[0];
    LLVMValueRef nqt = LLVMBuildSDiv(b, LLVMBuildAdd(b, f->qext[0], c32(g, Tq - 1), ""), c32(g, Tq), "");
    LLVMValueRef lo = c32(g, 0), hi = LLVMBuildSub(b, nqt, c32(g, 1), "");
    if (gb_q_bounds_headless(g->bp)) {
        f->mode = EXM_BOX;
        LLVMValueRef last = hi;
        lo = gb_clamp(g, fa2_emit(f, g->bp->qlo[0]), c32(g, 0), nqt);
        hi = gb_clamp(g, fa2_emit(f, g->bp->qhi[0]), c32(g, -1), last);
    }
    LLVMValueRef cnt = nv_smax(nv, LLVMBuildAdd(b, LLVMBuildSub(b, hi, lo, ""), c32(g, 1), ""), c32(g, 0));
    fa2_span_range queries = {lo, cnt, Tq, f->qext[0]};
    fa2_span s;
    fa2_span_scan(f, g->bp->doc_param, f->k_lo[0], f->k_hi[0], &queries, gb_smem_at(g, g->off_scan, NULL), false, &s);
    /* another id in the key tile: the static range, the same for every head */
    fa2_span_cut(f, &s, Tq, &lo, &cnt);
    LLVMBasicBlockRef put = nv_if(nv, LLVMBuildICmp(b, LLVMIntEQ, f->tid, c32(g, 0), ""), "span.put");
    LLVMBuildStore(b, lo, gb_smem_at(g, g->off_span, NULL));
    LLVMBuildStore(b, LLVMBuildSub(b, LLVMBuildAdd(b, lo, cnt, ""), c32(g, 1), ""), gb_smem_at(g, g->off_span + 4, NULL));
    nv_endif(nv, put);
    nv_barrier(nv);
    g->span_cut = true;
}

void gb_dkv_span_tiles(gbw *g, LLVMValueRef *lo, LLVMValueRef *hi)
{
    nv_ctx *nv = &g->f.nv;
    *lo = LLVMBuildLoad2(nv->b, nv->i32, gb_smem_at(g, g->off_span, NULL), "span.qlo");
    *hi = LLVMBuildLoad2(nv->b, nv->i32, gb_smem_at(g, g->off_span + 4, NULL), "span.qhi");
}
