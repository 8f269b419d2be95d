/* host_ops_softmax.c — SCORE, SOFTMAX_UPDATE, RESCALE and FINALIZE: the
 * online softmax on the host.
 *
 * SCORE applies the score expression to every element and drops (-inf) the
 * ones outside the grid; the mask expression is evaluated per element only
 * when TILE_CLASS did not prove the tile pair full. SOFTMAX_UPDATE
 * exponentiates against the row max, or against 0 while the max is still
 * -inf (so a dropped key gives exp(-inf) = 0, never -inf - -inf), exactly
 * as the GPU's fa2_softmax does. FINALIZE gives O = 0 and LSE = -inf for
 * rows with l == 0 (no key kept). A NaN logit, or a +inf max (+inf - +inf),
 * makes l NaN, and the row's O and LSE come out NaN
 * (docs/recipe-language.md §3.10). */
#include <math.h>

#include "host_gen.h"

static const double LN2 = 0.6931471805599453;

static LLVMValueRef exp_f(hgen *g, bool base2, LLVMValueRef x)
{
    return hgen_call_f32(g, base2 ? "llvm.exp2" : "llvm.exp", x);
}

/* One pass over the score tile; with_mask evaluates the mask per element. */
static void score_loop(hgen *g, const tir_op *op, const hval *s, const hval *qb, const hval *kb, const hval *t,
                       bool with_mask)
{
    hloop i = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, t->rows));
    hrow qr = hbox_row(g, qb, i.iv);
    hloop j = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, t->cols));
    hrow kr = hbox_row(g, kb, j.iv);
    LLVMValueRef keep = LLVMBuildAnd(g->b, qr.valid, kr.valid, "");
    hexpr_ctx x = {g, &qr, &kr, qb, kb, hgen_load_elem(g, s, i.iv, j.iv)};
    if (with_mask && op->mask_expr) {
        LLVMValueRef m = hgen_expr(&x, op->mask_expr);
        if (m && LLVMTypeOf(m) != g->i1)
            m = LLVMBuildICmp(g->b, LLVMIntNE, m, LLVMConstInt(LLVMTypeOf(m), 0, false), "");
        if (m)
            keep = LLVMBuildAnd(g->b, keep, m, "");
    }
    /* with base2 the score expression already carries the factor log2(e) */
    LLVMValueRef v = op->score_expr ? hgen_expr(&x, op->score_expr) : x.score;
    if (v)
        hgen_store_elem(g, t, i.iv, j.iv, LLVMBuildSelect(g->b, keep, v, hc_f32(g, -INFINITY), ""));
    hgen_loop_end(g, &j);
    hgen_loop_end(g, &i);
}

static bool emit_score(hgen *g, const tir_op *op)
{
    hval *s = hgen_val(g, op->operands[0]);
    hval *qb = hgen_val(g, op->operands[1]);
    hval *kb = hgen_val(g, op->operands[2]);
    hval *cls = op->noperands > 3 ? hgen_val(g, op->operands[3]) : NULL;
    if (!s || !qb || !kb || (op->noperands > 3 && !cls))
        return false;
    hval *t = hgen_tile(g, op->results[0], s->rows, s->cols);
    if (!t)
        return false;
    if (!op->mask_expr || !cls) {
        score_loop(g, op, s, qb, kb, t, true);
        return !g->failed;
    }
    /* if (full) unmasked pass, else if (!empty) masked pass, else all -inf:
     * an empty pair keeps nothing, which the masked pass would also find */
    LLVMBasicBlockRef full_bb = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "full");
    LLVMBasicBlockRef part_bb = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "partial");
    LLVMBasicBlockRef merge = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "scored");
    LLVMBuildCondBr(g->b, cls->full, full_bb, part_bb);
    LLVMPositionBuilderAtEnd(g->b, full_bb);
    score_loop(g, op, s, qb, kb, t, false);
    LLVMBuildBr(g->b, merge);
    LLVMPositionBuilderAtEnd(g->b, part_bb);
    LLVMBasicBlockRef mask_bb = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "masked");
    LLVMBasicBlockRef empty_bb = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "empty");
    LLVMBuildCondBr(g->b, cls->empty, empty_bb, mask_bb);
    LLVMPositionBuilderAtEnd(g->b, mask_bb);
    score_loop(g, op, s, qb, kb, t, true);
    LLVMBuildBr(g->b, merge);
    LLVMPositionBuilderAtEnd(g->b, empty_bb);
    hloop i = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, (int64_t)t->rows * t->cols));
    LLVMBuildStore(g->b, hc_f32(g, -INFINITY), LLVMBuildGEP2(g->b, g->f32, t->buf, &i.iv, 1, ""));
    hgen_loop_end(g, &i);
    LLVMBuildBr(g->b, merge);
    LLVMPositionBuilderAtEnd(g->b, merge);
    return !g->failed;
}

static hval *rows_result(hgen *g, const tir_value *v, int rows)
{
    hval *h = hgen_tile(g, v, rows, 1);
    if (h)
        h->kind = TV_ROWS;
    return h;
}

static bool emit_softmax_update(hgen *g, const tir_op *op)
{
    hval *t = hgen_val(g, op->operands[0]);
    hval *m = hgen_val(g, op->operands[1]);
    hval *l = hgen_val(g, op->operands[2]);
    if (!t || !m || !l)
        return false;
    hval *p = hgen_tile(g, op->results[0], t->rows, t->cols);
    hval *m2 = rows_result(g, op->results[1], t->rows);
    hval *l2 = rows_result(g, op->results[2], t->rows);
    hval *alpha = rows_result(g, op->results[3], t->rows);
    if (!p || !m2 || !l2 || !alpha)
        return false;
    LLVMValueRef slot = hgen_alloca_f32(g);
    LLVMValueRef zero = hc_i64(g, 0);
    hloop i = hgen_loop_begin(g, zero, hc_i64(g, t->rows));
    LLVMValueRef m_old = hgen_load_elem(g, m, i.iv, zero);
    LLVMBuildStore(g->b, m_old, slot);
    hloop j = hgen_loop_begin(g, zero, hc_i64(g, t->cols));
    LLVMValueRef cur = LLVMBuildLoad2(g->b, g->f32, slot, "");
    LLVMBuildStore(g->b, hgen_call_f32_2(g, "llvm.maxnum", cur, hgen_load_elem(g, t, i.iv, j.iv)), slot);
    hgen_loop_end(g, &j);
    LLVMValueRef mx = LLVMBuildLoad2(g->b, g->f32, slot, "");
    LLVMValueRef none = LLVMBuildFCmp(g->b, LLVMRealOEQ, mx, hc_f32(g, -INFINITY), "");
    LLVMValueRef base = LLVMBuildSelect(g->b, none, hc_f32(g, 0.0), mx, "");
    LLVMValueRef a = exp_f(g, op->base2, LLVMBuildFSub(g->b, m_old, base, "")); /* 0 while nothing is kept */
    LLVMBuildStore(g->b, hc_f32(g, 0.0), slot);
    hloop j2 = hgen_loop_begin(g, zero, hc_i64(g, t->cols));
    LLVMValueRef e = exp_f(g, op->base2, LLVMBuildFSub(g->b, hgen_load_elem(g, t, i.iv, j2.iv), base, ""));
    hgen_store_elem(g, p, i.iv, j2.iv, e);
    LLVMBuildStore(g->b, LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, g->f32, slot, ""), e, ""), slot);
    hgen_loop_end(g, &j2);
    LLVMValueRef sum = LLVMBuildLoad2(g->b, g->f32, slot, "");
    LLVMValueRef lnew = LLVMBuildFAdd(g->b, LLVMBuildFMul(g->b, hgen_load_elem(g, l, i.iv, zero), a, ""), sum, "");
    hgen_store_elem(g, m2, i.iv, zero, mx);
    hgen_store_elem(g, l2, i.iv, zero, lnew);
    hgen_store_elem(g, alpha, i.iv, zero, a);
    hgen_loop_end(g, &i);
    return true;
}

static bool emit_rescale(hgen *g, const tir_op *op)
{
    hval *acc = hgen_val(g, op->operands[0]);
    hval *alpha = hgen_val(g, op->operands[1]);
    if (!acc || !alpha)
        return false;
    hval *t = hgen_tile(g, op->results[0], acc->rows, acc->cols);
    if (!t)
        return false;
    hloop i = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, acc->rows));
    LLVMValueRef a = hgen_load_elem(g, alpha, i.iv, hc_i64(g, 0));
    hloop j = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, acc->cols));
    hgen_store_elem(g, t, i.iv, j.iv, LLVMBuildFMul(g->b, hgen_load_elem(g, acc, i.iv, j.iv), a, ""));
    hgen_loop_end(g, &j);
    hgen_loop_end(g, &i);
    return true;
}

/* Linear attention's normalisation: o[i][j] / o[i][last], 0 when 0. */
static bool emit_finalize_linear(hgen *g, const tir_op *op)
{
    hval *o = hgen_val(g, op->operands[0]);
    if (!o || o->cols < 2)
        return o ? hgen_fail(g, "internal error: host codegen: finalize of a %d-column tile", o->cols) : false;
    hval *t = hgen_tile(g, op->results[0], o->rows, o->cols - 1);
    if (!t)
        return false;
    hloop i = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, o->rows));
    LLVMValueRef den = hgen_load_elem(g, o, i.iv, hc_i64(g, o->cols - 1));
    LLVMValueRef zero = LLVMBuildFCmp(g->b, LLVMRealOEQ, den, hc_f32(g, 0.0), "");
    hloop j = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, t->cols));
    LLVMValueRef q = LLVMBuildFDiv(g->b, hgen_load_elem(g, o, i.iv, j.iv), den, "");
    hgen_store_elem(g, t, i.iv, j.iv, LLVMBuildSelect(g->b, zero, hc_f32(g, 0.0), q, ""));
    hgen_loop_end(g, &j);
    hgen_loop_end(g, &i);
    return true;
}

static bool emit_finalize(hgen *g, const tir_op *op)
{
    if (op->noperands == 1)
        return emit_finalize_linear(g, op);
    hval *acc = hgen_val(g, op->operands[0]);
    hval *m = hgen_val(g, op->operands[1]);
    hval *l = hgen_val(g, op->operands[2]);
    if (!acc || !m || !l)
        return false;
    hval *o = hgen_tile(g, op->results[0], acc->rows, acc->cols);
    hval *lse = op->nresults > 1 ? rows_result(g, op->results[1], acc->rows) : NULL;
    if (!o || (op->nresults > 1 && !lse))
        return false;
    LLVMValueRef zero = hc_i64(g, 0);
    hloop i = hgen_loop_begin(g, zero, hc_i64(g, acc->rows));
    LLVMValueRef lv = hgen_load_elem(g, l, i.iv, zero);
    /* l == 0: no key kept (O = 0, LSE = -inf); l NaN: a NaN row, kept NaN */
    LLVMValueRef live = LLVMBuildFCmp(g->b, LLVMRealUNE, lv, hc_f32(g, 0.0), "");
    LLVMValueRef inv = LLVMBuildFDiv(g->b, hc_f32(g, 1.0), lv, "");
    hloop j = hgen_loop_begin(g, zero, hc_i64(g, acc->cols));
    LLVMValueRef x = LLVMBuildFMul(g->b, hgen_load_elem(g, acc, i.iv, j.iv), inv, "");
    hgen_store_elem(g, o, i.iv, j.iv, LLVMBuildSelect(g->b, live, x, hc_f32(g, 0.0), ""));
    hgen_loop_end(g, &j);
    if (lse) {
        LLVMValueRef mv = hgen_load_elem(g, m, i.iv, zero);
        if (op->base2)
            mv = LLVMBuildFMul(g->b, mv, hc_f32(g, LN2), "");
        LLVMValueRef v = LLVMBuildFAdd(g->b, mv, hgen_call_f32(g, "llvm.log", lv), "");
        hgen_store_elem(g, lse, i.iv, zero, LLVMBuildSelect(g->b, live, v, hc_f32(g, -INFINITY), ""));
    }
    hgen_loop_end(g, &i);
    return true;
}

bool host_op_softmax(hgen *g, const tir_op *op)
{
    switch (op->kind) {
    case TIR_SCORE: return emit_score(g, op);
    case TIR_SOFTMAX_UPDATE: return emit_softmax_update(g, op);
    case TIR_RESCALE: return emit_rescale(g, op);
    case TIR_FINALIZE: return emit_finalize(g, op);
    default: return hgen_fail(g, "internal error: host_op_softmax: %s", hgen_op_name(op->kind));
    }
}
