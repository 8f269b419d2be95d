/*
 * ref_check.h — one end-to-end numeric check: random inputs from a seed,
 * NaN-poisoned outputs, a launch through the public API, the fp64
 * reference, and the comparison (O and LSE) under the dtype's tolerance.
 * On failure the reference and actual tensors are written to files.
 * Used by tests/numeric and `attnc run`.
 */
#ifndef ATTNC_TESTS_REF_CHECK_H
#define ATTNC_TESTS_REF_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend/recipe.h"
#include "ref_data.h"
#include "runtime/include/attnc.h"

typedef struct ref_shape {
    int64_t batch, heads, kv_heads, tokens, kv_tokens; /* kv_heads/kv_tokens 0: same as heads/tokens */
    int64_t grid[3];  /* grid recipes: extents (tokens is their product); 0: fixed or 8 */
    int64_t extra[8]; /* extra sizes by index (SZ_EXTRA0 + i); 0: 4 */
    bool bshd;        /* q/k/v/o stored [batch, tokens, heads, dim] */
    /* Bit (1 << size_id) set: that size is 0 as given, where a 0 field
     * otherwise means the default above (kv_heads, kv_tokens, grid, extras). */
    unsigned zero;
} ref_shape;

/* Where tensors live. NULL ops: host memory (CPU backend). The CUDA path
 * supplies device allocation and copies (see cli/cmd_run.c). */
typedef struct ref_mem_ops {
    void *(*alloc)(void *user, size_t bytes);
    void (*free)(void *user, void *p);
    bool (*upload)(void *user, void *dst, const void *src, size_t bytes);
    bool (*download)(void *user, void *dst, const void *src, size_t bytes);
    bool (*sync)(void *user); /* after the launch */
    void *user;
} ref_mem_ops;

typedef struct ref_check_opts {
    uint64_t seed;
    const char *dump_prefix; /* files <prefix>.o.txt, <prefix>.lse.txt on failure; NULL: none */
    bool check;              /* compare with the reference (false: only run) */
    const ref_mem_ops *mem;
    /* Param values chosen by the caller (attnc run --param): called for each
     * param after its random fill with its host buffer (the param's dtype,
     * contiguous, t's shape), which it may overwrite. False: a user error,
     * why in msg; the run stops with ATTNC_ERR_INVALID_ARGUMENT. NULL: random. */
    bool (*set_param)(void *user, int index, const attnc_tensor *t, void *host, char *msg, size_t cap);
    void *set_param_user;
    /* Runs the launch instead of attnc_launch(k, a, NULL) (a program of
     * kernels, context-parallel ranks); NULL: attnc_launch. */
    attnc_status (*launch)(void *user, attnc_kernel *k, attnc_args *a);
    void *launch_user;
    /* A varlen launch (attnc.h): nseq > 0 sequences with offsets cu_q (and
     * cu_k, NULL: cu_q), nseq + 1 each, host memory, set as cu_seqlens_q /
     * cu_seqlens_k. The shape must have batch 1 and tokens = cu_q[nseq]
     * (kv_tokens = cu_k[nseq]); params with a batch dim get nseq rows. The
     * reference is ref_run_varlen. */
    int64_t nseq;
    const int32_t *cu_q, *cu_k;
} ref_check_opts;

typedef struct ref_check_result {
    attnc_status status;   /* of the launch; ATTNC_ERR_INVALID_ARGUMENT for a shape ref_shape_check refuses */
    ref_compare_result o, lse;
    bool launched;         /* the kernel ran and its outputs are readable */
    bool has_lse;
    bool ok;               /* launched, and (when checked) within tolerance */
    double tol;
    double launch_ms;
    char msg[1024];
} ref_check_result;

/* The smallest legal extent per grid dim (or of the sequence, mins[0]):
 * window x dilation of any neighborhood() in the mask; 0 when unbounded. */
void ref_min_extents(const recipe *r, int64_t *mins);

/* The small default shape of `attnc run` (its --help states it): batch 1,
 * 2 heads (1 kv head with GQA), 200 tokens; grid dims 13 (2-D) or 7 (3-D),
 * raised to the mask's minimum + 5; sizes the recipe fixes (batch, heads,
 * kv_heads, tokens, kv_tokens, grid dims) as it says. None of these divide
 * the usual tiles. */
void ref_default_shape(const recipe *r, ref_shape *sh);

/* Resolves every size of the shape for recipe r (grid, extras, kv); a
 * grid whose product overflows 64 bits gives tokens = -1. */
void ref_shape_sizes(const recipe *r, const ref_shape *sh, int64_t *sizes);

/* Checks resolved sizes before anything is allocated: the limits of
 * attnc.h (ATTNC_MAX_*), the grid's product, heads a multiple of kv_heads,
 * and that the bytes all tensors of the check need (inputs, outputs, params
 * and the reference's copies) fit in 64 bits. On failure writes why, naming
 * the size and the limit, into msg and returns false. */
bool ref_shape_check(const recipe *r, const int64_t *sizes, char *msg, size_t cap);

/* Runs kernel k (built from r) on random inputs of shape sh. The shape is
 * checked first (ref_shape_check): a bad one is refused before anything is
 * allocated, with res->status ATTNC_ERR_INVALID_ARGUMENT. */
bool ref_check_kernel(attnc_kernel *k, const recipe *r, const ref_shape *sh, const ref_check_opts *o,
                      ref_check_result *res);

#endif
