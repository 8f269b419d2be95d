/*
 * reference.h — the fp64 oracle: a plain, independent implementation of
 * every recipe family's semantics.
 *
 * It shares nothing with the compiler but the typed recipe it reads: masks
 * are taken from recipe.mask_surface (named forms interpreted by
 * ref_forms.c from frontend/forms.h's definitions), scores from
 * recipe.score with ref_expr.c's own interpreter, and attention is computed
 * by brute force per (batch, head, query) in double. Linear attention runs
 * the step-by-step recurrence of recipe.h's recipe_linear comment, one token
 * at a time (no chunking).
 */
#ifndef ATTNC_TESTS_REFERENCE_H
#define ATTNC_TESTS_REFERENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "frontend/recipe.h"
#include "ref_expr.h"

typedef struct ref_problem {
    const recipe *r;
    int64_t sizes[SZ_MAX]; /* every size: batch, heads, kv_heads, tokens, kv_tokens, grid, extras */
    ref_view q, k, v;      /* [batch, heads|kv_heads, tokens|kv_tokens, dim], any float dtype */
    const ref_view *params; /* [r->nparams] */
} ref_problem;

/* Computes o (contiguous double [batch, heads, tokens, head_dim_v]) and, for
 * the softmax family, lse ([batch, heads, tokens], natural log; may be NULL).
 * A query row with no kept key gets o = 0 and lse = -inf; a row with a NaN
 * or +inf logit among its kept keys gets NaN (docs/recipe-language.md §3.10).
 * Sizes must be within the limits of ir/expr.h (SIZE_LIMIT_*), with the
 * grid's extents multiplying to tokens; batch, heads or tokens 0 is an
 * empty problem (nothing written, true). Returns false with a message in err
 * (static text) when the problem is malformed. */
bool ref_run(const ref_problem *p, double *o, double *lse, const char **err);

#endif
