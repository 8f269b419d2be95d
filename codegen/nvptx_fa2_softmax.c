/* nvptx_fa2_softmax.c — everything done on the score fragment in registers
 * (nvptx_fa2.h): the score expression, the mask (only called for partial
 * tiles), the online softmax in base 2 with quad shuffles for the row max,
 * and the final normalisation with one store of O and LSE.
 *
 * Internally scores are in log2 units (the recipe's base2 score already is;
 * otherwise it is multiplied by log2(e)), so m is a log2 max and
 * LSE = (m + log2 l) * ln 2. A row that has kept no key yet has m = -inf; it
 * exponentiates against 0 instead, so no inf - inf arises, and at the end
 * l == 0 gives O = 0 and LSE = -inf. Under $ATTNC_SCALE_FMA a score
 * s * k (k > 0, nvptx_plan.h score_k) stays raw s in the fragment: the row
 * max is taken on raw s and scaled once per row, and each exponent is one
 * FFMA, exp2(fma(s, k, -m)), not a multiply and a subtract (FA3's
 * softmax); the mask's -inf is -inf either way. A NaN logit, or a +inf max (+inf -
 * +inf), makes l NaN, which the final test lets through: that row's O and
 * LSE are NaN (docs/recipe-language.md §3.10), at no cost in the loop. */
#include <math.h>

#include "nvptx_fa2.h"

static const double LOG2E = 1.4426950408889634;
/* $ATTNC_SKIP_RESCALE=2: how far (log2 units) a row's max may lag its
 * scores: P up to 2^8, far inside bf16/f16 and f32 sums. */
static const double LAZY_MAX = 8.0;
static const double LN2 = 0.6931471805599453;

/* Column coordinates of fragment element (nb, e) of the current key tile. */
static void col_coords(fa2 *f, int nb, int e, LLVMValueRef c[3], LLVMValueRef *t)
{
    LLVMValueRef col = LLVMBuildShl(f->nv.b, f->t4, nv_i32(&f->nv, 1), "");
    col = LLVMBuildAdd(f->nv.b, col, nv_i32(&f->nv, nb * 8 + e), "");
    fa2_tile_coords(f, f->p->kv_ext, f->k_org, col, c);
    *t = fa2_flat_token(f, c);
}

static void set_elem(fa2 *f, int mi, int h, LLVMValueRef kc[3], LLVMValueRef kt, LLVMValueRef s)
{
    f->mode = EXM_ELEM;
    for (int d = 0; d < 3; d++) {
        f->ex_qc[d] = f->row_c[mi][h][d];
        f->ex_kc[d] = kc[d];
    }
    f->ex_qt = f->row_t[mi][h];
    f->ex_kt = kt;
    f->ex_s = s;
}

/* Whether the fragment keeps raw s and the softmax applies the score's
 * factor in the exponent (fa_plan.score_k; the fusion pass makes every
 * forward score base 2). */
static bool raw_scores(const fa_plan *p)
{
    return p->score_k > 0 && p->base2;
}

void fa2_score(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4])
{
    const fa_plan *p = f->p;
    bool raw = raw_scores(p);
    bool need_k = !raw && expr_uses_coord(p->score, SIDE_K);
    LLVMValueRef zero = nv_i32(&f->nv, 0);
    for (int nb = 0; nb < p->Tk / 8; nb++) {
        for (int e = 0; e < 2; e++) {
            LLVMValueRef kc[3] = {zero, zero, zero}, kt = zero;
            if (need_k)
                col_coords(f, nb, e, kc, &kt);
            for (int mi = 0; mi < p->MR; mi++) {
                for (int h = 0; h < 2; h++) {
                    LLVMValueRef *v = &s[mi][nb][2 * h + e];
                    if (raw)
                        continue; /* raw s: its factor goes into the exponent (softmax_row) */
                    set_elem(f, mi, h, kc, kt, *v);
                    LLVMValueRef t = fa2_emit(f, p->score);
                    if (!p->base2)
                        t = LLVMBuildFMul(f->nv.b, t, nv_f32(&f->nv, LOG2E), "");
                    *v = t;
                }
            }
        }
    }
    f->ex_s = NULL;
}

static int count_compares(const expr *e)
{
    if (!e)
        return 0;
    int n = e->kind == EX_BINARY && e->u.binop >= BIN_LT && e->u.binop <= BIN_NE;
    for (int i = 0; i < e->nargs; i++)
        n += count_compares(e->args[i]);
    return n;
}

/* Masks with at most this many comparisons are small enough for one
 * predicate (radial_attention's two dozen spill predicates to registers). */
enum { FROZEN_KEEP_MAX_COMPARES = 6 };

/* Whether a partial tile selects its scores on one frozen predicate
 * (nv_select_frozen). LLVM splits a select on `a && b` into a chain of
 * selects, one FSEL per term: right for conjunctions (neighborhoods:
 * frozen into one predicate, their many terms cost P2R moves and LOP3s,
 * FLUX NA 399 -> 360 TFLOP/s on the H200), wasteful once the mask has an
 * `||` (sinks || window: three FSEL per element, 387 SASS instructions per
 * partial tile against 292 frozen; 463 -> 467 TFLOP/s). So only a small
 * mask with `||` is frozen. */
static bool keep_frozen(const expr *mask)
{
    return expr_uses_binop(mask, BIN_OR) && count_compares(mask) <= FROZEN_KEEP_MAX_COMPARES;
}

void fa2_mask(fa2 *f, const expr *mask, LLVMValueRef s[FA_MAXMR][FA_MAXN][4])
{
    const fa_plan *p = f->p;
    LLVMValueRef ninf = nv_f32(&f->nv, -INFINITY);
    bool frames = mask && f->fr_period > 0; /* key-frame subtrees hoisted per tile */
    bool frozen = keep_frozen(mask);
    if (frames)
        fa2_frames_begin(f, f->fr.one);
    for (int nb = 0; nb < p->Tk / 8; nb++) {
        for (int e = 0; e < 2; e++) {
            LLVMValueRef kc[3], kt;
            col_coords(f, nb, e, kc, &kt);
            LLVMValueRef in = f->k_inside ? LLVMConstInt(f->nv.i1, 1, false) : fa2_in_bounds(f, kc, f->kext);
            if (frames)
                fa2_frames_column(f, kt);
            for (int mi = 0; mi < p->MR; mi++) {
                for (int h = 0; h < 2; h++) {
                    LLVMValueRef keep = in;
                    if (mask) {
                        set_elem(f, mi, h, kc, kt, s[mi][nb][2 * h + e]);
                        LLVMValueRef m = NULL;
                        if (frames) {
                            fa2_frames_row(f, mi, h);
                            m = fa2_frames_keep(f);
                        }
                        keep = LLVMBuildAnd(f->nv.b, keep, m ? m : fa2_emit(f, mask), "");
                    }
                    if (f->doc_bits_on)
                        keep = LLVMBuildAnd(f->nv.b, keep, fa2_doc_bit(f, mi, h, nb, e), "");
                    LLVMValueRef *v = &s[mi][nb][2 * h + e];
                    *v = frozen ? nv_select_frozen(&f->nv, keep, *v, ninf) : LLVMBuildSelect(f->nv.b, keep, *v, ninf, "");
                }
            }
        }
    }
    if (frames)
        fa2_frames_end(f);
    f->ex_s = NULL;
}

static LLVMValueRef quad_max(fa2 *f, LLVMValueRef v)
{
    v = nv_fmax(&f->nv, v, nv_shfl_xor_f32(&f->nv, v, 1));
    return nv_fmax(&f->nv, v, nv_shfl_xor_f32(&f->nv, v, 2));
}

static LLVMValueRef quad_sum(fa2 *f, LLVMValueRef v)
{
    v = LLVMBuildFAdd(f->nv.b, v, nv_shfl_xor_f32(&f->nv, v, 1), "");
    return LLVMBuildFAdd(f->nv.b, v, nv_shfl_xor_f32(&f->nv, v, 2), "");
}

/* The max of v[0..n) (n >= 1), v overwritten: a balanced tree under
 * $ATTNC_MAX_TREE (depth ceil(log2 n)), else a chain in order (depth
 * n - 1). Equal values either way. */
static LLVMValueRef fmax_all(fa2 *f, LLVMValueRef *v, int n)
{
    if (nvptx_max_tree_mode() != 1) {
        for (int i = 1; i < n; i++)
            v[0] = nv_fmax(&f->nv, v[0], v[i]);
        return v[0];
    }
    while (n > 1) { /* level by level: v[i] = max(v[2i], v[2i+1]), an odd last one carried */
        int half = n / 2;
        for (int i = 0; i < half; i++)
            v[i] = nv_fmax(&f->nv, v[2 * i], v[2 * i + 1]);
        if (n & 1)
            v[half] = v[n - 1];
        n = half + (n & 1);
    }
    return v[0];
}

/* One row half (h) of one 16-row block (mi): new max, exponentiate;
 * returns the factor alpha that rescales the row's earlier sums. */
static LLVMValueRef softmax_row(fa2 *f, int mi, int h, LLVMValueRef s[FA_MAXMR][FA_MAXN][4], LLVMValueRef *m,
                                LLVMValueRef *l)
{
    const fa_plan *p = f->p;
    LLVMBuilderRef b = f->nv.b;
    bool raw = raw_scores(p);
    LLVMValueRef k = raw ? nv_f32(&f->nv, p->score_k) : NULL;
    LLVMValueRef all[2 * FA_MAXN + 1];
    int n = 0;
    if (!raw) /* the running max joins (raw: it joins after the scale below) */
        all[n++] = *m;
    for (int nb = 0; nb < p->Tk / 8; nb++)
        for (int e = 0; e < 2; e++)
            all[n++] = s[mi][nb][2 * h + e];
    LLVMValueRef mx = quad_max(f, fmax_all(f, all, n));
    if (raw) /* k > 0: the max of the scores is k times the max of raw s (and -inf stays -inf) */
        mx = nv_fmax(&f->nv, *m, LLVMBuildFMul(b, mx, k, ""));
    if (p->skip_rescale == 2) /* lazy: keep m while the new max is at most 2^8 above it (never from -inf) */
        mx = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLE, LLVMBuildFSub(b, mx, *m, ""), nv_f32(&f->nv, LAZY_MAX), ""),
                             *m, mx, "");
    LLVMValueRef dead = LLVMBuildFCmp(b, LLVMRealOEQ, mx, nv_f32(&f->nv, -INFINITY), "");
    LLVMValueRef base = LLVMBuildSelect(b, dead, nv_f32(&f->nv, 0), mx, "");
    LLVMValueRef alpha = nv_ex2(&f->nv, LLVMBuildFSub(b, *m, base, ""));
    if (p->skip_rescale) /* exactly 1 where the max stays (fa2_rescale skips it) */
        alpha = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNE, mx, *m, ""), alpha, nv_f32(&f->nv, 1), "");
    LLVMValueRef sum = nv_f32(&f->nv, 0), nbase = raw ? LLVMBuildFNeg(b, base, "") : NULL;
    for (int nb = 0; nb < p->Tk / 8; nb++) {
        for (int e = 0; e < 2; e++) {
            LLVMValueRef *v = &s[mi][nb][2 * h + e];
            *v = nv_ex2(&f->nv, raw ? nv_fma(&f->nv, *v, k, nbase) : LLVMBuildFSub(b, *v, base, ""));
            sum = LLVMBuildFAdd(b, sum, *v, "");
        }
    }
    *l = LLVMBuildFAdd(b, LLVMBuildFMul(b, *l, alpha, ""), sum, "");
    *m = mx;
    return alpha;
}

static void rescale_row(fa2 *f, int mi, int h, LLVMValueRef alpha, LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    for (int nb = 0; nb < f->p->Dv / 8; nb++)
        for (int e = 0; e < 2; e++)
            acc[mi][nb][2 * h + e] = LLVMBuildFMul(f->nv.b, acc[mi][nb][2 * h + e], alpha, "");
}

void fa2_softmax(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4], LLVMValueRef m[FA_MAXMR][2],
                 LLVMValueRef l[FA_MAXMR][2], LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    if (f->p->skip_rescale) {
        LLVMValueRef alpha[FA_MAXMR][2];
        fa2_softmax_alpha(f, s, m, l, alpha);
        fa2_rescale(f, alpha, acc);
        return;
    }
    for (int mi = 0; mi < f->p->MR; mi++)
        for (int h = 0; h < 2; h++)
            rescale_row(f, mi, h, softmax_row(f, mi, h, s, &m[mi][h], &l[mi][h]), acc);
}

void fa2_softmax_alpha(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4], LLVMValueRef m[FA_MAXMR][2],
                       LLVMValueRef l[FA_MAXMR][2], LLVMValueRef alpha[FA_MAXMR][2])
{
    for (int mi = 0; mi < f->p->MR; mi++)
        for (int h = 0; h < 2; h++)
            alpha[mi][h] = softmax_row(f, mi, h, s, &m[mi][h], &l[mi][h]);
}

/* Under skip_rescale the multiplies run only when some thread of the warp
 * has an alpha other than 1 (a vote; NaN counts as other): once the row
 * maxima settle most key tiles skip them, and skipping a multiply by 1
 * changes no bit. O crosses the branch in a fragment variable. */
void fa2_rescale(fa2 *f, LLVMValueRef alpha[FA_MAXMR][2], LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    LLVMBasicBlockRef join = NULL;
    nt_fvar ov;
    if (f->p->skip_rescale) {
        LLVMValueRef other = LLVMConstInt(nv->i1, 0, false);
        for (int mi = 0; mi < f->p->MR; mi++)
            for (int h = 0; h < 2; h++)
                other = LLVMBuildOr(nv->b, other, LLVMBuildFCmp(nv->b, LLVMRealUNE, alpha[mi][h], nv_f32(nv, 1), ""),
                                    "");
        LLVMValueRef any = nv_call(nv, "llvm.nvvm.vote.any.sync", NULL, 0, (LLVMValueRef[]){nv_i32(nv, -1), other}, 2);
        nt_frag o;
        fa2_frag(f, &o, acc, f->p->Dv);
        ov = nt_fvar_new(t, &o);
        join = nt_if(t, any);
    }
    for (int mi = 0; mi < f->p->MR; mi++)
        for (int h = 0; h < 2; h++)
            rescale_row(f, mi, h, alpha[mi][h], acc);
    if (join) {
        nt_frag o;
        fa2_frag(f, &o, acc, f->p->Dv);
        nt_fvar_set(t, &ov, &o);
        nt_endif(t, join);
        nt_fvar_get(t, &ov, &o);
        fa2_unfrag(&o, acc);
    }
}

LLVMValueRef fa2_elem_ptr(fa2 *f, int tensor, LLVMValueRef tok, LLVMValueRef col, int esize)
{
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef idx[3] = {f->batch, f->head, tok};
    LLVMValueRef e = LLVMBuildZExt(b, col, f->nv.i64, "");
    for (int i = 0; i < 3; i++)
        e = LLVMBuildAdd(b, e, LLVMBuildMul(b, LLVMBuildSExt(b, idx[i], f->nv.i64, ""), f->stride[tensor][i], ""), "");
    return nv_gep(&f->nv, f->tens[tensor], LLVMBuildMul(b, e, nv_i64(&f->nv, esize), ""));
}

/* A row's 1 / l (0 for a row that kept no key) and LSE (-inf there). */
static void row_stats(fa2 *f, LLVMValueRef m, LLVMValueRef l, LLVMValueRef *inv, LLVMValueRef *lse)
{
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef lsum = quad_sum(f, l);
    /* l == 0: no key kept (O = 0, LSE = -inf); l NaN: a NaN row, kept NaN */
    LLVMValueRef live = LLVMBuildFCmp(b, LLVMRealUNE, lsum, nv_f32(&f->nv, 0), "");
    *inv = LLVMBuildSelect(b, live, nv_rcp(&f->nv, lsum), nv_f32(&f->nv, 0), "");
    LLVMValueRef e = LLVMBuildFAdd(b, m, nv_lg2(&f->nv, lsum), "");
    *lse = LLVMBuildSelect(b, live, LLVMBuildFMul(b, e, nv_f32(&f->nv, LN2), ""), nv_f32(&f->nv, -INFINITY), "");
}

/* Row tok's LSE stored by the first thread of its quad, where the kernel
 * stores it and the launch gave the tensor. */
static void store_lse(fa2 *f, LLVMValueRef tok, LLVMValueRef lse)
{
    LLVMBuilderRef b = f->nv.b;
    if (!f->p->store_lse)
        return;
    LLVMValueRef has = LLVMBuildICmp(b, LLVMIntNE, f->tens[T_LSE], LLVMConstNull(f->nv.pg), "");
    has = LLVMBuildAnd(b, has, LLVMBuildICmp(b, LLVMIntEQ, f->t4, nv_i32(&f->nv, 0), ""), "");
    LLVMBasicBlockRef j2 = nv_if(&f->nv, has, "st.lse");
    LLVMBuildStore(b, lse, fa2_elem_ptr(f, T_LSE, tok, nv_i32(&f->nv, 0), 4));
    nv_endif(&f->nv, j2);
}

static void store_row(fa2 *f, int mi, int h, LLVMValueRef m, LLVMValueRef l, LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    const fa_plan *p = f->p;
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef inv, lse;
    row_stats(f, m, l, &inv, &lse);
    LLVMValueRef tok = f->row_t[mi][h];
    bool staged = fa2_ostage_on(f); /* O through shared memory, every row (fa2_ostage_flush skips those out of bounds) */
    if (staged)
        fa2_ostage_write(f, h, inv, acc);
    LLVMBasicBlockRef join = nv_if(&f->nv, fa2_in_bounds(f, f->row_c[mi][h], f->qext), "st.row");
    /* One address for the row; the n-blocks are constant byte offsets from
     * it (a column computed in i32 and widened per store would cost a
     * 64-bit address computation per store, and the driver's JIT time). */
    LLVMValueRef col0 = LLVMBuildShl(b, f->t4, nv_i32(&f->nv, 1), "");
    LLVMValueRef row = staged ? NULL : fa2_elem_ptr(f, T_O, tok, col0, 2);
    for (int nb = 0; row && nb < p->Dv / 8; nb++) {
        LLVMValueRef lo = LLVMBuildFMul(b, acc[mi][nb][2 * h], inv, "");
        LLVMValueRef hi = LLVMBuildFMul(b, acc[mi][nb][2 * h + 1], inv, "");
        LLVMValueRef at = nv_gep(&f->nv, row, nv_i64(&f->nv, nb * 8 * 2));
        LLVMValueRef st = LLVMBuildStore(b, nv_pack2(&f->nv, p->dt, lo, hi), at);
        LLVMSetAlignment(st, 4);
    }
    store_lse(f, tok, lse);
    nv_endif(&f->nv, join);
}

void fa2_finalize(fa2 *f, LLVMValueRef m[FA_MAXMR][2], LLVMValueRef l[FA_MAXMR][2],
                  LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    if (fa2_ostage_on(f))
        fa2_ostage_reuse(f);
    for (int mi = 0; mi < f->p->MR; mi++)
        for (int h = 0; h < 2; h++)
            store_row(f, mi, h, m[mi][h], l[mi][h], acc);
    if (fa2_ostage_on(f))
        fa2_ostage_flush(f);
}

void fa2_finalize_stage(fa2 *f, LLVMValueRef m[FA_MAXMR][2], LLVMValueRef l[FA_MAXMR][2],
                        LLVMValueRef acc[FA_MAXMR][FA_MAXN][4], LLVMValueRef lse[2])
{
    fa2_ostage_reuse(f);
    for (int h = 0; h < 2; h++) {
        LLVMValueRef inv;
        row_stats(f, m[0][h], l[0][h], &inv, &lse[h]);
        fa2_ostage_write(f, h, inv, acc);
    }
}

void fa2_finalize_store(fa2 *f, LLVMValueRef lse[2])
{
    for (int h = 0; h < 2; h++) {
        LLVMBasicBlockRef join = nv_if(&f->nv, fa2_in_bounds(f, f->row_c[0][h], f->qext), "st.row");
        store_lse(f, f->row_t[0][h], lse[h]);
        nv_endif(&f->nv, join);
    }
    fa2_ostage_flush(f);
}
