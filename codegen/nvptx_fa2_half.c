/* nvptx_fa2_half.c — a warpgroup's edge tile on the half of its keys that
 * its rows keep ($ATTNC_HALF_EDGE=1, opt-in; nvptx_kernel.h).
 *
 * Why: the two computing warpgroups of a 128-row query tile own 64 rows
 * each, and on the edges of a band the rows of one of them keep nothing in
 * half of a key tile. Causal's diagonal tile keeps, for warpgroup 0 (rows
 * 0..63), keys 0..63 only; a sliding window's first tile keeps, for
 * warpgroup 1, its upper 64 keys only. There that warpgroup's S = Q K^T
 * and P V run on 64 keys: half the tile's products. `causal && (sinks(4)
 * || sliding_window(2047, 0))` computes, per query tile, the window's 17
 * tiles, two of them such edges: each warpgroup then computes 16.5.
 *
 * How: the overlapped loop (nvptx_fa2_overlap.c half_edge_keys) takes the
 * range's first tile (after the narrow first tile, nvptx_fa2_narrow.c) and
 * its last out of the loop. There each warpgroup asks fa2_half_of_tile
 * (the class's empty test on its own 64 rows against each half of the
 * tile: a box that need not start on a tile, as the narrow tile's test
 * uses it) and either runs the tile as the loop would or, on a half,
 * completes its pending P V and runs the half synchronously under
 * fa2_half_run: a copy of the plan whose key tile is FA_HALF keys, the
 * tile's origin moved to the half (the per-element mask and the key bounds
 * follow k_org and p->kv_ext) and the ring slot's view on the half's rows
 * (f->slot_row0: 64 rows of a 128-byte swizzle are whole 8-row atoms).
 * The branch is uniform within a warpgroup, as wgmma needs; the two
 * warpgroups may take different arms, each releasing the tile once.
 *
 * Taken where the plan has a producer warpgroup with wgmma, the
 * overlapped loop without ping-pong (overlap=1), 128 x 128 tiles, a token
 * sequence, a mask with a class empty test, and no document span, key-frame
 * hoisting, dilation or loops of full tiles ($ATTNC_FULL_RANGE). */

#include "nvptx_fa2.h"

bool fa2_half_edge_on(const fa2 *f)
{
    const fa_plan *p = f->p;
    return nvptx_half_edge_mode() == 1 && f->forward && p->wgmma && p->ws && p->overlap == 1 && p->ndims == 1 &&
           p->grid_ndim == 0 && p->Tq == 2 * FA_HALF && p->Tk == 2 * FA_HALF && p->mask && p->empty &&
           p->span_param < 0 && !p->doc_bits && f->fr_period == 0 && p->dil[0] <= 1 && !fa2_full_range_on(f);
}

/* Whether the class keeps nothing of rows [qlo, qhi] against keys
 * [klo, khi] (boxes inside the sequence, not empty). */
static LLVMValueRef box_empty(fa2 *f, LLVMValueRef qlo, LLVMValueRef qhi, LLVMValueRef klo, LLVMValueRef khi)
{
    LLVMValueRef save[4] = {f->q_lo[0], f->q_hi[0], f->k_lo[0], f->k_hi[0]};
    f->q_lo[0] = qlo, f->q_hi[0] = qhi, f->k_lo[0] = klo, f->k_hi[0] = khi;
    f->mode = EXM_BOX;
    LLVMValueRef empty = fa2_emit(f, f->p->empty);
    f->q_lo[0] = save[0], f->q_hi[0] = save[1], f->k_lo[0] = save[2], f->k_hi[0] = save[3];
    return empty;
}

LLVMValueRef fa2_half_of_tile(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    /* this warpgroup's rows in the sequence: [qlo, qhi], none when qlo > qhi */
    LLVMValueRef qlo = LLVMBuildAdd(b, f->q_org[0], LLVMBuildMul(b, fa2_warpgroup(f), nv_i32(nv, FA_HALF), ""), "");
    LLVMValueRef qhi = nv_smin(nv, LLVMBuildAdd(b, qlo, nv_i32(nv, FA_HALF - 1), ""), f->q_hi[0]);
    LLVMValueRef no_rows = LLVMBuildICmp(b, LLVMIntSGT, qlo, qhi, "");
    qhi = nv_smax(nv, qhi, qlo); /* a box of one row when none: unread then */
    /* the tile's keys in the sequence: [org, last]; the upper half from org + FA_HALF */
    LLVMValueRef org = f->k_org[0];
    LLVMValueRef last = nv_smin(nv, LLVMBuildAdd(b, org, nv_i32(nv, f->p->Tk - 1), ""),
                                LLVMBuildSub(b, f->kext[0], nv_i32(nv, 1), ""));
    LLVMValueRef mid = LLVMBuildAdd(b, org, nv_i32(nv, FA_HALF), "");
    LLVMValueRef no_upper = LLVMBuildICmp(b, LLVMIntSGT, mid, last, "");
    LLVMValueRef upper_empty = box_empty(f, qlo, qhi, mid, nv_smax(nv, last, mid));
    upper_empty = LLVMBuildOr(b, LLVMBuildOr(b, no_rows, no_upper, ""), upper_empty, "");
    LLVMValueRef lower_last = nv_smin(nv, LLVMBuildSub(b, mid, nv_i32(nv, 1), ""), last);
    LLVMValueRef lower_empty = box_empty(f, qlo, qhi, org, lower_last);
    LLVMValueRef half = LLVMBuildSelect(b, lower_empty, nv_i32(nv, 2), nv_i32(nv, 0), "");
    return LLVMBuildSelect(b, upper_empty, nv_i32(nv, 1), half, "half");
}

void fa2_half_run(fa2 *f, int half, void (*body)(fa2 *f, void *user), void *user)
{
    const fa_plan *kernel = f->p;
    fa_plan h = *kernel;
    h.Tk = FA_HALF;
    h.kv_ext[0] = FA_HALF;
    LLVMValueRef org = f->k_org[0];
    int shift = half == 2 ? FA_HALF : 0;
    f->k_org[0] = LLVMBuildAdd(f->nv.b, org, nv_i32(&f->nv, shift), "half.org");
    f->slot_row0 = shift;
    f->p = &h; /* the body's tile step follows p->Tk and the key box p->kv_ext */
    body(f, user);
    f->p = kernel;
    f->k_org[0] = org;
    f->slot_row0 = 0;
}
