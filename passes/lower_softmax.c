/* lower_softmax.c — softmax-family recipe -> tile IR in the canonical shape
 * of tile_ir.h (top comment). Token extents stay symbolic (Tq, Tk) until the
 * tiling pass; the key range is `all` and every tile pair `partial` until
 * mask analysis; scores are natural-base until fusion. The result is already
 * a correct kernel: the score op applies the recipe's mask per element. */
#include <math.h>

#include "lower_common.h"
#include "passes.h"

#define OPS(...) ((tir_value *const[]){__VA_ARGS__}), (int)(sizeof((tir_value *[]){__VA_ARGS__}) / sizeof(tir_value *))

typedef struct sm_state {
    tir_value *qb, *q, *m, *l, *acc;
} sm_state;

static tir_op *emit_fill(lower_ctx *c, tir_type t, double v)
{
    tir_op *op = lower_emit(c, TIR_FILL, NULL, 0, &t, 1);
    if (op)
        op->fval = v;
    return op;
}

static tir_value *emit_load(lower_ctx *c, tir_value *box, tir_tensor tensor, tir_type t)
{
    tir_value *v = lower_emit1(c, TIR_LOAD, OPS(box), t);
    if (v)
        v->def->tensor = tensor;
    return v;
}

static void emit_prologue(lower_ctx *c, sm_state *st)
{
    const tir_kernel *k = c->k;
    st->qb = lower_emit1(c, TIR_QTILE, NULL, 0, lower_box(TIR_DIM_TQ));
    st->q = emit_load(c, st->qb, TENSOR_Q, tir_tile_type(TIR_DIM_TQ, k->head_dim, k->qkv_dtype, SPACE_REG));
    tir_op *m = emit_fill(c, tir_rows_type(TIR_DIM_TQ), -INFINITY);
    tir_op *l = emit_fill(c, tir_rows_type(TIR_DIM_TQ), 0);
    tir_op *acc = emit_fill(c, tir_tile_type(TIR_DIM_TQ, k->head_dim_v, DT_F32, SPACE_REG), 0);
    st->m = m ? m->results[0] : NULL;
    st->l = l ? l->results[0] : NULL;
    st->acc = acc ? acc->results[0] : NULL;
}

/* The loop body: one key/value tile. args: kb, m, l, acc. */
static void emit_body(lower_ctx *c, const recipe *r, const sm_state *st, tir_value *const *args)
{
    const tir_kernel *k = c->k;
    tir_value *kb = args[0], *m = args[1], *l = args[2], *acc = args[3];
    tir_value *kt = emit_load(c, kb, TENSOR_K, tir_tile_type(TIR_DIM_TK, k->head_dim, k->qkv_dtype, SPACE_SHARED));
    tir_type st_ty = tir_tile_type(TIR_DIM_TQ, TIR_DIM_TK, DT_F32, SPACE_REG);
    tir_value *s = lower_emit1(c, TIR_DOT, OPS(st->q, kt), st_ty);
    if (s)
        s->def->trans_b = true;
    tir_value *cls = lower_emit1(c, TIR_TILE_CLASS, OPS(st->qb, kb), tir_simple_type(TV_CLASS));
    if (cls) {
        cls->def->full_expr = ex_bool(c->a, r->mask == NULL);
        cls->def->empty_expr = ex_bool(c->a, false);
    }
    tir_value *t = lower_emit1(c, TIR_SCORE, OPS(s, st->qb, kb, cls), st_ty);
    if (t) {
        t->def->score_expr = r->score;
        t->def->mask_expr = r->mask;
    }
    tir_type upd[4] = {tir_tile_type(TIR_DIM_TQ, TIR_DIM_TK, k->qkv_dtype, SPACE_REG), tir_rows_type(TIR_DIM_TQ),
                       tir_rows_type(TIR_DIM_TQ), tir_rows_type(TIR_DIM_TQ)};
    tir_op *u = lower_emit(c, TIR_SOFTMAX_UPDATE, OPS(t, m, l), upd, 4);
    tir_value *v = emit_load(c, kb, TENSOR_V, tir_tile_type(TIR_DIM_TK, k->head_dim_v, k->qkv_dtype, SPACE_SHARED));
    tir_type acc_ty = tir_tile_type(TIR_DIM_TQ, k->head_dim_v, DT_F32, SPACE_REG);
    tir_value *a1 = u ? lower_emit1(c, TIR_RESCALE, OPS(acc, u->results[3]), acc_ty) : NULL;
    tir_value *a2 = u ? lower_emit1(c, TIR_DOT, OPS(u->results[0], v, a1), acc_ty) : NULL;
    if (u)
        lower_emit(c, TIR_YIELD, OPS(u->results[1], u->results[2], a2), NULL, 0);
    else
        c->failed = true;
}

static tir_op *emit_loop(lower_ctx *c, const recipe *r, const sm_state *st)
{
    tir_value *range = lower_emit1(c, TIR_KV_RANGE, OPS(st->qb), tir_simple_type(TV_RANGE));
    if (range)
        range->def->range_mode = RANGE_ALL;
    tir_type res[3] = {st->m ? st->m->type : tir_rows_type(0), st->l ? st->l->type : tir_rows_type(0),
                       st->acc ? st->acc->type : tir_rows_type(0)};
    tir_op *loop = lower_emit(c, TIR_FOR, OPS(range, st->m, st->l, st->acc), res, 3);
    if (!loop)
        return NULL;
    loop->body = tir_block_new(c->a);
    tir_value *args[4] = {tir_block_add_arg(c->a, loop->body, lower_box(TIR_DIM_TK)),
                          tir_block_add_arg(c->a, loop->body, res[0]), tir_block_add_arg(c->a, loop->body, res[1]),
                          tir_block_add_arg(c->a, loop->body, res[2])};
    for (int i = 0; i < 4; i++)
        if (!args[i])
            c->failed = true;
    if (c->failed)
        return NULL;
    lower_ctx inner = *c;
    inner.b = loop->body;
    emit_body(&inner, r, st, args);
    c->failed |= inner.failed;
    return loop;
}

static void emit_epilogue(lower_ctx *c, const sm_state *st, tir_op *loop)
{
    const tir_kernel *k = c->k;
    tir_type res[2] = {tir_tile_type(TIR_DIM_TQ, k->head_dim_v, k->qkv_dtype, SPACE_REG), tir_rows_type(TIR_DIM_TQ)};
    tir_op *fin = lower_emit(c, TIR_FINALIZE, OPS(loop->results[2], loop->results[0], loop->results[1]), res, 2);
    if (!fin)
        return;
    tir_op *so = lower_emit(c, TIR_STORE, OPS(st->qb, fin->results[0]), NULL, 0);
    tir_op *sl = lower_emit(c, TIR_STORE, OPS(st->qb, fin->results[1]), NULL, 0);
    if (so && sl) {
        so->tensor = TENSOR_O;
        sl->tensor = TENSOR_LSE;
    }
}

bool lower_softmax(tir_kernel *k, const recipe *r, strbuf *err)
{
    lower_ctx c = {k->arena, k, k->body, false};
    if (!r->score) {
        sb_puts(err, "internal: softmax recipe without a score expression");
        return false;
    }
    sm_state st = {0};
    emit_prologue(&c, &st);
    tir_op *loop = c.failed ? NULL : emit_loop(&c, r, &st);
    if (loop)
        emit_epilogue(&c, &st, loop);
    if (c.failed || !loop) {
        sb_puts(err, "out of memory while lowering");
        return false;
    }
    return true;
}
