/* nvptx_fa2_mma.c — the mma.sync products on the tile builder
 * (nvptx_fa2.h, nvptx/tile.h): Q as this warp's A fragment (ldmatrix),
 * S = Q K^T with K read as the transposed B operand of its shared tile,
 * O += P V with P the S accumulator as the A operand (rounded per k16 slab) and V
 * the B operand of its tile (ldmatrix.trans). The softmax code keeps its
 * [mi][nb][e] arrays: fa2_frag / fa2_unfrag convert, at no cost in IR. */
#include "nvptx_fa2.h"

void fa2_frag(fa2 *f, nt_frag *c, LLVMValueRef a[FA_MAXMR][FA_MAXN][4], int cols)
{
    nt_zero(&f->t, c, 16 * f->p->MR, cols);
    for (int k = 0; k < c->n; k++)
        c->v[k] = a[k / 4 / (cols / 8)][k / 4 % (cols / 8)][k % 4];
}

void fa2_unfrag(const nt_frag *c, LLVMValueRef a[FA_MAXMR][FA_MAXN][4])
{
    for (int k = 0; k < c->n; k++)
        a[k / 4 / (c->cols / 8)][k / 4 % (c->cols / 8)][k % 4] = c->v[k];
}

/* This warp's 16 MR rows of the shared Q tile. */
static nt_smem q_rows(fa2 *f)
{
    const fa_plan *p = f->p;
    nt_smem q = nt_tile(&f->t, nv_i32(&f->nv, f->off_q), p->Tq, p->D, p->dt, f->pitch_q);
    LLVMValueRef row0 = LLVMBuildMul(f->nv.b, f->warp, nv_i32(&f->nv, 16 * p->MR), "");
    return nt_sub(&f->t, q, row0, nv_i32(&f->nv, 0), 16 * p->MR, p->D);
}

void fa2_load_q_frags(fa2 *f)
{
    nt_load(&f->t, &f->q, NT_A, q_rows(f), false);
}

/* The K or V tile (rows: keys) of the current pipeline slot. */
static nt_smem kv_tile(fa2 *f, int off, int slot_bytes, int cols, int pitch)
{
    LLVMValueRef at = LLVMBuildMul(f->nv.b, f->slot, nv_i32(&f->nv, slot_bytes), "");
    at = LLVMBuildAdd(f->nv.b, at, nv_i32(&f->nv, off), "");
    return nt_tile(&f->t, at, f->p->Tk, cols, f->p->dt, pitch);
}

void fa2_qk(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4])
{
    const fa_plan *p = f->p;
    nt_frag acc;
    nt_zero(&f->t, &acc, 16 * p->MR, p->Tk);
    if (!f->q_in_regs)
        fa2_load_q_frags(f);
    nt_mma(&f->t, &acc, nt_reg(&f->q), nt_shared(kv_tile(f, f->off_k, f->slot_k, p->D, f->pitch_k), true), p->dt);
    fa2_unfrag(&acc, s);
}

void fa2_pv(fa2 *f, LLVMValueRef pr[FA_MAXMR][FA_MAXN][4], LLVMValueRef o[FA_MAXMR][FA_MAXN][4])
{
    const fa_plan *p = f->p;
    nt_frag sc, acc;
    fa2_frag(f, &sc, pr, p->Tk);
    fa2_frag(f, &acc, o, p->Dv);
    nt_mma(&f->t, &acc, nt_reg(&sc), nt_shared(kv_tile(f, f->off_v, f->slot_v, p->Dv, f->pitch_v), false), p->dt);
    fa2_unfrag(&acc, o);
}
