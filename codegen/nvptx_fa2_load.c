/* nvptx_fa2_load.c — global -> shared copies of Q, K and V tiles
 * (nvptx_fa2.h) through the tile builder's cp.async copy (nt_copy_g2s).
 * Each row of a tile is one token; rows of a 2-D/3-D box (or a dilation
 * group's strided box) are found token by token (the copy's row_at hook),
 * so a box needs no contiguity. Rows outside the token grid (or of a tile
 * past the range) are zero-filled without reading global memory. Under
 * wgmma the tile is in the 128-byte swizzle instead of padded. The copying
 * threads are the CTA, or the producer warpgroup (load_tid of
 * load_threads). The caller commits the group. */
#include "nvptx_fa2.h"

typedef struct tile_rows {
    fa2 *f;
    int tensor;
    const int *ext;
    LLVMValueRef head, *org, valid;
    const LLVMValueRef *bounds;
} tile_rows;

static LLVMValueRef sext64(fa2 *f, LLVMValueRef v)
{
    return LLVMBuildSExt(f->nv.b, v, f->nv.i64, "");
}

/* Element offset of row `row`'s token (batch, head, token) in the tensor. */
static LLVMValueRef row_at(nt *t, LLVMValueRef row, LLVMValueRef *ok, void *ud)
{
    tile_rows *r = ud;
    fa2 *f = r->f;
    LLVMBuilderRef b = t->nv.b;
    LLVMValueRef c[3];
    fa2_tile_coords(f, r->ext, r->org, row, c);
    *ok = fa2_in_bounds(f, c, r->bounds);
    if (r->valid)
        *ok = LLVMBuildAnd(b, *ok, r->valid, "");
    LLVMValueRef tok = fa2_flat_token(f, c);
    const LLVMValueRef *st = f->stride[r->tensor];
    LLVMValueRef e = LLVMBuildMul(b, sext64(f, f->batch), st[0], "");
    e = LLVMBuildAdd(b, e, LLVMBuildMul(b, sext64(f, r->head), st[1], ""), "");
    return LLVMBuildAdd(b, e, LLVMBuildMul(b, sext64(f, tok), st[2], ""), "");
}

void fa2_load_tile(fa2 *f, int tensor, LLVMValueRef org[3], LLVMValueRef base_off, LLVMValueRef valid)
{
    const fa_plan *p = f->p;
    bool q = tensor == T_Q;
    tile_rows r = {f, tensor, q ? p->q_ext : p->kv_ext, q ? f->head : f->kv_head, org, valid, q ? f->qext : f->kext};
    int cols = tensor == T_V ? p->Dv : p->D;
    int pitch = q ? f->pitch_q : tensor == T_K ? f->pitch_k : f->pitch_v;
    nt_smem dst = nt_tile(&f->t, base_off, q ? p->Tq : p->Tk, cols, p->dt, pitch);
    if (p->wgmma)
        dst.layout = NT_SWIZZLE128;
    nt_gtile src = {.base = f->tens[tensor], .dt = p->dt, .row_at = row_at, .ud = &r};
    nt loader = f->t; /* the copying threads */
    loader.tid = f->load_tid;
    loader.threads = f->load_threads;
    nt_copy_g2s(&loader, dst, src);
    if (loader.error && !f->t.error)
        f->t.error = loader.error;
}
