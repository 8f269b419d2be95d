/* nvptx_linear_io.c — memory side of the linear-attention kernel
 * (nvptx_linear.h): cp.async copies of a block's Q, K and V-slice rows into
 * a stage (rows past the sequence are zero-filled, global memory untouched),
 * the in-place pass applying the feature map (and f16 -> bf16), the per-token
 * log gates and their in-block prefix sums Γ, the normaliser z, and the
 * output stores. */
#include "nvptx_linear.h"

LLVMValueRef lin_smem(lin *L, LLVMValueRef byte_off)
{
    return nv_gep(&L->nv, L->smem, byte_off);
}

LLVMValueRef lin_wcol(lin *L, LLVMValueRef byte_off)
{
    return L->wcol ? LLVMBuildAdd(L->nv.b, byte_off, L->wcol, "") : byte_off;
}

static LLVMValueRef sext64(lin *L, LLVMValueRef v)
{
    return LLVMBuildSExt(L->nv.b, v, L->nv.i64, "");
}

/* Element offset of row (batch, head, tok) of tensor t. */
static LLVMValueRef row_elem(lin *L, int t, LLVMValueRef head, LLVMValueRef tok)
{
    LLVMBuilderRef b = L->nv.b;
    LLVMValueRef e = LLVMBuildMul(b, sext64(L, L->batch), L->stride[t][0], "");
    e = LLVMBuildAdd(b, e, LLVMBuildMul(b, sext64(L, head), L->stride[t][1], ""), "");
    return LLVMBuildAdd(b, e, LLVMBuildMul(b, sext64(L, tok), L->stride[t][2], ""), "");
}

/* rows x chunks 16-byte pieces of tensor t from column col0 into the stage. */
static void copy_rows(lin *L, int t, LLVMValueRef t0, int chunks, int col0_elems, LLVMValueRef col_extra, int pitch,
                      LLVMValueRef dst_base)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    int total = L->p->C * chunks;
    LLVMValueRef head = t == LT_Q ? L->head : L->kv_head;
    for (int i = 0; i * L->threads < total; i++) {
        LLVMValueRef id = LLVMBuildAdd(b, L->tid, nv_i32(nv, i * L->threads), "");
        LLVMBasicBlockRef join = NULL;
        if ((i + 1) * L->threads > total)
            join = nv_if(&L->nv, LLVMBuildICmp(b, LLVMIntULT, id, nv_i32(nv, total), ""), "ld.tail");
        LLVMValueRef row = LLVMBuildUDiv(b, id, nv_i32(nv, chunks), "");
        LLVMValueRef ch = LLVMBuildURem(b, id, nv_i32(nv, chunks), "");
        LLVMValueRef tok = LLVMBuildAdd(b, t0, row, "");
        LLVMValueRef ok = LLVMBuildICmp(b, LLVMIntSLT, tok, L->t_limit, "");
        LLVMValueRef e = row_elem(L, t, head, tok);
        LLVMValueRef col = LLVMBuildAdd(b, LLVMBuildShl(b, ch, nv_i32(nv, 3), ""), nv_i32(nv, col0_elems), "");
        if (col_extra)
            col = LLVMBuildAdd(b, col, col_extra, "");
        e = LLVMBuildAdd(b, e, LLVMBuildZExt(b, col, nv->i64, ""), "");
        LLVMValueRef off = LLVMBuildSelect(b, ok, LLVMBuildShl(b, e, nv_i64(nv, 1), ""), nv_i64(nv, 0), "");
        LLVMValueRef dst = LLVMBuildAdd(b, LLVMBuildMul(b, row, nv_i32(nv, pitch), ""),
                                        LLVMBuildShl(b, ch, nv_i32(nv, 4), ""), "");
        dst = LLVMBuildAdd(b, dst, dst_base, "");
        LLVMValueRef bytes = LLVMBuildSelect(b, ok, nv_i32(nv, 16), nv_i32(nv, 0), "");
        nv_cp_async16(nv, lin_smem(L, dst), nv_gep(nv, L->tens[t], off), bytes);
        if (join)
            nv_endif(&L->nv, join);
    }
}

void lin_issue_block(lin *L, LLVMValueRef j, LLVMValueRef stage_off, bool load_q)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    const lin_plan *p = L->p;
    LLVMValueRef t0 = LLVMBuildMul(b, j, nv_i32(nv, p->C), "");
    LLVMValueRef vcol = p->wide ? NULL : LLVMBuildMul(b, L->slice, nv_i32(nv, p->dvs), ""); /* wide: all of Dv */
    if (load_q)
        copy_rows(L, LT_Q, t0, p->D / 8, 0, NULL, L->pitch_qk, LLVMBuildAdd(b, stage_off, nv_i32(nv, L->off_q), ""));
    copy_rows(L, LT_K, t0, p->D / 8, 0, NULL, L->pitch_qk, LLVMBuildAdd(b, stage_off, nv_i32(nv, L->off_k), ""));
    copy_rows(L, LT_V, t0, p->vt / 8, 0, vcol, L->pitch_v, LLVMBuildAdd(b, stage_off, nv_i32(nv, L->off_v), ""));
}

LLVMValueRef lin_bf16_lo(lin *L, LLVMValueRef pair)
{
    LLVMValueRef x = LLVMBuildShl(L->nv.b, pair, nv_i32(&L->nv, 16), "");
    return LLVMBuildBitCast(L->nv.b, x, L->nv.f32, "");
}

LLVMValueRef lin_bf16_hi(lin *L, LLVMValueRef pair)
{
    LLVMValueRef x = LLVMBuildAnd(L->nv.b, pair, nv_i32(&L->nv, (long long)0xffff0000u), "");
    return LLVMBuildBitCast(L->nv.b, x, L->nv.f32, "");
}

static void unpack(lin *L, LLVMValueRef pair, LLVMValueRef out[2])
{
    nv_ctx *nv = &L->nv;
    if (L->p->dt == DT_BF16) {
        out[0] = lin_bf16_lo(L, pair);
        out[1] = lin_bf16_hi(L, pair);
        return;
    }
    LLVMValueRef h2 = LLVMBuildBitCast(nv->b, pair, LLVMVectorType(nv->f16, 2), "");
    for (int i = 0; i < 2; i++)
        out[i] = LLVMBuildFPExt(nv->b, LLVMBuildExtractElement(nv->b, h2, nv_i32(nv, i), ""), nv->f32, "");
}

static LLVMValueRef feature(lin *L, LLVMValueRef x)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef pos = LLVMBuildFCmp(b, LLVMRealOGT, x, nv_f32(nv, 0), "");
    switch (L->p->feature) {
    case FEATURE_RELU: return LLVMBuildSelect(b, pos, x, nv_f32(nv, 0), "");
    case FEATURE_ELU1: {
        LLVMValueRef e = nv_ex2(nv, LLVMBuildFMul(b, nv_fmax(nv, x, nv_f32(nv, -100)), nv_f32(nv, 1.4426950408889634), ""));
        return LLVMBuildSelect(b, pos, LLVMBuildFAdd(b, x, nv_f32(nv, 1), ""), e, "");
    }
    default: return x;
    }
}

/* In place over `rows x cols` elements at base: bf16 of φ(x) (phi) or of x;
 * rows past the sequence become exact zeros (φ(0) need not be 0). */
static void transform_tile(lin *L, int base, int cols, int pitch, bool phi)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    int pairs = cols / 2, total = L->p->C * pairs;
    for (int i = 0; i * L->threads < total; i++) {
        LLVMValueRef id = LLVMBuildAdd(b, L->tid, nv_i32(nv, i * L->threads), "");
        LLVMBasicBlockRef join = NULL;
        if ((i + 1) * L->threads > total)
            join = nv_if(&L->nv, LLVMBuildICmp(b, LLVMIntULT, id, nv_i32(nv, total), ""), "tf.tail");
        LLVMValueRef row = LLVMBuildUDiv(b, id, nv_i32(nv, pairs), "");
        LLVMValueRef cp = LLVMBuildURem(b, id, nv_i32(nv, pairs), "");
        LLVMValueRef off = LLVMBuildAdd(b, LLVMBuildMul(b, row, nv_i32(nv, pitch), ""),
                                        LLVMBuildShl(b, cp, nv_i32(nv, 2), ""), "");
        off = LLVMBuildAdd(b, off, LLVMBuildAdd(b, L->stage_off, nv_i32(nv, base), ""), "");
        LLVMValueRef ptr = lin_smem(L, off);
        LLVMValueRef pair = LLVMBuildLoad2(b, nv->i32, ptr, "");
        LLVMValueRef x[2];
        unpack(L, pair, x);
        LLVMValueRef live = LLVMBuildICmp(b, LLVMIntSLT, LLVMBuildAdd(b, L->t0, row, ""), L->ntok, "");
        for (int e = 0; e < 2; e++) {
            if (phi)
                x[e] = feature(L, x[e]);
            x[e] = LLVMBuildSelect(b, live, x[e], nv_f32(nv, 0), "");
        }
        LLVMBuildStore(b, nv_pack2(nv, DT_BF16, x[0], x[1]), ptr);
        if (join)
            nv_endif(&L->nv, join);
    }
}

void lin_transform(lin *L, bool with_q)
{
    const lin_plan *p = L->p;
    if (with_q)
        transform_tile(L, L->off_q, p->D, L->pitch_qk, true);
    transform_tile(L, L->off_k, p->D, L->pitch_qk, true);
    if (p->dt == DT_F16)
        transform_tile(L, L->off_v, p->vt, L->pitch_v, false);
}

static LLVMValueRef load_f32(lin *L, int off, LLVMValueRef idx)
{
    nv_ctx *nv = &L->nv;
    LLVMValueRef o = LLVMBuildAdd(nv->b, nv_i32(nv, off), LLVMBuildShl(nv->b, idx, nv_i32(nv, 2), ""), "");
    return LLVMBuildLoad2(nv->b, nv->f32, lin_smem(L, o), "");
}

static void store_f32(lin *L, int off, LLVMValueRef idx, LLVMValueRef v)
{
    nv_ctx *nv = &L->nv;
    LLVMValueRef o = LLVMBuildAdd(nv->b, nv_i32(nv, off), LLVMBuildShl(nv->b, idx, nv_i32(nv, 2), ""), "");
    LLVMBuildStore(nv->b, v, lin_smem(L, o));
}

/* Element index of gate[batch, head, t] for a [b, h, t], [h, t] or [t] param. */
static LLVMValueRef gate_index(lin *L, LLVMValueRef tok)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    int nd = L->p->k->params[L->p->decay_param].ndim;
    LLVMValueRef bh = nv_i64(nv, 0);
    if (nd >= 2)
        bh = sext64(L, L->head);
    if (nd >= 3)
        bh = LLVMBuildAdd(b, LLVMBuildMul(b, sext64(L, L->batch), sext64(L, L->size[SZ_HEADS]), ""), bh, "");
    return LLVMBuildAdd(b, LLVMBuildMul(b, bh, sext64(L, L->ntok), ""), sext64(L, tok), "");
}

/* graw[i] = log2 gate of token t0+i (0 past the end), clamped at -64 nats;
 * gam[i] = graw[0] + ... + graw[i]. Contains a barrier: all threads call it. */
void lin_gates(lin *L)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    int C = L->p->C;
    LLVMValueRef mine = LLVMBuildICmp(b, LLVMIntULT, L->tid, nv_i32(nv, C), "");
    LLVMBasicBlockRef join = nv_if(&L->nv, mine, "gate.ld");
    LLVMValueRef tok = LLVMBuildAdd(b, L->t0, L->tid, "");
    LLVMValueRef live = LLVMBuildICmp(b, LLVMIntSLT, tok, L->ntok, "");
    LLVMValueRef off = LLVMBuildSelect(b, live, LLVMBuildShl(b, gate_index(L, tok), nv_i64(nv, 2), ""), nv_i64(nv, 0), "");
    LLVMValueRef gv = LLVMBuildLoad2(b, nv->f32, nv_gep(nv, L->param[L->p->decay_param], off), "gate");
    LLVMSetAlignment(gv, 4);
    gv = LLVMBuildFMul(b, nv_fmax(nv, gv, nv_f32(nv, -64.0)), nv_f32(nv, 1.4426950408889634), "");
    store_f32(L, L->off_graw, L->tid, LLVMBuildSelect(b, live, gv, nv_f32(nv, 0), ""));
    nv_endif(&L->nv, join);
    nv_barrier(nv);
    join = nv_if(&L->nv, mine, "gate.scan");
    LLVMValueRef sum = nv_f32(nv, 0);
    for (int u = 0; u < C; u++) {
        LLVMValueRef x = load_f32(L, L->off_graw, nv_i32(nv, u));
        LLVMValueRef in = LLVMBuildICmp(b, LLVMIntULE, nv_i32(nv, u), L->tid, "");
        sum = LLVMBuildFAdd(b, sum, LLVMBuildSelect(b, in, x, nv_f32(nv, 0), ""), "");
    }
    store_f32(L, L->off_gam, L->tid, sum);
    nv_endif(&L->nv, join);
}

/* Γ of in-block row `row` (i32). */
LLVMValueRef lin_gamma(lin *L, LLVMValueRef row)
{
    nv_ctx *nv = &L->nv;
    if (L->p->decay == DECAY_PER_TOKEN)
        return load_f32(L, L->off_gam, row);
    LLVMValueRef n = LLVMBuildSIToFP(nv->b, LLVMBuildAdd(nv->b, row, nv_i32(nv, 1), ""), nv->f32, "");
    return LLVMBuildFMul(nv->b, n, L->log2_lambda, "");
}

static LLVMValueRef bf16_at(lin *L, LLVMValueRef byte_off)
{
    nv_ctx *nv = &L->nv;
    LLVMValueRef h = LLVMBuildLoad2(nv->b, nv->i16, lin_smem(L, byte_off), "");
    LLVMValueRef x = LLVMBuildShl(nv->b, LLVMBuildZExt(nv->b, h, nv->i32, ""), nv_i32(nv, 16), "");
    return LLVMBuildBitCast(nv->b, x, nv->f32, "");
}

/* φ(q_row) · z for the row of this thread's half (rows g / g+8 of the warp),
 * summed over the four lanes of a quad. */
LLVMValueRef lin_q_dot_z(lin *L, int half)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef row = LLVMBuildAdd(b, LLVMBuildMul(b, L->warp, nv_i32(nv, 16), ""),
                                    LLVMBuildAdd(b, L->g, nv_i32(nv, 8 * half), ""), "");
    LLVMValueRef base = LLVMBuildAdd(b, LLVMBuildAdd(b, L->stage_off, nv_i32(nv, L->off_q), ""),
                                     LLVMBuildMul(b, row, nv_i32(nv, L->pitch_qk), ""), "");
    LLVMValueRef acc = nv_f32(nv, 0);
    for (int u = 0; u < L->p->D / 4; u++) {
        LLVMValueRef d = LLVMBuildAdd(b, L->t4, nv_i32(nv, 4 * u), "");
        LLVMValueRef q = bf16_at(L, LLVMBuildAdd(b, base, LLVMBuildShl(b, d, nv_i32(nv, 1), ""), ""));
        acc = LLVMBuildFAdd(b, acc, LLVMBuildFMul(b, q, load_f32(L, L->off_z, d), ""), "");
    }
    acc = LLVMBuildFAdd(b, acc, nv_shfl_xor_f32(nv, acc, 1), "");
    return LLVMBuildFAdd(b, acc, nv_shfl_xor_f32(nv, acc, 2), "");
}

/* z <- 2^Γlast z + Σ_j 2^(Γlast - Γj) φ(k_j), one dim per thread. */
void lin_update_z(lin *L)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    const lin_plan *p = L->p;
    for (int i = 0; i * L->threads < p->D; i++) {
        LLVMValueRef d = LLVMBuildAdd(b, L->tid, nv_i32(nv, i * L->threads), "");
        LLVMBasicBlockRef join = nv_if(&L->nv, LLVMBuildICmp(b, LLVMIntULT, d, nv_i32(nv, p->D), ""), "z.upd");
        LLVMValueRef z = load_f32(L, L->off_z, d);
        if (L->gam_last)
            z = LLVMBuildFMul(b, z, nv_ex2(nv, L->gam_last), "");
        LLVMValueRef col = LLVMBuildAdd(b, LLVMBuildAdd(b, L->stage_off, nv_i32(nv, L->off_k), ""),
                                        LLVMBuildShl(b, d, nv_i32(nv, 1), ""), "");
        for (int j = 0; j < p->C; j++) {
            LLVMValueRef k = bf16_at(L, LLVMBuildAdd(b, col, nv_i32(nv, j * L->pitch_qk), ""));
            if (L->gam_last) {
                LLVMValueRef ex = LLVMBuildFSub(b, L->gam_last, lin_gamma(L, nv_i32(nv, j)), "");
                k = LLVMBuildFMul(b, k, nv_ex2(nv, ex), "");
            }
            z = LLVMBuildFAdd(b, z, k, "");
        }
        store_f32(L, L->off_z, d, z);
        nv_endif(&L->nv, join);
    }
}

/* Stores rows g and g+8 of the warp's 16 query rows, 16 columns of the
 * warp's columns (dvs of them from col0), divided by den (NULL: no normalisation; a zero denominator gives 0). */
void lin_store_o(lin *L, LLVMValueRef o[LIN_MAXO][4], LLVMValueRef den[2])
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef c0 = L->p->wide ? L->col0 : LLVMBuildMul(b, L->slice, nv_i32(nv, L->p->dvs), "");
    LLVMValueRef col0 = LLVMBuildAdd(b, c0, LLVMBuildShl(b, L->t4, nv_i32(nv, 1), ""), "");
    for (int h = 0; h < 2; h++) {
        LLVMValueRef row = LLVMBuildAdd(b, LLVMBuildMul(b, L->warp, nv_i32(nv, 16), ""),
                                        LLVMBuildAdd(b, L->g, nv_i32(nv, 8 * h), ""), "");
        LLVMValueRef tok = LLVMBuildAdd(b, L->t0, row, "");
        LLVMValueRef inv = nv_f32(nv, 1);
        if (den) {
            LLVMValueRef nz = LLVMBuildFCmp(b, LLVMRealONE, den[h], nv_f32(nv, 0), "");
            inv = LLVMBuildSelect(b, nz, LLVMBuildFDiv(b, nv_f32(nv, 1), den[h], ""), nv_f32(nv, 0), "");
        }
        LLVMBasicBlockRef join = nv_if(&L->nv, LLVMBuildICmp(b, LLVMIntSLT, tok, L->ntok, ""), "st.row");
        /* One address per row; n-blocks are constant byte offsets from it
         * (see store_row in nvptx_fa2_softmax.c). */
        LLVMValueRef e = LLVMBuildAdd(b, row_elem(L, LT_O, L->head, tok), LLVMBuildZExt(b, col0, nv->i64, ""), "");
        LLVMValueRef row_p = nv_gep(nv, L->tens[LT_O], LLVMBuildShl(b, e, nv_i64(nv, 1), ""));
        for (int nb = 0; nb < L->p->nob; nb++) {
            LLVMValueRef lo = LLVMBuildFMul(b, o[nb][2 * h], inv, "");
            LLVMValueRef hi = LLVMBuildFMul(b, o[nb][2 * h + 1], inv, "");
            LLVMValueRef p = nv_gep(nv, row_p, nv_i64(nv, nb * 8 * 2));
            LLVMValueRef st = LLVMBuildStore(b, nv_pack2(nv, L->p->dt, lo, hi), p);
            LLVMSetAlignment(st, 4);
        }
        nv_endif(&L->nv, join);
    }
}
