/* hand_tir.c — see hand_tir.h. */
#include "hand_tir.h"

#include <math.h>
#include <string.h>

static tir_op *op_new(arena *a, tir_op_kind kind)
{
    tir_op *op = ARENA_NEW(a, tir_op);
    if (op)
        op->kind = kind;
    return op;
}

static void append(tir_block *b, tir_op *op)
{
    if (!op)
        return;
    if (b->last)
        b->last->next = op;
    else
        b->first = op;
    b->last = op;
}

#define BIN(op, l, r) ex_binary(a, BIN_##op, (l), (r))

static expr *box(arena *a, coord_side side, bool hi, int d)
{
    return ex_coord(a, side, (hi ? TIR_BOX_HI : TIR_BOX_LO) + d);
}

static expr *score_expr(arena *a, const hand_cfg *cfg, bool *base2)
{
    double scale = 1.0 / sqrt((double)cfg->head_dim);
    expr *s = ex_leaf(a, EX_SCORE);
    if (cfg->softcap) {
        *base2 = false;
        expr *in = BIN(DIV, BIN(MUL, s, ex_float(a, scale)), ex_float(a, 20.0));
        return BIN(MUL, ex_float(a, 20.0), ex_unary(a, UN_TANH, in));
    }
    *base2 = true;
    return BIN(MUL, s, ex_float(a, scale * 1.4426950408889634));
}

static expr *absdiff(arena *a, int d)
{
    expr *diff = BIN(SUB, ex_coord(a, SIDE_Q, d), ex_coord(a, SIDE_K, d));
    return ex_unary(a, UN_ABS, diff);
}

static void fill_mask(arena *a, const hand_cfg *cfg, tir_op *range, tir_op *cls, tir_op *score, int tk)
{
    expr *qt = ex_coord(a, SIDE_Q, -1), *kt = ex_coord(a, SIDE_K, -1);
    expr *causal = BIN(LE, kt, qt);
    range->range_mode = RANGE_ALL;
    range->range_ndims = cfg->grid_ndim ? cfg->grid_ndim : 1;
    switch (cfg->mask) {
    case HM_DENSE:
        return;
    case HM_CAUSAL:
    case HM_WINDOW:
        range->range_mode = RANGE_BOUNDS;
        range->range_hi[0] = BIN(DIV, box(a, SIDE_Q, true, 0), ex_int(a, tk));
        range->range_lo[0] = ex_int(a, 0);
        cls->full_expr = BIN(LE, box(a, SIDE_K, true, 0), box(a, SIDE_Q, false, 0));
        score->mask_expr = causal;
        if (cfg->mask == HM_WINDOW) {
            expr *w = ex_int(a, cfg->window);
            range->range_lo[0] = BIN(DIV, BIN(SUB, box(a, SIDE_Q, false, 0), w), ex_int(a, tk));
            expr *lo_ok = BIN(GE, box(a, SIDE_K, false, 0), BIN(SUB, box(a, SIDE_Q, true, 0), w));
            cls->full_expr = BIN(AND, cls->full_expr, lo_ok);
            score->mask_expr = BIN(AND, causal, BIN(GE, kt, BIN(SUB, qt, w)));
        }
        return;
    case HM_NBHD2D: {
        expr *w = ex_int(a, cfg->window);
        score->mask_expr = BIN(AND, BIN(LE, absdiff(a, 0), w), BIN(LE, absdiff(a, 1), w));
        return;
    }
    case HM_NONE_KEPT:
        score->mask_expr = BIN(GT, kt, BIN(ADD, qt, ex_int(a, 1000000)));
        return;
    }
}

tir_kernel *hand_kernel(arena *a, const hand_cfg *cfg)
{
    tir_kernel *k = ARENA_NEW(a, tir_kernel);
    if (!k)
        return NULL;
    k->name = cfg->mask == HM_DENSE ? "dense" : cfg->mask == HM_CAUSAL ? "causal" : "hand";
    k->family = FAMILY_SOFTMAX;
    k->qkv_dtype = cfg->dt;
    k->head_dim = k->head_dim_v = cfg->head_dim;
    k->grid_ndim = cfg->grid_ndim;
    k->arena = a;
    strbuf err;
    sb_init(&err);
    bool ok = schedule_parse(cfg->schedule, cfg->grid_ndim ? cfg->grid_ndim : 1, &k->sched, &err);
    sb_free(&err);
    if (!ok)
        return NULL;
    k->body = ARENA_NEW(a, tir_block);
    tir_op *range = op_new(a, TIR_KV_RANGE), *loop = op_new(a, TIR_FOR);
    tir_op *cls = op_new(a, TIR_TILE_CLASS), *score = op_new(a, TIR_SCORE);
    tir_op *sm = op_new(a, TIR_SOFTMAX_UPDATE), *st_o = op_new(a, TIR_STORE), *st_l = op_new(a, TIR_STORE);
    if (!k->body || !range || !loop || !cls || !score || !sm || !st_o || !st_l)
        return NULL;
    loop->body = ARENA_NEW(a, tir_block);
    if (!loop->body)
        return NULL;
    int tk = schedule_kv_tokens(&k->sched);
    if (k->sched.is_auto)
        tk = 64; /* the GPU default key tile for a sequence */
    score->score_expr = score_expr(a, cfg, &score->base2);
    sm->base2 = score->base2;
    fill_mask(a, cfg, range, cls, score, tk);
    st_o->tensor = TENSOR_O;
    st_l->tensor = TENSOR_LSE;
    append(k->body, op_new(a, TIR_QTILE));
    append(k->body, range);
    append(k->body, loop);
    append(loop->body, cls);
    append(loop->body, score);
    append(loop->body, sm);
    append(k->body, op_new(a, TIR_FINALIZE));
    append(k->body, st_o);
    append(k->body, st_l);
    return a->failed ? NULL : k;
}

static const tir_op *find(const tir_block *b, tir_op_kind kind)
{
    for (const tir_op *op = b->first; op; op = op->next) {
        if (op->kind == kind)
            return op;
        if (op->body) {
            const tir_op *in = find(op->body, kind);
            if (in)
                return in;
        }
    }
    return NULL;
}

const expr *hand_score(const tir_kernel *k, bool *base2)
{
    const tir_op *op = find(k->body, TIR_SCORE);
    *base2 = op->base2;
    return op->score_expr;
}

const expr *hand_mask_of(const tir_kernel *k)
{
    return find(k->body, TIR_SCORE)->mask_expr;
}

static int64_t floordiv(int64_t x, int64_t y)
{
    if (!y)
        return 0;
    int64_t q = x / y;
    return (x % y && ((x < 0) != (y < 0))) ? q - 1 : q;
}

static double binary(expr_binop op, double l, double r, bool ints)
{
    switch (op) {
    case BIN_ADD: return l + r;
    case BIN_SUB: return l - r;
    case BIN_MUL: return l * r;
    case BIN_DIV: return ints ? (double)floordiv((int64_t)l, (int64_t)r) : l / r;
    case BIN_MOD: return ints ? l - r * (double)floordiv((int64_t)l, (int64_t)r) : fmod(l, r);
    case BIN_MIN: return l < r ? l : r;
    case BIN_MAX: return l > r ? l : r;
    case BIN_LT: return l < r;
    case BIN_LE: return l <= r;
    case BIN_GT: return l > r;
    case BIN_GE: return l >= r;
    case BIN_EQ: return l == r;
    case BIN_NE: return l != r;
    case BIN_AND: return l != 0 && r != 0;
    case BIN_OR: return l != 0 || r != 0;
    default: return NAN;
    }
}

double hand_eval(const expr *e, const hand_point *pt)
{
    switch (e->kind) {
    case EX_CONST_BOOL:
    case EX_CONST_INT: return (double)e->u.ival;
    case EX_CONST_FLOAT: return e->u.fval;
    case EX_COORD: {
        bool q = e->u.coord.side == SIDE_Q;
        int d = e->u.coord.dim;
        if (d < 0)
            return (double)(q ? pt->qt : pt->kt);
        return (double)(q ? pt->qc[d] : pt->kc[d]);
    }
    case EX_HEAD: return (double)pt->head;
    case EX_KV_HEAD: return (double)pt->kv_head;
    case EX_BATCH: return (double)pt->batch;
    case EX_SCORE: return pt->s;
    case EX_SIZE: return (double)pt->sizes[e->u.size];
    case EX_UNARY: {
        double x = hand_eval(e->args[0], pt);
        switch (e->u.unop) {
        case UN_NEG: return -x;
        case UN_NOT: return !(x != 0);
        case UN_ABS: return fabs(x);
        case UN_EXP: return exp(x);
        case UN_LOG: return log(x);
        case UN_TANH: return tanh(x);
        case UN_SQRT: return sqrt(x);
        case UN_TO_FLOAT: return x;
        case UN_FLOOR: return floor(x);
        default: return NAN;
        }
    }
    case EX_BINARY: {
        bool ints = e->args[0]->type == TY_INT && e->args[1]->type == TY_INT;
        return binary(e->u.binop, hand_eval(e->args[0], pt), hand_eval(e->args[1], pt), ints);
    }
    case EX_SELECT:
        return hand_eval(e->args[0], pt) != 0 ? hand_eval(e->args[1], pt) : hand_eval(e->args[2], pt);
    default:
        return NAN;
    }
}
