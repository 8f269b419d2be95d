/*
 * nvptx_linear.h — the GPU kernel of the linear-attention family
 * (FAMILY_LINEAR), Lightning Attention-2 style, beside the FA2 strategy:
 *   nvptx_linear.c       entry: plan, refusals, module
 *   nvptx_linear_tile.h  the kernel on the tile builder (nvptx/tile.h):
 *                        nvptx_linear_kernel.c (skeleton, block loop),
 *                        nvptx_linear_block.c (one block's loads, products,
 *                        state update), nvptx_linear_handoff.c (inter=chain)
 *
 * One CTA per (Dv slice of 16 columns (32 under INTER_CHUNKED), head, batch) walks the blocks of C
 * tokens in order (the INTER_STATE schedule split over Dv columns, so B x H
 * x Dv/16 CTAs fill the GPU). INTER_CHUNKED (causal) also cuts the sequence
 * into `segments` parts, one CTA each: a CTA first rebuilds the state at the
 * start of its segment with state-only block updates (K and V only, a sixth
 * of a full block's tensor work), then produces its segment's outputs; no
 * workspace and one launch, at the price of re-reading earlier K/V (L2). Warp w owns query rows 16w..16w+15 of a block
 * (C = 16 x warps) and rows D/warps x w.. of the state S (f32 registers,
 * mirrored as bf16 in shared memory for the inter product).
 *
 * INTER_CHAIN (`wide`, causal, C = 64) removes the Dv slicing, whose cost at
 * B=1 H=16 is 8x the score work and 8x the Q/K reads: one CTA of 8 warps
 * covers all of Dv for one of up to 16 segments (about 128 CTAs); warp = (row group w & 3, column
 * group w >> 2), so the sliced code runs unchanged per column group with
 * `warp` the row group and `wcol` the group's byte offset in the V tile and
 * the S mirror (scores are computed once per column group: 2x, not 8x).
 * Segments do not rebuild their start state from the sequence start (that
 * is quadratic in the segment count); a local pass over the segment gives
 * its contribution L_s and log2 decay G_s, published at once to
 * module-global slots; segment s sums P_s = Σ_{r<s} 2^(G_{r+1}+..+G_{s-1})
 * L_r from them (decoupled look-back in ticket order: nvptx_linear_handoff.c
 * says why that cannot deadlock), then the segment's outputs run from P_s.
 * Per token that is ~126 kFLOP (of ~84 minimum) with
 * 8 warps per SM, against ~155 kFLOP with 4 warps for inter=state.
 *
 * Decay is handled in log2 space: with Γ_i the inclusive in-block sum of the
 * log2 gates (per head: Γ_i = (i+1) log2 λ), every factor is 2^(x) with
 * x <= 0 (Γ_i - Γ_j for j <= i, Γ_i, Γ_last - Γ_j), so nothing overflows
 * and long sequences underflow to exact zeros, never to 0 * inf.
 * Internally tiles are bf16 (f16 inputs are converted when the feature map
 * is applied), accumulation is f32.
 */
#ifndef ATTNC_CODEGEN_NVPTX_LINEAR_H
#define ATTNC_CODEGEN_NVPTX_LINEAR_H

#include "nvptx_kernel.h"

enum { LIN_MAXMB = 8 }; /* state row blocks per warp: D / rgs / 16 */
enum { LT_Q, LT_K, LT_V, LT_O, LT_X, LT_DX }; /* X, DX: the fused backward's (nvptx_linear_bwd.c) */
/* inter=chain: at most `segments` per (batch, head) (16; $ATTNC_LIN_SEGMENTS
 * up to 64) and at most chain_slots = 128 busy CTAs (and state slots) per
 * launch: segs = clamp(128 / (B H), 1, segments). */
enum { LIN_CHAIN_SEGS = 16, LIN_CHAIN_CTAS = 128, LIN_CHAIN_SEGS_MAX = 64 };

typedef struct lin_plan {
    const tir_kernel *k; /* the kernel read: params, linear attributes */
    dtype dt;     /* of q, k, v, o */
    int D, Dv, C; /* head dims, block tokens */
    int warps;    /* per CTA */
    int rgs;      /* row groups: warps sharing one Dv slice (C / 16); warps = rgs x column groups */
    bool wide;    /* INTER_CHAIN: one CTA covers all of Dv, segments chained (nvptx_linear_handoff.c) */
    bool causal, normalize;
    feature_map feature;
    decay_kind decay;
    int decay_param;
    bool transform; /* a pass over the staged tiles: feature map or f16 -> bf16 */
    int segments;   /* causal: sequence segments per (slice, head, batch) CTA set */
    int chain_slots; /* wide: state slots of the module (the busy CTA budget) */
    bool chain_inclusive; /* wide, $ATTNC_LIN_INCLUSIVE=1 with more than 16 segments: bounded look-back */
    int dvs;        /* Dv columns per warp (16 or 32; wide: Dv / 2) */
    int vt;         /* Dv columns held in the V tile and the S mirror (dvs; wide: Dv) */
} lin_plan;

/* Whether inter=chain takes kernel (header) k with linear blocks of `block` tokens
 * (the rule its refusal uses, nvptx_linear.c chain_misfit). */
bool nvptx_linear_chain_fits(const tir_kernel *k, int block);

/* Emits kernel k (under its schedule) into a fresh module. */
nvptx_status nvptx_linear_emit(const tir_kernel *k, target_arch arch, nvptx_kernel_info *info,
                               strbuf *ptx, strbuf *err);

#endif
