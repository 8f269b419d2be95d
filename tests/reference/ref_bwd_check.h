/*
 * ref_bwd_check.h — one end-to-end check of a backward kernel: random
 * inputs from a seed (never zeros), the forward kernel's O and LSE, a
 * random dO, NaN-poisoned gradient outputs, the backward launch through
 * the public API, and every gradient (dq, dk, dv, d<param>) compared with
 * the fp64 reference (ref_check_grads). With o->mem the tensors are
 * mirrored in device memory for the launches (CUDA backend). Used by tests/numeric and `attnc run --grad`.
 */
#ifndef ATTNC_TESTS_REF_BWD_CHECK_H
#define ATTNC_TESTS_REF_BWD_CHECK_H

#include "ref_check.h"
#include "ref_grad_check.h"

typedef struct ref_bwd_result {
    attnc_status status; /* of the failed launch or ATTNC_OK */
    bool launched;       /* both kernels ran */
    bool ok;             /* launched, and every gradient within tolerance */
    double tol;
    double fwd_ms, bwd_ms;
    ref_grad_result grads[REF_GRAD_MAX];
    int ngrads;
    char msg[1024];
} ref_bwd_result;

/* The inputs of one run, kept for a caller that checks more (finite
 * differences of params): host tensors of the launch, and the gradients. */
typedef struct ref_bwd_data ref_bwd_data;

/* Runs fwd then bwd (both built from r) on random inputs of shape sh
 * (o->seed; o->mem: device memory, else host) and compares the gradients. When
 * keep is not NULL the run's data is returned there (ref_bwd_data_free). */
bool ref_check_backward(attnc_kernel *fwd, attnc_kernel *bwd, const recipe *r, const ref_shape *sh,
                        const ref_check_opts *o, ref_bwd_result *res, ref_bwd_data **keep);

/* Central finite differences of L = Σ dO ∘ O (the fp64 reference forward)
 * in each element of each param with a gradient of a kept run, against the
 * backward kernel's d<param>: relative L2 per param must be within tol.
 * Returns false with a message in msg on a mismatch. Cost: two reference
 * forwards per param element (small shapes only). */
bool ref_check_param_fd(const ref_bwd_data *d, double tol, char *msg, size_t cap);

void ref_bwd_data_free(ref_bwd_data *d);

/* Host copy of a kept run's tensor "q", "k", ..., "dq", "dk", "dv" or
 * "d<param>" of a param with a gradient (after the launches): its bytes in
 * *bytes; NULL for another name. */
const void *ref_bwd_data_tensor(const ref_bwd_data *d, const char *name, size_t *bytes);

/* Whether two kept runs of one recipe wrote the same gradient bytes: dq,
 * dk, dv and every d<param> (a param has a gradient in both or neither).
 * On a difference, `which` (cap bytes, may be NULL) names the first. For
 * the determinism checks (thread counts, repeated GPU runs). */
bool ref_bwd_data_same(const ref_bwd_data *a, const ref_bwd_data *b, char *which, size_t cap);

/* ref_check_backward with the float params' values chosen by the caller:
 * fill(user, param, data, n, dtype) writes the n elements of the param
 * (row-major) instead of the random role-based values. */
typedef void (*ref_param_fill_fn)(void *user, int param, void *data, size_t n, dtype dt);
bool ref_check_backward_fill(attnc_kernel *fwd, attnc_kernel *bwd, const recipe *r, const ref_shape *sh,
                             const ref_check_opts *o, ref_param_fill_fn fill, void *user, ref_bwd_result *res);

#endif
