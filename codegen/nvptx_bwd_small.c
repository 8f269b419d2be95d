/* nvptx_bwd_small.c — the backward's elementwise kernels (nvptx_bwd.h):
 * attnc_bwd_pre (delta = rowsum(dO ∘ O), one warp a row, and the dQ
 * accumulator's row zeroed when dQ goes through atomics) and
 * attnc_bwd_dq_cvt (the accumulator rounded to dq's dtype). */
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
    if (g->bp->atomics)
        for (int c = 0; c < p->D; c += 32) {
            LLVMValueRef col = LLVMBuildAdd(b, f->lane, nv_i32(nv, c), "");
            LLVMBasicBlockRef j3 = nv_if(nv, LLVMBuildICmp(b, LLVMIntSLT, col, nv_i32(nv, p->D), ""), "pre.zero");
            LLVMBuildStore(b, nv_f32(nv, 0), gb_elem_ptr(g, BT_DQACC, f->head, row, col, 4));
            nv_endif(nv, j3);
        }
    nv_endif(nv, join);
    if (g->bp->ngrad)
        gb_pgrad_zero(g);
    LLVMBuildRetVoid(b);
}

void gb_emit_cvt(gbw *g)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    const fa_plan *p = f->p;
    gb_ids(g, false);
    LLVMValueRef i = LLVMBuildAdd(b, LLVMBuildMul(b, nv_sreg(nv, "ctaid.x"), nv_i32(nv, CVT_THREADS), ""), f->tid, "");
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
