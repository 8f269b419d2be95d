/* bench_grad.h — `attnc bench`'s launches through the public API: the
 * forward kernel (attnc_kernel_build) and, for --grad, the backward program
 * (attnc_kernel_build_backward), CUDA, timed on inputs already on the
 * device. */
#ifndef ATTNC_CLI_BENCH_GRAD_H
#define ATTNC_CLI_BENCH_GRAD_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/include/attnc_tools.h"

typedef struct bench_grad_in {
    const char *file, *arch, *schedule;
    bool deterministic;
    const attnc_tools_recipe_info *r;
    const int64_t *sizes;    /* ATTNC_TOOLS_SZ_* slots */
    const uint64_t *dev;     /* q, k, v, o, lse (the forward's outputs written) */
    const uint64_t *dparam;  /* tensor params */
    const attnc_tools_param_host *params;
    int warmup, iters;
    int64_t nseq;      /* > 0: a varlen launch, offsets cu[0..nseq] (host) as cu_seqlens_q */
    const int32_t *cu;
    const char *no_grad; /* --no-grad: attnc_build_options.no_grad (NULL: none) */
    int warmup_ms;       /* --warmup-ms: after the warm-up launches, more until this much time passed */
} bench_grad_in;

typedef struct bench_grad_out {
    double median_ms, min_ms;
    char schedule[128];
} bench_grad_out;

/* Returns EXIT_OK or an exit status after printing why. */
int bench_grad(const bench_grad_in *in, bench_grad_out *out);

/* The forward kernel the same way (attnc_kernel_build, CUDA, in->arch and
 * in->schedule; deterministic ignored), attnc_launch timed on in->dev
 * (o and, for the softmax family, lse written); out->schedule: the one the last launch ran. */
int bench_forward(const bench_grad_in *in, bench_grad_out *out);

#endif
