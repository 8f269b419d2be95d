/* nvptx_fa2_wgmma.c — the Hopper products of the FA2 skeleton
 * (nvptx_fa2.h, plan->wgmma): S = Q K^T and O += P V by warpgroup MMA
 * (nvptx_wgmma.h) instead of mma.sync.
 *
 * Why this fits the skeleton unchanged: a warpgroup's m64nN accumulator
 * gives warp w%4 rows 16(w%4).. of the warpgroup's 64, and within a warp
 * each 8-column block is laid out exactly like an m16n8 mma.sync
 * accumulator. With one 16-row block per warp (MR = 1), warp w owns rows
 * 16w.. in both, so scores, masks, the online softmax and the stores are
 * the FA2 code; and P packed from S is the register A operand (the "RS"
 * form) as it is for mma.sync.
 *
 * Shared tiles use the 128-byte swizzle: Q (A) and K (B of S) are K-major,
 * V (B of P V) is MN-major (trans-b). */
#include "nvptx_fa2.h"
#include "nvptx_wgmma.h"

static LLVMValueRef smem_addr(fa2 *f, LLVMValueRef off)
{
    return LLVMBuildAdd(f->nv.b, f->smem32, off, "");
}

void fa2_wgmma_qk(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4])
{
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef wg = LLVMBuildLShr(b, f->warp, nv_i32(nv, 2), "wg");
    LLVMValueRef q_off = LLVMBuildAdd(b, nv_i32(nv, f->off_q), LLVMBuildMul(b, wg, nv_i32(nv, 64 * 128), ""), "");
    LLVMValueRef k_off = LLVMBuildAdd(b, nv_i32(nv, f->off_k), LLVMBuildMul(b, f->slot, nv_i32(nv, f->slot_k), ""), "");
    LLVMValueRef acc[FA_MAXN * 4], da[NV_WG_MAXSTEPS], db[NV_WG_MAXSTEPS];
    int steps = p->D / 16;
    nv_wg_desc_kmajor(nv, smem_addr(f, q_off), p->Tq, 0, steps, da);
    nv_wg_desc_kmajor(nv, smem_addr(f, k_off), p->Tk, 0, steps, db);
    nv_wg_product(nv, p->dt, p->Tk, steps, da, NULL, db, false, false, acc);
    for (int nb = 0; nb < p->Tk / 8; nb++)
        for (int e = 0; e < 4; e++)
            s[0][nb][e] = acc[nb * 4 + e];
}

void fa2_wgmma_pv(fa2 *f, LLVMValueRef pr[FA_MAXMR][FA_MAXN][4], LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    LLVMBuilderRef b = nv->b;
    int kk_n = p->Tk / 16;
    LLVMValueRef vals[FA_MAXN * 4], regs[4 * NV_WG_MAXSTEPS], db[NV_WG_MAXSTEPS];
    for (int nb = 0; nb < p->Dv / 8; nb++)
        for (int e = 0; e < 4; e++)
            vals[nb * 4 + e] = acc[0][nb][e];
    for (int kk = 0; kk < kk_n; kk++) {
        LLVMValueRef *a = &regs[4 * kk];
        a[0] = nv_pack2(nv, p->dt, pr[0][2 * kk][0], pr[0][2 * kk][1]);
        a[1] = nv_pack2(nv, p->dt, pr[0][2 * kk][2], pr[0][2 * kk][3]);
        a[2] = nv_pack2(nv, p->dt, pr[0][2 * kk + 1][0], pr[0][2 * kk + 1][1]);
        a[3] = nv_pack2(nv, p->dt, pr[0][2 * kk + 1][2], pr[0][2 * kk + 1][3]);
    }
    LLVMValueRef v_off = LLVMBuildAdd(b, nv_i32(nv, f->off_v), LLVMBuildMul(b, f->slot, nv_i32(nv, f->slot_v), ""), "");
    nv_wg_desc_mnmajor(nv, smem_addr(f, v_off), p->Tk, kk_n, db);
    nv_wg_product(nv, p->dt, p->Dv, kk_n, NULL, regs, db, true, true, vals);
    for (int nb = 0; nb < p->Dv / 8; nb++)
        for (int e = 0; e < 4; e++)
            acc[0][nb][e] = vals[nb * 4 + e];
}
