/* nvptx_bwd_span.c — the document span cut in the GPU backward
 * (bp->doc_param, $ATTNC_BWD_DOC_SPAN=1 or 2): a mask that keeps only
 * pairs of one document (mask analysis' span, ir/tile_ir.h) lets each
 * kernel skip the tiles of other documents, as the forward does
 * (nvptx_fa2_span.c).
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
 *     Under ATTNC_BWD_DOC_SPAN=2 (and ATTNC_DOC_FULL not 0: fp.span_full)
 *     also its runs: for a key tile of one id v, the last query before it
 *     and the first after it with another id bound a run of queries of id
 *     v (the key tile's own tokens are queries too), so a query tile
 *     strictly inside the run pairs tokens of one document and takes the
 *     mask's full test without its document filter (fa2_tile_partial,
 *     run_on_q).
 * The static range scanned is the q_range's bounds when they read no
 * query head (they are then the same for every head of the head loop),
 * else every query. The cut is computed once per CTA, before the head
 * loop and before the producer ring's threads part (every thread takes
 * the barriers), through the scan words (off_scan; the ring's mbarriers
 * are initialised there afterwards, behind the scan's last barrier); the
 * cut and the run stay in four shared words (off_span) that q_range reads
 * per head and gb_dkv_span_run per tile pair. */
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
        gb_q_bounds(g, g->bp->qlo[0], g->bp->qhi[0], hi, &lo, &hi);
    }
    LLVMValueRef cnt = nv_smax(nv, LLVMBuildAdd(b, LLVMBuildSub(b, hi, lo, ""), c32(g, 1), ""), c32(g, 0));
    fa2_span_range queries = {lo, cnt, Tq, f->qext[0], false};
    fa2_span s;
    bool runs = f->p->span_full != NULL;
    fa2_span_scan(f, g->bp->doc_param, f->k_lo[0], f->k_hi[0], &queries, gb_smem_at(g, g->off_scan, NULL), runs, &s);
    /* another id in the key tile: the static range, the same for every head */
    fa2_span_cut(f, &s, Tq, &lo, &cnt);
    LLVMBasicBlockRef put = nv_if(nv, LLVMBuildICmp(b, LLVMIntEQ, f->tid, c32(g, 0), ""), "span.put");
    LLVMBuildStore(b, lo, gb_smem_at(g, g->off_span, NULL));
    LLVMBuildStore(b, LLVMBuildSub(b, LLVMBuildAdd(b, lo, cnt, ""), c32(g, 1), ""), gb_smem_at(g, g->off_span + 4, NULL));
    if (runs) { /* one id in the key tile, else no run (no tile starts after INT_MAX) */
        LLVMBuildStore(b, LLVMBuildSelect(b, s.one, s.olo, c32(g, 0x7fffffff), ""), gb_smem_at(g, g->off_span + 8, NULL));
        LLVMBuildStore(b, s.ohi, gb_smem_at(g, g->off_span + 12, NULL));
    }
    nv_endif(nv, put);
    nv_barrier(nv);
    g->span_cut = true;
}

void gb_dkv_span_run(gbw *g)
{
    fa2 *f = &g->f;
    if (!g->span_cut || !f->p->span_full)
        return;
    f->run_lo = LLVMBuildLoad2(f->nv.b, f->nv.i32, gb_smem_at(g, g->off_span + 8, NULL), "span.run_lo");
    f->run_hi = LLVMBuildLoad2(f->nv.b, f->nv.i32, gb_smem_at(g, g->off_span + 12, NULL), "span.run_hi");
    f->run_on_q = true;
}

void gb_dkv_span_tiles(gbw *g, LLVMValueRef *lo, LLVMValueRef *hi)
{
    nv_ctx *nv = &g->f.nv;
    *lo = LLVMBuildLoad2(nv->b, nv->i32, gb_smem_at(g, g->off_span, NULL), "span.qlo");
    *hi = LLVMBuildLoad2(nv->b, nv->i32, gb_smem_at(g, g->off_span + 4, NULL), "span.qhi");
}
