/* tile_mem.c — shared and global tiles (tile.h): views, the cooperative
 * global -> shared copy (cp.async, zero-filled rows past the end), the
 * cooperative in-place map over a shared tile, and fragment stores. */
#include "tile.h"

#include "../nvptx_wgmma.h"

static LLVMValueRef c32(nt *t, long long v)
{
    return nv_i32(&t->nv, v);
}

static int esize(dtype dt)
{
    return dt == DT_F32 || dt == DT_I32 ? 4 : dt == DT_I64 ? 8 : dt == DT_U8 ? 1 : 2;
}

LLVMValueRef nt_sptr(nt *t, LLVMValueRef off)
{
    return nv_gep(&t->nv, t->smem, off);
}

LLVMValueRef nt_saddr(nt *t, LLVMValueRef off)
{
    return LLVMBuildAdd(t->nv.b, t->smem32, off, "");
}

int nt_bytes(nt_smem s)
{
    return s.rows * s.cols * esize(s.dt);
}

nt_smem nt_tile(nt *t, LLVMValueRef off, int rows, int cols, dtype dt, int pitch)
{
    (void)t;
    nt_smem s = {.rows = rows, .cols = cols, .dt = dt, .pitch = pitch, .layout = NT_PAD, .off = off, .brows = rows};
    return s;
}

nt_smem nt_tile_sw(nt *t, LLVMValueRef off, int rows, int cols, dtype dt)
{
    nt_smem s = nt_tile(t, off, rows, cols, dt, 0);
    s.layout = NT_SWIZZLE128;
    return s;
}

nt_smem nt_col_block(nt *t, nt_smem s, LLVMValueRef blk, int ncols)
{
    LLVMBuilderRef b = t->nv.b;
    s.off = LLVMBuildAdd(b, s.off, LLVMBuildMul(b, blk, c32(t, s.brows * 128), ""), "");
    s.cols = ncols;
    return s;
}

nt_smem nt_sub(nt *t, nt_smem s, LLVMValueRef row0, LLVMValueRef col0, int rows, int cols)
{
    LLVMBuilderRef b = t->nv.b;
    LLVMValueRef d;
    if (s.layout == NT_SWIZZLE128) { /* whole 128-byte rows of 8-row swizzle atoms; 64-column blocks */
        d = LLVMBuildMul(b, row0, c32(t, 128), "");
        LLVMValueRef blk = LLVMBuildUDiv(b, col0, c32(t, 128 / esize(s.dt)), "");
        d = LLVMBuildAdd(b, d, LLVMBuildMul(b, blk, c32(t, s.brows * 128), ""), "");
    } else {
        d = LLVMBuildMul(b, row0, c32(t, s.pitch), "");
        d = LLVMBuildAdd(b, d, LLVMBuildMul(b, col0, c32(t, esize(s.dt)), ""), "");
    }
    s.off = LLVMBuildAdd(b, s.off, d, "");
    s.rows = rows;
    s.cols = cols;
    return s;
}

void nt_cp_commit(nt *t)
{
    nv_cp_commit(&t->nv);
}

void nt_cp_wait(nt *t, int groups)
{
    nv_cp_wait(&t->nv, groups);
}

void nt_barrier(nt *t)
{
    nv_barrier(&t->nv);
}

/* Work item i * threads + tid of `total`, guarded when the last round is
 * partial: returns the item; *join the guard's join block (or NULL). */
static LLVMValueRef item(nt *t, int i, int total, LLVMBasicBlockRef *join)
{
    LLVMValueRef id = LLVMBuildAdd(t->nv.b, t->tid, c32(t, (long long)i * t->threads), "");
    *join = NULL;
    if ((i + 1) * t->threads > total)
        *join = nt_if(t, LLVMBuildICmp(t->nv.b, LLVMIntULT, id, c32(t, total), ""));
    return id;
}

/* (row0 + row) * row_stride, i64. */
static LLVMValueRef row_elem(nt *t, nt_gtile g, LLVMValueRef row)
{
    LLVMValueRef r = LLVMBuildSExt(t->nv.b, LLVMBuildAdd(t->nv.b, g.row0, row, ""), t->nv.i64, "");
    return LLVMBuildMul(t->nv.b, r, g.row_stride, "");
}

void nt_copy_g2s(nt *t, nt_smem dst, nt_gtile src)
{
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    int es = esize(src.dt), chunks = dst.cols * es / 16, total = dst.rows * chunks;
    for (int i = 0; i * t->threads < total; i++) {
        LLVMBasicBlockRef join;
        LLVMValueRef id = item(t, i, total, &join);
        LLVMValueRef row = LLVMBuildUDiv(b, id, c32(t, chunks), "");
        LLVMValueRef ch = LLVMBuildURem(b, id, c32(t, chunks), "");
        LLVMValueRef ok, e;
        if (src.row_at) {
            e = src.row_at(t, row, &ok, src.ud);
        } else {
            ok = LLVMBuildICmp(b, LLVMIntSLT, row, src.rows, "");
            e = LLVMBuildAdd(b, src.off, row_elem(t, src, row), "");
        }
        e = LLVMBuildAdd(b, e, LLVMBuildZExt(b, LLVMBuildMul(b, ch, c32(t, 16 / es), ""), nv->i64, ""), "");
        LLVMValueRef off = LLVMBuildSelect(b, ok, LLVMBuildMul(b, e, nv_i64(nv, es), ""), nv_i64(nv, 0), "");
        LLVMValueRef d = dst.layout == NT_SWIZZLE128
                             ? nv_wg_swizzle_offset(nv, row, ch, dst.brows)
                             : LLVMBuildAdd(b, LLVMBuildMul(b, row, c32(t, dst.pitch), ""), LLVMBuildShl(b, ch, c32(t, 4), ""), "");
        LLVMValueRef bytes = LLVMBuildSelect(b, ok, c32(t, 16), c32(t, 0), "");
        nv_cp_async16(nv, nt_sptr(t, LLVMBuildAdd(b, d, dst.off, "")), nv_gep(nv, src.base, off), bytes);
        if (join)
            nt_endif(t, join);
    }
}

void nt_smem_map(nt *t, nt_smem s, dtype from, LLVMValueRef rows, nt_elem_fn fn, void *ud)
{
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    int pairs = s.cols / 2, total = s.rows * pairs;
    for (int i = 0; i * t->threads < total; i++) {
        LLVMBasicBlockRef join;
        LLVMValueRef id = item(t, i, total, &join);
        LLVMValueRef row = LLVMBuildUDiv(b, id, c32(t, pairs), "");
        LLVMValueRef cp = LLVMBuildURem(b, id, c32(t, pairs), "");
        LLVMValueRef off = LLVMBuildAdd(b, LLVMBuildMul(b, row, c32(t, s.pitch), ""), LLVMBuildShl(b, cp, c32(t, 2), ""), "");
        LLVMValueRef ptr = nt_sptr(t, LLVMBuildAdd(b, off, s.off, ""));
        LLVMValueRef x[2];
        nt_unpack_pair(t, from, LLVMBuildLoad2(b, nv->i32, ptr, ""), x);
        LLVMValueRef live = rows ? LLVMBuildICmp(b, LLVMIntSLT, row, rows, "") : NULL;
        for (int e = 0; e < 2; e++) {
            LLVMValueRef col = LLVMBuildAdd(b, LLVMBuildShl(b, cp, c32(t, 1), ""), c32(t, e), "");
            if (fn)
                x[e] = fn(t, x[e], row, col, ud);
            if (live)
                x[e] = LLVMBuildSelect(b, live, x[e], nv_f32(nv, 0), "");
        }
        LLVMBuildStore(b, nv_pack2(nv, s.dt, x[0], x[1]), ptr);
        if (join)
            nt_endif(t, join);
    }
}

/* Byte offset, from the tile start, of the pair (row slot i, column block
 * cb) of a C fragment: row 16 (i / 2) + g + 8 (i % 2), column 8 cb + 2 t4. */
void nt_store_shared(nt *t, const nt_frag *c, nt_smem s)
{
    LLVMBuilderRef b = t->nv.b;
    int ncb = c->cols / 8, es = esize(s.dt);
    LLVMValueRef base = LLVMBuildAdd(b, LLVMBuildMul(b, t->g, c32(t, s.pitch), ""),
                                     LLVMBuildMul(b, t->t4, c32(t, 2 * es), ""), "");
    base = LLVMBuildAdd(b, base, s.off, "");
    for (int k = 0; k < c->n; k += 2) {
        int blk = k / 4, e = k % 4;
        int d = (16 * (blk / ncb) + 8 * (e >> 1)) * s.pitch + 8 * (blk % ncb) * es;
        LLVMValueRef v = nv_pack2(&t->nv, s.dt, c->v[k], c->v[k + 1]);
        LLVMBuildStore(b, v, nt_sptr(t, LLVMBuildAdd(b, base, c32(t, d), "")));
    }
}

void nt_store_global(nt *t, const nt_frag *c, nt_gtile g)
{
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    int ncb = c->cols / 8, es = esize(g.dt);
    LLVMValueRef col = LLVMBuildShl(b, t->t4, c32(t, 1), "");
    for (int i = 0; i < c->rows / 8; i++) {
        LLVMValueRef row = nt_row(t, i), ok, e;
        if (g.row_at)
            e = g.row_at(t, row, &ok, g.ud);
        else
            ok = LLVMBuildICmp(b, LLVMIntSLT, row, g.rows, "");
        LLVMBasicBlockRef join = nt_if(t, ok);
        /* One address per row; the column blocks are constant offsets from it. */
        if (!g.row_at)
            e = LLVMBuildAdd(b, g.off, row_elem(t, g, row), "");
        e = LLVMBuildAdd(b, e, LLVMBuildZExt(b, col, nv->i64, ""), "");
        LLVMValueRef row_p = nv_gep(nv, g.base, LLVMBuildMul(b, e, nv_i64(nv, es), ""));
        for (int cb = 0; cb < ncb; cb++) {
            const LLVMValueRef *v = &c->v[((i / 2) * ncb + cb) * 4 + 2 * (i % 2)];
            LLVMValueRef p = nv_gep(nv, row_p, nv_i64(nv, cb * 8 * es));
            LLVMSetAlignment(LLVMBuildStore(b, nv_pack2(nv, g.dt, v[0], v[1]), p), 4);
        }
        nt_endif(t, join);
    }
}
