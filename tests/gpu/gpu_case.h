/*
 * gpu_case.h — run one attention kernel on the GPU against an fp64
 * reference (tests only). Inputs are fresh random numbers, outputs are
 * poisoned with NaN before the launch so an unwritten element fails, and
 * NaN never passes.
 */
#ifndef ATTNC_TESTS_GPU_CASE_H
#define ATTNC_TESTS_GPU_CASE_H

#include <stdbool.h>
#include <stdint.h>

#include "hand_tir.h"
#include "reference/ref_check.h"
#include "runtime/cuda/cuda_module.h"

typedef struct gpu_shape {
    int batch, heads, kv_heads, tokens;
    int grid[3]; /* grid recipes: extents (tokens = product) */
    bool bshd;   /* [batch, tokens, heads, dim] memory order */
} gpu_shape;

typedef struct gpu_result {
    double o_rel_l2;   /* ||o - ref|| / ||ref|| over kept rows */
    double o_max_abs;
    double lse_max_abs; /* over rows with a kept key */
    long bad;           /* NaN, unwritten, or inf mismatches */
    long dead_rows;     /* rows with no kept key */
} gpu_result;

/* True when a driver and GPU exist; otherwise prints the skip line. */
bool gpu_available(void);
/* The run's seed: $ATTNC_TEST_SEED, else the time; printed with `how`
 * (how to repeat or narrow the run). */
uint64_t gpu_test_seed(const char *how);
/* True when the GPU is sm_90a; otherwise prints "  skipped: WHAT needs an
 * sm_90a GPU". */
bool gpu_hopper(const char *what);

/* Builds cfg's kernel, runs it on shape, compares. Returns the status of the
 * first failing CUDA step (message in err). */
attnc_status gpu_run_case(const hand_cfg *cfg, const gpu_shape *shape, uint64_t seed, gpu_result *res,
                          strbuf *err);

/* "recipe NAME\nBODY" built for CUDA under sched (NULL: the default) and
 * checked on shape against the fp64 reference in device memory. Returns 1
 * when it ran (*ok, *res set; *extra gets the device-memory message, if
 * any), 0 when sched is one the kernel cannot take (prints "[SKIP]"), -1
 * when the recipe or the build failed (prints "[FAIL]"). sched_out: the
 * kernel's schedule text. */
typedef struct gpu_text_run {
    ref_check_result res;
    bool ok;
    char sched[128];
    char extra[256];
} gpu_text_run;
int gpu_check_text(attnc_context *ctx, const char *name, const char *body, const ref_shape *shape, const char *sched,
                   uint64_t seed, gpu_text_run *out);
/* gpu_check_text and its "[PASS]"/"[FAIL] name [schedule]: message" line;
 * 1 when it failed (a build or a check), 0 when it passed or was skipped. */
int gpu_check_text_line(attnc_context *ctx, const char *name, const char *body, const ref_shape *shape,
                        const char *sched, uint64_t seed);
/* gpu_check_text_line over `launches` checks of one built kernel (seeds
 * seed, seed + 1, ...): state a launch leaves behind (a persistent
 * kernel's item counter) must not change the next; the failed checks
 * (a build failure counts one). */
int gpu_check_text_launches(attnc_context *ctx, const char *name, const char *body, const ref_shape *shape,
                            const char *sched, uint64_t seed, int launches);

/* Device memory for ref_check_kernel (cuda_mem_*; messages into err). */
ref_mem_ops gpu_ref_mem(strbuf *err);

#endif
