/*
 * bwd_diff.h — what the backward lowering needs from symbolic
 * differentiation of score expressions: d score / d s, and every float
 * param the score reads with d score / d (that element).
 *
 * The interface is ir/expr_diff.h's (branch h-diff); until that lands,
 * bwd_diff.c is a small stand-in with the same contract.
 */
#ifndef ATTNC_PASSES_BWD_DIFF_H
#define ATTNC_PASSES_BWD_DIFF_H

#include "../ir/expr.h"

/* d e / d s as an expression of s and the coordinates; NULL with the
 * reason in why when e is not differentiable in s (floor of s ...). */
expr *expr_diff_score(arena *a, const expr *e, strbuf *why);

/* One float param read of a score: param index, its index expressions and
 * d e / d (that element). */
typedef struct expr_param_site {
    int param;
    int nargs;
    expr **args;
    expr *partial;
} expr_param_site;

/* The float param reads of e (shared subtrees count once), into an arena
 * array; returns their number, or -1 with the reason in why. */
int expr_param_sites(arena *a, const expr *e, expr_param_site **out, strbuf *why);

#endif
