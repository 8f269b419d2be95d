/* nvptx_fa2_doc_bits.c — the document filter of a key tile that crosses a
 * document boundary, as bits (the forward's partial tiles under a span
 * with span_mask: nvptx_fa2.c fa2_score_and_mask).
 *
 * The mask of a document kernel is span_mask && ids[q.t] == ids[k.t]
 * (every term of its key set carries that filter: mask_analysis.c
 * doc_span_param; span_mask is the mask with the filter as true). Built
 * element by element, the filter reads one id per score element: 32 loads
 * a thread on a 128-key tile, which ptxas issues at once beside S, O and
 * Q's fragments — 116 spilled bytes with Q in registers (H100 run77). Here
 * each lane loads whole pairs of the tile's ids (pair l and l + 32: two
 * coalesced loads, one latency), and a loop kept rolled hands every
 * thread its own columns' pairs by shuffles and folds the compares into
 * one bit word per row: a handful of registers, and the loop's few
 * instructions a key column pair. */
#include "nvptx_fa2.h"

/* The id of token t of param `param` (fa2_doc_id) as i32 words: lo, and
 * hi for i64 ids (NULL otherwise). */
static void token_id(fa2 *f, int param, LLVMValueRef t, bool wide, LLVMValueRef *lo, LLVMValueRef *hi)
{
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef v = fa2_doc_id(f, param, t);
    *lo = LLVMBuildTrunc(b, v, f->nv.i32, "id.lo");
    *hi = wide ? LLVMBuildTrunc(b, LLVMBuildLShr(b, v, LLVMConstInt(f->nv.i64, 32, false), ""), f->nv.i32, "id.hi")
               : NULL;
}

/* Key token of column col (i32) of the current tile. */
static LLVMValueRef key_token(fa2 *f, LLVMValueRef col)
{
    LLVMValueRef c[3];
    fa2_tile_coords(f, f->p->kv_ext, f->k_org, col, c);
    return fa2_flat_token(f, c);
}

enum { DOC_BITS_MAX_PAIRS = 2 }; /* lane pair registers: Tk <= 128 (fa_plan_doc_bits) */

void fa2_doc_bits(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    nt *t = &f->t;
    LLVMBuilderRef b = nv->b;
    const fa_plan *p = f->p;
    int param = p->span_param;
    bool wide = p->k->params[param].dtype == DT_I64;
    int regs = (p->Tk / 2 + 31) / 32;
    /* pair l + 32 r of the tile (columns 2 (l + 32 r) and one more) on lane l */
    LLVMValueRef pair[DOC_BITS_MAX_PAIRS][2][2] = {{{0}}};
    for (int r = 0; r < regs; r++) {
        LLVMValueRef col = LLVMBuildShl(b, LLVMBuildAdd(b, f->lane, nv_i32(nv, 32 * r), ""), nv_i32(nv, 1), "");
        for (int e = 0; e < 2; e++) {
            LLVMValueRef kt = key_token(f, LLVMBuildAdd(b, col, nv_i32(nv, e), ""));
            token_id(f, param, kt, wide, &pair[r][e][0], &pair[r][e][1]);
        }
    }
    LLVMValueRef row[FA_MAXMR][2][2] = {{{0}}};
    LLVMValueRef var[FA_MAXMR][2];
    for (int mi = 0; mi < p->MR; mi++)
        for (int h = 0; h < 2; h++) {
            token_id(f, param, f->row_t[mi][h], wide, &row[mi][h][0], &row[mi][h][1]);
            var[mi][h] = nt_var(t, nv->i32, nv_i32(nv, 0), "doc.bits");
        }
    /* column pair t4 + 4 nb (columns 8 nb + 2 t4 + e): lane t4 + 4 (nb mod 8), register nb / 8 */
    nt_loop l;
    LLVMValueRef nb = nt_for(t, &l, nv_i32(nv, 0), nv_i32(nv, p->Tk / 8));
    LLVMValueRef src = LLVMBuildAdd(b, f->t4, LLVMBuildShl(b, LLVMBuildAnd(b, nb, nv_i32(nv, 7), ""), nv_i32(nv, 2), ""),
                                    "");
    LLVMValueRef reg = LLVMBuildLShr(b, nb, nv_i32(nv, 3), "");
    LLVMValueRef shift = LLVMBuildShl(b, nb, nv_i32(nv, 1), "");
    LLVMValueRef id[2][2] = {{0}};
    for (int e = 0; e < 2; e++)
        for (int w = 0; w < (wide ? 2 : 1); w++) {
            LLVMValueRef v = pair[0][e][w];
            for (int r = 1; r < regs; r++)
                v = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, reg, nv_i32(nv, r), ""), pair[r][e][w], v, "");
            id[e][w] = nv_shfl_idx(nv, v, src);
        }
    for (int mi = 0; mi < p->MR; mi++)
        for (int h = 0; h < 2; h++) {
            LLVMValueRef bits = nt_get(t, var[mi][h]);
            for (int e = 0; e < 2; e++) {
                LLVMValueRef eq = LLVMBuildICmp(b, LLVMIntEQ, id[e][0], row[mi][h][0], "");
                if (wide)
                    eq = LLVMBuildAnd(b, eq, LLVMBuildICmp(b, LLVMIntEQ, id[e][1], row[mi][h][1], ""), "");
                LLVMValueRef bit = LLVMBuildShl(b, LLVMBuildZExt(b, eq, nv->i32, ""),
                                                LLVMBuildAdd(b, shift, nv_i32(nv, e), ""), "");
                bits = LLVMBuildOr(b, bits, bit, "");
            }
            nt_set(t, var[mi][h], bits);
        }
    nt_for_end(t, &l);
    nt_loop_no_unroll(t, &l);
    for (int mi = 0; mi < p->MR; mi++)
        for (int h = 0; h < 2; h++)
            f->doc_bits[mi][h] = nt_get(t, var[mi][h]);
}

LLVMValueRef fa2_doc_bit(fa2 *f, int mi, int h, int nb, int e)
{
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef v = LLVMBuildAnd(b, f->doc_bits[mi][h], nv_i32(&f->nv, (int)(1u << (2 * nb + e))), "");
    return LLVMBuildICmp(b, LLVMIntNE, v, nv_i32(&f->nv, 0), "doc.same");
}
