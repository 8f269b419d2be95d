/* nvptx_bwd_dq.c — attnc_bwd_dq (nvptx_bwd.h), the deterministic builds'
 * dQ: one CTA per query tile, each warp owning 16 of its rows, over the
 * key tiles of the forward's range (tiles proven empty skipped; under
 * ATTNC_BWD_DOC_SPAN=1 cut to the query tile's documents as the forward
 * cuts it, nvptx_bwd_span.c), in a fixed order, so the result does not
 * depend on scheduling:
 *
 *   Q, dO tile, lse, delta -> shared
 *   for each key tile: K, V -> shared; S = Q Kᵀ; score; mask on partial
 *     tiles; P = exp(S - lse); dP = dO Vᵀ; dS = P (dP - delta) f'(s);
 *     dQ += dS K
 *   dQ -> global once
 * Under mma=wgmma the products are nvptx_bwd_wgmma.c's (one warpgroup). */
#include <math.h>

#include "nvptx_bwd_impl.h"

typedef LLVMValueRef frag[FA_MAXN][4];

static LLVMValueRef c32(gbw *g, int v)
{
    return nv_i32(&g->f.nv, v);
}

/* acc[2np..] += A(rows of the warp, from a [row][k] tile) · B([n][k] tile). */
static void product(gbw *g, frag acc, int off_a, int pitch_a, int off_b, int pitch_b, int k, int n)
{
    fa2 *f = &g->f;
    if (g->bp->wg) { /* B is a key tile (n rows) */
        gw_ss(g, acc, off_a, f->p->Tq, off_b, k, n);
        return;
    }
    for (int nb = 0; nb < n / 8; nb++)
        for (int e = 0; e < 4; e++)
            acc[nb][e] = nv_f32(&f->nv, 0);
    LLVMValueRef wrow = LLVMBuildMul(f->nv.b, f->warp, c32(g, 16), "");
    for (int ks = 0; ks < k / 16; ks++) {
        LLVMValueRef a[4];
        gb_ldsm_a(g, off_a, pitch_a, wrow, 0, ks * 16, a);
        for (int np = 0; np < n / 16; np++) {
            LLVMValueRef b0[2], b1[2];
            gb_ldsm_b(g, off_b, pitch_b, np * 16, ks * 16, b0, b1);
            nv_mma_16816(&f->nv, f->p->dt, a, b0, acc[2 * np], acc[2 * np]);
            nv_mma_16816(&f->nv, f->p->dt, a, b1, acc[2 * np + 1], acc[2 * np + 1]);
        }
    }
}

static void col_k(gbw *g, int nb, int e, LLVMValueRef kc[3], LLVMValueRef *kt, LLVMValueRef *kin)
{
    fa2 *f = &g->f;
    LLVMValueRef col = LLVMBuildAdd(f->nv.b, LLVMBuildShl(f->nv.b, f->t4, c32(g, 1), ""), c32(g, nb * 8 + e), "");
    fa2_tile_coords(f, f->p->kv_ext, f->k_org, col, kc);
    *kt = fa2_flat_token(f, kc);
    *kin = fa2_in_bounds(f, kc, f->kext);
}

static void probs(gbw *g, frag pslot, frag s, LLVMValueRef lse[2], bool masked)
{
    fa2 *f = &g->f;
    for (int nb = 0; nb < f->p->Tk / 8; nb++)
        for (int e = 0; e < 2; e++) {
            LLVMValueRef kc[3], kt, kin;
            col_k(g, nb, e, kc, &kt, &kin);
            for (int h = 0; h < 2; h++) {
                LLVMValueRef v = s[nb][2 * h + e];
                gb_set_elem(g, f->row_c[0][h], f->row_t[0][h], kc, kt, v);
                LLVMBuildStore(f->nv.b, gb_prob(g, v, lse[h], masked, kin), pslot[nb][2 * h + e]);
            }
        }
    f->ex_s = NULL;
}

typedef struct probs_args {
    LLVMValueRef (*pslot)[4], (*s)[4], *lse;
} probs_args;

static void probs_path(gbw *g, void *ud, bool masked)
{
    probs_args *a = ud;
    probs(g, a->pslot, a->s, a->lse, masked);
}

static void grads(gbw *g, frag s, frag pr, frag dp, LLVMValueRef delta[2], frag ds)
{
    fa2 *f = &g->f;
    for (int nb = 0; nb < f->p->Tk / 8; nb++)
        for (int e = 0; e < 2; e++) {
            LLVMValueRef kc[3], kt, kin;
            col_k(g, nb, e, kc, &kt, &kin);
            for (int h = 0; h < 2; h++) {
                int i = 2 * h + e;
                gb_set_elem(g, f->row_c[0][h], f->row_t[0][h], kc, kt, s[nb][i]);
                ds[nb][i] = gb_dscore(g, pr[nb][i], dp[nb][i], delta[h]);
            }
        }
    f->ex_s = NULL;
}

/* Issues key tile j's K and V into the bank at byte offset bank. */
static void issue_kv(gbw *g, LLVMValueRef j, LLVMValueRef bank)
{
    fa2 *f = &g->f;
    const fa_plan *p = f->p;
    LLVMValueRef org[3];
    fa2_kv_tile_origin(f, j, org);
    g->bank_dyn[0] = bank;
    gb_load_rows(g, BT_K, p->kv_ext, org, f->kext, f->kv_head, p->Tk, p->D, g->pitch_k, g->off_k);
    gb_load_rows(g, BT_V, p->kv_ext, org, f->kext, f->kv_head, p->Tk, p->Dv, g->pitch_v, g->off_v);
    nv_cp_commit(&f->nv);
    g->bank_dyn[0] = NULL;
}

static void key_step(gbw *g, frag dq_slots, frag pslot, LLVMValueRef lse[2], LLVMValueRef delta[2])
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    LLVMValueRef s[FA_MAXN][4], dp[FA_MAXN][4], pr[FA_MAXN][4], ds[FA_MAXN][4];
    /* S and dP under one wait; not at 128 keys (S, dP, dQ: 192 registers;
     * ptxas spilled 428 B at D = 128) */
    bool both = (g->bp->overlap == 2 || g->bp->overlap == 3) && p->Tk <= 64;
    if (both)
        gw_ss2(g, s, g->off_q, g->off_k, p->D, dp, g->off_do, g->off_v, p->Dv, p->Tq, p->Tk);
    else
        product(g, s, g->off_q, g->pitch_q, g->off_k, g->pitch_k, p->D, p->Tk);
    gb_tile_paths(g, probs_path, &(probs_args){pslot, s, lse});
    gb_read(g, pslot, p->Tk / 8, pr);
    if (!both)
        product(g, dp, g->off_do, g->pitch_do, g->off_v, g->pitch_v, p->Dv, p->Tk);
    grads(g, s, pr, dp, delta, ds);
    if (g->bp->wg) {
        gw_accumulate(g, dq_slots, ds, p->Tk, g->off_k, p->D);
        return;
    }
    LLVMValueRef acc[FA_MAXN][4];
    gb_read(g, dq_slots, p->D / 8, acc);
    for (int kk = 0; kk < p->Tk / 16; kk++) {
        LLVMValueRef a[4];
        gb_pack_a(g, ds, kk, a);
        for (int np = 0; np < p->D / 16; np++) {
            LLVMValueRef b0[2], b1[2];
            gb_ldsm_bt(g, g->off_k, g->pitch_k, kk * 16, np * 16, b0, b1);
            nv_mma_16816(nv, p->dt, a, b0, acc[2 * np], acc[2 * np]);
            nv_mma_16816(nv, p->dt, a, b1, acc[2 * np + 1], acc[2 * np + 1]);
        }
    }
    gb_write(g, dq_slots, p->D / 8, acc);
}

void gb_emit_dq(gbw *g)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    gb_ids(g, false);
    fa2_coords_init(f); /* the query box from ctaid.x, this thread's rows */
    fa2_range(f);
    gb_load_rows(g, BT_Q, p->q_ext, f->q_org, f->qext, f->head, p->Tq, p->D, g->pitch_q, g->off_q);
    gb_load_rows(g, BT_DO, p->q_ext, f->q_org, f->qext, f->head, p->Tq, p->Dv, g->pitch_do, g->off_do);
    nv_cp_commit(nv);
    gb_load_stats(g, f->q_org, f->head);
    gb_tiles_landed(g);
    nv_barrier(nv);
    LLVMValueRef lse[2], delta[2];
    for (int h = 0; h < 2; h++) {
        LLVMValueRef r = LLVMBuildAdd(nv->b, LLVMBuildAdd(nv->b, LLVMBuildMul(nv->b, f->warp, c32(g, 16), ""), f->g, ""),
                                      c32(g, 8 * h), "");
        lse[h] = gb_stat(g, g->off_lse, r);
        delta[h] = gb_stat(g, g->off_delta, r);
    }
    LLVMValueRef dq[FA_MAXN][4], pslot[FA_MAXN][4];
    gb_slots(g, dq, p->D / 8, true);
    gb_slots(g, pslot, p->Tk / 8, false);
    /* key tile j computes from one bank of the K/V region while j+1 loads
     * into the other */
    LLVMBuilderRef b = nv->b;
    LLVMValueRef kvs = c32(g, g->bank_size[0]);
    LLVMBasicBlockRef any = nv_if(nv, LLVMBuildICmp(b, LLVMIntSGT, f->r_total, c32(g, 0), ""), "kv.first");
    issue_kv(g, c32(g, 0), c32(g, 0));
    nv_endif(nv, any);
    gb_loop l = gb_loop_begin(g, c32(g, 0), f->r_total);
    LLVMValueRef next = LLVMBuildAdd(b, l.iv, c32(g, 1), "");
    gb_tiles_landed(g);
    nv_barrier(nv);
    LLVMBasicBlockRef more = nv_if(nv, LLVMBuildICmp(b, LLVMIntSLT, next, f->r_total, ""), "kv.next");
    issue_kv(g, next, LLVMBuildMul(b, LLVMBuildAnd(b, next, c32(g, 1), ""), kvs, ""));
    nv_endif(nv, more);
    g->bank_dyn[0] = LLVMBuildMul(b, LLVMBuildAnd(b, l.iv, c32(g, 1), ""), kvs, "");
    fa2_kv_tile_origin(f, l.iv, f->k_org);
    LLVMValueRef skip = p->empty ? fa2_tile_empty(f) : LLVMConstInt(nv->i1, 0, false);
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildNot(b, skip, ""), "pair");
    key_step(g, dq, pslot, lse, delta);
    nv_endif(nv, join);
    g->bank_dyn[0] = NULL;
    gb_loop_end(g, &l);
    LLVMValueRef v[FA_MAXN][4];
    gb_read(g, dq, p->D / 8, v);
    for (int h = 0; h < 2; h++) {
        LLVMBasicBlockRef in = nv_if(nv, fa2_in_bounds(f, f->row_c[0][h], f->qext), "st.row");
        for (int nb = 0; nb < p->D / 8; nb++) {
            LLVMValueRef col = LLVMBuildAdd(nv->b, LLVMBuildShl(nv->b, f->t4, c32(g, 1), ""), c32(g, nb * 8), "");
            gb_store_pair(g, BT_DQ, f->head, f->row_t[0][h], col, v[nb][2 * h], v[nb][2 * h + 1]);
        }
        nv_endif(nv, in);
    }
    LLVMBuildRetVoid(nv->b);
}
