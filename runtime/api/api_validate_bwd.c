/* api_validate_bwd.c — the checks of a backward launch before any work:
 * the forward's tensors, params and sizes exactly as attnc_launch checks
 * them (launch_validate; "o" and, for the softmax family, "lse" are
 * required inputs here), then "do" like o, "dq"/"dk"/"dv" like q/k/v and
 * "d<param>" like its param: presence, rank, dtype, shape, pointer,
 * alignment, strides (non-negative, offsets in range, head dim contiguous,
 * outputs without two elements at one address). Each failure names the
 * tensor, the dimension and the rule. */
#include <stdlib.h>
#include <string.h>

#include "runtime/api/api_backward.h"

#define FAIL(k, ...) kernel_error((k), ATTNC_ERR_INVALID_ARGUMENT, __VA_ARGS__)

static int cmp_pair(const void *x, const void *y)
{
    const int64_t *a = x, *b = y; /* {stride, extent} */
    return (a[0] > b[0]) - (a[0] < b[0]);
}

/* Strides: non-negative, offsets within 2^62, and for outputs one element
 * per address. A tensor with a zero extent has no elements: its strides
 * may be anything (as in the forward's validation). */
static attnc_status check_strides(attnc_kernel *k, const char *nm, const attnc_tensor *t, bool output)
{
    int64_t dims[4][2], span = 0;
    int n = 0;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] == 0)
            return ATTNC_OK;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] <= 1)
            continue;
        if (t->stride[d] < 0)
            return FAIL(k, "tensor '%s': stride[%d] = %lld is negative", nm, d, (long long)t->stride[d]);
        if (t->stride[d] > ((int64_t)1 << 62) / t->shape[d] || span > ((int64_t)1 << 62))
            return FAIL(k, "tensor '%s': stride[%d] = %lld makes offsets overflow", nm, d, (long long)t->stride[d]);
        span += (t->shape[d] - 1) * t->stride[d];
        dims[n][0] = t->stride[d];
        dims[n++][1] = t->shape[d];
    }
    if (!output)
        return ATTNC_OK;
    qsort(dims, (size_t)n, sizeof dims[0], cmp_pair);
    int64_t covered = 0;
    for (int j = 0; j < n; j++) {
        if (dims[j][0] <= covered)
            return FAIL(k, "output tensor '%s': strides make elements overlap (stride %lld inside a span of %lld); "
                           "outputs need a one-to-one layout",
                        nm, (long long)dims[j][0], (long long)covered + 1);
        covered += (dims[j][1] - 1) * dims[j][0];
    }
    return ATTNC_OK;
}

/* One tensor against the shape it must have. */
static attnc_status check_one(attnc_kernel *k, const attnc_args *a, int i, const char *nm, int ndim,
                              const int64_t *shape, dtype dt, bool output)
{
    if (!a->tensor_set[i])
        return FAIL(k, "tensor '%s' is not set (attnc_args_set_tensor): the backward %s it", nm,
                    output ? "writes" : "reads");
    const attnc_tensor *t = &a->tensors[i];
    if (t->ndim != ndim)
        return FAIL(k, "tensor '%s': ndim is %d, expected %d", nm, t->ndim, ndim);
    if ((int)t->dtype != (int)dt)
        return FAIL(k, "tensor '%s': dtype %s, expected %s", nm,
                    (unsigned)t->dtype <= ATTNC_U8 ? dtype_name((dtype)t->dtype) : "?", dtype_name(dt));
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (t->shape[d] != shape[d])
            return FAIL(k, "tensor '%s': shape[%d] = %lld, expected %lld", nm, d, (long long)t->shape[d],
                        (long long)shape[d]);
        n *= shape[d];
    }
    if (!t->data && n > 0)
        return FAIL(k, "tensor '%s': data is NULL", nm);
    if ((uintptr_t)t->data % (uintptr_t)dtype_size(dt))
        return FAIL(k, "tensor '%s': data %p is not aligned to its %d-byte elements", nm, t->data, dtype_size(dt));
    if (ndim == 4 && t->shape[3] > 1 && t->stride[3] != 1)
        return FAIL(k, "tensor '%s': stride[3] = %lld; the head dimension must be contiguous (stride 1)", nm,
                    (long long)t->stride[3]);
    return check_strides(k, nm, t, output);
}

static attnc_status check_grads(attnc_kernel *k, const attnc_args *a, bwd_problem *out)
{
    const recipe *r = k->r;
    int base = ARG_NFIXED + r->nparams + BWD_NFIXED;
    for (int i = 0; i < r->nparams; i++) {
        const char *nm = k->bwd->grad_names[i];
        if (!k->bwd->grad[i]) {
            if (a->tensor_set[base + i] && r->params[i].no_grad)
                return FAIL(k, "tensor 'd%s': param '%s' of recipe '%s' is held constant by this backward "
                               "(attnc_build_options.no_grad names it): it gets no gradient; leave 'd%s' unset",
                            r->params[i].name, r->params[i].name, r->name, r->params[i].name);
            if (a->tensor_set[base + i])
                return FAIL(k, "tensor 'd%s': param '%s' of recipe '%s' gets no gradient (only float params the "
                               "score reads, or a linear recipe's decay, do)",
                            r->params[i].name, r->params[i].name, r->name);
            continue;
        }
        const attnc_tensor *pt = &out->p.params[i];
        attnc_status st = check_one(k, a, base + i, nm, pt->ndim, pt->shape, r->params[i].dtype, true);
        if (st)
            return st;
    }
    out->dparams = a->tensors + base;
    return ATTNC_OK;
}

attnc_status bwd_validate(attnc_kernel *k, const attnc_args *a, bwd_problem *out)
{
    memset(out, 0, sizeof *out);
    const recipe *r = k->r;
    if (a->k != k)
        return FAIL(k, "attnc_launch: the args were made for another kernel");
    if (r->family == FAMILY_SOFTMAX && !a->tensor_set[ARG_LSE])
        return FAIL(k, "tensor 'lse' is not set (attnc_args_set_tensor): the backward of a softmax recipe reads the "
                       "forward's log-sum-exp");
    attnc_status st = launch_validate(k, a, &out->p);
    if (st)
        return st;
    const int64_t *z = out->p.sizes;
    int base = ARG_NFIXED + r->nparams;
    int64_t qs[4] = {z[SZ_BATCH], z[SZ_HEADS], z[SZ_TOKENS], r->head_dim};
    int64_t os[4] = {z[SZ_BATCH], z[SZ_HEADS], z[SZ_TOKENS], r->head_dim_v};
    int64_t ks[4] = {z[SZ_BATCH], z[SZ_KV_HEADS], z[SZ_KV_TOKENS], r->head_dim};
    int64_t vs[4] = {z[SZ_BATCH], z[SZ_KV_HEADS], z[SZ_KV_TOKENS], r->head_dim_v};
    dtype dt = r->qkv_dtype;
    if ((st = check_one(k, a, base + BWD_DO, "do", 4, os, dt, false)) ||
        (st = check_one(k, a, base + BWD_DQ, "dq", 4, qs, dt, true)) ||
        (st = check_one(k, a, base + BWD_DK, "dk", 4, ks, dt, true)) ||
        (st = check_one(k, a, base + BWD_DV, "dv", 4, vs, dt, true)) || (st = check_grads(k, a, out)))
        return st;
    for (int i = 0; i < BWD_NFIXED; i++)
        out->t[i] = &a->tensors[base + i];
    return ATTNC_OK;
}
