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

/* P (the softmax's probabilities in the S layout) packed as the register
 * A operand of P V: Tk/4 registers, four per k16 step. */
void fa2_wgmma_pack_p(fa2 *f, LLVMValueRef pr[FA_MAXMR][FA_MAXN][4], LLVMValueRef *regs)
{
    nv_ctx *nv = &f->nv;
    dtype dt = f->p->dt;
    for (int kk = 0; kk < f->p->Tk / 16; kk++) {
        LLVMValueRef *a = &regs[4 * kk];
        a[0] = nv_pack2(nv, dt, pr[0][2 * kk][0], pr[0][2 * kk][1]);
        a[1] = nv_pack2(nv, dt, pr[0][2 * kk][2], pr[0][2 * kk][3]);
        a[2] = nv_pack2(nv, dt, pr[0][2 * kk + 1][0], pr[0][2 * kk + 1][1]);
        a[3] = nv_pack2(nv, dt, pr[0][2 * kk + 1][2], pr[0][2 * kk + 1][3]);
    }
}

static LLVMValueRef slot_addr(fa2 *f, int off, LLVMValueRef slot)
{
    LLVMBuilderRef b = f->nv.b;
    return smem_addr(f, LLVMBuildAdd(b, nv_i32(&f->nv, off), LLVMBuildMul(b, slot, nv_i32(&f->nv, f->slot_k), ""), ""));
}

static void flat_acc(fa2 *f, LLVMValueRef acc[FA_MAXMR][FA_MAXN][4], LLVMValueRef *vals, bool out)
{
    for (int nb = 0; nb < f->p->Dv / 8; nb++)
        for (int e = 0; e < 4; e++) {
            if (out)
                acc[0][nb][e] = vals[nb * 4 + e];
            else
                vals[nb * 4 + e] = acc[0][nb][e];
        }
}

void fa2_wgmma_pv_regs(fa2 *f, LLVMValueRef *regs, LLVMValueRef slot, LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    const fa_plan *p = f->p;
    int kk_n = p->Tk / 16;
    LLVMValueRef vals[FA_MAXN * 4], db[NV_WG_MAXSTEPS];
    flat_acc(f, acc, vals, false);
    nv_wg_desc_mnmajor(&f->nv, slot_addr(f, f->off_v, slot), p->Tk, kk_n, db);
    nv_wg_product(&f->nv, p->dt, p->Dv, kk_n, NULL, regs, db, true, true, vals);
    flat_acc(f, acc, vals, true);
}

void fa2_wgmma_pv(fa2 *f, LLVMValueRef pr[FA_MAXMR][FA_MAXN][4], LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    LLVMValueRef regs[4 * NV_WG_MAXSTEPS];
    fa2_wgmma_pack_p(f, pr, regs);
    fa2_wgmma_pv_regs(f, regs, f->slot, acc);
}

/* S = Q K^T on slot_k, then O += P V on slot_v, issued as two commit
 * groups and not waited for: s and acc come back in flight (nvptx_wgmma.h
 * nv_wg_wait; wait_group 1 completes S, 0 both). */
void fa2_wgmma_issue(fa2 *f, LLVMValueRef slot_k, LLVMValueRef s[FA_MAXMR][FA_MAXN][4], LLVMValueRef *regs,
                     LLVMValueRef slot_v, LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    LLVMBuilderRef b = nv->b;
    int qk_steps = p->D / 16, pv_steps = p->Tk / 16;
    int q_step[NV_WG_MAXSTEPS], k_step[NV_WG_MAXSTEPS], v_step[NV_WG_MAXSTEPS];
    nv_wg_steps_kmajor(p->Tq, 0, qk_steps, q_step);
    nv_wg_steps_kmajor(p->Tk, 0, qk_steps, k_step);
    nv_wg_steps_mnmajor(pv_steps, v_step);
    LLVMValueRef wg = LLVMBuildLShr(b, f->warp, nv_i32(nv, 2), "wg");
    LLVMValueRef q_off = LLVMBuildAdd(b, nv_i32(nv, f->off_q), LLVMBuildMul(b, wg, nv_i32(nv, 64 * 128), ""), "");
    LLVMValueRef da, dk, dv;
    nv_wg_desc_kmajor(nv, smem_addr(f, q_off), p->Tq, 0, 1, &da);
    nv_wg_desc_kmajor(nv, slot_addr(f, f->off_k, slot_k), p->Tk, 0, 1, &dk);
    nv_wg_desc_mnmajor(nv, slot_addr(f, f->off_v, slot_v), p->Tk, 1, &dv);
    LLVMValueRef sv[FA_MAXN * 4], ov[FA_MAXN * 4];
    flat_acc(f, acc, ov, false);
    nv_wg_op ops[2] = {
        {p->Tk, qk_steps, &da, NULL, &dk, false, false, sv, q_step, k_step},
        {p->Dv, pv_steps, NULL, regs, &dv, true, true, ov, NULL, v_step},
    };
    nv_wg_products_async(nv, p->dt, ops, 2);
    for (int nb = 0; nb < p->Tk / 8; nb++)
        for (int e = 0; e < 4; e++)
            s[0][nb][e] = sv[nb * 4 + e];
    flat_acc(f, acc, ov, true);
}
