/* lower_common.h — small emission helpers shared by the two lowerings
 * (lower_softmax.c, lower_linear.c). Internal to passes/. */
#ifndef ATTNC_PASSES_LOWER_COMMON_H
#define ATTNC_PASSES_LOWER_COMMON_H

#include "../frontend/recipe.h"
#include "../ir/tile_ir.h"

typedef struct lower_ctx {
    arena *a;
    tir_kernel *k;
    tir_block *b; /* where ops go */
    bool failed;  /* an allocation failed */
} lower_ctx;

/* Emits an op with up to 4 operands (NULL-terminated list) and results. */
tir_op *lower_emit(lower_ctx *c, tir_op_kind kind, tir_value *const *ops, int nops, const tir_type *res, int nres);
tir_value *lower_emit1(lower_ctx *c, tir_op_kind kind, tir_value *const *ops, int nops, tir_type res);
tir_type lower_box(int ext_code); /* TIR_DIM_TQ, TIR_DIM_TK or 0 (all) */
/* Fills the kernel header (name, dtypes, sizes, params) from the recipe. */
bool lower_kernel_header(tir_kernel *k, const recipe *r);

#endif
