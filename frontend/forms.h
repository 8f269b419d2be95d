/*
 * forms.h — the named mask forms, their arguments and exact semantics.
 *
 * The front end keeps two views of a mask:
 *   recipe.mask_surface: the mask as written, with each named form as one
 *     EX_FORM node whose args are normalised to the fixed layout below
 *     (keyword or positional, defaults filled in, all constants except the
 *     runtime-tensor forms);
 *   recipe.mask: the same mask with every form expanded into plain scalar
 *     expressions (what passes and code generators consume).
 * The fp64 reference interprets mask_surface with its own implementation of
 * these definitions, so a wrong expansion cannot hide behind a shared one.
 *
 * Notation: for grid dim d (or the token sequence when the recipe has no
 * grid), i = the query's coordinate, j = the key's, L = the extent.
 * `div`/`mod` are floor division/modulo. A pair is kept iff the form holds.
 *
 * FORM_CAUSAL            (): j_t <= i_t (flat token indices).
 * FORM_SLIDING_WINDOW    (left, right): i_t - left <= j_t <= i_t + right.
 * FORM_NEIGHBORHOOD      per dim d of nd (nd = grid dims, or 1 for a sequence):
 *     args[0*nd + d] window w >= 1, args[1*nd + d] dilation δ >= 1 (default 1),
 *     args[2*nd + d] stride σ >= 1 (default 1), args[3*nd + d] causal 0/1 (default 0).
 *   Kept iff kept in every dim. In one dim, with g = i mod δ, Lg = (L - g + δ - 1) div δ
 *   (the length of i's dilation group), i' = i div δ, j' = j div δ:
 *     require j mod δ == g;
 *     non-causal: c = min((i' div σ) * σ + σ div 2, Lg - 1)      (stride group leader)
 *                 start = clamp(c - w div 2, 0, Lg - w)  ; keep iff start <= j' < start + w
 *                 (σ = 1 is NATTEN's neighborhood, σ = w blocked attention, between: GNA)
 *     causal:     keep iff max(i' - w + 1, 0) <= j' <= i'    (σ must be 1)
 *   When Lg < w the window is the whole group (start = 0): the front end
 *   rejects w * δ > L when L is a constant; at launch the runtime rejects it.
 * FORM_RADIAL            (frame F, window W), spelled radial_token (or radial
 *   with a window): a simplified token-level radial mask for
 *   video with F tokens per frame: frames fi = i_t div F, fj = j_t div F,
 *   spatial si = i_t mod F, sj = j_t mod F, d = |fi - fj|;
 *   keep iff |si - sj| * 2^ilog2(max(d, 1)) < W   (the band halves as the
 *   frame distance doubles; the same spatial token is always kept).
 * FORM_RADIAL_VIDEO      (frame F, block B, decay numerator k, decay shift m,
 *   sink 0/1), spelled radial: Radial Attention's mask as its official
 *   implementation builds it per frame pair (decay = k / 2^m). With fi, fj,
 *   si, sj, d as above, bl(x) the bit length (bl(0) = 0), P = 2^bl(F),
 *   G = 2^bl(d):
 *     sink && fj == 0                                  keep (first frame);
 *     otherwise keep iff split && band, where
 *     split: P >= B * G (the undecayed width P / G is at least a block), or
 *            d mod floor(B * G / P) == 0   (else only every so many frames);
 *     band:  d <= 1, or |si - sj| <= max(floor(P * decay / G), B).
 * FORM_STRIDED_HEADS     (stride S, local Lw): S2-Attention's per-head sharding,
 *   causal: keep iff j_t <= i_t && (i_t - j_t < Lw || j_t mod S == head mod S).
 * FORM_SINKS             (n): j_t < n.
 * FORM_DOCUMENT          (param ids): ids[.., i_t] == ids[.., j_t]; ids is
 *   i32 [tokens] or [batch, tokens]. args[0] = EX_CONST_INT param index.
 * FORM_BLOCKS            (param table, bq, bk): a run-time block-sparse table:
 *   table[.., i_t div bq, j_t div bk] != 0; table is u8/i32 with shape
 *   [nqb, nkb], [heads, nqb, nkb] or [batch, heads, nqb, nkb].
 *   args[0] = param index, args[1] = bq, args[2] = bk.
 * FORM_FULL              (): every pair.
 */
#ifndef ATTNC_FRONTEND_FORMS_H
#define ATTNC_FRONTEND_FORMS_H

typedef enum {
    FORM_CAUSAL,
    FORM_SLIDING_WINDOW,
    FORM_NEIGHBORHOOD,
    FORM_RADIAL,
    FORM_STRIDED_HEADS,
    FORM_SINKS,
    FORM_DOCUMENT,
    FORM_BLOCKS,
    FORM_FULL,
    FORM_RADIAL_VIDEO,
    FORM_COUNT
} mask_form;

#endif
