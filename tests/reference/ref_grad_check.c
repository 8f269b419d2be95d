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

/* A param gradient whose terms cancel is only as exact as its terms are:
 * where the reference is small against the sum of their magnitudes
 * (Σ|term|, abs), the error is measured against ||abs|| / 16 instead
 * (ABS_FLOOR). Without it a bias per head, whose exact gradient is 0,
 * failed on the kernel's rounding noise (5.8e-6 against 1e-15: rel L2
 * 1e9). Garbage still fails: it would have to stay within tol / 16 of the
 * terms' scale. */
enum { ABS_FLOOR = 16 };

static bool floor_by_terms(ref_compare_result *c, const double *ref, const double *abs, size_t n, double tol)
{
    double num = 0, den = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        den += ref[i] * ref[i];
        scale += abs[i] * abs[i];
    }
    scale = sqrt(scale) / ABS_FLOOR;
    if (c->ok || c->nan_count || c->nan_missing || c->unwritten || sqrt(den) >= scale || scale <= 0)
        return false;
    num = c->rel_l2 * (den > 0 ? sqrt(den) : 1.0); /* ||out - ref|| back from the relative figure */
    c->rel_l2 = num / scale;
    c->ok = c->rel_l2 < tol;
    return true;
}

/* How far from 0 an output may be where the reference is exactly 0, given
 * the tensor-wide `slack`. A param element that was read (abs > 0) but
 * whose terms summed to 0 is a cancellation, only as exact as its terms:
 * zs times their magnitude there. fuzz_diff found the tensor-wide figure
 * wrong for it: a bias per head whose fp64 gradient came out exactly 0 for
 * one head (terms 7.2) and 1e-15 for the others, so 9.5e-7 of f32 rounding
 * failed against a slack of 3e-18. Structural zeros (never read) keep it. */
static double slack_at(double slack, double zs, const double *abs, size_t i)
{
    return abs && zs * abs[i] > slack ? zs * abs[i] : slack;
}

static bool compare_one(const char *name, const ref_view *v, const double *ref, const double *abs, size_t n, double tol,
                        double zs, ref_grad_result *res, int *nres)
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
    r->by_terms = abs && floor_by_terms(&r->cmp, ref, abs, n, tol);
    r->nonzero_at_zero = 0;
    double top = 0;
    for (size_t i = 0; zs > 0 && i < n; i++)
        top = fabs(ref[i]) > top ? fabs(ref[i]) : top;
    double slack = zs * (top > 0 ? top : 1.0);
    for (size_t i = 0; i < n; i++)
        r->nonzero_at_zero += ref[i] == 0.0 && !(fabs((double)got[i]) <= slack_at(slack, zs, abs, i));
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
    bool softmax = r->family != FAMILY_LINEAR; /* the linear family has no term magnitudes */
    double *dqa = softmax ? malloc(sizeof(double) * (nq + 1)) : NULL;
    double *dka = softmax ? malloc(sizeof(double) * (nk + 1)) : NULL;
    double **dp = calloc((size_t)r->nparams + 1, sizeof *dp), **da = calloc((size_t)r->nparams + 1, sizeof *da);
    bool ok = dq && dk && dv && dp && da && (!softmax || (dqa && dka));
    for (int i = 0; ok && out->dparams && i < r->nparams; i++)
        if (out->dparams[i].data && p->params)
            ok = (dp[i] = malloc(sizeof(double) * (size_t)(ref_numel(&p->params[i]) + 1))) != NULL &&
                 (da[i] = malloc(sizeof(double) * (size_t)(ref_numel(&p->params[i]) + 1))) != NULL;
    if (!ok)
        *err = "out of memory";
    ref_grads g = {dq, dk, dv, dp, da, dqa, dka};
    ok = ok && ref_backward(p, dout, &g, err);
    bool all = ok;
    if (ok) {
        all &= compare_one("dq", &out->dq, dq, dqa, nq, tol, zero_slack, res, nres);
        all &= compare_one("dk", &out->dk, dk, dka, nk, tol, zero_slack, res, nres);
        all &= compare_one("dv", &out->dv, dv, NULL, nv, tol, zero_slack, res, nres);
        for (int i = 0; out->dparams && i < r->nparams; i++) {
            if (!dp[i])
                continue;
            char name[64];
            snprintf(name, sizeof name, "d%s", r->params[i].name);
            all &= compare_one(name, &out->dparams[i], dp[i], r->family == FAMILY_LINEAR ? NULL : da[i],
                               (size_t)ref_numel(&p->params[i]), tol, zero_slack, res, nres);
        }
    }
    for (int i = 0; i < r->nparams; i++) {
        free(dp ? dp[i] : NULL);
        free(da ? da[i] : NULL);
    }
    free(dp);
    free(da);
    free(dq);
    free(dk);
    free(dv);
    free(dqa);
    free(dka);
    return ok && all;
}
