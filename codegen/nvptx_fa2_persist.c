/* nvptx_fa2_persist.c — persistent blocks for the TMA producer kernel
 * (plan->persist, schedule persist=1).
 *
 * The launch has one block per SM (cuda_module_launch); in round k the
 * blocks take items k * blocks .. (k + 1) * blocks - 1, by flat block
 * index, reversed every other round (a snake). Items of a token sequence
 * are ordered by query tile, heaviest (last) first, then (head, batch):
 * with the snake that balances causal work as well as a longest-first
 * greedy schedule (bench/item_order_sim.py balance; a static stride
 * over head-major items gave some blocks 1.55x the mean at N = 16384:
 * causal fell from 615 to 386 TFLOP/s). Grid boxes, whose ranges are uniform, keep a head's tiles
 * together (query tile fastest) for the L2. Any grid runs the kernel: a
 * plain (query tiles, heads, batch) grid gives one item per block (how
 * AOT launchers start it).
 *
 * What it buys: the producer runs ahead across items. It loads the next
 * item's Q once the computing warps are done with this one's (the q_empty
 * barrier, after the key loop) and its first K/V tiles as ring slots
 * free, so the next key loop starts on resident tiles while the computing
 * warps still normalise and store this item's O. The rings' slot and
 * phase are those of a running tile count (ring_base + j), the same in
 * both roles because both compute each item's range.
 *
 * The producer and the computing warps each run this loop; items whose
 * range is empty pass with no tile (their rows store 0 and LSE -inf).
 *
 * Dynamic items ($ATTNC_PERSIST_DYNAMIC=1, experimental): that order keeps
 * up to 132 (head, batch) pairs in flight, whose K/V then streams from
 * DRAM (H100 run48: causal B=8 N=8192 1.6x slower than a plain grid). Under
 * the switch a block takes its own index first and then, each time its
 * producer starts an item, the next one of a counter (fetch_item), items
 * pair-major, heaviest first: the blocks share a few pairs, as a plain
 * grid's dispatch does, and the first free block takes the next item. A
 * plain grid still runs it (every block's first item is its own). */
#include "nvptx_fa2.h"
#include "nvptx_kernel.h"

static LLVMValueRef sreg(fa2 *f, const char *name)
{
    return nv_sreg(&f->nv, name);
}

bool fa2_items_dynamic(const fa2 *f)
{
    return f->p->persist && nvptx_persist_dynamic_mode() == 1;
}

/* The dynamic schedule's counter, a module global: word 0 counts the items
 * taken after each block's first, word 1 the blocks that ran out. The
 * block that runs out last zeroes both, so the next launch (stream order)
 * starts from 0. Two launches of one module at once would share it. */
static LLVMValueRef sched_word(fa2 *f, int i)
{
    nv_ctx *nv = &f->nv;
    LLVMTypeRef ty = LLVMArrayType(nv->i32, 2);
    LLVMValueRef g = LLVMGetNamedGlobal(nv->m, "attnc_item_counter");
    if (!g) {
        g = LLVMAddGlobalInAddressSpace(nv->m, ty, "attnc_item_counter", 1);
        LLVMSetInitializer(g, LLVMConstNull(ty));
        LLVMSetLinkage(g, LLVMInternalLinkage);
        LLVMSetAlignment(g, 8);
    }
    return nv_gep(nv, g, nv_i32(nv, 4 * i));
}

/* Dynamic items: round k's item. The producer's thread takes its block's
 * index first, then stride + the counter's next value, writes it to the
 * shared word of slot k mod 2 and arrives on that slot's barrier; the
 * computing warps wait there and read it. The slot is free again: the
 * producer reaches round k + 2 only past q_empty of round k + 1, after
 * every computing warp finished round k, which read it. */
static LLVMValueRef fetch_item(fa2 *f, const fa2_items *it, LLVMValueRef k, LLVMValueRef blk, LLVMValueRef stride,
                               LLVMValueRef n)
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef one = nv_i32(nv, 1);
    LLVMValueRef slot = LLVMBuildAnd(b, k, one, "item.slot");
    if (!it->producer) {
        nt_mbar_wait(t, fa2_ws_item_bar(f, slot), LLVMBuildAnd(b, LLVMBuildLShr(b, k, one, ""), one, ""));
        return LLVMBuildLoad2(b, nv->i32, fa2_ws_item_word(f, slot), "item");
    }
    LLVMValueRef var = nt_var(t, nv->i32, blk, "item");
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntNE, k, nv_i32(nv, 0), ""));
    LLVMValueRef taken = LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpAdd, sched_word(f, 0), one,
                                            LLVMAtomicOrderingMonotonic, false);
    nt_set(t, var, LLVMBuildAdd(b, stride, taken, ""));
    nt_endif(t, join);
    LLVMValueRef item = nt_get(t, var);
    LLVMBuildStore(b, item, fa2_ws_item_word(f, slot));
    nt_mbar_arrive(t, fa2_ws_item_bar(f, slot));
    join = nt_if(t, LLVMBuildICmp(b, LLVMIntUGE, item, n, ""));
    LLVMValueRef out = LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpAdd, sched_word(f, 1), one,
                                          LLVMAtomicOrderingAcquireRelease, false);
    LLVMBasicBlockRef last = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, out, LLVMBuildSub(b, stride, one, ""), ""));
    for (int i = 0; i < 2; i++)
        LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpXchg, sched_word(f, i), nv_i32(nv, 0), LLVMAtomicOrderingMonotonic,
                           false);
    nt_endif(t, last);
    nt_endif(t, join);
    return item;
}

void fa2_items_begin(fa2 *f, fa2_items *it)
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    fa2_extents(f);
    /* i32 items: cuda_module_launch refuses more than 2^31 - 1; a plain
     * grid of more (an AOT launcher's) would need 2^38 query rows */
    LLVMValueRef nq = fa2_q_tiles(f), heads = f->size[SZ_HEADS];
    LLVMValueRef hbs = LLVMBuildMul(b, heads, f->size[SZ_BATCH], "");
    LLVMValueRef n = LLVMBuildMul(b, nq, hbs, "items");
    LLVMValueRef gx = sreg(f, "nctaid.x"), gy = sreg(f, "nctaid.y"), gz = sreg(f, "nctaid.z");
    LLVMValueRef yz = LLVMBuildAdd(b, sreg(f, "ctaid.y"), LLVMBuildMul(b, gy, sreg(f, "ctaid.z"), ""), "");
    LLVMValueRef blk = LLVMBuildAdd(b, sreg(f, "ctaid.x"), LLVMBuildMul(b, gx, yz, ""), "block");
    LLVMValueRef stride = LLVMBuildMul(b, LLVMBuildMul(b, gx, gy, ""), gz, "");
    LLVMValueRef one = nv_i32(nv, 1);
    LLVMValueRef rounds = LLVMBuildUDiv(b, LLVMBuildAdd(b, n, LLVMBuildSub(b, stride, one, ""), ""), stride, "");
    it->base = nt_var(t, nv->i32, nv_i32(nv, 0), "ring_base");
    it->done = nt_var(t, nv->i32, nv_i32(nv, 0), "items_done");
    /* round k: blocks take the next `stride` items, every other round in
     * reverse (a snake), so a block that took a heavy item takes a light
     * one next */
    bool dynamic = fa2_items_dynamic(f);
    LLVMValueRef item;
    if (dynamic) { /* until the counter runs past the last item: leave the loop there */
        /* at most n + 1 rounds (one block: every item, then the miss) */
        LLVMValueRef most = LLVMBuildICmp(b, LLVMIntEQ, n, nv_i32(nv, 0x7fffffff), "");
        LLVMValueRef k = nt_for(t, &it->loop, nv_i32(nv, 0), LLVMBuildSelect(b, most, n, LLVMBuildAdd(b, n, one, ""), ""));
        item = fetch_item(f, it, k, blk, stride, n);
        LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(nv->c, t->fn, "item.go");
        LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntULT, item, n, ""), go, it->loop.done);
        LLVMPositionBuilderAtEnd(b, go);
        it->join = NULL;
    } else {
        LLVMValueRef k = nt_for(t, &it->loop, nv_i32(nv, 0), rounds);
        LLVMValueRef odd = LLVMBuildTrunc(b, LLVMBuildAnd(b, k, one, ""), nv->i1, "");
        LLVMValueRef back = LLVMBuildSub(b, LLVMBuildSub(b, stride, one, ""), blk, "");
        item = LLVMBuildAdd(b, LLVMBuildMul(b, k, stride, ""), LLVMBuildSelect(b, odd, back, blk, ""), "item");
        it->join = nt_if(t, LLVMBuildICmp(b, LLVMIntULT, item, n, ""));
    }
    /* static rounds: a sequence's items by query tile rank, heaviest
     * first, then (head, batch): items of one weight sit together, so the
     * snake balances causal ranges; grid boxes (uniform ranges) and
     * dynamic items keep a (head, batch)'s tiles together for the L2
     * (heaviest first inside it: the first free block takes the next, so
     * dynamic items balance themselves; bench/item_order_sim.py locality) */
    bool by_rank = !dynamic && f->p->ndims == 1 && f->p->grid_ndim == 0;
    LLVMValueRef x = by_rank ? LLVMBuildUDiv(b, item, hbs, "") : LLVMBuildURem(b, item, nq, "");
    LLVMValueRef hb = by_rank ? LLVMBuildURem(b, item, hbs, "") : LLVMBuildUDiv(b, item, nq, "");
    f->cta_x = x;
    fa2_set_head(f, LLVMBuildURem(b, hb, heads, "head"));
    f->batch = LLVMBuildUDiv(b, hb, heads, "batch");
    f->item_k = nt_get(t, it->done);
    fa2_coords_init(f);
    fa2_range(f);
    f->ring_base = nt_get(t, it->base);
}

void fa2_items_end(fa2 *f, fa2_items *it)
{
    nt *t = &f->t;
    nt_set(t, it->base, LLVMBuildAdd(f->nv.b, f->ring_base, f->r_total, ""));
    nt_set(t, it->done, LLVMBuildAdd(f->nv.b, f->item_k, nv_i32(&f->nv, 1), ""));
    if (it->join)
        nt_endif(t, it->join);
    nt_for_end(t, &it->loop);
    nt_loop_no_unroll(t, &it->loop); /* one copy of the item's code */
}
