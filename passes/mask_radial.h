/*
 * mask_radial.h — Radial Attention's masks counted in closed form.
 *
 * radial (FORM_RADIAL_VIDEO) and radial_token (FORM_RADIAL) keep, for a
 * pair of frames fi, fj at distance d = |fi - fj|, either every pair (the
 * sink frame fj == 0; adjacent frames), none (a distance the split thins
 * out) or a diagonal band |si - sj| <= w(d) of the frame pair's spatial
 * positions (frontend/forms.h). The pairs of a band inside a rectangle of
 * positions are a difference of two staircase sums, O(1); a query range x
 * key range of tokens splits into its partial frames (at most two per
 * side, counted frame pair by frame pair) and whole frames, whose frame
 * pairs of one signed distance all count the same. So one range pair
 * costs O(frames it spans) whatever the frame, block and decay — the
 * interval classification cannot settle the band's diagonal edges and
 * would otherwise leave them to pair-by-pair counting (issue 17: 31200
 * tokens, 1560 per frame, over a minute).
 */
#ifndef ATTNC_PASSES_MASK_RADIAL_H
#define ATTNC_PASSES_MASK_RADIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "../frontend/recipe.h"

typedef struct radial_rule {
    bool video;      /* FORM_RADIAL_VIDEO; else FORM_RADIAL (radial_token) */
    int64_t frame;   /* tokens per frame F */
    int64_t block;   /* video: B */
    int64_t decay_k; /* video: decay = decay_k / 2^decay_m */
    int64_t decay_m;
    bool sink;       /* video: the first key frame is kept whole */
    int64_t window;  /* token form: W */
} radial_rule;

/* Whether r's mask is one radial form with constant arguments on a token
 * sequence (no grid); fills *out. False for anything else (a radial form
 * inside && or ||, grids): those count as before. */
bool mask_radial_rule(const recipe *r, radial_rule *out);

/* The band of frame distance d: pairs with |si - sj| <= width are kept;
 * -1: none, >= frame: all (the sink is not included). */
int64_t mask_radial_width(const radial_rule *rr, int64_t d);

/* Kept pairs with q.t in [q0, q1] and k.t in [k0, k1] (inclusive, >= 0;
 * 0 when either range is empty). */
int64_t mask_radial_count(const radial_rule *rr, int64_t q0, int64_t q1, int64_t k0, int64_t k1);

#endif
