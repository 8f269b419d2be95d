/* nvptx_bwd_util.c — what the backward kernels share (nvptx_bwd.h): their
 * parameter list, program ids, element addresses, global -> shared tile
 * copies, loops, ldmatrix fragment loads and register slots. Register
 * state (accumulators, P, dS) lives in allocas of the entry block, each
 * read and written at constant places only, so mem2reg turns them into
 * registers and loops and branches need no hand-made phis. */
#include <math.h>
#include <string.h>

#include "nvptx_abi.h"
#include "nvptx_bwd_impl.h"

static const double LOG2E = 1.4426950408889634;

LLVMValueRef gb_alloca(gbw *g)
{
    nv_ctx *nv = &g->f.nv;
    LLVMBuilderRef ab = LLVMCreateBuilderInContext(nv->c);
    LLVMPositionBuilderAtEnd(ab, g->entry);
    LLVMValueRef a = LLVMBuildAlloca(ab, nv->f32, "");
    LLVMDisposeBuilder(ab);
    return a;
}

static LLVMValueRef shared_base(nv_ctx *nv)
{
    LLVMValueRef s = LLVMGetNamedGlobal(nv->m, "attnc_smem");
    if (s)
        return s;
    s = LLVMAddGlobalInAddressSpace(nv->m, LLVMArrayType(nv->i8, 0), "attnc_smem", 3);
    LLVMSetLinkage(s, LLVMExternalLinkage);
    LLVMSetAlignment(s, 128);
    return s;
}

/* The parameters by the program's role table (kernel_abi_backward): the
 * tensors' and workspace regions' pointers into bt[] (BT_* follow the
 * table's order), their strides, sizes, params and gradient arguments. */
void gb_declare(gbw *g, const char *name)
{
    nv_ctx *nv = &g->f.nv;
    const tir_kernel *r = g->f.p->k;
    kabi_type kinds[NVPTX_MAX_PARAMS];
    int nparams = r ? r->nparams : 0;
    for (int i = 0; i < nparams && i < NVPTX_MAX_PARAMS; i++)
        kinds[i] = nvptx_abi_param_kind(&r->params[i]);
    kernel_abi abi;
    kernel_abi_backward(&abi, nparams, kinds, g->bp->ngrad, g->bp->producer);
    nvptx_abi_args args = {0}, *a = &args;
    nvptx_abi_declare_table(nv, &abi, name, a);
    LLVMValueRef fn = a->fn;
    for (int t = 0; t < KABI_ALL_TENSORS; t++) {
        g->bt[t] = a->tens[t];
        memcpy(g->bstride[t], a->stride[t], sizeof g->bstride[t]);
    }
    for (int w = 0; w < KABI_NWS; w++)
        g->bt[KABI_ALL_TENSORS + w] = a->ws[w];
    memcpy(g->f.size, a->size, sizeof a->size);
    memcpy(g->f.param, a->param, sizeof a->param);
    gb_pgrad_bind(g, a->dparam, a->dslices, a->dmode);
    memcpy(g->f.tmap, a->tmap, sizeof g->f.tmap); /* producer: q, do */
    g->f.fn = fn;
    g->f.smem = shared_base(nv);
    g->entry = LLVMAppendBasicBlockInContext(nv->c, fn, "entry");
    LLVMPositionBuilderAtEnd(nv->b, LLVMAppendBasicBlockInContext(nv->c, fn, "start"));
    if (g->bp->wg)
        gw_smem_base(g);
    /* the workspaces' strides: contiguous [batch, heads, tokens(, dim)] */
    LLVMBuilderRef b = nv->b;
    LLVMValueRef T = LLVMBuildSExt(b, g->f.size[SZ_TOKENS], nv->i64, "");
    LLVMValueRef H = LLVMBuildSExt(b, g->f.size[SZ_HEADS], nv->i64, "");
    LLVMValueRef D = nv_i64(nv, g->f.p->D);
    g->bstride[BT_DELTA][2] = nv_i64(nv, 1);
    g->bstride[BT_DELTA][1] = T;
    g->bstride[BT_DELTA][0] = LLVMBuildMul(b, T, H, "");
    g->bstride[BT_DQACC][3] = nv_i64(nv, 1);
    g->bstride[BT_DQACC][2] = D;
    g->bstride[BT_DQACC][1] = LLVMBuildMul(b, T, D, "");
    g->bstride[BT_DQACC][0] = LLVMBuildMul(b, g->bstride[BT_DQACC][1], H, "");
}

void gb_finish(gbw *g, int threads)
{
    nv_ctx *nv = &g->f.nv;
    LLVMBuilderRef ab = LLVMCreateBuilderInContext(nv->c);
    LLVMPositionBuilderAtEnd(ab, g->entry);
    LLVMBuildBr(ab, LLVMGetNextBasicBlock(g->entry));
    LLVMDisposeBuilder(ab);
    nv_annotate(nv, g->f.fn, "kernel", 1);
    nv_annotate(nv, g->f.fn, "maxntidx", threads);
    nv_annotate(nv, g->f.fn, "minctasm", 1);
}

void gb_ids(gbw *g, bool kv_grid)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    fa2_thread_ids(f);
    if (g->bp->wg) /* the backward's own wgmma choice (bp->wg), not the forward plan's */
        f->t.arch = TARGET_SM90A;
    f->load_tid = f->tid;
    f->batch = nv_sreg(nv, "ctaid.z");
    LLVMValueRef group = LLVMBuildSDiv(b, f->size[SZ_HEADS], f->size[SZ_KV_HEADS], "");
    group = nv_smax(nv, group, nv_i32(nv, 1));
    if (kv_grid) {
        f->kv_head = nv_sreg(nv, "ctaid.y");
        f->head = LLVMBuildMul(b, f->kv_head, group, "");
    } else {
        f->head = nv_sreg(nv, "ctaid.y");
        f->kv_head = LLVMBuildUDiv(b, f->head, group, "kv_head");
    }
}

LLVMValueRef gb_clamp(gbw *g, LLVMValueRef v, LLVMValueRef lo, LLVMValueRef hi)
{
    nv_ctx *nv = &g->f.nv;
    if (LLVMTypeOf(v) != nv->i32) {
        LLVMValueRef lo64 = LLVMBuildSExt(nv->b, lo, nv->i64, ""), hi64 = LLVMBuildSExt(nv->b, hi, nv->i64, "");
        return LLVMBuildTrunc(nv->b, nv_smin(nv, nv_smax(nv, v, lo64), hi64), nv->i32, "");
    }
    return nv_smin(nv, nv_smax(nv, v, lo), hi);
}

void gb_q_bounds(gbw *g, const expr *lo_e, const expr *hi_e, LLVMValueRef last, LLVMValueRef *lo, LLVMValueRef *hi)
{
    nv_ctx *nv = &g->f.nv;
    *lo = gb_clamp(g, fa2_emit(&g->f, lo_e), nv_i32(nv, 0), LLVMBuildAdd(nv->b, last, nv_i32(nv, 1), ""));
    *hi = gb_clamp(g, fa2_emit(&g->f, hi_e), nv_i32(nv, -1), last);
}

LLVMValueRef gb_smem_off(gbw *g, int off, LLVMValueRef dyn)
{
    nv_ctx *nv = &g->f.nv;
    LLVMValueRef o = nv_i32(nv, off);
    if (dyn)
        o = LLVMBuildAdd(nv->b, o, dyn, "");
    for (int i = 0; i < GB_BANKS; i++)
        if (g->bank_dyn[i] && off >= g->bank_lo[i] && off < g->bank_hi[i])
            o = LLVMBuildAdd(nv->b, o, g->bank_dyn[i], "");
    return o;
}

LLVMValueRef gb_smem_at(gbw *g, int off, LLVMValueRef dyn)
{
    return nv_gep(&g->f.nv, g->f.smem, gb_smem_off(g, off, dyn));
}

LLVMValueRef gb_elem_ptr(gbw *g, int t, LLVMValueRef head, LLVMValueRef tok, LLVMValueRef col, int esize)
{
    nv_ctx *nv = &g->f.nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef idx[3] = {g->f.batch, head, tok};
    LLVMValueRef e = col ? LLVMBuildZExt(b, col, nv->i64, "") : nv_i64(nv, 0);
    for (int i = 0; i < 3; i++)
        e = LLVMBuildAdd(b, e, LLVMBuildMul(b, LLVMBuildSExt(b, idx[i], nv->i64, ""), g->bstride[t][i], ""), "");
    return nv_gep(nv, g->bt[t], LLVMBuildMul(b, e, nv_i64(nv, esize), ""));
}

/* One 16-byte chunk of row `row` of a tile of `rows` rows (padded rows of
 * `pitch` bytes, or swizzled: GB_SWIZZLED); rows outside the grid get zeros. */
static void copy_chunk(gbw *g, int t, const int *ext, LLVMValueRef org[3], const LLVMValueRef *bounds,
                       LLVMValueRef head, int chunks, int pitch, int rows, int off, LLVMValueRef id)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef row = LLVMBuildUDiv(b, id, nv_i32(nv, chunks), "");
    LLVMValueRef ch = LLVMBuildURem(b, id, nv_i32(nv, chunks), "");
    LLVMValueRef c[3];
    fa2_tile_coords(f, ext, org, row, c);
    LLVMValueRef ok = fa2_in_bounds(f, c, bounds);
    LLVMValueRef col = LLVMBuildShl(b, ch, nv_i32(nv, 3), "");
    LLVMValueRef src = gb_elem_ptr(g, t, head, fa2_flat_token(f, c), col, 2);
    src = LLVMBuildSelect(b, ok, src, g->bt[t], "");
    LLVMValueRef dst;
    if (pitch == GB_SWIZZLED)
        dst = nv_wg_swizzle_offset(nv, row, ch, rows);
    else
        dst = LLVMBuildAdd(b, LLVMBuildMul(b, row, nv_i32(nv, pitch), ""), LLVMBuildShl(b, ch, nv_i32(nv, 4), ""), "");
    LLVMValueRef bytes = LLVMBuildSelect(b, ok, nv_i32(nv, 16), nv_i32(nv, 0), "");
    nv_cp_async16(nv, gb_smem_at(g, off, dst), src, bytes);
}

void gb_load_rows(gbw *g, int t, const int *ext, LLVMValueRef org[3], const LLVMValueRef *bounds, LLVMValueRef head,
                  int rows, int cols, int pitch, int off)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    int chunks = cols / 8, total = rows * chunks, n = f->threads;
    for (int i = 0; i * n < total; i++) {
        LLVMValueRef id = LLVMBuildAdd(nv->b, f->tid, nv_i32(nv, i * n), "");
        if ((i + 1) * n <= total) {
            copy_chunk(g, t, ext, org, bounds, head, chunks, pitch, rows, off, id);
            continue;
        }
        LLVMBasicBlockRef join = nv_if(nv, LLVMBuildICmp(nv->b, LLVMIntULT, id, nv_i32(nv, total), ""), "ld.tail");
        copy_chunk(g, t, ext, org, bounds, head, chunks, pitch, rows, off, id);
        nv_endif(nv, join);
    }
}

/* lse and delta of query tile row `row`: -inf and 0 for rows outside the
 * grid, so their P (and every gradient) is 0. With fa_plan.score_k (a
 * score s * k under $ATTNC_SCALE_FMA) the "lse" kept is the exponent's
 * addend -lse log2 e, -inf for a row with no key (gb_prob). */
static void stat_values(gbw *g, LLVMValueRef org[3], LLVMValueRef head, LLVMValueRef row, LLVMValueRef *lse,
                        LLVMValueRef *dl)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef c[3];
    fa2_tile_coords(f, f->p->q_ext, org, row, c);
    LLVMValueRef ok = fa2_in_bounds(f, c, f->qext);
    LLVMValueRef tok = fa2_flat_token(f, c);
    LLVMValueRef lp = LLVMBuildSelect(b, ok, gb_elem_ptr(g, BT_LSE, head, tok, NULL, 4), g->bt[BT_LSE], "");
    LLVMValueRef dp = LLVMBuildSelect(b, ok, gb_elem_ptr(g, BT_DELTA, head, tok, NULL, 4), g->bt[BT_DELTA], "");
    *lse = LLVMBuildSelect(b, ok, LLVMBuildLoad2(b, nv->f32, lp, ""), nv_f32(nv, -INFINITY), "");
    *dl = LLVMBuildSelect(b, ok, LLVMBuildLoad2(b, nv->f32, dp, ""), nv_f32(nv, 0), "");
    if (f->p->score_k > 0) {
        LLVMValueRef dead = LLVMBuildFCmp(b, LLVMRealOEQ, *lse, nv_f32(nv, -INFINITY), "");
        LLVMValueRef nl = LLVMBuildFNeg(b, LLVMBuildFMul(b, *lse, nv_f32(nv, LOG2E), ""), "");
        *lse = LLVMBuildSelect(b, dead, nv_f32(nv, -INFINITY), nl, "");
    }
}

static LLVMValueRef stat_row(gbw *g, int i, LLVMValueRef *in)
{
    nv_ctx *nv = &g->f.nv;
    LLVMValueRef row = LLVMBuildAdd(nv->b, g->f.tid, nv_i32(nv, i * g->f.threads), "");
    *in = LLVMBuildICmp(nv->b, LLVMIntULT, row, nv_i32(nv, g->f.p->Tq), "");
    return row;
}

static void stat_store(gbw *g, LLVMValueRef row, LLVMValueRef lse, LLVMValueRef dl)
{
    LLVMBuilderRef b = g->f.nv.b;
    LLVMValueRef at = LLVMBuildShl(b, row, nv_i32(&g->f.nv, 2), "");
    LLVMBuildStore(b, lse, gb_smem_at(g, g->off_lse, at));
    LLVMBuildStore(b, dl, gb_smem_at(g, g->off_delta, at));
}

void gb_load_stats(gbw *g, LLVMValueRef org[3], LLVMValueRef head)
{
    gb_load_stats_by(g, org, head, g->f.tid, g->f.threads);
}

void gb_load_stats_by(gbw *g, LLVMValueRef org[3], LLVMValueRef head, LLVMValueRef id, int n)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    for (int i = 0; i * n < f->p->Tq; i++) {
        LLVMValueRef row = LLVMBuildAdd(nv->b, id, nv_i32(nv, i * n), ""), lse, dl;
        LLVMBasicBlockRef join = nv_if(nv, LLVMBuildICmp(nv->b, LLVMIntULT, row, nv_i32(nv, f->p->Tq), ""), "ld.stats");
        stat_values(g, org, head, row, &lse, &dl);
        stat_store(g, row, lse, dl);
        nv_endif(nv, join);
    }
}

void gb_fetch_stats(gbw *g, LLVMValueRef org[3], LLVMValueRef head, LLVMValueRef slots[GB_STAT_ROWS][2])
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    for (int i = 0; i * f->threads < f->p->Tq && i < GB_STAT_ROWS; i++) {
        LLVMValueRef in, row = stat_row(g, i, &in), v[2];
        LLVMBasicBlockRef join = nv_if(nv, in, "ld.stats");
        stat_values(g, org, head, row, &v[0], &v[1]);
        for (int k = 0; k < 2; k++)
            LLVMBuildStore(nv->b, v[k], slots[i][k]);
        nv_endif(nv, join);
    }
}

void gb_put_stats(gbw *g, LLVMValueRef slots[GB_STAT_ROWS][2])
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    for (int i = 0; i * f->threads < f->p->Tq && i < GB_STAT_ROWS; i++) {
        LLVMValueRef in, row = stat_row(g, i, &in);
        LLVMBasicBlockRef join = nv_if(nv, in, "st.stats");
        stat_store(g, row, LLVMBuildLoad2(nv->b, nv->f32, slots[i][0], ""),
                   LLVMBuildLoad2(nv->b, nv->f32, slots[i][1], ""));
        nv_endif(nv, join);
    }
}

LLVMValueRef gb_stat(gbw *g, int off, LLVMValueRef row)
{
    nv_ctx *nv = &g->f.nv;
    return LLVMBuildLoad2(nv->b, nv->f32, gb_smem_at(g, off, LLVMBuildShl(nv->b, row, nv_i32(nv, 2), "")), "");
}

gb_loop gb_loop_begin(gbw *g, LLVMValueRef lo, LLVMValueRef hi)
{
    nv_ctx *nv = &g->f.nv;
    gb_loop l;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(nv->b);
    l.header = LLVMAppendBasicBlockInContext(nv->c, g->f.fn, "loop");
    l.body = LLVMAppendBasicBlockInContext(nv->c, g->f.fn, "loop.body");
    l.done = LLVMAppendBasicBlockInContext(nv->c, g->f.fn, "loop.done");
    LLVMBuildBr(nv->b, l.header);
    LLVMPositionBuilderAtEnd(nv->b, l.header);
    l.iv = LLVMBuildPhi(nv->b, nv->i32, "iv");
    LLVMAddIncoming(l.iv, &lo, &pre, 1);
    LLVMBuildCondBr(nv->b, LLVMBuildICmp(nv->b, LLVMIntSLT, l.iv, hi, ""), l.body, l.done);
    LLVMPositionBuilderAtEnd(nv->b, l.body);
    return l;
}

void gb_loop_end(gbw *g, gb_loop *l)
{
    nv_ctx *nv = &g->f.nv;
    LLVMValueRef next = LLVMBuildAdd(nv->b, l->iv, nv_i32(nv, 1), "");
    LLVMBasicBlockRef from = LLVMGetInsertBlock(nv->b);
    LLVMAddIncoming(l->iv, &next, &from, 1);
    LLVMBuildBr(nv->b, l->header);
    LLVMPositionBuilderAtEnd(nv->b, l->done);
}

/* ---- fragments ---- */

static LLVMValueRef lane_bit(gbw *g, int shift)
{
    nv_ctx *nv = &g->f.nv;
    return LLVMBuildAnd(nv->b, LLVMBuildLShr(nv->b, g->f.lane, nv_i32(nv, shift), ""), nv_i32(nv, 1), "");
}

static LLVMValueRef lane_addr(gbw *g, LLVMValueRef row, LLVMValueRef half, int pitch, LLVMValueRef dyn)
{
    nv_ctx *nv = &g->f.nv;
    LLVMValueRef a = LLVMBuildAdd(nv->b, LLVMBuildMul(nv->b, row, nv_i32(nv, pitch), ""),
                                  LLVMBuildMul(nv->b, half, nv_i32(nv, 16), ""), "");
    return dyn ? LLVMBuildAdd(nv->b, a, dyn, "") : a;
}

/* A operand, rows [row0, row0+16) x k [k0, k0+16) of a row-major tile. */
void gb_ldsm_a(gbw *g, int off, int pitch, LLVMValueRef dyn_row0, int row0, int k0, LLVMValueRef a[4])
{
    nv_ctx *nv = &g->f.nv;
    LLVMValueRef row = LLVMBuildAnd(nv->b, g->f.lane, nv_i32(nv, 15), "");
    if (dyn_row0)
        row = LLVMBuildAdd(nv->b, row, dyn_row0, "");
    LLVMValueRef at = lane_addr(g, row, lane_bit(g, 4), pitch, NULL);
    nv_ldmatrix_x4(nv, gb_smem_at(g, off + row0 * pitch + k0 * 2, at), false, a);
}

/* B operands of two n-blocks [n0, n0+8), [n0+8, n0+16) x k [k0, k0+16)
 * from a tile stored [n][k] (a row is a B column). */
void gb_ldsm_b(gbw *g, int off, int pitch, int n0, int k0, LLVMValueRef b0[2], LLVMValueRef b1[2])
{
    nv_ctx *nv = &g->f.nv;
    LLVMValueRef l7 = LLVMBuildAnd(nv->b, g->f.lane, nv_i32(nv, 7), "");
    LLVMValueRef row = LLVMBuildAdd(nv->b, LLVMBuildMul(nv->b, lane_bit(g, 4), nv_i32(nv, 8), ""), l7, "");
    LLVMValueRef r[4];
    nv_ldmatrix_x4(nv, gb_smem_at(g, off + n0 * pitch + k0 * 2, lane_addr(g, row, lane_bit(g, 3), pitch, NULL)), false, r);
    b0[0] = r[0], b0[1] = r[1], b1[0] = r[2], b1[1] = r[3];
}

/* The same from a tile stored [k][n] (ldmatrix .trans). */
void gb_ldsm_bt(gbw *g, int off, int pitch, int k0, int n0, LLVMValueRef b0[2], LLVMValueRef b1[2])
{
    nv_ctx *nv = &g->f.nv;
    LLVMValueRef l7 = LLVMBuildAnd(nv->b, g->f.lane, nv_i32(nv, 7), "");
    LLVMValueRef row = LLVMBuildAdd(nv->b, LLVMBuildMul(nv->b, lane_bit(g, 3), nv_i32(nv, 8), ""), l7, "");
    LLVMValueRef r[4];
    nv_ldmatrix_x4(nv, gb_smem_at(g, off + k0 * pitch + n0 * 2, lane_addr(g, row, lane_bit(g, 4), pitch, NULL)), true, r);
    b0[0] = r[0], b0[1] = r[1], b1[0] = r[2], b1[1] = r[3];
}

/* The A fragment of k-step kk from accumulator blocks 2kk, 2kk+1. */
void gb_pack_a(gbw *g, LLVMValueRef (*acc)[4], int kk, LLVMValueRef a[4])
{
    nv_ctx *nv = &g->f.nv;
    dtype dt = g->f.p->dt;
    a[0] = nv_pack2(nv, dt, acc[2 * kk][0], acc[2 * kk][1]);
    a[1] = nv_pack2(nv, dt, acc[2 * kk][2], acc[2 * kk][3]);
    a[2] = nv_pack2(nv, dt, acc[2 * kk + 1][0], acc[2 * kk + 1][1]);
    a[3] = nv_pack2(nv, dt, acc[2 * kk + 1][2], acc[2 * kk + 1][3]);
}

/* ---- register slots ---- */

void gb_slots(gbw *g, LLVMValueRef (*slot)[4], int nblocks, bool zero)
{
    for (int i = 0; i < nblocks; i++)
        for (int e = 0; e < 4; e++) {
            slot[i][e] = gb_alloca(g);
            if (zero)
                LLVMBuildStore(g->f.nv.b, nv_f32(&g->f.nv, 0), slot[i][e]);
        }
}

void gb_read(gbw *g, LLVMValueRef (*slot)[4], int nblocks, LLVMValueRef (*v)[4])
{
    for (int i = 0; i < nblocks; i++)
        for (int e = 0; e < 4; e++)
            v[i][e] = LLVMBuildLoad2(g->f.nv.b, g->f.nv.f32, slot[i][e], "");
}

void gb_write(gbw *g, LLVMValueRef (*slot)[4], int nblocks, LLVMValueRef (*v)[4])
{
    for (int i = 0; i < nblocks; i++)
        for (int e = 0; e < 4; e++)
            LLVMBuildStore(g->f.nv.b, v[i][e], slot[i][e]);
}

/* ---- element math ---- */

void gb_tile_paths(gbw *g, gb_path_fn fn, void *ud)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    gb_dkv_span_run(g);
    LLVMValueRef partial = fa2_tile_partial(f);
    LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(nv->c, f->fn, "tile.partial");
    LLVMBasicBlockRef no = LLVMAppendBasicBlockInContext(nv->c, f->fn, "tile.full");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(nv->c, f->fn, "tile.p");
    LLVMBuildCondBr(nv->b, partial, yes, no);
    LLVMPositionBuilderAtEnd(nv->b, yes);
    fn(g, ud, true);
    LLVMBuildBr(nv->b, join);
    LLVMPositionBuilderAtEnd(nv->b, no);
    fn(g, ud, false);
    LLVMBuildBr(nv->b, join);
    LLVMPositionBuilderAtEnd(nv->b, join);
}

void gb_set_elem(gbw *g, LLVMValueRef qc[3], LLVMValueRef qt, LLVMValueRef kc[3], LLVMValueRef kt, LLVMValueRef s)
{
    fa2 *f = &g->f;
    f->mode = EXM_ELEM;
    for (int d = 0; d < 3; d++) {
        f->ex_qc[d] = qc[d];
        f->ex_kc[d] = kc[d];
    }
    f->ex_qt = qt;
    f->ex_kt = kt;
    f->ex_s = s;
}

/* P = exp(t - lse) of one pair (environment set): 0 where the pair is
 * masked (masked tiles only), the key outside the grid, or the row empty. */
LLVMValueRef gb_prob(gbw *g, LLVMValueRef s, LLVMValueRef lse, bool masked, LLVMValueRef kin)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    float k = f->p->score_k;
    LLVMValueRef dead, pr;
    if (k > 0) {
        /* a score s * k (score_k, $ATTNC_SCALE_FMA): lse holds -lse log2 e,
         * -inf in a row with no key (stat_values), so one fma of raw s
         * gives the exponent and no per-pair test is needed: where s * k
         * or the addend is -inf the fma is -inf and ex2 gives exactly 0 */
        pr = nv_ex2(nv, nv_fma(nv, s, nv_f32(nv, f->p->base2 ? k : k * LOG2E), lse));
        if (!masked)
            return pr;
        dead = LLVMConstInt(nv->i1, 0, false);
    } else {
        /* log2 units: t·log2e - lse·log2e in one fma (t already is when base2) */
        LLVMValueRef nl = LLVMBuildFNeg(b, LLVMBuildFMul(b, lse, nv_f32(nv, LOG2E), ""), "");
        LLVMValueRef t = fa2_emit(f, f->p->score);
        LLVMValueRef x = f->p->base2 ? LLVMBuildFAdd(b, t, nl, "")
                                     : nv_call(nv, "llvm.fma", &nv->f32, 1, (LLVMValueRef[]){t, nv_f32(nv, LOG2E), nl}, 3);
        pr = nv_ex2(nv, x);
        dead = LLVMBuildFCmp(b, LLVMRealOEQ, lse, nv_f32(nv, -INFINITY), "");
        dead = LLVMBuildOr(b, dead, LLVMBuildFCmp(b, LLVMRealOEQ, t, nv_f32(nv, -INFINITY), ""), "");
    }
    if (masked) {
        LLVMValueRef keep = kin;
        if (f->p->mask)
            keep = LLVMBuildAnd(b, keep, fa2_emit(f, f->p->mask), "");
        dead = LLVMBuildOr(b, dead, LLVMBuildNot(b, keep, ""), "");
    }
    /* one frozen predicate for every mask (its `dead` is a disjunction
     * already): backward TFLOP/s on the H200 (run28 of 2026-12-04) causal
     * B=2 N=8192 479 -> 496-507, sliding window 1024 353 -> 360, sinks +
     * window 277 -> 318, the rest level (bench/RESULTS.md) */
    return nv_select_frozen(nv, dead, nv_f32(nv, 0), pr);
}

/* dS = P (dP - delta) dscore(s), 0 where P is 0 (never NaN there); with
 * bp->ds_factor, P (dP - delta) alone (dscore is that constant, applied at
 * the stores; where P is 0, dP and delta are finite: rows outside the grid
 * and rows with every key masked have delta 0). */
LLVMValueRef gb_dscore(gbw *g, LLVMValueRef p, LLVMValueRef dp, LLVMValueRef delta)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef r = LLVMBuildFMul(b, p, LLVMBuildFSub(b, dp, delta, ""), "");
    if (g->bp->ds_factor > 0) /* c comes in at the dK and dQ stores */
        return r;
    LLVMValueRef d = fa2_emit(f, g->bp->dscore);
    LLVMValueRef keep = LLVMBuildFCmp(b, LLVMRealONE, p, nv_f32(nv, 0), "");
    return LLVMBuildSelect(b, keep, LLVMBuildFMul(b, r, d, ""), nv_f32(nv, 0), "");
}

/* Stores a pair of columns (c, c+1) of row tok of tensor t (2-byte dtype). */
void gb_store_pair(gbw *g, int t, LLVMValueRef head, LLVMValueRef tok, LLVMValueRef col, LLVMValueRef lo,
                   LLVMValueRef hi)
{
    nv_ctx *nv = &g->f.nv;
    if (g->bp->ds_factor > 0 && (t == BT_DK || t == BT_DQ)) { /* dS was formed without c (gb_dscore) */
        lo = LLVMBuildFMul(nv->b, lo, nv_f32(nv, g->bp->ds_factor), "");
        hi = LLVMBuildFMul(nv->b, hi, nv_f32(nv, g->bp->ds_factor), "");
    }
    LLVMValueRef st = LLVMBuildStore(nv->b, nv_pack2(nv, g->f.p->dt, lo, hi), gb_elem_ptr(g, t, head, tok, col, 2));
    LLVMSetAlignment(st, 4);
}

void gb_extents(gbw *g)
{
    fa2 *f = &g->f;
    const fa_plan *p = f->p;
    fa2_extents(f);
    for (int d = 0; d < p->ndims; d++) {
        LLVMValueRef n = LLVMBuildAdd(f->nv.b, f->kext[d], nv_i32(&f->nv, p->kv_ext[d] - 1), "");
        f->nkt[d] = LLVMBuildSDiv(f->nv.b, n, nv_i32(&f->nv, p->kv_ext[d]), "");
    }
}

void gb_dq_red(gbw *g, LLVMValueRef dyn_row0, int row0, int c0, int ncols, LLVMValueRef (*acc)[4])
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    for (int h = 0; h < 2; h++) {
        LLVMValueRef r = LLVMBuildAdd(nv->b, f->g, nv_i32(nv, row0 + 8 * h), ""), c[3];
        if (dyn_row0)
            r = LLVMBuildAdd(nv->b, r, dyn_row0, "");
        fa2_tile_coords(f, p->q_ext, f->q_org, r, c);
        LLVMBasicBlockRef join = nv_if(nv, fa2_in_bounds(f, c, f->qext), "dq.row");
        LLVMValueRef col0 = LLVMBuildShl(nv->b, f->t4, nv_i32(nv, 1), "");
        LLVMValueRef row = gb_elem_ptr(g, BT_DQACC, f->head, fa2_flat_token(f, c), col0, 4);
        for (int nb = 0; nb < ncols / 8; nb++)
            for (int e = 0; e < 2; e++) {
                LLVMValueRef at = nv_gep(nv, row, nv_i64(nv, (c0 + nb * 8 + e) * 4));
                LLVMBuildAtomicRMW(nv->b, LLVMAtomicRMWBinOpFAdd, at, acc[nb][2 * h + e], LLVMAtomicOrderingMonotonic,
                                   false);
            }
        nv_endif(nv, join);
    }
}

LLVMValueRef gb_q_tiles(gbw *g, LLVMValueRef nqt[3])
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMValueRef n = nv_i32(nv, 1);
    for (int d = 0; d < f->p->ndims; d++) {
        int e = f->p->q_ext[d];
        nqt[d] = LLVMBuildSDiv(nv->b, LLVMBuildAdd(nv->b, f->qext[d], nv_i32(nv, e - 1), ""), nv_i32(nv, e), "");
        n = LLVMBuildMul(nv->b, n, nqt[d], "");
    }
    return n;
}

LLVMValueRef gb_dqacc_rows(gbw *g, LLVMValueRef head, LLVMValueRef row)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef nqt[3];
    LLVMValueRef rows = LLVMBuildMul(b, LLVMBuildSExt(b, gb_q_tiles(g, nqt), nv->i64, ""), nv_i64(nv, f->p->Tq), "");
    LLVMValueRef bh = LLVMBuildMul(b, LLVMBuildSExt(b, f->batch, nv->i64, ""),
                                   LLVMBuildSExt(b, f->size[SZ_HEADS], nv->i64, ""), "");
    bh = LLVMBuildAdd(b, bh, LLVMBuildSExt(b, head, nv->i64, ""), "");
    LLVMValueRef r = LLVMBuildAdd(b, LLVMBuildMul(b, bh, rows, ""), LLVMBuildSExt(b, row, nv->i64, ""), "");
    return nv_gep(nv, g->bt[BT_DQACC], LLVMBuildMul(b, r, nv_i64(nv, (long long)f->p->D * 4), ""));
}
