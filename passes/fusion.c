/* fusion.c — the softmax in base 2. exp(x) = exp2(x * log2(e)), so the
 * factor log2(e) is folded into the score expression (into its constant
 * scale when the score is `s * c` or `c * s`, otherwise as an outer
 * multiply) and score, softmax_update and finalize get base2 = 1: the
 * running max m is then in log2 units and finalize converts the LSE back
 * (lse = m * ln 2 + log l). Mask, bias and softcap are already applied by
 * the score op on the score fragment in registers, and P (softmax_update's
 * first result) feeds the P·V dot directly: any convert between them is
 * removed so P never leaves registers. */
#include <math.h>

#include "passes.h"

static const double LOG2E = 1.4426950408889634;

static expr *fold_log2e(arena *a, expr *score)
{
    if (score->kind == EX_BINARY && score->u.binop == BIN_MUL) {
        for (int i = 0; i < 2; i++) {
            expr *c = score->args[i], *other = score->args[1 - i];
            if (c->kind == EX_CONST_FLOAT && other->kind == EX_SCORE)
                return ex_binary(a, BIN_MUL, other, ex_float(a, c->u.fval * LOG2E));
        }
    }
    if (score->kind == EX_SCORE)
        return ex_binary(a, BIN_MUL, score, ex_float(a, LOG2E));
    return ex_binary(a, BIN_MUL, score, ex_float(a, LOG2E));
}

typedef struct fuse_ctx {
    arena *a;
    bool failed;
} fuse_ctx;

static void fuse_op(tir_op *op, void *user)
{
    fuse_ctx *f = user;
    switch (op->kind) {
    case TIR_SCORE:
        if (op->base2)
            return; /* already fused */
        op->score_expr = fold_log2e(f->a, op->score_expr);
        f->failed |= op->score_expr == NULL;
        op->base2 = true;
        break;
    case TIR_SOFTMAX_UPDATE:
        op->base2 = true;
        break;
    case TIR_FINALIZE:
        if (op->noperands == 3)
            op->base2 = true;
        break;
    case TIR_DOT: /* P kept in registers: read softmax_update's P directly */
        for (int i = 0; i < op->noperands; i++) {
            tir_value *v = op->operands[i];
            if (v->def && v->def->kind == TIR_CONVERT && v->def->operands[0]->def &&
                v->def->operands[0]->def->kind == TIR_SOFTMAX_UPDATE)
                op->operands[i] = v->def->operands[0];
        }
        break;
    default:
        break;
    }
}

bool pass_fusion(tir_kernel *k, const recipe *r, strbuf *err)
{
    if (k->family == FAMILY_LINEAR || k->programs != PROG_DEFAULT)
        return true; /* backward kernels recompute P in natural base (lower_backward.h) */
    fuse_ctx f = {k->arena, false};
    tir_walk(k->body, fuse_op, &f);
    if (f.failed)
        sb_puts(err, "fusion: out of memory");
    return !f.failed;
}
