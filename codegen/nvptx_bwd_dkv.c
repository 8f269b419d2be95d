/* nvptx_bwd_dkv.c — attnc_bwd_dkv (nvptx_bwd.h): one CTA per key tile,
 * each warp owning 16 of its keys. Everything is computed transposed
 * (rows are keys, columns queries), so P and dS come out of the products
 * as the A operands of dV += Pᵀ dO and dK += dSᵀ Q:
 *
 *   K, V tile -> shared (once)
 *   (ATTNC_BWD_DOC_SPAN=1, a document mask: the query tiles the key
 *   tile's documents reach, nvptx_bwd_span.c, once per CTA)
 *   for each query head of the kv head, for each query tile of the
 *   q_range (mask analysis, transposed, cut to those documents; tiles it
 *   proves empty skipped):
 *     Q, dO tile, lse, delta -> shared
 *     Sᵀ = K Qᵀ; score; mask on partial tiles; Pᵀ = exp(Sᵀ - lse)
 *     dV += Pᵀ dO;  dPᵀ = V dOᵀ;  dSᵀ = Pᵀ (dPᵀ - delta) f'(s);  dK += dSᵀ Q
 *     atomics: dS -> shared, dQ[16-row blocks] = dS K, red.add into dQacc
 *     (bulk, wgmma only: dS K -> a shared f32 tile, one bulk reduction
 *     into dQacc per 64 columns; nvptx_bwd_wgmma.c)
 *   dK, dV -> global once
 * Under mma=wgmma the products are nvptx_bwd_wgmma.c's (a warpgroup per 64
 * keys); the rest is this code. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nvptx_bwd_impl.h"

typedef LLVMValueRef frag[FA_MAXN][4];

static LLVMValueRef add(gbw *g, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildAdd(g->f.nv.b, a, b, "");
}

static LLVMValueRef mul(gbw *g, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildMul(g->f.nv.b, a, b, "");
}

static LLVMValueRef c32(gbw *g, int v)
{
    return nv_i32(&g->f.nv, v);
}

/* $ATTNC_BWD_LPT=1 (opt-in; H200 causal B=2 N=8192 +3%, N=16384 -2%): the CTAs, launched in
 * ctaid order, take their (key tile, kv head, batch) so that groups of G
 * heads (4, else 2 or 1, dividing heads x batch) run key tile 0 of each,
 * then 1, ...: the first key tiles, which see the most query tiles under
 * a causal mask, start first, and the short ones fill the end (grid
 * (key tiles, kv heads, batch): key tile 0 of the last heads otherwise
 * starts last). The default is key_flat = ctaid.x and gb_ids' head and
 * batch. */
static void lpt_remap(gbw *g)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef nx = nv_sreg(nv, "nctaid.x"), ny = nv_sreg(nv, "nctaid.y");
    LLVMValueRef hb = LLVMBuildMul(b, ny, nv_sreg(nv, "nctaid.z"), "");
    LLVMValueRef lin = add(g, nv_sreg(nv, "ctaid.x"),
                           mul(g, nx, add(g, nv_sreg(nv, "ctaid.y"), mul(g, ny, nv_sreg(nv, "ctaid.z")))));
    LLVMValueRef two = LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildAnd(b, hb, c32(g, 1), ""), c32(g, 0), "");
    LLVMValueRef four = LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildAnd(b, hb, c32(g, 3), ""), c32(g, 0), "");
    LLVMValueRef G = LLVMBuildSelect(b, four, c32(g, 4), LLVMBuildSelect(b, two, c32(g, 2), c32(g, 1), ""), "");
    LLVMValueRef per = mul(g, nx, G); /* CTAs of one group */
    LLVMValueRef grp = LLVMBuildUDiv(b, lin, per, ""), in = LLVMBuildURem(b, lin, per, "");
    g->key_flat = LLVMBuildUDiv(b, in, G, "");
    LLVMValueRef h = add(g, mul(g, grp, G), LLVMBuildURem(b, in, G, "")); /* kv head + ny batch */
    f->kv_head = LLVMBuildURem(b, h, ny, "");
    f->batch = LLVMBuildUDiv(b, h, ny, "");
    LLVMValueRef group = LLVMBuildSDiv(b, f->size[SZ_HEADS], f->size[SZ_KV_HEADS], "");
    f->head = mul(g, f->kv_head, nv_smax(nv, group, c32(g, 1)));
}

/* This CTA's key tile from key_flat (row-major over tile dims). */
static void key_tile(gbw *g, LLVMValueRef kidx[3])
{
    fa2 *f = &g->f;
    const fa_plan *p = f->p;
    if (!g->key_flat)
        g->key_flat = nv_sreg(&f->nv, "ctaid.x");
    LLVMValueRef rem = g->key_flat;
    for (int d = p->ndims - 1; d >= 0; d--) {
        kidx[d] = d ? LLVMBuildURem(f->nv.b, rem, f->nkt[d], "") : rem;
        if (d)
            rem = LLVMBuildUDiv(f->nv.b, rem, f->nkt[d], "");
        f->k_org[d] = mul(g, kidx[d], c32(g, p->kv_ext[d]));
        f->k_lo[d] = f->k_org[d];
        LLVMValueRef last = add(g, f->k_org[d], c32(g, p->kv_ext[d] - 1));
        f->k_hi[d] = nv_smin(&f->nv, last, LLVMBuildSub(f->nv.b, f->kext[d], c32(g, 1), ""));
    }
}

static void key_rows(gbw *g, LLVMValueRef kin[2])
{
    fa2 *f = &g->f;
    for (int h = 0; h < 2; h++) {
        LLVMValueRef r = add(g, add(g, mul(g, f->warp, c32(g, 16)), f->g), c32(g, 8 * h));
        fa2_tile_coords(f, f->p->kv_ext, f->k_org, r, g->key_c[h]);
        g->key_t[h] = fa2_flat_token(f, g->key_c[h]);
        kin[h] = fa2_in_bounds(f, g->key_c[h], f->kext);
    }
}

static void set_q_box(gbw *g, LLVMValueRef *qidx)
{
    fa2 *f = &g->f;
    for (int d = 0; d < f->p->ndims; d++) {
        f->q_org[d] = mul(g, qidx[d], c32(g, f->p->q_ext[d]));
        f->q_lo[d] = f->q_org[d];
        LLVMValueRef last = add(g, f->q_org[d], c32(g, f->p->q_ext[d] - 1));
        f->q_hi[d] = nv_smin(&f->nv, last, LLVMBuildSub(f->nv.b, f->qext[d], c32(g, 1), ""));
    }
}

/* Whether the forward's key range of the current query box holds the key
 * tile (fa2_range over the box). */
static LLVMValueRef in_forward_range(gbw *g, LLVMValueRef kidx[3])
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    fa2_range(f);
    LLVMValueRef in = LLVMConstInt(nv->i1, 1, false);
    for (int d = 0; d < f->p->ndims; d++) {
        LLVMValueRef hi = add(g, f->r_lo[d], f->r_cnt[d]);
        in = LLVMBuildAnd(nv->b, in, LLVMBuildICmp(nv->b, LLVMIntSGE, kidx[d], f->r_lo[d], ""), "");
        in = LLVMBuildAnd(nv->b, in, LLVMBuildICmp(nv->b, LLVMIntSLT, kidx[d], hi, ""), "");
    }
    return in;
}

static LLVMValueRef alloca_i32(gbw *g, LLVMValueRef init)
{
    nv_ctx *nv = &g->f.nv;
    LLVMBuilderRef ab = LLVMCreateBuilderInContext(nv->c);
    LLVMPositionBuilderAtEnd(ab, g->entry);
    LLVMValueRef a = LLVMBuildAlloca(ab, nv->i32, "");
    LLVMDisposeBuilder(ab);
    LLVMBuildStore(nv->b, init, a);
    return a;
}

/* Decodes flat index j over counts cnt[] (row-major) into lo[] + offsets. */
static void decode(gbw *g, LLVMValueRef j, LLVMValueRef *lo, LLVMValueRef *cnt, LLVMValueRef *idx)
{
    LLVMValueRef rem = j;
    for (int d = g->f.p->ndims - 1; d >= 0; d--) {
        LLVMValueRef c = nv_smax(&g->f.nv, cnt[d], c32(g, 1));
        LLVMValueRef i = d ? LLVMBuildURem(g->f.nv.b, rem, c, "") : rem;
        if (d)
            rem = LLVMBuildUDiv(g->f.nv.b, rem, c, "");
        idx[d] = add(g, lo[d], i);
    }
}

/* RANGE_INVERSE: per dim the first and last query tile whose forward range
 * holds the key tile, by a scan over every query tile shared out over the
 * threads (each keeps its own min/max), then shared-memory atomics. The
 * caller's barrier (q_tiles) orders this head's reads before the next
 * head's initialisation. */
static void inverse_bounds(gbw *g, LLVMValueRef kidx[3], LLVMValueRef *nqt, LLVMValueRef *lo, LLVMValueRef *hi)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    int nd = f->p->ndims;
    LLVMValueRef slo[3], shi[3], zero[3], total = c32(g, 1);
    LLVMBasicBlockRef j0 = nv_if(nv, LLVMBuildICmp(b, LLVMIntEQ, f->tid, c32(g, 0), ""), "inv.init");
    for (int d = 0; d < nd; d++) {
        LLVMBuildStore(b, c32(g, 0x7fffffff), gb_smem_at(g, g->off_scan + 4 * d, NULL));
        LLVMBuildStore(b, c32(g, -1), gb_smem_at(g, g->off_scan + 12 + 4 * d, NULL));
    }
    nv_endif(nv, j0);
    for (int d = 0; d < nd; d++) {
        slo[d] = alloca_i32(g, c32(g, 0x7fffffff));
        shi[d] = alloca_i32(g, c32(g, -1));
        zero[d] = c32(g, 0);
        total = mul(g, total, nqt[d]);
    }
    nv_barrier(nv);
    LLVMValueRef rounds = LLVMBuildUDiv(b, add(g, total, c32(g, f->threads - 1)), c32(g, f->threads), "");
    gb_loop l = gb_loop_begin(g, c32(g, 0), rounds);
    LLVMValueRef i = add(g, mul(g, l.iv, c32(g, f->threads)), f->tid);
    LLVMBasicBlockRef jin = nv_if(nv, LLVMBuildICmp(b, LLVMIntSLT, i, total, ""), "inv.q");
    LLVMValueRef qi[3];
    decode(g, i, zero, nqt, qi);
    set_q_box(g, qi);
    LLVMBasicBlockRef join = nv_if(nv, in_forward_range(g, kidx), "inv.hit");
    for (int d = 0; d < nd; d++) {
        LLVMBuildStore(b, nv_smin(nv, LLVMBuildLoad2(b, nv->i32, slo[d], ""), qi[d]), slo[d]);
        LLVMBuildStore(b, nv_smax(nv, LLVMBuildLoad2(b, nv->i32, shi[d], ""), qi[d]), shi[d]);
    }
    nv_endif(nv, join);
    nv_endif(nv, jin);
    gb_loop_end(g, &l);
    for (int d = 0; d < nd; d++) {
        LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpMin, gb_smem_at(g, g->off_scan + 4 * d, NULL),
                           LLVMBuildLoad2(b, nv->i32, slo[d], ""), LLVMAtomicOrderingMonotonic, false);
        LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpMax, gb_smem_at(g, g->off_scan + 12 + 4 * d, NULL),
                           LLVMBuildLoad2(b, nv->i32, shi[d], ""), LLVMAtomicOrderingMonotonic, false);
    }
    nv_barrier(nv);
    for (int d = 0; d < nd; d++) {
        lo[d] = LLVMBuildLoad2(b, nv->i32, gb_smem_at(g, g->off_scan + 4 * d, NULL), "");
        hi[d] = LLVMBuildLoad2(b, nv->i32, gb_smem_at(g, g->off_scan + 12 + 4 * d, NULL), "");
    }
}

/* The key tile's documents (gb_dkv_doc_span) cut the query tiles [lo, hi]. */
static void cut_by_documents(gbw *g, LLVMValueRef *lo, LLVMValueRef *hi)
{
    if (!g->span_cut)
        return;
    LLVMValueRef slo, shi;
    gb_dkv_span_tiles(g, &slo, &shi);
    lo[0] = nv_smax(&g->f.nv, lo[0], slo);
    hi[0] = nv_smin(&g->f.nv, hi[0], shi);
}

/* The q tile range of the key tile for the current head: lo[], cnt[], total. */
static LLVMValueRef q_range(gbw *g, LLVMValueRef kidx[3], LLVMValueRef *lo, LLVMValueRef *cnt)
{
    fa2 *f = &g->f;
    const bwd_plan *bp = g->bp;
    int nd = f->p->ndims;
    LLVMValueRef nqt[3], hi[3], last[3], total = c32(g, 1);
    for (int d = 0; d < nd; d++) {
        nqt[d] = LLVMBuildSDiv(f->nv.b, add(g, f->qext[d], c32(g, f->p->q_ext[d] - 1)), c32(g, f->p->q_ext[d]), "");
        lo[d] = c32(g, 0);
        hi[d] = LLVMBuildSub(f->nv.b, nqt[d], c32(g, 1), "");
    }
    if (bp->qmode == RANGE_INVERSE) {
        inverse_bounds(g, kidx, nqt, lo, hi);
    } else if (bp->qmode == RANGE_BOUNDS) {
        f->mode = EXM_BOX;
        for (int d = 0; d < nd; d++) {
            last[d] = hi[d];
            if (bp->qlo[d] && bp->qhi[d]) /* else parts of an inverse range: inside every query tile */
                gb_q_bounds(g, bp->qlo[d], bp->qhi[d], last[d], &lo[d], &hi[d]);
        }
    }
    cut_by_documents(g, lo, hi);
    bool parts = bp->qmode == RANGE_BOUNDS && bp->q_nparts;
    if (parts) /* a union: its parts' tiles (decode_q), clipped to the hull (the documents' cut included) */
        total = gb_q_parts(g, lo, hi, last);
    for (int d = 0; d < nd; d++) {
        cnt[d] = nv_smax(&f->nv, add(g, LLVMBuildSub(f->nv.b, hi[d], lo[d], ""), c32(g, 1)), c32(g, 0));
        if (!parts)
            total = mul(g, total, cnt[d]);
    }
    return total;
}

/* Query tile j of q_range's loop: decode over lo/cnt, or over its part's
 * box when the range has parts (gb_q_part). */
static void decode_q(gbw *g, LLVMValueRef j, LLVMValueRef *lo, LLVMValueRef *cnt, LLVMValueRef *idx)
{
    if (g->bp->q_nparts && g->bp->qmode == RANGE_BOUNDS) {
        LLVMValueRef plo[3], pcnt[3];
        j = gb_q_part(g, j, plo, pcnt);
        decode(g, j, plo, pcnt, idx);
        return;
    }
    decode(g, j, lo, cnt, idx);
}

/* ---- the body of one (query tile, key tile) pair ---- */

typedef struct dkv_state {
    LLVMValueRef dk[FA_MAXN][4], dv[FA_MAXN][4]; /* slots */
    LLVMValueRef p[FA_MAXN][4], ds[FA_MAXN][4];  /* slots */
    LLVMValueRef stats[GB_STAT_ROWS][2];         /* overlap >= 1: the next tile's lse, delta */
    LLVMValueRef kin[2];
    /* $ATTNC_BWD_STAT_EARLY=1: the pair's lse [0] and delta [1] of this
     * thread's query columns, loaded from shared memory right after Sᵀ and
     * dPᵀ were issued (pre_ok), so their latency hides under the products
     * instead of stalling the exponentials and dS (stat_early) */
    LLVMValueRef pre[2][FA_MAXN][2];
    bool pre_ok;
    /* pipelined pair: the next query tile's copies, issued under Sᵀ (issue_next) */
    struct {
        LLVMValueRef next, q, total, bank, *lo, *cnt;
        bool fetch;
    } nx;
} dkv_state;

/* Query column coordinates of fragment column (nb, e). */
static void col_q(gbw *g, int nb, int e, LLVMValueRef *col, LLVMValueRef qc[3], LLVMValueRef *qt)
{
    fa2 *f = &g->f;
    *col = add(g, LLVMBuildShl(f->nv.b, f->t4, c32(g, 1), ""), c32(g, nb * 8 + e));
    fa2_tile_coords(f, f->p->q_ext, f->q_org, *col, qc);
    *qt = fa2_flat_token(f, qc);
}

static void scores_t(gbw *g, frag s)
{
    fa2 *f = &g->f;
    const fa_plan *p = f->p;
    if (g->bp->wg) {
        gw_ss(g, s, g->off_k, p->Tk, g->off_q, p->D, p->Tq);
        return;
    }
    for (int nb = 0; nb < p->Tq / 8; nb++)
        for (int e = 0; e < 4; e++)
            s[nb][e] = nv_f32(&f->nv, 0);
    LLVMValueRef wrow = mul(g, f->warp, c32(g, 16));
    for (int ks = 0; ks < p->D / 16; ks++) {
        LLVMValueRef a[4];
        gb_ldsm_a(g, g->off_k, g->pitch_k, wrow, 0, ks * 16, a);
        for (int np = 0; np < p->Tq / 16; np++) {
            LLVMValueRef b0[2], b1[2];
            gb_ldsm_b(g, g->off_q, g->pitch_q, np * 16, ks * 16, b0, b1);
            nv_mma_16816(&f->nv, p->dt, a, b0, s[2 * np], s[2 * np]);
            nv_mma_16816(&f->nv, p->dt, a, b1, s[2 * np + 1], s[2 * np + 1]);
        }
    }
}

/* Pᵀ of the tile into the p slots; masked: with the mask and key bounds. */
static void probs(gbw *g, dkv_state *st, frag s, bool masked)
{
    fa2 *f = &g->f;
    for (int nb = 0; nb < f->p->Tq / 8; nb++)
        for (int e = 0; e < 2; e++) {
            LLVMValueRef col, qc[3], qt;
            col_q(g, nb, e, &col, qc, &qt);
            LLVMValueRef lse = st->pre_ok ? st->pre[0][nb][e] : gb_stat(g, g->off_lse, col);
            for (int h = 0; h < 2; h++) {
                LLVMValueRef *v = &s[nb][2 * h + e];
                gb_set_elem(g, qc, qt, g->key_c[h], g->key_t[h], *v);
                LLVMBuildStore(f->nv.b, gb_prob(g, *v, lse, masked, st->kin[h]), st->p[nb][2 * h + e]);
            }
        }
    f->ex_s = NULL;
}

static void accumulate(gbw *g, frag acc_slots, frag a_src, int m_cols, int off_b, int pitch_b, int n)
{
    fa2 *f = &g->f;
    if (g->bp->wg) {
        gw_accumulate(g, acc_slots, a_src, m_cols, off_b, n);
        return;
    }
    LLVMValueRef acc[FA_MAXN][4];
    gb_read(g, acc_slots, n / 8, acc);
    for (int kk = 0; kk < m_cols / 16; kk++) {
        LLVMValueRef a[4];
        gb_pack_a(g, a_src, kk, a);
        for (int np = 0; np < n / 16; np++) {
            LLVMValueRef b0[2], b1[2];
            gb_ldsm_bt(g, off_b, pitch_b, kk * 16, np * 16, b0, b1);
            nv_mma_16816(&f->nv, f->p->dt, a, b0, acc[2 * np], acc[2 * np]);
            nv_mma_16816(&f->nv, f->p->dt, a, b1, acc[2 * np + 1], acc[2 * np + 1]);
        }
    }
    gb_write(g, acc_slots, n / 8, acc);
}

static void dp_t(gbw *g, frag dp)
{
    fa2 *f = &g->f;
    const fa_plan *p = f->p;
    if (g->bp->wg) {
        gw_ss(g, dp, g->off_v, p->Tk, g->off_do, p->Dv, p->Tq);
        return;
    }
    for (int nb = 0; nb < p->Tq / 8; nb++)
        for (int e = 0; e < 4; e++)
            dp[nb][e] = nv_f32(&f->nv, 0);
    LLVMValueRef wrow = mul(g, f->warp, c32(g, 16));
    for (int ks = 0; ks < p->Dv / 16; ks++) {
        LLVMValueRef a[4];
        gb_ldsm_a(g, g->off_v, g->pitch_v, wrow, 0, ks * 16, a);
        for (int np = 0; np < p->Tq / 16; np++) {
            LLVMValueRef b0[2], b1[2];
            gb_ldsm_b(g, g->off_do, g->pitch_do, np * 16, ks * 16, b0, b1);
            nv_mma_16816(&f->nv, p->dt, a, b0, dp[2 * np], dp[2 * np]);
            nv_mma_16816(&f->nv, p->dt, a, b1, dp[2 * np + 1], dp[2 * np + 1]);
        }
    }
}

/* pre: the pair's delta values loaded early (dkv_state.pre[1]), or NULL */
static void grads_t(gbw *g, frag s, frag pr, frag dp, frag ds, LLVMValueRef (*pre)[2])
{
    fa2 *f = &g->f;
    for (int nb = 0; nb < f->p->Tq / 8; nb++)
        for (int e = 0; e < 2; e++) {
            LLVMValueRef col, qc[3], qt;
            col_q(g, nb, e, &col, qc, &qt);
            LLVMValueRef delta = pre ? pre[nb][e] : gb_stat(g, g->off_delta, col);
            for (int h = 0; h < 2; h++) {
                int i = 2 * h + e;
                gb_set_elem(g, qc, qt, g->key_c[h], g->key_t[h], s[nb][i]);
                ds[nb][i] = gb_dscore(g, pr[nb][i], dp[nb][i], delta);
                gb_pgrad_elem(g, 4 * nb + i, pr[nb][i], dp[nb][i], delta);
            }
        }
    f->ex_s = NULL;
}

/* dSᵀ -> shared as dS [query][key] (the A operand of dQ = dS K). */
static void store_ds(gbw *g, frag ds)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMTypeRef et = f->p->dt == DT_F16 ? nv->f16 : nv->bf16;
    for (int nb = 0; nb < f->p->Tq / 8; nb++)
        for (int e = 0; e < 4; e++) {
            LLVMValueRef col = add(g, LLVMBuildShl(nv->b, f->t4, c32(g, 1), ""), c32(g, nb * 8 + (e & 1)));
            LLVMValueRef row = add(g, add(g, mul(g, f->warp, c32(g, 16)), f->g), c32(g, 8 * (e >> 1)));
            LLVMValueRef at = add(g, mul(g, col, c32(g, g->pitch_ds)), LLVMBuildShl(nv->b, row, c32(g, 1), ""));
            LLVMBuildStore(nv->b, LLVMBuildFPTrunc(nv->b, ds[nb][e], et, ""), gb_smem_at(g, g->off_ds, at));
        }
}

/* One 16-row block of dQ = dS K, added into the fp32 accumulator. */
static void dq_block(gbw *g, int blk)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    LLVMValueRef acc[FA_MAXN][4];
    for (int nb = 0; nb < p->D / 8; nb++)
        for (int e = 0; e < 4; e++)
            acc[nb][e] = nv_f32(nv, 0);
    for (int ks = 0; ks < p->Tk / 16; ks++) {
        LLVMValueRef a[4];
        gb_ldsm_a(g, g->off_ds, g->pitch_ds, NULL, blk * 16, ks * 16, a);
        for (int np = 0; np < p->D / 16; np++) {
            LLVMValueRef b0[2], b1[2];
            gb_ldsm_bt(g, g->off_k, g->pitch_k, ks * 16, np * 16, b0, b1);
            nv_mma_16816(nv, p->dt, a, b0, acc[2 * np], acc[2 * np]);
            nv_mma_16816(nv, p->dt, a, b1, acc[2 * np + 1], acc[2 * np + 1]);
        }
    }
    gb_dq_red(g, NULL, blk * 16, 0, p->D, acc);
}

static void dq_atomic(gbw *g, frag ds)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    store_ds(g, ds);
    nv_barrier(nv);
    int W = f->p->Tk / 16;
    for (int blk = 0; blk < f->p->Tq / 16; blk++) {
        LLVMValueRef mine = LLVMBuildICmp(nv->b, LLVMIntEQ, f->warp, c32(g, blk % W), "");
        LLVMBasicBlockRef join = nv_if(nv, mine, "dq.blk");
        dq_block(g, blk);
        nv_endif(nv, join);
    }
}

/* Issues the copies of query tile j of the range (Q, dO, lse, delta) into
 * bank `bank` (one commit group). stats non-NULL: lse and delta only into
 * those slots (gb_fetch_stats; the caller puts them). */
static void issue_q_tile(gbw *g, LLVMValueRef j, LLVMValueRef *lo, LLVMValueRef *cnt, LLVMValueRef bank,
                         LLVMValueRef (*stats)[2])
{
    fa2 *f = &g->f;
    const fa_plan *p = f->p;
    LLVMValueRef qi[3];
    decode_q(g, j, lo, cnt, qi);
    set_q_box(g, qi);
    g->bank_dyn[1] = bank;
    gb_load_rows(g, BT_Q, p->q_ext, f->q_org, f->qext, f->head, p->Tq, p->D, g->pitch_q, g->off_q);
    gb_load_rows(g, BT_DO, p->q_ext, f->q_org, f->qext, f->head, p->Tq, p->Dv, g->pitch_do, g->off_do);
    nv_cp_commit(&f->nv);
    if (stats)
        gb_fetch_stats(g, f->q_org, f->head, stats);
    else
        gb_load_stats(g, f->q_org, f->head);
}

/* Pipelined pair: the next query tile's copies (issue_q_tile), issued
 * while Sᵀ runs instead of before it; the current tile's box and bank are
 * kept. */
static void issue_next(gbw *g, dkv_state *st)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMValueRef org[3], lo[3], hi[3], bank = g->bank_dyn[1];
    if (g->bp->producer) /* the ring's producer copies */
        return;
    memcpy(org, f->q_org, sizeof org);
    memcpy(lo, f->q_lo, sizeof lo);
    memcpy(hi, f->q_hi, sizeof hi);
    LLVMBasicBlockRef more = nv_if(nv, LLVMBuildICmp(nv->b, LLVMIntSLT, st->nx.next, st->nx.total, ""), "q.next");
    issue_q_tile(g, st->nx.q, st->nx.lo, st->nx.cnt, st->nx.bank, st->nx.fetch ? st->stats : NULL);
    nv_endif(nv, more);
    memcpy(f->q_org, org, sizeof org);
    memcpy(f->q_lo, lo, sizeof lo);
    memcpy(f->q_hi, hi, sizeof hi);
    g->bank_dyn[1] = bank;
}

typedef struct probs_args {
    dkv_state *st;
    LLVMValueRef (*s)[4];
} probs_args;

static void probs_path(gbw *g, void *ud, bool masked)
{
    probs_args *a = ud;
    probs(g, a->st, a->s, masked);
}

/* Pᵀ of the tile (st->p), the partial tile's masks on its own path. */
static void probs_tile(gbw *g, dkv_state *st, frag s)
{
    gb_tile_paths(g, probs_path, &(probs_args){st, s});
}

/* The pair under NVPTX_BWD_OVERLAP_PIPE (wgmma): the tensor cores run the
 * accumulating products while the warps do the element-wise work.
 *
 *   issue Sᵀ = K Qᵀ; the next tile's copies; wait; Pᵀ
 *   issue dPᵀ = V dOᵀ, dV += Pᵀ dO       (two commit groups)
 *   wait 1 (dPᵀ); dSᵀ; dS -> shared        dV running
 *   issue dK += dSᵀ Q                      dV, dK running
 *   bulk dQ: barrier (dS published), issue the first dQ block, wait 0
 *
 * dV and dK accumulate into their own registers, so leaving them running
 * costs only the packed A registers they read (16 each at Tq = 64).
 * NVPTX_BWD_OVERLAP_PIPE_SDP issues Sᵀ with dPᵀ (FA3's order: Pᵀ computed
 * while dPᵀ runs), then dV behind dPᵀ: Sᵀ, dPᵀ, dK and dV live at once.
 * The _LATE levels issue dK after the barrier, behind the first dQ block
 * (FA3's order), and wait for the block alone (wait 1), so dK runs while
 * the block is stored to shared memory; dK is waited at the pair's end. */
/* Pᵀ once Sᵀ is done (dPᵀ still running if dp_running, else issued after
 * Pᵀ), then dV += Pᵀ dO issued into pend. */
static void probs_dv(gbw *g, dkv_state *st, frag s, frag pr, frag dp, bool dp_running, gw_pend *pend)
{
    const fa_plan *p = g->f.p;
    gw_wait_acc(g, dp_running ? 1 : 0, s, p->Tq);
    probs_tile(g, st, s);
    gb_read(g, st->p, p->Tq / 8, pr);
    if (!dp_running)
        gw_ss_async(g, dp, g->off_v, p->Tk, g->off_do, p->Dv, p->Tq);
    gw_accumulate_async(g, st->dv, pr, p->Tq, g->off_do, p->Dv, pend);
}

/* dSᵀ once dPᵀ is done (dV still running), and to shared memory under bulk dQ. */
static void grads_ds(gbw *g, dkv_state *st, frag s, frag pr, frag dp, frag ds)
{
    gw_wait_acc(g, 1, dp, g->f.p->Tq);
    grads_t(g, s, pr, dp, ds, st->pre_ok ? st->pre[1] : NULL);
    gb_pgrad_flush(g);
    if (g->bp->bulk)
        gw_store_ds(g, ds);
}

/* The pair's lse and delta into st->pre ($ATTNC_BWD_STAT_EARLY=1), before
 * the first wait: their loads run while Sᵀ and dPᵀ do. */
static void stat_early(gbw *g, dkv_state *st)
{
    st->pre_ok = nvptx_bwd_stat_early_mode() == 1;
    if (!st->pre_ok)
        return;
    for (int nb = 0; nb < g->f.p->Tq / 8; nb++)
        for (int e = 0; e < 2; e++) {
            LLVMValueRef col, qc[3], qt;
            col_q(g, nb, e, &col, qc, &qt);
            st->pre[0][nb][e] = gb_stat(g, g->off_lse, col);
            st->pre[1][nb][e] = gb_stat(g, g->off_delta, col);
        }
}

static void pair_pipe(gbw *g, dkv_state *st)
{
    fa2 *f = &g->f;
    const fa_plan *p = f->p;
    LLVMValueRef s[FA_MAXN][4], dp[FA_MAXN][4], pr[FA_MAXN][4], ds[FA_MAXN][4];
    int lvl = g->bp->overlap;
    bool sdp = lvl == NVPTX_BWD_OVERLAP_PIPE_SDP || lvl == NVPTX_BWD_OVERLAP_PIPE_SDP_LATE;
    bool late = lvl >= NVPTX_BWD_OVERLAP_PIPE_LATE && gw_dq_bulk_late_dk(g);
    gw_pend pend = {0};
    if (sdp) /* Pᵀ while dPᵀ runs, then dV behind it */
        gw_ss2_async(g, s, g->off_k, g->off_q, p->D, dp, g->off_v, g->off_do, p->Dv, p->Tk, p->Tq);
    else
        gw_ss_async(g, s, g->off_k, p->Tk, g->off_q, p->D, p->Tq);
    issue_next(g, st);
    stat_early(g, st);
    probs_dv(g, st, s, pr, dp, sdp, &pend);
    grads_ds(g, st, s, pr, dp, ds);
    st->pre_ok = false; /* the values are this pair's */
    if (late) { /* dK behind the first dQ block, running while that block is stored */
        gw_dq_bulk(g, st->dk, ds, &pend);
        gw_pend_wait(g, &pend, 0, NULL);
        return;
    }
    gw_accumulate_async(g, st->dk, ds, p->Tq, g->off_q, p->D, &pend);
    if (g->bp->bulk) {
        gw_dq_bulk(g, NULL, ds, &pend);
        return;
    }
    gw_pend_wait(g, &pend, 0, NULL);
    if (g->bp->atomics)
        gw_dq_atomic(g, ds);
}

/* The pair under bp->dq_defer (gw_dqd_*: the previous pair's dQ product
 * first, its block stored and reduced while Sᵀ runs; this pair's dQ
 * product is the next pair's). PIPE_SDP: dPᵀ issued after that block,
 * Pᵀ computed while it runs; PIPE: Pᵀ first, then dPᵀ with dV. */
static void pair_defer(gbw *g, dkv_state *st)
{
    const fa_plan *p = g->f.p;
    LLVMValueRef s[FA_MAXN][4], dp[FA_MAXN][4], pr[FA_MAXN][4], ds[FA_MAXN][4];
    bool sdp = g->bp->overlap == NVPTX_BWD_OVERLAP_PIPE_SDP;
    gw_pend pend = {0};
    nt_frag x;
    gw_dqd_issue(g, &x);
    gw_ss_async(g, s, g->off_k, p->Tk, g->off_q, p->D, p->Tq);
    gw_dqd_flush(g, &x, 1);
    if (sdp)
        gw_ss_async(g, dp, g->off_v, p->Tk, g->off_do, p->Dv, p->Tq);
    probs_dv(g, st, s, pr, dp, sdp, &pend);
    grads_ds(g, st, s, pr, dp, ds);
    gw_accumulate_async(g, st->dk, ds, p->Tq, g->off_q, p->D, &pend);
    gw_dqd_publish(g);
    gw_pend_wait(g, &pend, 0, NULL);
}

static void pair(gbw *g, dkv_state *st)
{
    fa2 *f = &g->f;
    const fa_plan *p = f->p;
    LLVMValueRef s[FA_MAXN][4], dp[FA_MAXN][4];
    if (g->bp->dq_defer) {
        pair_defer(g, st);
        return;
    }
    if (g->bp->overlap >= NVPTX_BWD_OVERLAP_PIPE) {
        pair_pipe(g, st);
        return;
    }
    if (g->bp->overlap == 3) /* Sᵀ and dPᵀ under one wait */
        gw_ss2(g, s, g->off_k, g->off_q, p->D, dp, g->off_v, g->off_do, p->Dv, p->Tk, p->Tq);
    else
        scores_t(g, s);
    probs_tile(g, st, s);
    LLVMValueRef pr[FA_MAXN][4], ds[FA_MAXN][4];
    gb_read(g, st->p, p->Tq / 8, pr);
    if (g->bp->overlap == 3) { /* dV and dK under one wait */
        grads_t(g, s, pr, dp, ds, NULL);
        gb_pgrad_flush(g);
        if (g->bp->bulk)
            gw_store_ds(g, ds);
        gw_accumulate2(g, p->Tq, st->dv, pr, g->off_do, p->Dv, st->dk, ds, g->off_q, p->D);
    } else if (g->bp->overlap == 2) { /* dV and dPᵀ under one wait */
        gw_accumulate_ss(g, st->dv, pr, p->Tq, g->off_do, p->Dv, dp, g->off_v, p->Tk, g->off_do, p->Dv, p->Tq);
        grads_t(g, s, pr, dp, ds, NULL);
        gb_pgrad_flush(g);
        if (g->bp->bulk)
            gw_store_ds(g, ds);
        if (!gw_dq_bulk_takes_dk(g)) /* else dK shares the dQ product's wait */
            gw_accumulate(g, st->dk, ds, p->Tq, g->off_q, p->D);
    } else {
        accumulate(g, st->dv, pr, p->Tq, g->off_do, g->pitch_do, p->Dv);
        dp_t(g, dp);
        grads_t(g, s, pr, dp, ds, NULL);
        gb_pgrad_flush(g);
        if (g->bp->bulk) /* dS's f32 values die here, not after dK's product */
            gw_store_ds(g, ds);
        accumulate(g, st->dk, ds, p->Tq, g->off_q, g->pitch_q, p->D);
    }
    if (g->bp->bulk)
        gw_dq_bulk(g, gw_dq_bulk_takes_dk(g) ? st->dk : NULL, ds, NULL);
    else if (g->bp->atomics && g->bp->wg)
        gw_dq_atomic(g, ds);
    else if (g->bp->atomics)
        dq_atomic(g, ds);
}

/* The query tiles of the range, the next one's copies in flight while the
 * current one computes (two banks of the Q region). Overlap >= 1: the
 * next tile's lse/delta loads too (into registers, stored to its bank
 * after the current tile; the barrier at the top publishes them). */
static void q_tiles(gbw *g, dkv_state *st, LLVMValueRef kidx[3])
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef lo[3], cnt[3], qi[3];
    LLVMValueRef total = q_range(g, kidx, lo, cnt);
    LLVMValueRef qs = c32(g, g->bank_size[1]);
    /* $ATTNC_BWD_QROT=1 (opt-in; H200 dense +1%, causal -4%): key tile t visits its
     * query tiles from the (t mod count)-th on, wrapping, so the CTAs of a
     * dense head do not all load and bulk-add the same query tile at once. */
    const char *qrot = getenv("ATTNC_BWD_QROT");
    LLVMValueRef rot = NULL;
    if (qrot && !strcmp(qrot, "1"))
        rot = LLVMBuildURem(b, g->key_flat, nv_smax(nv, total, c32(g, 1)), "qrot");
    nv_barrier(nv); /* the previous head's last tile is done with bank 0 */
    LLVMBasicBlockRef any = nv_if(nv, LLVMBuildICmp(b, LLVMIntSGT, total, c32(g, 0), ""), "q.first");
    issue_q_tile(g, rot ? rot : c32(g, 0), lo, cnt, c32(g, 0), NULL);
    nv_endif(nv, any);
    gb_loop l = gb_loop_begin(g, c32(g, 0), total);
    LLVMValueRef next = add(g, l.iv, c32(g, 1));
    gb_tiles_landed(g);
    nv_barrier(nv); /* tile j resident; every warp done with tile j-1's bank */
    bool fetch = g->bp->overlap >= 1 && f->threads >= f->p->Tq;
    bool pipe = g->bp->overlap >= NVPTX_BWD_OVERLAP_PIPE; /* the copies go under Sᵀ (issue_next) */
    if (pipe) {
        st->nx.next = next, st->nx.total = total, st->nx.lo = lo, st->nx.cnt = cnt, st->nx.fetch = fetch;
        st->nx.q = rot ? LLVMBuildURem(b, add(g, next, rot), total, "") : next;
        st->nx.bank = mul(g, LLVMBuildAnd(b, next, c32(g, 1), ""), qs);
    } else {
        LLVMBasicBlockRef more = nv_if(nv, LLVMBuildICmp(b, LLVMIntSLT, next, total, ""), "q.next");
        LLVMValueRef next_q = rot ? LLVMBuildURem(b, add(g, next, rot), total, "") : next;
        issue_q_tile(g, next_q, lo, cnt, mul(g, LLVMBuildAnd(b, next, c32(g, 1), ""), qs), fetch ? st->stats : NULL);
        nv_endif(nv, more);
    }
    g->bank_dyn[1] = mul(g, LLVMBuildAnd(b, l.iv, c32(g, 1), ""), qs);
    decode_q(g, rot ? LLVMBuildURem(b, add(g, l.iv, rot), total, "") : l.iv, lo, cnt, qi);
    set_q_box(g, qi);
    LLVMValueRef skip = LLVMConstInt(nv->i1, 0, false);
    if (g->bp->qmode == RANGE_INVERSE)
        skip = LLVMBuildNot(b, in_forward_range(g, kidx), "");
    if (f->p->empty)
        skip = LLVMBuildOr(b, skip, fa2_tile_empty(f), "");
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildNot(b, skip, ""), "pair");
    pair(g, st);
    nv_endif(nv, join);
    if (pipe) { /* a skipped pair still issues the next tile's copies */
        LLVMBasicBlockRef none = nv_if(nv, skip, "pair.skip");
        issue_next(g, st);
        nv_endif(nv, none);
    }
    if (fetch) {
        LLVMBasicBlockRef put = nv_if(nv, LLVMBuildICmp(b, LLVMIntSLT, next, total, ""), "q.stats");
        g->bank_dyn[1] = mul(g, LLVMBuildAnd(b, next, c32(g, 1), ""), qs);
        gb_put_stats(g, st->stats);
        nv_endif(nv, put);
    }
    g->bank_dyn[1] = NULL;
    gb_loop_end(g, &l);
}

/* The producer ring (bp->producer, nvptx_bwd_ring.c): the same query
 * tiles as q_tiles, over the same heads, counted by *it across heads; the
 * producer warp fills stage it % S with tile it, the computing warps wait
 * for it. The barrier of the computing threads at the top keeps a
 * warpgroup from storing the next dS while the other still reads this one
 * (gw_dq_bulk's product). With two dS buffers (bp->ds_bufs, pair n stores
 * buffer n % 2) it goes: a warpgroup stores pair n + 2's dS into pair n's
 * buffer only after gw_dq_bulk's barrier of pair n + 1, which the other
 * warpgroup reaches only after its pair-n dQ products were waited. */
enum { ROLE_COMPUTE, ROLE_PRODUCER };

static void q_tiles_ring(gbw *g, dkv_state *st, LLVMValueRef kidx[3], LLVMValueRef it, int role)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef lo[3], cnt[3], qi[3];
    LLVMValueRef total = q_range(g, kidx, lo, cnt);
    gb_loop l = gb_loop_begin(g, c32(g, 0), total);
    LLVMValueRef n = LLVMBuildLoad2(b, nv->i32, it, "it");
    decode_q(g, l.iv, lo, cnt, qi);
    set_q_box(g, qi);
    if (role == ROLE_PRODUCER) {
        gr_fill(g, n);
    } else {
        gr_acquire(g, n);
        /* else gw_store_ds waits for the other warpgroup (gr_ds_wait), or gw_dqd_flush's barrier does it */
        if (!g->bp->ds_split && g->bp->ds_bufs == 1 && !g->bp->dq_defer)
            gr_sync(g);
        if (g->bp->ds_bufs == 2) {
            LLVMValueRef pairs = LLVMBuildLoad2(b, nv->i32, g->dq_pairs, "");
            g->bank_dyn[2] = mul(g, LLVMBuildAnd(b, pairs, c32(g, 1), ""), c32(g, g->bank_size[2]));
        }
        LLVMValueRef skip = f->p->empty ? fa2_tile_empty(f) : LLVMConstInt(nv->i1, 0, false);
        LLVMBasicBlockRef join = nv_if(nv, LLVMBuildNot(b, skip, ""), "pair");
        pair(g, st);
        nv_endif(nv, join);
        gr_release(g, n);
        g->bank_dyn[1] = g->bank_dyn[2] = NULL;
    }
    LLVMBuildStore(b, add(g, n, c32(g, 1)), it);
    gb_loop_end(g, &l);
}

/* The head loop of the kernel (every query head of the kv head). */
static void heads(gbw *g, dkv_state *st, LLVMValueRef kidx[3], LLVMValueRef it, int role)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMValueRef group = nv_smax(nv, LLVMBuildSDiv(nv->b, f->size[SZ_HEADS], f->size[SZ_KV_HEADS], ""), c32(g, 1));
    LLVMValueRef first = f->head;
    gb_loop hl = gb_loop_begin(g, first, add(g, first, group));
    f->head = hl.iv;
    if (it)
        q_tiles_ring(g, st, kidx, it, role);
    else
        q_tiles(g, st, kidx);
    gb_loop_end(g, &hl);
    f->head = first;
}

static void store_rows(gbw *g, int t, frag slots, int cols, LLVMValueRef kin[2])
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMValueRef v[FA_MAXN][4];
    gb_read(g, slots, cols / 8, v);
    for (int h = 0; h < 2; h++) {
        LLVMBasicBlockRef join = nv_if(nv, kin[h], "st.row");
        for (int nb = 0; nb < cols / 8; nb++) {
            LLVMValueRef col = add(g, LLVMBuildShl(nv->b, f->t4, c32(g, 1), ""), c32(g, nb * 8));
            gb_store_pair(g, t, f->kv_head, g->key_t[h], col, v[nb][2 * h], v[nb][2 * h + 1]);
        }
        nv_endif(nv, join);
    }
}

void gb_emit_dkv(gbw *g)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    gb_ids(g, true);
    const char *lpt = getenv("ATTNC_BWD_LPT");
    g->key_flat = NULL; /* ctaid.x, read in key_tile */
    if (lpt && !strcmp(lpt, "1"))
        lpt_remap(g);
    gb_extents(g);
    LLVMValueRef kidx[3];
    key_tile(g, kidx);
    if (g->bp->doc_param >= 0) /* CTA-wide, so before the producer's threads leave */
        gb_dkv_doc_span(g);
    dkv_state st = {0};
    LLVMValueRef it = NULL; /* producer: the ring's tile counter */
    if (g->bp->producer) {
        gr_init(g);
        it = alloca_i32(g, c32(g, 0));
        LLVMBasicBlockRef prod = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ring.prod");
        LLVMBasicBlockRef cons = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ring.cons");
        LLVMBuildCondBr(nv->b, gr_is_producer(g), prod, cons);
        LLVMPositionBuilderAtEnd(nv->b, prod);
        LLVMBasicBlockRef writer;
        gr_producer_start(g, &writer);
        heads(g, &st, kidx, it, ROLE_PRODUCER);
        LLVMBuildRetVoid(nv->b);
        if (writer) {
            LLVMPositionBuilderAtEnd(nv->b, writer);
            gw_dq_writer_run(g);
            LLVMBuildRetVoid(nv->b);
        }
        LLVMPositionBuilderAtEnd(nv->b, cons);
        gr_consumer_start(g);
    }
    key_rows(g, st.kin);
    gb_pgrad_begin(g);
    gb_load_rows(g, BT_K, p->kv_ext, f->k_org, f->kext, f->kv_head, p->Tk, p->D, g->pitch_k, g->off_k);
    gb_load_rows(g, BT_V, p->kv_ext, f->k_org, f->kext, f->kv_head, p->Tk, p->Dv, g->pitch_v, g->off_v);
    nv_cp_commit(nv);
    if (g->bp->producer) { /* K, V resident before the first pair (q_tiles' barrier does it otherwise) */
        gb_tiles_landed(g);
        gr_sync(g);
    }
    gb_slots(g, st.dk, p->D / 8, true);
    gb_slots(g, st.dv, p->Dv / 8, true);
    gb_slots(g, st.p, p->Tq / 8, false);
    if (g->bp->bulk)
        g->dq_pairs = alloca_i32(g, c32(g, 0));
    for (int i = 0; i < GB_STAT_ROWS && g->bp->overlap >= 1; i++)
        for (int k = 0; k < 2; k++)
            st.stats[i][k] = gb_alloca(g);
    if (g->bp->dq_writer)
        gw_dq_writer_begin(g);
    if (g->bp->dq_defer)
        gw_dqd_begin(g);
    heads(g, &st, kidx, it, ROLE_COMPUTE);
    if (g->bp->dq_defer) /* the last pair's dQ */
        gw_dqd_end(g);
    if (g->bp->ds_split)
        gr_ds_end(g);
    if (g->bp->dq_writer)
        gw_dq_writer_end(g);
    nv_cp_wait(nv, 0);
    if (g->bp->bulk) /* shared memory must outlive the bulk reductions' reads */
        gw_dq_bulk_drain(g);
    store_rows(g, BT_DK, st.dk, p->D, st.kin);
    store_rows(g, BT_DV, st.dv, p->Dv, st.kin);
    LLVMBuildRetVoid(nv->b);
}
