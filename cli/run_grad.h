/* run_grad.h — `attnc run --grad`: the forward and the backward of a recipe
 * on random inputs (random dO), and with --check every gradient against the
 * fp64 reference (run_grad.c). */
#ifndef ATTNC_CLI_RUN_GRAD_H
#define ATTNC_CLI_RUN_GRAD_H

#include <stdbool.h>
#include <stdint.h>

#include "reference/ref_check.h"
#include "runtime/include/attnc.h"

typedef struct run_grad_opts {
    attnc_backend backend;
    const char *schedule; /* NULL: the recipe's */
    uint64_t seed;
    bool check;
    /* --param values (ref_check_opts.set_param), NULL: random */
    bool (*set_param)(void *user, int index, const attnc_tensor *t, void *host, char *msg, size_t cap);
    void *set_param_user;
    const ref_mem_ops *mem; /* --backend cuda: device memory (NULL: host) */
    const char *no_grad;    /* --no-grad: params held constant (attnc_build_options.no_grad) */
} run_grad_opts;

/* Runs rc (typed recipe r) under shape sh; prints what ran and, with check,
 * one line per gradient. Returns the exit status: 0 ran (and every gradient
 * within tolerance), 1 a mismatch or a user error (an unsupported backend,
 * a recipe without a gradient), 2 an internal error. */
int run_grad(attnc_context *ctx, attnc_recipe *rc, const recipe *r, const ref_shape *sh, const run_grad_opts *o);

#endif
