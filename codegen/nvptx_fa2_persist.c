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
#include <string.h>

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

bool fa2_items_scanned(const fa2 *f)
{
    return f->p->persist && f->p->span_param >= 0;
}

bool fa2_items_handoff(const fa2 *f)
{
    return fa2_items_dynamic(f) || fa2_items_scanned(f);
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

/* Dynamic items without documents: the producer's thread takes round k's
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

/* Scanned items, a reader (the copying thread or a computing warp): round
 * k's item and its cut range (f->span_given) from slot k mod 2, then the
 * slot released (a computing warp's lanes all read it before lane 0
 * arrives). */
static LLVMValueRef read_scanned(fa2 *f, const fa2_items *it, LLVMValueRef k)
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    nt_ring full = fa2_ws_item_full(f), empty = fa2_ws_item_empty(f);
    LLVMValueRef slot = nt_ring_slot(t, &full, k);
    nt_ring_wait(t, &full, k);
    LLVMValueRef item = LLVMBuildLoad2(b, nv->i32, fa2_ws_item_word(f, slot, 0), "item");
    for (int i = 0; i < 4; i++)
        f->span_given[i] = LLVMBuildLoad2(b, nv->i32, fa2_ws_item_word(f, slot, 1 + i), "item.range");
    f->span_given_shfl = !it->producer;
    LLVMValueRef bar = nt_ring_bar(t, &empty, slot);
    if (it->producer) {
        nt_mbar_arrive(t, bar);
    } else {
        nv_asm(nv, NULL, "bar.warp.sync -1;", "~{memory}", NULL, 0);
        LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, f->lane, nv_i32(nv, 0), ""));
        nt_mbar_arrive(t, bar);
        nt_endif(t, join);
    }
    return item;
}

/* item's query tile, head and batch into f. Static rounds of a sequence:
 * items by query tile rank, heaviest first, then (head, batch): items of
 * one weight sit together, so the snake balances causal ranges; grid
 * boxes (uniform ranges) and dynamic items keep a (head, batch)'s tiles
 * together for the L2 (heaviest first inside it: the first free block
 * takes the next, so dynamic items balance themselves;
 * bench/item_order_sim.py locality). */
static void set_item(fa2 *f, const items_geom *g, LLVMValueRef item)
{
    LLVMBuilderRef b = f->nv.b;
    bool by_rank = !fa2_items_dynamic(f) && f->p->ndims == 1 && f->p->grid_ndim == 0;
    LLVMValueRef x = by_rank ? LLVMBuildUDiv(b, item, g->hbs, "") : LLVMBuildURem(b, item, g->nq, "");
    LLVMValueRef hb = by_rank ? LLVMBuildURem(b, item, g->hbs, "") : LLVMBuildUDiv(b, item, g->nq, "");
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
    if (fa2_items_handoff(f)) { /* until the end marker: leave the loop there */
        LLVMValueRef k = marker_loop(f, &it->loop, &g);
        item = fa2_items_scanned(f) ? read_scanned(f, it, k) : fetch_item(f, it, &g, k);
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
    fa2_range(f); /* scanned items: the range handed over (f->span_given) */
    memset(f->span_given, 0, sizeof f->span_given);
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

/* The scanners' first thread writes round k's slot (item, then the cut
 * range when it is one) once its readers released the slot's round k - 2,
 * and arrives on its item_full. */
static void hand_over(fa2 *f, LLVMValueRef k, LLVMValueRef item, bool range)
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    nt_ring full = fa2_ws_item_full(f), empty = fa2_ws_item_empty(f);
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, f->scan_team.tid, nv_i32(nv, 0), ""));
    LLVMValueRef slot = nt_ring_slot(t, &full, k);
    nt_ring_wait_prev(t, &empty, k);
    LLVMBuildStore(b, item, fa2_ws_item_word(f, slot, 0));
    if (range) {
        LLVMValueRef v[4] = {f->r_lo[0], f->r_cnt[0], f->run_lo, f->run_hi};
        for (int i = 0; i < 4; i++)
            if (v[i])
                LLVMBuildStore(b, v[i], fa2_ws_item_word(f, slot, 1 + i));
    }
    nt_mbar_arrive(t, nt_ring_bar(t, &full, slot));
    nt_endif(t, join);
}

/* The scanners' item range through the cut table (nvptx_fa2_doc_table.c):
 * the first thread looks the query tile up and passes a hit on in scan
 * words 5-9; on a hit the team takes the cut from there (a team barrier
 * after the reads: the words are rewritten next round), else it scans
 * (fa2_range) and the first thread publishes the cut. tag: variable. */
_Static_assert(FA2_SCAN_WORDS >= 10, "scan words 5-9 hold a cut read from the table");

static void range_from_table(fa2 *f, LLVMValueRef tag)
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef w = f->scan_team.words;
    LLVMValueRef x = LLVMBuildSDiv(b, f->q_lo[0], nv_i32(nv, f->p->q_ext[0]), "q_tile");
    LLVMValueRef usable, entry = fa2_doc_table_entry(f, f->batch, x, &usable);
    LLVMValueRef first = LLVMBuildICmp(b, LLVMIntEQ, f->scan_team.tid, nv_i32(nv, 0), "");
    LLVMBasicBlockRef join = nt_if(t, first);
    LLVMValueRef vals[4];
    LLVMValueRef hit = fa2_doc_table_find(f, entry, usable, nt_get(t, tag), vals);
    LLVMBuildStore(b, LLVMBuildZExt(b, hit, nv->i32, ""), nv_gep(nv, w, nv_i32(nv, 36)));
    for (int i = 0; i < 4; i++)
        LLVMBuildStore(b, vals[i], nv_gep(nv, w, nv_i32(nv, 20 + 4 * i)));
    nt_endif(t, join);
    nt_bar_sync(t, nv_i32(nv, f->scan_team.bar), f->scan_team.threads);
    hit = LLVMBuildICmp(b, LLVMIntNE, LLVMBuildLoad2(b, nv->i32, nv_gep(nv, w, nv_i32(nv, 36)), ""), nv_i32(nv, 0), "");
    bool runs = f->p->span_full != NULL;
    LLVMValueRef *dst[4] = {&f->r_lo[0], &f->r_cnt[0], &f->run_lo, &f->run_hi}, var[4];
    for (int i = 0; i < 4; i++)
        var[i] = nt_var(t, nv->i32, nv_i32(nv, 0), "doc.cut");
    nt_branch br = nt_if_else(t, hit);
    for (int i = 0; i < 4; i++)
        nt_set(t, var[i], LLVMBuildLoad2(b, nv->i32, nv_gep(nv, w, nv_i32(nv, 20 + 4 * i)), "doc.cut"));
    nt_bar_sync(t, nv_i32(nv, f->scan_team.bar), f->scan_team.threads);
    nt_else(t, &br);
    fa2_range(f);
    LLVMValueRef cut[4] = {f->r_lo[0], f->r_cnt[0], runs ? f->run_lo : NULL, runs ? f->run_hi : NULL};
    for (int i = 0; i < 4; i++)
        if (cut[i])
            nt_set(t, var[i], cut[i]);
    LLVMBasicBlockRef pub = nt_if(t, first);
    fa2_doc_table_publish(f, entry, usable, nt_get(t, tag), cut);
    nt_endif(t, pub);
    nt_endif_else(t, &br);
    for (int i = 0; i < (runs ? 4 : 2); i++)
        *dst[i] = nt_get(t, var[i]);
}

/* The scanner warps, ahead of the copying thread and the computing warps
 * by up to two items (the handoff's slots): each round's item (static, or
 * the counter's through the first thread and scan word 4), its query
 * tile's documents scanned by the team over the item's static key range
 * (fa2_range under f->scan_team: the forward's scan, nvptx_fa2_span.c),
 * the cut range handed over; past the last item, the end marker. */
void fa2_items_scan(fa2 *f)
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    items_geom g = geom(f);
    LLVMValueRef tag = NULL; /* the cut table's: this launch's tag, as the first thread read it */
    if (fa2_doc_table_on(f)) {
        tag = nt_var(t, nv->i32, NULL, "doc.tag");
        LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, f->scan_team.tid, nv_i32(nv, 0), ""));
        nt_set(t, tag, fa2_doc_table_epoch(f));
        nt_endif(t, join);
    }
    nt_loop loop;
    LLVMValueRef k = marker_loop(f, &loop, &g);
    LLVMValueRef item;
    if (fa2_items_dynamic(f)) {
        LLVMValueRef word = nv_gep(nv, f->scan_team.words, nv_i32(nv, 16));
        LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, f->scan_team.tid, nv_i32(nv, 0), ""));
        LLVMValueRef taken = counter_item(f, &g, k);
        LLVMBuildStore(b, taken, word);
        counter_out(f, &g, taken);
        nt_endif(t, join);
        /* the word is rewritten next round only after the scan's barriers, past every thread's read */
        nt_bar_sync(t, nv_i32(nv, f->scan_team.bar), f->scan_team.threads);
        item = LLVMBuildLoad2(b, nv->i32, word, "item");
    } else {
        item = static_item(f, &g, k);
    }
    LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(nv->c, t->fn, "scan.go");
    LLVMBasicBlockRef end = LLVMAppendBasicBlockInContext(nv->c, t->fn, "scan.end");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntULT, item, g.n, ""), go, end);
    LLVMPositionBuilderAtEnd(b, end);
    hand_over(f, k, item, false);
    LLVMBuildBr(b, loop.done);
    LLVMPositionBuilderAtEnd(b, go);
    set_item(f, &g, item);
    fa2_coords_init(f);
    if (tag)
        range_from_table(f, tag);
    else
        fa2_range(f);
    hand_over(f, k, item, true);
    nt_for_end(t, &loop);
    nt_loop_no_unroll(t, &loop);
    if (tag) { /* the first thread counts the block out */
        LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, f->scan_team.tid, nv_i32(nv, 0), ""));
        fa2_doc_table_close(f);
        nt_endif(t, join);
    }
}
