/*
 * api_backend.h — how a non-CPU backend plugs into attnc_kernel_build and
 * attnc_launch. The CPU backend is built in (api_kernel.c, launch_host);
 * the CUDA backend (branch gpu) provides cuda_kernel_build(), which compiles
 * k->r under k->sched, stores its state in k->backend_data and sets k->ops.
 * Until that function is linked in, ATTNC_BACKEND_CUDA builds return
 * ATTNC_ERR_UNSUPPORTED with a message (the symbol is weak).
 */
#ifndef ATTNC_RUNTIME_API_BACKEND_H
#define ATTNC_RUNTIME_API_BACKEND_H

#include "runtime/api/api_internal.h"

struct kernel_backend_ops {
    const char *name;
    /* Releases k->backend_data. */
    void (*destroy)(attnc_kernel *k);
    /* Runs a validated problem; tensors hold device pointers. */
    attnc_status (*launch)(attnc_kernel *k, const launch_problem *p, void *stream);
};

/* Provided by the CUDA backend. Errors go through kernel_error(). */
attnc_status cuda_kernel_build(attnc_kernel *k, const attnc_build_options *opts);

/* The CUDA backward (runtime/cuda/cuda_backward.c): builds k's backward program
 * as one module of GPU kernels; launches a validated backward on stream. */
attnc_status cuda_backward_build(attnc_kernel *k, const attnc_build_options *opts, strbuf *err);
attnc_status cuda_backward_launch(attnc_kernel *k, const attnc_args *a, void *stream);

#endif
