/*
 * api_introspect.h — the argument list of a kernel, described from its typed
 * recipe (runtime/api/api_introspect.c; public side: attnc_kernel_arg_info and
 * attnc_recipe_arg_info in attnc.h).
 *
 * One table for both directions. With grad_names NULL it is the forward
 * kernel's list (q, k, v, o, lse, params, sizes). With grad_names from
 * arg_grad_names it is the list a backward kernel takes: q, k, v, o, lse,
 * do and the params in; dq, dk, dv and d<param> for each param that gets a
 * gradient out; then the sizes. A backward kernel keeps the array from
 * arg_grad_names (made once, in its arena) and answers
 * attnc_kernel_arg_info with this table.
 */
#ifndef ATTNC_RUNTIME_API_INTROSPECT_H
#define ATTNC_RUNTIME_API_INTROSPECT_H

#include <stdbool.h>

#include "frontend/recipe.h"
#include "support/arena.h"
#include "runtime/include/attnc.h"

/* Whether param p gets a gradient: a float param read by the score
 * (softmax family) or by the decay (linear family). Mask-only params never
 * do. */
bool arg_param_has_grad(const recipe *r, int p);

/* "d<param>" for each param that gets a gradient, NULL for the others; an
 * array of r->nparams + 1 entries in a. NULL when a is out of memory. */
const char **arg_grad_names(arena *a, const recipe *r);

/* Number of entries of the list. */
int arg_table_count(const recipe *r, const char *const *grad_names);
/* Entry i into *out; false (out untouched) when i is out of range. */
bool arg_table_entry(const recipe *r, const char *const *grad_names, int i, attnc_arg_info *out);

#endif
