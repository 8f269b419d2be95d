/* lower_linear.c — linear-attention recipe -> tile IR (canonical shape in
 * tile_ir.h's top comment). One program per (batch, head) walks the blocks
 * of C tokens (schedule.linear_block; the tiling pass fills in C) in order,
 * carrying the D x Dv state S:
 *   causal:      o_b = decay_mask(φ(q_b) φ(k_b)ᵀ) v_b + state_apply(φ(q_b), S)
 *                S   = state_update(S, φ(k_b), v_b)
 *   non-causal:  a first loop sums S over every block, a second applies it.
 * `normalize` appends a ones column to v (load aug=1), so S's last column is
 * z and `finalize` divides by it. inter=chunked lowers to the same loop for
 * now (the chunked combine is a code generator choice). */
#include "lower_common.h"
#include "passes.h"

#define OPS(...) ((tir_value *const[]){__VA_ARGS__}), (int)(sizeof((tir_value *[]){__VA_ARGS__}) / sizeof(tir_value *))

typedef struct lin {
    lower_ctx *c;
    const recipe *r;
    int dv; /* value columns, +1 with normalize */
} lin;

static tir_value *load(lin *L, tir_value *box, tir_tensor t, int cols)
{
    const tir_kernel *k = L->c->k;
    tir_value *v = lower_emit1(L->c, TIR_LOAD, OPS(box), tir_tile_type(TIR_DIM_TK, cols, k->qkv_dtype, SPACE_SHARED));
    if (v) {
        v->def->tensor = t;
        v->def->aug = t == TENSOR_V && L->r->linear.normalize;
    }
    return v;
}

static tir_value *feature(lin *L, tir_value *x)
{
    tir_value *v = lower_emit1(L->c, TIR_FEATURE_MAP, OPS(x), x ? x->type : tir_simple_type(TV_TILE));
    if (v)
        v->def->feature = L->r->linear.feature;
    return v;
}

static void set_decay(lin *L, tir_value *v)
{
    if (v) {
        v->def->decay = L->r->linear.decay;
        v->def->param = L->r->linear.decay_param;
    }
}

static tir_type state_type(lin *L)
{
    return tir_tile_type(L->c->k->head_dim, L->dv, DT_F32, SPACE_REG);
}

/* Opens `for box in range iter(S)`; returns the loop and its body args. */
static tir_op *open_loop(lin *L, tir_value *qb, tir_value *s0, tir_value **box, tir_value **s)
{
    lower_ctx *c = L->c;
    tir_value *range = lower_emit1(c, TIR_KV_RANGE, OPS(qb), tir_simple_type(TV_RANGE));
    tir_value *ops[2] = {range, s0};
    tir_type st = state_type(L);
    tir_op *loop = lower_emit(c, TIR_FOR, ops, s0 ? 2 : 1, &st, s0 ? 1 : 0);
    if (!loop)
        return NULL;
    loop->body = tir_block_new(c->a);
    *box = tir_block_add_arg(c->a, loop->body, lower_box(TIR_DIM_TK));
    *s = s0 ? tir_block_add_arg(c->a, loop->body, st) : NULL;
    if (!loop->body || !*box || (s0 && !*s)) {
        c->failed = true;
        return NULL;
    }
    return loop;
}

static tir_value *output(lin *L, lower_ctx *in, tir_value *o)
{
    if (!L->r->linear.normalize)
        return o;
    const tir_kernel *k = in->k;
    tir_value *f = lower_emit1(in, TIR_FINALIZE, OPS(o), tir_tile_type(TIR_DIM_TK, k->head_dim_v, k->qkv_dtype, SPACE_REG));
    return f;
}

static void store_o(lower_ctx *in, tir_value *box, tir_value *o)
{
    tir_op *st = lower_emit(in, TIR_STORE, OPS(box, o), NULL, 0);
    if (st)
        st->tensor = TENSOR_O;
}

/* Causal body: intra quadratic part + state part, then the state update. */
static void causal_body(lin *L, lower_ctx *in, tir_value *b, tir_value *S)
{
    lower_ctx *save = L->c;
    L->c = in;
    const tir_kernel *k = in->k;
    tir_value *fq = feature(L, load(L, b, TENSOR_Q, k->head_dim));
    tir_value *fk = feature(L, load(L, b, TENSOR_K, k->head_dim));
    tir_value *v = load(L, b, TENSOR_V, L->dv);
    tir_value *s = lower_emit1(in, TIR_DOT, OPS(fq, fk), tir_tile_type(TIR_DIM_TK, TIR_DIM_TK, DT_F32, SPACE_REG));
    if (s)
        s->def->trans_b = true;
    tir_value *w = lower_emit1(in, TIR_DECAY_MASK, OPS(s, b, b), tir_tile_type(TIR_DIM_TK, TIR_DIM_TK, k->qkv_dtype, SPACE_REG));
    set_decay(L, w);
    tir_type oty = tir_tile_type(TIR_DIM_TK, L->dv, DT_F32, SPACE_REG);
    tir_value *oi = lower_emit1(in, TIR_DOT, OPS(w, v), oty);
    tir_value *oe = lower_emit1(in, TIR_STATE_APPLY, OPS(fq, S, b), oty);
    set_decay(L, oe);
    tir_value *o = lower_emit1(in, TIR_ADD, OPS(oi, oe), oty);
    store_o(in, b, output(L, in, o));
    tir_value *s2 = lower_emit1(in, TIR_STATE_UPDATE, OPS(S, fk, v, b), state_type(L));
    set_decay(L, s2);
    lower_emit(in, TIR_YIELD, OPS(s2), NULL, 0);
    L->c = save;
}

static void causal(lin *L, tir_value *qb, tir_value *s0)
{
    tir_value *b, *S;
    tir_op *loop = open_loop(L, qb, s0, &b, &S);
    if (!loop)
        return;
    lower_ctx in = *L->c;
    in.b = loop->body;
    causal_body(L, &in, b, S);
    L->c->failed |= in.failed;
}

/* Non-causal: S = Σ φ(k)ᵀ v over all blocks, then o = φ(q) S per block. */
static void non_causal(lin *L, tir_value *qb, tir_value *s0)
{
    tir_value *b, *S;
    tir_op *sum = open_loop(L, qb, s0, &b, &S);
    if (!sum)
        return;
    lower_ctx in = *L->c;
    in.b = sum->body;
    lower_ctx *save = L->c;
    L->c = &in;
    tir_value *fk = feature(L, load(L, b, TENSOR_K, in.k->head_dim));
    tir_value *v = load(L, b, TENSOR_V, L->dv);
    tir_value *s2 = lower_emit1(&in, TIR_STATE_UPDATE, OPS(S, fk, v, b), state_type(L));
    set_decay(L, s2);
    lower_emit(&in, TIR_YIELD, OPS(s2), NULL, 0);
    L->c = save;
    save->failed |= in.failed;

    tir_op *apply = open_loop(L, qb, NULL, &b, &S);
    if (!apply)
        return;
    lower_ctx in2 = *L->c;
    in2.b = apply->body;
    L->c = &in2;
    tir_value *fq = feature(L, load(L, b, TENSOR_Q, in2.k->head_dim));
    tir_value *o = lower_emit1(&in2, TIR_STATE_APPLY, OPS(fq, sum->results[0], b),
                               tir_tile_type(TIR_DIM_TK, L->dv, DT_F32, SPACE_REG));
    set_decay(L, o);
    store_o(&in2, b, output(L, &in2, o));
    lower_emit(&in2, TIR_YIELD, NULL, 0, NULL, 0);
    L->c = save;
    save->failed |= in2.failed;
}

bool lower_linear(tir_kernel *k, const recipe *r, strbuf *err)
{
    lower_ctx c = {k->arena, k, k->body, false};
    lin L = {&c, r, r->head_dim_v + (r->linear.normalize ? 1 : 0)};
    tir_value *qb = lower_emit1(&c, TIR_QTILE, NULL, 0, lower_box(0));
    tir_type st = state_type(&L);
    tir_op *s0 = lower_emit(&c, TIR_FILL, NULL, 0, &st, 1);
    if (!qb || !s0) {
        sb_puts(err, "out of memory while lowering");
        return false;
    }
    if (r->linear.causal)
        causal(&L, qb, s0->results[0]);
    else
        non_causal(&L, qb, s0->results[0]);
    if (c.failed) {
        sb_puts(err, "out of memory while lowering");
        return false;
    }
    return true;
}
