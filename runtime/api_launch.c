/* api_launch.c — attnc_launch: validate everything, then run on the
 * kernel's backend. The CPU backend fills the generated function's argument
 * list from its signature and calls it through libffi (host_call.c). */
#include <stdint.h>
#include <string.h>

#include "api_backend.h"
#include "block_table.h"
#include "host_call.h"

static host_value arg_value(const host_arg *a, const launch_problem *p)
{
    host_value v = {.i = 0};
    const attnc_tensor *t = (a->role == HROLE_TENSOR || a->role == HROLE_STRIDE) && a->which < ARG_NFIXED
                                ? p->t[a->which]
                                : NULL;
    const attnc_tensor *pt = p->params ? &p->params[a->which] : NULL;
    switch (a->role) {
    case HROLE_TENSOR: v.p = t ? t->data : NULL; break;
    case HROLE_STRIDE: v.i = t && a->dim < t->ndim ? t->stride[a->dim] : 0; break;
    case HROLE_SIZE: v.i = a->which < SZ_MAX ? p->sizes[a->which] : 0; break;
    case HROLE_PARAM: v.p = pt ? pt->data : NULL; break;
    case HROLE_PARAM_STRIDE: v.i = pt && a->dim < pt->ndim ? pt->stride[a->dim] : 0; break;
    case HROLE_PARAM_SHAPE: v.i = pt && a->dim < pt->ndim ? pt->shape[a->dim] : 1; break;
    case HROLE_BLOCK_TABLE: v.p = NULL; break; /* filled by launch_host */
    case HROLE_SCRATCH: v.p = NULL; break; /* filled by launch_host */
    default: break; /* backward kernels' roles: api_backward.c */
    }
    return v;
}

attnc_status launch_host(attnc_kernel *k, const launch_problem *p)
{
    const host_kernel *hk = &k->host;
    if (launch_is_empty(p))
        return ATTNC_OK; /* nothing to compute */
    const uint8_t *table = NULL;
    if (hk->block_table) { /* cached per shape; NULL (every tile) is also correct */
        size_t table_bytes;
        attnc_status st = ATTNC_OK;
        table = block_table_for(k, p, &table_bytes, &st);
        if (st)
            return st;
    }
    /* 64 bytes of slack so the block can be aligned for vector loads */
    char *scratch = ctx_alloc(k->ctx, hk->scratch_bytes + 64);
    if (!scratch)
        return kernel_error(k, ATTNC_ERR_NOMEM, "out of memory: %zu bytes of tile scratch for the host kernel",
                            hk->scratch_bytes);
    void *aligned = scratch + (64 - (uintptr_t)scratch % 64) % 64;
    host_value vals[HOST_MAX_ARGS];
    for (int i = 0; i < hk->nargs && i < HOST_MAX_ARGS; i++) {
        vals[i] = arg_value(&hk->args[i], p);
        if (hk->args[i].role == HROLE_SCRATCH)
            vals[i].p = aligned;
        if (hk->args[i].role == HROLE_BLOCK_TABLE)
            memcpy(&vals[i].p, &table, sizeof table); /* the kernel only reads it */
    }
    int32_t ret = 0;
    bool called = host_call(hk->fn, hk->args, hk->nargs, vals, &ret);
    ctx_free(k->ctx, scratch);
    if (!called)
        return kernel_error(k, ATTNC_ERR_INTERNAL, "internal error: libffi cannot call the host kernel (%d arguments)",
                            hk->nargs);
    if (ret != 0)
        return kernel_error(k, ATTNC_ERR_INTERNAL, "internal error: the host kernel returned %d", (int)ret);
    return ATTNC_OK;
}

attnc_status attnc_launch(attnc_kernel *k, const attnc_args *a, void *stream)
{
    if (!k)
        return ATTNC_ERR_INVALID_ARGUMENT;
    k->errmsg[0] = 0;
    if (!a)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "attnc_launch: args is NULL");
    if (k->bwd)
        return launch_backward(k, a);
    launch_problem p;
    attnc_status st = launch_validate(k, a, &p);
    if (st)
        return st;
    if (launch_is_empty(&p)) /* valid, and nothing to compute: no backend call, no tuned variant */
        return ATTNC_OK;
    attnc_kernel *run = kernel_for_launch(k, &p); /* k, or its tuned variant for this shape */
    if (run->backend == ATTNC_BACKEND_CPU)
        st = launch_host(run, &p);
    else if (!run->ops || !run->ops->launch)
        st = kernel_error(run, ATTNC_ERR_UNSUPPORTED, "this kernel's backend cannot launch");
    else
        st = run->ops->launch(run, &p, stream);
    if (st && run != k) /* the variant recorded it */
        memcpy(k->errmsg, run->errmsg, sizeof k->errmsg);
    if (!st)
        memcpy(k->last_sched, run->sched_text, sizeof k->last_sched);
    return st;
}
