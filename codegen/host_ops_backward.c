/* host_ops_backward.c — the backward's tile ops on the host
 * (docs/TILE_IR.md, "Backward"):
 *   kvtile, q_range      the key tile box of a kvtiles program; its q range
 *                        (evaluated per head by the FOR, host_backward.c)
 *   row_dot a, b         Σ_j a[i][j] b[i][j]
 *   softmax_p t, lse     exp(t - lse), exactly 0 where t or lse is -inf
 *   score_grad           dsr = p (dp - delta), ds = dsr · dscore(s), both 0
 *                        where p is 0 (masked pairs, empty rows): never NaN
 *   param_grad           slot[site index] += dsr · partial (this program's slot)
 *   slot_reduce          dparam = Σ slots in slot order (f64), rounded once
 *   feature_grad         dy · φ'(x)
 *   norm_grad            [dO/den, -dO·n/den²], 0 where den = 0
 *   gate_grad            d log a = reverse cumsum of q·dq - k·dk, summed into
 *                        the decay param in (batch, head, token) order (f64)
 *   head_sum             dK/dV = Σ over a kv head's query heads of the partials */
#include <math.h>

#include "host_bwd.h"

static hval *rows_of(hgen *g, const tir_value *v, int rows)
{
    hval *h = hgen_tile(g, v, rows, 1);
    if (h)
        h->kind = TV_ROWS;
    return h;
}

static bool emit_kvtile(hgen *g, const tir_op *op)
{
    hval *b = hgen_def(g, op->results[0]);
    if (!b || !g->bwd)
        return b ? hgen_fail(g, "internal error: host codegen: kvtile outside a backward kernel") : false;
    b->kind = TV_BOX;
    b->kside = true;
    b->nd = g->nd;
    for (int d = 0; d < g->nd; d++) {
        b->ext[d] = g->tk->sched.kv_tile[d];
        b->lo[d] = LLVMBuildMul(g->b, g->bwd->ktile[d], hc_i64(g, b->ext[d]), "");
    }
    return true;
}

static bool emit_q_range(hgen *g, const tir_op *op)
{
    hval *kb, *rg = hgen_range_def(g, op, &kb);
    if (!rg)
        return false;
    rg->qrange = op;
    rg->rbox = kb;
    return true;
}

static bool emit_row_dot(hgen *g, const tir_op *op)
{
    hval *a = hgen_val(g, op->operands[0]), *b = hgen_val(g, op->operands[1]);
    if (!a || !b)
        return false;
    hval *r = rows_of(g, op->results[0], a->rows);
    if (!r)
        return false;
    LLVMValueRef slot = hgen_alloca_f32(g), zero = hc_i64(g, 0);
    int cols = a->cols < b->cols ? a->cols : b->cols;
    hloop i = hgen_loop_begin(g, zero, hc_i64(g, a->rows));
    LLVMBuildStore(g->b, hc_f32(g, 0.0), slot);
    hloop j = hgen_loop_begin(g, zero, hc_i64(g, cols));
    LLVMValueRef prod = LLVMBuildFMul(g->b, hgen_load_elem(g, a, i.iv, j.iv), hgen_load_elem(g, b, i.iv, j.iv), "");
    LLVMBuildStore(g->b, LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, g->f32, slot, ""), prod, ""), slot);
    hgen_loop_end(g, &j);
    hgen_store_elem(g, r, i.iv, zero, LLVMBuildLoad2(g->b, g->f32, slot, ""));
    hgen_loop_end(g, &i);
    return true;
}

static bool emit_row_sum(hgen *g, const tir_op *op)
{
    hval *a = hgen_val(g, op->operands[0]);
    hval *r = a ? rows_of(g, op->results[0], a->rows) : NULL;
    if (!r)
        return false;
    LLVMValueRef slot = hgen_alloca_f32(g), zero = hc_i64(g, 0);
    hloop i = hgen_loop_begin(g, zero, hc_i64(g, a->rows));
    LLVMBuildStore(g->b, hc_f32(g, 0.0), slot);
    hloop j = hgen_loop_begin(g, zero, hc_i64(g, a->cols));
    LLVMBuildStore(g->b, LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, g->f32, slot, ""), hgen_load_elem(g, a, i.iv, j.iv), ""), slot);
    hgen_loop_end(g, &j);
    hgen_store_elem(g, r, i.iv, zero, LLVMBuildLoad2(g->b, g->f32, slot, ""));
    hgen_loop_end(g, &i);
    return true;
}

static bool emit_row_div(hgen *g, const tir_op *op)
{
    hval *a = hgen_val(g, op->operands[0]), *b = hgen_val(g, op->operands[1]);
    hval *r = a && b ? rows_of(g, op->results[0], a->rows) : NULL;
    if (!r)
        return false;
    LLVMValueRef zero = hc_i64(g, 0);
    hloop i = hgen_loop_begin(g, zero, hc_i64(g, a->rows));
    LLVMValueRef den = hgen_load_elem(g, b, i.iv, zero);
    LLVMValueRef q = LLVMBuildFDiv(g->b, hgen_load_elem(g, a, i.iv, zero), den, "");
    LLVMValueRef none = LLVMBuildFCmp(g->b, LLVMRealOEQ, den, hc_f32(g, 0.0), "");
    hgen_store_elem(g, r, i.iv, zero, LLVMBuildSelect(g->b, none, hc_f32(g, 0.0), q, ""));
    hgen_loop_end(g, &i);
    return true;
}

static LLVMValueRef is_minf(hgen *g, LLVMValueRef x)
{
    return LLVMBuildFCmp(g->b, LLVMRealOEQ, x, hc_f32(g, -INFINITY), "");
}

static bool emit_softmax_p(hgen *g, const tir_op *op)
{
    hval *t = hgen_val(g, op->operands[0]), *lse = hgen_val(g, op->operands[1]);
    if (!t || !lse)
        return false;
    hval *p = hgen_tile(g, op->results[0], t->rows, t->cols);
    if (!p)
        return false;
    LLVMValueRef zero = hc_i64(g, 0);
    hloop i = hgen_loop_begin(g, zero, hc_i64(g, t->rows));
    LLVMValueRef l = hgen_load_elem(g, lse, i.iv, zero);
    hloop j = hgen_loop_begin(g, zero, hc_i64(g, t->cols));
    LLVMValueRef x = hgen_load_elem(g, t, i.iv, j.iv);
    LLVMValueRef e = hgen_call_f32(g, "llvm.exp", LLVMBuildFSub(g->b, x, l, ""));
    LLVMValueRef none = LLVMBuildOr(g->b, is_minf(g, x), is_minf(g, l), "");
    hgen_store_elem(g, p, i.iv, j.iv, LLVMBuildSelect(g->b, none, hc_f32(g, 0.0), e, ""));
    hgen_loop_end(g, &j);
    hgen_loop_end(g, &i);
    return true;
}

/* score_grad s, p, dp, delta, qbox, kbox -> ds, dsr */
static bool emit_score_grad(hgen *g, const tir_op *op)
{
    hval *s = hgen_val(g, op->operands[0]), *p = hgen_val(g, op->operands[1]), *dp = hgen_val(g, op->operands[2]);
    hval *delta = hgen_val(g, op->operands[3]), *qb = hgen_val(g, op->operands[4]), *kb = hgen_val(g, op->operands[5]);
    if (!s || !p || !dp || !delta || !qb || !kb)
        return false;
    hval *ds = hgen_tile(g, op->results[0], s->rows, s->cols), *dsr = hgen_tile(g, op->results[1], s->rows, s->cols);
    if (!ds || !dsr)
        return false;
    LLVMValueRef zero = hc_i64(g, 0), f0 = hc_f32(g, 0.0);
    hloop i = hgen_loop_begin(g, zero, hc_i64(g, s->rows));
    hrow qr = hbox_row(g, qb, i.iv);
    LLVMValueRef d = hgen_load_elem(g, delta, i.iv, zero);
    hloop j = hgen_loop_begin(g, zero, hc_i64(g, s->cols));
    hrow kr = hbox_row(g, kb, j.iv);
    LLVMValueRef pv = hgen_load_elem(g, p, i.iv, j.iv);
    LLVMValueRef r = LLVMBuildFMul(g->b, pv, LLVMBuildFSub(g->b, hgen_load_elem(g, dp, i.iv, j.iv), d, ""), "");
    hexpr_ctx x = {g, &qr, &kr, qb, kb, hgen_load_elem(g, s, i.iv, j.iv)};
    LLVMValueRef f = hgen_expr(&x, op->score_expr);
    if (!f)
        return false;
    LLVMValueRef keep = LLVMBuildFCmp(g->b, LLVMRealONE, pv, f0, "");
    hgen_store_elem(g, dsr, i.iv, j.iv, LLVMBuildSelect(g->b, keep, r, f0, ""));
    hgen_store_elem(g, ds, i.iv, j.iv, LLVMBuildSelect(g->b, keep, LLVMBuildFMul(g->b, r, f, ""), f0, ""));
    hgen_loop_end(g, &j);
    hgen_loop_end(g, &i);
    return true;
}

/* Row-major element index of the param read `site` (indices clamped into
 * the shape, as the forward reads it). */
static LLVMValueRef site_index(hgen *g, hexpr_ctx *x, const expr *site)
{
    int p = site->u.param;
    LLVMValueRef off = hc_i64(g, 0);
    for (int d = 0; d < g->tk->params[p].ndim; d++) {
        LLVMValueRef i = d < site->nargs ? hgen_expr(x, site->args[d]) : hc_i64(g, 0);
        if (!i)
            return NULL;
        LLVMValueRef top = LLVMBuildSub(g->b, g->param_shape[p][d], hc_i64(g, 1), "");
        i = hgen_imax(g, hgen_imin(g, i, top), hc_i64(g, 0));
        off = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, off, g->param_shape[p][d], ""), i, "");
    }
    return off;
}

/* param_grad dsr, s, qbox, kbox: this slot's partial of the param. */
static bool emit_param_grad(hgen *g, const tir_op *op)
{
    hval *dsr = hgen_val(g, op->operands[0]), *s = hgen_val(g, op->operands[1]);
    hval *qb = hgen_val(g, op->operands[2]), *kb = hgen_val(g, op->operands[3]);
    if (!dsr || !s || !qb || !kb)
        return false;
    if (!g->bwd || !g->bwd->slot || !g->bwd->slots[op->param])
        return hgen_fail(g, "internal error: host codegen: param_grad outside a programs=slots kernel");
    LLVMValueRef base = LLVMBuildMul(g->b, g->bwd->slot, hbwd_param_numel(g, op->param), "");
    LLVMValueRef zero = hc_i64(g, 0);
    hloop i = hgen_loop_begin(g, zero, hc_i64(g, dsr->rows));
    hrow qr = hbox_row(g, qb, i.iv);
    hloop j = hgen_loop_begin(g, zero, hc_i64(g, dsr->cols));
    hrow kr = hbox_row(g, kb, j.iv);
    LLVMValueRef r = hgen_load_elem(g, dsr, i.iv, j.iv);
    LLVMValueRef live = LLVMBuildAnd(g->b, LLVMBuildAnd(g->b, qr.valid, kr.valid, ""),
                                     LLVMBuildFCmp(g->b, LLVMRealONE, r, hc_f32(g, 0.0), ""), "");
    hif h = hgen_if_begin(g, live);
    hexpr_ctx x = {g, &qr, &kr, qb, kb, hgen_load_elem(g, s, i.iv, j.iv)};
    LLVMValueRef e = site_index(g, &x, op->site_expr), part = hgen_expr(&x, op->partial_expr);
    if (!e || !part)
        return false;
    LLVMValueRef at = LLVMBuildGEP2(g->b, g->f32, g->bwd->slots[op->param], (LLVMValueRef[]){LLVMBuildAdd(g->b, base, e, "")}, 1, "");
    LLVMValueRef sum = LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, g->f32, at, ""), LLVMBuildFMul(g->b, r, part, ""), "");
    LLVMBuildStore(g->b, sum, at);
    hgen_if_end(g, &h);
    hgen_loop_end(g, &j);
    hgen_loop_end(g, &i);
    return true;
}

/* Offset of row-major element e of param p in its gradient tensor. */
static LLVMValueRef dparam_offset(hgen *g, int p, LLVMValueRef e)
{
    LLVMValueRef off = hc_i64(g, 0);
    for (int d = g->tk->params[p].ndim - 1; d >= 0; d--) {
        LLVMValueRef n = g->param_shape[p][d];
        LLVMValueRef i = LLVMBuildURem(g->b, e, n, "");
        e = LLVMBuildUDiv(g->b, e, n, "");
        off = LLVMBuildAdd(g->b, off, LLVMBuildMul(g->b, i, g->bwd->dparam_stride[p][d], ""), "");
    }
    return off;
}

static LLVMValueRef alloca_f64(hgen *g)
{
    return hgen_entry_alloca(g, LLVMDoubleTypeInContext(g->ctx), NULL, "sum");
}

/* slot_reduce: this program's chunk of the param's elements. */
static bool emit_slot_reduce(hgen *g, const tir_op *op)
{
    int p = op->param;
    hbwd *b = g->bwd;
    if (!b || !b->slots[p] || !b->dparam[p])
        return hgen_fail(g, "internal error: host codegen: slot_reduce of param %d without buffers", p);
    LLVMTypeRef f64 = LLVMDoubleTypeInContext(g->ctx);
    LLVMValueRef numel = hbwd_param_numel(g, p), sum = alloca_f64(g);
    LLVMValueRef first = LLVMBuildMul(g->b, b->program, hc_i64(g, TIR_ELEM_CHUNK), "");
    LLVMValueRef last = hgen_imin(g, LLVMBuildAdd(g->b, first, hc_i64(g, TIR_ELEM_CHUNK), ""), numel);
    hif has = hgen_if_begin(g, LLVMBuildIsNotNull(g->b, b->dparam[p], ""));
    hloop e = hgen_loop_begin(g, first, last);
    LLVMBuildStore(g->b, LLVMConstReal(f64, 0.0), sum);
    hloop s = hgen_loop_begin(g, hc_i64(g, 0), b->nslots);
    LLVMValueRef idx = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, s.iv, numel, ""), e.iv, "");
    LLVMValueRef v = LLVMBuildFPExt(g->b, LLVMBuildLoad2(g->b, g->f32, LLVMBuildGEP2(g->b, g->f32, b->slots[p], &idx, 1, ""), ""), f64, "");
    LLVMBuildStore(g->b, LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, f64, sum, ""), v, ""), sum);
    hgen_loop_end(g, &s);
    LLVMValueRef r = LLVMBuildFPTrunc(g->b, LLVMBuildLoad2(g->b, f64, sum, ""), g->f32, "");
    hgen_store_dtype(g, g->tk->params[p].dtype, b->dparam[p], dparam_offset(g, p, e.iv), r);
    hgen_loop_end(g, &e);
    hgen_if_end(g, &has);
    return true;
}

static bool emit_feature_grad(hgen *g, const tir_op *op)
{
    hval *dy = hgen_val(g, op->operands[0]), *x = hgen_val(g, op->operands[1]);
    if (!dy || !x)
        return false;
    hval *t = hgen_tile(g, op->results[0], dy->rows, dy->cols);
    if (!t)
        return false;
    hloop i = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, dy->rows));
    hloop j = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, dy->cols));
    LLVMValueRef xv = hgen_load_elem(g, x, i.iv, j.iv), d = hgen_load_elem(g, dy, i.iv, j.iv);
    LLVMValueRef pos = LLVMBuildFCmp(g->b, LLVMRealOGT, xv, hc_f32(g, 0.0), "");
    if (op->feature == FEATURE_ELU1)
        d = LLVMBuildFMul(g->b, d, LLVMBuildSelect(g->b, pos, hc_f32(g, 1.0), hgen_call_f32(g, "llvm.exp", xv), ""), "");
    else if (op->feature == FEATURE_RELU)
        d = LLVMBuildSelect(g->b, pos, d, hc_f32(g, 0.0), "");
    hgen_store_elem(g, t, i.iv, j.iv, d);
    hgen_loop_end(g, &j);
    hgen_loop_end(g, &i);
    return true;
}

/* norm_grad do [C x Dv], o [C x Dv+1] = [n, den] -> [do/den, -do·n/den²] */
static bool emit_norm_grad(hgen *g, const tir_op *op)
{
    hval *dout = hgen_val(g, op->operands[0]), *o = hgen_val(g, op->operands[1]);
    if (!dout || !o)
        return false;
    int dv = o->cols - 1;
    hval *t = hgen_tile(g, op->results[0], o->rows, o->cols);
    if (!t)
        return false;
    LLVMValueRef slot = hgen_alloca_f32(g), zero = hc_i64(g, 0), f0 = hc_f32(g, 0.0);
    hloop i = hgen_loop_begin(g, zero, hc_i64(g, o->rows));
    LLVMValueRef den = hgen_load_elem(g, o, i.iv, hc_i64(g, dv));
    LLVMValueRef none = LLVMBuildFCmp(g->b, LLVMRealOEQ, den, f0, "");
    LLVMBuildStore(g->b, f0, slot);
    hloop j = hgen_loop_begin(g, zero, hc_i64(g, dv));
    LLVMValueRef d = hgen_load_elem(g, dout, i.iv, j.iv);
    LLVMBuildStore(g->b, LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, g->f32, slot, ""), LLVMBuildFMul(g->b, d, hgen_load_elem(g, o, i.iv, j.iv), ""), ""), slot);
    hgen_store_elem(g, t, i.iv, j.iv, LLVMBuildSelect(g->b, none, f0, LLVMBuildFDiv(g->b, d, den, ""), ""));
    hgen_loop_end(g, &j);
    LLVMValueRef dden = LLVMBuildFNeg(g->b, LLVMBuildFDiv(g->b, LLVMBuildLoad2(g->b, g->f32, slot, ""), LLVMBuildFMul(g->b, den, den, ""), ""), "");
    hgen_store_elem(g, t, i.iv, hc_i64(g, dv), LLVMBuildSelect(g->b, none, f0, dden, ""));
    hgen_loop_end(g, &i);
    return true;
}

/* Row-major element of the decay param read at (batch, head, t), clamped
 * like the forward's read (host_ops_linear.c): per head [head], per token
 * the last ndim of (batch, head, t). */
static LLVMValueRef gate_elem(hgen *g, int p, int decay, LLVMValueRef b, LLVMValueRef h, LLVMValueRef t)
{
    const tir_param *rp = &g->tk->params[p];
    LLVMValueRef idx3[3] = {b, h, t};
    int n = decay == DECAY_PER_HEAD ? 1 : (rp->ndim < 1 ? 1 : rp->ndim > 3 ? 3 : rp->ndim);
    LLVMValueRef *idx = decay == DECAY_PER_HEAD ? &idx3[1] : idx3 + 3 - n;
    LLVMValueRef off = hc_i64(g, 0);
    for (int d = 0; d < rp->ndim && d < n; d++) {
        LLVMValueRef top = LLVMBuildSub(g->b, g->param_shape[p][d], hc_i64(g, 1), "");
        LLVMValueRef i = hgen_imax(g, hgen_imin(g, idx[d], top), hc_i64(g, 0));
        off = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, off, g->param_shape[p][d], ""), i, "");
    }
    return off;
}

/* The param element at row-major index e, read through its strides. */
static LLVMValueRef param_at(hgen *g, int p, LLVMValueRef e)
{
    LLVMValueRef off = hc_i64(g, 0);
    for (int d = g->tk->params[p].ndim - 1; d >= 0; d--) {
        LLVMValueRef n = g->param_shape[p][d];
        off = LLVMBuildAdd(g->b, off, LLVMBuildMul(g->b, LLVMBuildURem(g->b, e, n, ""), g->param_stride[p][d], ""), "");
        e = LLVMBuildUDiv(g->b, e, n, "");
    }
    return hgen_load_dtype(g, g->tk->params[p].dtype, g->param_ptr[p], off);
}

/* d log a_t = Σ_{t' >= t} (qdq - kdk), into qdq, per (batch, head); the
 * first token's decay multiplies the empty state: exactly 0 there (the sum
 * over every token is 0 only up to rounding). */
static void reverse_cumsum(hgen *g, LLVMValueRef sum)
{
    LLVMTypeRef f64 = LLVMDoubleTypeInContext(g->ctx);
    LLVMValueRef T = g->size[SZ_TOKENS];
    hloop bh = hgen_loop_begin(g, hc_i64(g, 0), LLVMBuildMul(g->b, g->size[SZ_BATCH], g->size[SZ_HEADS], ""));
    LLVMBuildStore(g->b, LLVMConstReal(f64, 0.0), sum);
    hloop t = hgen_loop_begin(g, hc_i64(g, 0), T);
    LLVMValueRef tt = LLVMBuildSub(g->b, LLVMBuildSub(g->b, T, hc_i64(g, 1), ""), t.iv, "");
    LLVMValueRef off = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, bh.iv, T, ""), tt, "");
    LLVMValueRef pq = LLVMBuildGEP2(g->b, g->f32, g->bwd->ws[TENSOR_QDQ], &off, 1, "");
    LLVMValueRef pk = LLVMBuildGEP2(g->b, g->f32, g->bwd->ws[TENSOR_KDK], &off, 1, "");
    LLVMValueRef dg = LLVMBuildFSub(g->b, LLVMBuildLoad2(g->b, g->f32, pq, ""), LLVMBuildLoad2(g->b, g->f32, pk, ""), "");
    LLVMValueRef c = LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, f64, sum, ""), LLVMBuildFPExt(g->b, dg, f64, ""), "");
    LLVMBuildStore(g->b, c, sum);
    LLVMValueRef first = LLVMBuildICmp(g->b, LLVMIntEQ, tt, hc_i64(g, 0), "");
    LLVMBuildStore(g->b, LLVMBuildSelect(g->b, first, hc_f32(g, 0.0), LLVMBuildFPTrunc(g->b, c, g->f32, ""), ""), pq);
    hgen_loop_end(g, &t);
    hgen_loop_end(g, &bh);
}

static bool emit_gate_grad(hgen *g, const tir_op *op)
{
    int p = op->param;
    hbwd *b = g->bwd;
    if (!b || !b->slots[p] || !b->ws[TENSOR_QDQ] || !b->ws[TENSOR_KDK])
        return hgen_fail(g, "internal error: host codegen: gate_grad without its workspace");
    LLVMTypeRef f64 = LLVMDoubleTypeInContext(g->ctx);
    LLVMValueRef sum = alloca_f64(g), numel = hbwd_param_numel(g, p), acc = b->slots[p]; /* f64 [numel] */
    reverse_cumsum(g, sum);
    hloop z = hgen_loop_begin(g, hc_i64(g, 0), numel);
    LLVMBuildStore(g->b, LLVMConstReal(f64, 0.0), LLVMBuildGEP2(g->b, f64, acc, &z.iv, 1, ""));
    hgen_loop_end(g, &z);
    LLVMValueRef T = g->size[SZ_TOKENS];
    hloop bb = hgen_loop_begin(g, hc_i64(g, 0), g->size[SZ_BATCH]);
    hloop hh = hgen_loop_begin(g, hc_i64(g, 0), g->size[SZ_HEADS]);
    hloop t = hgen_loop_begin(g, hc_i64(g, 0), T);
    LLVMValueRef bh = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, bb.iv, g->size[SZ_HEADS], ""), hh.iv, "");
    LLVMValueRef off = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, bh, T, ""), t.iv, "");
    LLVMValueRef dl = LLVMBuildLoad2(g->b, g->f32, LLVMBuildGEP2(g->b, g->f32, b->ws[TENSOR_QDQ], &off, 1, ""), "");
    LLVMValueRef at = LLVMBuildGEP2(g->b, f64, acc, (LLVMValueRef[]){gate_elem(g, p, op->decay, bb.iv, hh.iv, t.iv)}, 1, "");
    LLVMBuildStore(g->b, LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, f64, at, ""), LLVMBuildFPExt(g->b, dl, f64, ""), ""), at);
    hgen_loop_end(g, &t);
    hgen_loop_end(g, &hh);
    hgen_loop_end(g, &bb);
    hif has = hgen_if_begin(g, LLVMBuildIsNotNull(g->b, b->dparam[p], ""));
    hloop e = hgen_loop_begin(g, hc_i64(g, 0), numel);
    LLVMValueRef v = LLVMBuildLoad2(g->b, f64, LLVMBuildGEP2(g->b, f64, acc, &e.iv, 1, ""), "");
    if (op->decay == DECAY_PER_HEAD) /* a = λ: d/dλ = d/d log a / λ */
        v = LLVMBuildFDiv(g->b, v, LLVMBuildFPExt(g->b, param_at(g, p, e.iv), f64, ""), "");
    hgen_store_dtype(g, g->tk->params[p].dtype, b->dparam[p], dparam_offset(g, p, e.iv), LLVMBuildFPTrunc(g->b, v, g->f32, ""));
    hgen_loop_end(g, &e);
    hgen_if_end(g, &has);
    return true;
}

/* head_sum: dK or dV of this kv head = Σ over its group of the per-head partials. */
static bool emit_head_sum(hgen *g, const tir_op *op)
{
    bool k = op->tensor == TENSOR_DK;
    int ht = k ? HT_DK : HT_DV, cols = k ? g->tk->head_dim : g->tk->head_dim_v;
    LLVMValueRef part = g->bwd ? g->bwd->ws[k ? TENSOR_DKH : TENSOR_DVH] : NULL;
    if (!part)
        return hgen_fail(g, "internal error: host codegen: head_sum without its partials");
    LLVMValueRef T = g->size[SZ_KV_TOKENS], slot = hgen_alloca_f32(g);
    LLVMValueRef group = LLVMBuildSDiv(g->b, g->size[SZ_HEADS], hgen_imax(g, g->size[SZ_KV_HEADS], hc_i64(g, 1)), "");
    LLVMValueRef h0 = LLVMBuildMul(g->b, g->kv_head, group, "");
    hloop t = hgen_loop_begin(g, hc_i64(g, 0), T);
    hloop c = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, cols));
    LLVMBuildStore(g->b, hc_f32(g, 0.0), slot);
    hloop h = hgen_loop_begin(g, h0, LLVMBuildAdd(g->b, h0, group, ""));
    LLVMValueRef bh = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, g->batch, g->size[SZ_HEADS], ""), h.iv, "");
    LLVMValueRef off = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, bh, T, ""), t.iv, ""), hc_i64(g, cols), ""), c.iv, "");
    LLVMValueRef v = LLVMBuildLoad2(g->b, g->f32, LLVMBuildGEP2(g->b, g->f32, part, &off, 1, ""), "");
    LLVMBuildStore(g->b, LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, g->f32, slot, ""), v, ""), slot);
    hgen_loop_end(g, &h);
    LLVMValueRef o = LLVMBuildMul(g->b, g->batch, g->stride[ht][0], "");
    o = LLVMBuildAdd(g->b, o, LLVMBuildMul(g->b, g->kv_head, g->stride[ht][1], ""), "");
    o = LLVMBuildAdd(g->b, o, LLVMBuildMul(g->b, t.iv, g->stride[ht][2], ""), "");
    o = LLVMBuildAdd(g->b, o, LLVMBuildMul(g->b, c.iv, g->stride[ht][3], ""), "");
    hgen_store_dtype(g, g->tk->qkv_dtype, g->tensor[ht], o, LLVMBuildLoad2(g->b, g->f32, slot, ""));
    hgen_loop_end(g, &c);
    hgen_loop_end(g, &t);
    return true;
}

bool host_op_backward(hgen *g, const tir_op *op)
{
    switch (op->kind) {
    case TIR_KVTILE: return emit_kvtile(g, op);
    case TIR_Q_RANGE: return emit_q_range(g, op);
    case TIR_ROW_DOT: return emit_row_dot(g, op);
    case TIR_ROW_SUM: return emit_row_sum(g, op);
    case TIR_ROW_DIV: return emit_row_div(g, op);
    case TIR_SOFTMAX_P: return emit_softmax_p(g, op);
    case TIR_SCORE_GRAD: return emit_score_grad(g, op);
    case TIR_PARAM_GRAD: return emit_param_grad(g, op);
    case TIR_SLOT_REDUCE: return emit_slot_reduce(g, op);
    case TIR_FEATURE_GRAD: return emit_feature_grad(g, op);
    case TIR_NORM_GRAD: return emit_norm_grad(g, op);
    case TIR_GATE_GRAD: return emit_gate_grad(g, op);
    case TIR_HEAD_SUM: return emit_head_sum(g, op);
    default: return hgen_fail(g, "internal error: host_op_backward: %s", hgen_op_name(op->kind));
    }
}
