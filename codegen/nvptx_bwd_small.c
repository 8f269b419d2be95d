/* nvptx_bwd_small.c — the backward's elementwise kernels (nvptx_bwd.h):
 * attnc_bwd_pre (delta = rowsum(dO ∘ O), one warp a row, and the dQ
 * accumulator's row zeroed when dQ goes through atomics or bulk
 * reductions) and attnc_bwd_dq_cvt (the accumulator rounded to dq's
 * dtype; under bulk dQ read in its tile-contiguous fragment order). */
#include "nvptx_bwd_impl.h"

enum { PRE_ROWS = 8, CVT_THREADS = 256 };

static LLVMValueRef load_f32(gbw *g, dtype dt, LLVMValueRef ptr)
{
    nv_ctx *nv = &g->f.nv;
    if (dt == DT_F16)
        return LLVMBuildFPExt(nv->b, LLVMBuildLoad2(nv->b, nv->f16, ptr, ""), nv->f32, "");
    LLVMValueRef v = LLVMBuildZExt(nv->b, LLVMBuildLoad2(nv->b, nv->i16, ptr, ""), nv->i32, "");
    return LLVMBuildBitCast(nv->b, LLVMBuildShl(nv->b, v, nv_i32(nv, 16), ""), nv->f32, "");
}

/* The D f32 of one accumulator row at `at` = 0. */
static void zero_row(gbw *g, LLVMValueRef at)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    for (int c = 0; c < f->p->D; c += 32) {
        LLVMValueRef col = LLVMBuildAdd(nv->b, f->lane, nv_i32(nv, c), "");
        LLVMBasicBlockRef j = nv_if(nv, LLVMBuildICmp(nv->b, LLVMIntSLT, col, nv_i32(nv, f->p->D), ""), "pre.zero");
        LLVMValueRef off = LLVMBuildShl(nv->b, LLVMBuildZExt(nv->b, col, nv->i64, ""), nv_i64(nv, 2), "");
        LLVMBuildStore(nv->b, nv_f32(nv, 0), nv_gep(nv, at, off));
        nv_endif(nv, j);
    }
}

void gb_emit_pre(gbw *g)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    const fa_plan *p = f->p;
    gb_ids(g, false);
    LLVMValueRef row = LLVMBuildAdd(b, LLVMBuildMul(b, nv_sreg(nv, "ctaid.x"), nv_i32(nv, PRE_ROWS), ""), f->warp, "");
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildICmp(b, LLVMIntSLT, row, f->size[SZ_TOKENS], ""), "pre.row");
    LLVMValueRef sum = nv_f32(nv, 0);
    for (int c = 0; c < p->Dv; c += 32) {
        LLVMValueRef col = LLVMBuildAdd(b, f->lane, nv_i32(nv, c), "");
        LLVMValueRef in = LLVMBuildICmp(b, LLVMIntSLT, col, nv_i32(nv, p->Dv), "");
        col = LLVMBuildSelect(b, in, col, nv_i32(nv, 0), "");
        LLVMValueRef o = load_f32(g, p->dt, gb_elem_ptr(g, BT_O, f->head, row, col, 2));
        LLVMValueRef d = load_f32(g, p->dt, gb_elem_ptr(g, BT_DO, f->head, row, col, 2));
        LLVMValueRef prod = LLVMBuildSelect(b, in, LLVMBuildFMul(b, o, d, ""), nv_f32(nv, 0), "");
        sum = LLVMBuildFAdd(b, sum, prod, "");
    }
    for (int m = 16; m >= 1; m /= 2)
        sum = LLVMBuildFAdd(b, sum, nv_shfl_xor_f32(nv, sum, m), "");
    LLVMBasicBlockRef j2 = nv_if(nv, LLVMBuildICmp(b, LLVMIntEQ, f->lane, nv_i32(nv, 0), ""), "pre.store");
    LLVMBuildStore(b, sum, gb_elem_ptr(g, BT_DELTA, f->head, row, NULL, 4));
    nv_endif(nv, j2);
    if (g->bp->atomics && !g->bp->bulk)
        zero_row(g, gb_elem_ptr(g, BT_DQACC, f->head, row, NULL, 4));
    nv_endif(nv, join);
    if (g->bp->bulk) { /* every row of the query tiles (rows past the sequence too: bulk adds reach them) */
        gb_extents(g);
        LLVMValueRef nqt[3], rows = LLVMBuildMul(b, gb_q_tiles(g, nqt), nv_i32(nv, p->Tq), "");
        LLVMBasicBlockRef jz = nv_if(nv, LLVMBuildICmp(b, LLVMIntSLT, row, rows, ""), "pre.zrow");
        zero_row(g, gb_dqacc_rows(g, f->head, row));
        nv_endif(nv, jz);
    }
    if (g->bp->ngrad)
        gb_pgrad_zero(g);
    LLVMBuildRetVoid(b);
}

/* Bulk dQ: thread i converts pair i % (Tq D / 2) of query tile
 * i / (Tq D / 2)'s accumulator block (reading it in order: coalesced), the
 * rows the tile box holds past the grid skipped. */
static void emit_cvt_tiles(gbw *g, LLVMValueRef i)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    const fa_plan *p = f->p;
    gb_extents(g);
    LLVMValueRef nqt[3], per = nv_i32(nv, p->Tq * p->D / 2);
    LLVMValueRef n = LLVMBuildMul(b, gb_q_tiles(g, nqt), per, "");
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildICmp(b, LLVMIntSLT, i, n, ""), "cvt");
    LLVMValueRef tile = LLVMBuildUDiv(b, i, per, ""), pos = LLVMBuildURem(b, i, per, "");
    LLVMValueRef rem = tile;
    for (int d = p->ndims - 1; d >= 0; d--) { /* row-major over the tile dims, as the dK/dV kernel numbers them */
        LLVMValueRef qi = d ? LLVMBuildURem(b, rem, nqt[d], "") : rem;
        if (d)
            rem = LLVMBuildUDiv(b, rem, nqt[d], "");
        f->q_org[d] = LLVMBuildMul(b, qi, nv_i32(nv, p->q_ext[d]), "");
    }
    LLVMValueRef row, col, c[3];
    gw_dqf_coords(g, pos, &row, &col);
    fa2_tile_coords(f, p->q_ext, f->q_org, row, c);
    LLVMBasicBlockRef jin = nv_if(nv, fa2_in_bounds(f, c, f->qext), "cvt.in");
    LLVMValueRef src = gb_dqacc_rows(g, f->head, LLVMBuildMul(b, tile, nv_i32(nv, p->Tq), ""));
    src = nv_gep(nv, src, LLVMBuildShl(b, LLVMBuildZExt(b, pos, nv->i64, ""), nv_i64(nv, 3), ""));
    LLVMValueRef v = LLVMBuildLoad2(b, LLVMVectorType(nv->f32, 2), src, "");
    LLVMSetAlignment(v, 8);
    LLVMValueRef lo = LLVMBuildExtractElement(b, v, nv_i32(nv, 0), "");
    LLVMValueRef hi = LLVMBuildExtractElement(b, v, nv_i32(nv, 1), "");
    gb_store_pair(g, BT_DQ, f->head, fa2_flat_token(f, c), col, lo, hi);
    nv_endif(nv, jin);
    nv_endif(nv, join);
}

void gb_emit_cvt(gbw *g)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    const fa_plan *p = f->p;
    gb_ids(g, false);
    LLVMValueRef i = LLVMBuildAdd(b, LLVMBuildMul(b, nv_sreg(nv, "ctaid.x"), nv_i32(nv, CVT_THREADS), ""), f->tid, "");
    if (g->bp->bulk) {
        emit_cvt_tiles(g, i);
        LLVMBuildRetVoid(b);
        return;
    }
    /* one thread per pair of columns */
    int pairs = p->D / 2;
    LLVMValueRef n = LLVMBuildMul(b, f->size[SZ_TOKENS], nv_i32(nv, pairs), "");
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildICmp(b, LLVMIntSLT, i, n, ""), "cvt");
    LLVMValueRef tok = LLVMBuildUDiv(b, i, nv_i32(nv, pairs), "");
    LLVMValueRef col = LLVMBuildShl(b, LLVMBuildURem(b, i, nv_i32(nv, pairs), ""), nv_i32(nv, 1), "");
    LLVMValueRef src = gb_elem_ptr(g, BT_DQACC, f->head, tok, col, 4);
    LLVMValueRef lo = LLVMBuildLoad2(b, nv->f32, src, "");
    LLVMValueRef hi = LLVMBuildLoad2(b, nv->f32, nv_gep(nv, src, nv_i64(nv, 4)), "");
    gb_store_pair(g, BT_DQ, f->head, tok, col, lo, hi);
    nv_endif(nv, join);
    LLVMBuildRetVoid(b);
}

int gb_pre_rows(void)
{
    return PRE_ROWS;
}

int gb_cvt_threads(void)
{
    return CVT_THREADS;
}
