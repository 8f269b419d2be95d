/* ref_dual.c — forward-mode (dual number) evaluation of score expressions
 * for the reference's gradients; see ref_expr.h. Values come from the same
 * arithmetic as ref_eval; each float node also carries d(node)/d(variable).
 * Written from the calculus, independently of ir/expr_diff.c. */
#include <math.h>

#include "ref_expr.h"

static bool is_float_dtype(dtype dt)
{
    return dt == DT_F32 || dt == DT_BF16 || dt == DT_F16;
}

static void note_read(ref_seed *s, int param, int64_t elem)
{
    if (!s->reads)
        return;
    for (int i = 0; i < s->nreads && i < s->cap; i++)
        if (s->reads[i][0] == param && s->reads[i][1] == elem)
            return;
    if (s->nreads < s->cap) {
        s->reads[s->nreads][0] = param;
        s->reads[s->nreads][1] = elem;
    }
    s->nreads++;
}

static ref_dual param_dual(const ref_point *p, const expr *e, ref_seed *s)
{
    ref_dual r = {ref_eval_float(p, e), 0};
    int q = e->u.param;
    if (!p->params || q < 0 || q >= p->nparams || !is_float_dtype(p->params[q].dt))
        return r;
    int64_t idx[8] = {0};
    int n = e->nargs < 8 ? e->nargs : 8;
    for (int i = 0; i < n; i++)
        idx[i] = ref_eval(p, e->args[i]).i;
    int64_t elem = ref_view_elem(&p->params[q], idx, n);
    note_read(s, q, elem);
    r.d = s->param == q && s->elem == elem;
    return r;
}

/* Values by the same formulas as ref_expr.c's eval_unary/eval_float_binary. */
static ref_dual unary_dual(const ref_point *p, const expr *e, ref_seed *s)
{
    ref_dual x = ref_eval_dual(p, e->args[0], s);
    double v, d;
    switch (e->u.unop) {
    case UN_NEG: v = -x.v; d = -x.d; break;
    case UN_ABS: v = fabs(x.v); d = x.v > 0 ? x.d : x.v < 0 ? -x.d : 0; break;
    case UN_EXP: v = exp(x.v); d = v * x.d; break;
    case UN_LOG: v = log(x.v); d = x.d / x.v; break;
    case UN_TANH: v = tanh(x.v); d = (1 - v * v) * x.d; break;
    case UN_SQRT: v = sqrt(x.v); d = x.d / (2 * v); break;
    default: return (ref_dual){ref_eval_float(p, e), 0}; /* float() of an int */
    }
    return (ref_dual){v, x.d == 0 ? 0 : d}; /* no dependence, even where d would be 0 * inf */
}

static ref_dual binary_dual(const ref_point *p, const expr *e, ref_seed *s)
{
    ref_dual a = ref_eval_dual(p, e->args[0], s), b = ref_eval_dual(p, e->args[1], s);
    double v, d;
    switch (e->u.binop) {
    case BIN_ADD: v = a.v + b.v; d = a.d + b.d; break;
    case BIN_SUB: v = a.v - b.v; d = a.d - b.d; break;
    case BIN_MUL: v = a.v * b.v; d = a.d * b.v + a.v * b.d; break;
    case BIN_DIV: v = a.v / b.v; d = (a.d * b.v - a.v * b.d) / (b.v * b.v); break;
    case BIN_MOD: /* x - y floor(x / y), differentiated where floor is constant */
        v = b.v == 0 ? 0 : a.v - b.v * floor(a.v / b.v);
        d = b.v == 0 ? 0 : a.d - b.d * floor(a.v / b.v);
        break;
    case BIN_MIN: v = fmin(a.v, b.v); d = a.v <= b.v ? a.d : b.d; break;
    case BIN_MAX: v = fmax(a.v, b.v); d = a.v >= b.v ? a.d : b.d; break;
    default: return (ref_dual){ref_eval_float(p, e), 0};
    }
    return (ref_dual){v, a.d == 0 && b.d == 0 ? 0 : d};
}

ref_dual ref_eval_dual(const ref_point *p, const expr *e, ref_seed *s)
{
    if (!e)
        return (ref_dual){0, 0};
    if (e->type != TY_FLOAT) /* ints and bools: constants */
        return (ref_dual){ref_eval_float(p, e), 0};
    switch (e->kind) {
    case EX_SCORE: return (ref_dual){p->score, s->param < 0 ? 1 : 0};
    case EX_PARAM: return param_dual(p, e, s);
    case EX_UNARY: return unary_dual(p, e, s);
    case EX_BINARY: return binary_dual(p, e, s);
    case EX_SELECT: /* the taken branch, an int one converted */
        return ref_eval_dual(p, e->args[ref_eval_bool(p, e->args[0]) ? 1 : 2], s);
    default: return (ref_dual){ref_eval_float(p, e), 0};
    }
}
