/* nvptx_fa2_narrow.c — the first key tile of a union range on its first
 * FA_NARROW keys only ($ATTNC_NARROW_FIRST, on by default; =0 turns it off; nvptx_kernel.h).
 *
 * Why: `causal && (sinks(4) || sliding_window(2047, 0))` visits, per query
 * tile, the sink tile (keys 0..127, of which it keeps 4) and the window's
 * 17 tiles: 18 tiles of products for 16 tiles of kept pairs. When the
 * mask keeps nothing in keys [org + FA_NARROW, org + Tk) of the range's
 * first tile (the tile class's empty test on that box, evaluated per query
 * tile at run time), the tile's S = Q K^T is one m64n16 product per 16
 * head-dim columns and its P V one k16 step: an eighth of a tile.
 *
 * How (fa2_narrow_first): before the key loop, the computing warps wait
 * for the first tile (the producer fills it as usual, all Tk rows), emit
 * the loop's own tile step (the body, from each loop) under a copy of the
 * plan whose key tile is FA_NARROW keys (f->p is swapped: scores, the
 * per-element mask, the online softmax and the fragments follow p->Tk;
 * the ring slot's view keeps the slot's swizzle strides, nvptx_fa2_wgmma.c
 * slot_tile), release the tile, and the loop starts at the second tile
 * with m, l and O carried. Any other first tile, or none, takes the loop
 * from tile 0 as before.
 *
 * Taken where the plan has a union range (parts), a class empty test, the
 * producer warpgroup with wgmma, a token sequence, no document span, no
 * key-frame hoisting, and no ping-pong (overlap=2 turns are per tile). */

#include "nvptx_fa2.h"

bool fa2_narrow_first_on(const fa2 *f)
{
    const fa_plan *p = f->p;
    return nvptx_narrow_first_mode() == 1 && p->wgmma && p->ws && p->ndims == 1 && p->grid_ndim == 0 &&
           p->nparts > 0 && p->empty && p->span_param < 0 && f->fr_period == 0 && p->overlap != 2 &&
           p->Tk > FA_NARROW && (p->dil[0] <= 1);
}

/* Whether the range has a first tile whose keys past its first FA_NARROW
 * hold no kept pair of this query tile (i1; every thread of the computing
 * warps evaluates it alike). */
static LLVMValueRef narrow_first_test(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef any = LLVMBuildICmp(b, LLVMIntSGT, f->r_total, nv_i32(nv, 0), "");
    LLVMValueRef org[3];
    fa2_kv_tile_origin(f, nv_i32(nv, 0), org);
    LLVMValueRef rest_lo = LLVMBuildAdd(b, org[0], nv_i32(nv, FA_NARROW), "");
    LLVMValueRef rest_hi = nv_smin(nv, LLVMBuildAdd(b, org[0], nv_i32(nv, f->p->Tk - 1), ""),
                                   LLVMBuildSub(b, f->kext[0], nv_i32(nv, 1), ""));
    LLVMValueRef none_left = LLVMBuildICmp(b, LLVMIntSGT, rest_lo, rest_hi, "");
    /* the class test on the rest of the tile: a box that need not start on
     * a tile (the tests hold on any box, as the frame split uses them) */
    LLVMValueRef save_lo = f->k_lo[0], save_hi = f->k_hi[0];
    f->k_lo[0] = rest_lo;
    f->k_hi[0] = nv_smax(nv, rest_hi, rest_lo); /* a box of one key when none is left: unread then */
    f->mode = EXM_BOX;
    LLVMValueRef empty = fa2_emit(f, f->p->empty);
    f->k_lo[0] = save_lo;
    f->k_hi[0] = save_hi;
    return LLVMBuildAnd(b, any, LLVMBuildOr(b, none_left, empty, ""), "narrow");
}

LLVMValueRef fa2_narrow_first(fa2 *f, void (*body)(fa2 *f, void *user), void *user)
{
    nv_ctx *nv = &f->nv;
    nt *t = &f->t;
    if (!fa2_narrow_first_on(f))
        return nv_i32(nv, 0);
    LLVMValueRef start = nt_var(t, nv->i32, nv_i32(nv, 0), "start");
    LLVMBasicBlockRef join = nt_if(t, narrow_first_test(f));
    fa2_ws_acquire(f, nv_i32(nv, 0)); /* under the kernel's plan: the tile's origin */
    const fa_plan *kernel = f->p;
    fa_plan narrow = *kernel;
    narrow.Tk = FA_NARROW;
    narrow.kv_ext[0] = FA_NARROW;
    f->p = &narrow; /* the body's tile step follows p->Tk */
    body(f, user);
    f->p = kernel;
    nt_set(t, start, nv_i32(nv, 1));
    nt_endif(t, join);
    return nt_get(t, start);
}
