/*
 * autotune_bench.h — tuner hooks (autotune.h) that compile each candidate
 * through attnc_kernel_build and time attnc_launch on generated inputs:
 *  - CPU backend: a monotonic clock around the launch;
 *  - CUDA backend: CUDA events on the default stream around the launch.
 * Inputs: two sets of q, k, v with reproducible random values in [-1, 1)
 * (rotated by the sample number, so no run sees the previous run's data hot
 * in cache), one o; tensor params zero-filled, scalar f32 params 0.5.
 * Recipes whose params use extra size names are refused (no values for them).
 */
#ifndef ATTNC_RUNTIME_AUTOTUNE_BENCH_H
#define ATTNC_RUNTIME_AUTOTUNE_BENCH_H

#include "runtime/tune/autotune.h"
#include "runtime/include/attnc.h"

typedef struct tune_bench tune_bench;

/* r must outlive the bench. arch: NULL or "sm_80"/"sm_90a" (CUDA). */
attnc_status tune_bench_create(tune_bench **out, attnc_context *ctx, const attnc_recipe *r, attnc_backend backend,
                               const char *arch, const tune_shape *shape, strbuf *err);
void tune_bench_destroy(tune_bench *b);
/* Hooks bound to b; progress left NULL for the caller to fill in. */
tuner_hooks tune_bench_hooks(tune_bench *b);

#endif
