/*
 * ref_expr.h — the fp64 reference's own interpreter for the expression IR.
 *
 * Independent of the compiler: it evaluates the trees exactly as ir/expr.h
 * defines them (int64 with floor division/modulo and zero divisor -> 0,
 * floats in double, non-short-circuit logic), and it interprets named mask
 * forms (EX_FORM, recipe.mask_surface) with its own implementation of
 * frontend/forms.h (ref_forms.c), never the front end's expansion.
 */
#ifndef ATTNC_TESTS_REF_EXPR_H
#define ATTNC_TESTS_REF_EXPR_H

#include <stdint.h>

#include "frontend/recipe.h"
#include "ir/expr.h"

/* A typed strided view of a tensor (the reference reads any dtype). */
typedef struct ref_view {
    dtype dt;
    const void *data;
    int ndim;
    int64_t shape[4];
    int64_t stride[4]; /* elements */
} ref_view;

/* One (query, key) pair and everything an expression may read. */
typedef struct ref_point {
    int64_t q_t, k_t;       /* flat token indices */
    int64_t q_c[3], k_c[3]; /* grid coordinates, outermost first */
    int64_t head, kv_head, batch;
    double score;
    const int64_t *sizes; /* [SZ_MAX] */
    const ref_view *params; /* [nparams]; may be NULL when none are read */
    int nparams;
    int grid_ndim; /* 0: plain sequence */
} ref_point;

typedef struct ref_val {
    expr_type ty;
    int64_t i; /* bool and int */
    double f;
} ref_val;

ref_val ref_eval(const ref_point *p, const expr *e);
bool ref_eval_bool(const ref_point *p, const expr *e);
double ref_eval_float(const ref_point *p, const expr *e);

/* Helpers shared with ref_forms.c. */
int64_t ref_floor_div(int64_t a, int64_t b);
int64_t ref_floor_mod(int64_t a, int64_t b);
/* Reads element `idx` (clamped into the shape) of a view as double. */
double ref_view_get(const ref_view *v, const int64_t *idx, int nidx);
double ref_load_elem(dtype dt, const void *base, int64_t offset);

/* The flat row-major element (over v->shape) that ref_view_get(v, idx, nidx)
 * reads: indices clamped, missing ones 0. */
int64_t ref_view_elem(const ref_view *v, const int64_t *idx, int nidx);

/* Forward-mode derivatives (ref_dual.c): the value of e at p, as ref_eval
 * gives it, with its derivative along one variable — the score s (param < 0)
 * or element `elem` of float param `param`. Ints and bools carry no
 * derivative; select follows the branch taken, min/max the operand returned
 * (the first on ties), |x| has derivative 0 at 0. */
typedef struct ref_seed {
    int param;    /* -1: d/ds */
    int64_t elem; /* ref_view_elem of the param element */
    /* Optional: float param elements read on float paths are appended here
     * (distinct, in order; capacity cap; *nreads may exceed cap, then the
     * list is incomplete). */
    int64_t (*reads)[2]; /* {param, elem} */
    int nreads, cap;
} ref_seed;

typedef struct ref_dual {
    double v, d;
} ref_dual;

ref_dual ref_eval_dual(const ref_point *p, const expr *e, ref_seed *seed);

/* A named form (FORM_* from frontend/forms.h) at a point; args are constants. */
bool ref_form_holds(const ref_point *p, const expr *form);

#endif
