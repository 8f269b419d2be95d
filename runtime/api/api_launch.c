/* api_launch.c — attnc_launch: validate everything, then run on the
 * kernel's backend (the CPU backend's launch is host_launch.c). */
#include <stdint.h>
#include <string.h>

#include "runtime/api/api_backend.h"

attnc_status attnc_launch(attnc_kernel *k, const attnc_args *a, void *stream)
{
    if (!k)
        return ATTNC_ERR_INVALID_ARGUMENT;
    k->errmsg[0] = 0;
    if (!a)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "attnc_launch: args is NULL");
    if (a->cu_seqlens_set[0] || a->cu_seqlens_set[1]) /* one launch per sequence, each back through here */
        return launch_varlen(k, a, stream);
    const backend_ops *b = backend_find(k->backend);
    if (!b)
        return kernel_error(k, ATTNC_ERR_INTERNAL, "attnc_launch: the kernel's backend %d is unknown", (int)k->backend);
    if (k->bwd)
        return b->launch_backward(k, a, stream);
    launch_problem p;
    attnc_status st = launch_validate(k, a, &p);
    if (st)
        return st;
    if (launch_is_empty(&p)) /* valid, and nothing to compute: no backend call, no tuned variant */
        return ATTNC_OK;
    attnc_kernel *run = kernel_for_launch(k, &p); /* k, or its tuned variant for this shape */
    st = b->launch(run, &p, stream); /* a tuned variant has k's backend */
    if (st && run != k) /* the variant recorded it */
        memcpy(k->errmsg, run->errmsg, sizeof k->errmsg);
    if (!st)
        memcpy(k->last_sched, run->sched_text, sizeof k->last_sched);
    return st;
}
