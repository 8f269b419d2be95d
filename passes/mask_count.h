/*
 * mask_count.h — exact kept-pair and tile counts without enumerating pairs.
 *
 * When the mask's key set (mask_keys.h) is exact, the keys one query keeps
 * are a union of terms, each a product over key dims of an interval, maybe
 * thinned by a congruence (k mod c == r: closed form) or a value filter
 * (f(k) == v: binary search in the keys sorted by f). A union of terms is
 * counted by inclusion–exclusion over their intersections. So one query
 * row costs a few expression evaluations, and its kept keys inside a key
 * tile a few multiplications — for every shape of `attnc bench` (100k-token
 * video grids, 64k-token documents) in well under a second.
 *
 * Not countable (returns false; count pair by pair instead): masks whose
 * key set is not exact (radial's band: mask_radial.h counts it, block
 * tables, dropped atoms), flat-t constraints on a token grid, a congruence
 * and a filter on one key dim, or a runtime tensor the env cannot read.
 */
#ifndef ATTNC_PASSES_MASK_COUNT_H
#define ATTNC_PASSES_MASK_COUNT_H

#include "mask_analysis.h"

/* Work of one (batch, head) slice; "tile" = a (query tile, key tile) pair.
 * The kernel's key loop visits the tiles of its key-tile range (each one
 * loaded) and computes those the tile class does not prove empty. */
typedef struct mask_tally {
    int64_t kept_pairs;     /* pairs the mask keeps */
    int64_t visited_tiles;  /* tile pairs in the kernel's key-tile ranges */
    int64_t computed_tiles; /* of those, not proven empty */
    int64_t kept_tiles;     /* tile pairs holding at least one kept pair */
    int64_t computed_pairs; /* pairs in computed tiles (boxes clipped to the grid) */
    int64_t missed_pairs;   /* kept pairs outside computed tiles: 0 unless the analysis is wrong */
} mask_tally;

/* Whether mask_count_slice can count mi's mask exactly. */
bool mask_count_exact(const mask_info *mi);

/* Tallies env's (batch, head) slice exactly (env: sizes, head, batch; param
 * reads runtime tensors). False when the mask is not countable (see above)
 * or a runtime tensor cannot be read; *out is then unspecified. */
bool mask_count_slice(const mask_info *mi, const eval_env *env, mask_tally *out);

#endif
