/* host_dilation.c — dilation-group tiling on the host target (tile_ir.h
 * `dil`, passes/mask_dilation.c): a tile of dim d is a strided box of one
 * group g = i mod δ, rows lo, lo + δ, ... clipped to the group's length
 * Lg = (L - g + δ - 1) div δ. Query tile index q is group q mod δ and
 * group-local tile q div δ; key tiles of the range are group-local tiles of
 * the query tile's group. Loads and stores go through hbox_row's
 * coordinates, so they gather rows at the tokens' own positions. */
#include "host_gen.h"

int hdil(const hgen *g, int d)
{
    return g->linear || g->bwd ? 1 : tir_kernel_dil(g->tk, d);
}

/* The length of group grp along extent L. */
static LLVMValueRef group_len(hgen *g, LLVMValueRef L, LLVMValueRef grp, int dil)
{
    LLVMValueRef n = LLVMBuildAdd(g->b, LLVMBuildSub(g->b, L, grp, ""), hc_i64(g, dil - 1), "");
    return LLVMBuildSDiv(g->b, hgen_imax(g, n, hc_i64(g, 0)), hc_i64(g, dil), "");
}

LLVMValueRef hdil_qtiles_along(hgen *g, int d, int ext)
{
    int dil = hdil(g, d);
    hval probe = {0};
    LLVMValueRef L = hbox_extent(g, &probe, d);
    LLVMValueRef len = LLVMBuildSDiv(g->b, LLVMBuildAdd(g->b, L, hc_i64(g, dil - 1), ""), hc_i64(g, dil), "");
    LLVMValueRef n = LLVMBuildSDiv(g->b, LLVMBuildAdd(g->b, len, hc_i64(g, ext - 1), ""), hc_i64(g, ext), "");
    return LLVMBuildMul(g->b, n, hc_i64(g, dil), "");
}

void hdil_qbox(hgen *g, hval *b)
{
    for (int d = 0; d < b->nd; d++) {
        int dil = hdil(g, d);
        LLVMValueRef q = g->qtile[d];
        g->dgrp[d] = LLVMBuildURem(g->b, q, hc_i64(g, dil), "dgrp");
        LLVMValueRef local = LLVMBuildUDiv(g->b, q, hc_i64(g, dil), "");
        b->lo[d] = LLVMBuildMul(g->b, local, hc_i64(g, (int64_t)b->ext[d] * dil), "");
        b->lo[d] = LLVMBuildAdd(g->b, b->lo[d], g->dgrp[d], "");
    }
}

LLVMValueRef hdil_kbox_lo(hgen *g, LLVMValueRef tile, int ext, int d)
{
    int dil = hdil(g, d);
    LLVMValueRef lo = LLVMBuildMul(g->b, tile, hc_i64(g, (int64_t)ext * dil), "");
    return LLVMBuildAdd(g->b, lo, g->dgrp[d], "");
}

LLVMValueRef hdil_last_ktile(hgen *g, int d, int ext)
{
    hval probe = {0};
    probe.kside = true;
    LLVMValueRef len = group_len(g, hbox_extent(g, &probe, d), g->dgrp[d], hdil(g, d));
    LLVMValueRef n = LLVMBuildSDiv(g->b, LLVMBuildAdd(g->b, len, hc_i64(g, ext - 1), ""), hc_i64(g, ext), "");
    return LLVMBuildSub(g->b, n, hc_i64(g, 1), "");
}

LLVMValueRef hdil_box_hi(hgen *g, const hval *box, int d)
{
    int dil = hdil(g, d);
    LLVMValueRef grp = LLVMBuildSRem(g->b, box->lo[d], hc_i64(g, dil), "");
    LLVMValueRef len = group_len(g, hbox_extent(g, box, d), grp, dil);
    LLVMValueRef first = LLVMBuildSDiv(g->b, box->lo[d], hc_i64(g, dil), "");
    LLVMValueRef n = hgen_imin(g, hc_i64(g, box->ext[d]), LLVMBuildSub(g->b, len, first, ""));
    /* an empty box (a shorter group's last tile) gets hi < lo */
    LLVMValueRef span = LLVMBuildMul(g->b, LLVMBuildSub(g->b, n, hc_i64(g, 1), ""), hc_i64(g, dil), "");
    return LLVMBuildAdd(g->b, box->lo[d], span, "");
}
