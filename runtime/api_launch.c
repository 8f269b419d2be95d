/* api_launch.c — attnc_launch: validate everything, then run on the
 * kernel's backend (the CPU backend's launch is host_launch.c). */
#include <stdint.h>
#include <string.h>

#include "api_backend.h"

#pragma weak cuda_backward_launch

attnc_status attnc_launch(attnc_kernel *k, const attnc_args *a, void *stream)
{
    if (!k)
        return ATTNC_ERR_INVALID_ARGUMENT;
    k->errmsg[0] = 0;
    if (!a)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "attnc_launch: args is NULL");
    if (a->cu_seqlens_set[0] || a->cu_seqlens_set[1]) /* one launch per sequence, each back through here */
        return launch_varlen(k, a, stream);
    if (k->bwd && k->backend == ATTNC_BACKEND_CUDA)
        return cuda_backward_launch ? cuda_backward_launch(k, a, stream)
                                    : kernel_error(k, ATTNC_ERR_UNSUPPORTED, "the CUDA backend is not part of this build");
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
