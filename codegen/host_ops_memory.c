/* host_ops_memory.c — LOAD, STORE, FILL and CONVERT on the host.
 *
 * Loads read q/k/v rows of a box through the tensor's four strides and
 * widen bf16/f16 exactly; rows outside the grid read as 0. Stores write only
 * valid rows and round to the output dtype with ties to even (bf16 by bit
 * arithmetic, f16 by LLVM's fptrunc, which rounds to nearest even). LSE is
 * written only when its pointer is not NULL. The backward's tensors (dO,
 * dQ, dK, dV and the workspace buffers) go through the same two ops. */
#include <string.h>

#include "emit_convert.h"
#include "host_bwd.h"

LLVMValueRef hgen_load_dtype(hgen *g, dtype dt, LLVMValueRef base, LLVMValueRef off)
{
    return cv_load_f32(g->b, dt, base, off);
}

void hgen_store_dtype(hgen *g, dtype dt, LLVMValueRef base, LLVMValueRef off, LLVMValueRef x)
{
    cv_store_f32(g->b, dt, base, off, x);
}

/* Where a tensor's elements are: base, strides (elements) of [batch,
 * head, token, column], the head it is read at, element type, columns, and
 * whether it is a row vector (lse and the workspace's row buffers). The
 * caller's tensors come with their strides; workspace buffers are
 * contiguous f32 [batch, heads, tokens, cols]. */
typedef struct htens {
    LLVMValueRef base, stride[4], head;
    dtype dt;
    int cols;
    bool rows;
} htens;

static int fwd_slot(tir_tensor t)
{
    switch (t) {
    case TENSOR_Q: return HT_Q;
    case TENSOR_K: return HT_K;
    case TENSOR_V: return HT_V;
    case TENSOR_O: return HT_O;
    case TENSOR_LSE: return HT_LSE;
    case TENSOR_DO: return HT_DO;
    case TENSOR_DQ: return HT_DQ;
    case TENSOR_DK: return HT_DK;
    case TENSOR_DV: return HT_DV;
    default: return -1;
    }
}

static bool ws_tensor(hgen *g, tir_tensor t, const hval *box, htens *out)
{
    int cols = t == TENSOR_DOX ? g->tk->head_dim_v + 1 : t == TENSOR_DKH ? g->tk->head_dim : g->tk->head_dim_v;
    out->rows = t == TENSOR_DELTA || t == TENSOR_QDQ || t == TENSOR_KDK;
    out->cols = out->rows ? 1 : cols;
    out->dt = DT_F32;
    out->head = g->head;
    out->base = g->bwd ? g->bwd->ws[t] : NULL;
    if (!out->base)
        return hgen_fail(g, "internal error: host codegen: workspace tensor %d outside a backward kernel", (int)t);
    LLVMValueRef T = g->size[box->kside ? SZ_KV_TOKENS : SZ_TOKENS];
    out->stride[3] = hc_i64(g, 1);
    out->stride[2] = hc_i64(g, out->cols);
    out->stride[1] = LLVMBuildMul(g->b, T, out->stride[2], "");
    out->stride[0] = LLVMBuildMul(g->b, g->size[SZ_HEADS], out->stride[1], "");
    return true;
}

static bool tensor_of(hgen *g, tir_tensor t, const hval *box, htens *out)
{
    memset(out, 0, sizeof *out);
    int ti = fwd_slot(t);
    if (ti < 0)
        return ws_tensor(g, t, box, out);
    out->base = g->tensor[ti];
    for (int d = 0; d < 4; d++)
        out->stride[d] = g->stride[ti][d];
    bool kv = ti == HT_K || ti == HT_V || ti == HT_DK || ti == HT_DV;
    out->head = kv ? g->kv_head : g->head;
    out->rows = ti == HT_LSE;
    out->dt = out->rows ? DT_F32 : g->tk->qkv_dtype;
    out->cols = out->rows ? 1 : ti == HT_V || ti == HT_DV || ti == HT_O || ti == HT_DO ? g->tk->head_dim_v : g->tk->head_dim;
    return true;
}

/* Element offset of (batch, head, t, d). */
static LLVMValueRef offset4(hgen *g, const htens *x, LLVMValueRef t, LLVMValueRef d)
{
    LLVMValueRef o = LLVMBuildMul(g->b, g->batch, x->stride[0], "");
    o = LLVMBuildAdd(g->b, o, LLVMBuildMul(g->b, x->head, x->stride[1], ""), "");
    o = LLVMBuildAdd(g->b, o, LLVMBuildMul(g->b, t, x->stride[2], ""), "");
    if (d)
        o = LLVMBuildAdd(g->b, o, LLVMBuildMul(g->b, d, x->stride[3], ""), "");
    return o;
}

/* Rows/cols of a result type; symbolic extents resolve from the schedule. */
static int resolve_extent(hgen *g, int v, bool cols)
{
    if (v > 0)
        return v;
    if (cols)
        return g->tk->head_dim_v;
    return v == -2 ? schedule_kv_tokens(&g->tk->sched) : schedule_q_tokens(&g->tk->sched);
}

static bool emit_load(hgen *g, const tir_op *op)
{
    hval *box = hgen_val(g, op->operands[0]);
    htens x;
    if (!box || !tensor_of(g, op->tensor, box, &x))
        return false;
    if (!x.base)
        return hgen_fail(g, "internal error: host codegen: load of tensor %d is not supported", (int)op->tensor);
    int rows = hbox_rows(box);
    hval *t = hgen_tile(g, op->results[0], rows, x.cols + (op->aug ? 1 : 0));
    if (!t)
        return false;
    hloop r = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, rows));
    hrow row = hbox_row(g, box, r.iv);
    LLVMValueRef tok = LLVMBuildSelect(g->b, row.valid, row.t, hc_i64(g, 0), ""); /* safe address */
    LLVMValueRef base = offset4(g, &x, tok, NULL);
    hloop c = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, x.cols));
    LLVMValueRef off = x.rows ? base : LLVMBuildAdd(g->b, base, LLVMBuildMul(g->b, c.iv, x.stride[3], ""), "");
    LLVMValueRef v = cv_load_f32(g->b, x.dt, x.base, off);
    hgen_store_elem(g, t, r.iv, c.iv, LLVMBuildSelect(g->b, row.valid, v, hc_f32(g, 0.0), ""));
    hgen_loop_end(g, &c);
    if (op->aug) /* linear normalize: a ones column (0 on rows outside the sequence) */
        hgen_store_elem(g, t, r.iv, hc_i64(g, x.cols), LLVMBuildUIToFP(g->b, row.valid, g->f32, ""));
    hgen_loop_end(g, &r);
    return true;
}

static bool emit_store(hgen *g, const tir_op *op)
{
    hval *box = hgen_val(g, op->operands[0]);
    hval *v = hgen_val(g, op->operands[1]);
    htens x;
    if (!box || !v || !tensor_of(g, op->tensor, box, &x))
        return false;
    if (op->tensor == TENSOR_Q || op->tensor == TENSOR_K || op->tensor == TENSOR_V || op->tensor == TENSOR_DO)
        return hgen_fail(g, "internal error: host codegen: store to input tensor %d", (int)op->tensor);
    bool lse = op->tensor == TENSOR_LSE;
    hif has = {0};
    if (lse)
        has = hgen_if_begin(g, LLVMBuildIsNotNull(g->b, x.base, ""));
    int rows = hbox_rows(box) < v->rows ? hbox_rows(box) : v->rows;
    hloop r = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, rows));
    hrow row = hbox_row(g, box, r.iv);
    hif valid = hgen_if_begin(g, row.valid);
    LLVMValueRef base = offset4(g, &x, row.t, NULL);
    int cols = v->cols < x.cols ? v->cols : x.cols; /* linear's v' and dO' drop their ones column */
    hloop c = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, cols));
    LLVMValueRef off = x.rows ? base : LLVMBuildAdd(g->b, base, LLVMBuildMul(g->b, c.iv, x.stride[3], ""), "");
    cv_store_f32(g->b, x.dt, x.base, off, hgen_load_elem(g, v, r.iv, c.iv));
    hgen_loop_end(g, &c);
    hgen_if_end(g, &valid);
    hgen_loop_end(g, &r);
    if (lse)
        hgen_if_end(g, &has);
    return true;
}

static bool emit_fill(hgen *g, const tir_op *op)
{
    const tir_type *ty = &op->results[0]->type;
    int rows = resolve_extent(g, ty->shape[0], false);
    int cols = ty->kind == TV_ROWS ? 1 : resolve_extent(g, ty->shape[1], true);
    hval *t = hgen_tile(g, op->results[0], rows, cols);
    if (!t)
        return false;
    hloop i = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, (int64_t)rows * cols));
    LLVMValueRef p = LLVMBuildGEP2(g->b, g->f32, t->buf, &i.iv, 1, "");
    LLVMBuildStore(g->b, hc_f32(g, op->fval), p);
    hgen_loop_end(g, &i);
    return true;
}

/* A convert to bf16/f16 rounds each element through that dtype, so the
 * host sees the same values a GPU operand would. */
static bool emit_convert(hgen *g, const tir_op *op)
{
    hval *src = hgen_val(g, op->operands[0]);
    if (!src)
        return false;
    hval *t = hgen_tile(g, op->results[0], src->rows, src->cols);
    if (!t)
        return false;
    t->kind = src->kind;
    dtype dt = op->results[0]->type.dt;
    hloop i = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, (int64_t)src->rows * src->cols));
    LLVMValueRef x = LLVMBuildLoad2(g->b, g->f32, LLVMBuildGEP2(g->b, g->f32, src->buf, &i.iv, 1, ""), "");
    if (dt == DT_BF16) {
        LLVMValueRef w = LLVMBuildShl(g->b, LLVMBuildZExt(g->b, cv_f32_to_bf16(g->b, x), g->i32, ""),
                                      LLVMConstInt(g->i32, 16, false), "");
        x = LLVMBuildBitCast(g->b, w, g->f32, "");
    } else if (dt == DT_F16) {
        x = LLVMBuildFPExt(g->b, LLVMBuildFPTrunc(g->b, x, LLVMHalfTypeInContext(g->ctx), ""), g->f32, "");
    }
    LLVMBuildStore(g->b, x, LLVMBuildGEP2(g->b, g->f32, t->buf, &i.iv, 1, ""));
    hgen_loop_end(g, &i);
    return true;
}

bool host_op_memory(hgen *g, const tir_op *op)
{
    switch (op->kind) {
    case TIR_LOAD: return emit_load(g, op);
    case TIR_STORE: return emit_store(g, op);
    case TIR_FILL: return emit_fill(g, op);
    case TIR_CONVERT: return emit_convert(g, op);
    default: return hgen_fail(g, "internal error: host_op_memory: %s", hgen_op_name(op->kind));
    }
}
