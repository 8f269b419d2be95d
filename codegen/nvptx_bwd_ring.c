/* nvptx_bwd_ring.c — the dK/dV kernel's producer ring (bp->producer,
 * $ATTNC_BWD_PRODUCER=1; nvptx_bwd.h), FA3's structure: the CTA is the
 * computing warpgroups (threads 0 .. f->threads, 64 keys each) plus one
 * producer warpgroup, whose first warp fills the S = bp->stages (2, or 3
 * under $ATTNC_BWD_RING_STAGES=3) stages of the Q bank (gw_layout's bank
 * 1: Q, dO, lse, delta) in the order the computing warps visit the query
 * tiles; tile it goes to stage it % S:
 *
 *   full[s]   32 arrivals (the warp's lanes, after their st.shared of lse
 *             and delta: release) plus the TMA bytes of Q and dO (lane 0's
 *             arrive.expect_tx); the computing threads wait on parity
 *             (it / S) & 1 for the it-th tile;
 *             ($ATTNC_BWD_RING_TMA_FIRST=1, bp->tma_first: lane 0 announces
 *             the bytes (expect_tx, no arrival) and issues the TMA before
 *             the lanes load lse and delta, then all 32 arrive);
 *   empty[s]  one arrival per computing thread once its products on the
 *             stage are done (bp->release_all, the default; under
 *             $ATTNC_BWD_RING_RELEASE=0 lane 0 of each computing warp
 *             arrives for the warp); every producer lane waits on it
 *             before refilling.
 *
 * Why lane 0's arrival on empty would suffice, and why every thread
 * arrives all the same: compute-sanitizer's racecheck reported the
 * producer's st.shared of lse and delta (gb_load_stats_by's) as racing
 * with the computing lanes' ld.shared of the tile that held the stage
 * before (H200, 2026-12-03, lane-0 form: the four STS at
 * attnc_bwd_dkv+0xc90..0xd10 of the causal D = 128 and D = 64 kernels
 * against the LDS of probs, 0x3c20.., and grads_t, 0x5e90..; 8 errors,
 * 128-384 hazards each; with every thread arriving: 0 hazards, causal and
 * dense, and no measurable cost: dense 524-526 TFLOP/s vs 522-523, causal
 * within the run's noise). Every
 * lane's last read of lse or delta (probs, grads_t) comes before
 * gw_dq_bulk's bar.sync of the computing threads (gr_sync) and the
 * warpgroup's named barrier in program order; the producer is bulk-only
 * (ring_fits), so every pair that reads runs them, and a skipped pair
 * reads nothing. bar.sync synchronizes its participants (PTX memory
 * model: each one's bar.sync synchronizes-with the others'), lane 0's
 * mbarrier.arrive after it is a release at CTA scope, cumulative over
 * what happens before it, and each producer lane's try_wait is an
 * acquire: read (any lane) -> bar.sync -> arrive.release (lane 0) ->
 * phase complete -> try_wait.acquire (producer lane) -> st.shared is a
 * happens-before chain, so there is no race in the lane-0 form.
 * racecheck follows an mbarrier only from the threads that arrive on it
 * (the reads of lanes 1..31 look unordered): a false positive, which the
 * per-thread arrival removes (32 arrivals per warp instruction instead
 * of 1), and it no longer leans on the bulk dQ's barrier for the
 * ordering.
 *
 * TMA writes through the async proxy, which the wgmma products read, so
 * no proxy fence is needed after full; K and V stay cp.async copies of the
 * computing threads (once per CTA). Registers go from the producer (24)
 * to the computing warps (240) by setmaxnreg, as in the forward
 * (nvptx_fa2_ws.c); the mbarrier and TMA operations are the tile
 * builder's (nvptx/tile.h), over this kernel's own shared-memory layout. */
#include "nvptx_bwd_impl.h"

enum { GR_PRODUCER_REGS = 24, GR_CONSUMER_REGS = 240, GR_SYNC_BAR = 3, GR_DS_BAR = 4 /* + warpgroup */ };

static LLVMValueRef c32(gbw *g, int v)
{
    return nv_i32(&g->f.nv, v);
}

/* Shared address of barrier i: full[0 .. S), then empty[0 .. S). */
static LLVMValueRef bar(gbw *g, LLVMValueRef i)
{
    LLVMBuilderRef b = g->f.nv.b;
    return nt_saddr(&g->f.t, LLVMBuildAdd(b, c32(g, g->off_bar), LLVMBuildShl(b, i, c32(g, 3), ""), ""));
}

static LLVMValueRef stage_of(gbw *g, LLVMValueRef it)
{
    if (g->bp->stages == 2)
        return LLVMBuildAnd(g->f.nv.b, it, c32(g, 1), "stage");
    return LLVMBuildURem(g->f.nv.b, it, c32(g, g->bp->stages), "stage");
}

static LLVMValueRef empty_of(gbw *g, LLVMValueRef stage)
{
    return LLVMBuildAdd(g->f.nv.b, stage, c32(g, g->bp->stages), "");
}

static LLVMValueRef parity_of(gbw *g, LLVMValueRef it)
{
    LLVMBuilderRef b = g->f.nv.b;
    LLVMValueRef round = g->bp->stages == 2 ? LLVMBuildLShr(b, it, c32(g, 1), "")
                                            : LLVMBuildUDiv(b, it, c32(g, g->bp->stages), "");
    return LLVMBuildAnd(b, round, c32(g, 1), "");
}

void gr_init(gbw *g)
{
    nv_ctx *nv = &g->f.nv;
    nt *t = &g->f.t;
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildICmp(nv->b, LLVMIntEQ, g->f.tid, c32(g, 0), ""), "ring.init");
    int S = g->bp->stages, releases = g->bp->release_all ? g->f.threads : g->f.threads / 32;
    for (int i = 0; i < 2 * S; i++)
        nt_mbar_init(t, bar(g, c32(g, i)), i < S ? 32 : releases);
    nt_mbar_init_fence(t);
    nv_endif(nv, join);
    nv_barrier(nv);
}

LLVMValueRef gr_is_producer(gbw *g)
{
    return LLVMBuildICmp(g->f.nv.b, LLVMIntUGE, g->f.tid, c32(g, g->f.threads), "");
}

void gr_producer_start(gbw *g, LLVMBasicBlockRef *writer)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    nt_setmaxnreg(&f->t, false, GR_PRODUCER_REGS);
    LLVMValueRef first = LLVMBuildICmp(nv->b, LLVMIntEQ, f->warp, c32(g, f->threads / 32), "");
    LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ring.producer");
    LLVMBasicBlockRef idle = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ring.idle");
    *writer = NULL;
    if (g->bp->dq_writer) {
        LLVMBasicBlockRef other = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ring.other");
        *writer = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ring.writer");
        LLVMValueRef second = LLVMBuildICmp(nv->b, LLVMIntEQ, f->warp, c32(g, f->threads / 32 + 1), "");
        LLVMBuildCondBr(nv->b, second, *writer, other);
        LLVMPositionBuilderAtEnd(nv->b, other);
        LLVMBuildCondBr(nv->b, first, go, idle);
    } else {
        LLVMBuildCondBr(nv->b, first, go, idle);
    }
    LLVMPositionBuilderAtEnd(nv->b, idle);
    LLVMBuildRetVoid(nv->b);
    LLVMPositionBuilderAtEnd(nv->b, go);
}

void gr_consumer_start(gbw *g)
{
    nt_setmaxnreg(&g->f.t, true, GR_CONSUMER_REGS);
}

/* Q or dO of the box at f->q_org into shared byte offset off (64-column
 * slabs of Tq rows, as gb_load_rows lays them out swizzled). */
static void tma_tile(gbw *g, int map, int off, int dims, LLVMValueRef full)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMValueRef crd[3] = {f->q_org[0], f->head, f->batch};
    LLVMValueRef base = LLVMBuildAdd(nv->b, f->smem32, gb_smem_off(g, off, NULL), "");
    nt *t = &g->f.t;
    for (int c = 0; c < dims / 64; c++) {
        LLVMValueRef dst = LLVMBuildAdd(nv->b, base, c32(g, c * f->p->Tq * 128), "");
        nt_copy_tma_box(t, f->tmap[map], dst, full, c * 64, crd, 3);
    }
}

void gr_fill(gbw *g, LLVMValueRef it)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    const fa_plan *p = f->p;
    LLVMValueRef stage = stage_of(g, it);
    nt *t = &g->f.t;
    int S = g->bp->stages;
    LLVMBasicBlockRef again = nv_if(nv, LLVMBuildICmp(b, LLVMIntUGE, it, c32(g, S), ""), "ring.reuse");
    LLVMValueRef prev = LLVMBuildSub(b, it, c32(g, S), ""); /* the tile that last held the stage */
    nt_mbar_wait(t, bar(g, empty_of(g, stage)), parity_of(g, prev));
    nv_endif(nv, again);
    g->bank_dyn[1] = LLVMBuildMul(b, stage, c32(g, g->bank_size[1]), "");
    int bytes = p->Tq * 2 * (p->D + p->Dv);
    if (g->bp->tma_first) { /* Q and dO in flight while the lanes load lse and delta */
        LLVMValueRef full = bar(g, stage);
        LLVMBasicBlockRef j0 = nv_if(nv, LLVMBuildICmp(b, LLVMIntEQ, f->lane, c32(g, 0), ""), "ring.tma");
        LLVMValueRef args[2] = {full, c32(g, bytes)};
        nv_asm(nv, NULL, "mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [$0], $1;", "r,r,~{memory}", args, 2);
        tma_tile(g, 0, g->off_q, p->D, full);
        tma_tile(g, 1, g->off_do, p->Dv, full);
        nv_endif(nv, j0);
        gb_load_stats_by(g, f->q_org, f->head, f->lane, 32);
        nt_mbar_arrive(t, full); /* each lane releases its own st.shared */
        g->bank_dyn[1] = NULL;
        return;
    }
    gb_load_stats_by(g, f->q_org, f->head, f->lane, 32);
    LLVMValueRef full = bar(g, stage);
    LLVMBasicBlockRef lead = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ring.tma");
    LLVMBasicBlockRef rest = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ring.arrive");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ring.filled");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, f->lane, c32(g, 0), ""), lead, rest);
    LLVMPositionBuilderAtEnd(b, lead);
    nt_mbar_expect_tx(t, full, bytes);
    tma_tile(g, 0, g->off_q, p->D, full);
    tma_tile(g, 1, g->off_do, p->Dv, full);
    LLVMBuildBr(b, join);
    LLVMPositionBuilderAtEnd(b, rest);
    nt_mbar_arrive(t, full);
    LLVMBuildBr(b, join);
    LLVMPositionBuilderAtEnd(b, join);
    g->bank_dyn[1] = NULL;
}

void gr_acquire(gbw *g, LLVMValueRef it)
{
    LLVMValueRef stage = stage_of(g, it);
    nt *t = &g->f.t;
    nt_mbar_wait(t, bar(g, stage), parity_of(g, it));
    g->bank_dyn[1] = LLVMBuildMul(g->f.nv.b, stage, c32(g, g->bank_size[1]), "");
}

void gr_release(gbw *g, LLVMValueRef it)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    nt *t = &g->f.t;
    if (g->bp->release_all) { /* each thread releases its own reads */
        nt_mbar_arrive(t, bar(g, empty_of(g, stage_of(g, it))));
        return;
    }
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildICmp(nv->b, LLVMIntEQ, f->lane, c32(g, 0), ""), "ring.release");
    nt_mbar_arrive(t, bar(g, empty_of(g, stage_of(g, it))));
    nv_endif(nv, join);
}

void gr_sync(gbw *g)
{
    nt_bar_sync(&g->f.t, c32(g, GR_SYNC_BAR), g->f.threads);
}

/* ds_split: barrier GR_DS_BAR + w is "warpgroup w may store dS": its 128
 * threads' bar.sync and the other warpgroup's 128 bar.arrive. */
static void ds_bar(gbw *g, bool arrive, bool mine)
{
    nv_ctx *nv = &g->f.nv;
    LLVMValueRef wg = LLVMBuildLShr(nv->b, g->f.warp, c32(g, 2), "");
    if (!mine)
        wg = LLVMBuildSub(nv->b, c32(g, 1), wg, "");
    LLVMValueRef id = LLVMBuildAdd(nv->b, wg, c32(g, GR_DS_BAR), "");
    (arrive ? nt_bar_arrive : nt_bar_sync)(&g->f.t, id, 256);
}

static void ds_sync_after_first(gbw *g)
{
    nv_ctx *nv = &g->f.nv;
    LLVMValueRef pairs = LLVMBuildLoad2(nv->b, nv->i32, g->dq_pairs, "");
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildICmp(nv->b, LLVMIntSGT, pairs, c32(g, 0), ""), "ds.wait");
    ds_bar(g, false, true);
    nv_endif(nv, join);
}

void gr_ds_wait(gbw *g)
{
    ds_sync_after_first(g);
}

void gr_ds_done(gbw *g)
{
    ds_bar(g, true, false);
}

void gr_ds_end(gbw *g)
{
    ds_sync_after_first(g);
}
