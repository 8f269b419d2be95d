/* nvptx_fa2_diag_first.c — a causal document kernel's key loop starts at
 * the diagonal tile ($ATTNC_DOC_DIAG_FIRST, on by default; =0 turns it
 * off; nvptx_kernel.h).
 *
 * Why: a document kernel's key range starts at its query tile's cut (the
 * first key tile of the documents the tile's rows belong to), found in the
 * cut table or by a scan of the ids (nvptx_fa2_doc_table.c,
 * nvptx_fa2_span.c): global loads whose latency sat between Q's copy and
 * the first K/V copy of every block, where a plain causal block copies its
 * first key tile at once (issue 17's 8 documents ran 3% slower than causal
 * B=8 on the same tiles, H100 2026-12-06 run60).
 *
 * What: the range's last tile L (before the cut) holds the query tile's
 * last token q_hi as a key when L = q_hi / Tk and q_hi is a key (the ids
 * are the tokens' own on both sides: the mask compares doc[q] with doc[k]
 * of one param), and that key's id matches itself, so the cut keeps L as
 * its last tile: a causal range ends on its diagonal whatever the
 * documents. The producer's thread copies L's K and V into ring slot 0
 * before the lookup (after Q's copy, fa2_ws_issue_q_early), and the loop
 * visits the tiles in the order L, lo, lo + 1, ..., L - 1 (the online
 * softmax does not care about the order). A block where the test fails
 * (a range that does not reach its diagonal) keeps the plain order.
 *
 * The cut's shared words then cannot sit in K slot 0, where that copy
 * lands during the lookup: they move after the barriers (fa2_cut_words).
 */
#include "nvptx_fa2.h"
#include "nvptx_kernel.h"

bool fa2_diag_first_on(const fa2 *f)
{
    const fa_plan *p = f->p;
    return nvptx_doc_diag_first_mode() != 0 && f->forward && fa2_ws_early_q(f) && p->overlap && p->wgmma && p->ndims == 1 &&
           p->grid_ndim == 0 && p->nparts == 0 && p->dil[0] <= 1;
}

void fa2_diag_first_begin(fa2 *f)
{
    if (!fa2_diag_first_on(f))
        return;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    int Tk = f->p->kv_ext[0];
    LLVMValueRef last = LLVMBuildSub(b, LLVMBuildAdd(b, f->r_lo[0], f->r_cnt[0], ""), nv_i32(nv, 1), "diag.tile");
    LLVMValueRef some = LLVMBuildICmp(b, LLVMIntSGT, f->r_cnt[0], nv_i32(nv, 0), "");
    LLVMValueRef is_key = LLVMBuildICmp(b, LLVMIntSLT, f->q_hi[0], f->kext[0], "");
    LLVMValueRef own = LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildSDiv(b, f->q_hi[0], nv_i32(nv, Tk), ""), last, "");
    f->diag_first = LLVMBuildAnd(b, LLVMBuildAnd(b, some, is_key, ""), own, "diag.first");
    f->diag_tile = last;
    LLVMValueRef thread0 = LLVMBuildICmp(b, LLVMIntEQ, f->load_tid, nv_i32(nv, 0), "");
    LLVMBasicBlockRef join = nt_if(&f->t, LLVMBuildAnd(b, thread0, f->diag_first, ""));
    LLVMValueRef org[3] = {LLVMBuildMul(b, last, nv_i32(nv, Tk), "diag.org"), nv_i32(nv, 0), nv_i32(nv, 0)};
    fa2_ws_fill_first_slot(f, org);
    nt_endif(&f->t, join);
}

LLVMValueRef fa2_diag_first_start(fa2 *f)
{
    if (!f->diag_first)
        return nv_i32(&f->nv, 0);
    return LLVMBuildZExt(f->nv.b, f->diag_first, f->nv.i32, "first_j");
}

LLVMValueRef fa2_diag_first_index(fa2 *f, LLVMValueRef j)
{
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef first = LLVMBuildICmp(b, LLVMIntEQ, j, nv_i32(&f->nv, 0), "");
    LLVMValueRef rotated = LLVMBuildSelect(b, first, LLVMBuildSub(b, f->diag_tile, f->r_lo[0], ""),
                                           LLVMBuildSub(b, j, nv_i32(&f->nv, 1), ""), "");
    return LLVMBuildSelect(b, f->diag_first, rotated, j, "diag.j");
}
