/*
 * mask_atom.h — what the closed-form bounds (mask_bounds.c) and the key sets
 * (mask_keys.c) share when they solve one comparison atom `l OP r` for a
 * single coordinate: l - r as a signed sum of int terms, the rest of that sum
 * moved to the other side, and comparisons flipped or negated.
 */
#ifndef ATTNC_PASSES_MASK_ATOM_H
#define ATTNC_PASSES_MASK_ATOM_H

#include "../ir/expr.h"

enum { ATOM_MAX_TERMS = 16 };

typedef struct atom_term {
    const expr *e;
    int sign; /* +1 or -1 */
} atom_term;

/* l - r as at most ATOM_MAX_TERMS signed int terms (+, - and unary - are
 * flattened). False when either side is not int or the sum has more terms. */
bool atom_terms(const expr *l, const expr *r, atom_term *t, int *n);

/* For ksign*K + rest OP 0 solved as K OP' X: X = -ksign * rest, where rest is
 * the sum of the terms that do not read `side`. NULL when out of memory. */
expr *atom_rest(arena *a, const atom_term *t, int n, coord_side side, int ksign);

/* a OP b  <=>  b cmp_flip(OP) a (< and >, <= and >= swap). */
expr_binop cmp_flip(expr_binop op);
/* !(a OP b)  <=>  a cmp_negate(OP) b; BIN_EQ for operators that are no comparison. */
expr_binop cmp_negate(expr_binop op);

#endif
