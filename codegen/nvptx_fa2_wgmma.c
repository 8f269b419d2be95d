/* nvptx_fa2_wgmma.c — the Hopper products of the FA2 skeleton
 * (nvptx_fa2.h, plan->wgmma): S = Q K^T and O += P V through the tile
 * builder's nt_mma, which takes warpgroup MMA for swizzled B tiles on
 * sm_90a (nvptx/tile_wgmma.c), and nt_mma_async for the overlapped loop.
 *
 * Why this fits the skeleton unchanged: a warpgroup's m64nN accumulator
 * gives warp w%4 rows 16(w%4).. of the warpgroup's 64, and within a warp
 * each 8-column block is laid out exactly like an m16n8 mma.sync
 * accumulator. With one 16-row block per warp (MR = 1), warp w owns rows
 * 16w.. in both, so scores, masks, the online softmax and the stores are
 * the FA2 code; and P packed from S is the register A operand (the "RS"
 * form) as it is for mma.sync.
 *
 * Shared tiles use the 128-byte swizzle: Q (A) and K (B of S, read
 * transposed) are K-major, V (B of P V) is MN-major. */
#include "nvptx_fa2.h"

/* This warp's warpgroup's 64 rows of the Q tile. */
static nt_smem q_rows(fa2 *f)
{
    nt *t = &f->t;
    const fa_plan *p = f->p;
    nt_smem q = nt_tile_sw(t, nv_i32(&f->nv, f->off_q), p->Tq, p->D, p->dt);
    LLVMValueRef wg = LLVMBuildLShr(f->nv.b, f->warp, nv_i32(&f->nv, 2), "wg");
    return nt_sub(t, q, LLVMBuildMul(f->nv.b, wg, nv_i32(&f->nv, 64), ""), nv_i32(&f->nv, 0), 64, p->D);
}

/* The K (V) tile of ring slot `slot`: its first `rows` rows, with the
 * slot's swizzle strides (a narrow tile's view, nvptx_fa2_narrow.c). */
static nt_smem slot_rows(fa2 *f, int tensor, LLVMValueRef slot, int rows)
{
    const fa_plan *p = f->p;
    LLVMBuilderRef b = f->nv.b;
    int off = tensor == T_K ? f->off_k : f->off_v, cols = tensor == T_K ? p->D : p->Dv;
    LLVMValueRef at = LLVMBuildAdd(b, nv_i32(&f->nv, off), LLVMBuildMul(b, slot, nv_i32(&f->nv, f->slot_k), ""), "");
    nt_smem tile = nt_tile_sw(&f->t, at, f->slot_rows, cols, p->dt);
    return rows < f->slot_rows ? nt_sub(&f->t, tile, nv_i32(&f->nv, 0), nv_i32(&f->nv, 0), rows, cols) : tile;
}

/* The plan's key tile (p->Tk rows) of ring slot `slot`. */
static nt_smem slot_tile(fa2 *f, int tensor, LLVMValueRef slot)
{
    return slot_rows(f, tensor, slot, f->p->Tk);
}

/* Q, the A operand of S = Q K^T: this warp's fragments under p->q_regs
 * (fa2_ws_q_wait loaded them before any S), else the warpgroup's rows in
 * shared memory. */
static nt_opnd q_opnd(fa2 *f)
{
    return f->p->q_regs ? nt_reg(&f->q) : nt_shared(q_rows(f), false);
}

/* This warp's 16 rows of the swizzled Q tile as wgmma A fragments (one
 * ldmatrix x4 per 16 columns: lanes 0-15 address rows at k0, lanes 16-31
 * at k0 + 8), after Q landed; every later S = Q K^T takes them. */
void fa2_wgmma_load_q(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    const fa_plan *p = f->p;
    f->q = (nt_frag){.role = NT_A, .rows = 16, .cols = p->D, .dt = p->dt, .n = p->D / 4};
    LLVMValueRef row = LLVMBuildAdd(b, LLVMBuildMul(b, f->warp, nv_i32(nv, 16), ""), LLVMBuildAnd(b, f->lane, nv_i32(nv, 15), ""), "");
    LLVMValueRef half = LLVMBuildLShr(b, f->lane, nv_i32(nv, 4), "");
    for (int kb = 0; kb < p->D / 16; kb++) {
        LLVMValueRef ch = LLVMBuildAdd(b, half, nv_i32(nv, 2 * kb), "");
        LLVMValueRef at = LLVMBuildAdd(b, nv_i32(nv, f->off_q), nv_wg_swizzle_offset(nv, row, ch, p->Tq), "");
        nv_ldmatrix_x4(nv, nv_gep(nv, f->smem, at), false, &f->q.v[4 * kb]);
    }
    /* the warp's lanes read each other's rows, which the staged O
     * (nvptx_fa2_ostage.c) overwrites at the end: ordered by the warp */
    nv_call(nv, "llvm.nvvm.bar.warp.sync", NULL, 0, (LLVMValueRef[]){nv_i32(nv, -1)}, 1);
    if (p->overlap) /* the overlapped loop reads them after P in each iteration (fa2_wgmma_issue) */
        return;
    if (!f->q_carried) {
        f->q_carry = nt_fvar_new(&f->t, &f->q);
        f->q_carried = true;
    } else { /* the next item of a persistent block */
        nt_fvar_set(&f->t, &f->q_carry, &f->q);
    }
}

/* Q's fragments for this tile's S in the plain loop, passed on to the next
 * tile through an XOR with a zero that ptxas cannot see (the heads count's
 * sign). Why: with Q read only by the S products, ptxas 13.0 let the same
 * iteration's P (the P V product's A fragments, written after S) take Q's
 * registers, so the next tile's S read P: wrong results (2026-12-06 run75;
 * the SASS shows the F2FP packs of P into the LDSM's registers). The
 * overlapped loop issues S after P within an iteration, which keeps them
 * apart; here the XOR at every tile is a use ptxas honours across the loop
 * (32 LOP3 a tile at D = 128). test_ptx_overlap checks the SASS. */
static nt_frag q_this_tile(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    nt_frag q;
    nt_fvar_get(&f->t, &f->q_carry, &q);
    LLVMValueRef zero = LLVMBuildAShr(nv->b, f->size[SZ_HEADS], nv_i32(nv, 31), "q.zero");
    for (int i = 0; i < q.n; i++)
        q.v[i] = LLVMBuildXor(nv->b, q.v[i], zero, "");
    nt_fvar_set(&f->t, &f->q_carry, &q);
    return q;
}

void fa2_wgmma_qk(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4])
{
    nt_frag acc, q = {0};
    nt_zero(&f->t, &acc, 16, f->p->Tk);
    nt_opnd a = q_opnd(f);
    if (f->q_carried) { /* the plain loop's carried fragments */
        q = q_this_tile(f);
        a = nt_reg(&q);
    }
    nt_mma(&f->t, &acc, a, nt_shared(slot_tile(f, T_K, f->slot), true), f->p->dt);
    fa2_unfrag(&acc, s);
}

void fa2_wgmma_pv_packed(fa2 *f, const nt_frag *pa, LLVMValueRef slot, nt_frag *o)
{
    nt_mma(&f->t, o, nt_reg(pa), nt_shared(slot_tile(f, T_V, slot), false), f->p->dt);
}

void fa2_wgmma_pv(fa2 *f, LLVMValueRef pr[FA_MAXMR][FA_MAXN][4], LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    nt_frag pc, o;
    fa2_frag(f, &pc, pr, f->p->Tk);
    fa2_frag(f, &o, acc, f->p->Dv);
    fa2_wgmma_pv_packed(f, &pc, f->slot, &o); /* P rounded to the A registers by nt_mma */
    fa2_unfrag(&o, acc);
}

void fa2_wgmma_issue(fa2 *f, LLVMValueRef slot_k, int s_keys, nt_frag *s, const nt_frag *pa, LLVMValueRef slot_v,
                     nt_frag *o)
{
    nt_zero(&f->t, s, 16, s_keys);
    nt_mma_op ops[2] = {
        {s, q_opnd(f), nt_shared(slot_rows(f, T_K, slot_k, s_keys), true), NULL},
        {o, nt_reg(pa), nt_shared(slot_rows(f, T_V, slot_v, pa->cols), false), NULL},
    };
    nt_mma_async(&f->t, ops, 2, f->p->dt);
}

void fa2_wgmma_issue_qk(fa2 *f, LLVMValueRef slot_k, nt_frag *s)
{
    nt_zero(&f->t, s, 16, f->p->Tk);
    nt_mma_op op = {s, q_opnd(f), nt_shared(slot_tile(f, T_K, slot_k), true), NULL};
    nt_mma_async(&f->t, &op, 1, f->p->dt);
}
