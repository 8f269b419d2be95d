/*
 * differentiable.h — can the backward pass of a recipe be built?
 *
 * The backward of the softmax family differentiates the score in s and in
 * every float param it reads (ir/expr_diff.h). A score without a derivative
 * (floor() of s, a float '%' of s) is a recipe error found here, before any
 * kernel is built, located at the offending part of the score.
 */
#ifndef ATTNC_FRONTEND_DIFFERENTIABLE_H
#define ATTNC_FRONTEND_DIFFERENTIABLE_H

#include <stdbool.h>

#include "../support/diag.h"
#include "recipe.h"

/* True when every gradient of r exists. Otherwise adds one error to d (its
 * file and source are the recipe's, as for frontend_parse) at the smallest
 * written subexpression of the score that has no derivative, with a hint on
 * what to write instead, and returns false. Linear recipes always pass (their
 * gates are differentiable by construction). Uses no memory of r's arena. */
bool recipe_check_differentiable(const recipe *r, diag_list *d);

/* The span where subexpression e of r->score was written: that of the
 * innermost written node containing e, or r->score_loc when none is known. */
src_loc recipe_score_span(const recipe *r, const expr *e);

#endif
