/* nvptx_fa2_mma.c — tensor-core products on register fragments
 * (nvptx_fa2.h): Q A-fragments by ldmatrix, S = Q K^T with K B-fragments
 * from non-transposed ldmatrix (a K row is a B column), O += P V with P
 * repacked from the S accumulators (the m16n8k16 accumulator of two
 * neighbouring 8-column blocks is exactly one A fragment) and V
 * B-fragments from ldmatrix.trans. */
#include "nvptx_fa2.h"

static LLVMValueRef smem_at(fa2 *f, LLVMValueRef base, int c)
{
    LLVMValueRef off = LLVMBuildAdd(f->nv.b, base, nv_i32(&f->nv, c), "");
    return nv_gep(&f->nv, f->smem, off);
}

void fa2_load_q_frags(fa2 *f)
{
    const fa_plan *p = f->p;
    LLVMValueRef warp_off = LLVMBuildMul(f->nv.b, f->warp, nv_i32(&f->nv, 16 * p->MR * f->pitch_q), "");
    LLVMValueRef base = LLVMBuildAdd(f->nv.b, warp_off, f->lane_q, "");
    for (int mi = 0; mi < p->MR; mi++)
        for (int ks = 0; ks < p->D / 16; ks++)
            nv_ldmatrix_x4(&f->nv, smem_at(f, base, f->off_q + mi * 16 * f->pitch_q + ks * 32), false,
                           f->qf[mi][ks]);
}

void fa2_qk(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4])
{
    const fa_plan *p = f->p;
    for (int mi = 0; mi < p->MR; mi++)
        for (int nb = 0; nb < p->Tk / 8; nb++)
            for (int e = 0; e < 4; e++)
                s[mi][nb][e] = nv_f32(&f->nv, 0);
    LLVMValueRef slot_off = LLVMBuildMul(f->nv.b, f->slot, nv_i32(&f->nv, f->slot_k), "");
    LLVMValueRef base = LLVMBuildAdd(f->nv.b, slot_off, f->lane_k, "");
    if (!f->q_in_regs)
        fa2_load_q_frags(f);
    for (int ks = 0; ks < p->D / 16; ks++) {
        for (int np = 0; np < p->Tk / 16; np++) {
            LLVMValueRef r[4];
            nv_ldmatrix_x4(&f->nv, smem_at(f, base, f->off_k + np * 16 * f->pitch_k + ks * 32), false, r);
            LLVMValueRef b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
            for (int mi = 0; mi < p->MR; mi++) {
                nv_mma_16816(&f->nv, p->dt, f->qf[mi][ks], b0, s[mi][2 * np], s[mi][2 * np]);
                nv_mma_16816(&f->nv, p->dt, f->qf[mi][ks], b1, s[mi][2 * np + 1], s[mi][2 * np + 1]);
            }
        }
    }
}

void fa2_pv(fa2 *f, LLVMValueRef pr[FA_MAXMR][FA_MAXN][4], LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    const fa_plan *p = f->p;
    LLVMValueRef slot_off = LLVMBuildMul(f->nv.b, f->slot, nv_i32(&f->nv, f->slot_v), "");
    LLVMValueRef base = LLVMBuildAdd(f->nv.b, slot_off, f->lane_v, "");
    for (int kk = 0; kk < p->Tk / 16; kk++) {
        LLVMValueRef a[FA_MAXMR][4];
        for (int mi = 0; mi < p->MR; mi++) {
            a[mi][0] = nv_pack2(&f->nv, p->dt, pr[mi][2 * kk][0], pr[mi][2 * kk][1]);
            a[mi][1] = nv_pack2(&f->nv, p->dt, pr[mi][2 * kk][2], pr[mi][2 * kk][3]);
            a[mi][2] = nv_pack2(&f->nv, p->dt, pr[mi][2 * kk + 1][0], pr[mi][2 * kk + 1][1]);
            a[mi][3] = nv_pack2(&f->nv, p->dt, pr[mi][2 * kk + 1][2], pr[mi][2 * kk + 1][3]);
        }
        for (int np = 0; np < p->Dv / 16; np++) {
            LLVMValueRef r[4];
            nv_ldmatrix_x4(&f->nv, smem_at(f, base, f->off_v + kk * 16 * f->pitch_v + np * 32), true, r);
            LLVMValueRef b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
            for (int mi = 0; mi < p->MR; mi++) {
                nv_mma_16816(&f->nv, p->dt, a[mi], b0, acc[mi][2 * np], acc[mi][2 * np]);
                nv_mma_16816(&f->nv, p->dt, a[mi], b1, acc[mi][2 * np + 1], acc[mi][2 * np + 1]);
            }
        }
    }
}
