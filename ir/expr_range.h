/*
 * expr_range.h — static value ranges of integer expressions, for proving
 * that no integer operation of an expression can overflow 64 bits.
 *
 * The language's ints wrap around on overflow (two's complement, as the
 * generated code and the fp64 reference compute them; expr.h). Analyses
 * that reason with exact arithmetic — mask analysis's intervals and key
 * ranges — are only sound where nothing wraps, so they first ask here.
 * Every rule over-approximates: a range contains every value the
 * expression takes for every launch the environment allows (sizes within
 * their ranges, coordinates and indices below them, params within their
 * element type), and `fits` is false as soon as one integer operation could
 * leave int64.
 */
#ifndef ATTNC_IR_EXPR_RANGE_H
#define ATTNC_IR_EXPR_RANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "expr.h"

enum { RANGE_MAX_PARAMS = 32 };

typedef struct range_env {
    int64_t size_lo[SZ_MAX], size_hi[SZ_MAX]; /* each size's possible values */
    int grid_ndim;                            /* 0: plain sequence */
    int nparams;                              /* params past it span int64 */
    dtype param_dtype[RANGE_MAX_PARAMS];      /* element types (int ones bound the values) */
} range_env;

/* Sizes within the limits of expr.h (SIZE_LIMIT_*), or exactly `fixed[id]`
 * where fixed is non-NULL and fixed[id] > 0. No param dtypes. */
void range_env_init(range_env *env, int grid_ndim, const int64_t *fixed);

typedef struct int_range {
    bool fits;      /* no integer operation of the expression can overflow */
    int64_t lo, hi; /* for an int expression: its values (when fits) */
    bool fits_i32;  /* fits, and every int value inside (leaves included) fits in 32 bits */
} int_range;

int_range expr_int_range(const expr *e, const range_env *env);

#endif
