/*
 * nvptx_linear.h — the GPU kernel of the linear-attention family
 * (FAMILY_LINEAR), Lightning Attention-2 style, beside the FA2 strategy:
 *   nvptx_linear.c      entry, shared-memory plan, kernel skeleton, block loop
 *   nvptx_linear_io.c   cp.async tile loads, feature map / dtype pass, gates,
 *                       output stores, the normaliser z
 *   nvptx_linear_mma.c  tensor-core products: intra (Q K^T ⊙ M) V, inter
 *                       Q S, state update S <- a S + (w ⊙ K)^T V
 *   nvptx_linear_chain.c inter=chain: tickets, state slots, the hand-off
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
 * L_r from them (decoupled look-back in ticket order: nvptx_linear_chain.c
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

#include "nvptx_intrin.h"
#include "nvptx_kernel.h"

enum { LIN_MAXO = 8, LIN_MAXNB = 16, LIN_MAXK = 16, LIN_MAXMB = 8 };
enum { LT_Q, LT_K, LT_V, LT_O };
/* inter=chain: at most 16 segments per (batch, head), about 128 CTAs (and
 * state slots) per launch: segments = clamp(128 / (B H), 1, 16). */
enum { LIN_CHAIN_SEGS = 16, LIN_CHAIN_CTAS = 128 };

typedef struct lin_plan {
    const tir_kernel *k; /* the kernel read: params, linear attributes */
    dtype dt;     /* of q, k, v, o */
    int D, Dv, C; /* head dims, block tokens */
    int warps;    /* per CTA */
    int rgs;      /* row groups: warps sharing one Dv slice (C / 16); warps = rgs x column groups */
    bool wide;    /* INTER_CHAIN: one CTA covers all of Dv, segments chained (nvptx_linear_chain.c) */
    bool causal, normalize;
    feature_map feature;
    decay_kind decay;
    int decay_param;
    bool transform; /* a pass over the staged tiles: feature map or f16 -> bf16 */
    int segments;   /* causal: sequence segments per (slice, head, batch) CTA set */
    int dvs, nob;   /* Dv columns per warp (16 or 32; wide: Dv / 2); 8-column MMA blocks (dvs / 8) */
    int vt;         /* Dv columns held in the V tile and the S mirror (dvs; wide: Dv) */
} lin_plan;

typedef struct lin {
    nv_ctx nv;
    const lin_plan *p;
    LLVMValueRef fn, smem;
    LLVMValueRef tens[4], stride[4][4], size[SZ_MAX], param[NVPTX_MAX_PARAMS];
    int threads;
    int pitch_qk, pitch_v, pitch_s; /* bytes per shared row */
    int stage_bytes, off_q, off_k, off_v, off_s, off_graw, off_gam, off_z, off_tk, total;

    /* warp: the row group (query rows 16 warp.., state rows D / rgs x warp..);
     * wide only (NULL on the sliced path, whose CTA slice gives the columns):
     * col0, the first output column of the warp; wcol, the byte offset of
     * its columns in the V tile and the S mirror. */
    LLVMValueRef tid, lane, warp, g, t4, slice, seg, head, kv_head, batch, ntok, nblocks;
    LLVMValueRef col0, wcol;
    LLVMValueRef bh;            /* chain: batch x heads + head */
    LLVMValueRef ws, gws, sync; /* chain: state slots, their log2 decays, ticket + epoch + flags (module globals) */
    LLVMValueRef ev;            /* chain: this launch's flag value (epoch + 1) */
    LLVMValueRef lane_a, lane_b, lane_v, lane_s; /* ldmatrix per-lane byte offsets */
    LLVMValueRef log2_lambda;                     /* per-head decay, clamped */

    /* Per block. */
    LLVMValueRef t0, stage_off; /* first token, byte offset of the stage */
    LLVMValueRef t_limit;       /* tokens at or past it are not loaded (zero fill) */
    LLVMValueRef gam_last;      /* Γ of the last row of the block */
} lin;

/* io */
void lin_issue_block(lin *L, LLVMValueRef j, LLVMValueRef stage_off, bool load_q);
void lin_transform(lin *L, bool with_q);
void lin_gates(lin *L);
LLVMValueRef lin_gamma(lin *L, LLVMValueRef row);
void lin_store_o(lin *L, LLVMValueRef o[LIN_MAXO][4], LLVMValueRef den[2]);
LLVMValueRef lin_q_dot_z(lin *L, int half);
void lin_update_z(lin *L);
LLVMValueRef lin_bf16_lo(lin *L, LLVMValueRef pair);
LLVMValueRef lin_bf16_hi(lin *L, LLVMValueRef pair);
LLVMValueRef lin_smem(lin *L, LLVMValueRef byte_off);
LLVMValueRef lin_wcol(lin *L, LLVMValueRef byte_off); /* + wcol */

/* mma */
void lin_outputs(lin *L, bool intra, bool decayed);
void lin_state_update(lin *L, LLVMValueRef S[LIN_MAXMB][LIN_MAXO][4], bool decayed);
void lin_state_publish(lin *L, LLVMValueRef S[LIN_MAXMB][LIN_MAXO][4]);

/* chain (nvptx_linear_chain.c) */
void lin_chain_globals(lin *L);
void lin_chain_ids(lin *L);
void lin_chain_publish(lin *L, LLVMValueRef cond, LLVMValueRef slot, LLVMValueRef S[LIN_MAXMB][LIN_MAXO][4],
                       LLVMValueRef G);
void lin_chain_lookback(lin *L, LLVMValueRef base, bool decayed, LLVMValueRef P[LIN_MAXMB][LIN_MAXO][4]);

/* Whether inter=chain takes kernel (header) k with linear blocks of `block` tokens
 * (the rule its refusal uses, nvptx_linear.c chain_misfit). */
bool nvptx_linear_chain_fits(const tir_kernel *k, int block);

/* Emits kernel k (under its schedule) into a fresh module. */
nvptx_status nvptx_linear_emit(const tir_kernel *k, target_arch arch, nvptx_kernel_info *info,
                               strbuf *ptx, strbuf *err);

#endif
