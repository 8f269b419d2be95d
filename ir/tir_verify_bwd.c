/* tir_verify_bwd.c — the verifier's rules for the backward ops
 * (docs/TILE_IR.md, "Backward"): operand kinds, shapes and attributes. */
#include "tir_text.h"
#include "tir_verify_int.h"

#define WANT(i, kind)                                                                                            \
    do {                                                                                                         \
        if (!tir_vwant(c, (i), (kind)))                                                                          \
            return false;                                                                                        \
    } while (0)

const char *tir_tensor_label(tir_tensor t)
{
    return (unsigned)t < TENSOR_COUNT ? tir_tensor_names[t] : "?";
}

static const tir_type *OT(const tir_op *op, int i)
{
    return &op->operands[i]->type;
}

static bool result_is(vctx *c, const tir_op *op, int r, tir_value_kind kind)
{
    if (op->results[r]->type.kind != kind)
        return tir_vfail(c, -2 - r, "must be a %s, not a %s", tir_vkind_name(kind),
                         tir_vkind_name(op->results[r]->type.kind));
    return true;
}

static bool has_param(vctx *c, int param, const char *what)
{
    if (param < 0 || param >= c->k->nparams)
        return tir_vfail(c, -1, "%s needs a param of the kernel (param=%d, %d params)", what, param, c->k->nparams);
    return true;
}

/* row_dot a, b -> rows; softmax_p t, lse -> p. */
static bool verify_rowwise(vctx *c, const tir_op *op)
{
    WANT(0, TV_TILE);
    if (op->kind == TIR_ROW_DOT) {
        WANT(1, TV_TILE);
        if (!tir_vsame_shape(OT(op, 0), OT(op, 1)))
            return tir_vfail(c, 1, "row_dot operands differ in shape");
        return result_is(c, op, 0, TV_ROWS);
    }
    WANT(1, TV_ROWS);
    if (!tir_vsame_dim(OT(op, 0)->shape[0], OT(op, 1)->shape[0]))
        return tir_vfail(c, 1, "softmax_p: %d lse rows for a score tile of %d rows", OT(op, 1)->shape[0],
                         OT(op, 0)->shape[0]);
    if (!result_is(c, op, 0, TV_TILE))
        return false;
    return tir_vsame_shape(&op->results[0]->type, OT(op, 0)) ||
           tir_vfail(c, -2, "softmax_p keeps the score tile's shape");
}

/* score_grad s, p, dp, delta, qbox, kbox -> ds, dsr */
static bool verify_score_grad(vctx *c, const tir_op *op)
{
    for (int i = 0; i < 3; i++) {
        WANT(i, TV_TILE);
        if (!tir_vsame_shape(OT(op, i), OT(op, 0)))
            return tir_vfail(c, i, "score_grad: s, p and dp must have one shape");
    }
    WANT(3, TV_ROWS);
    WANT(4, TV_BOX);
    WANT(5, TV_BOX);
    if (!op->score_expr || op->score_expr->type != TY_FLOAT)
        return tir_vfail(c, -1, "score_grad needs a float dscore= expression");
    return result_is(c, op, 0, TV_TILE) && result_is(c, op, 1, TV_TILE);
}

/* param_grad dsr, s, qbox, kbox {param site partial} */
static bool verify_param_grad(vctx *c, const tir_op *op)
{
    WANT(0, TV_TILE);
    WANT(1, TV_TILE);
    WANT(2, TV_BOX);
    WANT(3, TV_BOX);
    if (!has_param(c, op->param, "param_grad"))
        return false;
    const expr *site = op->site_expr;
    if (!site || site->kind != EX_PARAM || site->u.param != op->param)
        return tir_vfail(c, -1, "param_grad's site= must read its param");
    if (!op->partial_expr || op->partial_expr->type != TY_FLOAT)
        return tir_vfail(c, -1, "param_grad needs a float partial= expression");
    if (c->k->programs != PROG_SLOTS)
        return tir_vfail(c, -1, "param_grad accumulates into slots: the kernel needs programs=slots");
    return true;
}

static bool verify_norm_grad(vctx *c, const tir_op *op)
{
    WANT(0, TV_TILE);
    WANT(1, TV_TILE);
    const tir_type *d = OT(op, 0), *o = OT(op, 1);
    if (!tir_vsame_dim(d->shape[0], o->shape[0]) || (d->shape[1] && o->shape[1] && o->shape[1] != d->shape[1] + 1))
        return tir_vfail(c, 1, "norm_grad: o must have the rows of do and one more column (%dx%d vs %dx%d)",
                         o->shape[0], o->shape[1], d->shape[0], d->shape[1]);
    if (!result_is(c, op, 0, TV_TILE))
        return false;
    return tir_vsame_shape(&op->results[0]->type, o) || tir_vfail(c, -2, "norm_grad's result has o's shape");
}

/* An op that only makes sense in a kernel with a given program grid. */
static bool needs_programs(vctx *c, tir_programs want)
{
    if (c->k->programs != want)
        return tir_vfail(c, -1, "%s belongs in a kernel with programs=%s", tir_op_name(c->op->kind),
                         tir_programs_names[want]);
    return true;
}

bool verify_bwd_rules(vctx *c, const tir_op *op)
{
    switch (op->kind) {
    case TIR_KVTILE:
        return needs_programs(c, PROG_KVTILES) && result_is(c, op, 0, TV_BOX);
    case TIR_ROW_DOT:
    case TIR_SOFTMAX_P:
        return verify_rowwise(c, op);
    case TIR_ROW_SUM:
        WANT(0, TV_TILE);
        return result_is(c, op, 0, TV_ROWS);
    case TIR_ROW_DIV:
        WANT(0, TV_ROWS);
        WANT(1, TV_ROWS);
        if (!tir_vsame_dim(OT(op, 0)->shape[0], OT(op, 1)->shape[0]))
            return tir_vfail(c, 1, "row_div operands differ in rows");
        return result_is(c, op, 0, TV_ROWS);
    case TIR_SCORE_GRAD:
        return verify_score_grad(c, op);
    case TIR_PARAM_GRAD:
        return verify_param_grad(c, op);
    case TIR_SLOT_REDUCE:
        return needs_programs(c, PROG_ELEMS) && has_param(c, op->param, "slot_reduce") &&
               (op->param == c->k->param || tir_vfail(c, -1, "slot_reduce's param is not the kernel's elems_param"));
    case TIR_FEATURE_GRAD:
        WANT(0, TV_TILE);
        WANT(1, TV_TILE);
        if (op->feature < 0 || op->feature > 2)
            return tir_vfail(c, -1, "unknown feature map %d", op->feature);
        if (!tir_vsame_shape(OT(op, 0), OT(op, 1)))
            return tir_vfail(c, 1, "feature_grad operands differ in shape");
        return result_is(c, op, 0, TV_TILE);
    case TIR_NORM_GRAD:
        return verify_norm_grad(c, op);
    case TIR_GATE_GRAD:
        if (op->decay != 1 && op->decay != 2) /* decay_kind: per head, per token */
            return tir_vfail(c, -1, "gate_grad needs decay=head or decay=token");
        return needs_programs(c, PROG_ONE) && has_param(c, op->param, "gate_grad");
    case TIR_HEAD_SUM:
        if (op->tensor != TENSOR_DK && op->tensor != TENSOR_DV)
            return tir_vfail(c, -1, "head_sum writes dk or dv");
        return needs_programs(c, PROG_KVHEADS);
    default:
        return true;
    }
}
