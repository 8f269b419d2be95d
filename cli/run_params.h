/*
 * run_params.h — `attnc run --param NAME=VALUE` and `--param NAME=@FILE`:
 * values for the recipe's params instead of random ones.
 *
 *   VALUE   a number: every element of the param is set to it (ints for
 *           i32/i64/u8 params, in their range; any finite number for
 *           f32/f16/bf16 ones, rounded to the nearest)
 *   @FILE   the whole tensor: a NumPy .npy file (cli/npy.h) of exactly the
 *           param's shape, ints for int params, numbers for float ones
 *           (converted); or, without the .npy magic, raw little-endian
 *           elements of the param's dtype, exactly shape-product of them
 */
#ifndef ATTNC_CLI_RUN_PARAMS_H
#define ATTNC_CLI_RUN_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "reference/ref_check.h" /* the typed recipe the reference reads */
#include "runtime/include/attnc.h"
#include "support/strbuf.h"

enum { RUN_MAX_PARAMS = 16 };

typedef struct run_params {
    int n;
    struct {
        char name[64];
        const char *value; /* after the '=' (argv outlives the run) */
        int index;         /* in recipe.params (run_params_load) */
        void *data;        /* the param's elements, converted (run_params_load) */
        size_t bytes;
    } v[RUN_MAX_PARAMS];
} run_params;

/* One --param argument, "NAME=VALUE". False with why in err. */
bool run_params_add(run_params *p, const char *arg, strbuf *err);

/* Checks every NAME (a param of r, given once) and converts its value to
 * the param's dtype and shape, its size names taken from sizes (by size
 * id, as ref_shape_sizes resolves them), before anything is built.
 * Returns EXIT_OK; EXIT_USER after a one-line error (unknown name, with
 * "did you mean"; a value that does not fit; a file of the wrong shape or
 * type; an unreadable file); EXIT_INTERNAL when out of memory. */
int run_params_load(run_params *p, const recipe *r, const int64_t *sizes);
void run_params_free(run_params *p);

/* ref_check_opts.set_param (user: the run_params): copies a loaded value
 * over the random one. */
bool run_params_fill(void *user, int index, const attnc_tensor *t, void *host, char *msg, size_t cap);

#endif
