/*
 * tools_pairs.h — exact count of the query/key pairs a recipe's mask keeps,
 * summed over batch and heads, for `attnc bench`'s TFLOP/s, and the tiling
 * overhead of the kernel's schedule (attnc_tools_count_pairs in
 * include/attnc_tools.h is the tools' entry; this is the typed one its unit
 * test calls).
 *
 * Masks whose key set is exact (mask_keys.h: causal, windows, sinks,
 * neighborhoods with dilation/stride/causal dims, strided heads, documents
 * on a sequence) are counted per query row in closed form (mask_count.h);
 * a lone radial form (Radial Attention) tile pair by tile pair in closed
 * form (passes/mask_radial.h); the others tile pair by tile pair:
 * interval classification settles full and empty sub-boxes, what stays
 * partial is counted pair by pair. Runtime params (document ids, block
 * tables) are read from host copies.
 */
#ifndef ATTNC_RUNTIME_TOOLS_PAIRS_H
#define ATTNC_RUNTIME_TOOLS_PAIRS_H

#include "frontend/recipe.h"
#include "runtime/include/attnc_tools.h"

/* Counts for schedule s at sizes (indexed by size_id); returns false
 * (message in err) when the mask cannot be evaluated on the host. */
bool tools_count_pairs(const recipe *r, const schedule *s, const int64_t *sizes, const attnc_tools_param_host *params,
                       attnc_tools_pairs *out, strbuf *err);

/* The backward's dK/dV loop under its schedule s (the dK/dV kernel's
 * tiles): per key tile, the query tiles of the transposed range visited,
 * those computed (not skipped), full, holding kept pairs. Dilation-group
 * tiles are not counted (out->counted false). */
bool tools_count_bwd_tiles(const recipe *r, const schedule *s, const int64_t *sizes,
                           const attnc_tools_param_host *params, attnc_tools_bwd_tiles *out, strbuf *err);
/* The backward's dQ kernel loop (deterministic builds) under its schedule s:
 * per query tile, the key tiles of the forward's range (its union parts
 * under $ATTNC_BWD_PARTS=1) visited and computed, into out->dq_*. */
bool tools_count_bwd_dq_tiles(const recipe *r, const schedule *s, const int64_t *sizes,
                              const attnc_tools_param_host *params, attnc_tools_bwd_tiles *out, strbuf *err);

#endif
