/*
 * mask_sym.h — symbolic interval arithmetic over boxes of tokens.
 *
 * Given a query box and a key box whose corners are variables (EX_COORD with
 * dim TIR_BOX_LO+d / TIR_BOX_HI+d, tile_ir.h), an int expression of the q/k
 * coordinates gets a lower and upper bound that are themselves expressions of
 * the corners and sizes (NULL = unbounded), and a bool expression gets two
 * bool expressions: must_true (holds for every pair in the boxes) and
 * must_false (holds for no pair). Every rule over-approximates, so the
 * results are sound: must_true => the mask keeps every pair.
 * Head, kv_head and batch stay exact (a program knows them).
 *
 * The s_* constructors fold constants and trivial identities so the printed
 * range and class expressions stay readable.
 */
#ifndef ATTNC_PASSES_MASK_SYM_H
#define ATTNC_PASSES_MASK_SYM_H

#include "../ir/expr.h"
#include "../ir/tile_ir.h"

typedef struct sym_ival {
    expr *lo, *hi; /* NULL: unbounded on that side */
} sym_ival;

typedef struct sym_bool {
    expr *must_true, *must_false; /* never NULL when the arena is fine */
} sym_bool;

typedef struct sym_ctx {
    arena *a;
    int grid_ndim; /* 0: plain sequence; box dim 0 is then t */
    /* dilation-group tiling (NULL: none): boxes of dim d are strided by
     * dil[d], so `coord mod c` with c dividing dil[d] is the lo corner's */
    const int *dil;
} sym_ctx;

sym_ival sym_int(const sym_ctx *c, const expr *e);
sym_bool sym_cond(const sym_ctx *c, const expr *e);

/* Box corner variable of one side. */
expr *sym_corner(arena *a, coord_side side, bool hi, int dim);
/* Flat token index of a box corner: ((c0*G1)+c1)*G2+c2, or c0 for a sequence. */
expr *sym_flat_corner(const sym_ctx *c, coord_side side, bool hi);

/* Folding constructors. */
expr *s_bin(arena *a, expr_binop op, expr *l, expr *r);
expr *s_int(arena *a, int64_t v);
expr *s_not(arena *a, expr *x);
expr *s_select(arena *a, expr *c, expr *t, expr *f);
bool s_is_int(const expr *e, int64_t v);
bool s_is_bool(const expr *e, bool v);

#endif
