/* nvptx_fa2_ws.c — warp specialisation for the wgmma kernel (plan->ws):
 * the block is the computing warps (`warps`, 16 query rows each) plus one
 * producer warpgroup that only copies tiles, so the computing warpgroups
 * never wait for each other at a block barrier and drift apart: one does
 * its softmax while the other keeps the tensor cores busy.
 *
 * The pipeline is a ring of `stages` slots with two mbarriers each:
 *   full[s]   the producer's 128 threads each arrive when their cp.async
 *             copies of the slot's tile land (cp.async.mbarrier.arrive
 *             .noinc); phase parity (j / stages) & 1 for tile j;
 *   empty[s]  lane 0 of every computing warp arrives once its products on
 *             the slot finished (after wgmma.wait_group); the producer
 *             waits for it before refilling the slot.
 * Q has one barrier of its own. Under overlap (nvptx_fa2_overlap.c) the V
 * tiles have a ring of their own (fullv[S], emptyv[S] after q): a slot's K
 * is released once S = Q K^T is done, its V a tile later, after P V, and
 * the producer refills each as soon as it is free. Registers move from the producer (56) to
 * the computing warps (224) with setmaxnreg: 128 x 56 + 256 x 224 fits the
 * 64K registers of an SM (three computing warpgroups: 152, consumer_regs).
 *
 * Measured on the H200 (bench/RESULTS.md, 2026-11-29): with cp.async the
 * producer's 128 threads cannot issue copies fast enough for two computing
 * warpgroups (dense D=128: 463 TFLOP/s against 511 without a producer; a
 * copy loop instead of unrolled copies, to save its registers, fell to
 * 380), so mma=auto does not pick it; it wins slightly only where loops are
 * short (sliding window 345 against 334). Hence the TMA producer: one
 * thread, one instruction per 64-dim column block of a tile, on sequences
 * and on grid tile boxes (rank-5 maps, runtime/cuda/cuda_tma.h); cp.async
 * stays for grids under ATTNC_GRID_TMA=0.
 *
 * Under ATTNC_TMA_SKIP_EMPTY=1 (opt-in) the TMA producer of the default
 * loop evaluates the tile class's empty test on each tile and copies
 * nothing for a tile it proves empty: one plain arrive completes the
 * slot's phase, and the computing warps, whose loop skips the same tile on
 * the same test before reading the slot, go on without waiting for a copy
 * (radial at N = 31200 visits 952576 tiles, 530304 of them computed).
 *
 * On the tile builder (nvptx/tile.h): the rings are nt_rings (a slot's
 * phase parity is its tile index's, nothing carried), the copies
 * nt_copy_tma or nt_copy_g2s (fa2_load_tile), the producer's loop nt_for. */
#include <string.h>

#include "nvptx_fa2.h"

enum { WS_PRODUCER_REGS = 56, WS_CONSUMER_REGS = 224 };
enum { WS_TMA_PRODUCER_REGS = 24, WS_TMA_CONSUMER_REGS = 240 };

static int producer_regs(const fa2 *f)
{
    return f->p->tma ? WS_TMA_PRODUCER_REGS : WS_PRODUCER_REGS;
}

/* The barriers from f->off_bar: full[S], empty[S], q, and under overlap
 * the V ring's fullv[S], emptyv[S]. */
static nt_ring ring(const fa2 *f, int first)
{
    nt_ring r = {f->off_bar + 8 * first, f->p->stages};
    return r;
}

static nt_ring full_ring(const fa2 *f)
{
    return ring(f, 0);
}

static nt_ring empty_ring(const fa2 *f)
{
    return ring(f, f->p->stages);
}

static LLVMValueRef q_bar(fa2 *f)
{
    return nt_saddr(&f->t, nv_i32(&f->nv, f->off_bar + 16 * f->p->stages));
}

static nt_ring fullv_ring(const fa2 *f)
{
    return ring(f, 2 * f->p->stages + 1);
}

static nt_ring emptyv_ring(const fa2 *f)
{
    return ring(f, 3 * f->p->stages + 1);
}

/* The rings and q, then under persist q_empty: the computing warps are
 * done with the item's Q (lane 0 of each arrives). */
static int ring_bars(const fa2 *f)
{
    return (f->p->overlap ? 4 : 2) * f->p->stages + 1;
}

/* The item handoff of dynamic items (nvptx_fa2_persist.c), after q_empty:
 * item_full[2] and 16 bytes unused, then per slot FA2_ITEM_WORDS words (32
 * bytes) from byte 32. */
enum { HANDOFF_BYTES = 32 + 2 * 32 };
_Static_assert(FA2_ITEM_WORDS <= 8, "a slot's words fit its 32 bytes");

static int handoff_off(const fa2 *f)
{
    return f->off_bar + 8 * (ring_bars(f) + 1);
}

int fa2_ws_bar_bytes(const fa2 *f)
{
    return 8 * (ring_bars(f) + (f->p->persist ? 1 : 0)) + (fa2_items_dynamic(f) ? HANDOFF_BYTES : 0);
}

nt_ring fa2_ws_item_full(const fa2 *f)
{
    nt_ring r = {handoff_off(f), 2};
    return r;
}

LLVMValueRef fa2_ws_item_word(fa2 *f, LLVMValueRef slot, int i)
{
    LLVMValueRef at = LLVMBuildAdd(f->nv.b, nv_i32(&f->nv, handoff_off(f) + 32 + 4 * i),
                                   LLVMBuildShl(f->nv.b, slot, nv_i32(&f->nv, 5), ""), "");
    return nv_gep(&f->nv, f->smem, at);
}

static LLVMValueRef q_empty_bar(fa2 *f)
{
    return nt_saddr(&f->t, nv_i32(&f->nv, f->off_bar + 8 * ring_bars(f)));
}

void fa2_ws_init_barriers(fa2 *f)
{
    nt *t = &f->t;
    int S = f->p->stages;
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(f->nv.b, LLVMIntEQ, f->tid, nv_i32(&f->nv, 0), ""));
    int producers = f->p->tma ? 1 : 128; /* TMA: one arrive.expect_tx per fill */
    int nbar = ring_bars(f);
    for (int s = 0; s < nbar; s++) { /* full[S], empty[S], q, then under overlap fullv[S], emptyv[S] */
        bool full = s < S || s == 2 * S || (f->p->overlap && s > 2 * S && s <= 3 * S);
        nt_mbar_init(t, nt_saddr(t, nv_i32(&f->nv, f->off_bar + 8 * s)), full ? producers : f->p->warps);
    }
    if (f->p->persist)
        nt_mbar_init(t, q_empty_bar(f), f->p->warps);
    if (fa2_items_dynamic(f)) { /* one thread arrives once an item is written; a slot is free again by q_empty's order */
        nt_ring full = fa2_ws_item_full(f);
        for (int s = 0; s < 2; s++)
            nt_mbar_init(t, nt_ring_bar(t, &full, nv_i32(&f->nv, s)), 1);
    }
    nt_mbar_init_fence(t);
    nt_endif(t, join);
    nt_barrier(t);
}

LLVMValueRef fa2_ws_ring_index(fa2 *f, LLVMValueRef j)
{
    return f->ring_base ? LLVMBuildAdd(f->nv.b, f->ring_base, j, "ring_j") : j;
}

/* The shared byte offset of tensor's tile in ring slot `slot`. */
static LLVMValueRef slot_off(fa2 *f, int tensor, LLVMValueRef slot)
{
    LLVMBuilderRef b = f->nv.b;
    return LLVMBuildAdd(b, LLVMBuildMul(b, slot, nv_i32(&f->nv, f->slot_k), ""),
                        nv_i32(&f->nv, tensor == T_K ? f->off_k : f->off_v), "");
}

/* The TMA view of a tile whose box starts at org. A sequence's coordinates
 * are {token, head, batch}; a grid's {x, y, head, batch} or {x, y, z,
 * head + heads*batch}: the box's rows are its tokens row-major, as
 * fa2_tile_coords numbers them. */
static nt_tmap tma_src(fa2 *f, int tensor, const LLVMValueRef *org)
{
    nv_ctx *nv = &f->nv;
    LLVMValueRef head = tensor == T_Q ? f->head : f->kv_head;
    nt_tmap m = {.map = f->tmap[tensor]};
    int nd = f->p->grid_ndim;
    if (nd == 0) {
        m.crd[m.n++] = org[0];
    } else {
        for (int d = nd - 1; d >= 0; d--)
            m.crd[m.n++] = org[d];
    }
    if (nd < 3) {
        m.crd[m.n++] = head;
        m.crd[m.n++] = f->batch;
    } else {
        LLVMValueRef heads = f->size[tensor == T_Q ? SZ_HEADS : SZ_KV_HEADS];
        m.crd[m.n++] = LLVMBuildAdd(nv->b, head, LLVMBuildMul(nv->b, heads, f->batch, ""), "");
    }
    return m;
}

/* The swizzled tile of `tensor` at shared byte offset off. */
static nt_smem sw_tile(fa2 *f, int tensor, LLVMValueRef off)
{
    const fa_plan *p = f->p;
    return nt_tile_sw(&f->t, off, tensor == T_Q ? p->Tq : p->Tk, tensor == T_V ? p->Dv : p->D, p->dt);
}

/* One tensor's tile by TMA (box at org) into shared offset off, on bar. */
static void tma_tile(fa2 *f, int tensor, LLVMValueRef off, LLVMValueRef bar, const LLVMValueRef *org)
{
    nt_tmap src = tma_src(f, tensor, org);
    nt_copy_tma(&f->t, sw_tile(f, tensor, off), &src, bar);
}

/* K and V of tile j into ring slot `slot`, completing on its full barrier. */
static void fill_slot(fa2 *f, LLVMValueRef j, LLVMValueRef slot)
{
    nt *t = &f->t;
    nt_ring full = full_ring(f);
    LLVMValueRef org[3];
    fa2_kv_tile_origin(f, j, org);
    LLVMValueRef ko = slot_off(f, T_K, slot), vo = slot_off(f, T_V, slot);
    if (!f->p->tma) {
        fa2_load_tile(f, T_K, org, ko, NULL);
        fa2_load_tile(f, T_V, org, vo, NULL);
        nt_mbar_arrive_copies(t, nt_ring_bar(t, &full, slot));
        return;
    }
    LLVMValueRef bar = nt_ring_bar(t, &full, slot);
    nt_branch br;
    bool skip = f->p->empty && nvptx_tma_skip_empty_mode() == 1;
    if (skip) { /* the class's empty test, as the computing warps evaluate it on tile j */
        memcpy(f->k_org, org, sizeof org);
        br = nt_if_else(t, fa2_tile_empty(f));
        nt_mbar_arrive(t, bar); /* completes the slot's phase: no copy to wait for */
        nt_else(t, &br);
    }
    nt_mbar_expect_tx(t, bar, nt_bytes(sw_tile(f, T_K, ko)) + nt_bytes(sw_tile(f, T_V, vo)));
    tma_tile(f, T_K, ko, bar, org);
    tma_tile(f, T_V, vo, bar, org);
    if (skip)
        nt_endif_else(t, &br);
}

/* overlap: one tensor (K or V) of tile j into its ring slot, completing
 * on that ring's full barrier. */
static void fill_one(fa2 *f, int tensor, LLVMValueRef j, LLVMValueRef slot)
{
    nt *t = &f->t;
    nt_ring full = tensor == T_K ? full_ring(f) : fullv_ring(f);
    LLVMValueRef bar = nt_ring_bar(t, &full, slot), org[3];
    fa2_kv_tile_origin(f, j, org);
    LLVMValueRef off = slot_off(f, tensor, slot);
    if (!f->p->tma) {
        fa2_load_tile(f, tensor, org, off, NULL);
        nt_mbar_arrive_copies(t, bar);
        return;
    }
    nt_mbar_expect_tx(t, bar, nt_bytes(sw_tile(f, tensor, off)));
    tma_tile(f, tensor, off, bar, org);
}

static void fill_q(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    if (!f->p->tma) {
        fa2_load_tile(f, T_Q, f->q_org, nv_i32(nv, f->off_q), NULL);
        nt_mbar_arrive_copies(&f->t, q_bar(f));
        return;
    }
    nt_mbar_expect_tx(&f->t, q_bar(f), nt_bytes(sw_tile(f, T_Q, nv_i32(nv, f->off_q))));
    tma_tile(f, T_Q, nv_i32(nv, f->off_q), q_bar(f), f->q_org);
}

bool fa2_ws_early_q(const fa2 *f)
{
    const fa_plan *p = f->p;
    return p->ws && p->tma && !p->persist && p->range == RANGE_BOUNDS && p->span_param >= 0;
}

void fa2_ws_issue_q_early(fa2 *f)
{
    fa2_ws_init_barriers(f);
    LLVMBasicBlockRef join = nt_if(&f->t, LLVMBuildICmp(f->nv.b, LLVMIntEQ, f->load_tid, nv_i32(&f->nv, 0), ""));
    fill_q(f);
    nt_endif(&f->t, join);
}

/* Experimental (ATTNC_OVL_SPLIT_PRODUCER=1, nvptx_ovl_split_mode, part of
 * kernel cache keys; not yet run on a GPU): under overlap with TMA, thread 0
 * of the producer issues Q and the K ring, thread 32 (another warp) the V
 * ring, so that a K tile never waits behind the release of a V slot. */
static bool split_producer(const fa2 *f)
{
    return f->p->tma && f->p->overlap && nvptx_ovl_split_mode() == 1;
}

/* $ATTNC_TMA_L2_AHEAD: K and V of tile j + ahead (when the range has it)
 * into L2, issued before the producer waits for tile j's slot. */
static void prefetch_ahead(fa2 *f, LLVMValueRef j)
{
    int ahead = f->p->tma ? nvptx_tma_l2_ahead_mode() : 0;
    if (ahead <= 0)
        return;
    nt *t = &f->t;
    LLVMValueRef ja = LLVMBuildAdd(f->nv.b, j, nv_i32(&f->nv, ahead), "ahead");
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(f->nv.b, LLVMIntSLT, ja, f->r_total, ""));
    LLVMValueRef org[3];
    fa2_kv_tile_origin(f, ja, org);
    nt_tmap k = tma_src(f, T_K, org), v = tma_src(f, T_V, org);
    nt_prefetch_tma(t, &k, f->p->D);
    nt_prefetch_tma(t, &v, f->p->Dv);
    nt_endif(t, join);
}

/* Tile j into slot: each tensor once the computing warps released its
 * slot (the empty rings, from the second round on). */
static void produce(fa2 *f, LLVMValueRef j, LLVMValueRef v_thread)
{
    nt *t = &f->t;
    nt_ring empty = empty_ring(f), emptyv = emptyv_ring(f);
    LLVMValueRef rj = fa2_ws_ring_index(f, j); /* the rings' count; j the range's */
    LLVMValueRef slot = nt_ring_slot(t, &empty, rj);
    if (v_thread) {
        nt_branch br = nt_if_else(t, v_thread);
        nt_ring_wait_prev(t, &emptyv, rj);
        fill_one(f, T_V, j, slot);
        nt_else(t, &br);
        prefetch_ahead(f, j);
        nt_ring_wait_prev(t, &empty, rj);
        fill_one(f, T_K, j, slot);
        nt_endif_else(t, &br);
    } else if (f->p->overlap) {
        prefetch_ahead(f, j);
        nt_ring_wait_prev(t, &empty, rj);
        fill_one(f, T_K, j, slot);
        nt_ring_wait_prev(t, &emptyv, rj);
        fill_one(f, T_V, j, slot);
    } else {
        prefetch_ahead(f, j);
        nt_ring_wait_prev(t, &empty, rj);
        fill_slot(f, j, slot);
    }
}

/* Q, then the item's key tiles: once per block, or per item of a
 * persistent block (the next Q once the computing warps are done with
 * the last: q_empty's phase of the previous item). */
static void produce_item(fa2 *f, LLVMValueRef v_thread)
{
    nt *t = &f->t;
    LLVMBuilderRef b = f->nv.b;
    if (f->p->persist) {
        LLVMValueRef k = f->item_k;
        LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntSGT, k, nv_i32(&f->nv, 0), ""));
        LLVMValueRef prev = LLVMBuildAnd(b, LLVMBuildSub(b, k, nv_i32(&f->nv, 1), ""), nv_i32(&f->nv, 1), "");
        nt_mbar_wait(t, q_empty_bar(f), prev);
        nt_endif(t, join);
    }
    if (fa2_ws_early_q(f)) {
        /* issued before the document scan (fa2_ws_issue_q_early) */
    } else if (v_thread) {
        LLVMBasicBlockRef join = nt_if(t, LLVMBuildNot(b, v_thread, ""));
        fill_q(f);
        nt_endif(t, join);
    } else {
        fill_q(f);
    }
    nt_loop loop;
    LLVMValueRef j = nt_for(t, &loop, nv_i32(&f->nv, 0), f->r_total);
    produce(f, j, v_thread);
    nt_for_end(t, &loop);
    /* a grid producer's iterations differ only in the box they issue:
     * peeled copies of its tile arithmetic buy nothing for one thread */
    if (f->p->tma && f->p->grid_ndim)
        nt_loop_no_unroll(t, &loop);
}

/* The producer warpgroup: Q, then every key tile of the range in order,
 * each into its ring slot once the computing warps released it. With TMA
 * one thread issues everything (two under the split) and the others
 * leave. */
void fa2_ws_producer(fa2 *f)
{
    nt *t = &f->t;
    LLVMBuilderRef b = f->nv.b;
    bool split = split_producer(f) && !f->p->persist;
    LLVMValueRef v_thread = NULL; /* split: this thread issues the V ring */
    if (f->p->reg_shift)
        nt_setmaxnreg(&f->t, false, producer_regs(f));
    if (f->p->tma) {
        LLVMValueRef go = LLVMBuildICmp(b, LLVMIntEQ, f->load_tid, nv_i32(&f->nv, 0), "");
        if (split) {
            v_thread = LLVMBuildICmp(b, LLVMIntEQ, f->load_tid, nv_i32(&f->nv, 32), "");
            go = LLVMBuildOr(b, go, v_thread, "");
        }
        nt_return_unless(t, go);
    }
    if (f->p->persist) {
        fa2_items items = {.producer = true};
        fa2_items_begin(f, &items);
        produce_item(f, v_thread);
        fa2_items_end(f, &items);
    } else {
        produce_item(f, v_thread);
    }
    if (!f->p->tma)
        nt_cp_wait(t, 0); /* no cp.async outlives its thread */
    LLVMBuildRetVoid(b);
}

/* The computing warps' registers once the producer lowered its own: the
 * 240 (224) above at 8 warps; at 12 (three warpgroups) what the 64K
 * register file leaves them, 160 (152): a warp that raises past what is
 * free would wait for registers forever. */
static int consumer_regs(const fa2 *f)
{
    int producer = producer_regs(f);
    int most = f->p->tma ? WS_TMA_CONSUMER_REGS : WS_CONSUMER_REGS;
    int fit = (65536 - 128 * producer) / (32 * f->p->warps) / 8 * 8;
    return fit < most ? fit : most;
}

void fa2_ws_consumer_start(fa2 *f)
{
    if (f->p->reg_shift) /* regs=even: the launch's share */
        nt_setmaxnreg(&f->t, true, consumer_regs(f));
    if (!f->p->persist)
        fa2_ws_q_wait(f);
}

void fa2_ws_q_wait(fa2 *f)
{
    LLVMValueRef parity = f->item_k ? LLVMBuildAnd(f->nv.b, f->item_k, nv_i32(&f->nv, 1), "") : nv_i32(&f->nv, 0);
    nt_mbar_wait(&f->t, q_bar(f), parity);
    nv_wg_proxy_fence(&f->nv);
    if (!f->p->q_regs)
        return;
    fa2_wgmma_load_q(f); /* Q's A fragments, read once: S = Q K^T reads only K from shared memory */
    if (f->p->persist) /* its bytes are free now: the producer loads the next item's Q (and keys) under this one */
        fa2_ws_q_done(f);
}

/* After a slot's barrier: cp.async wrote it through the generic proxy, so
 * a proxy fence orders those writes before wgmma's (async-proxy) reads. TMA
 * writes through the async proxy and the barrier's completion suffices
 * (a fence per tile costs a MEMBAR): the overlapped loop omits it; the
 * default loop keeps it unless $ATTNC_TMA_FENCE=0 (nvptx_kernel.h). */
static void slot_landed(fa2 *f)
{
    if (!(f->p->tma && (f->p->overlap || nvptx_tma_fence_mode() == 0)))
        nv_wg_proxy_fence(&f->nv);
}

/* Top of iteration j for a computing warp: tile j resident. */
void fa2_ws_acquire(fa2 *f, LLVMValueRef j)
{
    nt_ring full = full_ring(f);
    LLVMValueRef rj = fa2_ws_ring_index(f, j);
    f->slot = nt_ring_slot(&f->t, &full, rj);
    nt_ring_wait(&f->t, &full, rj);
    slot_landed(f);
    fa2_kv_tile_origin(f, j, f->k_org);
}

/* End of iteration: this warp is done with the slot. */
void fa2_ws_release(fa2 *f)
{
    fa2_ws_release_slot(f, f->slot, NULL);
}

/* Lane 0 of the warp (and cond, if non-NULL) arrives on ring r's slot. */
/* Lane 0 of this warp arrives on barrier bar (when cond, if non-NULL). */
static void lane0_arrive(fa2 *f, LLVMValueRef bar, LLVMValueRef cond)
{
    nt *t = &f->t;
    LLVMValueRef lane0 = LLVMBuildICmp(f->nv.b, LLVMIntEQ, f->lane, nv_i32(&f->nv, 0), "");
    if (cond)
        lane0 = LLVMBuildAnd(f->nv.b, lane0, cond, "");
    LLVMBasicBlockRef join = nt_if(t, lane0);
    nt_mbar_arrive(t, bar);
    nt_endif(t, join);
}

static void release(fa2 *f, const nt_ring *r, LLVMValueRef slot, LLVMValueRef cond)
{
    lane0_arrive(f, nt_ring_bar(&f->t, r, slot), cond);
}

void fa2_ws_release_slot(fa2 *f, LLVMValueRef slot, LLVMValueRef cond)
{
    nt_ring empty = empty_ring(f);
    release(f, &empty, slot, cond);
}

/* overlap: V of tile j resident (its slot j % S). */
void fa2_ws_wait_v(fa2 *f, LLVMValueRef j)
{
    nt_ring fullv = fullv_ring(f);
    nt_ring_wait(&f->t, &fullv, fa2_ws_ring_index(f, j));
    slot_landed(f);
}

void fa2_ws_release_v(fa2 *f, LLVMValueRef j, LLVMValueRef cond)
{
    nt_ring emptyv = emptyv_ring(f);
    release(f, &emptyv, nt_ring_slot(&f->t, &emptyv, fa2_ws_ring_index(f, j)), cond);
}

void fa2_ws_q_done(fa2 *f)
{
    lane0_arrive(f, q_empty_bar(f), NULL);
}

/* Named barriers WS_TURN_BAR + w: warpgroup w's turn at the tensor cores.
 * Each use joins 256 threads: the 128 of w waiting (bar.sync) and the 128
 * of the other warpgroup handing over (bar.arrive). Barrier 0 is
 * __syncthreads (the CTA-wide barriers before the roles split). */
enum { WS_TURN_BAR = 4 };

LLVMValueRef fa2_warpgroup(fa2 *f)
{
    return LLVMBuildLShr(f->nv.b, f->warp, nv_i32(&f->nv, 2), "wg");
}

void fa2_ws_turn_init(fa2 *f)
{
    LLVMBasicBlockRef join = nt_if(&f->t, LLVMBuildICmp(f->nv.b, LLVMIntEQ, fa2_warpgroup(f), nv_i32(&f->nv, 1), ""));
    nt_bar_arrive(&f->t, nv_i32(&f->nv, WS_TURN_BAR), 256);
    nt_endif(&f->t, join);
}

void fa2_ws_turn_wait(fa2 *f)
{
    nt_bar_sync(&f->t, LLVMBuildAdd(f->nv.b, fa2_warpgroup(f), nv_i32(&f->nv, WS_TURN_BAR), ""), 256);
}

void fa2_ws_turn_pass(fa2 *f)
{
    nt_bar_arrive(&f->t, LLVMBuildSub(f->nv.b, nv_i32(&f->nv, WS_TURN_BAR + 1), fa2_warpgroup(f), ""), 256);
}

void fa2_ws_turn_end(fa2 *f)
{
    LLVMBasicBlockRef join = nt_if(&f->t, LLVMBuildICmp(f->nv.b, LLVMIntEQ, fa2_warpgroup(f), nv_i32(&f->nv, 0), ""));
    nt_bar_sync(&f->t, nv_i32(&f->nv, WS_TURN_BAR), 256);
    nt_endif(&f->t, join);
}
