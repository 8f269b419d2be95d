/* ref_expr.c — a direct fp64/int64 interpreter of the expression IR for
 * the reference (semantics: ir/expr.h). Plain recursion over the tree. */
#include "ref_expr.h"

#include <math.h>

#include "ref_dtype.h"

static ref_val mk_bool(bool b)
{
    return (ref_val){TY_BOOL, b, 0};
}

static ref_val mk_int(int64_t i)
{
    return (ref_val){TY_INT, i, 0};
}

static ref_val mk_float(double f)
{
    return (ref_val){TY_FLOAT, 0, f};
}

static double as_float(ref_val v)
{
    return v.ty == TY_FLOAT ? v.f : (double)v.i;
}

static bool as_bool(ref_val v)
{
    return v.ty == TY_FLOAT ? v.f != 0 : v.i != 0;
}

int64_t ref_floor_div(int64_t a, int64_t b)
{
    if (b == 0)
        return 0;
    if (b == -1)
        return (int64_t)(0 - (uint64_t)a); /* wraps for INT64_MIN like the JIT */
    int64_t q = a / b, r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q;
}

int64_t ref_floor_mod(int64_t a, int64_t b)
{
    if (b == 0 || b == -1)
        return 0;
    int64_t r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

double ref_load_elem(dtype dt, const void *base, int64_t off)
{
    switch (dt) {
    case DT_BF16: return ref_bf16_to_f32(((const uint16_t *)base)[off]);
    case DT_F16: return ref_f16_to_f32(((const uint16_t *)base)[off]);
    case DT_F32: return ((const float *)base)[off];
    case DT_I32: return ((const int32_t *)base)[off];
    case DT_I64: return (double)((const int64_t *)base)[off];
    case DT_U8: return ((const uint8_t *)base)[off];
    }
    return 0;
}

double ref_view_get(const ref_view *v, const int64_t *idx, int nidx)
{
    int64_t off = 0;
    for (int d = 0; d < v->ndim; d++) {
        int64_t i = d < nidx ? idx[d] : 0;
        i = i < 0 ? 0 : i >= v->shape[d] ? v->shape[d] - 1 : i; /* clamp, as generated code does */
        off += i * v->stride[d];
    }
    return ref_load_elem(v->dt, v->data, off);
}

int64_t ref_view_elem(const ref_view *v, const int64_t *idx, int nidx)
{
    int64_t flat = 0;
    for (int d = 0; d < v->ndim; d++) {
        int64_t i = d < nidx ? idx[d] : 0;
        i = i < 0 ? 0 : i >= v->shape[d] ? v->shape[d] - 1 : i;
        flat = flat * v->shape[d] + i;
    }
    return flat;
}

static ref_val eval_param(const ref_point *p, const expr *e)
{
    int64_t idx[8] = {0};
    int n = e->nargs < 8 ? e->nargs : 8;
    for (int i = 0; i < n; i++)
        idx[i] = ref_eval(p, e->args[i]).i;
    if (!p->params || e->u.param < 0 || e->u.param >= p->nparams)
        return e->type == TY_FLOAT ? mk_float(NAN) : mk_int(0);
    const ref_view *v = &p->params[e->u.param];
    if (v->dt == DT_I64 && v->ndim <= 4) { /* exact for big ints */
        int64_t off = 0;
        for (int d = 0; d < v->ndim; d++) {
            int64_t i = d < n ? idx[d] : 0;
            off += (i < 0 ? 0 : i >= v->shape[d] ? v->shape[d] - 1 : i) * v->stride[d];
        }
        return mk_int(((const int64_t *)v->data)[off]);
    }
    double x = ref_view_get(v, idx, n);
    bool is_float = v->dt == DT_F32 || v->dt == DT_BF16 || v->dt == DT_F16;
    return is_float ? mk_float(x) : mk_int((int64_t)x);
}

static ref_val eval_leaf(const ref_point *p, const expr *e)
{
    switch (e->kind) {
    case EX_CONST_BOOL: return mk_bool(e->u.ival != 0);
    case EX_CONST_INT: return mk_int(e->u.ival);
    case EX_CONST_FLOAT: return mk_float(e->u.fval);
    case EX_COORD: {
        int d = e->u.coord.dim;
        bool q = e->u.coord.side == SIDE_Q;
        if (d < 0)
            return mk_int(q ? p->q_t : p->k_t);
        return mk_int(d < 3 ? (q ? p->q_c[d] : p->k_c[d]) : 0);
    }
    case EX_HEAD: return mk_int(p->head);
    case EX_KV_HEAD: return mk_int(p->kv_head);
    case EX_BATCH: return mk_int(p->batch);
    case EX_SCORE: return mk_float(p->score);
    case EX_SIZE: return mk_int(p->sizes && e->u.size < SZ_MAX ? p->sizes[e->u.size] : 0);
    default: return mk_int(0);
    }
}

static int64_t ilog2(int64_t x)
{
    int64_t r = 0;
    while (x > 1) {
        x >>= 1;
        r++;
    }
    return r;
}

static ref_val eval_unary(const ref_point *p, const expr *e)
{
    ref_val x = ref_eval(p, e->args[0]);
    switch (e->u.unop) {
    case UN_NEG: return x.ty == TY_FLOAT ? mk_float(-x.f) : mk_int((int64_t)(0 - (uint64_t)x.i));
    case UN_NOT: return mk_bool(!as_bool(x));
    case UN_ABS: return x.ty == TY_FLOAT ? mk_float(fabs(x.f)) : mk_int(x.i < 0 ? -x.i : x.i);
    case UN_EXP: return mk_float(exp(as_float(x)));
    case UN_LOG: return mk_float(log(as_float(x)));
    case UN_TANH: return mk_float(tanh(as_float(x)));
    case UN_SQRT: return mk_float(sqrt(as_float(x)));
    case UN_TO_FLOAT: return mk_float(as_float(x));
    case UN_FLOOR: {
        if (x.ty != TY_FLOAT)
            return mk_int(x.i);
        double f = floor(x.f);
        if (isnan(f))
            return mk_int(0);
        return mk_int(f >= 9.2e18 ? INT64_MAX : f <= -9.2e18 ? INT64_MIN : (int64_t)f);
    }
    case UN_LOG2I: return mk_int(x.i >= 1 ? ilog2(x.i) : 0);
    case UN_POW2I: return mk_int(x.i < 0 ? 0 : (int64_t)1 << (x.i > 62 ? 62 : x.i));
    case UN_COUNT: break;
    }
    return mk_int(0);
}

static ref_val eval_float_binary(expr_binop op, double a, double b)
{
    switch (op) {
    case BIN_ADD: return mk_float(a + b);
    case BIN_SUB: return mk_float(a - b);
    case BIN_MUL: return mk_float(a * b);
    case BIN_DIV: return mk_float(a / b);
    case BIN_MOD: return mk_float(b == 0 ? 0 : a - b * floor(a / b));
    case BIN_MIN: return mk_float(fmin(a, b));
    case BIN_MAX: return mk_float(fmax(a, b));
    case BIN_LT: return mk_bool(a < b);
    case BIN_LE: return mk_bool(a <= b);
    case BIN_GT: return mk_bool(a > b);
    case BIN_GE: return mk_bool(a >= b);
    case BIN_EQ: return mk_bool(a == b);
    case BIN_NE: return mk_bool(a != b);
    default: return mk_bool(false);
    }
}

static ref_val eval_int_binary(expr_binop op, int64_t a, int64_t b)
{
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b; /* wrap like the JIT */
    switch (op) {
    case BIN_ADD: return mk_int((int64_t)(ua + ub));
    case BIN_SUB: return mk_int((int64_t)(ua - ub));
    case BIN_MUL: return mk_int((int64_t)(ua * ub));
    case BIN_DIV: return mk_int(ref_floor_div(a, b));
    case BIN_MOD: return mk_int(ref_floor_mod(a, b));
    case BIN_MIN: return mk_int(a < b ? a : b);
    case BIN_MAX: return mk_int(a > b ? a : b);
    case BIN_LT: return mk_bool(a < b);
    case BIN_LE: return mk_bool(a <= b);
    case BIN_GT: return mk_bool(a > b);
    case BIN_GE: return mk_bool(a >= b);
    case BIN_EQ: return mk_bool(a == b);
    case BIN_NE: return mk_bool(a != b);
    default: return mk_bool(false);
    }
}

static ref_val eval_binary(const ref_point *p, const expr *e)
{
    ref_val a = ref_eval(p, e->args[0]);
    ref_val b = ref_eval(p, e->args[1]);
    if (e->u.binop == BIN_AND)
        return mk_bool(as_bool(a) && as_bool(b)); /* both sides already evaluated */
    if (e->u.binop == BIN_OR)
        return mk_bool(as_bool(a) || as_bool(b));
    if (a.ty == TY_FLOAT || b.ty == TY_FLOAT)
        return eval_float_binary(e->u.binop, as_float(a), as_float(b));
    return eval_int_binary(e->u.binop, a.i, b.i);
}

ref_val ref_eval(const ref_point *p, const expr *e)
{
    if (!e)
        return mk_bool(true);
    switch (e->kind) {
    case EX_UNARY: return eval_unary(p, e);
    case EX_BINARY: return eval_binary(p, e);
    case EX_SELECT: {
        ref_val c = ref_eval(p, e->args[0]);
        ref_val t = ref_eval(p, e->args[1]), f = ref_eval(p, e->args[2]);
        ref_val r = as_bool(c) ? t : f;
        if (e->type == TY_FLOAT && r.ty != TY_FLOAT)
            return mk_float(as_float(r));
        return r;
    }
    case EX_PARAM: return eval_param(p, e);
    case EX_FORM: return mk_bool(ref_form_holds(p, e));
    default: return eval_leaf(p, e);
    }
}

bool ref_eval_bool(const ref_point *p, const expr *e)
{
    return e ? as_bool(ref_eval(p, e)) : true;
}

double ref_eval_float(const ref_point *p, const expr *e)
{
    return as_float(ref_eval(p, e));
}
