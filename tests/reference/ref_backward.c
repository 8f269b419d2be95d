/* ref_backward.c — the reference's gradient entry point: checks the
 * problem, zeroes the outputs and picks the family; which params have a
 * gradient. See reference.h. */
#include <string.h>

#include "ref_internal.h"

int64_t ref_numel(const ref_view *v)
{
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++)
        n *= v->shape[d];
    return n;
}

static bool float_dtype(dtype dt)
{
    return dt == DT_BF16 || dt == DT_F16 || dt == DT_F32;
}

/* Is param i read on a float path of e: through float operators and select
 * branches, not inside indices, conditions or ints? */
static bool read_as_value(const expr *e, int i)
{
    if (!e || e->type != TY_FLOAT)
        return false;
    switch (e->kind) {
    case EX_PARAM: return e->u.param == i;
    case EX_UNARY: return read_as_value(e->args[0], i);
    case EX_BINARY: return read_as_value(e->args[0], i) || read_as_value(e->args[1], i);
    case EX_SELECT: return read_as_value(e->args[1], i) || read_as_value(e->args[2], i);
    default: return false;
    }
}

bool ref_param_has_grad(const recipe *r, int i)
{
    if (!r || i < 0 || i >= r->nparams || !float_dtype(r->params[i].dtype) || r->params[i].no_grad)
        return false; /* no_grad: a constant the caller froze (attnc_build_options.no_grad) */
    if (r->family == FAMILY_LINEAR)
        return r->linear.causal && r->linear.decay != DECAY_NONE && r->linear.decay_param == i;
    return read_as_value(r->score, i);
}

static void zero(double *x, int64_t n)
{
    if (x && n > 0)
        memset(x, 0, sizeof(double) * (size_t)n);
}

bool ref_backward(const ref_problem *p, const ref_view *dout, const ref_grads *g, const char **err)
{
    static const char *dummy;
    if (!err)
        err = &dummy;
    if (!p || !p->r || !g || !dout || !dout->data || !p->q.data || !p->k.data || !p->v.data) {
        *err = "reference: missing recipe, tensor or output";
        return false;
    }
    const int64_t *sz = p->sizes;
    for (int i = SZ_BATCH; i <= SZ_KV_TOKENS; i++)
        if (sz[i] < 0) {
            *err = "reference: negative size";
            return false;
        }
    const recipe *r = p->r;
    int64_t kv_rows = sz[SZ_BATCH] * sz[SZ_KV_HEADS] * sz[SZ_KV_TOKENS];
    zero(g->dq, sz[SZ_BATCH] * sz[SZ_HEADS] * sz[SZ_TOKENS] * r->head_dim);
    zero(g->dk, kv_rows * r->head_dim);
    zero(g->dv, kv_rows * r->head_dim_v);
    zero(g->dq_abs, sz[SZ_BATCH] * sz[SZ_HEADS] * sz[SZ_TOKENS] * r->head_dim);
    zero(g->dk_abs, kv_rows * r->head_dim);
    for (int i = 0; g->dparams && i < r->nparams; i++)
        if (g->dparams[i]) {
            if (!p->params) {
                *err = "reference: a param gradient without the param";
                return false;
            }
            zero(g->dparams[i], ref_numel(&p->params[i]));
            if (g->dparams_abs && g->dparams_abs[i])
                zero(g->dparams_abs[i], ref_numel(&p->params[i]));
        }
    if (r->family == FAMILY_LINEAR)
        return ref_linear_backward(p, dout, g, err);
    return ref_softmax_backward(p, dout, g, err);
}
