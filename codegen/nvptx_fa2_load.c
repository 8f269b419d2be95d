/* nvptx_fa2_load.c — global -> shared copies of Q, K and V tiles with
 * 16-byte cp.async (nvptx_fa2.h). Each row of a tile is one token; rows of
 * a 2-D/3-D box are found token by token, so a box needs no contiguity.
 * Rows outside the token grid (or of a tile past the range) use the
 * src-size 0 form: shared memory gets zeros and global memory is not read.
 * Under wgmma the rows are stored in the 128-byte swizzle instead of
 * padded (nv_wg_swizzle_offset). The caller commits the group. */
#include "nvptx_fa2.h"

typedef struct tile_desc {
    int rows, chunks, pitch;
    const int *ext;
    LLVMValueRef head;
    const LLVMValueRef *bounds;
} tile_desc;

static tile_desc describe(fa2 *f, int tensor)
{
    const fa_plan *p = f->p;
    tile_desc t;
    t.rows = tensor == T_Q ? p->Tq : p->Tk;
    t.chunks = (tensor == T_V ? p->Dv : p->D) / 8;
    t.pitch = tensor == T_Q ? f->pitch_q : tensor == T_K ? f->pitch_k : f->pitch_v;
    t.ext = tensor == T_Q ? p->q_ext : p->kv_ext;
    t.head = tensor == T_Q ? f->head : f->kv_head;
    t.bounds = tensor == T_Q ? f->qext : f->kext;
    return t;
}

static LLVMValueRef sext64(fa2 *f, LLVMValueRef v)
{
    return LLVMBuildSExt(f->nv.b, v, f->nv.i64, "");
}

/* Byte offset of (batch, head, token) row start in `tensor`. */
static LLVMValueRef row_offset(fa2 *f, int tensor, LLVMValueRef head, LLVMValueRef tok)
{
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef e = LLVMBuildMul(b, sext64(f, f->batch), f->stride[tensor][0], "");
    e = LLVMBuildAdd(b, e, LLVMBuildMul(b, sext64(f, head), f->stride[tensor][1], ""), "");
    e = LLVMBuildAdd(b, e, LLVMBuildMul(b, sext64(f, tok), f->stride[tensor][2], ""), "");
    return LLVMBuildShl(b, e, nv_i64(&f->nv, 1), "");
}

static void copy_chunk(fa2 *f, int tensor, const tile_desc *t, LLVMValueRef org[3], LLVMValueRef id,
                       LLVMValueRef base_off, LLVMValueRef valid)
{
    nv_ctx *nv = &f->nv;
    LLVMValueRef row = LLVMBuildUDiv(nv->b, id, nv_i32(nv, t->chunks), "");
    LLVMValueRef ch = LLVMBuildURem(nv->b, id, nv_i32(nv, t->chunks), "");
    LLVMValueRef c[3];
    fa2_tile_coords(f, t->ext, org, row, c);
    LLVMValueRef ok = fa2_in_bounds(f, c, t->bounds);
    if (valid)
        ok = LLVMBuildAnd(nv->b, ok, valid, "");
    LLVMValueRef tok = fa2_flat_token(f, c);
    LLVMValueRef off = row_offset(f, tensor, t->head, tok);
    off = LLVMBuildAdd(nv->b, off, LLVMBuildShl(nv->b, LLVMBuildZExt(nv->b, ch, nv->i64, ""), nv_i64(nv, 4), ""), "");
    off = LLVMBuildSelect(nv->b, ok, off, nv_i64(nv, 0), "");
    LLVMValueRef src = nv_gep(nv, f->tens[tensor], off);
    LLVMValueRef dst_off = f->p->wgmma ? nv_wg_swizzle_offset(&f->nv, row, ch, t->rows)
                                       : LLVMBuildAdd(nv->b, LLVMBuildMul(nv->b, row, nv_i32(nv, t->pitch), ""),
                                                      LLVMBuildShl(nv->b, ch, nv_i32(nv, 4), ""), "");
    dst_off = LLVMBuildAdd(nv->b, dst_off, base_off, "");
    LLVMValueRef bytes = LLVMBuildSelect(nv->b, ok, nv_i32(nv, 16), nv_i32(nv, 0), "");
    nv_cp_async16(nv, nv_gep(nv, f->smem, dst_off), src, bytes);
}

void fa2_load_tile(fa2 *f, int tensor, LLVMValueRef org[3], LLVMValueRef base_off, LLVMValueRef valid)
{
    nv_ctx *nv = &f->nv;
    tile_desc t = describe(f, tensor);
    int total = t.rows * t.chunks;
    int n = f->load_threads;
    for (int i = 0; i * n < total; i++) {
        LLVMValueRef id = LLVMBuildAdd(nv->b, f->load_tid, nv_i32(nv, i * n), "");
        if ((i + 1) * n <= total) {
            copy_chunk(f, tensor, &t, org, id, base_off, valid);
            continue;
        }
        /* The last, partial round: threads past the tile copy nothing. */
        LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ld.tail");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ld.next");
        LLVMBuildCondBr(nv->b, LLVMBuildICmp(nv->b, LLVMIntULT, id, nv_i32(nv, total), ""), yes, next);
        LLVMPositionBuilderAtEnd(nv->b, yes);
        copy_chunk(f, tensor, &t, org, id, base_off, valid);
        LLVMBuildBr(nv->b, next);
        LLVMPositionBuilderAtEnd(nv->b, next);
    }
}
