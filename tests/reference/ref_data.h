/*
 * ref_data.h — helpers for numeric checks: seeded random inputs (never
 * zeros), NaN poisoning of outputs, comparison with the fp64 reference under
 * per-dtype tolerances, and dumping tensors to files when a check fails.
 * Used by tests/numeric and `attnc run --check`.
 */
#ifndef ATTNC_TESTS_REF_DATA_H
#define ATTNC_TESTS_REF_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/expr.h"

/* splitmix64: small, seedable, the same sequence everywhere. */
typedef struct ref_rng {
    uint64_t s;
} ref_rng;
void ref_rng_seed(ref_rng *g, uint64_t seed);
uint64_t ref_rng_next(ref_rng *g);
double ref_rng_uniform(ref_rng *g, double lo, double hi); /* [lo, hi) */

/* Fills n elements of a float tensor (bf16/f16/f32) with uniform values in
 * [lo, hi) rounded to the dtype. */
void ref_fill_uniform(dtype dt, void *data, size_t n, ref_rng *g, double lo, double hi);
/* Writes NaN into n elements of a float tensor (outputs before a run): a
 * signalling NaN with a payload kernels never write (they write quiet
 * NaNs), so ref_is_poison tells an unwritten element from a NaN result. */
void ref_poison(dtype dt, void *data, size_t n);
bool ref_is_poison(dtype dt, const void *data, size_t i);
/* Element i of a contiguous float tensor as double. */
double ref_get(dtype dt, const void *data, size_t i);

/* Relative-L2 tolerance per output dtype: bf16 1e-2, f16 2e-3, f32 1e-5. */
double ref_tolerance(dtype dt);

typedef struct ref_compare_result {
    double rel_l2;   /* ||out - ref|| / ||ref|| (|| out - ref || when ref is 0) */
    double max_abs;  /* max |out - ref| */
    size_t nan_count;  /* NaN or inf in the output where the reference is a number */
    size_t bad_inf;    /* LSE: -inf mismatches (either side) */
    size_t empty_rows; /* LSE: rows with no kept key in the reference (-inf) */
    size_t nan_expected; /* NaN in both: rows the semantics make NaN (recipe-language.md §3.10) */
    size_t nan_missing;  /* the reference is NaN, the output is not */
    size_t unwritten;    /* still the poison (ref_poison) */
    size_t worst;      /* index of max_abs */
    bool ok;
} ref_compare_result;

/* Compares a contiguous output of dtype dt against ref (n elements). An
 * element passes when it is within tolerance of a numeric reference, or NaN
 * where the reference is NaN; an unwritten (poisoned) element never does. */
ref_compare_result ref_compare(const double *ref, dtype dt, const void *out, size_t n, double tol);
/* Compares an LSE vector (f32): -inf rows must match exactly, NaN rows
 * likewise, finite rows by rel L2 under tol. */
ref_compare_result ref_compare_lse(const double *ref, const float *out, size_t n, double tol);

/* Writes "index ref actual" lines to path; returns false on I/O error. */
bool ref_dump(const char *path, const double *ref, dtype dt, const void *out, size_t n);

#endif
