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
 * 64K registers of an SM.
 *
 * Measured on the H200 (bench/RESULTS.md, 2026-11-29): with cp.async the
 * producer's 128 threads cannot issue copies fast enough for two computing
 * warpgroups (dense D=128: 463 TFLOP/s against 511 without a producer; a
 * copy loop instead of unrolled copies, to save its registers, fell to
 * 380), so mma=auto does not pick it; it wins slightly only where loops are
 * short (sliding window 345 against 334). Hence the TMA producer: one
 * thread, one instruction per 64-dim column block of a tile, on sequences
 * and on grid tile boxes (rank-5 maps, runtime/cuda/cuda_tma.h); cp.async
 * stays for grids under ATTNC_GRID_TMA=0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/DebugInfo.h>

#include "nvptx_fa2.h"

enum { WS_PRODUCER_REGS = 56, WS_CONSUMER_REGS = 224 };
enum { WS_TMA_PRODUCER_REGS = 24, WS_TMA_CONSUMER_REGS = 240 };

/* Shared address (i32) of barrier `idx`: full[0..S), empty[0..S), q. */
static LLVMValueRef bar(fa2 *f, LLVMValueRef idx)
{
    LLVMValueRef slot = LLVMBuildShl(f->nv.b, idx, nv_i32(&f->nv, 3), "");
    LLVMValueRef off = LLVMBuildAdd(f->nv.b, nv_i32(&f->nv, f->off_bar), slot, "");
    return LLVMBuildAdd(f->nv.b, f->smem32, off, "");
}

static LLVMValueRef full_bar(fa2 *f, LLVMValueRef slot)
{
    return bar(f, slot);
}

static LLVMValueRef empty_bar(fa2 *f, LLVMValueRef slot)
{
    return bar(f, LLVMBuildAdd(f->nv.b, slot, nv_i32(&f->nv, f->p->stages), ""));
}

static LLVMValueRef q_bar(fa2 *f)
{
    return bar(f, nv_i32(&f->nv, 2 * f->p->stages));
}

/* overlap: the V ring, after q */
static LLVMValueRef fullv_bar(fa2 *f, LLVMValueRef slot)
{
    return bar(f, LLVMBuildAdd(f->nv.b, slot, nv_i32(&f->nv, 2 * f->p->stages + 1), ""));
}

static LLVMValueRef emptyv_bar(fa2 *f, LLVMValueRef slot)
{
    return bar(f, LLVMBuildAdd(f->nv.b, slot, nv_i32(&f->nv, 3 * f->p->stages + 1), ""));
}

static void wait_parity(fa2 *f, LLVMValueRef b, LLVMValueRef parity)
{
    LLVMValueRef args[2] = {b, parity};
    nv_asm(&f->nv, NULL,
             "{\n\t.reg .pred P1;\n\tWS_WAIT_${:uid}:\n\t"
             "mbarrier.try_wait.parity.shared::cta.b64 P1, [$0], $1;\n\t@!P1 bra WS_WAIT_${:uid};\n}",
             "r,r,~{memory}", args, 2);
}

static void arrive_on_copies(fa2 *f, LLVMValueRef b)
{
    nv_asm(&f->nv, NULL, "cp.async.mbarrier.arrive.noinc.shared::cta.b64 [$0];", "r,~{memory}", &b, 1);
}

void fa2_ws_init_barriers(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    int S = f->p->stages;
        LLVMBasicBlockRef join = nv_if(&f->nv, LLVMBuildICmp(nv->b, LLVMIntEQ, f->tid, nv_i32(nv, 0), ""), "ws.if");
    int producers = f->p->tma ? 1 : 128; /* TMA: one arrive.expect_tx per fill */
    int nbar = (f->p->overlap ? 4 : 2) * S + 1;
    for (int s = 0; s < nbar; s++) {
        bool full = s < S || s == 2 * S || (s > 2 * S && s <= 3 * S);
        int count = full ? producers : f->p->warps;
        LLVMValueRef args[2] = {bar(f, nv_i32(nv, s)), nv_i32(nv, count)};
        nv_asm(&f->nv, NULL, "mbarrier.init.shared::cta.b64 [$0], $1;", "r,r,~{memory}", args, 2);
    }
    nv_asm(&f->nv, NULL, "fence.mbarrier_init.release.cluster;", "~{memory}", NULL, 0);
    nv_endif(&f->nv, join);
    nv_barrier(nv);
}

static void setmaxnreg(fa2 *f, bool inc, int regs)
{
    LLVMValueRef n = nv_i32(&f->nv, regs);
    nv_call(&f->nv, inc ? "llvm.nvvm.setmaxnreg.inc.sync.aligned.u32" : "llvm.nvvm.setmaxnreg.dec.sync.aligned.u32",
            NULL, 0, &n, 1);
}

static void copy_tile(fa2 *f, LLVMValueRef j, LLVMValueRef slot)
{
    nv_ctx *nv = &f->nv;
    LLVMValueRef org[3];
    fa2_kv_tile_origin(f, j, org);
    LLVMValueRef stage = LLVMBuildMul(nv->b, slot, nv_i32(nv, f->slot_k), "");
    fa2_load_tile(f, T_K, org, LLVMBuildAdd(nv->b, stage, nv_i32(nv, f->off_k), ""), NULL);
    fa2_load_tile(f, T_V, org, LLVMBuildAdd(nv->b, stage, nv_i32(nv, f->off_v), ""), NULL);
}

static void expect_bytes(fa2 *f, LLVMValueRef b, int bytes)
{
    LLVMValueRef args[2] = {b, nv_i32(&f->nv, bytes)};
    nv_asm(&f->nv, NULL, "mbarrier.arrive.expect_tx.shared::cta.b64 _, [$0], $1;", "r,r,~{memory}", args, 2);
}

/* One TMA box of tensor map `map` into shared byte address dst, completing
 * on barrier b: coordinates {dim, crd[0..n)} (innermost first). */
static void tma_box(fa2 *f, LLVMValueRef map, LLVMValueRef dst, LLVMValueRef b, int dim, const LLVMValueRef *crd,
                    int n)
{
    nv_ctx *nv = &f->nv;
    LLVMValueRef a = LLVMBuildPtrToInt(nv->b, map, nv->i64, "");
    LLVMValueRef args[8] = {dst, a, nv_i32(nv, dim)};
    char text[200], cons[64] = "r,l,r";
    int len = snprintf(text, sizeof text,
                       "cp.async.bulk.tensor.%dd.shared::cluster.global.mbarrier::complete_tx::bytes [$0], [$1, {$2",
                       n + 1);
    for (int i = 0; i < n; i++) {
        args[3 + i] = crd[i];
        len += snprintf(text + len, sizeof text - (size_t)len, ", $%d", 3 + i);
        strcat(cons, ",r");
    }
    args[3 + n] = b;
    snprintf(text + len, sizeof text - (size_t)len, "}], [$%d];", 3 + n);
    strcat(cons, ",r,~{memory}");
    nv_asm(nv, NULL, text, cons, args, 4 + n);
}

/* All 64-dim column blocks of a tile whose box starts at org: block c lands
 * at base + c*rows*128. A sequence's coordinates are {token, head, batch};
 * a grid's {x, y, head, batch} or {x, y, z, head + heads*batch}: the box's
 * rows are its tokens row-major, as fa2_tile_coords numbers them. */
static void tma_tile(fa2 *f, int tensor, LLVMValueRef base, LLVMValueRef b, const LLVMValueRef *org, int rows)
{
    nv_ctx *nv = &f->nv;
    int dims = tensor == T_V ? f->p->Dv : f->p->D;
    LLVMValueRef head = tensor == T_Q ? f->head : f->kv_head;
    LLVMValueRef crd[4];
    int n = 0, nd = f->p->grid_ndim;
    if (nd == 0) {
        crd[n++] = org[0];
    } else {
        for (int d = nd - 1; d >= 0; d--)
            crd[n++] = org[d];
    }
    if (nd < 3) {
        crd[n++] = head;
        crd[n++] = f->batch;
    } else {
        LLVMValueRef heads = f->size[tensor == T_Q ? SZ_HEADS : SZ_KV_HEADS];
        crd[n++] = LLVMBuildAdd(nv->b, head, LLVMBuildMul(nv->b, heads, f->batch, ""), "");
    }
    for (int c = 0; c < dims / 64; c++) {
        LLVMValueRef dst = LLVMBuildAdd(nv->b, base, nv_i32(nv, c * rows * 128), "");
        tma_box(f, f->tmap[tensor], dst, b, c * 64, crd, n);
    }
}

static void fill_slot(fa2 *f, LLVMValueRef j, LLVMValueRef slot)
{
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    if (!p->tma) {
        copy_tile(f, j, slot);
        arrive_on_copies(f, full_bar(f, slot));
        return;
    }
    LLVMValueRef org[3];
    fa2_kv_tile_origin(f, j, org);
    LLVMValueRef b = full_bar(f, slot);
    expect_bytes(f, b, p->Tk * 2 * (p->D + p->Dv));
    LLVMValueRef stage = LLVMBuildAdd(nv->b, f->smem32, LLVMBuildMul(nv->b, slot, nv_i32(nv, f->slot_k), ""), "");
    tma_tile(f, T_K, LLVMBuildAdd(nv->b, stage, nv_i32(nv, f->off_k), ""), b, org, p->Tk);
    tma_tile(f, T_V, LLVMBuildAdd(nv->b, stage, nv_i32(nv, f->off_v), ""), b, org, p->Tk);
}

/* overlap: one tensor (K or V) of tile j into its ring slot, completing
 * on barrier b. */
static void fill_one(fa2 *f, int tensor, LLVMValueRef j, LLVMValueRef slot, LLVMValueRef b)
{
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    LLVMValueRef org[3];
    fa2_kv_tile_origin(f, j, org);
    LLVMValueRef off = LLVMBuildAdd(nv->b, LLVMBuildMul(nv->b, slot, nv_i32(nv, f->slot_k), ""),
                                    nv_i32(nv, tensor == T_K ? f->off_k : f->off_v), "");
    if (!p->tma) {
        fa2_load_tile(f, tensor, org, off, NULL);
        arrive_on_copies(f, b);
        return;
    }
    expect_bytes(f, b, p->Tk * 2 * (tensor == T_K ? p->D : p->Dv));
    tma_tile(f, tensor, LLVMBuildAdd(nv->b, f->smem32, off, ""), b, org, p->Tk);
}

/* Waits (from the second round of the ring on) until the computing warps
 * released the slot (its V under `v`): parity of round j / S - 1. */
static void wait_free(fa2 *f, LLVMValueRef j, LLVMValueRef slot, bool v)
{
    nv_ctx *nv = &f->nv;
    int S = f->p->stages;
    LLVMValueRef round = LLVMBuildUDiv(nv->b, j, nv_i32(nv, S), "");
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildICmp(nv->b, LLVMIntUGE, j, nv_i32(nv, S), ""), "ws.if");
    LLVMValueRef parity = LLVMBuildAnd(nv->b, LLVMBuildSub(nv->b, round, nv_i32(nv, 1), ""), nv_i32(nv, 1), "");
    wait_parity(f, v ? emptyv_bar(f, slot) : empty_bar(f, slot), parity);
    nv_endif(nv, join);
}

static void fill_q(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    if (!f->p->tma) {
        fa2_load_tile(f, T_Q, f->q_org, nv_i32(nv, f->off_q), NULL);
        arrive_on_copies(f, q_bar(f));
        return;
    }
    expect_bytes(f, q_bar(f), f->p->Tq * 2 * f->p->D);
    tma_tile(f, T_Q, LLVMBuildAdd(nv->b, f->smem32, nv_i32(nv, f->off_q), ""), q_bar(f), f->q_org, f->p->Tq);
}

/* Keeps the loop of back edge br rolled: a grid producer's iterations
 * differ only in the box they issue, and peeled copies of its tile
 * arithmetic buy nothing for one thread. */
static void no_unroll(fa2 *f, LLVMValueRef br)
{
    LLVMContextRef c = f->nv.c;
    LLVMMetadataRef tmp = LLVMTemporaryMDNode(c, NULL, 0);
    LLVMMetadataRef name = LLVMMDStringInContext2(c, "llvm.loop.unroll.disable", 24);
    LLVMMetadataRef hint = LLVMMDNodeInContext2(c, &name, 1);
    LLVMMetadataRef ops[2] = {tmp, hint};
    LLVMMetadataRef loop = LLVMMDNodeInContext2(c, ops, 2);
    LLVMMetadataReplaceAllUsesWith(tmp, loop);
    LLVMSetMetadata(br, LLVMGetMDKindIDInContext(c, "llvm.loop", 9), LLVMMetadataAsValue(c, loop));
}

/* The producer warpgroup: Q, then every key tile of the range in order,
 * each into its ring slot once the computing warps released it. With TMA
 * one thread issues everything and the others leave. */
/* Experimental (ATTNC_OVL_SPLIT_PRODUCER=1, nvptx_ovl_split_mode, part of
 * kernel cache keys; not yet run on a GPU): under overlap with TMA, thread 0
 * of the producer issues Q and the K ring, thread 32 (another warp) the V
 * ring, so that a K tile never waits behind the release of a V slot. */
static bool split_producer(const fa2 *f)
{
    return f->p->tma && f->p->overlap && nvptx_ovl_split_mode() == 1;
}

void fa2_ws_producer(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    int S = f->p->stages;
    bool split = split_producer(f);
    LLVMValueRef v_thread = NULL; /* split: this thread issues the V ring */
    setmaxnreg(f, false, f->p->tma ? WS_TMA_PRODUCER_REGS : WS_PRODUCER_REGS);
    if (f->p->tma) {
        LLVMBasicBlockRef issuer = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ws.tma.issuer");
        LLVMBasicBlockRef idle = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ws.tma.idle");
        LLVMValueRef go = LLVMBuildICmp(b, LLVMIntEQ, f->load_tid, nv_i32(nv, 0), "");
        if (split) {
            v_thread = LLVMBuildICmp(b, LLVMIntEQ, f->load_tid, nv_i32(nv, 32), "");
            go = LLVMBuildOr(b, go, v_thread, "");
        }
        LLVMBuildCondBr(b, go, issuer, idle);
        LLVMPositionBuilderAtEnd(b, idle);
        LLVMBuildRetVoid(b);
        LLVMPositionBuilderAtEnd(b, issuer);
    }
    if (split) {
        LLVMBasicBlockRef join = nv_if(nv, LLVMBuildNot(b, v_thread, ""), "ws.q");
        fill_q(f);
        nv_endif(nv, join);
    } else {
        fill_q(f);
    }
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ws.prod.head");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ws.prod.body");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ws.prod.done");
    LLVMBuildBr(b, head);
    LLVMPositionBuilderAtEnd(b, head);
    LLVMValueRef j = LLVMBuildPhi(b, nv->i32, "j");
    LLVMValueRef zero = nv_i32(nv, 0);
    LLVMAddIncoming(j, &zero, &pre, 1);
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, j, f->r_total, ""), body, done);
    LLVMPositionBuilderAtEnd(b, body);
    LLVMValueRef slot = LLVMBuildURem(b, j, nv_i32(nv, S), "slot");
    if (split) {
        LLVMBasicBlockRef kb = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ws.k");
        LLVMBasicBlockRef vb = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ws.v");
        LLVMBasicBlockRef next_b = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ws.kv.next");
        LLVMBuildCondBr(b, v_thread, vb, kb);
        LLVMPositionBuilderAtEnd(b, kb);
        wait_free(f, j, slot, false);
        fill_one(f, T_K, j, slot, full_bar(f, slot));
        LLVMBuildBr(b, next_b);
        LLVMPositionBuilderAtEnd(b, vb);
        wait_free(f, j, slot, true);
        fill_one(f, T_V, j, slot, fullv_bar(f, slot));
        LLVMBuildBr(b, next_b);
        LLVMPositionBuilderAtEnd(b, next_b);
    } else if (f->p->overlap) {
        wait_free(f, j, slot, false);
        fill_one(f, T_K, j, slot, full_bar(f, slot));
        wait_free(f, j, slot, true);
        fill_one(f, T_V, j, slot, fullv_bar(f, slot));
    } else {
        wait_free(f, j, slot, false);
        fill_slot(f, j, slot);
    }
    LLVMValueRef next = LLVMBuildAdd(b, j, nv_i32(nv, 1), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
    LLVMAddIncoming(j, &next, &latch, 1);
    LLVMValueRef back = LLVMBuildBr(b, head);
    if (f->p->tma && f->p->grid_ndim)
        no_unroll(f, back);
    LLVMPositionBuilderAtEnd(b, done);
    if (!f->p->tma)
        nv_cp_wait(nv, 0); /* no cp.async outlives its thread */
    LLVMBuildRetVoid(b);
}

void fa2_ws_consumer_start(fa2 *f)
{
    setmaxnreg(f, true, f->p->tma ? WS_TMA_CONSUMER_REGS : WS_CONSUMER_REGS);
    wait_parity(f, q_bar(f), nv_i32(&f->nv, 0));
    nv_wg_proxy_fence(&f->nv);
}

/* After a slot's barrier: cp.async wrote it through the generic proxy, so
 * a proxy fence orders those writes before wgmma's (async-proxy) reads. TMA
 * writes through the async proxy and the barrier's completion suffices
 * (a fence per tile costs a MEMBAR): the overlapped loop omits it; the
 * default loop keeps it until measured without. */
static void slot_landed(fa2 *f)
{
    if (!(f->p->tma && f->p->overlap))
        nv_wg_proxy_fence(&f->nv);
}

/* Top of iteration j for a computing warp: tile j resident. */
void fa2_ws_acquire(fa2 *f, LLVMValueRef j)
{
    nv_ctx *nv = &f->nv;
    int S = f->p->stages;
    f->slot = LLVMBuildURem(nv->b, j, nv_i32(nv, S), "slot");
    LLVMValueRef parity = LLVMBuildAnd(nv->b, LLVMBuildUDiv(nv->b, j, nv_i32(nv, S), ""), nv_i32(nv, 1), "");
    wait_parity(f, full_bar(f, f->slot), parity);
    slot_landed(f);
    fa2_kv_tile_origin(f, j, f->k_org);
}

/* End of iteration: this warp is done with the slot. */
void fa2_ws_release(fa2 *f)
{
    fa2_ws_release_slot(f, f->slot, NULL);
}

void fa2_ws_release_slot(fa2 *f, LLVMValueRef slot, LLVMValueRef cond)
{
    nv_ctx *nv = &f->nv;
    LLVMValueRef lane0 = LLVMBuildICmp(nv->b, LLVMIntEQ, f->lane, nv_i32(nv, 0), "");
    if (cond)
        lane0 = LLVMBuildAnd(nv->b, lane0, cond, "");
    LLVMBasicBlockRef join = nv_if(&f->nv, lane0, "ws.if");
    LLVMValueRef b = empty_bar(f, slot);
    nv_asm(&f->nv, NULL, "mbarrier.arrive.shared::cta.b64 _, [$0];", "r,~{memory}", &b, 1);
    nv_endif(&f->nv, join);
}

/* overlap: V of tile j resident (its slot j % S). */
void fa2_ws_wait_v(fa2 *f, LLVMValueRef j)
{
    nv_ctx *nv = &f->nv;
    int S = f->p->stages;
    LLVMValueRef slot = LLVMBuildURem(nv->b, j, nv_i32(nv, S), "");
    LLVMValueRef parity = LLVMBuildAnd(nv->b, LLVMBuildUDiv(nv->b, j, nv_i32(nv, S), ""), nv_i32(nv, 1), "");
    wait_parity(f, fullv_bar(f, slot), parity);
    slot_landed(f);
}

void fa2_ws_release_v(fa2 *f, LLVMValueRef j, LLVMValueRef cond)
{
    nv_ctx *nv = &f->nv;
    LLVMValueRef lane0 = LLVMBuildICmp(nv->b, LLVMIntEQ, f->lane, nv_i32(nv, 0), "");
    if (cond)
        lane0 = LLVMBuildAnd(nv->b, lane0, cond, "");
    LLVMBasicBlockRef join = nv_if(nv, lane0, "ws.if");
    LLVMValueRef b = emptyv_bar(f, LLVMBuildURem(nv->b, j, nv_i32(nv, f->p->stages), ""));
    nv_asm(nv, NULL, "mbarrier.arrive.shared::cta.b64 _, [$0];", "r,~{memory}", &b, 1);
    nv_endif(nv, join);
}

/* Named barriers WS_TURN_BAR + w: warpgroup w's turn at the tensor cores.
 * Each use joins 256 threads: the 128 of w waiting (bar.sync) and the 128
 * of the other warpgroup handing over (bar.arrive). Barrier 0 is
 * __syncthreads (the CTA-wide barriers before the roles split). */
enum { WS_TURN_BAR = 4 };

static LLVMValueRef warpgroup(fa2 *f)
{
    return LLVMBuildLShr(f->nv.b, f->warp, nv_i32(&f->nv, 2), "wg");
}

static void named_bar(fa2 *f, const char *op, LLVMValueRef id)
{
    char text[48];
    snprintf(text, sizeof text, "%s $0, 256;", op);
    nv_asm(&f->nv, NULL, text, "r,~{memory}", &id, 1);
}

void fa2_ws_turn_init(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildICmp(nv->b, LLVMIntEQ, warpgroup(f), nv_i32(nv, 1), ""), "pp.init");
    named_bar(f, "bar.arrive", nv_i32(nv, WS_TURN_BAR));
    nv_endif(nv, join);
}

void fa2_ws_turn_wait(fa2 *f)
{
    named_bar(f, "bar.sync", LLVMBuildAdd(f->nv.b, warpgroup(f), nv_i32(&f->nv, WS_TURN_BAR), ""));
}

void fa2_ws_turn_pass(fa2 *f)
{
    named_bar(f, "bar.arrive", LLVMBuildSub(f->nv.b, nv_i32(&f->nv, WS_TURN_BAR + 1), warpgroup(f), ""));
}

void fa2_ws_turn_end(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildICmp(nv->b, LLVMIntEQ, warpgroup(f), nv_i32(nv, 0), ""), "pp.end");
    named_bar(f, "bar.sync", nv_i32(nv, WS_TURN_BAR));
    nv_endif(nv, join);
}
