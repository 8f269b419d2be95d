/* layout.c — where each tile lives and how it is spread over threads.
 * Host: every tile and rows vector is a plain row-major array
 * (LAYOUT_HOST). GPU (sm_80, sm_90a): loaded q is an MMA A operand in
 * registers; K and V tiles are staged in shared memory (LAYOUT_SMEM_ROW,
 * read by ldmatrix as B operands); dot, score, rescale, add, state and
 * finalize results are accumulator fragments (LAYOUT_MMA_ACC), and so are
 * per-row vectors (each thread holds the rows of its fragments); P and the
 * decayed scores are A-operand fragments (kept in registers for the next
 * dot). `for` results and body args take the layout of their inits. */
#include "passes.h"

static tir_layout gpu_layout(const tir_op *op, int res)
{
    switch (op->kind) {
    case TIR_LOAD:
        return op->tensor == TENSOR_Q ? LAYOUT_MMA_A : LAYOUT_SMEM_ROW;
    case TIR_FEATURE_MAP:
        return op->operands[0]->type.layout;
    case TIR_SOFTMAX_UPDATE:
        return res == 0 ? LAYOUT_MMA_A : LAYOUT_MMA_ACC;
    case TIR_DECAY_MASK:
        return LAYOUT_MMA_A;
    case TIR_CONVERT:
        return op->results[res]->type.layout;
    default:
        return LAYOUT_MMA_ACC;
    }
}

static void set(tir_value *v, tir_layout l, bool host)
{
    tir_value_kind k = v->type.kind;
    if (k != TV_TILE && k != TV_ROWS)
        return;
    v->type.layout = l;
    if (host || k == TV_ROWS)
        return;
    v->type.space = l == LAYOUT_SMEM_ROW ? SPACE_SHARED : SPACE_REG;
}

typedef struct lay_ctx {
    bool host;
} lay_ctx;

static void layout_op(tir_op *op, void *user)
{
    const lay_ctx *c = user;
    for (int i = 0; i < op->nresults; i++) {
        tir_layout l = c->host ? LAYOUT_HOST : gpu_layout(op, i);
        if (op->kind == TIR_FOR && i + 1 < op->noperands)
            l = op->operands[i + 1]->type.layout; /* results follow the inits */
        set(op->results[i], l, c->host);
    }
    if (op->body)
        for (int i = 1; i < op->body->nargs && i < op->noperands; i++)
            set(op->body->args[i], op->operands[i]->type.layout, c->host);
}

bool pass_layout(tir_kernel *k, const recipe *r, strbuf *err)
{
    lay_ctx c = {k->arch == TARGET_HOST};
    tir_walk(k->body, layout_op, &c);
    return true;
}
