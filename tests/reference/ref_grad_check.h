/*
 * ref_grad_check.h — comparing a backward kernel's gradients with the fp64
 * reference (ref_backward), for the numeric tests and `attnc run --grad`.
 *
 * The caller launches the backward and hands its outputs as host views (any
 * float dtype, any strides); each is compared with the reference by relative
 * L2 under a tolerance, NaN/inf never passes, and where the reference is
 * exactly 0 (rows with every key masked, keys no query sees, param elements
 * never read) the output must be exactly 0 too.
 */
#ifndef ATTNC_TESTS_REF_GRAD_CHECK_H
#define ATTNC_TESTS_REF_GRAD_CHECK_H

#include "ref_data.h"
#include "reference.h"

/* Relative-L2 tolerance of gradients per dtype of q/k/v: bf16 3e-2,
 * f16 5e-3, f32 1e-4 (accumulation over many rows). */
double ref_grad_tolerance(dtype dt);

typedef struct ref_grad_outputs {
    ref_view dq, dk, dv;     /* logical [b, h|kv_h, t|kv_t, d]; data NULL: not checked */
    const ref_view *dparams; /* NULL or [nparams]; entry data NULL: not checked */
} ref_grad_outputs;

typedef struct ref_grad_result {
    char name[64];           /* "dq", "dk", "dv", "d<param>" */
    ref_compare_result cmp;  /* rel_l2, max_abs, nan_count, worst (logical row-major index) */
    size_t nonzero_at_zero;  /* outputs not exactly 0 where the reference is 0 */
    bool by_terms;           /* cmp.rel_l2 is against the terms' scale (Σ|term| / 16): the sum cancels */
    bool ok;
} ref_grad_result;

enum { REF_GRAD_MAX = 3 + 16 };

/* Runs ref_backward for p and dout and compares every given output. res
 * receives one entry per compared tensor (at most REF_GRAD_MAX), *nres
 * their count; returns whether all passed. On a reference failure returns
 * false with *nres = 0 and a message in err. */
bool ref_check_grads(const ref_problem *p, const ref_view *dout, const ref_grad_outputs *out, double tol,
                     ref_grad_result *res, int *nres, const char **err);

/* The same, but where the reference is exactly 0 an output passes when
 * |out| <= zero_slack times the tensor's largest |reference| value (1 when
 * that is 0), or, for a softmax param element that was read, zero_slack
 * times the sum of its terms' magnitudes if that is larger: for kernels
 * whose f32 arithmetic reproduces a zero by cancellation (a softmax row
 * with one kept key, a bias per head) only to rounding. The caller then
 * checks the structural zeros (masked rows, unseen keys) exactly itself
 * (ref_bwd_check.c). */
bool ref_check_grads_slack(const ref_problem *p, const ref_view *dout, const ref_grad_outputs *out, double tol,
                           double zero_slack, ref_grad_result *res, int *nres, const char **err);

#endif
