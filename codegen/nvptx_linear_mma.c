/* nvptx_linear_mma.c — the tensor-core products of the linear-attention
 * kernel (nvptx_linear.h), all mma.sync m16n8k16 bf16 -> f32:
 *   outputs: o = 2^Γi (φ(q_i) S) + ((φ(Q) φ(K)^T) ⊙ M) V, M[i][j] =
 *            2^(Γi - Γj) for j <= i, else 0 (intra only for causal)
 *   update:  S <- 2^Γlast S + (w ⊙ φ(K))^T V, w_j = 2^(Γlast - Γj)
 * The A operand of K^T comes from K itself through ldmatrix.trans; the decay
 * weights w are applied to the V fragments (shared by every state block). */
#include "nvptx_linear.h"

#include <string.h>

static LLVMValueRef at(lin *L, LLVMValueRef base, int c)
{
    return lin_smem(L, LLVMBuildAdd(L->nv.b, base, nv_i32(&L->nv, c), ""));
}

static LLVMValueRef row_of(lin *L, int half)
{
    LLVMBuilderRef b = L->nv.b;
    return LLVMBuildAdd(b, LLVMBuildMul(b, L->warp, nv_i32(&L->nv, 16), ""),
                        LLVMBuildAdd(b, L->g, nv_i32(&L->nv, 8 * half), ""), "");
}

static LLVMValueRef quad_sum(lin *L, LLVMValueRef v)
{
    v = LLVMBuildFAdd(L->nv.b, v, nv_shfl_xor_f32(&L->nv, v, 1), "");
    return LLVMBuildFAdd(L->nv.b, v, nv_shfl_xor_f32(&L->nv, v, 2), "");
}

static void zero4(lin *L, LLVMValueRef *v, int n)
{
    for (int i = 0; i < n; i++)
        v[i] = nv_f32(&L->nv, 0);
}

/* Causal: the 16 keys of pair np are all later than the warp's rows when
 * np > warp. Opens `if (np <= warp)` (warp-uniform) and returns the block
 * it came from; close_live() joins the n values with phis. */
static LLVMBasicBlockRef open_live(lin *L, int np, LLVMBasicBlockRef *join)
{
    nv_ctx *nv = &L->nv;
    LLVMBasicBlockRef from = LLVMGetInsertBlock(nv->b);
    LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(nv->c, L->fn, "blk.live");
    *join = LLVMAppendBasicBlockInContext(nv->c, L->fn, "blk.join");
    LLVMBuildCondBr(nv->b, LLVMBuildICmp(nv->b, LLVMIntULE, nv_i32(nv, np), L->warp, ""), yes, *join);
    LLVMPositionBuilderAtEnd(nv->b, yes);
    return from;
}

static void close_live(lin *L, LLVMBasicBlockRef from, LLVMBasicBlockRef join, LLVMValueRef *before,
                       LLVMValueRef *after, int n)
{
    nv_ctx *nv = &L->nv;
    LLVMBasicBlockRef live_end = LLVMGetInsertBlock(nv->b);
    LLVMBuildBr(nv->b, join);
    LLVMPositionBuilderAtEnd(nv->b, join);
    for (int i = 0; i < n; i++) {
        LLVMValueRef ph = LLVMBuildPhi(nv->b, nv->f32, "");
        LLVMValueRef vals[2] = {before[i], after[i]};
        LLVMBasicBlockRef bbs[2] = {from, live_end};
        LLVMAddIncoming(ph, vals, bbs, 2);
        after[i] = ph;
    }
}

/* A = φ(Q) φ(K)^T for the warp's 16 rows and the C keys of the block (key
 * pairs wholly after the warp's rows stay zero: the mask would zero them). */
static void intra_scores(lin *L, LLVMValueRef qf[LIN_MAXK][4], LLVMValueRef A[LIN_MAXNB][4])
{
    const lin_plan *p = L->p;
    zero4(L, &A[0][0], 4 * LIN_MAXNB);
    LLVMValueRef base = LLVMBuildAdd(L->nv.b, L->stage_off, LLVMBuildAdd(L->nv.b, L->lane_b, nv_i32(&L->nv, L->off_k), ""), "");
    for (int np = 0; np < p->C / 16; np++) {
        LLVMValueRef before[8], *acc = &A[2 * np][0];
        LLVMBasicBlockRef join;
        memcpy(before, acc, sizeof before);
        LLVMBasicBlockRef from = open_live(L, np, &join);
        for (int ks = 0; ks < p->D / 16; ks++) {
            LLVMValueRef r[4];
            nv_ldmatrix_x4(&L->nv, at(L, base, np * 16 * L->pitch_qk + ks * 32), false, r);
            LLVMValueRef b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
            nv_mma_16816(&L->nv, DT_BF16, qf[ks], b0, A[2 * np], A[2 * np]);
            nv_mma_16816(&L->nv, DT_BF16, qf[ks], b1, A[2 * np + 1], A[2 * np + 1]);
        }
        close_live(L, from, join, before, acc, 8);
    }
}

/* Score element e of key block nb (keys c0 + nb*8 + {0,1}, c0 = 2 t4) of
 * rows ri: masked (key after the row) and decayed by 2^(Γi - Γj). */
static LLVMValueRef mask_elem(lin *L, LLVMValueRef v, int nb, int e, LLVMValueRef ri[2], LLVMValueRef c0,
                              LLVMValueRef gam_i[2], bool decayed)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    int h = e >> 1;
    LLVMValueRef jj = LLVMBuildAdd(b, c0, nv_i32(nv, nb * 8 + (e & 1)), "");
    LLVMValueRef keep = LLVMBuildICmp(b, LLVMIntSLE, jj, ri[h], "");
    if (decayed) {
        LLVMValueRef x;
        if (L->p->decay == DECAY_PER_HEAD)
            x = LLVMBuildFMul(b, LLVMBuildSIToFP(b, LLVMBuildSub(b, ri[h], jj, ""), nv->f32, ""), L->log2_lambda, "");
        else
            x = LLVMBuildFSub(b, gam_i[h], lin_gamma(L, jj), "");
        v = LLVMBuildFMul(b, v, nv_ex2(nv, x), "");
    }
    return LLVMBuildSelect(b, keep, v, nv_f32(nv, 0), "");
}

/* Causal mask and in-block decay on the score fragment; row sums into den. */
static void intra_mask(lin *L, LLVMValueRef A[LIN_MAXNB][4], LLVMValueRef gam_i[2], bool decayed,
                       LLVMValueRef den[2])
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef ri[2] = {row_of(L, 0), row_of(L, 1)};
    LLVMValueRef sum[2] = {nv_f32(nv, 0), nv_f32(nv, 0)};
    LLVMValueRef c0 = LLVMBuildShl(b, L->t4, nv_i32(nv, 1), "");
    for (int nb = 0; nb < L->p->C / 8; nb++)
        for (int e = 0; e < 4; e++) {
            A[nb][e] = mask_elem(L, A[nb][e], nb, e, ri, c0, gam_i, decayed);
            sum[e >> 1] = LLVMBuildFAdd(b, sum[e >> 1], A[nb][e], "");
        }
    if (den)
        for (int h = 0; h < 2; h++)
            den[h] = LLVMBuildFAdd(b, den[h], quad_sum(L, sum[h]), "");
}

/* o += P V with P the masked scores (bf16) and V the block's slice. */
static void intra_pv(lin *L, LLVMValueRef A[LIN_MAXNB][4], LLVMValueRef o[LIN_MAXO][4])
{
    nv_ctx *nv = &L->nv;
    LLVMValueRef base = LLVMBuildAdd(nv->b, L->stage_off, LLVMBuildAdd(nv->b, L->lane_v, nv_i32(nv, L->off_v), ""), "");
    base = lin_wcol(L, base);
    for (int kk = 0; kk < L->p->C / 16; kk++) {
        LLVMValueRef before[4 * LIN_MAXO];
        LLVMBasicBlockRef join;
        memcpy(before, &o[0][0], sizeof before);
        LLVMBasicBlockRef from = open_live(L, kk, &join); /* P is zero past the rows */
        LLVMValueRef a[4] = {
            nv_pack2(nv, DT_BF16, A[2 * kk][0], A[2 * kk][1]),
            nv_pack2(nv, DT_BF16, A[2 * kk][2], A[2 * kk][3]),
            nv_pack2(nv, DT_BF16, A[2 * kk + 1][0], A[2 * kk + 1][1]),
            nv_pack2(nv, DT_BF16, A[2 * kk + 1][2], A[2 * kk + 1][3]),
        };
        for (int sb = 0; sb < L->p->nob / 2; sb++) {
            LLVMValueRef r[4];
            nv_ldmatrix_x4(nv, at(L, base, kk * 16 * L->pitch_v + sb * 32), true, r);
            LLVMValueRef b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
            nv_mma_16816(nv, DT_BF16, a, b0, o[2 * sb], o[2 * sb]);
            nv_mma_16816(nv, DT_BF16, a, b1, o[2 * sb + 1], o[2 * sb + 1]);
        }
        close_live(L, from, join, before, &o[0][0], 4 * L->p->nob);
    }
}

/* The wide path's intra part, 16 keys at a time: scores of the warp's 16
 * rows x 16 keys, mask and decay, then at once o += P V over the warp's
 * columns, so 8 score registers are live instead of C / 2 (no row sums:
 * the wide path does not normalise). */
static void intra_fused(lin *L, LLVMValueRef qf[LIN_MAXK][4], LLVMValueRef gam_i[2], bool decayed,
                        LLVMValueRef o[LIN_MAXO][4])
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    const lin_plan *p = L->p;
    LLVMValueRef ri[2] = {row_of(L, 0), row_of(L, 1)};
    LLVMValueRef c0 = LLVMBuildShl(b, L->t4, nv_i32(nv, 1), "");
    LLVMValueRef kbase = LLVMBuildAdd(b, L->stage_off, LLVMBuildAdd(b, L->lane_b, nv_i32(nv, L->off_k), ""), "");
    LLVMValueRef vbase = LLVMBuildAdd(b, L->stage_off, LLVMBuildAdd(b, L->lane_v, nv_i32(nv, L->off_v), ""), "");
    vbase = lin_wcol(L, vbase);
    for (int np = 0; np < p->C / 16; np++) {
        LLVMValueRef before[4 * LIN_MAXO];
        LLVMBasicBlockRef join;
        memcpy(before, &o[0][0], sizeof before);
        LLVMBasicBlockRef from = open_live(L, np, &join);
        LLVMValueRef A[LIN_MAXNB][4];
        zero4(L, &A[2 * np][0], 8);
        for (int ks = 0; ks < p->D / 16; ks++) {
            LLVMValueRef r[4];
            nv_ldmatrix_x4(nv, at(L, kbase, np * 16 * L->pitch_qk + ks * 32), false, r);
            LLVMValueRef b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
            nv_mma_16816(nv, DT_BF16, qf[ks], b0, A[2 * np], A[2 * np]);
            nv_mma_16816(nv, DT_BF16, qf[ks], b1, A[2 * np + 1], A[2 * np + 1]);
        }
        for (int nb = 2 * np; nb < 2 * np + 2; nb++)
            for (int e = 0; e < 4; e++)
                A[nb][e] = mask_elem(L, A[nb][e], nb, e, ri, c0, gam_i, decayed);
        LLVMValueRef a[4] = {
            nv_pack2(nv, DT_BF16, A[2 * np][0], A[2 * np][1]),
            nv_pack2(nv, DT_BF16, A[2 * np][2], A[2 * np][3]),
            nv_pack2(nv, DT_BF16, A[2 * np + 1][0], A[2 * np + 1][1]),
            nv_pack2(nv, DT_BF16, A[2 * np + 1][2], A[2 * np + 1][3]),
        };
        for (int sb = 0; sb < p->nob / 2; sb++) {
            LLVMValueRef r[4];
            nv_ldmatrix_x4(nv, at(L, vbase, np * 16 * L->pitch_v + sb * 32), true, r);
            LLVMValueRef b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
            nv_mma_16816(nv, DT_BF16, a, b0, o[2 * sb], o[2 * sb]);
            nv_mma_16816(nv, DT_BF16, a, b1, o[2 * sb + 1], o[2 * sb + 1]);
        }
        close_live(L, from, join, before, &o[0][0], 4 * p->nob);
    }
}

void lin_outputs(lin *L, bool intra, bool decayed)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    const lin_plan *p = L->p;
    LLVMValueRef qf[LIN_MAXK][4], o[LIN_MAXO][4];
    LLVMValueRef qbase = LLVMBuildAdd(b, LLVMBuildAdd(b, L->stage_off, nv_i32(nv, L->off_q), ""),
                                      LLVMBuildAdd(b, LLVMBuildMul(b, L->warp, nv_i32(nv, 16 * L->pitch_qk), ""),
                                                   L->lane_a, ""), "");
    for (int ks = 0; ks < p->D / 16; ks++)
        nv_ldmatrix_x4(nv, at(L, qbase, ks * 32), false, qf[ks]);
    /* Inter: φ(Q) S from the bf16 mirror of the state. */
    zero4(L, &o[0][0], 4 * LIN_MAXO);
    LLVMValueRef sbase = lin_wcol(L, LLVMBuildAdd(b, L->lane_s, nv_i32(nv, L->off_s), ""));
    for (int ks = 0; ks < p->D / 16; ks++)
        for (int sb = 0; sb < p->nob / 2; sb++) {
            LLVMValueRef r[4];
            nv_ldmatrix_x4(nv, at(L, sbase, ks * 16 * L->pitch_s + sb * 32), true, r);
            LLVMValueRef b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
            nv_mma_16816(nv, DT_BF16, qf[ks], b0, o[2 * sb], o[2 * sb]);
            nv_mma_16816(nv, DT_BF16, qf[ks], b1, o[2 * sb + 1], o[2 * sb + 1]);
        }
    LLVMValueRef gam_i[2] = {NULL, NULL}, den[2] = {NULL, NULL};
    for (int h = 0; h < 2; h++) {
        LLVMValueRef scale = NULL;
        if (decayed) {
            gam_i[h] = lin_gamma(L, row_of(L, h));
            scale = nv_ex2(nv, gam_i[h]);
            for (int nb = 0; nb < p->nob; nb++)
                for (int e = 0; e < 2; e++)
                    o[nb][2 * h + e] = LLVMBuildFMul(b, o[nb][2 * h + e], scale, "");
        }
        if (p->normalize) {
            den[h] = lin_q_dot_z(L, h);
            if (scale)
                den[h] = LLVMBuildFMul(b, den[h], scale, "");
        }
    }
    if (intra && p->wide) {
        intra_fused(L, qf, gam_i, decayed, o);
    } else if (intra) {
        LLVMValueRef A[LIN_MAXNB][4];
        intra_scores(L, qf, A);
        intra_mask(L, A, gam_i, decayed, p->normalize ? den : NULL);
        intra_pv(L, A, o);
    }
    lin_store_o(L, o, p->normalize ? den : NULL);
}

static LLVMValueRef scale_pair(lin *L, LLVMValueRef pair, LLVMValueRef wlo, LLVMValueRef whi)
{
    LLVMBuilderRef b = L->nv.b;
    LLVMValueRef lo = LLVMBuildFMul(b, lin_bf16_lo(L, pair), wlo, "");
    LLVMValueRef hi = LLVMBuildFMul(b, lin_bf16_hi(L, pair), whi, "");
    return nv_pack2(&L->nv, DT_BF16, lo, hi);
}

/* Decay weights 2^(Γlast - Γj) of tokens kk*16 + 2 t4 + {0, 1, 8, 9}. */
static void token_weights(lin *L, int kk, LLVMValueRef w[4])
{
    nv_ctx *nv = &L->nv;
    static const int add[4] = {0, 1, 8, 9};
    LLVMValueRef j0 = LLVMBuildAdd(nv->b, LLVMBuildShl(nv->b, L->t4, nv_i32(nv, 1), ""), nv_i32(nv, kk * 16), "");
    for (int i = 0; i < 4; i++) {
        LLVMValueRef j = LLVMBuildAdd(nv->b, j0, nv_i32(nv, add[i]), "");
        w[i] = nv_ex2(nv, LLVMBuildFSub(nv->b, L->gam_last, lin_gamma(L, j), ""));
    }
}

void lin_state_update(lin *L, LLVMValueRef S[LIN_MAXMB][LIN_MAXO][4], bool decayed)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    const lin_plan *p = L->p;
    int DR = p->D / p->rgs, mbs = DR / 16;
    if (decayed) {
        LLVMValueRef a = nv_ex2(nv, L->gam_last);
        for (int mb = 0; mb < mbs; mb++)
            for (int nb = 0; nb < p->nob; nb++)
                for (int e = 0; e < 4; e++)
                    S[mb][nb][e] = LLVMBuildFMul(b, S[mb][nb][e], a, "");
    }
    LLVMValueRef vbase = LLVMBuildAdd(b, L->stage_off, LLVMBuildAdd(b, L->lane_v, nv_i32(nv, L->off_v), ""), "");
    vbase = lin_wcol(L, vbase);
    LLVMValueRef kbase = LLVMBuildAdd(b, L->stage_off, LLVMBuildAdd(b, L->lane_b, nv_i32(nv, L->off_k), ""), "");
    kbase = LLVMBuildAdd(b, kbase, LLVMBuildMul(b, L->warp, nv_i32(nv, DR * 2), ""), "");
    for (int kk = 0; kk < p->C / 16; kk++) {
        LLVMValueRef w[4], r[LIN_MAXO / 2][4];
        if (decayed)
            token_weights(L, kk, w);
        for (int sb = 0; sb < p->nob / 2; sb++) {
            nv_ldmatrix_x4(nv, at(L, vbase, kk * 16 * L->pitch_v + sb * 32), true, r[sb]);
            if (decayed) { /* r[0], r[2]: tokens 2t4, 2t4+1; r[1], r[3]: +8 */
                r[sb][0] = scale_pair(L, r[sb][0], w[0], w[1]);
                r[sb][1] = scale_pair(L, r[sb][1], w[2], w[3]);
                r[sb][2] = scale_pair(L, r[sb][2], w[0], w[1]);
                r[sb][3] = scale_pair(L, r[sb][3], w[2], w[3]);
            }
        }
        for (int mb = 0; mb < mbs; mb++) {
            LLVMValueRef a[4];
            nv_ldmatrix_x4(nv, at(L, kbase, kk * 16 * L->pitch_qk + mb * 32), true, a);
            for (int sb = 0; sb < p->nob / 2; sb++) {
                LLVMValueRef b0[2] = {r[sb][0], r[sb][1]}, b1[2] = {r[sb][2], r[sb][3]};
                nv_mma_16816(nv, DT_BF16, a, b0, S[mb][2 * sb], S[mb][2 * sb]);
                nv_mma_16816(nv, DT_BF16, a, b1, S[mb][2 * sb + 1], S[mb][2 * sb + 1]);
            }
        }
    }
}

/* The bf16 mirror of the warp's state rows, read by every warp's inter product. */
void lin_state_publish(lin *L, LLVMValueRef S[LIN_MAXMB][LIN_MAXO][4])
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    const lin_plan *p = L->p;
    int DR = p->D / p->rgs;
    LLVMValueRef row0 = LLVMBuildAdd(b, LLVMBuildMul(b, L->warp, nv_i32(nv, DR), ""), L->g, "");
    LLVMValueRef base = LLVMBuildAdd(b, LLVMBuildMul(b, row0, nv_i32(nv, L->pitch_s), ""),
                                     LLVMBuildShl(b, L->t4, nv_i32(nv, 2), ""), "");
    base = lin_wcol(L, LLVMBuildAdd(b, base, nv_i32(nv, L->off_s), ""));
    for (int mb = 0; mb < DR / 16; mb++)
        for (int nb = 0; nb < p->nob; nb++)
            for (int h = 0; h < 2; h++) {
                int c = (mb * 16 + 8 * h) * L->pitch_s + nb * 16;
                LLVMValueRef v = nv_pack2(nv, DT_BF16, S[mb][nb][2 * h], S[mb][nb][2 * h + 1]);
                LLVMBuildStore(b, v, at(L, base, c));
            }
}
