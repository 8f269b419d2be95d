/* nvptx_fa2_wgmma.c — the Hopper products of the FA2 skeleton
 * (nvptx_fa2.h, plan->wgmma): S = Q K^T and O += P V by warpgroup MMA
 * (wgmma.mma_async m64nNk16, f32 accumulate) instead of mma.sync.
 *
 * Why this fits the skeleton unchanged: a warpgroup's m64nN accumulator
 * gives warp w%4 rows 16(w%4).. of the warpgroup's 64, and within a warp
 * each 8-column block is laid out exactly like an m16n8 mma.sync
 * accumulator. With one 16-row block per warp (MR = 1), warp w owns rows
 * 16w.. in both, so scores, masks, the online softmax and the stores are
 * the FA2 code; and P packed from S is the register A operand (the "RS"
 * form) as it is for mma.sync.
 *
 * Shared tiles use the 128-byte swizzle wgmma reads: a tile of R rows and
 * D columns is D/64 column blocks of R rows x 128 bytes; 16-byte chunk c
 * of row r sits at chunk position c ^ (r % 8). Block bases are 1024-byte
 * aligned. Q (A) and K (B of S) are K-major: descriptor SBO = 1024 (8-row
 * groups), a k16 step moves the start 32 bytes inside the swizzle row. V
 * (B of P V) is MN-major (trans-b): LBO = the column-block stride, SBO =
 * 1024, a k16 step moves 16 rows (2048 bytes).
 *
 * Ordering: wgmma is asynchronous. Each product is one inline asm —
 * fence, the k16 steps, commit, wait 0 — whose outputs are the accumulators
 * (tied to their inputs when the product accumulates): LLVM cannot move a
 * register read or write into the asynchronous window, and the IR holds
 * one call per product instead of one per step (a tenth of the LLVM
 * compile time went to copying 64 tied operands through each step). */
#include <stdio.h>
#include <string.h>

#include "nvptx_fa2.h"
#include "../support/strbuf.h"

/* Most inputs one product carries: Dv/2 tied accumulators, Tk/4 P
 * registers, Tk/16 descriptors and the scale flag (nvptx_plan.c keeps
 * Dv <= 256 and Tk <= 256). */
enum { WG_MAXIN = 128 + 64 + 16 + 1, WG_MAXOUT = 128 };
_Static_assert((int)WG_MAXIN <= (int)NV_ASM_MAX_ARGS, "nv_asm takes every input of a product");

static const char *mma_type(const fa2 *f)
{
    return f->p->dt == DT_F16 ? "f16" : "bf16";
}

/* Byte offset of 16-byte chunk `ch` of row `row` in a swizzled tile of
 * `rows` rows (i32 values; rows is a constant). */
LLVMValueRef fa2_swizzle_offset(fa2 *f, LLVMValueRef row, LLVMValueRef ch, int rows)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef blk = LLVMBuildLShr(b, ch, nv_i32(nv, 3), "");
    LLVMValueRef c8 = LLVMBuildAnd(b, ch, nv_i32(nv, 7), "");
    LLVMValueRef sw = LLVMBuildXor(b, c8, LLVMBuildAnd(b, row, nv_i32(nv, 7), ""), "");
    LLVMValueRef off = LLVMBuildMul(b, blk, nv_i32(nv, rows * 128), "");
    off = LLVMBuildAdd(b, off, LLVMBuildShl(b, row, nv_i32(nv, 7), ""), "");
    return LLVMBuildAdd(b, off, LLVMBuildShl(b, sw, nv_i32(nv, 4), ""), "");
}

/* A 128B-swizzle descriptor for the tile at shared byte address addr. */
static LLVMValueRef descriptor(fa2 *f, LLVMValueRef addr, int lbo, int sbo)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef a = LLVMBuildAnd(b, LLVMBuildLShr(b, addr, nv_i32(nv, 4), ""), nv_i32(nv, 0x3FFF), "");
    unsigned long long hi = ((unsigned long long)(lbo >> 4) << 16) | ((unsigned long long)(sbo >> 4) << 32) |
                            (1ULL << 62);
    return LLVMBuildOr(b, LLVMBuildZExt(b, a, nv->i64, ""), LLVMConstInt(nv->i64, hi, false), "");
}

static LLVMValueRef desc_add(fa2 *f, LLVMValueRef d, int bytes)
{
    return bytes ? LLVMBuildAdd(f->nv.b, d, nv_i64(&f->nv, bytes >> 4), "") : d;
}

/* A product of `steps` wgmma m64nNk16 into acc[N/2] as one asm. Step k's A
 * is the descriptor a_desc[k] (a_regs NULL) or the registers a_regs[4k..];
 * its B is b_desc[k]. accumulate: the first step adds to acc (else it
 * ignores the incoming values, and acc needs none). */
static void product(fa2 *f, int N, int steps, LLVMValueRef *a_desc, LLVMValueRef *a_regs, LLVMValueRef *b_desc,
                    bool accumulate, bool trans_b, LLVMValueRef *acc)
{
    nv_ctx *nv = &f->nv;
    int n = N / 2, per_a = a_regs ? 4 : 1;
    LLVMValueRef in[WG_MAXIN];
    int nin = 0;
    strbuf cons, text;
    sb_init(&cons);
    sb_init(&text);
    for (int i = 0; i < n; i++)
        sb_printf(&cons, "%s=f", i ? "," : "");
    if (accumulate)
        for (int i = 0; i < n; i++) {
            sb_printf(&cons, ",%d", i);
            in[nin++] = acc[i];
        }
    int first_a = n + nin; /* operand numbers: outputs, then inputs in order */
    for (int k = 0; k < steps; k++) {
        for (int r = 0; r < per_a; r++) {
            in[nin++] = a_regs ? a_regs[4 * k + r] : a_desc[k];
            sb_puts(&cons, a_regs ? ",r" : ",l");
        }
    }
    int first_b = n + nin;
    for (int k = 0; k < steps; k++) {
        in[nin++] = b_desc[k];
        sb_puts(&cons, ",l");
    }
    int zero = n + nin;
    in[nin++] = nv_i32(nv, 0);
    sb_puts(&cons, ",r,~{memory}");
    /* p_add: accumulate (true); p_first: the first step's scale-d. */
    sb_printf(&text, "{\n\t.reg .pred p_add, p_first;\n\tsetp.eq.b32 p_add, $%d, 0;\n\tsetp.ne.b32 p_first, $%d, 0;\n",
              zero, zero);
    sb_puts(&text, "\twgmma.fence.sync.aligned;\n");
    for (int k = 0; k < steps; k++) {
        sb_printf(&text, "\twgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s {", N, mma_type(f), mma_type(f));
        for (int i = 0; i < n; i++)
            sb_printf(&text, "%s$%d", i ? ", " : "", i);
        int a = first_a + per_a * k;
        if (a_regs)
            sb_printf(&text, "}, {$%d, $%d, $%d, $%d}", a, a + 1, a + 2, a + 3);
        else
            sb_printf(&text, "}, $%d", a);
        sb_printf(&text, ", $%d, %s, 1, 1%s, %d;\n", first_b + k, k > 0 || accumulate ? "p_add" : "p_first",
                  a_regs ? "" : ", 0", trans_b);
    }
    sb_puts(&text, "\twgmma.commit_group.sync.aligned;\n\twgmma.wait_group.sync.aligned 0;\n}");
    LLVMTypeRef out_tys[WG_MAXOUT];
    for (int i = 0; i < n; i++)
        out_tys[i] = nv->f32;
    LLVMTypeRef ret = LLVMStructTypeInContext(nv->c, out_tys, (unsigned)n, false);
    LLVMValueRef r = nv_asm(nv, ret, sb_cstr(&text), sb_cstr(&cons), in, nin);
    for (int i = 0; i < n; i++)
        acc[i] = LLVMBuildExtractValue(nv->b, r, (unsigned)i, "");
    sb_free(&cons);
    sb_free(&text);
}

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
    LLVMValueRef dq = descriptor(f, smem_addr(f, q_off), 16, 1024);
    LLVMValueRef k_off = LLVMBuildAdd(b, nv_i32(nv, f->off_k), LLVMBuildMul(b, f->slot, nv_i32(nv, f->slot_k), ""), "");
    LLVMValueRef dk = descriptor(f, smem_addr(f, k_off), 16, 1024);
    LLVMValueRef acc[FA_MAXN * 4], da[16], db[16];
    int steps = p->D / 16;
    for (int ks = 0; ks < steps; ks++) {
        int blk = ks / 4, in_row = (ks % 4) * 32;
        da[ks] = desc_add(f, dq, blk * p->Tq * 128 + in_row);
        db[ks] = desc_add(f, dk, blk * p->Tk * 128 + in_row);
    }
    product(f, p->Tk, steps, da, NULL, db, false, false, acc);
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
    LLVMValueRef vals[WG_MAXOUT], regs[64], db[16];
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
    LLVMValueRef dv = descriptor(f, smem_addr(f, v_off), p->Tk * 128, 1024);
    for (int kk = 0; kk < kk_n; kk++)
        db[kk] = desc_add(f, dv, kk * 16 * 128);
    product(f, p->Dv, kk_n, NULL, regs, db, true, true, vals);
    for (int nb = 0; nb < p->Dv / 8; nb++)
        for (int e = 0; e < 4; e++)
            acc[0][nb][e] = vals[nb * 4 + e];
}

/* cp.async writes are generic-proxy writes; wgmma reads through the async
 * proxy. Each thread fences its landed copies before the barrier. */
void fa2_wgmma_proxy_fence(fa2 *f)
{
    nv_asm(&f->nv, NULL, "fence.proxy.async.shared::cta;", "~{memory}", NULL, 0);
}
