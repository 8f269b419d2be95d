/* nvptx_bwd_wgmma.c — the backward's warpgroup-MMA products (nvptx_bwd.h,
 * bp->wg): every product of the backward has a forward shape, so they are
 * the forward's wgmma products (nvptx_wgmma.h) over other tiles:
 *
 *   dK/dV kernel (a warpgroup per 64 keys)   dQ kernel (one warpgroup)
 *   Sᵀ  = K Qᵀ    both K-major in shared     S  = Q Kᵀ
 *   dPᵀ = V dOᵀ   both K-major in shared     dP = dO Vᵀ
 *   dV += Pᵀ dO   Pᵀ registers, dO MN-major  dQ += dS K  (K MN-major)
 *   dK += dSᵀ Q   dSᵀ registers, Q MN-major
 *
 * One swizzled copy of each tile serves both majors (a Q tile is the
 * K-major B of Sᵀ and the MN-major B of dK). The accumulators have the
 * mma.sync layout per warp, so scores, masks and gradients are the
 * mma.sync kernels' code. Shared layout: the mma.sync layout's regions
 * without padding, each 1024-byte aligned, plus the alignment slack. */
#include "nvptx_bwd_impl.h"

static LLVMValueRef c32(gbw *g, int v)
{
    return nv_i32(&g->f.nv, v);
}

static int align1k(int v)
{
    return (v + 1023) & ~1023;
}

void gw_layout(gbw *g, nvptx_bwd_kind kind)
{
    const fa_plan *p = g->f.p;
    g->pitch_q = g->pitch_k = g->pitch_v = g->pitch_do = g->pitch_ds = GB_SWIZZLED;
    g->off_k = 0;
    g->off_v = p->Tk * p->D * 2;
    int kv = g->off_v + p->Tk * p->Dv * 2;
    g->bank_lo[0] = 0, g->bank_hi[0] = g->bank_size[0] = kv;
    g->off_q = kv * (kind == BWK_DQ ? 2 : 1);
    g->off_do = g->off_q + p->Tq * p->D * 2;
    g->off_lse = g->off_do + p->Tq * p->Dv * 2;
    g->off_delta = g->off_lse + 4 * p->Tq;
    int qs = align1k(g->off_delta + 4 * p->Tq - g->off_q);
    g->bank_lo[1] = g->off_q, g->bank_hi[1] = g->off_q + qs, g->bank_size[1] = qs;
    g->off_ds = g->off_q + qs * (kind == BWK_DKV ? 2 : 1);
    g->off_scan = g->off_ds + (kind == BWK_DKV && g->bp->atomics ? p->Tq * p->Tk * 2 : 0);
    g->smem = g->off_scan + 32 + 1024; /* + the slack of gw_smem_base */
}

void gw_smem_base(gbw *g)
{
    LLVMSetAlignment(g->f.smem, 1024);
    nv_wg_smem_base(&g->f.nv, g->f.smem, &g->f.smem, &g->f.smem32);
}

void gb_tiles_landed(gbw *g)
{
    nv_cp_wait(&g->f.nv, 0);
    if (g->bp->wg)
        nv_wg_proxy_fence(&g->f.nv);
}

/* The shared-window address of region offset off (banks applied). */
static LLVMValueRef addr(gbw *g, int off)
{
    return LLVMBuildAdd(g->f.nv.b, g->f.smem32, gb_smem_off(g, off, NULL), "");
}

static LLVMValueRef wg_index(gbw *g)
{
    return LLVMBuildLShr(g->f.nv.b, g->f.warp, c32(g, 2), "wg");
}

static void unpack(LLVMValueRef *flat, int n, LLVMValueRef (*acc)[4])
{
    for (int nb = 0; nb < n / 8; nb++)
        for (int e = 0; e < 4; e++)
            acc[nb][e] = flat[nb * 4 + e];
}

/* The operands of one SS product (gw_ss) and of one register-A product
 * (gw_accumulate), kept in the caller's arrays. */
typedef struct ss_args {
    LLVMValueRef da[NV_WG_MAXSTEPS], db[NV_WG_MAXSTEPS], flat[FA_MAXN * 4];
    int sa[NV_WG_MAXSTEPS], sb[NV_WG_MAXSTEPS];
} ss_args;

typedef struct rs_args {
    LLVMValueRef acc[FA_MAXN][4], flat[FA_MAXN * 4], regs[4 * NV_WG_MAXSTEPS], db[NV_WG_MAXSTEPS];
    int sb[NV_WG_MAXSTEPS];
} rs_args;

/* Overlap >= 1: descriptors stepped inside the asm (nv_wg_op's a_step):
 * the K and V tiles' 16 hoisted 64-bit descriptors held 32 registers over
 * the dK/dV kernel's whole loop. */
static bool asm_steps(gbw *g)
{
    return g->bp->overlap >= 1;
}

static nv_wg_op ss_op(gbw *g, ss_args *x, int off_a, int rows_a, int off_b, int k, int n)
{
    nv_ctx *nv = &g->f.nv;
    LLVMValueRef a0 = LLVMBuildAdd(nv->b, addr(g, off_a), LLVMBuildMul(nv->b, wg_index(g), c32(g, 64 * 128), ""), "");
    bool st = asm_steps(g);
    nv_wg_desc_kmajor(nv, a0, rows_a, 0, st ? 1 : k / 16, x->da);
    nv_wg_desc_kmajor(nv, addr(g, off_b), n, 0, st ? 1 : k / 16, x->db);
    nv_wg_steps_kmajor(rows_a, 0, k / 16, x->sa);
    nv_wg_steps_kmajor(n, 0, k / 16, x->sb);
    return (nv_wg_op){n, k / 16, x->da, NULL, x->db, false, false, x->flat, st ? x->sa : NULL, st ? x->sb : NULL};
}

static nv_wg_op rs_op(gbw *g, rs_args *x, LLVMValueRef (*slots)[4], LLVMValueRef (*a_src)[4], int k, int off_b,
                      int n)
{
    gb_read(g, slots, n / 8, x->acc);
    for (int nb = 0; nb < n / 8; nb++)
        for (int e = 0; e < 4; e++)
            x->flat[nb * 4 + e] = x->acc[nb][e];
    for (int kk = 0; kk < k / 16; kk++)
        gb_pack_a(g, a_src, kk, &x->regs[4 * kk]);
    bool st = asm_steps(g);
    nv_wg_desc_mnmajor(&g->f.nv, addr(g, off_b), k, st ? 1 : k / 16, x->db);
    nv_wg_steps_mnmajor(k / 16, x->sb);
    return (nv_wg_op){n, k / 16, NULL, x->regs, x->db, true, true, x->flat, NULL, st ? x->sb : NULL};
}

static void rs_done(gbw *g, rs_args *x, LLVMValueRef (*slots)[4], int n)
{
    unpack(x->flat, n, x->acc);
    gb_write(g, slots, n / 8, x->acc);
}

void gw_ss(gbw *g, LLVMValueRef (*acc)[4], int off_a, int rows_a, int off_b, int k, int n)
{
    ss_args x;
    nv_wg_op op = ss_op(g, &x, off_a, rows_a, off_b, k, n);
    nv_wg_products(&g->f.nv, g->f.p->dt, &op, 1);
    unpack(x.flat, n, acc);
}

void gw_ss2(gbw *g, LLVMValueRef (*acc0)[4], int off_a0, int off_b0, int k0, LLVMValueRef (*acc1)[4], int off_a1,
            int off_b1, int k1, int rows_a, int n)
{
    ss_args x[2];
    nv_wg_op ops[2] = {ss_op(g, &x[0], off_a0, rows_a, off_b0, k0, n), ss_op(g, &x[1], off_a1, rows_a, off_b1, k1, n)};
    nv_wg_products(&g->f.nv, g->f.p->dt, ops, 2);
    unpack(x[0].flat, n, acc0);
    unpack(x[1].flat, n, acc1);
}

void gw_accumulate(gbw *g, LLVMValueRef (*slots)[4], LLVMValueRef (*a_src)[4], int k, int off_b, int n)
{
    rs_args x;
    nv_wg_op op = rs_op(g, &x, slots, a_src, k, off_b, n);
    nv_wg_products(&g->f.nv, g->f.p->dt, &op, 1);
    rs_done(g, &x, slots, n);
}

void gw_accumulate_ss(gbw *g, LLVMValueRef (*slots)[4], LLVMValueRef (*a_src)[4], int k, int off_b, int n,
                      LLVMValueRef (*acc)[4], int off_a1, int rows_a1, int off_b1, int k1, int n1)
{
    rs_args x;
    ss_args y;
    nv_wg_op ops[2] = {rs_op(g, &x, slots, a_src, k, off_b, n), ss_op(g, &y, off_a1, rows_a1, off_b1, k1, n1)};
    nv_wg_products(&g->f.nv, g->f.p->dt, ops, 2);
    rs_done(g, &x, slots, n);
    unpack(y.flat, n1, acc);
}

void gw_accumulate2(gbw *g, int k, LLVMValueRef (*slots0)[4], LLVMValueRef (*a_src0)[4], int off_b0, int n0,
                    LLVMValueRef (*slots1)[4], LLVMValueRef (*a_src1)[4], int off_b1, int n1)
{
    rs_args x[2];
    nv_wg_op ops[2] = {rs_op(g, &x[0], slots0, a_src0, k, off_b0, n0), rs_op(g, &x[1], slots1, a_src1, k, off_b1, n1)};
    nv_wg_products(&g->f.nv, g->f.p->dt, ops, 2);
    rs_done(g, &x[0], slots0, n0);
    rs_done(g, &x[1], slots1, n1);
}

/* dSᵀ (this warp's 16 keys x the tile's queries) -> shared as the swizzled
 * K-major tile dS [query][key]. */
static void store_ds(gbw *g, LLVMValueRef (*ds)[4])
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    LLVMBuilderRef b = nv->b;
    LLVMTypeRef et = p->dt == DT_F16 ? nv->f16 : nv->bf16;
    LLVMValueRef key0 = LLVMBuildAdd(b, LLVMBuildMul(b, f->warp, c32(g, 16), ""), f->g, "");
    for (int nb = 0; nb < p->Tq / 8; nb++)
        for (int e = 0; e < 4; e++) {
            LLVMValueRef q = LLVMBuildAdd(b, LLVMBuildShl(b, f->t4, c32(g, 1), ""), c32(g, nb * 8 + (e & 1)), "");
            LLVMValueRef key = LLVMBuildAdd(b, key0, c32(g, 8 * (e >> 1)), "");
            LLVMValueRef at = nv_wg_swizzle_offset(nv, q, LLVMBuildLShr(b, key, c32(g, 3), ""), p->Tq);
            at = LLVMBuildAdd(b, at, LLVMBuildShl(b, LLVMBuildAnd(b, key, c32(g, 7), ""), c32(g, 1), ""), "");
            LLVMBuildStore(b, LLVMBuildFPTrunc(b, ds[nb][e], et, ""), gb_smem_at(g, g->off_ds, at));
        }
}

/* Warpgroup w adds dS[:, its 64 keys] K[its 64 keys, :] (m64 = the 64
 * queries) into dQacc: every warpgroup works, and the sum over them is the
 * accumulator's. One 64-column block of dQ at a time: 32 accumulator
 * registers on top of dK and dV instead of D/2. */
void gw_dq_atomic(gbw *g, LLVMValueRef (*ds)[4])
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    LLVMBuilderRef b = nv->b;
    store_ds(g, ds);
    nv_wg_proxy_fence(nv);
    nv_barrier(nv);
    LLVMValueRef wg = wg_index(g);
    LLVMValueRef da[4], db[4], flat[32], acc[8][4];
    /* dS columns 64w.. are column block w of the dS tile */
    LLVMValueRef a0 = LLVMBuildAdd(b, addr(g, g->off_ds), LLVMBuildMul(b, wg, c32(g, p->Tq * 128), ""), "");
    nv_wg_desc_kmajor(nv, a0, p->Tq, 0, 4, da);
    LLVMValueRef row0 = LLVMBuildMul(b, LLVMBuildAnd(b, f->warp, c32(g, 3), ""), c32(g, 16), "");
    for (int cb = 0; cb < p->D / 64; cb++) {
        /* K rows 64w.. of column block cb */
        LLVMValueRef k0 = LLVMBuildAdd(b, addr(g, g->off_k), LLVMBuildMul(b, wg, c32(g, 64 * 128), ""), "");
        k0 = LLVMBuildAdd(b, k0, c32(g, cb * p->Tk * 128), "");
        nv_wg_desc_mnmajor(nv, k0, p->Tk, 4, db);
        nv_wg_product(nv, p->dt, 64, 4, da, NULL, db, false, true, flat);
        unpack(flat, 64, acc);
        gb_dq_red(g, row0, 0, cb * 64, 64, acc);
    }
}
