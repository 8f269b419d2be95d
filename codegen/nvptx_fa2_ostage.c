/* nvptx_fa2_ostage.c — O written through shared memory ($ATTNC_O_STAGE, on
 * by default; =0 turns it off; nvptx_kernel.h).
 *
 * Why: each thread holds its O rows as accumulator fragments, two columns
 * of eight a row per 16-byte chunk, so storing them straight to global
 * memory takes Dv/8 four-byte stores a row and thread: 32 per row pair at
 * head dim 128, each warp instruction touching 8 rows. At a block's end
 * the tensor cores wait for those stores; with one block an SM, short
 * blocks pay it often: on the H100 (2026-12-06 run68) keeping only one
 * store a row (a bound, not a kernel) took causal B=8 N=8192 from
 * 3.50-3.54 to 3.39-3.45 ms and 8 packed documents from 3.55-3.66 to
 * 3.45-3.50 ms.
 *
 * How: after the key loop a warpgroup's S products are complete, so the
 * shared bytes of its own 64 query rows (Q's tile, 64-column blocks of
 * 128-byte rows, as TMA wrote it) are free: nothing else reads them (each
 * warpgroup's wgmma reads only its rows of Q) and, one item a block, no
 * copy refills them. Each thread writes its fragments there (a row's
 * 16-byte chunk c at c ^ (row & 7) within its 128 bytes: the eight rows a
 * warp instruction writes fall in distinct banks), the warpgroup meets at
 * a named barrier of its own, and each thread then stores 16-byte chunks,
 * a warp covering whole rows (fa2_ostage_flush). LSE is stored as before.
 *
 * Persistent blocks: the producer refills Q's bytes with the next item's Q
 * while this item's O is stored, so O gets bytes of its own after Q's
 * (f->off_o; taken only where they fit, fa_plan_from_tir), and each item
 * starts its writes at the warpgroup's barrier (fa2_ostage_reuse), past
 * every thread's reads of the item before. Under TMA the store runs on
 * while the warpgroup starts its next item: its reads are waited for only
 * there and at the exit (fa2_ostage_exit).
 *
 * Taken with the producer warpgroup under wgmma (Q in shared memory), one
 * 16-row block a warp, and Dv <= D both multiples of 64 (O's rows fit Q's
 * bytes). The launch requires 16-byte aligned O rows (cuda_launch.c). */
#include "nvptx_fa2.h"
#include "nvptx_kernel.h"

enum { OSTAGE_BAR = 6 }; /* + warpgroup: named barriers 6, 7, 8 (0: the CTA; 4, 5: ping-pong turns) */

bool fa2_ostage_on(const fa2 *f)
{
    return f->p->o_stage;
}

/* The shared address of 16-byte chunk `chunk` (of Dv / 8) of row r
 * (0..63) of warpgroup wg's rows. */
static LLVMValueRef stage_addr(fa2 *f, LLVMValueRef wg, LLVMValueRef r, LLVMValueRef chunk)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef blk = LLVMBuildLShr(b, chunk, nv_i32(nv, 3), "");
    LLVMValueRef c16 = LLVMBuildXor(b, LLVMBuildAnd(b, chunk, nv_i32(nv, 7), ""), LLVMBuildAnd(b, r, nv_i32(nv, 7), ""), "");
    LLVMValueRef row = LLVMBuildAdd(b, LLVMBuildMul(b, wg, nv_i32(nv, 64), ""), r, "");
    LLVMValueRef off = LLVMBuildAdd(b, nv_i32(nv, f->off_o), LLVMBuildMul(b, blk, nv_i32(nv, f->p->Tq * 128), ""), "");
    off = LLVMBuildAdd(b, off, LLVMBuildMul(b, row, nv_i32(nv, 128), ""), "");
    off = LLVMBuildAdd(b, off, LLVMBuildShl(b, c16, nv_i32(nv, 4), ""), "ostage.off");
    return nv_gep(nv, f->smem, off);
}

/* i1: this thread is its warpgroup's first (the one that stores by TMA). */
static LLVMValueRef wg_first(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    return LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildAnd(b, f->tid, nv_i32(nv, 127), ""), nv_i32(nv, 0), "");
}

/* The warpgroup's first thread waits until its TMA stores have read
 * their staged bytes. */
static void wait_tma_reads(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBasicBlockRef join = nv_if(nv, wg_first(f), "ostage.reads");
    nt_store_tma_wait_reads(&f->t);
    nv_endif(nv, join);
}

void fa2_ostage_reuse(fa2 *f)
{
    if (!f->p->persist)
        return;
    LLVMValueRef wg = fa2_warpgroup(f);
    if (f->p->o_tma)
        wait_tma_reads(f);
    nt_bar_sync(&f->t, LLVMBuildAdd(f->nv.b, wg, nv_i32(&f->nv, OSTAGE_BAR), ""), 128);
}

void fa2_ostage_exit(fa2 *f)
{
    if (f->p->persist && f->p->o_tma)
        wait_tma_reads(f);
}

void fa2_ostage_write(fa2 *f, int h, LLVMValueRef inv, LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef r = LLVMBuildShl(b, LLVMBuildAnd(b, f->warp, nv_i32(nv, 3), ""), nv_i32(nv, 4), "");
    r = LLVMBuildAdd(b, LLVMBuildAdd(b, r, f->g, ""), nv_i32(nv, 8 * h), "ostage.row");
    LLVMValueRef wg = fa2_warpgroup(f), t4b = LLVMBuildShl(b, f->t4, nv_i32(nv, 2), "");
    for (int nb = 0; nb < f->p->Dv / 8; nb++) {
        LLVMValueRef lo = LLVMBuildFMul(b, acc[0][nb][2 * h], inv, "");
        LLVMValueRef hi = LLVMBuildFMul(b, acc[0][nb][2 * h + 1], inv, "");
        LLVMValueRef at = nv_gep(nv, stage_addr(f, wg, r, nv_i32(nv, nb)), t4b);
        LLVMValueRef st = LLVMBuildStore(b, nv_pack2(nv, f->p->dt, lo, hi), at);
        LLVMSetAlignment(st, 4);
    }
}

/* $ATTNC_O_TMA=1 (p->o_tma, token sequences): the warpgroup's first thread
 * stores its rows by TMA, Dv / 64 boxes of 64 rows from the staged bytes
 * (already in the map's 128-byte swizzle); rows past the sequence are
 * clipped by the map, so no row test; the other threads are done. */
static void flush_by_tma(fa2 *f, LLVMValueRef wg)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    const fa_plan *p = f->p;
    nv_wg_proxy_fence(nv); /* this thread's staged writes, for the async proxy */
    nt_bar_sync(&f->t, LLVMBuildAdd(b, wg, nv_i32(nv, OSTAGE_BAR), ""), 128);
    LLVMBasicBlockRef join = nv_if(nv, wg_first(f), "ostage.tma");
    LLVMValueRef rows = LLVMBuildMul(b, wg, nv_i32(nv, 64), "");
    LLVMValueRef crd[3] = {LLVMBuildAdd(b, f->q_org[0], rows, ""), f->head, f->batch};
    for (int blk = 0; blk < p->Dv / 64; blk++) {
        LLVMValueRef off = LLVMBuildAdd(b, nv_i32(nv, f->off_o + blk * p->Tq * 128), LLVMBuildMul(b, rows, nv_i32(nv, 128), ""), "");
        nt_store_tma_box(&f->t, f->tmap[KABI_O], nt_saddr(&f->t, off), 64 * blk, crd, 3);
    }
    if (p->persist) /* the reads are waited for before the next item's writes (fa2_ostage_reuse) or the exit */
        nt_store_tma_commit(&f->t);
    else
        nt_store_tma_wait_read(&f->t);
    nv_endif(nv, join);
}

void fa2_ostage_flush(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    const fa_plan *p = f->p;
    LLVMValueRef wg = fa2_warpgroup(f);
    if (p->o_tma) {
        flush_by_tma(f, wg);
        return;
    }
    nt_bar_sync(&f->t, LLVMBuildAdd(b, wg, nv_i32(nv, OSTAGE_BAR), ""), 128);
    enum { MAX_CHUNKS = 64 * 256 / 8 / 128 }; /* a thread's chunks at Dv = 256 */
    int per_row = p->Dv / 8, n = 64 * per_row / 128;
    LLVMValueRef tid = LLVMBuildAnd(b, f->tid, nv_i32(nv, 127), "");
    LLVMTypeRef v4 = LLVMVectorType(nv->i32, 4);
    LLVMValueRef v[MAX_CHUNKS], row[MAX_CHUNKS], chunk[MAX_CHUNKS];
    /* a warp: 32 consecutive chunks, whole rows; every load first, so they
     * are in flight together, then the stores */
    for (int i = 0; i < n; i++) {
        LLVMValueRef c = LLVMBuildAdd(b, tid, nv_i32(nv, 128 * i), "");
        row[i] = LLVMBuildUDiv(b, c, nv_i32(nv, per_row), "");
        chunk[i] = LLVMBuildURem(b, c, nv_i32(nv, per_row), "");
        v[i] = LLVMBuildLoad2(b, v4, stage_addr(f, wg, row[i], chunk[i]), "ostage.v");
        LLVMSetAlignment(v[i], 16);
    }
    for (int i = 0; i < n; i++) { /* predicated, not branched: a branch per store drew each load down to its store */
        LLVMValueRef rc[3];
        fa2_tile_coords(f, p->q_ext, f->q_org, LLVMBuildAdd(b, LLVMBuildMul(b, wg, nv_i32(nv, 64), ""), row[i], ""), rc);
        LLVMValueRef in = LLVMBuildZExt(b, fa2_in_bounds(f, rc, f->qext), nv->i32, "");
        LLVMValueRef col = LLVMBuildShl(b, chunk[i], nv_i32(nv, 3), "");
        LLVMValueRef args[6] = {fa2_elem_ptr(f, T_O, fa2_flat_token(f, rc), col, 2)};
        for (int e = 0; e < 4; e++)
            args[1 + e] = LLVMBuildExtractElement(b, v[i], nv_i32(nv, e), "");
        args[5] = in;
        nv_asm(nv, NULL, "{ .reg .pred p; setp.ne.b32 p, $5, 0; @p st.global.v4.u32 [$0], {$1, $2, $3, $4}; }",
               "l,r,r,r,r,r,~{memory}", args, 6);
    }
}
