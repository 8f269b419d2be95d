/* nvptx_linear_block.c — one block of C tokens of the linear-attention
 * kernel (nvptx_linear_tile.h) in tile operations:
 *   loads:   Q, K and the V columns of the CTA into a stage (cp.async,
 *            rows past the sequence zero-filled)
 *   outputs: o = 2^Γi (φ(q_i) S) + ((φ(Q) φ(K)^T) ⊙ M) V, M[i][j] =
 *            2^(Γi - Γj) for j <= i, else 0, 16 keys at a time (the
 *            scores of 16 rows x 16 keys, masked, become the A operand)
 *   update:  S <- 2^Γlast S + (w ⊙ φ(K))^T V, w_j = 2^(Γlast - Γj) on V
 * The A operand of K^T is K read transposed (ldmatrix .trans). */
#include "nvptx_linear_tile.h"

static LLVMValueRef c32(lk *L, long long v)
{
    return nv_i32(&L->t.nv, v);
}

static LLVMValueRef add(lk *L, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildAdd(L->t.nv.b, a, b, "");
}

static LLVMValueRef mul(lk *L, LLVMValueRef a, long long k)
{
    return LLVMBuildMul(L->t.nv.b, a, c32(L, k), "");
}

/* The stage's Q or K tile (C x D) and V tile (C x vt); the S mirror (D x vt). */
static nt_smem qk_tile(lk *L, int off)
{
    return nt_tile(&L->t, add(L, L->stage_off, c32(L, off)), L->p->C, L->p->D, DT_BF16, L->pitch_qk);
}

static nt_smem v_tile(lk *L)
{
    return nt_tile(&L->t, add(L, L->stage_off, c32(L, L->off_v)), L->p->C, L->p->vt, DT_BF16, L->pitch_v);
}

static nt_smem x_tile(lk *L)
{
    return nt_tile(&L->t, add(L, L->stage_off, c32(L, L->off_x)), L->p->C, L->p->vt, DT_BF16, L->pitch_v);
}

static nt_smem s_mirror(lk *L)
{
    return nt_tile(&L->t, c32(L, L->off_s), L->p->D, L->p->vt, DT_BF16, L->pitch_s);
}

static LLVMValueRef sext64(lk *L, LLVMValueRef v)
{
    return LLVMBuildSExt(L->t.nv.b, v, L->t.nv.i64, "");
}

/* Reversed row `row` of a rows_of tile under lk.aligned: scan row t' =
 * tok0 + row is token ntok - 1 - t', which exists when t' < limit and
 * the token < nreal. */
static LLVMValueRef rev_row_at(nt *t, LLVMValueRef row, LLVMValueRef *ok, void *ud)
{
    const struct lk_rev_rows *r = ud;
    lk *L = r->L;
    LLVMBuilderRef b = t->nv.b;
    LLVMValueRef i = LLVMBuildAdd(b, r->tok0, row, "");
    LLVMValueRef tok = LLVMBuildSub(b, LLVMBuildSub(b, L->ntok, c32(L, 1), ""), i, "");
    *ok = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSLT, i, r->limit, ""), LLVMBuildICmp(b, LLVMIntSLT, tok, L->nreal, ""), "");
    tok = LLVMBuildSelect(b, *ok, tok, c32(L, 0), "");
    return LLVMBuildAdd(b, r->e, LLVMBuildMul(b, sext64(L, tok), r->rs, ""), "");
}

/* Rows tok0.. of tensor tt (batch, head) from column col (NULL: 0); rows
 * at or past `limit` tokens are out of bounds. */
static nt_gtile rows_of(lk *L, int tt, LLVMValueRef head, LLVMValueRef tok0, LLVMValueRef col, LLVMValueRef limit)
{
    LLVMBuilderRef b = L->t.nv.b;
    LLVMValueRef e = LLVMBuildMul(b, sext64(L, L->batch), L->stride[tt][0], "");
    e = LLVMBuildAdd(b, e, LLVMBuildMul(b, sext64(L, head), L->stride[tt][1], ""), "");
    if (col)
        e = LLVMBuildAdd(b, e, LLVMBuildZExt(b, col, L->t.nv.i64, ""), "");
    if (L->aligned) {
        L->rev_rows[tt] = (struct lk_rev_rows){L, e, L->stride[tt][2], tok0, limit};
        nt_gtile g = {L->tens[tt], e, tok0, L->stride[tt][2], NULL, L->p->dt, rev_row_at, &L->rev_rows[tt]};
        return g;
    }
    LLVMValueRef rs = L->stride[tt][2];
    if (L->reverse) { /* row t' at token ntok - 1 - t' */
        LLVMValueRef last = sext64(L, LLVMBuildSub(b, L->ntok, c32(L, 1), ""));
        e = LLVMBuildAdd(b, e, LLVMBuildMul(b, last, rs, ""), "");
        rs = LLVMBuildNeg(b, rs, "");
    }
    nt_gtile g = {L->tens[tt], e, tok0, rs, LLVMBuildSub(b, limit, tok0, ""), L->p->dt, NULL, NULL};
    return g;
}

void lk_issue_block(lk *L, LLVMValueRef j, LLVMValueRef stage_off, bool load_q)
{
    const lin_plan *p = L->p;
    LLVMValueRef t0 = mul(L, j, p->C), keep = L->stage_off;
    L->stage_off = stage_off;
    if (load_q)
        nt_copy_g2s(&L->t, qk_tile(L, L->off_q), rows_of(L, LT_Q, L->head, t0, NULL, L->t_limit));
    nt_copy_g2s(&L->t, qk_tile(L, L->off_k), rows_of(L, LT_K, L->kv_head, t0, NULL, L->t_limit));
    LLVMValueRef vcol = p->wide ? NULL : L->col0; /* wide: the V tile holds all of Dv */
    nt_copy_g2s(&L->t, v_tile(L), rows_of(L, LT_V, L->kv_head, t0, vcol, L->t_limit));
    if (L->fused && load_q)
        nt_copy_g2s(&L->t, x_tile(L), rows_of(L, LT_X, L->kv_head, t0, NULL, L->t_limit));
    L->stage_off = keep;
}

static LLVMValueRef feature(nt *t, LLVMValueRef x, LLVMValueRef row, LLVMValueRef col, void *ud)
{
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    (void)row, (void)col;
    LLVMValueRef pos = LLVMBuildFCmp(b, LLVMRealOGT, x, nv_f32(nv, 0), "");
    switch (((lk *)ud)->p->feature) {
    case FEATURE_RELU: return LLVMBuildSelect(b, pos, x, nv_f32(nv, 0), "");
    case FEATURE_ELU1: {
        LLVMValueRef e = nv_ex2(nv, LLVMBuildFMul(b, nv_fmax(nv, x, nv_f32(nv, -100)), nv_f32(nv, 1.4426950408889634), ""));
        return LLVMBuildSelect(b, pos, LLVMBuildFAdd(b, x, nv_f32(nv, 1), ""), e, "");
    }
    default: return x;
    }
}

/* φ over the staged Q and K (and f16 -> bf16 of every tile); rows past the
 * sequence become exact zeros (φ(0) need not be 0). */
void lk_transform(lk *L, bool with_q)
{
    LLVMValueRef rows = LLVMBuildSub(L->t.nv.b, L->ntok, L->t0, "");
    if (with_q)
        nt_smem_map(&L->t, qk_tile(L, L->off_q), L->p->dt, rows, feature, L);
    nt_smem_map(&L->t, qk_tile(L, L->off_k), L->p->dt, rows, feature, L);
    if (L->p->dt == DT_F16)
        nt_smem_map(&L->t, v_tile(L), DT_F16, rows, NULL, NULL);
    if (L->p->dt == DT_F16 && L->fused && with_q)
        nt_smem_map(&L->t, x_tile(L), DT_F16, rows, NULL, NULL);
}

static LLVMValueRef f32_at(lk *L, int off, LLVMValueRef idx)
{
    return nt_sptr(&L->t, add(L, c32(L, off), LLVMBuildShl(L->t.nv.b, idx, c32(L, 2), "")));
}

static LLVMValueRef load_f32(lk *L, int off, LLVMValueRef idx)
{
    return LLVMBuildLoad2(L->t.nv.b, L->t.nv.f32, f32_at(L, off, idx), "");
}

/* Element index of gate[batch, head, t] for a [b, h, t], [h, t] or [t] param. */
static LLVMValueRef gate_index(lk *L, LLVMValueRef tok)
{
    LLVMBuilderRef b = L->t.nv.b;
    int nd = L->p->k->params[L->p->decay_param].ndim;
    LLVMValueRef bh = nv_i64(&L->t.nv, 0);
    if (nd >= 2)
        bh = sext64(L, L->head);
    if (nd >= 3)
        bh = LLVMBuildAdd(b, LLVMBuildMul(b, sext64(L, L->batch), sext64(L, L->size[SZ_HEADS]), ""), bh, "");
    return LLVMBuildAdd(b, LLVMBuildMul(b, bh, sext64(L, L->nreal), ""), sext64(L, tok), "");
}

/* graw[i] = log2 gate of token t0+i (0 past the end), clamped at -64 nats;
 * gam[i] = graw[0] + ... + graw[i]. Contains a barrier: all threads call it. */
void lk_gates(lk *L)
{
    nv_ctx *nv = &L->t.nv;
    LLVMBuilderRef b = nv->b;
    int C = L->p->C;
    LLVMValueRef tid = L->t.tid, mine = LLVMBuildICmp(b, LLVMIntULT, tid, c32(L, C), "");
    LLVMBasicBlockRef join = nt_if(&L->t, mine);
    LLVMValueRef tok = add(L, L->t0, tid);
    LLVMValueRef live = LLVMBuildICmp(b, LLVMIntSLT, tok, L->ntok, "");
    if (L->reverse) { /* the gate between t' - 1 and t' is token ntok - t''s (if < nreal) */
        tok = LLVMBuildSub(b, L->ntok, tok, "");
        live = LLVMBuildAnd(b, live, LLVMBuildICmp(b, LLVMIntSLT, tok, L->nreal, ""), "");
    }
    LLVMValueRef off = LLVMBuildSelect(b, live, LLVMBuildShl(b, gate_index(L, tok), nv_i64(nv, 2), ""), nv_i64(nv, 0), "");
    LLVMValueRef gv = LLVMBuildLoad2(b, nv->f32, nv_gep(nv, L->param[L->p->decay_param], off), "gate");
    LLVMSetAlignment(gv, 4);
    gv = LLVMBuildFMul(b, nv_fmax(nv, gv, nv_f32(nv, -64.0)), nv_f32(nv, 1.4426950408889634), "");
    LLVMBuildStore(b, LLVMBuildSelect(b, live, gv, nv_f32(nv, 0), ""), f32_at(L, L->off_graw, tid));
    nt_endif(&L->t, join);
    nt_barrier(&L->t);
    join = nt_if(&L->t, mine);
    LLVMValueRef sum = nv_f32(nv, 0);
    for (int u = 0; u < C; u++) {
        LLVMValueRef in = LLVMBuildICmp(b, LLVMIntULE, c32(L, u), tid, "");
        sum = LLVMBuildFAdd(b, sum, LLVMBuildSelect(b, in, load_f32(L, L->off_graw, c32(L, u)), nv_f32(nv, 0), ""), "");
    }
    LLVMBuildStore(b, sum, f32_at(L, L->off_gam, tid));
    nt_endif(&L->t, join);
}

/* Γ of in-block row `row` (i32). */
LLVMValueRef lk_gamma(lk *L, LLVMValueRef row)
{
    if (L->p->decay == DECAY_PER_TOKEN)
        return load_f32(L, L->off_gam, row);
    LLVMValueRef n = LLVMBuildSIToFP(L->t.nv.b, add(L, row, c32(L, 1)), L->t.nv.f32, "");
    return LLVMBuildFMul(L->t.nv.b, n, L->log2_lambda, "");
}

static LLVMValueRef bf16_at(lk *L, LLVMValueRef byte_off)
{
    nv_ctx *nv = &L->t.nv;
    LLVMValueRef h = LLVMBuildLoad2(nv->b, nv->i16, nt_sptr(&L->t, byte_off), "");
    LLVMValueRef x = LLVMBuildShl(nv->b, LLVMBuildZExt(nv->b, h, nv->i32, ""), c32(L, 16), "");
    return LLVMBuildBitCast(nv->b, x, nv->f32, "");
}

/* φ(q_row) · z for in-block row `row`, summed over the quad (dims t4 + 4u). */
static LLVMValueRef q_dot_z(lk *L, LLVMValueRef row)
{
    nv_ctx *nv = &L->t.nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef base = add(L, add(L, L->stage_off, c32(L, L->off_q)), mul(L, row, L->pitch_qk));
    LLVMValueRef acc = nv_f32(nv, 0);
    for (int u = 0; u < L->p->D / 4; u++) {
        LLVMValueRef d = add(L, L->t.t4, c32(L, 4 * u));
        LLVMValueRef q = bf16_at(L, add(L, base, LLVMBuildShl(b, d, c32(L, 1), "")));
        acc = LLVMBuildFAdd(b, acc, LLVMBuildFMul(b, q, load_f32(L, L->off_z, d), ""), "");
    }
    acc = LLVMBuildFAdd(b, acc, nv_shfl_xor_f32(nv, acc, 1), "");
    return LLVMBuildFAdd(b, acc, nv_shfl_xor_f32(nv, acc, 2), "");
}

/* z <- 2^Γlast z + Σ_j 2^(Γlast - Γj) φ(k_j), one dim per thread. */
void lk_update_z(lk *L)
{
    nv_ctx *nv = &L->t.nv;
    LLVMBuilderRef b = nv->b;
    const lin_plan *p = L->p;
    for (int i = 0; i * L->t.threads < p->D; i++) {
        LLVMValueRef d = add(L, L->t.tid, c32(L, i * L->t.threads));
        LLVMBasicBlockRef join = nt_if(&L->t, LLVMBuildICmp(b, LLVMIntULT, d, c32(L, p->D), ""));
        LLVMValueRef z = load_f32(L, L->off_z, d);
        if (L->gam_last)
            z = LLVMBuildFMul(b, z, nv_ex2(nv, L->gam_last), "");
        LLVMValueRef col = add(L, add(L, L->stage_off, c32(L, L->off_k)), LLVMBuildShl(b, d, c32(L, 1), ""));
        for (int j = 0; j < p->C; j++) {
            LLVMValueRef k = bf16_at(L, add(L, col, c32(L, j * L->pitch_qk)));
            if (L->gam_last) {
                LLVMValueRef ex = LLVMBuildFSub(b, L->gam_last, lk_gamma(L, c32(L, j)), "");
                k = LLVMBuildFMul(b, k, nv_ex2(nv, ex), "");
            }
            z = LLVMBuildFAdd(b, z, k, "");
        }
        LLVMBuildStore(b, z, f32_at(L, L->off_z, d));
        nt_endif(&L->t, join);
    }
}

typedef struct mask_ctx {
    lk *L;
    int np;       /* key pair: keys 16 np.. of the block */
    bool decayed;
} mask_ctx;

/* Score (row, col) of the warp's rows x key pair np: kept for keys up to
 * the row, decayed by 2^(Γi - Γj). */
static LLVMValueRef mask(nt *t, LLVMValueRef v, LLVMValueRef row, LLVMValueRef col, void *ud)
{
    mask_ctx *m = ud;
    lk *L = m->L;
    LLVMBuilderRef b = t->nv.b;
    LLVMValueRef ri = add(L, mul(L, L->rg, 16), row), jj = add(L, col, c32(L, 16 * m->np));
    if (m->decayed) {
        LLVMValueRef x;
        if (L->p->decay == DECAY_PER_HEAD)
            x = LLVMBuildFMul(b, LLVMBuildSIToFP(b, LLVMBuildSub(b, ri, jj, ""), t->nv.f32, ""), L->log2_lambda, "");
        else
            x = LLVMBuildFSub(b, lk_gamma(L, ri), lk_gamma(L, jj), "");
        v = LLVMBuildFMul(b, v, nv_ex2(&t->nv, x), "");
    }
    return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLE, jj, ri, ""), v, nv_f32(&t->nv, 0), "");
}

/* o += ((φ(Q) φ(K)^T) ⊙ M) V, 16 keys at a time: the scores of the warp's
 * 16 rows x 16 keys, masked, then at once their product with V, so 8
 * score registers are live. Key pairs wholly after the warp's rows are
 * skipped (warp-uniform). den (NULL: no normaliser) gains the row sums. */
static void intra(lk *L, const nt_frag *qf, nt_frag *o, LLVMValueRef den[2], bool decayed)
{
    nt *t = &L->t;
    const lin_plan *p = L->p;
    nt_fvar ov = nt_fvar_new(t, o);
    LLVMValueRef dv[2] = {NULL, NULL};
    for (int h = 0; den && h < 2; h++)
        dv[h] = nt_var(t, t->nv.f32, den[h], "den");
    for (int np = 0; np < p->C / 16; np++) {
        LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(t->nv.b, LLVMIntULE, c32(L, np), L->rg, ""));
        nt_frag s, a, acc;
        nt_zero(t, &s, 16, 16);
        nt_mma(t, &s, nt_reg(qf), nt_shared(nt_sub(t, qk_tile(L, L->off_k), c32(L, 16 * np), c32(L, 0), 16, p->D), true),
               DT_BF16);
        mask_ctx m = {L, np, decayed};
        nt_map(t, &s, mask, &m);
        if (den) {
            LLVMValueRef sum[2];
            nt_row_sum(t, &s, sum);
            for (int h = 0; h < 2; h++)
                nt_set(t, dv[h], LLVMBuildFAdd(t->nv.b, nt_get(t, dv[h]), sum[h], ""));
        }
        nt_to_a(t, &a, &s, DT_BF16);
        nt_fvar_get(t, &ov, &acc);
        nt_mma(t, &acc, nt_reg(&a), nt_shared(nt_sub(t, v_tile(L), c32(L, 16 * np), L->wcol, 16, p->dvs), false),
               DT_BF16);
        nt_fvar_set(t, &ov, &acc);
        nt_endif(t, join);
    }
    nt_fvar_get(t, &ov, o);
    for (int h = 0; den && h < 2; h++)
        den[h] = nt_get(t, dv[h]);
}

/* Rows of the warp's 16 query rows, divided by den (NULL: none; a zero
 * denominator gives 0), into o's columns col0... */
static void store_o(lk *L, nt_frag *o, LLVMValueRef den[2])
{
    nt *t = &L->t;
    LLVMBuilderRef b = t->nv.b;
    if (den) {
        LLVMValueRef inv[2];
        for (int h = 0; h < 2; h++) {
            LLVMValueRef nz = LLVMBuildFCmp(b, LLVMRealONE, den[h], nv_f32(&t->nv, 0), "");
            inv[h] = LLVMBuildSelect(b, nz, LLVMBuildFDiv(b, nv_f32(&t->nv, 1), den[h], ""), nv_f32(&t->nv, 0), "");
        }
        nt_scale_rows(t, o, inv);
    }
    LLVMValueRef row0 = add(L, L->t0, mul(L, L->rg, 16));
    nt_store_global(t, o, rows_of(L, LT_O, L->head, row0, L->col0, L->ntok));
}

/* Token (i32) of in-block row `row` of the warp and whether it exists. */
static LLVMValueRef real_token(lk *L, LLVMValueRef row, LLVMValueRef *live)
{
    LLVMBuilderRef b = L->t.nv.b;
    LLVMValueRef i = add(L, L->t0, add(L, mul(L, L->rg, 16), row));
    *live = LLVMBuildICmp(b, LLVMIntSLT, i, L->ntok, "");
    if (L->reverse) {
        i = LLVMBuildSub(b, LLVMBuildSub(b, L->ntok, c32(L, 1), ""), i, "");
        if (L->aligned)
            *live = LLVMBuildAnd(b, *live, LLVMBuildICmp(b, LLVMIntSLT, i, L->nreal, ""), "");
    }
    return LLVMBuildSelect(b, *live, i, c32(L, 0), "");
}

/* o (row, col) times the dot tensor's element of that row's token, column col0 + col. */
static LLVMValueRef dot_elem(nt *t, LLVMValueRef v, LLVMValueRef row, LLVMValueRef col, void *ud)
{
    lk *L = ud;
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef live, tok = real_token(L, row, &live);
    LLVMValueRef e = LLVMBuildMul(b, sext64(L, L->batch), L->dot_stride[0], "");
    e = LLVMBuildAdd(b, e, LLVMBuildMul(b, sext64(L, L->head), L->dot_stride[1], ""), "");
    e = LLVMBuildAdd(b, e, LLVMBuildMul(b, sext64(L, tok), L->dot_stride[2], ""), "");
    e = LLVMBuildAdd(b, e, sext64(L, add(L, L->col0, col)), "");
    LLVMValueRef x = LLVMBuildLoad2(b, L->p->dt == DT_F16 ? nv->f16 : nv->bf16,
                                    nv_gep(nv, L->dot_ptr, LLVMBuildShl(b, e, nv_i64(nv, 1), "")), "");
    LLVMSetAlignment(x, 2);
    x = LLVMBuildFPExt(b, x, nv->f32, "");
    return LLVMBuildSelect(b, live, LLVMBuildFMul(b, v, x, ""), nv_f32(nv, 0), "");
}

static void dot_store(lk *L, LLVMValueRef sum[2]);

/* DX (row, col) times the staged Q tile's element (the warp's row, column col0 + col). */
static LLVMValueRef q_elem(nt *t, LLVMValueRef v, LLVMValueRef row, LLVMValueRef col, void *ud)
{
    lk *L = ud;
    LLVMValueRef r = add(L, mul(L, L->rg, 16), row);
    LLVMValueRef off = add(L, add(L, L->stage_off, c32(L, L->off_q)), mul(L, r, L->pitch_qk));
    off = add(L, off, LLVMBuildShl(t->nv.b, add(L, L->col0, col), c32(L, 1), ""));
    return LLVMBuildFMul(t->nv.b, v, bf16_at(L, off), "");
}

/* The rows' dot products of o (f32, before rounding) with the dot tensor,
 * one partial per column group, into the workspace (lk's dot_*). */
static void dot_rows(lk *L, const nt_frag *o)
{
    nt *t = &L->t;
    nt_frag prod = *o;
    nt_map(t, &prod, dot_elem, L);
    LLVMValueRef sum[2];
    nt_row_sum(t, &prod, sum);
    dot_store(L, sum);
}

/* The warp's row sums (row slots 0, 1) to the workspace, one slot per column group. */
static void dot_store(lk *L, LLVMValueRef sum[2])
{
    nt *t = &L->t;
    LLVMBuilderRef b = t->nv.b;
    LLVMValueRef slot = add(L, c32(L, L->dot_slot), LLVMBuildUDiv(b, L->col0, c32(L, L->p->dvs), ""));
    LLVMValueRef bh = add(L, LLVMBuildMul(b, L->batch, L->size[SZ_HEADS], ""), L->head);
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, t->t4, c32(L, 0), ""));
    for (int h = 0; h < 2; h++) {
        LLVMValueRef live, tok = real_token(L, nt_row(t, h), &live);
        LLVMBasicBlockRef j2 = nt_if(t, live);
        LLVMValueRef idx = LLVMBuildAdd(b, LLVMBuildMul(b, sext64(L, bh), sext64(L, L->nreal), ""), sext64(L, tok), "");
        idx = LLVMBuildAdd(b, LLVMBuildShl(b, idx, nv_i64(&t->nv, 3), ""), sext64(L, slot), ""); /* 8 f32 a token */
        LLVMValueRef st = LLVMBuildStore(b, sum[h], nv_gep(&t->nv, L->dot_ws, LLVMBuildShl(b, idx, nv_i64(&t->nv, 2), "")));
        LLVMSetAlignment(st, 4);
        nt_endif(t, j2);
    }
    nt_endif(t, join);
}

/* Fused: the warp's 16 rows of DX over columns col0.. (dvs of them):
 * 2^Γi (X S^T) from the mirror read transposed, plus per key slab the
 * masked scores X V^T times K's rows; the rows' dot products with the
 * staged Q tile (f32) into the workspace; then the store. */
static void fused_dx(lk *L, const LLVMValueRef scale[2], bool decayed)
{
    nt *t = &L->t;
    const lin_plan *p = L->p;
    /* X's rows are read from shared memory per k16 slab (no 32-register A
     * fragment live beside the state: that spilled) */
    nt_opnd xs = nt_shared(nt_sub(t, x_tile(L), mul(L, L->rg, 16), c32(L, 0), 16, p->Dv), false);
    nt_frag dx;
    nt_zero(t, &dx, 16, p->dvs);
    nt_mma(t, &dx, xs, nt_shared(nt_sub(t, s_mirror(L), L->wcol, c32(L, 0), p->dvs, p->Dv), true), DT_BF16);
    LLVMValueRef sc[2] = {scale[0], scale[1]};
    nt_scale_rows(t, &dx, sc);
    nt_fvar dv = nt_fvar_new(t, &dx);
    for (int np = 0; np < p->C / 16; np++) {
        LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(t->nv.b, LLVMIntULE, c32(L, np), L->rg, ""));
        nt_frag s, a, acc;
        nt_zero(t, &s, 16, 16);
        nt_mma(t, &s, xs, nt_shared(nt_sub(t, v_tile(L), c32(L, 16 * np), c32(L, 0), 16, p->Dv), true),
               DT_BF16);
        mask_ctx m = {L, np, decayed};
        nt_map(t, &s, mask, &m);
        nt_to_a(t, &a, &s, DT_BF16);
        nt_fvar_get(t, &dv, &acc);
        nt_mma(t, &acc, nt_reg(&a), nt_shared(nt_sub(t, qk_tile(L, L->off_k), c32(L, 16 * np), L->wcol, 16, p->dvs), false),
               DT_BF16);
        nt_fvar_set(t, &dv, &acc);
        nt_endif(t, join);
    }
    nt_fvar_get(t, &dv, &dx);
    if (L->dots) { /* the dot with the staged Q rows (k), columns col0.. */
        nt_frag prod = dx;
        nt_map(t, &prod, q_elem, L);
        LLVMValueRef sum[2];
        nt_row_sum(t, &prod, sum);
        dot_store(L, sum);
    }
    LLVMValueRef row0 = add(L, L->t0, mul(L, L->rg, 16));
    nt_store_global(t, &dx, rows_of(L, LT_DX, L->head, row0, L->col0, L->ntok));
}

void lk_outputs(lk *L, bool intra_part, bool decayed)
{
    nt *t = &L->t;
    const lin_plan *p = L->p;
    nt_frag qf, o;
    nt_load(t, &qf, NT_A, nt_sub(t, qk_tile(L, L->off_q), mul(L, L->rg, 16), c32(L, 0), 16, p->D), false);
    nt_zero(t, &o, 16, p->dvs); /* inter: φ(Q) S from the bf16 mirror */
    nt_mma(t, &o, nt_reg(&qf), nt_shared(nt_sub(t, s_mirror(L), c32(L, 0), L->wcol, p->D, p->dvs), false), DT_BF16);
    LLVMValueRef scale[2] = {NULL, NULL}, den[2] = {NULL, NULL};
    for (int h = 0; h < 2; h++) {
        LLVMValueRef row = add(L, mul(L, L->rg, 16), nt_row(t, h));
        if (decayed)
            scale[h] = nv_ex2(&t->nv, lk_gamma(L, row));
        if (p->normalize) {
            den[h] = q_dot_z(L, row);
            if (scale[h])
                den[h] = LLVMBuildFMul(t->nv.b, den[h], scale[h], "");
        }
    }
    nt_scale_rows(t, &o, scale);
    if (intra_part)
        intra(L, &qf, &o, p->normalize ? den : NULL, decayed);
    if (L->dot_ptr && !L->fused)
        dot_rows(L, &o);
    store_o(L, &o, p->normalize ? den : NULL);
    if (L->fused)
        fused_dx(L, scale, decayed);
}

typedef struct weight_ctx {
    lk *L;
    int kk;
} weight_ctx;

/* V (row, col) of key slab kk times 2^(Γlast - Γj). */
static LLVMValueRef weight(nt *t, LLVMValueRef v, LLVMValueRef row, LLVMValueRef col, void *ud)
{
    weight_ctx *w = ud;
    (void)col;
    LLVMValueRef j = add(w->L, row, c32(w->L, 16 * w->kk));
    LLVMValueRef x = LLVMBuildFSub(t->nv.b, w->L->gam_last, lk_gamma(w->L, j), "");
    return LLVMBuildFMul(t->nv.b, v, nv_ex2(&t->nv, x), "");
}

void lk_state_update(lk *L, nt_frag *S, bool decayed)
{
    nt *t = &L->t;
    const lin_plan *p = L->p;
    int DR = p->D / p->rgs;
    if (decayed) {
        LLVMValueRef a[NT_FRAG_MAX / 8], e = nv_ex2(&t->nv, L->gam_last);
        for (int i = 0; i < S->rows / 8; i++)
            a[i] = e;
        nt_scale_rows(t, S, a);
    }
    for (int kk = 0; kk < p->C / 16; kk++) {
        nt_frag v;
        nt_load(t, &v, NT_B, nt_sub(t, v_tile(L), c32(L, 16 * kk), L->wcol, 16, p->dvs), false);
        weight_ctx w = {L, kk};
        if (decayed)
            nt_map(t, &v, weight, &w);
        nt_smem kt = nt_sub(t, qk_tile(L, L->off_k), c32(L, 16 * kk), mul(L, L->rg, DR), 16, DR);
        nt_mma(t, S, nt_shared(kt, true), nt_reg(&v), DT_BF16);
    }
}

/* The bf16 mirror of the warp's state rows, read by every warp's inter product. */
void lk_state_publish(lk *L, const nt_frag *S)
{
    int DR = L->p->D / L->p->rgs;
    nt_store_shared(&L->t, S, nt_sub(&L->t, s_mirror(L), mul(L, L->rg, DR), L->wcol, DR, L->p->dvs));
}
