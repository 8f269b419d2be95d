/*
 * bench_pairs.h — exact count of the query/key pairs a recipe's mask keeps,
 * summed over batch and heads, for `attnc bench`'s TFLOP/s. Tiles are
 * classified by mask analysis: empty tiles count 0, full tiles their area,
 * partial tiles are counted pair by pair. Runtime params (document ids,
 * block tables) are read from host copies.
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

/* Returns the count, or -1 (message in err) when the mask cannot be evaluated. */
int64_t bench_kept_pairs(const recipe *r, const schedule *s, const int64_t *sizes, const bench_param_host *params,
                         strbuf *err);

#endif
