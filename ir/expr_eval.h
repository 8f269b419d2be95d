/*
 * expr_eval.h — evaluating scalar expressions at concrete values.
 *
 * Used by mask analysis (evaluating range/class expressions over concrete
 * box corners), the block-table builder and tests (brute-force masks). The
 * semantics are expr.h's: 64-bit ints that wrap around on overflow, floor
 * div/mod, a zero divisor gives 0. Runtime tensors (EX_PARAM) and the score `s` cannot be evaluated here:
 * expr_eval returns false for them. For a plain sequence (no token grid)
 * coordinate dim 0 and the flat index t are the same number.
 */
#ifndef ATTNC_IR_EXPR_EVAL_H
#define ATTNC_IR_EXPR_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "expr.h"

typedef struct eval_env {
    int64_t sizes[SZ_MAX];
    int grid_ndim;              /* 0: plain sequence */
    int64_t head, kv_head, batch;
    int64_t q[3], k[3];         /* point grid coordinates (q[0] = t for a sequence) */
    int64_t qt, kt;             /* point flat token indices */
    int64_t qlo[3], qhi[3];     /* box corners (tile_ir.h TIR_BOX_LO/HI coords) */
    int64_t klo[3], khi[3];
    /* Optional reader of runtime tensor elements (EX_PARAM); NULL: params
     * cannot be evaluated. idx holds the evaluated index arguments. */
    int64_t (*param)(void *user, int param, const int64_t *idx, int nidx);
    void *param_user;
} eval_env;

typedef struct expr_val {
    expr_type type;
    int64_t i; /* TY_BOOL (0/1) and TY_INT */
    double f;  /* TY_FLOAT */
} expr_val;

bool expr_eval(const expr *e, const eval_env *env, expr_val *out);
/* Convenience: bool/int result; false when not evaluable. */
bool expr_eval_int(const expr *e, const eval_env *env, int64_t *out);

/* Sets q/k point coordinates from flat indices (grid coords derived). */
void eval_env_set_point(eval_env *env, int64_t qt, int64_t kt);

/* Floor division and modulo with a zero divisor giving 0. */
int64_t expr_floordiv(int64_t a, int64_t b);
int64_t expr_floormod(int64_t a, int64_t b);

#endif
