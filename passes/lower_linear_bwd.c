/* lower_linear_bwd.c — linear attention's backward program, chunked like
 * the forward (blocks of C = schedule.linear_block tokens, intra-block
 * quadratic part + inter-block state). With x̃ = φ(x), A(t, s) the decay
 * from s to t and (for `normalize`) v' = [v, 1], dO' = [dO/den, -dO·n/den²]:
 *
 *   dq̃_t = Σ_{s<=t} A(t,s) (dO'_t·v'_s) k̃_s       forward scan, state Σ v'ᵀk̃
 *   dv'_s = Σ_{t>=s} A(t,s) (k̃_s·q̃_t) dO'_t       reverse scan, state Σ q̃ᵀdO'
 *   dk̃_s = Σ_{t>=s} A(t,s) (v'_s·dO'_t) q̃_t       reverse scan, state Σ dO'ᵀq̃
 *   d log a_u = Σ_{t>=u} (q̃_t·dq̃_t - k̃_t·dk̃_t)    (the decay's gradient)
 *
 * so the forward scan is the forward recurrence with (q, k, v) = (dO', v',
 * k̃), and each reverse scan the same with decay_mask/state ops in reverse
 * (reverse=1): every decay factor is exp of a sum of log-decays <= 0 within
 * one block, as in the forward, so nothing overflows at any length. The
 * normalised dO' needs the forward's numerator and denominator: the forward
 * scan recomputes them (carrying the forward state too) and stores dO' in
 * the workspace (dox) for the reverse scan. Non-causal recipes: full sums,
 * two loops per scan. GQA: the reverse scan writes per-head dK/dV partials
 * (dkh, dvh) and bwd_heads sums each kv head's group.
 *
 * The decay's gradient needs q̃_t·dq̃_t - k̃_t·dk̃_t without the diagonal
 * term (q̃_t·k̃_t)(dO'_t·v'_t) that both hold: with strong decays that term
 * dominates and would cancel to rounding noise. So with a decay the scans'
 * intra parts use strict masks (decay_mask {strict=1}), q·dq and k·dk are
 * taken there, and the diagonal is added back to dq̃ and dk̃ after. */
#include <stdio.h>

#include "lower_backward.h"
#include "lower_bwd_common.h"

typedef struct lbwd {
    const recipe *r;
    int D, dv; /* key dim; value columns (+1 with normalize) */
    bool norm, decay, causal;
} lbwd;

static tir_value *feature(lbwd *L, lower_ctx *c, tir_value *x)
{
    tir_value *v = lower_emit1(c, TIR_FEATURE_MAP, OPS(x), x ? x->type : tir_simple_type(TV_TILE));
    if (v)
        v->def->feature = L->r->linear.feature;
    return v;
}

/* Sets the decay attributes (and direction) of a decay_mask/state op. */
static tir_value *decayed(lbwd *L, tir_value *v, bool reverse)
{
    if (v) {
        v->def->decay = L->causal ? L->r->linear.decay : DECAY_NONE;
        v->def->param = L->causal ? L->r->linear.decay_param : -1;
        v->def->reverse = reverse;
    }
    return v;
}

static tir_value *range_all(lower_ctx *c, tir_value *qb)
{
    tir_value *r = lower_emit1(c, TIR_KV_RANGE, OPS(qb), tir_simple_type(TV_RANGE));
    if (r)
        r->def->range_mode = RANGE_ALL;
    return r;
}

/* The block's raw and feature-mapped inputs. */
typedef struct blk {
    tir_value *b, *q, *fq, *k, *fk, *v, *dox;
} blk;

static void load_qkv(lbwd *L, lower_ctx *c, blk *x, bool want_q, bool want_k)
{
    dtype dt = L->r->qkv_dtype;
    if (want_q) {
        x->q = bwd_load(c, x->b, TENSOR_Q, bwd_tile(TIR_DIM_TK, L->D, dt));
        x->fq = feature(L, c, x->q);
    }
    if (want_k) {
        x->k = bwd_load(c, x->b, TENSOR_K, bwd_tile(TIR_DIM_TK, L->D, dt));
        x->fk = feature(L, c, x->k);
        x->v = bwd_load(c, x->b, TENSOR_V, bwd_tile(TIR_DIM_TK, L->dv, dt));
        if (x->v)
            x->v->def->aug = L->norm;
    }
}

/* One causal scan step: out = decay_mask(x yᵀ) z + state_apply(x, S); S' = state_update(S, y, z). */
static tir_value *scan_step(lbwd *L, lower_ctx *c, blk *x, tir_value *xs, tir_value *ys, tir_value *zs, tir_value *S,
                            bool reverse, bool strict, tir_value **S2)
{
    tir_type cc = bwd_tile(TIR_DIM_TK, TIR_DIM_TK, DT_F32);
    tir_type ot = bwd_tile(TIR_DIM_TK, zs ? zs->type.shape[1] : 1, DT_F32);
    tir_value *s = bwd_dot(c, xs, ys, NULL, false, true, cc);
    tir_value *w = decayed(L, lower_emit1(c, TIR_DECAY_MASK, OPS(s, x->b, x->b), cc), reverse);
    if (w)
        w->def->strict = strict;
    tir_value *oi = bwd_dot(c, w, zs, NULL, false, false, ot);
    tir_value *oe = decayed(L, lower_emit1(c, TIR_STATE_APPLY, OPS(xs, S, x->b), ot), reverse);
    *S2 = decayed(L, lower_emit1(c, TIR_STATE_UPDATE, OPS(S, ys, zs, x->b), S ? S->type : cc), reverse);
    return lower_emit1(c, TIR_ADD, OPS(oi, oe), ot);
}

static tir_value *state_update(lbwd *L, lower_ctx *c, tir_value *S, tir_value *y, tir_value *z, tir_value *b)
{
    return decayed(L, lower_emit1(c, TIR_STATE_UPDATE, OPS(S, y, z, b), S ? S->type : bwd_tile(1, 1, DT_F32)), false);
}

static tir_value *state_apply(lbwd *L, lower_ctx *c, tir_value *x, tir_value *S, tir_value *b)
{
    tir_type ot = bwd_tile(TIR_DIM_TK, S ? S->type.shape[1] : 1, DT_F32);
    return decayed(L, lower_emit1(c, TIR_STATE_APPLY, OPS(x, S, b), ot), false);
}

/* dO' of a block: dO, or normalised with the forward's o = [n, den]. */
static tir_value *normalised_do(lbwd *L, lower_ctx *c, blk *x, tir_value *o)
{
    tir_value *dout = bwd_load(c, x->b, TENSOR_DO, bwd_tile(TIR_DIM_TK, L->r->head_dim_v, L->r->qkv_dtype));
    if (!L->norm)
        return dout;
    tir_value *dox = lower_emit1(c, TIR_NORM_GRAD, OPS(dout, o), bwd_tile(TIR_DIM_TK, L->dv, DT_F32));
    bwd_store(c, x->b, dox, TENSOR_DOX);
    return dox;
}

/* With a decay: stores x̃·d̃ (the strict part, tensor t) and returns d̃
 * plus the diagonal term (a·b per row) times y. */
static tir_value *strict_rows(lbwd *L, lower_ctx *c, blk *x, tir_value *dstrict, tir_value *xf, tir_value *a,
                              tir_value *b, tir_value *y, tir_tensor t)
{
    if (!L->decay)
        return dstrict;
    tir_type rt = tir_rows_type(TIR_DIM_TK);
    bwd_store(c, x->b, lower_emit1(c, TIR_ROW_DOT, OPS(xf, dstrict), rt), t);
    tir_value *dg = lower_emit1(c, TIR_RESCALE, OPS(y, lower_emit1(c, TIR_ROW_DOT, OPS(a, b), rt)),
                                  dstrict ? dstrict->type : bwd_tile(1, 1, DT_F32));
    return lower_emit1(c, TIR_ADD, OPS(dstrict, dg), dstrict ? dstrict->type : bwd_tile(1, 1, DT_F32));
}

/* dq = φ'(q) dq̃, stored. */
static void finish_dq(lbwd *L, lower_ctx *c, blk *x, tir_value *dfq)
{
    tir_value *dq = lower_emit1(c, TIR_FEATURE_GRAD, OPS(dfq, x->q), dfq ? dfq->type : bwd_tile(1, 1, DT_F32));
    if (dq)
        dq->def->feature = L->r->linear.feature;
    bwd_store(c, x->b, dq, TENSOR_DQ);
}

/* Causal bwd_dq body: [forward step for o], dO', the dq scan step. */
static void causal_dq_body(lbwd *L, lower_ctx *c, tir_value **args, tir_value **yields)
{
    blk x = {.b = args[0]};
    load_qkv(L, c, &x, true, true);
    tir_value *o = NULL, *Sb = args[1 + L->norm], *Sf2 = NULL;
    if (L->norm)
        o = scan_step(L, c, &x, x.fq, x.fk, x.v, args[1], false, false, &Sf2);
    tir_value *dox = normalised_do(L, c, &x, o);
    tir_value *Sb2;
    tir_value *dfq = scan_step(L, c, &x, dox, x.v, x.fk, Sb, false, L->decay, &Sb2);
    dfq = strict_rows(L, c, &x, dfq, x.fq, dox, x.v, x.fk, TENSOR_QDQ); /* diag: (dO'·v') k̃ */
    finish_dq(L, c, &x, dfq);
    yields[0] = L->norm ? Sf2 : Sb2;
    yields[1] = Sb2;
}

/* yield v[0..n), n <= 2 (a failure marks c). */
static void yield(lower_ctx *c, tir_value *const *v, int n)
{
    if (n == 2)
        lower_emit(c, TIR_YIELD, OPS(v[0], v[1]), NULL, 0);
    else if (n == 1)
        lower_emit(c, TIR_YIELD, OPS(v[0]), NULL, 0);
    else
        lower_emit(c, TIR_YIELD, NULL, 0, NULL, 0);
}

static tir_kernel *dq_kernel(lbwd *L, arena *a, const schedule *s)
{
    tir_kernel *k = bwd_kernel_new(a, L->r, s, "bwd_dq", PROG_HEADS);
    if (!k)
        return NULL;
    lower_ctx c = {a, k, k->body, false}, in;
    tir_value *qb = lower_emit1(&c, TIR_QTILE, NULL, 0, lower_box(0));
    tir_value *Sf0 = L->norm ? bwd_fill0(&c, bwd_tile(L->D, L->dv, DT_F32)) : NULL;
    tir_value *Sb0 = bwd_fill0(&c, bwd_tile(L->dv, L->D, DT_F32));
    tir_value *inits[2] = {L->norm ? Sf0 : Sb0, Sb0}, *args[3], *ys[2];
    int n = L->norm ? 2 : 1;
    if (L->causal) {
        tir_op *loop = c.failed ? NULL : bwd_open_for(&c, range_all(&c, qb), inits, n, TIR_DIM_TK, args, &in);
        if (!loop)
            return NULL;
        if (!L->norm)
            args[2] = args[1];
        causal_dq_body(L, &in, args, ys);
        yield(&in, L->norm ? ys : &ys[1], n);
        c.failed |= in.failed;
        return c.failed ? NULL : k;
    }
    /* non-causal: S_f = Σ k̃ᵀv' (normalize), S_b = Σ v'ᵀk̃, then per block */
    tir_op *sum = c.failed ? NULL : bwd_open_for(&c, range_all(&c, qb), inits, n, TIR_DIM_TK, args, &in);
    if (!sum)
        return NULL;
    blk x = {.b = args[0]};
    load_qkv(L, &in, &x, false, true);
    if (L->norm)
        ys[0] = state_update(L, &in, args[1], x.fk, x.v, x.b);
    ys[L->norm] = state_update(L, &in, args[n], x.v, x.fk, x.b);
    yield(&in, ys, n);
    c.failed |= in.failed;
    tir_op *apply = c.failed ? NULL : bwd_open_for(&c, range_all(&c, qb), NULL, 0, TIR_DIM_TK, args, &in);
    if (!apply)
        return NULL;
    blk y = {.b = args[0]};
    load_qkv(L, &in, &y, true, false);
    tir_value *o = L->norm ? state_apply(L, &in, y.fq, sum->results[0], y.b) : NULL;
    tir_value *dox = normalised_do(L, &in, &y, o);
    finish_dq(L, &in, &y, state_apply(L, &in, dox, sum->results[n - 1], y.b));
    yield(&in, NULL, 0);
    c.failed |= in.failed;
    return c.failed ? NULL : k;
}

/* dO' for the reverse scan: dO, or the normalised one the dq kernel stored. */
static tir_value *load_dox(lbwd *L, lower_ctx *c, tir_value *b)
{
    if (L->norm)
        return bwd_load(c, b, TENSOR_DOX, bwd_tile(TIR_DIM_TK, L->dv, DT_F32));
    return bwd_load(c, b, TENSOR_DO, bwd_tile(TIR_DIM_TK, L->dv, L->r->qkv_dtype));
}

/* dk = φ'(k) dk̃ and dv (its first Dv columns), stored. */
static void finish_dkv(lbwd *L, lower_ctx *c, blk *x, tir_value *dfk, tir_value *dv)
{
    tir_value *dk = lower_emit1(c, TIR_FEATURE_GRAD, OPS(dfk, x->k), dfk ? dfk->type : bwd_tile(1, 1, DT_F32));
    if (dk)
        dk->def->feature = L->r->linear.feature;
    bwd_store(c, x->b, dk, L->r->gqa ? TENSOR_DKH : TENSOR_DK);
    bwd_store(c, x->b, dv, L->r->gqa ? TENSOR_DVH : TENSOR_DV);
}

static tir_kernel *dkv_kernel(lbwd *L, arena *a, const schedule *s)
{
    tir_kernel *k = bwd_kernel_new(a, L->r, s, "bwd_dkv", PROG_HEADS);
    if (!k)
        return NULL;
    lower_ctx c = {a, k, k->body, false}, in;
    tir_value *qb = lower_emit1(&c, TIR_QTILE, NULL, 0, lower_box(0));
    /* R1 = Σ q̃ᵀdO' (D x dv), R2 = Σ dO'ᵀq̃ (dv x D) */
    tir_value *inits[2] = {bwd_fill0(&c, bwd_tile(L->D, L->dv, DT_F32)), bwd_fill0(&c, bwd_tile(L->dv, L->D, DT_F32))};
    tir_value *args[3], *ys[2];
    tir_op *first = c.failed ? NULL : bwd_open_for(&c, range_all(&c, qb), inits, 2, TIR_DIM_TK, args, &in);
    if (!first)
        return NULL;
    first->reverse = L->causal;
    blk x = {.b = args[0]};
    load_qkv(L, &in, &x, true, true);
    tir_value *dox = load_dox(L, &in, x.b);
    if (L->causal) {
        tir_value *dv = scan_step(L, &in, &x, x.fk, x.fq, dox, args[1], true, false, &ys[0]);
        tir_value *dfk = scan_step(L, &in, &x, x.v, dox, x.fq, args[2], true, L->decay, &ys[1]);
        dfk = strict_rows(L, &in, &x, dfk, x.fk, x.v, dox, x.fq, TENSOR_KDK); /* diag: (v'·dO') q̃ */
        finish_dkv(L, &in, &x, dfk, dv);
        yield(&in, ys, 2);
        c.failed |= in.failed;
        return c.failed ? NULL : k;
    }
    ys[0] = state_update(L, &in, args[1], x.fq, dox, x.b);
    ys[1] = state_update(L, &in, args[2], dox, x.fq, x.b);
    yield(&in, ys, 2);
    c.failed |= in.failed;
    tir_op *apply = c.failed ? NULL : bwd_open_for(&c, range_all(&c, qb), NULL, 0, TIR_DIM_TK, args, &in);
    if (!apply)
        return NULL;
    blk y = {.b = args[0]};
    load_qkv(L, &in, &y, false, true);
    tir_value *dv = state_apply(L, &in, y.fk, first->results[0], y.b);
    tir_value *dfk = state_apply(L, &in, y.v, first->results[1], y.b);
    finish_dkv(L, &in, &y, dfk, dv);
    yield(&in, NULL, 0);
    c.failed |= in.failed;
    return c.failed ? NULL : k;
}

static tir_kernel *gate_kernel(lbwd *L, arena *a, const schedule *s)
{
    const recipe *r = L->r;
    char suffix[160];
    snprintf(suffix, sizeof suffix, "bwd_d%s", r->params[r->linear.decay_param].name);
    tir_kernel *k = bwd_kernel_new(a, r, s, suffix, PROG_ONE);
    if (!k)
        return NULL;
    lower_ctx c = {a, k, k->body, false};
    tir_op *op = lower_emit(&c, TIR_GATE_GRAD, NULL, 0, NULL, 0);
    if (op) {
        op->decay = r->linear.decay;
        op->param = r->linear.decay_param;
    }
    return c.failed ? NULL : k;
}

static tir_kernel *heads_kernel(lbwd *L, arena *a, const schedule *s)
{
    tir_kernel *k = bwd_kernel_new(a, L->r, s, "bwd_heads", PROG_KVHEADS);
    if (!k)
        return NULL;
    lower_ctx c = {a, k, k->body, false};
    tir_op *dk = lower_emit(&c, TIR_HEAD_SUM, NULL, 0, NULL, 0);
    tir_op *dv = lower_emit(&c, TIR_HEAD_SUM, NULL, 0, NULL, 0);
    if (dk && dv) {
        dk->tensor = TENSOR_DK;
        dv->tensor = TENSOR_DV;
    }
    return c.failed ? NULL : k;
}

bool lower_linear_bwd(arena *a, const recipe *r, const schedule *s, tir_program *out, strbuf *err)
{
    const recipe_linear *lin = &r->linear;
    lbwd L = {r, r->head_dim, r->head_dim_v + (lin->normalize ? 1 : 0), lin->normalize, false, lin->causal};
    L.decay = backward_decay_grad(r); /* the gradient's form (strict scans, the gate kernel) */
    bool ok = bwd_program_add(out, dq_kernel(&L, a, s), err) && bwd_program_add(out, dkv_kernel(&L, a, s), err);
    if (ok && L.decay)
        ok = bwd_program_add(out, gate_kernel(&L, a, s), err);
    if (ok && r->gqa)
        ok = bwd_program_add(out, heads_kernel(&L, a, s), err);
    return ok;
}
