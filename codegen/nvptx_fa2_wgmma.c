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
 * Ordering: wgmma is asynchronous, so the fence before a batch and the
 * commit+wait after it carry the accumulators (and P) as tied operands:
 * LLVM cannot move a register write past the fence or a read above the
 * wait. */
#include <stdio.h>
#include <string.h>

#include "nvptx_fa2.h"

/* Most tied operands one asm carries: the P·V fence holds Dv/2 accumulators
 * and Tk/4 P registers (nvptx_plan.c keeps Tk/2 + Dv/2 <= 192). */
enum { WG_MAXOPS = 192 + 64 };

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

/* Calls inline asm `text` whose first n outputs ("=f" or "=r" per out_ty)
 * are tied to the first n inputs, followed by `extra` inputs with the given
 * constraint string. Results replace vals[]. */
static void asm_tied(fa2 *f, const char *text, LLVMValueRef *vals, int n, const char *ties_ty,
                     LLVMValueRef *extra, int nextra, const char *extra_cons)
{
    nv_ctx *nv = &f->nv;
    char cons[4096];
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(cons + len, sizeof cons - len, "%s=%c", i ? "," : "", ties_ty[i]);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(cons + len, sizeof cons - len, ",%d", i);
    if (nextra)
        len += (size_t)snprintf(cons + len, sizeof cons - len, "%s%s", n ? "," : "", extra_cons);
    snprintf(cons + len, sizeof cons - len, "%s~{memory}", n || nextra ? "," : "");
    LLVMTypeRef out_tys[WG_MAXOPS];
    LLVMValueRef args[WG_MAXOPS + 8];
    for (int i = 0; i < n; i++) {
        out_tys[i] = ties_ty[i] == 'f' ? nv->f32 : nv->i32;
        args[i] = vals[i];
    }
    for (int i = 0; i < nextra; i++)
        args[n + i] = extra[i];
    LLVMTypeRef ret = n == 0   ? NULL
                      : n == 1 ? out_tys[0]
                               : LLVMStructTypeInContext(nv->c, out_tys, (unsigned)n, false);
    LLVMValueRef r = nv_asm(nv, ret, text, cons, args, n + nextra);
    if (n == 1)
        vals[0] = r;
    for (int i = 0; n > 1 && i < n; i++)
        vals[i] = LLVMBuildExtractValue(nv->b, r, (unsigned)i, "");
}

static void fence(fa2 *f, LLVMValueRef *vals, int n, const char *tys)
{
    asm_tied(f, "wgmma.fence.sync.aligned;", vals, n, tys, NULL, 0, "");
}

static void commit_wait(fa2 *f, LLVMValueRef *vals, int n, const char *tys)
{
    asm_tied(f, "wgmma.commit_group.sync.aligned;\n\twgmma.wait_group.sync.aligned 0;", vals, n, tys, NULL, 0,
             "");
}

/* One wgmma m64nNk16 with accumulators acc[N/2]; A is a descriptor (a_regs
 * NULL) or four registers. scale_d 0 ignores the incoming accumulators. */
static void mma(fa2 *f, int N, LLVMValueRef a_desc, LLVMValueRef *a_regs, LLVMValueRef b_desc, int scale_d,
                bool trans_b, LLVMValueRef *acc)
{
    int n = N / 2, x = 2 * n; /* operands: n outputs, n tied inputs, then the rest */
    char text[2048], cons[64];
    size_t len = (size_t)snprintf(text, sizeof text,
                                  "{\n\t.reg .pred p;\n\tsetp.ne.b32 p, $%d, 0;\n\t"
                                  "wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s {",
                                  x + (a_regs ? 5 : 2), N, mma_type(f), mma_type(f));
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%s$%d", i ? ", " : "", i);
    if (a_regs)
        len += (size_t)snprintf(text + len, sizeof text - len, "}, {$%d, $%d, $%d, $%d}, $%d, p, 1, 1, %d;\n}", x,
                                x + 1, x + 2, x + 3, x + 4, trans_b);
    else
        snprintf(text + len, sizeof text - len, "}, $%d, $%d, p, 1, 1, 0, %d;\n}", x, x + 1, trans_b);
    char tys[WG_MAXOPS];
    memset(tys, 'f', (size_t)n);
    LLVMValueRef extra[6];
    int ne = 0;
    if (a_regs) {
        for (int i = 0; i < 4; i++)
            extra[ne++] = a_regs[i];
        snprintf(cons, sizeof cons, "r,r,r,r,l,r");
    } else {
        extra[ne++] = a_desc;
        snprintf(cons, sizeof cons, "l,l,r");
    }
    extra[ne++] = b_desc;
    extra[ne++] = nv_i32(&f->nv, scale_d);
    asm_tied(f, text, acc, n, tys, extra, ne, cons);
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
    int n = p->Tk / 2;
    LLVMValueRef acc[FA_MAXN * 4];
    for (int i = 0; i < n; i++)
        acc[i] = LLVMGetUndef(nv->f32);
    fence(f, NULL, 0, "");
    for (int ks = 0; ks < p->D / 16; ks++) {
        int blk = ks / 4, in_row = (ks % 4) * 32;
        mma(f, p->Tk, desc_add(f, dq, blk * p->Tq * 128 + in_row), NULL, desc_add(f, dk, blk * p->Tk * 128 + in_row),
            ks > 0, false, acc);
    }
    char tys[WG_MAXOPS];
    memset(tys, 'f', (size_t)n);
    commit_wait(f, acc, n, tys);
    for (int nb = 0; nb < p->Tk / 8; nb++)
        for (int e = 0; e < 4; e++)
            s[0][nb][e] = acc[nb * 4 + e];
}

void fa2_wgmma_pv(fa2 *f, LLVMValueRef pr[FA_MAXMR][FA_MAXN][4], LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    LLVMBuilderRef b = nv->b;
    int n = p->Dv / 2, kk_n = p->Tk / 16;
    /* Operands of the fence: the accumulators, then P as bf16/f16 pairs. */
    LLVMValueRef vals[WG_MAXOPS];
    char tys[WG_MAXOPS];
    for (int nb = 0; nb < p->Dv / 8; nb++)
        for (int e = 0; e < 4; e++)
            vals[nb * 4 + e] = acc[0][nb][e];
    memset(tys, 'f', (size_t)n);
    for (int kk = 0; kk < kk_n; kk++) {
        LLVMValueRef *a = &vals[n + 4 * kk];
        a[0] = nv_pack2(nv, p->dt, pr[0][2 * kk][0], pr[0][2 * kk][1]);
        a[1] = nv_pack2(nv, p->dt, pr[0][2 * kk][2], pr[0][2 * kk][3]);
        a[2] = nv_pack2(nv, p->dt, pr[0][2 * kk + 1][0], pr[0][2 * kk + 1][1]);
        a[3] = nv_pack2(nv, p->dt, pr[0][2 * kk + 1][2], pr[0][2 * kk + 1][3]);
    }
    memset(tys + n, 'r', (size_t)(4 * kk_n));
    fence(f, vals, n + 4 * kk_n, tys);
    LLVMValueRef v_off = LLVMBuildAdd(b, nv_i32(nv, f->off_v), LLVMBuildMul(b, f->slot, nv_i32(nv, f->slot_v), ""), "");
    LLVMValueRef dv = descriptor(f, smem_addr(f, v_off), p->Tk * 128, 1024);
    for (int kk = 0; kk < kk_n; kk++)
        mma(f, p->Dv, NULL, &vals[n + 4 * kk], desc_add(f, dv, kk * 16 * 128), 1, true, vals);
    commit_wait(f, vals, n, tys);
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
