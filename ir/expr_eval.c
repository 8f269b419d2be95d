/* expr_eval.c — concrete evaluation of scalar expressions; see expr_eval.h. */
#include "expr_eval.h"

#include <math.h>

int64_t expr_floordiv(int64_t a, int64_t b)
{
    if (b == 0)
        return 0;
    if (b == -1)
        return a == INT64_MIN ? INT64_MIN : -a;
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int64_t expr_floormod(int64_t a, int64_t b)
{
    if (b == 0 || b == -1)
        return 0;
    int64_t m = a % b;
    if (m != 0 && ((m < 0) != (b < 0)))
        m += b;
    return m;
}

/* Two's complement wrap-around, the language's int semantics (expr.h), as
 * generated code computes it; computed in unsigned so C has no overflow. */
static int64_t wrap(uint64_t v)
{
    return (int64_t)v;
}

static double as_f(expr_val v)
{
    return v.type == TY_FLOAT ? v.f : (double)v.i;
}

static int64_t coord_value(const expr *e, const eval_env *env)
{
    int d = e->u.coord.dim;
    bool q = e->u.coord.side == SIDE_Q;
    if (d < 0)
        return q ? env->qt : env->kt;
    if (d >= 32 && d < 35)
        return q ? env->qhi[d - 32] : env->khi[d - 32];
    if (d >= 16 && d < 19)
        return q ? env->qlo[d - 16] : env->klo[d - 16];
    if (d < 3)
        return q ? env->q[d] : env->k[d];
    return 0;
}

static bool eval_leaf(const expr *e, const eval_env *env, expr_val *out)
{
    out->type = e->type;
    switch (e->kind) {
    case EX_CONST_BOOL:
    case EX_CONST_INT:
        out->i = e->u.ival;
        return true;
    case EX_CONST_FLOAT:
        out->f = e->u.fval;
        return true;
    case EX_COORD:
        out->i = coord_value(e, env);
        return true;
    case EX_HEAD:
        out->i = env->head;
        return true;
    case EX_KV_HEAD:
        out->i = env->kv_head;
        return true;
    case EX_BATCH:
        out->i = env->batch;
        return true;
    case EX_SIZE:
        out->i = (unsigned)e->u.size < SZ_MAX ? env->sizes[e->u.size] : 0;
        return true;
    default:
        return false; /* score, params, forms */
    }
}

static int64_t ilog2(int64_t x)
{
    int r = 0;
    while (x > 1) {
        x >>= 1;
        r++;
    }
    return r;
}

static bool eval_unary(const expr *e, expr_val x, expr_val *out)
{
    out->type = e->type;
    switch (e->u.unop) {
    case UN_NEG:
        if (x.type == TY_FLOAT)
            out->f = -x.f;
        else
            out->i = wrap(0 - (uint64_t)x.i);
        return true;
    case UN_NOT:
        out->i = !x.i;
        return true;
    case UN_ABS:
        if (x.type == TY_FLOAT)
            out->f = fabs(x.f);
        else
            out->i = x.i < 0 ? wrap(0 - (uint64_t)x.i) : x.i; /* abs(INT64_MIN) wraps to itself */
        return true;
    case UN_EXP: out->f = exp(as_f(x)); return true;
    case UN_LOG: out->f = log(as_f(x)); return true;
    case UN_TANH: out->f = tanh(as_f(x)); return true;
    case UN_SQRT: out->f = sqrt(as_f(x)); return true;
    case UN_TO_FLOAT: out->f = as_f(x); return true;
    case UN_FLOOR: {
        double f = floor(as_f(x));
        out->i = isnan(f) ? 0 : f >= 9.2e18 ? INT64_MAX : f <= -9.2e18 ? INT64_MIN : (int64_t)f;
        return true;
    }
    case UN_LOG2I: out->i = x.i < 1 ? 0 : ilog2(x.i); return true;
    case UN_POW2I: out->i = x.i < 0 ? 0 : x.i > 62 ? (int64_t)1 << 62 : (int64_t)1 << x.i; return true;
    default:
        return false;
    }
}

static bool compare(expr_binop op, expr_val a, expr_val b)
{
    if (a.type == TY_FLOAT || b.type == TY_FLOAT) {
        double x = as_f(a), y = as_f(b);
        switch (op) {
        case BIN_LT: return x < y;
        case BIN_LE: return x <= y;
        case BIN_GT: return x > y;
        case BIN_GE: return x >= y;
        case BIN_EQ: return x == y;
        default: return x != y;
        }
    }
    switch (op) {
    case BIN_LT: return a.i < b.i;
    case BIN_LE: return a.i <= b.i;
    case BIN_GT: return a.i > b.i;
    case BIN_GE: return a.i >= b.i;
    case BIN_EQ: return a.i == b.i;
    default: return a.i != b.i;
    }
}

static double float_arith(expr_binop op, double x, double y)
{
    switch (op) {
    case BIN_ADD: return x + y;
    case BIN_SUB: return x - y;
    case BIN_MUL: return x * y;
    case BIN_DIV: return y == 0 ? 0 : x / y;
    case BIN_MOD: return y == 0 ? 0 : x - y * floor(x / y);
    case BIN_MIN: return x < y ? x : y;
    default: return x > y ? x : y;
    }
}

static int64_t int_arith(expr_binop op, int64_t x, int64_t y)
{
    switch (op) {
    case BIN_ADD: return wrap((uint64_t)x + (uint64_t)y);
    case BIN_SUB: return wrap((uint64_t)x - (uint64_t)y);
    case BIN_MUL: return wrap((uint64_t)x * (uint64_t)y);
    case BIN_DIV: return expr_floordiv(x, y);
    case BIN_MOD: return expr_floormod(x, y);
    case BIN_MIN: return x < y ? x : y;
    default: return x > y ? x : y;
    }
}

static bool eval_binary(const expr *e, expr_val a, expr_val b, expr_val *out)
{
    out->type = e->type;
    expr_binop op = e->u.binop;
    if (op == BIN_AND || op == BIN_OR) {
        out->i = op == BIN_AND ? (a.i && b.i) : (a.i || b.i);
        return true;
    }
    if (op >= BIN_LT) {
        out->i = compare(op, a, b);
        return true;
    }
    if (e->type == TY_FLOAT)
        out->f = float_arith(op, as_f(a), as_f(b));
    else
        out->i = int_arith(op, a.i, b.i);
    return true;
}

static bool eval_param(const expr *e, const eval_env *env, expr_val *out)
{
    int64_t idx[8];
    if (!env->param || e->nargs > 8)
        return false;
    for (int i = 0; i < e->nargs; i++) {
        expr_val v;
        if (!expr_eval(e->args[i], env, &v))
            return false;
        idx[i] = v.type == TY_FLOAT ? (int64_t)v.f : v.i;
    }
    int64_t x = env->param(env->param_user, e->u.param, idx, e->nargs);
    out->type = e->type;
    out->i = x;
    out->f = (double)x;
    return true;
}

bool expr_eval(const expr *e, const eval_env *env, expr_val *out)
{
    if (!e)
        return false;
    expr_val v[3];
    switch (e->kind) {
    case EX_PARAM:
        return eval_param(e, env, out);
    case EX_UNARY:
        return expr_eval(e->args[0], env, &v[0]) && eval_unary(e, v[0], out);
    case EX_BINARY:
        return expr_eval(e->args[0], env, &v[0]) && expr_eval(e->args[1], env, &v[1]) &&
               eval_binary(e, v[0], v[1], out);
    case EX_SELECT:
        if (!expr_eval(e->args[0], env, &v[0]) || !expr_eval(e->args[v[0].i ? 1 : 2], env, &v[1]))
            return false;
        *out = v[1];
        if (e->type == TY_FLOAT && v[1].type != TY_FLOAT) {
            out->f = (double)v[1].i;
            out->type = TY_FLOAT;
        }
        return true;
    default:
        return eval_leaf(e, env, out);
    }
}

bool expr_eval_int(const expr *e, const eval_env *env, int64_t *out)
{
    expr_val v;
    if (!expr_eval(e, env, &v))
        return false;
    *out = v.type == TY_FLOAT ? (int64_t)v.f : v.i;
    return true;
}

void eval_env_set_point(eval_env *env, int64_t qt, int64_t kt)
{
    env->qt = qt;
    env->kt = kt;
    if (env->grid_ndim == 0) {
        env->q[0] = qt;
        env->k[0] = kt;
        return;
    }
    for (int d = env->grid_ndim - 1; d >= 0; d--) {
        int64_t ext = env->sizes[SZ_GRID0 + d];
        env->q[d] = ext > 0 ? qt % ext : 0;
        env->k[d] = ext > 0 ? kt % ext : 0;
        qt = ext > 0 ? qt / ext : 0;
        kt = ext > 0 ? kt / ext : 0;
    }
}
