/*
 * hand_tir.h — hand-written recipes and the canonical softmax tile IR of
 * ir/tile_ir.h, built without the front end or the passes, so the host code
 * generator is tested on its own. Header-only (static functions) because
 * every .c in this folder is one test executable.
 */
#ifndef ATTNC_TESTS_HAND_TIR_H
#define ATTNC_TESTS_HAND_TIR_H

#include <math.h>
#include <string.h>

#include "frontend/forms.h"
#include "frontend/recipe.h"
#include "ir/tile_ir.h"

static tir_value *ht_value(arena *a, tir_value_kind kind, dtype dt, int rows, int cols)
{
    tir_value *v = ARENA_NEW(a, tir_value);
    v->type.kind = kind;
    v->type.dt = dt;
    v->type.shape[0] = rows;
    v->type.shape[1] = cols;
    return v;
}

static tir_op *ht_op(arena *a, tir_block *b, tir_op_kind kind, int nops, tir_value **ops, int nres, tir_value **res)
{
    tir_op *op = ARENA_NEW(a, tir_op);
    op->kind = kind;
    op->noperands = nops;
    op->nresults = nres;
    for (int i = 0; i < nops; i++)
        op->operands[i] = ops[i];
    for (int i = 0; i < nres; i++) {
        op->results[i] = res[i];
        res[i]->def = op;
    }
    if (b->last)
        b->last->next = op;
    else
        b->first = op;
    b->last = op;
    return op;
}

typedef struct ht_opts {
    tir_range_mode mode;
    expr *range_lo, *range_hi; /* RANGE_BOUNDS, over the q box corners */
    expr *full;                /* TILE_CLASS full expression (NULL: never full) */
    bool base2;
    bool convert_p;            /* convert P to the input dtype before P·V */
} ht_opts;

/* What code generators read of r beyond the ops (as lowering's header). */
static void ht_header(arena *a, tir_kernel *k, const recipe *r)
{
    k->qkv_dtype = r->qkv_dtype;
    k->cross = r->cross;
    k->nsizes = r->nsizes > SZ_EXTRA0 ? r->nsizes : SZ_EXTRA0;
    for (int i = 0; i < SZ_MAX; i++)
        k->size_fixed[i] = r->sizes[i].fixed;
    k->linear.decay_param = -1;
    k->nparams = r->nparams;
    k->params = r->nparams ? ARENA_ARRAY(a, tir_param, r->nparams) : NULL;
    for (int i = 0; i < r->nparams; i++) {
        const recipe_param *rp = &r->params[i];
        k->params[i] = (tir_param){rp->name, rp->dtype, rp->ndim, {0}, {0}};
        memcpy(k->params[i].dims, rp->dims, sizeof rp->dims);
        memcpy(k->params[i].const_dims, rp->const_dims, sizeof rp->const_dims);
    }
}

/* The canonical softmax kernel of tile_ir.h for recipe r under schedule s. */
static tir_kernel *ht_softmax(arena *a, const recipe *r, const schedule *s, const ht_opts *o)
{
    int tq = schedule_q_tokens(s), tk = schedule_kv_tokens(s), D = r->head_dim, Dv = r->head_dim_v;
    tir_kernel *k = ARENA_NEW(a, tir_kernel);
    k->name = r->name;
    k->family = FAMILY_SOFTMAX;
    k->sched = *s;
    k->head_dim = D;
    k->head_dim_v = Dv;
    k->grid_ndim = r->grid_ndim;
    ht_header(a, k, r);
    k->body = ARENA_NEW(a, tir_block);
    tir_block *b = k->body;
    tir_value *qb = ht_value(a, TV_BOX, DT_F32, tq, 0);
    ht_op(a, b, TIR_QTILE, 0, NULL, 1, &qb);
    tir_value *q = ht_value(a, TV_TILE, r->qkv_dtype, tq, D);
    ht_op(a, b, TIR_LOAD, 1, &qb, 1, &q)->tensor = TENSOR_Q;
    tir_value *m = ht_value(a, TV_ROWS, DT_F32, tq, 1), *l = ht_value(a, TV_ROWS, DT_F32, tq, 1);
    tir_value *acc = ht_value(a, TV_TILE, DT_F32, tq, Dv);
    ht_op(a, b, TIR_FILL, 0, NULL, 1, &m)->fval = -INFINITY;
    ht_op(a, b, TIR_FILL, 0, NULL, 1, &l)->fval = 0;
    ht_op(a, b, TIR_FILL, 0, NULL, 1, &acc)->fval = 0;
    tir_value *rg = ht_value(a, TV_RANGE, DT_F32, 0, 0);
    tir_op *kr = ht_op(a, b, TIR_KV_RANGE, 1, &qb, 1, &rg);
    kr->range_mode = o->mode;
    kr->range_ndims = 1;
    kr->range_lo[0] = o->range_lo;
    kr->range_hi[0] = o->range_hi;

    tir_value *res[3] = {ht_value(a, TV_ROWS, DT_F32, tq, 1), ht_value(a, TV_ROWS, DT_F32, tq, 1),
                         ht_value(a, TV_TILE, DT_F32, tq, Dv)};
    tir_value *fops[4] = {rg, m, l, acc};
    tir_op *f = ht_op(a, b, TIR_FOR, 4, fops, 3, res);
    tir_block *body = f->body = ARENA_NEW(a, tir_block);
    body->nargs = 4;
    tir_value *kb = body->args[0] = ht_value(a, TV_BOX, DT_F32, tk, 0);
    tir_value *ma = body->args[1] = ht_value(a, TV_ROWS, DT_F32, tq, 1);
    tir_value *la = body->args[2] = ht_value(a, TV_ROWS, DT_F32, tq, 1);
    tir_value *acca = body->args[3] = ht_value(a, TV_TILE, DT_F32, tq, Dv);

    tir_value *kt = ht_value(a, TV_TILE, r->qkv_dtype, tk, D);
    ht_op(a, body, TIR_LOAD, 1, &kb, 1, &kt)->tensor = TENSOR_K;
    tir_value *sv = ht_value(a, TV_TILE, DT_F32, tq, tk);
    tir_value *dops[2] = {q, kt};
    ht_op(a, body, TIR_DOT, 2, dops, 1, &sv)->trans_b = true;
    tir_value *cls = ht_value(a, TV_CLASS, DT_F32, 0, 0);
    tir_value *cops[2] = {qb, kb};
    ht_op(a, body, TIR_TILE_CLASS, 2, cops, 1, &cls)->full_expr = o->full;
    tir_value *t = ht_value(a, TV_TILE, DT_F32, tq, tk);
    tir_value *sops[4] = {sv, qb, kb, cls};
    tir_op *sc = ht_op(a, body, TIR_SCORE, 4, sops, 1, &t);
    sc->score_expr = o->base2 ? ex_binary(a, BIN_MUL, r->score, ex_float(a, 1.4426950408889634)) : r->score;
    sc->mask_expr = r->mask;
    sc->base2 = o->base2;
    tir_value *up[4] = {ht_value(a, TV_TILE, DT_F32, tq, tk), ht_value(a, TV_ROWS, DT_F32, tq, 1),
                        ht_value(a, TV_ROWS, DT_F32, tq, 1), ht_value(a, TV_ROWS, DT_F32, tq, 1)};
    tir_value *uops[3] = {t, ma, la};
    ht_op(a, body, TIR_SOFTMAX_UPDATE, 3, uops, 4, up)->base2 = o->base2;
    tir_value *p = up[0];
    if (o->convert_p) {
        tir_value *pc = ht_value(a, TV_TILE, r->qkv_dtype, tq, tk);
        ht_op(a, body, TIR_CONVERT, 1, &p, 1, &pc);
        p = pc;
    }
    tir_value *vt = ht_value(a, TV_TILE, r->qkv_dtype, tk, Dv);
    ht_op(a, body, TIR_LOAD, 1, &kb, 1, &vt)->tensor = TENSOR_V;
    tir_value *a1 = ht_value(a, TV_TILE, DT_F32, tq, Dv);
    tir_value *rops[2] = {acca, up[3]};
    ht_op(a, body, TIR_RESCALE, 2, rops, 1, &a1);
    tir_value *a2 = ht_value(a, TV_TILE, DT_F32, tq, Dv);
    tir_value *pv[3] = {p, vt, a1};
    ht_op(a, body, TIR_DOT, 3, pv, 1, &a2);
    tir_value *y[3] = {up[1], up[2], a2};
    ht_op(a, body, TIR_YIELD, 3, y, 0, NULL);

    tir_value *fin[2] = {ht_value(a, TV_TILE, DT_F32, tq, Dv), ht_value(a, TV_ROWS, DT_F32, tq, 1)};
    tir_value *fops2[3] = {res[2], res[0], res[1]};
    ht_op(a, b, TIR_FINALIZE, 3, fops2, 2, fin)->base2 = o->base2;
    tir_value *st1[2] = {qb, fin[0]}, *st2[2] = {qb, fin[1]};
    ht_op(a, b, TIR_STORE, 2, st1, 0, NULL)->tensor = TENSOR_O;
    ht_op(a, b, TIR_STORE, 2, st2, 0, NULL)->tensor = TENSOR_LSE;
    return k;
}

/* ---- recipes by hand ---- */

static void ht_recipe_base(arena *a, recipe *r, const char *name, dtype dt, int D, bool gqa)
{
    memset(r, 0, sizeof *r);
    r->name = name;
    r->family = FAMILY_SOFTMAX;
    r->qkv_dtype = dt;
    r->head_dim = r->head_dim_v = D;
    r->gqa = gqa;
    r->nsizes = SZ_EXTRA0;
    static const char *std[] = {"batch", "heads", "kv_heads", "tokens", "kv_tokens"};
    for (int i = 0; i < 5; i++)
        r->sizes[i].name = std[i];
    r->scale = 1.0 / sqrt((double)D);
    r->score = ex_binary(a, BIN_MUL, ex_leaf(a, EX_SCORE), ex_float(a, r->scale));
    r->sched.is_auto = true;
}

static expr *ht_form(arena *a, mask_form f, int nargs, const int64_t *args)
{
    expr *e = ex_bool(a, true);
    e->kind = EX_FORM;
    e->u.form = (int)f;
    e->nargs = nargs;
    e->args = ARENA_ARRAY(a, expr *, nargs > 0 ? nargs : 1);
    for (int i = 0; i < nargs; i++)
        e->args[i] = ex_int(a, args[i]);
    return e;
}

#endif
