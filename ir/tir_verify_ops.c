/* tir_verify_ops.c — the per-op typing rules of the verifier: operand
 * kinds, shapes and attributes for every op but for/yield (tir_verify.c). */
#include "tir_verify_int.h"

#define WANT(i, kind)                                                                                            \
    do {                                                                                                         \
        if (!tir_vwant(c, (i), (kind)))                                                                          \
            return false;                                                                                        \
    } while (0)

static const tir_type *OT(const tir_op *op, int i)
{
    return &op->operands[i]->type;
}

static const tir_type *RT(const tir_op *op, int i)
{
    return &op->results[i]->type;
}

static bool result_kind(vctx *c, const tir_op *op, int r, tir_value_kind kind)
{
    if (RT(op, r)->kind != kind)
        return tir_vfail(c, -2 - r, "must be a %s, not a %s", tir_vkind_name(kind), tir_vkind_name(RT(op, r)->kind));
    return true;
}

static bool verify_load(vctx *c, const tir_op *op)
{
    WANT(0, TV_BOX);
    tir_tensor t = op->tensor;
    if (t == TENSOR_LSE || t == TENSOR_DELTA)
        return result_kind(c, op, 0, TV_ROWS);
    if (!result_kind(c, op, 0, TV_TILE))
        return false;
    if (t != TENSOR_Q && t != TENSOR_K && t != TENSOR_V && t != TENSOR_PARAM && t != TENSOR_O && t != TENSOR_DO &&
        t != TENSOR_DOX)
        return tir_vfail(c, -1, "load reads q, k, v, o, do, dox, a param (tiles), lse or delta (rows), not %s",
                         tir_tensor_label(t));
    if (op->tensor == TENSOR_PARAM && (op->param < 0 || op->param >= c->k->nparams))
        return tir_vfail(c, -1, "load of param %d: the kernel has %d params", op->param, c->k->nparams);
    if (op->aug && op->tensor != TENSOR_V)
        return tir_vfail(c, -1, "aug (ones column) applies to v only");
    return true;
}

static bool verify_store(vctx *c, const tir_op *op)
{
    WANT(0, TV_BOX);
    switch (op->tensor) {
    case TENSOR_O:
    case TENSOR_DQ:
    case TENSOR_DK:
    case TENSOR_DV:
    case TENSOR_DOX:
    case TENSOR_DKH:
    case TENSOR_DVH:
        WANT(1, TV_TILE);
        return true;
    case TENSOR_LSE:
    case TENSOR_DELTA:
    case TENSOR_QDQ:
    case TENSOR_KDK:
        WANT(1, TV_ROWS);
        return true;
    default:
        return tir_vfail(c, -1, "store writes o, dq, dk, dv, dox, dkh, dvh (tiles) or lse, delta, qdq, kdk (rows), not %s",
                         tir_tensor_label(op->tensor));
    }
}

/* Whether op's mode may carry parts: bounds, or a q_range's inverse. */
static bool parts_mode(const tir_op *op)
{
    return op->range_mode == RANGE_BOUNDS || (op->kind == TIR_Q_RANGE && op->range_mode == RANGE_INVERSE);
}

/* The parts of a union range: kv_range or q_range bounds (q_range also
 * inverse), 2..TIR_MAX_PARTS of them, each with an int lo and hi in every
 * dim of the hull. */
static bool verify_parts(vctx *c, const tir_op *op)
{
    if (op->range_nparts == 0)
        return true;
    if (!parts_mode(op))
        return tir_vfail(c, -1, "parts belong to kv_range or q_range with mode=bounds (q_range: or inverse)");
    if (op->range_nparts < 2 || op->range_nparts > TIR_MAX_PARTS)
        return tir_vfail(c, -1, "a union range has 2 to %d parts, not %d", TIR_MAX_PARTS, op->range_nparts);
    for (int p = 0; p < op->range_nparts; p++)
        for (int d = 0; d < op->range_ndims; d++) {
            const expr *lo = op->part_lo[p][d], *hi = op->part_hi[p][d];
            if (!lo || !hi || lo->type != TY_INT || hi->type != TY_INT)
                return tir_vfail(c, -1, "part %d of the range needs int lo%d and hi%d", p, d, d);
        }
    return true;
}

static bool verify_range(vctx *c, const tir_op *op)
{
    bool table_bounds = op->range_mode == RANGE_BLOCK_TABLE && op->range_ndims > 0; /* document(ids) alone */
    if (op->span && (op->kind != TIR_KV_RANGE || (op->range_mode != RANGE_BOUNDS && !table_bounds)))
        return tir_vfail(c, -1, "span belongs to kv_range with mode=bounds (or mode=table with bounds)");
    if (op->span && (op->span_param < 0 || op->span_param >= c->k->nparams))
        return tir_vfail(c, -1, "span names param %d of %d", op->span_param, c->k->nparams);
    if (op->range_nparts && !parts_mode(op))
        return tir_vfail(c, -1, "parts belong to kv_range or q_range with mode=bounds (q_range: or inverse)");
    WANT(0, TV_BOX);
    if (!result_kind(c, op, 0, TV_RANGE))
        return false;
    if (op->range_mode == RANGE_INVERSE && op->kind != TIR_Q_RANGE)
        return tir_vfail(c, -1, "mode=inverse belongs to q_range");
    if (op->range_mode != RANGE_BOUNDS && op->range_mode != RANGE_INVERSE)
        return true;
    if (op->range_ndims < 1 || op->range_ndims > SCHED_MAX_DIMS)
        return tir_vfail(c, -1, "kv_range bounds need 1 to 3 dims, has %d", op->range_ndims);
    for (int d = 0; d < op->range_ndims; d++)
        if (!op->range_lo[d] || !op->range_hi[d] || op->range_lo[d]->type != TY_INT || op->range_hi[d]->type != TY_INT)
            return tir_vfail(c, -1, "kv_range bounds of dim %d must be int expressions", d);
    return verify_parts(c, op);
}

/* dot a[M x K], b[K x N] (or b[N x K] with trans_b) [, acc[M x N]] -> [M x N] f32. */
static bool verify_dot(vctx *c, const tir_op *op)
{
    WANT(0, TV_TILE);
    WANT(1, TV_TILE);
    if (op->noperands > 3)
        return tir_vfail(c, -1, "dot takes a, b and an optional accumulator");
    const tir_type *a = OT(op, 0), *b = OT(op, 1), *r = RT(op, 0);
    int bk = op->trans_b ? b->shape[1] : b->shape[0], bn = op->trans_b ? b->shape[0] : b->shape[1];
    int am = op->trans_a ? a->shape[1] : a->shape[0], ak = op->trans_a ? a->shape[0] : a->shape[1];
    if (!tir_vsame_dim(ak, bk))
        return tir_vfail(c, 1, "dot shapes mismatch: a%s is %dx%d, b%s is %dx%d (inner dims %d and %d)",
                         op->trans_a ? " (transposed)" : "", a->shape[0], a->shape[1],
                         op->trans_b ? " (transposed)" : "", b->shape[0], b->shape[1], ak, bk);
    if (!result_kind(c, op, 0, TV_TILE))
        return false;
    if (!tir_vsame_dim(r->shape[0], am) || !tir_vsame_dim(r->shape[1], bn))
        return tir_vfail(c, -2, "dot result must be %dx%d, is %dx%d", am, bn, r->shape[0], r->shape[1]);
    if (r->dt != DT_F32)
        return tir_vfail(c, -2, "dot accumulates in f32, not %s", dtype_name(r->dt));
    if (op->noperands == 3) {
        WANT(2, TV_TILE);
        if (!tir_vsame_shape(OT(op, 2), r))
            return tir_vfail(c, 2, "dot accumulator shape differs from the result's");
    }
    return true;
}

static bool verify_class(vctx *c, const tir_op *op)
{
    WANT(0, TV_BOX);
    WANT(1, TV_BOX);
    if (!result_kind(c, op, 0, TV_CLASS))
        return false;
    if (!op->full_expr || !op->empty_expr || op->full_expr->type != TY_BOOL || op->empty_expr->type != TY_BOOL)
        return tir_vfail(c, -1, "tile_class needs bool full= and empty= expressions");
    return true;
}

static bool verify_score(vctx *c, const tir_op *op)
{
    WANT(0, TV_TILE);
    WANT(1, TV_BOX);
    WANT(2, TV_BOX);
    if (op->noperands > 4)
        return tir_vfail(c, -1, "score takes s, qbox, kbox and an optional class");
    if (op->noperands == 4)
        WANT(3, TV_CLASS);
    if (!op->score_expr || op->score_expr->type == TY_BOOL)
        return tir_vfail(c, -1, "score needs a numeric score= expression");
    if (op->mask_expr && op->mask_expr->type != TY_BOOL)
        return tir_vfail(c, -1, "score's mask= must be a bool expression");
    if (!result_kind(c, op, 0, TV_TILE))
        return false;
    if (!tir_vsame_shape(RT(op, 0), OT(op, 0)))
        return tir_vfail(c, -2, "score result shape differs from s");
    return true;
}

/* softmax_update t[R x C], m[R], l[R] -> p[R x C], m', l', alpha (rows R). */
static bool verify_softmax(vctx *c, const tir_op *op)
{
    WANT(0, TV_TILE);
    for (int i = 1; i < 3; i++) {
        WANT(i, TV_ROWS);
        if (!tir_vsame_dim(OT(op, i)->shape[0], OT(op, 0)->shape[0]))
            return tir_vfail(c, i, "softmax_update: rows vector has %d rows, the score tile %d", OT(op, i)->shape[0],
                             OT(op, 0)->shape[0]);
    }
    if (!result_kind(c, op, 0, TV_TILE))
        return false;
    if (!tir_vsame_shape(RT(op, 0), OT(op, 0)))
        return tir_vfail(c, -2, "softmax_update: P must have the score tile's shape");
    for (int r = 1; r < 4; r++)
        if (!result_kind(c, op, r, TV_ROWS))
            return false;
    return true;
}

static bool verify_rescale(vctx *c, const tir_op *op)
{
    WANT(0, TV_TILE);
    WANT(1, TV_ROWS);
    if (!tir_vsame_dim(OT(op, 0)->shape[0], OT(op, 1)->shape[0]))
        return tir_vfail(c, 1, "rescale: %d scale rows for a tile of %d rows", OT(op, 1)->shape[0], OT(op, 0)->shape[0]);
    return result_kind(c, op, 0, TV_TILE);
}

static bool verify_finalize(vctx *c, const tir_op *op)
{
    WANT(0, TV_TILE);
    if (op->noperands == 1) { /* linear normalize */
        if (op->nresults != 1)
            return tir_vfail(c, -1, "finalize of one tile has one result");
        return result_kind(c, op, 0, TV_TILE);
    }
    if (op->noperands != 3 || op->nresults != 2)
        return tir_vfail(c, -1, "finalize acc, m, l has two results (o, lse)");
    WANT(1, TV_ROWS);
    WANT(2, TV_ROWS);
    return result_kind(c, op, 0, TV_TILE) && result_kind(c, op, 1, TV_ROWS);
}

static bool same_tile(vctx *c, const tir_op *op)
{
    WANT(0, TV_TILE);
    if (!result_kind(c, op, 0, TV_TILE))
        return false;
    if (!tir_vsame_shape(RT(op, 0), OT(op, 0)))
        return tir_vfail(c, -2, "%s keeps its operand's shape", tir_op_name(op->kind));
    return true;
}

static bool verify_linear(vctx *c, const tir_op *op)
{
    if (op->decay < 0 || op->decay > 2)
        return tir_vfail(c, -1, "unknown decay kind %d", op->decay);
    if (op->decay != 0 && (op->param < 0 || op->param >= c->k->nparams))
        return tir_vfail(c, -1, "decay needs a param of the kernel (param=%d)", op->param);
    switch (op->kind) {
    case TIR_DECAY_MASK:
        WANT(1, TV_BOX);
        WANT(2, TV_BOX);
        return same_tile(c, op);
    case TIR_STATE_APPLY:
        WANT(0, TV_TILE);
        WANT(1, TV_TILE);
        WANT(2, TV_BOX);
        if (!tir_vsame_dim(OT(op, 0)->shape[1], OT(op, 1)->shape[0]))
            return tir_vfail(c, 1, "state_apply: q has %d columns, the state %d rows", OT(op, 0)->shape[1],
                             OT(op, 1)->shape[0]);
        return result_kind(c, op, 0, TV_TILE);
    default: /* STATE_UPDATE state, k, v, kbox */
        WANT(0, TV_TILE);
        WANT(1, TV_TILE);
        WANT(2, TV_TILE);
        WANT(3, TV_BOX);
        if (!tir_vsame_dim(OT(op, 1)->shape[1], OT(op, 0)->shape[0]) || !tir_vsame_dim(OT(op, 2)->shape[1], OT(op, 0)->shape[1]))
            return tir_vfail(c, 0, "state_update: state %dx%d does not match k (%d cols) and v (%d cols)",
                             OT(op, 0)->shape[0], OT(op, 0)->shape[1], OT(op, 1)->shape[1], OT(op, 2)->shape[1]);
        return same_tile(c, op);
    }
}

static bool verify_add(vctx *c, const tir_op *op)
{
    if (OT(op, 0)->kind == TV_ROWS) { /* rows + rows (the backward's running sums) */
        WANT(1, TV_ROWS);
        if (!tir_vsame_dim(OT(op, 0)->shape[0], OT(op, 1)->shape[0]))
            return tir_vfail(c, 1, "add operands differ in rows");
        return result_kind(c, op, 0, TV_ROWS);
    }
    WANT(1, TV_TILE);
    if (!tir_vsame_shape(OT(op, 0), OT(op, 1)))
        return tir_vfail(c, 1, "add operands differ in shape");
    return same_tile(c, op);
}

bool verify_op_rules(vctx *c, const tir_op *op)
{
    switch (op->kind) {
    case TIR_QTILE:
        return result_kind(c, op, 0, TV_BOX);
    case TIR_LOAD:
        return verify_load(c, op);
    case TIR_STORE:
        return verify_store(c, op);
    case TIR_FILL:
        if (RT(op, 0)->kind != TV_TILE && RT(op, 0)->kind != TV_ROWS)
            return tir_vfail(c, -2, "fill makes a tile or rows");
        return true;
    case TIR_KV_RANGE:
        return verify_range(c, op);
    case TIR_DOT:
        return verify_dot(c, op);
    case TIR_TILE_CLASS:
        return verify_class(c, op);
    case TIR_SCORE:
        return verify_score(c, op);
    case TIR_SOFTMAX_UPDATE:
        return verify_softmax(c, op);
    case TIR_RESCALE:
        return verify_rescale(c, op);
    case TIR_FINALIZE:
        return verify_finalize(c, op);
    case TIR_CONVERT:
        return same_tile(c, op);
    case TIR_FEATURE_MAP:
        if (op->feature < 0 || op->feature > 2)
            return tir_vfail(c, -1, "unknown feature map %d", op->feature);
        return same_tile(c, op);
    case TIR_DECAY_MASK:
    case TIR_STATE_APPLY:
    case TIR_STATE_UPDATE:
        return verify_linear(c, op);
    case TIR_ADD:
        return verify_add(c, op);
    case TIR_Q_RANGE:
        return verify_range(c, op);
    default:
        return verify_bwd_rules(c, op);
    }
}
