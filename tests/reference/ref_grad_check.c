/* ref_grad_check.c — a backward kernel's gradients against ref_backward;
 * see ref_grad_check.h. */
#include "ref_grad_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

double ref_grad_tolerance(dtype dt)
{
    return dt == DT_BF16 ? 3e-2 : dt == DT_F16 ? 5e-3 : 1e-4;
}

/* A strided view as contiguous f32 (exact for bf16/f16/f32 outputs). */
static float *gather(const ref_view *v, size_t n)
{
    float *out = malloc(sizeof(float) * (n + 1));
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t r = i;
        int64_t off = 0;
        for (int d = v->ndim - 1; d >= 0; d--) {
            off += (int64_t)(r % (size_t)v->shape[d]) * v->stride[d];
            r /= (size_t)v->shape[d];
        }
        out[i] = (float)ref_load_elem(v->dt, v->data, off);
    }
    return out;
}

static bool compare_one(const char *name, const ref_view *v, const double *ref, size_t n, double tol, double zs,
                        ref_grad_result *res, int *nres)
{
    if (!v->data || *nres >= REF_GRAD_MAX)
        return true;
    ref_grad_result *r = &res[(*nres)++];
    snprintf(r->name, sizeof r->name, "%s", name);
    float *got = gather(v, n);
    if (!got) {
        r->ok = false;
        return false;
    }
    r->cmp = ref_compare(ref, DT_F32, got, n, tol);
    r->nonzero_at_zero = 0;
    double top = 0;
    for (size_t i = 0; zs > 0 && i < n; i++)
        top = fabs(ref[i]) > top ? fabs(ref[i]) : top;
    double slack = zs * (top > 0 ? top : 1.0);
    for (size_t i = 0; i < n; i++)
        r->nonzero_at_zero += ref[i] == 0.0 && !(fabs((double)got[i]) <= slack);
    free(got);
    r->ok = r->cmp.ok && r->nonzero_at_zero == 0;
    return r->ok;
}

bool ref_check_grads(const ref_problem *p, const ref_view *dout, const ref_grad_outputs *out, double tol,
                     ref_grad_result *res, int *nres, const char **err)
{
    return ref_check_grads_slack(p, dout, out, tol, 0.0, res, nres, err);
}

bool ref_check_grads_slack(const ref_problem *p, const ref_view *dout, const ref_grad_outputs *out, double tol,
                           double zero_slack, ref_grad_result *res, int *nres, const char **err)
{
    *nres = 0;
    const recipe *r = p->r;
    const int64_t *z = p->sizes;
    size_t nq = (size_t)(z[SZ_BATCH] * z[SZ_HEADS] * z[SZ_TOKENS] * r->head_dim);
    size_t nkv = (size_t)(z[SZ_BATCH] * z[SZ_KV_HEADS] * z[SZ_KV_TOKENS]);
    size_t nk = nkv * (size_t)r->head_dim, nv = nkv * (size_t)r->head_dim_v;
    double *dq = malloc(sizeof(double) * (nq + 1)), *dk = malloc(sizeof(double) * (nk + 1));
    double *dv = malloc(sizeof(double) * (nv + 1));
    double **dp = calloc((size_t)r->nparams + 1, sizeof *dp);
    bool ok = dq && dk && dv && dp;
    for (int i = 0; ok && out->dparams && i < r->nparams; i++)
        if (out->dparams[i].data && p->params)
            ok = (dp[i] = malloc(sizeof(double) * (size_t)(ref_numel(&p->params[i]) + 1))) != NULL;
    if (!ok)
        *err = "out of memory";
    ref_grads g = {dq, dk, dv, dp};
    ok = ok && ref_backward(p, dout, &g, err);
    bool all = ok;
    if (ok) {
        all &= compare_one("dq", &out->dq, dq, nq, tol, zero_slack, res, nres);
        all &= compare_one("dk", &out->dk, dk, nk, tol, zero_slack, res, nres);
        all &= compare_one("dv", &out->dv, dv, nv, tol, zero_slack, res, nres);
        for (int i = 0; out->dparams && i < r->nparams; i++) {
            if (!dp[i])
                continue;
            char name[64];
            snprintf(name, sizeof name, "d%s", r->params[i].name);
            all &= compare_one(name, &out->dparams[i], dp[i], (size_t)ref_numel(&p->params[i]), tol, zero_slack, res, nres);
        }
    }
    for (int i = 0; dp && i < r->nparams; i++)
        free(dp[i]);
    free(dp);
    free(dq);
    free(dk);
    free(dv);
    return ok && all;
}
