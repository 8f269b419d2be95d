/*
 * hand_tir.h — canonical softmax tile IR built by hand, for the GPU tests:
 * they must not wait on the front end or the lowering passes, and they pin
 * exactly the IR shape the NVPTX generator reads (ir/tile_ir.h). Also a
 * tiny fp64 evaluator of the expressions these kernels use, so the GPU
 * numeric tests have a reference that shares no code with the generator.
 */
#ifndef ATTNC_TESTS_HAND_TIR_H
#define ATTNC_TESTS_HAND_TIR_H

#include <stdbool.h>
#include <stdint.h>

#include "frontend/recipe.h"
#include "ir/tile_ir.h"

typedef enum {
    HM_DENSE,    /* every pair */
    HM_CAUSAL,   /* k.t <= q.t, closed-form range and full-tile class */
    HM_WINDOW,   /* causal sliding window: q.t - w <= k.t <= q.t */
    HM_NBHD2D,   /* |q.y - k.y| <= w && |q.x - k.x| <= w on a grid, RANGE_ALL */
    HM_NONE_KEPT /* k.t > q.t + 1000000: every row fully masked */
} hand_mask;

typedef struct hand_cfg {
    hand_mask mask;
    int window;
    dtype dt;
    int head_dim;
    int grid_ndim; /* 0 or 2 (HM_NBHD2D) */
    const char *schedule; /* NULL: auto */
    bool softcap;         /* score = 20 * tanh(s * scale / 20) */
} hand_cfg;

/* Builds the kernel into arena a (NULL on OOM or bad schedule). */
tir_kernel *hand_kernel(arena *a, const hand_cfg *cfg);

/* fp64 evaluation of e at one pair. coords: qc/kc grid coords (or t). */
typedef struct hand_point {
    int64_t qt, kt, qc[3], kc[3], head, kv_head, batch;
    double s;
    const int64_t *sizes;
} hand_point;
double hand_eval(const expr *e, const hand_point *pt);

/* The score and mask expressions of a built kernel (mask may be NULL). */
const expr *hand_score(const tir_kernel *k, bool *base2);
const expr *hand_mask_of(const tir_kernel *k);

#endif
