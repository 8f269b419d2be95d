/*
 * api_backend.h — the backends attnc_kernel_build and attnc_launch dispatch
 * to: one table row per backend (api_backends.c), each with its build,
 * launch and destroy. The CPU backend's row is runtime/host/host_backend.c,
 * the CUDA backend's runtime/cuda/cuda_backend.c (both always built: the
 * CUDA driver is opened with dlopen at the first CUDA build, so a machine
 * without one only fails those builds).
 */
#ifndef ATTNC_RUNTIME_API_BACKEND_H
#define ATTNC_RUNTIME_API_BACKEND_H

#include "runtime/api/api_internal.h"

typedef struct backend_ops {
    attnc_backend id;
    const char *name;
    /* Compiles k->r for the forward under the resolved k->sched with the
     * lowering `lower`; state goes to k->backend_data (or k->host). */
    attnc_status (*build)(attnc_kernel *k, const attnc_build_options *o, kernel_lower_fn lower, strbuf *err);
    /* Compiles k's backward program (k->bwd allocated by the caller path). */
    attnc_status (*build_backward)(attnc_kernel *k, const attnc_build_options *o, strbuf *err);
    /* Runs a validated, non-empty forward launch (tensors hold this
     * backend's pointers); stream: CUDA's CUstream, ignored elsewhere. */
    attnc_status (*launch)(attnc_kernel *k, const launch_problem *p, void *stream);
    /* Validates and runs a backward launch. */
    attnc_status (*launch_backward)(attnc_kernel *k, const attnc_args *a, void *stream);
    /* Releases k->backend_data (NULL: nothing to release). */
    void (*destroy)(attnc_kernel *k);
    /* The arch the schedule is resolved for (before build; never fails:
     * an arch that cannot be known yet is reported by build). */
    target_arch (*schedule_arch)(const attnc_build_options *o);
    /* Calls fn(user, i, s) for i in 0..n-1 with streams s that may run
     * them concurrently, stream's earlier work before them all and its later
     * work after them all (varlen's sequences; CUDA: cuda_fanout.h); stops
     * at the first failure, err saying why when it is not fn's. NULL: fn on
     * stream in turn. */
    attnc_status (*launch_each)(void *stream, int64_t n, attnc_status (*fn)(void *user, int64_t i, void *s),
                                void *user, strbuf *err);
} backend_ops;

/* The row of backend id; NULL for an unknown id. */
const backend_ops *backend_find(attnc_backend id);

extern const backend_ops host_backend_ops;
extern const backend_ops cuda_backend_ops;

/* The CUDA backward (runtime/cuda/cuda_backward.c), reached through
 * cuda_backend_ops: builds k's backward program as one module of GPU
 * kernels, launches a validated backward on stream, releases it. */
attnc_status cuda_backward_build(attnc_kernel *k, const attnc_build_options *opts, strbuf *err);
attnc_status cuda_backward_launch(attnc_kernel *k, const attnc_args *a, void *stream);
void cuda_backward_destroy(attnc_kernel *k);

#endif
