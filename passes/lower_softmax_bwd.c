/* lower_softmax_bwd.c — the softmax family's backward program (kernels and
 * their ops in lower_backward.h's top comment). Extents stay symbolic (Tq,
 * Tk) and ranges `all` until the tiling and mask_analysis passes, exactly
 * as the forward's lowering. The score op recomputes the masked scores, so
 * P = exp(t - lse) is 0 wherever the forward dropped a pair and every
 * gradient there is exactly 0. */
#include <stdio.h>
#include <string.h>

#include "../ir/expr_diff.h"
#include "lower_backward.h"
#include "lower_bwd_common.h"

typedef struct sbwd {
    const recipe *r;
    expr *dscore;
    expr_param_site *sites;
    int nsites;
} sbwd;

/* bwd_pre: delta = rowsum(dO ∘ O) per query row. */
static tir_kernel *pre_kernel(arena *a, const recipe *r, const schedule *s)
{
    tir_kernel *k = bwd_kernel_new(a, r, s, "bwd_pre", PROG_QTILES);
    if (!k)
        return NULL;
    lower_ctx c = {a, k, k->body, false};
    tir_type ot = bwd_tile(TIR_DIM_TQ, k->head_dim_v, k->qkv_dtype);
    tir_value *qb = lower_emit1(&c, TIR_QTILE, NULL, 0, lower_box(TIR_DIM_TQ));
    tir_value *o = bwd_load(&c, qb, TENSOR_O, ot);
    tir_value *dout = bwd_load(&c, qb, TENSOR_DO, ot);
    tir_value *d = lower_emit1(&c, TIR_ROW_DOT, OPS(dout, o), tir_rows_type(TIR_DIM_TQ));
    bwd_store(&c, qb, d, TENSOR_DELTA);
    return c.failed ? NULL : k;
}

/* What one tile pair's body shares between the dK/dV and dQ kernels. */
typedef struct pair_vals {
    tir_value *q, *dout, *lse, *delta, *k, *v, *qb, *kb;
    tir_value *s, *p, *dp, *ds, *dsr;
} pair_vals;

/* S, P, dP and dS of one tile pair (the loads are done). */
static void pair_grads(sbwd *B, lower_ctx *c, pair_vals *pv)
{
    tir_type st = bwd_tile(TIR_DIM_TQ, TIR_DIM_TK, DT_F32);
    pv->s = bwd_dot(c, pv->q, pv->k, NULL, false, true, st);
    tir_value *cls = lower_emit1(c, TIR_TILE_CLASS, OPS(pv->qb, pv->kb), tir_simple_type(TV_CLASS));
    if (cls) {
        cls->def->full_expr = ex_bool(c->a, B->r->mask == NULL);
        cls->def->empty_expr = ex_bool(c->a, false);
    }
    tir_value *t = lower_emit1(c, TIR_SCORE, OPS(pv->s, pv->qb, pv->kb, cls), st);
    if (t) {
        t->def->score_expr = B->r->score;
        t->def->mask_expr = B->r->mask;
    }
    pv->p = lower_emit1(c, TIR_SOFTMAX_P, OPS(t, pv->lse), st);
    tir_value *dp = pv->dp = bwd_dot(c, pv->dout, pv->v, NULL, false, true, st);
    if (!pv->delta)
        return; /* bwd_pre's exact delta: P and dP are all it needs */
    tir_type gt[2] = {st, st};
    tir_op *g = lower_emit(c, TIR_SCORE_GRAD, OPS(pv->s, pv->p, dp, pv->delta, pv->qb, pv->kb), gt, 2);
    if (g)
        g->score_expr = B->dscore;
    pv->ds = g ? g->results[0] : NULL;
    pv->dsr = g ? g->results[1] : NULL;
}

/* The query side loads of a query tile box. */
static void load_q_side(lower_ctx *c, pair_vals *pv)
{
    const tir_kernel *k = c->k;
    pv->q = bwd_load(c, pv->qb, TENSOR_Q, bwd_tile(TIR_DIM_TQ, k->head_dim, k->qkv_dtype));
    pv->dout = bwd_load(c, pv->qb, TENSOR_DO, bwd_tile(TIR_DIM_TQ, k->head_dim_v, k->qkv_dtype));
    pv->lse = bwd_load(c, pv->qb, TENSOR_LSE, tir_rows_type(TIR_DIM_TQ));
    pv->delta = bwd_load(c, pv->qb, TENSOR_DELTA, tir_rows_type(TIR_DIM_TQ));
}

static void load_k_side(lower_ctx *c, pair_vals *pv, tir_space sp)
{
    const tir_kernel *k = c->k;
    pv->k = bwd_load(c, pv->kb, TENSOR_K, tir_tile_type(TIR_DIM_TK, k->head_dim, k->qkv_dtype, sp));
    pv->v = bwd_load(c, pv->kb, TENSOR_V, tir_tile_type(TIR_DIM_TK, k->head_dim_v, k->qkv_dtype, sp));
}

/* bwd_pre, exact: delta = Σ_j P_ij dP_ij / Σ_j P_ij over the row's key
 * tiles. Equal to dO·O, but free of O's rounding to the qkv dtype and
 * consistent with the recomputed P (whose row sums are 1 only up to the
 * f32 lse): the param gradients sum dS_raw times large partials (ALiBi
 * distances) over whole rows, where Σ_j dS_raw = 0 must hold to f32
 * precision. */
static tir_kernel *pre_exact_kernel(sbwd *B, arena *a, const schedule *s)
{
    const recipe *r = B->r;
    tir_kernel *k = bwd_kernel_new(a, r, s, "bwd_pre", PROG_QTILES);
    if (!k)
        return NULL;
    lower_ctx c = {a, k, k->body, false}, in;
    pair_vals pv = {0};
    pv.qb = lower_emit1(&c, TIR_QTILE, NULL, 0, lower_box(TIR_DIM_TQ));
    pv.q = bwd_load(&c, pv.qb, TENSOR_Q, bwd_tile(TIR_DIM_TQ, k->head_dim, k->qkv_dtype));
    pv.dout = bwd_load(&c, pv.qb, TENSOR_DO, bwd_tile(TIR_DIM_TQ, k->head_dim_v, k->qkv_dtype));
    pv.lse = bwd_load(&c, pv.qb, TENSOR_LSE, tir_rows_type(TIR_DIM_TQ));
    tir_value *inits[2] = {bwd_fill0(&c, tir_rows_type(TIR_DIM_TQ)), bwd_fill0(&c, tir_rows_type(TIR_DIM_TQ))};
    tir_value *args[3];
    tir_value *range = lower_emit1(&c, TIR_KV_RANGE, OPS(pv.qb), tir_simple_type(TV_RANGE));
    if (range)
        range->def->range_mode = RANGE_ALL;
    tir_op *loop = c.failed ? NULL : bwd_open_for(&c, range, inits, 2, TIR_DIM_TK, args, &in);
    if (!loop)
        return NULL;
    pv.kb = args[0];
    load_k_side(&in, &pv, SPACE_SHARED);
    pair_grads(B, &in, &pv);
    tir_type rt = tir_rows_type(TIR_DIM_TQ);
    tir_value *pd = lower_emit1(&in, TIR_ROW_DOT, OPS(pv.p, pv.dp), rt);
    tir_value *d = lower_emit1(&in, TIR_ADD, OPS(args[1], pd), rt);
    tir_value *l = lower_emit1(&in, TIR_ADD, OPS(args[2], lower_emit1(&in, TIR_ROW_SUM, OPS(pv.p), rt)), rt);
    lower_emit(&in, TIR_YIELD, OPS(d, l), NULL, 0);
    c.failed |= in.failed;
    bwd_store(&c, pv.qb, lower_emit1(&c, TIR_ROW_DIV, OPS(loop->results[0], loop->results[1]), rt), TENSOR_DELTA);
    return c.failed ? NULL : k;
}

/* bwd_dkv: dK and dV of a key tile, over the query tiles (and heads) that see it. */
static tir_kernel *dkv_kernel(sbwd *B, arena *a, const schedule *s)
{
    const recipe *r = B->r;
    tir_kernel *k = bwd_kernel_new(a, r, s, "bwd_dkv", PROG_KVTILES);
    if (!k)
        return NULL;
    lower_ctx c = {a, k, k->body, false};
    pair_vals pv = {0};
    pv.kb = lower_emit1(&c, TIR_KVTILE, NULL, 0, lower_box(TIR_DIM_TK));
    load_k_side(&c, &pv, SPACE_REG);
    tir_type dkt = bwd_tile(TIR_DIM_TK, k->head_dim, DT_F32), dvt = bwd_tile(TIR_DIM_TK, k->head_dim_v, DT_F32);
    tir_value *inits[2] = {bwd_fill0(&c, dkt), bwd_fill0(&c, dvt)};
    tir_value *range = lower_emit1(&c, TIR_Q_RANGE, OPS(pv.kb), tir_simple_type(TV_RANGE));
    if (range) {
        range->def->range_mode = RANGE_ALL;
        range->def->group = r->gqa;
    }
    tir_value *args[3];
    lower_ctx in;
    tir_op *loop = c.failed ? NULL : bwd_open_for(&c, range, inits, 2, TIR_DIM_TQ, args, &in);
    if (!loop)
        return NULL;
    pv.qb = args[0];
    load_q_side(&in, &pv);
    pair_grads(B, &in, &pv);
    tir_value *dv = bwd_dot(&in, pv.p, pv.dout, args[2], true, false, dvt);
    tir_value *dk = bwd_dot(&in, pv.ds, pv.q, args[1], true, false, dkt);
    lower_emit(&in, TIR_YIELD, OPS(dk, dv), NULL, 0);
    c.failed |= in.failed;
    bwd_store(&c, pv.kb, loop->results[0], TENSOR_DK);
    bwd_store(&c, pv.kb, loop->results[1], TENSOR_DV);
    return c.failed ? NULL : k;
}

static void emit_param_grads(sbwd *B, lower_ctx *c, const pair_vals *pv)
{
    for (int i = 0; i < B->nsites; i++) {
        const expr_param_site *st = &B->sites[i];
        tir_op *op = lower_emit(c, TIR_PARAM_GRAD, OPS(pv->dsr, pv->s, pv->qb, pv->kb), NULL, 0);
        if (!op)
            return;
        op->param = st->param;
        op->site_expr = ex_param(c->a, st->param, TY_FLOAT, st->nargs, st->args);
        op->partial_expr = st->partial;
        c->failed |= op->site_expr == NULL;
    }
}

/* bwd_dq: dQ of a query tile over its key tiles (and the param partials). */
static tir_kernel *dq_kernel(sbwd *B, arena *a, const schedule *s)
{
    const recipe *r = B->r;
    tir_kernel *k = bwd_kernel_new(a, r, s, "bwd_dq", B->nsites ? PROG_SLOTS : PROG_QTILES);
    if (!k)
        return NULL;
    lower_ctx c = {a, k, k->body, false};
    pair_vals pv = {0};
    pv.qb = lower_emit1(&c, TIR_QTILE, NULL, 0, lower_box(TIR_DIM_TQ));
    load_q_side(&c, &pv);
    tir_type dqt = bwd_tile(TIR_DIM_TQ, k->head_dim, DT_F32);
    tir_value *inits[1] = {bwd_fill0(&c, dqt)};
    tir_value *range = lower_emit1(&c, TIR_KV_RANGE, OPS(pv.qb), tir_simple_type(TV_RANGE));
    if (range)
        range->def->range_mode = RANGE_ALL;
    tir_value *args[2];
    lower_ctx in;
    tir_op *loop = c.failed ? NULL : bwd_open_for(&c, range, inits, 1, TIR_DIM_TK, args, &in);
    if (!loop)
        return NULL;
    pv.kb = args[0];
    load_k_side(&in, &pv, SPACE_SHARED);
    pair_grads(B, &in, &pv);
    emit_param_grads(B, &in, &pv);
    tir_value *dq = bwd_dot(&in, pv.ds, pv.k, args[1], false, false, dqt);
    lower_emit(&in, TIR_YIELD, OPS(dq), NULL, 0);
    c.failed |= in.failed;
    bwd_store(&c, pv.qb, loop->results[0], TENSOR_DQ);
    return c.failed ? NULL : k;
}

/* bwd_dNAME: one param's gradient, the sum of its slots. */
static tir_kernel *reduce_kernel(arena *a, const recipe *r, const schedule *s, int param)
{
    char suffix[160];
    snprintf(suffix, sizeof suffix, "bwd_d%s", r->params[param].name);
    tir_kernel *k = bwd_kernel_new(a, r, s, suffix, PROG_ELEMS);
    if (!k)
        return NULL;
    k->param = param;
    lower_ctx c = {a, k, k->body, false};
    tir_op *op = lower_emit(&c, TIR_SLOT_REDUCE, NULL, 0, NULL, 0);
    if (op)
        op->param = param;
    return c.failed ? NULL : k;
}

bool lower_softmax_bwd(arena *a, const recipe *r, const schedule *s, tir_program *out, strbuf *err)
{
    sbwd B = {r, NULL, NULL, 0};
    B.dscore = expr_diff_score(a, r->score, err);
    B.nsites = B.dscore ? backward_param_sites(a, r, &B.sites, err) : -1;
    if (B.nsites < 0) {
        if (!err->len)
            sb_puts(err, "out of memory while differentiating the score");
        return false;
    }
    tir_kernel *pre = B.nsites ? pre_exact_kernel(&B, a, s) : pre_kernel(a, r, s);
    bool ok = bwd_program_add(out, pre, err) && bwd_program_add(out, dkv_kernel(&B, a, s), err) &&
              bwd_program_add(out, dq_kernel(&B, a, s), err);
    bool done[64] = {false};
    for (int i = 0; ok && i < B.nsites; i++) {
        int p = B.sites[i].param;
        if (p < 0 || p >= 64 || done[p])
            continue;
        done[p] = true;
        ok = bwd_program_add(out, reduce_kernel(a, r, s, p), err);
    }
    return ok;
}
