/*
 * expr_diff.h — symbolic differentiation of score expressions, for the
 * backward pass of the softmax family.
 *
 * The backward kernel needs, at every kept (query, key) pair, the derivative
 * of the modified score f(s, ...) with respect to the raw dot product s (to
 * turn dF into dS) and with respect to every element of a float param that f
 * reads (to accumulate d<param>). Both are built here as ordinary expressions
 * over the same variables as f (s, coordinates, heads, sizes, params), so code
 * generators emit them like any score.
 *
 * Semantics of the derivatives (docs/recipe-language.md, "Gradients", says
 * the same for users):
 *  - the chain rule through neg, exp, log, tanh, sqrt, +, -, *, / and float();
 *  - |x|: d|x| = sign(x) dx with sign(0) = 0 (so the derivative at 0 is 0);
 *  - min(a, b) follows the operand it returns: a when a <= b, else b;
 *    max(a, b): a when a >= b, else b (clamp(x, lo, hi) = min(max(x, lo), hi));
 *  - select(c, t, f): select(c, dt, df); the condition is not differentiated,
 *    so a comparison of s may steer a select (piecewise scores such as
 *    select(s > 0, s, 0.1 * s) are fine);
 *  - int-valued subexpressions are constants: an int that does not depend on
 *    s has derivative 0; one that does (floor(s), an index computed from s)
 *    has no derivative and makes expr_diff_score fail. A float `%` of s fails
 *    too;
 *  - float division is IEEE (x / 0 is inf or nan), as generated code does.
 * Results are simplified while they are built (constants folded, x * 1,
 * x + 0, x * 0 dropped, constant factors gathered) and share subtrees of e:
 * d exp(u) reuses the node exp(u), d tanh(u) the node tanh(u), d (a / b) the
 * node a / b. Nothing is modified; everything new lives in the arena.
 */
#ifndef ATTNC_IR_EXPR_DIFF_H
#define ATTNC_IR_EXPR_DIFF_H

#include "expr.h"

/* d e / d s, a float expression over the same variables as e. Returns NULL
 * and writes a one-line reason to why (when not NULL) when e is not
 * differentiable in s, or "out of memory". */
expr *expr_diff_score(arena *a, const expr *e, strbuf *why);

/* The same, and *where (when not NULL) receives the smallest subexpression
 * of e that has no derivative (e.g. the floor(...) node), NULL otherwise. */
expr *expr_diff_score_at(arena *a, const expr *e, strbuf *why, const expr **where);

/* One read of a float param tensor in e, in a value position: not inside an
 * index expression, a select condition, a comparison or under floor() (those
 * reads are ints or bools and get no gradient). Reads with identical index
 * expressions (expr_equal) are one site. `partial` is d e / d (that element),
 * treating every other site as independent, so the gradient of an element is
 * the sum of the partials of the sites whose indices hit it. */
typedef struct expr_param_site {
    int param;      /* index into the recipe's params */
    int nargs;      /* the param's rank (0 for a scalar) */
    expr **args;    /* its index expressions, shared with e */
    expr *partial;  /* d e / d param[args...], a float expression */
    const expr *read; /* the EX_PARAM node of e (the first of its kind) */
} expr_param_site;

/* Every site of e, in order of first appearance (depth first, left to
 * right), into *out (arena memory). Returns the count, or -1 with why set
 * when a partial does not exist (a float `%` of the read) or on OOM. */
int expr_param_sites(arena *a, const expr *e, expr_param_site **out, strbuf *why);

/* d e / d var for a float param read `var` (matched by expr_equal). Int and
 * bool subexpressions are constants here (reads inside indices and
 * conditions are not differentiated). NULL with why set on failure. */
expr *expr_diff_param(arena *a, const expr *e, const expr *var, strbuf *why);

#endif
