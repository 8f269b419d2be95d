/*
 * mask_keys.h — a mask read as a union of key sets per query point.
 *
 * The mask's tree of && / || / ! over atoms is put in disjunctive normal
 * form: a union of at most KEYS_MAX_TERMS terms, each a conjunction of
 * constraints on the key variables whose parameters are expressions of the
 * query point only (q coordinates, sizes, head, batch, runtime params read
 * at q):
 *   lo <= k.X <= hi      atoms `a OP b` solved for k.X or k.X div c (±1
 *                        coefficient; `k div c >= X` gives k >= X*c,
 *                        `k div c <= X` gives k <= X*c + c - 1)
 *   k.X mod c == r       congruences (dilation, strided heads); c > 0 const
 *   f(k.X) == g(q)       a value filter (document ids): one side reads the
 *                        query only, the other one key variable only
 *   cond(q)              atoms that read no key coordinate
 * Key variables are the grid dims 0..2 and the flat token index t
 * (KEY_T); for a plain sequence t is dim 0 and the only one.
 *
 * An atom none of these forms states is dropped, and a union with more than
 * KEYS_MAX_TERMS terms is merged into its hull: the set then only contains
 * the kept keys and `exact` is false. When `exact` is true the union is
 * exactly the set of keys the mask keeps for every query point — what exact
 * kept-pair counting (mask_count.c) relies on. Closed-form key-tile ranges
 * (mask_bounds.c) read only the lo/hi bounds, bounded over a query box.
 *
 * Raw bounds are in key units (the div already undone); NULL = unbounded.
 */
#ifndef ATTNC_PASSES_MASK_KEYS_H
#define ATTNC_PASSES_MASK_KEYS_H

#include <stdint.h>

#include "../ir/expr.h"

enum { KEY_T = 3, NKEY = 4, KEYS_MAX_TERMS = 4 };

typedef struct key_term {
    expr *lo[NKEY], *hi[NKEY]; /* inclusive raw bounds over the query point; NULL: none */
    int64_t mod[NKEY];         /* > 0: k.X mod mod[X] == res[X] */
    expr *res[NKEY];
    const expr *fk[NKEY], *fq[NKEY]; /* value filter fk(k.X) == fq(q); NULL: none */
    expr *qcond;                     /* condition on the query alone; NULL: true */
    bool exact;                      /* no atom was dropped */
} key_term;

typedef struct key_set {
    int n; /* 0: the mask keeps no pair */
    key_term t[KEYS_MAX_TERMS];
    bool exact; /* every term exact and no hull merged: the union is the mask */
} key_set;

/* Reads mask (expanded, bool; NULL keeps every pair) as a key set for a
 * recipe with grid_ndim grid dims. False only when the arena ran out. */
bool mask_keys_collect(arena *a, int grid_ndim, const expr *mask, key_set *out);

/* The conjunction of two terms (exact only when both are and their
 * congruences and filters combine; see mask_keys.c). */
bool mask_keys_and(arena *a, const key_term *x, const key_term *y, key_term *out);

/* Whether e reads key coordinates of variable var only (KEY_T: t, or dim 0
 * of a sequence) and no query coordinate or score. */
bool mask_keys_reads_only(const expr *e, int grid_ndim, int var);

#endif
