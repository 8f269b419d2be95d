/*
 * api_backward.h — what a backward kernel holds behind attnc_kernel.bwd,
 * and the validated launch problem of one (internal to runtime/).
 *
 * A backward kernel is a program of host kernels run in order (phases,
 * passes/lower_backward.h), each over its own program grid, sharing one
 * signature (codegen/host_codegen.h) and a workspace the launch allocates.
 */
#ifndef ATTNC_RUNTIME_API_BACKWARD_H
#define ATTNC_RUNTIME_API_BACKWARD_H

#include "runtime/api/api_internal.h"

typedef struct bwd_phase {
    host_kernel hk;
    const char *name; /* the tile IR kernel's, e.g. "causal.bwd_dkv" */
} bwd_phase;

struct bwd_kernel {
    int nphases;
    bwd_phase phase[TIR_MAX_KERNELS];
    bool *grad;              /* [nparams]: the param gets a gradient ("d<name>" is an output) */
    const char **grad_names; /* [nparams]: "d<name>" or NULL */
    bool uses[TENSOR_COUNT]; /* workspace buffers the program reads or writes */
    bool slots;              /* a phase runs over programs=slots (softmax param gradients) */
    bool needs_table;        /* a range of the program consults the block table */
    size_t scratch_bytes;    /* the largest phase's */
};

/* A validated backward launch: the forward's problem (q, k, v, o, lse,
 * params, sizes) and the backward's tensors (NULL where not given). */
typedef struct bwd_problem {
    launch_problem p;
    attnc_tensor fwd[ARG_NFIXED]; /* the forward view p.t points into */
    const attnc_tensor *t[BWD_NFIXED];
    const attnc_tensor *dparams; /* [nparams]: entry data NULL when not set */
} bwd_problem;

/* launch_backward with each phase's programs run in chunks of `chunk`
 * (0: all at once), last chunk first: the results are the same bit for bit
 * (each program writes only its own outputs; tests use this to check that
 * the host functions may run any sub-range, as a thread pool will). */
attnc_status bwd_launch_chunked(attnc_kernel *k, const attnc_args *a, int64_t chunk);

/* Validates a's tensors and sizes for backward kernel k (api_validate_bwd.c).
 * On failure records the message on k and returns ATTNC_ERR_INVALID_ARGUMENT. */
attnc_status bwd_validate(attnc_kernel *k, const attnc_args *a, bwd_problem *out);

#endif
