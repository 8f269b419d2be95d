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
 * range is empty pass with no tile (their rows store 0 and LSE -inf). */
#include "nvptx_fa2.h"

static LLVMValueRef sreg(fa2 *f, const char *name)
{
    return nv_sreg(&f->nv, name);
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
    LLVMValueRef k = nt_for(t, &it->loop, nv_i32(nv, 0), rounds);
    LLVMValueRef odd = LLVMBuildTrunc(b, LLVMBuildAnd(b, k, one, ""), nv->i1, "");
    LLVMValueRef back = LLVMBuildSub(b, LLVMBuildSub(b, stride, one, ""), blk, "");
    LLVMValueRef item = LLVMBuildAdd(b, LLVMBuildMul(b, k, stride, ""), LLVMBuildSelect(b, odd, back, blk, ""), "item");
    it->join = nt_if(t, LLVMBuildICmp(b, LLVMIntULT, item, n, ""));
    /* a sequence's items by query tile rank, heaviest first, then (head,
     * batch): items of one weight sit together, so the snake balances
     * causal ranges; grid boxes (uniform ranges) keep a head's tiles
     * together for the L2 */
    bool by_rank = f->p->ndims == 1 && f->p->grid_ndim == 0;
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
    nt_endif(t, it->join);
    nt_for_end(t, &it->loop);
    nt_loop_no_unroll(t, &it->loop); /* one copy of the item's code */
}
