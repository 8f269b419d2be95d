/*
 * bench_pairs.h — exact count of the query/key pairs a recipe's mask keeps,
 * summed over batch and heads, for `attnc bench`'s TFLOP/s, and the tiling
 * overhead of the kernel's schedule: the (query tile, key tile) pairs the
 * kernel visits (its key loop's iterations) against those holding a kept
 * pair.
 *
 * Masks whose key set is exact (mask_keys.h: causal, windows, sinks,
 * neighborhoods with dilation/stride/causal dims, strided heads, documents
 * on a sequence) are counted per query row in closed form (mask_count.h);
 * the others tile pair by tile pair: interval classification settles full
 * and empty sub-boxes, what stays partial is counted pair by pair. Runtime
 * params (document ids, block tables) are read from host copies.
 */
#ifndef ATTNC_CLI_BENCH_PAIRS_H
#define ATTNC_CLI_BENCH_PAIRS_H

#include <stdint.h>

#include "frontend/recipe.h"

typedef struct bench_param_host {
    const void *data; /* contiguous row-major */
    int ndim;
    int64_t shape[4];
} bench_param_host;

/* Totals over batch and heads. */
typedef struct bench_pairs {
    int64_t kept;          /* pairs the mask keeps */
    int64_t dense;         /* every pair */
    int64_t visited_tiles;  /* tile pairs in the kernel's key-tile ranges (loop iterations) */
    int64_t computed_tiles; /* of those, computed (not proven empty) */
    int64_t kept_tiles;     /* tile pairs holding at least one kept pair */
    int64_t computed_pairs; /* pairs inside computed tiles */
    bool closed_form;      /* counted per row in closed form (else pair by pair) */
} bench_pairs;

/* Counts for schedule s at sizes; returns false (message in err) when the
 * mask cannot be evaluated on the host. */
bool bench_count_pairs(const recipe *r, const schedule *s, const int64_t *sizes, const bench_param_host *params,
                       bench_pairs *out, strbuf *err);

#endif
