/*
 * mask_frames.h — masks that read the key token only by its frame.
 *
 * Radial Attention's masks (radial, radial_token) read the key only as
 * fj = k.t div F and sj = k.t mod F, F tokens a frame. A key tile of at
 * most F tokens lies in at most two frames, so every subtree of such a
 * mask that reads the key only through fj takes one of two values per
 * query row: the GPU forward computes those once per tile and row
 * (codegen/nvptx_fa2_frames.c, ATTNC_MASK_FRAMES=1). Interval
 * classification of a box that spans two frames sees `mod F` as the whole
 * period and the frame distance as an interval; split at the frame
 * boundary, each part's test is exact for radial (docs/mask-analysis.md).
 */
#ifndef ATTNC_PASSES_MASK_FRAMES_H
#define ATTNC_PASSES_MASK_FRAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "mask_analysis.h"

/* F > 0 when every key coordinate of mask is `k.t div F` or `k.t mod F`
 * (one constant F >= kv_tile) on a token sequence (grid_ndim 0) and some
 * subtree reads the key only through `k.t div F`; 0 otherwise. */
int64_t mask_key_period(const expr *mask, int grid_ndim, int kv_tile);

/* Whether e is `k.t div F` (op BIN_DIV) or `k.t mod F` (BIN_MOD). */
bool mask_is_key_by(const expr *e, expr_binop op, int64_t F);

/* The largest subtrees of mask that read the key only through
 * `k.t div F` (and no score), each once, into nodes[]; their number, or
 * -1 when there are more than max. */
int mask_key_frame_nodes(const expr *mask, int64_t F, const expr **nodes, int max);

/* The deepest bool subtree A of mask through which alone mask reads the
 * element (the key's place in its frame, the score): walking down from the
 * root, every node on the way has exactly one child that does. Then mask is
 * A ? mask[A := true] : mask[A := false], both cofactors read the key only
 * by frame (hoisted per row), and an element costs A and a select. NULL
 * when mask has no such node (or reads no element at all). */
const expr *mask_key_atom(const expr *mask, int64_t F);

/* mask_classify_boxes, and when that says PARTIAL and F > 0 (a sequence),
 * the same on the parts of q and k split at their first multiple of F:
 * EMPTY (FULL) when every pair of non-empty parts is. Sound for any F. */
mask_class mask_classify_frames(const mask_info *mi, const eval_env *env, const tok_box *q, const tok_box *k,
                                int64_t F);

#endif
