/* host_ops_linear.c — linear attention's tile ops on the host, for one
 * block of C tokens (rows of the block box):
 *   feature_map x           φ(x) per element (identity, elu+1, relu)
 *   decay_mask s, qb, kb    w[i][j] = s[i][j] · [j <= i] · A(i, j)   (causal)
 *   state_apply q, S, qb    o[i] = (q[i] S) · A(i, start)           inter-block part
 *   state_update S, k, v    S' = A(last, start) S + Σ_s A(last, s) k[s]ᵀ v[s]
 * with A(i, j) = Π_{u=j+1..i} a_u the decay between rows (a = λ per head or
 * exp(g_t) per token), computed from G[i] = Σ_{u<=i} log a_u as exp(G[i] - G[j])
 * and A(i, start) = exp(G[i]). Rows outside the sequence add nothing and
 * produce 0. Non-causal recipes use no decay. This is the recurrence of
 * ir/attn_kinds.h carried block by block.
 * With reverse=1 (the backward's anti-causal scans, lower_linear_bwd.c):
 *   decay_mask    w[i][j] = s[i][j] · [j >= i] · A(j, i)
 *   state_apply   o[i] = (q[i] S) · A(last, i)
 *   state_update  S' = A(last, start) S + Σ_s A(s, start) k[s]ᵀ v[s]
 * every factor again exp of a difference of G that is <= 0. strict=1 drops
 * the diagonal from decay_mask (j < i; reverse: j > i). */
#include "host_gen.h"

/* log a_t for token t (0 without decay). */
static LLVMValueRef log_decay(hgen *g, LLVMValueRef t)
{
    const linear_attrs *lin = &g->tk->linear;
    if (!lin->causal || lin->decay == DECAY_NONE || lin->decay_param < 0 || lin->decay_param >= g->tk->nparams)
        return hc_f32(g, 0.0);
    int p = lin->decay_param;
    const tir_param *rp = &g->tk->params[p];
    LLVMValueRef idx3[3] = {g->batch, g->head, t};
    LLVMValueRef off = hc_i64(g, 0);
    int n = lin->decay == DECAY_PER_HEAD ? 1 : (rp->ndim < 1 ? 1 : rp->ndim > 3 ? 3 : rp->ndim);
    LLVMValueRef *idx = lin->decay == DECAY_PER_HEAD ? &idx3[1] : idx3 + 3 - n;
    for (int d = 0; d < rp->ndim && d < n; d++) {
        LLVMValueRef top = LLVMBuildSub(g->b, g->param_shape[p][d], hc_i64(g, 1), "");
        LLVMValueRef i = hgen_imax(g, hgen_imin(g, idx[d], top), hc_i64(g, 0));
        off = LLVMBuildAdd(g->b, off, LLVMBuildMul(g->b, i, g->param_stride[p][d], ""), "");
    }
    LLVMValueRef v = LLVMBuildLoad2(g->b, g->f32, LLVMBuildGEP2(g->b, g->f32, g->param_ptr[p], &off, 1, ""), "");
    return lin->decay == DECAY_PER_HEAD ? hgen_call_f32(g, "llvm.log", v) : v;
}

/* G[i] = Σ_{u <= i, valid} log a_u over the rows of a block box. */
static hval *cumulative_decay(hgen *g, const hval *box)
{
    hval *G = ARENA_NEW(g->a, hval);
    if (!G) {
        hgen_fail(g, "out of memory");
        return NULL;
    }
    G->kind = TV_ROWS;
    G->rows = hbox_rows(box);
    G->cols = 1;
    G->buf = hgen_buffer(g, G->rows, 1);
    LLVMValueRef slot = hgen_alloca_f32(g);
    LLVMBuildStore(g->b, hc_f32(g, 0.0), slot);
    hloop i = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, G->rows));
    hrow r = hbox_row(g, box, i.iv);
    LLVMValueRef t = LLVMBuildSelect(g->b, r.valid, r.t, hc_i64(g, 0), "");
    LLVMValueRef ld = LLVMBuildSelect(g->b, r.valid, log_decay(g, t), hc_f32(g, 0.0), "");
    LLVMValueRef acc = LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, g->f32, slot, ""), ld, "");
    LLVMBuildStore(g->b, acc, slot);
    hgen_store_elem(g, G, i.iv, hc_i64(g, 0), acc);
    hgen_loop_end(g, &i);
    return G;
}

static LLVMValueRef feature(hgen *g, int f, LLVMValueRef x)
{
    LLVMValueRef pos = LLVMBuildFCmp(g->b, LLVMRealOGT, x, hc_f32(g, 0.0), "");
    if (f == FEATURE_ELU1)
        return LLVMBuildSelect(g->b, pos, LLVMBuildFAdd(g->b, x, hc_f32(g, 1.0), ""), hgen_call_f32(g, "llvm.exp", x), "");
    if (f == FEATURE_RELU)
        return LLVMBuildSelect(g->b, pos, x, hc_f32(g, 0.0), "");
    return x;
}

static bool emit_feature_map(hgen *g, const tir_op *op)
{
    hval *x = hgen_val(g, op->operands[0]);
    if (!x)
        return false;
    hval *t = hgen_tile(g, op->results[0], x->rows, x->cols);
    if (!t)
        return false;
    hloop i = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, (int64_t)x->rows * x->cols));
    LLVMValueRef v = LLVMBuildLoad2(g->b, g->f32, LLVMBuildGEP2(g->b, g->f32, x->buf, &i.iv, 1, ""), "");
    LLVMBuildStore(g->b, feature(g, op->feature, v), LLVMBuildGEP2(g->b, g->f32, t->buf, &i.iv, 1, ""));
    hgen_loop_end(g, &i);
    return true;
}

static bool emit_decay_mask(hgen *g, const tir_op *op)
{
    hval *s = hgen_val(g, op->operands[0]);
    hval *qb = hgen_val(g, op->operands[1]);
    hval *kb = hgen_val(g, op->operands[2]);
    if (!s || !qb || !kb)
        return false;
    hval *G = cumulative_decay(g, qb);
    hval *w = hgen_tile(g, op->results[0], s->rows, s->cols);
    if (!G || !w)
        return false;
    LLVMValueRef zero = hc_i64(g, 0);
    hloop i = hgen_loop_begin(g, zero, hc_i64(g, s->rows));
    hrow qr = hbox_row(g, qb, i.iv);
    LLVMValueRef gi = hgen_load_elem(g, G, i.iv, zero);
    hloop j = hgen_loop_begin(g, zero, hc_i64(g, s->cols));
    hrow kr = hbox_row(g, kb, j.iv);
    LLVMValueRef keep = LLVMBuildAnd(g->b, qr.valid, kr.valid, "");
    if (g->tk->linear.causal) {
        LLVMIntPredicate pred = op->reverse ? (op->strict ? LLVMIntSGT : LLVMIntSGE) : (op->strict ? LLVMIntSLT : LLVMIntSLE);
        keep = LLVMBuildAnd(g->b, keep, LLVMBuildICmp(g->b, pred, kr.t, qr.t, ""), "");
    }
    LLVMValueRef gj = hgen_load_elem(g, G, j.iv, zero);
    LLVMValueRef a = hgen_call_f32(g, "llvm.exp", op->reverse ? LLVMBuildFSub(g->b, gj, gi, "") : LLVMBuildFSub(g->b, gi, gj, ""));
    LLVMValueRef v = LLVMBuildFMul(g->b, hgen_load_elem(g, s, i.iv, j.iv), a, "");
    hgen_store_elem(g, w, i.iv, j.iv, LLVMBuildSelect(g->b, keep, v, hc_f32(g, 0.0), ""));
    hgen_loop_end(g, &j);
    hgen_loop_end(g, &i);
    return true;
}

static bool emit_state_apply(hgen *g, const tir_op *op)
{
    hval *q = hgen_val(g, op->operands[0]);
    hval *S = hgen_val(g, op->operands[1]);
    hval *qb = hgen_val(g, op->operands[2]);
    if (!q || !S || !qb)
        return false;
    if (q->cols != S->rows)
        return hgen_fail(g, "internal error: host codegen: state_apply of %dx%d and %dx%d", q->rows, q->cols, S->rows,
                         S->cols);
    hval *G = cumulative_decay(g, qb);
    hval *o = hgen_tile(g, op->results[0], q->rows, S->cols);
    if (!G || !o)
        return false;
    LLVMValueRef zero = hc_i64(g, 0), slot = hgen_alloca_f32(g);
    LLVMValueRef glast = hgen_load_elem(g, G, hc_i64(g, G->rows - 1), zero);
    hloop i = hgen_loop_begin(g, zero, hc_i64(g, q->rows));
    hrow qr = hbox_row(g, qb, i.iv);
    LLVMValueRef gi = hgen_load_elem(g, G, i.iv, zero);
    LLVMValueRef a = hgen_call_f32(g, "llvm.exp", op->reverse ? LLVMBuildFSub(g->b, glast, gi, "") : gi);
    hloop c = hgen_loop_begin(g, zero, hc_i64(g, S->cols));
    LLVMBuildStore(g->b, hc_f32(g, 0.0), slot);
    hloop k = hgen_loop_begin(g, zero, hc_i64(g, q->cols));
    LLVMValueRef prod = LLVMBuildFMul(g->b, hgen_load_elem(g, q, i.iv, k.iv), hgen_load_elem(g, S, k.iv, c.iv), "");
    LLVMBuildStore(g->b, LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, g->f32, slot, ""), prod, ""), slot);
    hgen_loop_end(g, &k);
    LLVMValueRef v = LLVMBuildFMul(g->b, LLVMBuildLoad2(g->b, g->f32, slot, ""), a, "");
    hgen_store_elem(g, o, i.iv, c.iv, LLVMBuildSelect(g->b, qr.valid, v, hc_f32(g, 0.0), ""));
    hgen_loop_end(g, &c);
    hgen_loop_end(g, &i);
    return true;
}

static bool emit_state_update(hgen *g, const tir_op *op)
{
    hval *S = hgen_val(g, op->operands[0]);
    hval *k = hgen_val(g, op->operands[1]);
    hval *v = hgen_val(g, op->operands[2]);
    hval *kb = hgen_val(g, op->operands[3]);
    if (!S || !k || !v || !kb)
        return false;
    if (S->rows != k->cols || S->cols != v->cols || k->rows != v->rows)
        return hgen_fail(g, "internal error: host codegen: state_update shapes S %dx%d k %dx%d v %dx%d", S->rows,
                         S->cols, k->rows, k->cols, v->rows, v->cols);
    hval *G = cumulative_decay(g, kb);
    hval *out = hgen_tile(g, op->results[0], S->rows, S->cols);
    if (!G || !out)
        return false;
    LLVMValueRef zero = hc_i64(g, 0);
    LLVMValueRef glast = hgen_load_elem(g, G, hc_i64(g, G->rows - 1), zero);
    LLVMValueRef atotal = hgen_call_f32(g, "llvm.exp", glast);
    hloop r = hgen_loop_begin(g, zero, hc_i64(g, (int64_t)S->rows * S->cols));
    LLVMValueRef x = LLVMBuildLoad2(g->b, g->f32, LLVMBuildGEP2(g->b, g->f32, S->buf, &r.iv, 1, ""), "");
    LLVMBuildStore(g->b, LLVMBuildFMul(g->b, x, atotal, ""), LLVMBuildGEP2(g->b, g->f32, out->buf, &r.iv, 1, ""));
    hgen_loop_end(g, &r);
    hloop s = hgen_loop_begin(g, zero, hc_i64(g, k->rows));
    hrow kr = hbox_row(g, kb, s.iv);
    LLVMValueRef gs = hgen_load_elem(g, G, s.iv, zero);
    LLVMValueRef w = hgen_call_f32(g, "llvm.exp", op->reverse ? gs : LLVMBuildFSub(g->b, glast, gs, ""));
    w = LLVMBuildSelect(g->b, kr.valid, w, hc_f32(g, 0.0), "");
    hloop i = hgen_loop_begin(g, zero, hc_i64(g, S->rows));
    LLVMValueRef ki = LLVMBuildFMul(g->b, hgen_load_elem(g, k, s.iv, i.iv), w, "");
    hloop c = hgen_loop_begin(g, zero, hc_i64(g, S->cols));
    LLVMValueRef cur = hgen_load_elem(g, out, i.iv, c.iv);
    LLVMValueRef add = LLVMBuildFMul(g->b, ki, hgen_load_elem(g, v, s.iv, c.iv), "");
    hgen_store_elem(g, out, i.iv, c.iv, LLVMBuildFAdd(g->b, cur, add, ""));
    hgen_loop_end(g, &c);
    hgen_loop_end(g, &i);
    hgen_loop_end(g, &s);
    return true;
}

bool host_op_linear(hgen *g, const tir_op *op)
{
    switch (op->kind) {
    case TIR_FEATURE_MAP: return emit_feature_map(g, op);
    case TIR_DECAY_MASK: return emit_decay_mask(g, op);
    case TIR_STATE_APPLY: return emit_state_apply(g, op);
    case TIR_STATE_UPDATE: return emit_state_update(g, op);
    default: return hgen_fail(g, "internal error: host_op_linear: %s", hgen_op_name(op->kind));
    }
}
