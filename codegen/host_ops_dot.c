/* host_ops_dot.c — DOT (C = A·B, A·Bᵀ or Aᵀ·B, optionally plus an accumulator)
 * and elementwise ADD on f32 tiles. Loops are ordered so the innermost one
 * runs over contiguous memory; the reductions carry reassoc/contract
 * fast-math flags so LLVM may vectorise them (f32 sums in any order are
 * well inside the tolerances). */
#include "host_gen.h"

static LLVMValueRef fast(LLVMValueRef v)
{
    LLVMSetFastMathFlags(v, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
    return v;
}

/* C[i][j] = init + sum_k A[i][k] * B[j][k]; the running sum lives in an
 * entry-block slot that mem2reg turns into a register. */
static void dot_trans_b(hgen *g, const hval *A, const hval *B, const hval *C, const hval *acc)
{
    LLVMValueRef slot = hgen_alloca_f32(g);
    hloop i = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, C->rows));
    hloop j = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, C->cols));
    LLVMBuildStore(g->b, acc ? hgen_load_elem(g, acc, i.iv, j.iv) : hc_f32(g, 0.0), slot);
    hloop k = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, A->cols));
    LLVMValueRef prod = fast(LLVMBuildFMul(g->b, hgen_load_elem(g, A, i.iv, k.iv), hgen_load_elem(g, B, j.iv, k.iv), ""));
    LLVMValueRef sum = LLVMBuildLoad2(g->b, g->f32, slot, "");
    LLVMBuildStore(g->b, fast(LLVMBuildFAdd(g->b, sum, prod, "")), slot);
    hgen_loop_end(g, &k);
    hgen_store_elem(g, C, i.iv, j.iv, LLVMBuildLoad2(g->b, g->f32, slot, ""));
    hgen_loop_end(g, &j);
    hgen_loop_end(g, &i);
}

/* C[i][j] = init + sum_k A[i][k] * B[k][j], row by row with a vector inner loop. */
static void dot_plain(hgen *g, const hval *A, const hval *B, const hval *C, const hval *acc)
{
    hloop i = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, C->rows));
    hloop j0 = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, C->cols));
    hgen_store_elem(g, C, i.iv, j0.iv, acc ? hgen_load_elem(g, acc, i.iv, j0.iv) : hc_f32(g, 0.0));
    hgen_loop_end(g, &j0);
    hloop k = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, A->cols));
    LLVMValueRef a = hgen_load_elem(g, A, i.iv, k.iv);
    hloop j = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, C->cols));
    LLVMValueRef c = hgen_load_elem(g, C, i.iv, j.iv);
    LLVMValueRef prod = fast(LLVMBuildFMul(g->b, a, hgen_load_elem(g, B, k.iv, j.iv), ""));
    hgen_store_elem(g, C, i.iv, j.iv, fast(LLVMBuildFAdd(g->b, c, prod, "")));
    hgen_loop_end(g, &j);
    hgen_loop_end(g, &k);
    hgen_loop_end(g, &i);
}

/* C[i][j] = init + sum_k A[k][i] * B[k][j] (A transposed): rank-1 updates
 * row by row of A, the innermost loop over contiguous C and B rows. */
static void dot_trans_a(hgen *g, const hval *A, const hval *B, const hval *C, const hval *acc)
{
    hloop i0 = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, C->rows));
    hloop j0 = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, C->cols));
    hgen_store_elem(g, C, i0.iv, j0.iv, acc ? hgen_load_elem(g, acc, i0.iv, j0.iv) : hc_f32(g, 0.0));
    hgen_loop_end(g, &j0);
    hgen_loop_end(g, &i0);
    hloop k = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, A->rows));
    hloop i = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, C->rows));
    LLVMValueRef a = hgen_load_elem(g, A, k.iv, i.iv);
    hloop j = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, C->cols));
    LLVMValueRef c = hgen_load_elem(g, C, i.iv, j.iv);
    LLVMValueRef prod = fast(LLVMBuildFMul(g->b, a, hgen_load_elem(g, B, k.iv, j.iv), ""));
    hgen_store_elem(g, C, i.iv, j.iv, fast(LLVMBuildFAdd(g->b, c, prod, "")));
    hgen_loop_end(g, &j);
    hgen_loop_end(g, &i);
    hgen_loop_end(g, &k);
}

static bool emit_dot(hgen *g, const tir_op *op)
{
    hval *A = hgen_val(g, op->operands[0]);
    hval *B = hgen_val(g, op->operands[1]);
    hval *acc = op->noperands > 2 ? hgen_val(g, op->operands[2]) : NULL;
    if (!A || !B || (op->noperands > 2 && !acc))
        return false;
    int inner = op->trans_b ? B->cols : B->rows;
    int arows = op->trans_a ? A->cols : A->rows, acols = op->trans_a ? A->rows : A->cols;
    if (acols != inner || (op->trans_a && op->trans_b))
        return hgen_fail(g, "internal error: host codegen: dot of %dx%d%s and %dx%d%s", A->rows, A->cols,
                         op->trans_a ? " (transposed)" : "", B->rows, B->cols, op->trans_b ? " (transposed)" : "");
    int cols = op->trans_b ? B->rows : B->cols;
    if (acc && (acc->rows != arows || acc->cols != cols))
        return hgen_fail(g, "internal error: host codegen: dot accumulator is %dx%d, not %dx%d", acc->rows, acc->cols,
                         arows, cols);
    hval *C = hgen_tile(g, op->results[0], arows, cols);
    if (!C)
        return false;
    if (op->trans_a)
        dot_trans_a(g, A, B, C, acc);
    else if (op->trans_b)
        dot_trans_b(g, A, B, C, acc);
    else
        dot_plain(g, A, B, C, acc);
    return true;
}

static bool emit_add(hgen *g, const tir_op *op)
{
    hval *x = hgen_val(g, op->operands[0]);
    hval *y = hgen_val(g, op->operands[1]);
    if (!x || !y)
        return false;
    if (x->rows != y->rows || x->cols != y->cols)
        return hgen_fail(g, "internal error: host codegen: add of %dx%d and %dx%d", x->rows, x->cols, y->rows, y->cols);
    hval *t = hgen_tile(g, op->results[0], x->rows, x->cols);
    if (!t)
        return false;
    hloop i = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, (int64_t)x->rows * x->cols));
    LLVMValueRef a = LLVMBuildLoad2(g->b, g->f32, LLVMBuildGEP2(g->b, g->f32, x->buf, &i.iv, 1, ""), "");
    LLVMValueRef b = LLVMBuildLoad2(g->b, g->f32, LLVMBuildGEP2(g->b, g->f32, y->buf, &i.iv, 1, ""), "");
    LLVMBuildStore(g->b, LLVMBuildFAdd(g->b, a, b, ""), LLVMBuildGEP2(g->b, g->f32, t->buf, &i.iv, 1, ""));
    hgen_loop_end(g, &i);
    return true;
}

bool host_op_dot(hgen *g, const tir_op *op)
{
    switch (op->kind) {
    case TIR_DOT: return emit_dot(g, op);
    case TIR_ADD: return emit_add(g, op);
    default: return hgen_fail(g, "internal error: host_op_dot: %s", hgen_op_name(op->kind));
    }
}
