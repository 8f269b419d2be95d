/*
 * ref_internal.h — helpers shared by the reference's forward and backward
 * files (not part of its interface, reference.h).
 */
#ifndef ATTNC_TESTS_REF_INTERNAL_H
#define ATTNC_TESTS_REF_INTERNAL_H

#include "reference.h"

/* q, k and v widened to double once, contiguous [batch][heads][tokens][dim]. */
typedef struct dense {
    double *q, *k, *v;
} dense;

bool ref_softmax(const ref_problem *p, double *o, double *lse, const char **err);
bool ref_linear(const ref_problem *p, double *o, const char **err);
bool ref_softmax_backward(const ref_problem *p, const ref_view *dout, const ref_grads *g, const char **err);
bool ref_linear_backward(const ref_problem *p, const ref_view *dout, const ref_grads *g, const char **err);

/* ref_softmax.c */
void ref_grid_coords(const ref_problem *p, int64_t t, int64_t *c);
/* A strided view as contiguous doubles [n0][n1][n2][n3] (malloc; NULL on OOM). */
double *ref_widen(const ref_view *v, int64_t n0, int64_t n1, int64_t n2, int64_t n3);
/* Row (b, h, t) of a widened q (kv false) or k/v (kv true) with `dim` columns. */
const double *ref_row_of(const ref_problem *p, const double *base, int64_t b, int64_t h, int64_t t, bool kv,
                         int dim);

/* ref_linear.c */
double ref_feature(feature_map f, double x);
void ref_load_row(const ref_view *v, int64_t b, int64_t h, int64_t t, int n, feature_map f, double *out);
/* The decay a_t before token t of (b, h), and the param element it reads. */
double ref_decay_at(const ref_problem *p, int64_t b, int64_t h, int64_t t);
int64_t ref_decay_elem(const ref_problem *p, int64_t b, int64_t h, int64_t t);

#endif
