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
 * Dynamic items ($ATTNC_PERSIST_DYNAMIC=1, experimental; correct, not faster:
 * H100 2026-12-06 run58, causal B=8 N=8192 3.64-3.67 ms against 3.57-3.61
 * for the plain grid): that order keeps
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
    return nv_gep(nv, nv_global_array(nv, nv->i32, 2, "attnc_item_counter", 8), nv_i32(nv, 4 * i));
}

/* A block's items: n of them (query tiles x heads x batch), nq query
 * tiles a (head, batch), hbs pairs; the block's flat index and the
 * blocks. */
typedef struct items_geom {
    LLVMValueRef n, nq, heads, hbs, blk, stride;
} items_geom;

static items_geom geom(fa2 *f)
{
    LLVMBuilderRef b = f->nv.b;
    items_geom g;
    fa2_extents(f);
    /* i32 items: cuda_module_launch refuses more than 2^31 - 1; a plain
     * grid of more (an AOT launcher's) would need 2^38 query rows */
    g.nq = fa2_q_tiles(f);
    g.heads = f->size[SZ_HEADS];
    g.hbs = LLVMBuildMul(b, g.heads, f->size[SZ_BATCH], "");
    g.n = LLVMBuildMul(b, g.nq, g.hbs, "items");
    LLVMValueRef gx = sreg(f, "nctaid.x"), gy = sreg(f, "nctaid.y"), gz = sreg(f, "nctaid.z");
    LLVMValueRef yz = LLVMBuildAdd(b, sreg(f, "ctaid.y"), LLVMBuildMul(b, gy, sreg(f, "ctaid.z"), ""), "");
    g.blk = LLVMBuildAdd(b, sreg(f, "ctaid.x"), LLVMBuildMul(b, gx, yz, ""), "block");
    g.stride = LLVMBuildMul(b, LLVMBuildMul(b, gx, gy, ""), gz, "");
    return g;
}

/* The loop over rounds for items that leave it at the end marker: at
 * most n + 1 rounds (one block: every item, then the marker). */
static LLVMValueRef marker_loop(fa2 *f, nt_loop *loop, const items_geom *g)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef most = LLVMBuildICmp(b, LLVMIntEQ, g->n, nv_i32(nv, 0x7fffffff), "");
    LLVMValueRef end = LLVMBuildSelect(b, most, g->n, LLVMBuildAdd(b, g->n, nv_i32(nv, 1), ""), "");
    return nt_for(&f->t, loop, nv_i32(nv, 0), end);
}

/* Static rounds: round k's item, blocks taking the next `stride` items,
 * every other round in reverse (a snake), so a block that took a heavy
 * item takes a light one next. Past the last round it is >= n. */
static LLVMValueRef static_item(fa2 *f, const items_geom *g, LLVMValueRef k)
{
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef one = nv_i32(&f->nv, 1);
    LLVMValueRef odd = LLVMBuildTrunc(b, LLVMBuildAnd(b, k, one, ""), f->nv.i1, "");
    LLVMValueRef back = LLVMBuildSub(b, LLVMBuildSub(b, g->stride, one, ""), g->blk, "");
    return LLVMBuildAdd(b, LLVMBuildMul(b, k, g->stride, ""), LLVMBuildSelect(b, odd, back, g->blk, ""), "item");
}

/* Dynamic items, one thread: round k's item, the block's own index first,
 * then stride + the counter's next value. */
static LLVMValueRef counter_item(fa2 *f, const items_geom *g, LLVMValueRef k)
{
    nt *t = &f->t;
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef var = nt_var(t, f->nv.i32, g->blk, "item");
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntNE, k, nv_i32(&f->nv, 0), ""));
    LLVMValueRef taken = LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpAdd, sched_word(f, 0), nv_i32(&f->nv, 1),
                                            LLVMAtomicOrderingMonotonic, false);
    nt_set(t, var, LLVMBuildAdd(b, g->stride, taken, ""));
    nt_endif(t, join);
    return nt_get(t, var);
}

/* Dynamic items, the thread that took item (>= n: this block ran out):
 * counts the block out; the last one out zeroes the counter. */
static void counter_out(fa2 *f, const items_geom *g, LLVMValueRef item)
{
    nt *t = &f->t;
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef one = nv_i32(&f->nv, 1);
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntUGE, item, g->n, ""));
    LLVMValueRef out = LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpAdd, sched_word(f, 1), one,
                                          LLVMAtomicOrderingAcquireRelease, false);
    LLVMBasicBlockRef last = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, out, LLVMBuildSub(b, g->stride, one, ""), ""));
    for (int i = 0; i < 2; i++)
        LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpXchg, sched_word(f, i), nv_i32(&f->nv, 0),
                           LLVMAtomicOrderingMonotonic, false);
    nt_endif(t, last);
    nt_endif(t, join);
}

/* Dynamic items: the producer's thread takes round k's
 * item, writes it to slot k mod 2 and arrives on that slot's item_full;
 * the computing warps wait there and read it. The slot is free again: the
 * producer reaches round k + 2 only past q_empty of round k + 1, after
 * every computing warp finished round k, which read it. */
static LLVMValueRef fetch_item(fa2 *f, const fa2_items *it, const items_geom *g, LLVMValueRef k)
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    nt_ring full = fa2_ws_item_full(f);
    LLVMValueRef slot = nt_ring_slot(t, &full, k);
    if (!it->producer) {
        nt_ring_wait(t, &full, k);
        return LLVMBuildLoad2(nv->b, nv->i32, fa2_ws_item_word(f, slot, 0), "item");
    }
    LLVMValueRef item = counter_item(f, g, k);
    LLVMBuildStore(nv->b, item, fa2_ws_item_word(f, slot, 0));
    nt_mbar_arrive(t, nt_ring_bar(t, &full, slot));
    counter_out(f, g, item);
    return item;
}

/* item's query tile, head and batch into f. Static rounds of a sequence:
 * items by query tile rank, heaviest first, then (head, batch): items of
 * one weight sit together, so the snake balances causal ranges; grid
 * boxes (uniform ranges) and dynamic items keep a (head, batch)'s tiles
 * together for the L2 (heaviest first inside it: the first free block
 * takes the next, so dynamic items balance themselves;
 * bench/item_order_sim.py locality). $ATTNC_ITEM_PAIRS=1 gives static
 * rounds of a sequence that order too. */
static void set_item(fa2 *f, const items_geom *g, LLVMValueRef item)
{
    LLVMBuilderRef b = f->nv.b;
    bool seq_static = !fa2_items_dynamic(f) && f->p->ndims == 1 && f->p->grid_ndim == 0;
    bool pairs = seq_static && f->p->pairs; /* a pair's tiles together, heaviest first */
    bool by_rank = seq_static && !pairs;                      /* every pair's tiles of one rank together */
    LLVMValueRef x = by_rank ? LLVMBuildUDiv(b, item, g->hbs, "") : LLVMBuildURem(b, item, g->nq, "");
    LLVMValueRef hb = by_rank ? LLVMBuildURem(b, item, g->hbs, "") : LLVMBuildUDiv(b, item, g->nq, "");
    if (pairs)
        x = LLVMBuildSub(b, LLVMBuildSub(b, g->nq, nv_i32(&f->nv, 1), ""), x, "");
    f->cta_x = x;
    fa2_set_head(f, LLVMBuildURem(b, hb, g->heads, "head"));
    f->batch = LLVMBuildUDiv(b, hb, g->heads, "batch");
}

void fa2_items_begin(fa2 *f, fa2_items *it)
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    items_geom g = geom(f);
    LLVMValueRef one = nv_i32(nv, 1);
    it->base = nt_var(t, nv->i32, nv_i32(nv, 0), "ring_base");
    it->done = nt_var(t, nv->i32, nv_i32(nv, 0), "items_done");
    LLVMValueRef item;
    if (fa2_items_dynamic(f)) { /* until the end marker: leave the loop there */
        LLVMValueRef k = marker_loop(f, &it->loop, &g);
        item = fetch_item(f, it, &g, k);
        LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(nv->c, t->fn, "item.go");
        LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntULT, item, g.n, ""), go, it->loop.done);
        LLVMPositionBuilderAtEnd(b, go);
        it->join = NULL;
    } else {
        LLVMValueRef rounds = LLVMBuildUDiv(b, LLVMBuildAdd(b, g.n, LLVMBuildSub(b, g.stride, one, ""), ""), g.stride, "");
        LLVMValueRef k = nt_for(t, &it->loop, nv_i32(nv, 0), rounds);
        item = static_item(f, &g, k);
        it->join = nt_if(t, LLVMBuildICmp(b, LLVMIntULT, item, g.n, ""));
    }
    set_item(f, &g, item);
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
