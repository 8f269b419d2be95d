/* nvptx_fa2_dil.c — dilation-group tiling in the FA2 forward (tile_ir.h
 * `dil`, passes/mask_dilation.c). A tile of dim d is a strided box of one
 * group g = i mod δ: row r of the box sits at origin + local·δ, so the
 * per-row cp.async loads gather rows δ tokens apart and the stores write
 * each row back at its own position (fa2_tile_coords). The CTA's query
 * tile index q along d is group q mod δ and group-local tile q div δ; its
 * key tiles are the group-local tiles of the same group, whose length
 * Lg = (L - g + δ - 1) div δ clips both boxes. The TMA producer is not used
 * (a strided box is no TMA rectangle; nvptx_plan.c). */
#include "nvptx_fa2.h"

int fa2_dil(const fa2 *f, int d)
{
    return d >= 0 && d < 3 && f->p->dil[d] > 1 ? f->p->dil[d] : 1;
}

static LLVMValueRef c32(fa2 *f, int64_t v)
{
    return nv_i32(&f->nv, (int)v);
}

LLVMValueRef fa2_dil_qtiles(fa2 *f, int d)
{
    nv_ctx *nv = &f->nv;
    int dl = fa2_dil(f, d), ext = f->p->q_ext[d];
    LLVMValueRef len = LLVMBuildUDiv(nv->b, LLVMBuildAdd(nv->b, f->qext[d], c32(f, dl - 1), ""), c32(f, dl), "");
    LLVMValueRef n = LLVMBuildUDiv(nv->b, LLVMBuildAdd(nv->b, len, c32(f, ext - 1), ""), c32(f, ext), "");
    return LLVMBuildMul(nv->b, n, c32(f, dl), "");
}

void fa2_dil_q_origin(fa2 *f, int d, LLVMValueRef idx)
{
    nv_ctx *nv = &f->nv;
    int dl = fa2_dil(f, d), ext = f->p->q_ext[d];
    f->dgrp[d] = LLVMBuildURem(nv->b, idx, c32(f, dl), "dgrp");
    LLVMValueRef n = LLVMBuildAdd(nv->b, LLVMBuildSub(nv->b, f->qext[d], f->dgrp[d], ""), c32(f, dl - 1), "");
    f->glen[d] = LLVMBuildUDiv(nv->b, n, c32(f, dl), "glen"); /* L > g: the CTA exists for group g */
    LLVMValueRef local = LLVMBuildUDiv(nv->b, idx, c32(f, dl), "");
    f->q_org[d] = LLVMBuildAdd(nv->b, LLVMBuildMul(nv->b, local, c32(f, (int64_t)ext * dl), ""), f->dgrp[d], "");
    f->q_lo[d] = f->q_org[d];
    f->q_hi[d] = fa2_dil_box_hi(f, d, f->q_org[d], ext);
}

LLVMValueRef fa2_dil_nkt(fa2 *f, int d)
{
    nv_ctx *nv = &f->nv;
    int ext = f->p->kv_ext[d];
    return LLVMBuildUDiv(nv->b, LLVMBuildAdd(nv->b, f->glen[d], c32(f, ext - 1), ""), c32(f, ext), "");
}

LLVMValueRef fa2_dil_k_origin(fa2 *f, int d, LLVMValueRef tile)
{
    nv_ctx *nv = &f->nv;
    LLVMValueRef lo = LLVMBuildMul(nv->b, tile, c32(f, (int64_t)f->p->kv_ext[d] * fa2_dil(f, d)), "");
    return LLVMBuildAdd(nv->b, lo, f->dgrp[d], "");
}

LLVMValueRef fa2_dil_box_hi(fa2 *f, int d, LLVMValueRef org, int ext)
{
    nv_ctx *nv = &f->nv;
    int dl = fa2_dil(f, d);
    LLVMValueRef first = LLVMBuildUDiv(nv->b, org, c32(f, dl), "");
    LLVMValueRef n = nv_smin(nv, c32(f, ext), LLVMBuildSub(nv->b, f->glen[d], first, ""));
    LLVMValueRef span = LLVMBuildMul(nv->b, LLVMBuildSub(nv->b, n, c32(f, 1), ""), c32(f, dl), "");
    return LLVMBuildAdd(nv->b, org, span, "");
}

LLVMValueRef fa2_dil_past_end(fa2 *f, int d, LLVMValueRef org, int ext)
{
    nv_ctx *nv = &f->nv;
    LLVMValueRef first = LLVMBuildUDiv(nv->b, org, c32(f, fa2_dil(f, d)), "");
    return LLVMBuildICmp(nv->b, LLVMIntSGT, LLVMBuildAdd(nv->b, first, c32(f, ext), ""), f->glen[d], "");
}
