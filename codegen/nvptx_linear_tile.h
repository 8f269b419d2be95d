/*
 * nvptx_linear_tile.h — the linear-attention kernel (nvptx_linear.h says
 * what it computes) written on the tile builder (nvptx/tile.h):
 *   nvptx_linear_kernel.c   shared-memory plan, program ids, the block
 *                           loop and the schedules' passes over it
 *   nvptx_linear_block.c    one block: cp.async loads, feature map, gates,
 *                           outputs (inter + intra), state update, z
 *   nvptx_linear_handoff.c  inter=chain: tickets, state slots, look-back
 * The state S is a C fragment per warp (D / rgs rows x dvs columns) held
 * in a fragment variable; every loop is nt_for over allocas.
 */
#ifndef ATTNC_CODEGEN_NVPTX_LINEAR_TILE_H
#define ATTNC_CODEGEN_NVPTX_LINEAR_TILE_H

#include "nvptx/tile.h"
#include "nvptx_linear.h"

typedef struct lk {
    nt t;
    const lin_plan *p;
    LLVMValueRef tens[6], stride[6][4], size[SZ_MAX], param[NVPTX_MAX_PARAMS];
    int pitch_qk, pitch_v, pitch_s; /* bytes per shared row */
    int stage_bytes, off_q, off_k, off_v, off_x, off_s, off_graw, off_gam, off_z, off_tk, total;

    /* rg: the warp's row group (query rows 16 rg.., state rows D / rgs x
     * rg..); col0: its first output column; wcol: its first column in the
     * V tile and the S mirror (0 on the sliced path, whose V tile holds
     * only the CTA's slice). */
    LLVMValueRef rg, col0, wcol, slice, seg, head, kv_head, batch, ntok, nblocks;
    LLVMValueRef bh, ws, gws, sync, ev; /* chain: (batch, head), state slots, decays, ticket + epoch + flags */
    LLVMValueRef wsi;                   /* chain, inclusive look-back: the inclusive states (nvptx_linear_handoff.c) */
    LLVMValueRef log2_lambda;           /* per-head decay, clamped */
    nt_fvar S;                          /* the warp's state */

    /* Per block. */
    LLVMValueRef t0, stage_off, t_limit, gam_last;

    /* Backward passes (nvptx_linear_bwd.c): reverse runs the sequence
     * backwards (token t' is token ntok - 1 - t', the gate of t' is
     * that of token ntok - t', 0 for t' = 0); dot_ptr non-NULL: before the
     * store, each output row's dot product with the same row (real token)
     * of that tensor (dims of o) goes to dot_ws[(bh ntok + token) 4 +
     * dot_slot + column group], bh = batch heads + head. */
    bool reverse;
    LLVMValueRef dot_ptr, dot_stride[4], dot_ws;
    int dot_slot;
    /* ntok is the scan's length: the tokens (nreal), or under `aligned`
     * (reverse, the dk scan with a decay gradient) the tokens rounded up
     * to whole blocks (nblocks C), so that reversed blocks cover the
     * forward blocks' tokens: token = ntok - 1 - t', rows with token >=
     * nreal (the first ones) do not exist (rows_of's row_at). */
    bool aligned;
    LLVMValueRef nreal;
    struct lk_rev_rows {
        struct lk *L;
        LLVMValueRef e, rs, tok0, limit;
    } rev_rows[6]; /* rows_of's row_at data per tensor (reverse) */
    /* Block boundaries for the decay's gradient (nvptx_linear_bwd.c),
     * bstate: per (batch, head) nblocks - 1 slots of D x Dv bf16.
     * BSTATE_STORE (the forward-time dq scan): the state at the start of
     * block j >= 1 (= S_{jC-1}, stored after block j - 1's update) into
     * slot j - 1, fragment order;
     * BSTATE_DOT (the reversed dk scan, whose state R at the start of
     * reversed block j' covers tokens >= b = ntok - j' C): for j' >= 1,
     * <slot b/C - 1, R> (f32, summed in a fixed order) into dot_ws at token
     * b, float 4. */
    enum { BSTATE_NONE, BSTATE_STORE, BSTATE_DOT } bstate_mode;
    LLVMValueRef bstate;
    /* fused (the dV scan, D = Dv): each block also stages X (tensor LT_X,
     * Dv wide: V) and writes DX (LT_DX: dK) = 2^Γi (x_i S^T) + Σ_j
     * M (x_i·v_j) k_j, and, with dots, its rows' dot products with the
     * staged Q (k) into dot_ws at dot_slot (the state S = Σ K^T V serves
     * both). */
    bool fused;
    /* The decay gradient's row dot products (q·dq, k·dk) are wanted: only
     * its gate kernel reads them, so without a decay gradient (the decay
     * held constant, or none) no scan computes or stores them (dot_ptr
     * NULL; the fused dK skips its dot). */
    bool dots;
} lk;

/* nvptx_linear.c: the plan of kernel k (its schedule), or a refusal. */
nvptx_status lk_make_plan(const tir_kernel *k, lin_plan *p, strbuf *err);

/* nvptx_linear_kernel.c: emits the kernel into fn (plan p, smem laid out). */
void lk_plan_smem(lk *L);
void lk_emit_kernel(lk *L);

/* nvptx_linear_block.c */
void lk_issue_block(lk *L, LLVMValueRef j, LLVMValueRef stage_off, bool load_q);
void lk_transform(lk *L, bool with_q);
void lk_gates(lk *L);
LLVMValueRef lk_gamma(lk *L, LLVMValueRef row);
void lk_outputs(lk *L, bool intra, bool decayed);
void lk_state_update(lk *L, nt_frag *S, bool decayed);
void lk_state_publish(lk *L, const nt_frag *S);
void lk_update_z(lk *L);
/* nvptx_linear_bound.c: BSTATE_DOT's partial dots at the start of block j
 * (the state not yet updated), their CTA sum after a barrier; called
 * with j + 1 after block j's state update, BSTATE_STORE's store of the
 * state at the start of block j + 1. */
void lk_boundary(lk *L, LLVMValueRef j);
void lk_boundary_sum(lk *L, LLVMValueRef j);

/* nvptx_linear_handoff.c */
void lk_chain_globals(lk *L);
void lk_chain_ids(lk *L);
void lk_chain_publish(lk *L, LLVMValueRef cond, LLVMValueRef slot, LLVMValueRef G);
void lk_chain_lookback(lk *L, LLVMValueRef base, bool decayed);
void lk_chain_lookback_inclusive(lk *L, LLVMValueRef base, LLVMValueRef has_next, LLVMValueRef G);

#endif
