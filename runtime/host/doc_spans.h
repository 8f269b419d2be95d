/*
 * doc_spans.h — the document span of each query tile, computed at launch
 * from a document-id param (a kv_range with `span`, ir/tile_ir.h).
 *
 * For a row of ids (one batch index), first(v) and last(v) are the first
 * and last token whose id is v. The span of query tile i (tokens
 * [i * q_tile, min((i + 1) * q_tile, tokens) - 1]) is [min first(ids[q]),
 * max last(ids[q])] over its tokens q: every key that shares an id with one
 * of the tile's queries lies in it, whatever the ids (documents need not be
 * contiguous, ids need not be sorted); for packed documents it is the
 * tile's own documents. Cost: a sort of each row, O(tokens log tokens).
 */
#ifndef ATTNC_RUNTIME_DOC_SPANS_H
#define ATTNC_RUNTIME_DOC_SPANS_H

#include <stdbool.h>
#include <stdint.h>

#include "attnc.h"

/* spans[(b * nqt + i) * 2] and [.. + 1] = first and last key token of
 * query tile i of batch row b, for b < batch and i < nqt = ceil(tokens /
 * q_tile); ids is int32 or int64 of shape [tokens] (the same for every row)
 * or [batch, tokens], with element strides. False when out of memory. */
bool doc_spans_build(attnc_context *ctx, const attnc_tensor *ids, int64_t batch, int64_t tokens, int64_t q_tile,
                     int64_t *spans);

#endif
