/* tile_frag.c — register fragments (tile.h): zeros, element-wise maps,
 * row reductions and scaling, C -> A conversion, ldmatrix loads and the
 * products. Every index formula is the mma.sync layout tile.h writes down. */
#include "tile.h"

#include <string.h>

static LLVMValueRef c32(nt *t, long long v)
{
    return nv_i32(&t->nv, v);
}

static LLVMValueRef add(nt *t, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildAdd(t->nv.b, a, b, "");
}

static void shape(nt_frag *f, nt_role role, int rows, int cols, dtype dt)
{
    f->role = role;
    f->rows = rows;
    f->cols = cols;
    f->dt = dt;
    f->n = rows * cols / (role == NT_C ? 32 : 64);
}

void nt_zero(nt *t, nt_frag *c, int rows, int cols)
{
    shape(c, NT_C, rows, cols, DT_F32);
    for (int i = 0; i < c->n; i++)
        c->v[i] = nv_f32(&t->nv, 0);
}

LLVMValueRef nt_row(nt *t, int i)
{
    return add(t, t->g, c32(t, 16 * (i / 2) + 8 * (i % 2)));
}

/* Row and column of C element v[k] (blocks of 4 over cols/8 columns). */
static void c_coord(nt *t, const nt_frag *c, int k, LLVMValueRef *row, LLVMValueRef *col)
{
    int blk = k / 4, e = k % 4, ncb = c->cols / 8;
    *row = nt_row(t, 2 * (blk / ncb) + (e >> 1));
    *col = add(t, LLVMBuildShl(t->nv.b, t->t4, c32(t, 1), ""), c32(t, 8 * (blk % ncb) + (e & 1)));
}

/* Row and column of half h of pair register v[k] of an A or B fragment. */
static void pair_coord(nt *t, const nt_frag *f, int k, int h, LLVMValueRef *row, LLVMValueRef *col)
{
    LLVMValueRef k2 = add(t, LLVMBuildShl(t->nv.b, t->t4, c32(t, 1), ""), c32(t, h));
    int blk = k / (f->role == NT_A ? 4 : 2), i = k % (f->role == NT_A ? 4 : 2);
    if (f->role == NT_A) {
        int nkb = f->cols / 16;
        *row = add(t, t->g, c32(t, 16 * (blk / nkb) + 8 * (i & 1)));
        *col = add(t, k2, c32(t, 16 * (blk % nkb) + 8 * (i >> 1)));
    } else {
        int nnb = f->cols / 8;
        *row = add(t, k2, c32(t, 16 * (blk / nnb) + 8 * i));
        *col = add(t, t->g, c32(t, 8 * (blk % nnb)));
    }
}

void nt_unpack_pair(nt *t, dtype dt, LLVMValueRef pair, LLVMValueRef x[2])
{
    nv_ctx *nv = &t->nv;
    if (dt == DT_BF16) {
        x[0] = LLVMBuildBitCast(nv->b, LLVMBuildShl(nv->b, pair, c32(t, 16), ""), nv->f32, "");
        x[1] = LLVMBuildBitCast(nv->b, LLVMBuildAnd(nv->b, pair, c32(t, (long long)0xffff0000u), ""), nv->f32, "");
        return;
    }
    LLVMValueRef h2 = LLVMBuildBitCast(nv->b, pair, LLVMVectorType(nv->f16, 2), "");
    for (int i = 0; i < 2; i++)
        x[i] = LLVMBuildFPExt(nv->b, LLVMBuildExtractElement(nv->b, h2, c32(t, i), ""), nv->f32, "");
}

void nt_map(nt *t, nt_frag *f, nt_elem_fn fn, void *ud)
{
    LLVMValueRef row, col;
    for (int k = 0; k < f->n; k++) {
        if (f->role == NT_C) {
            c_coord(t, f, k, &row, &col);
            f->v[k] = fn(t, f->v[k], row, col, ud);
            continue;
        }
        LLVMValueRef x[2];
        nt_unpack_pair(t, f->dt, f->v[k], x);
        for (int h = 0; h < 2; h++) {
            pair_coord(t, f, k, h, &row, &col);
            x[h] = fn(t, x[h], row, col, ud);
        }
        f->v[k] = nv_pack2(&t->nv, f->dt, x[0], x[1]);
    }
}

void nt_scale_rows(nt *t, nt_frag *c, LLVMValueRef *s)
{
    int ncb = c->cols / 8;
    for (int k = 0; k < c->n; k++) {
        LLVMValueRef m = s[2 * (k / 4 / ncb) + ((k % 4) >> 1)];
        if (m)
            c->v[k] = LLVMBuildFMul(t->nv.b, c->v[k], m, "");
    }
}

static LLVMValueRef combine(nt *t, LLVMValueRef a, LLVMValueRef b, bool max)
{
    return max ? nv_fmax(&t->nv, a, b) : LLVMBuildFAdd(t->nv.b, a, b, "");
}

static void row_reduce(nt *t, const nt_frag *c, bool max, LLVMValueRef *out)
{
    int ncb = c->cols / 8;
    for (int i = 0; i < c->rows / 8; i++)
        out[i] = NULL;
    for (int k = 0; k < c->n; k++) {
        int i = 2 * (k / 4 / ncb) + ((k % 4) >> 1);
        out[i] = out[i] ? combine(t, out[i], c->v[k], max) : c->v[k];
    }
    for (int i = 0; i < c->rows / 8; i++)
        for (int m = 1; m <= 2; m *= 2)
            out[i] = combine(t, out[i], nv_shfl_xor_f32(&t->nv, out[i], m), max);
}

void nt_row_sum(nt *t, const nt_frag *c, LLVMValueRef *out)
{
    row_reduce(t, c, false, out);
}

void nt_row_max(nt *t, const nt_frag *c, LLVMValueRef *out)
{
    row_reduce(t, c, true, out);
}

/* A block (rb, kb) register i is C block (rb, 2 kb + (i >> 1)) elements
 * 2 (i & 1) and 2 (i & 1) + 1. */
void nt_to_a(nt *t, nt_frag *a, const nt_frag *c, dtype dt)
{
    shape(a, NT_A, c->rows, c->cols, dt);
    int nkb = c->cols / 16, ncb = c->cols / 8;
    for (int k = 0; k < a->n; k++) {
        int blk = k / 4, i = k % 4, rb = blk / nkb, kb = blk % nkb;
        const LLVMValueRef *src = &c->v[(rb * ncb + 2 * kb + (i >> 1)) * 4 + 2 * (i & 1)];
        a->v[k] = nv_pack2(&t->nv, dt, src[0], src[1]);
    }
}

/* ---- ldmatrix ---- */

/* Byte offset, from the operand's element (r0, c0), of the row this lane
 * addresses in an x4 load of the 16x16 operand block there: matrix
 * m = lane / 8 covers operand rows 8 (m & 1).., columns 8 (m >> 1).. (A:
 * a0..a3; B: b0, b1 of two n8 blocks); stored transposed, the lane's row
 * is an operand column. */
static LLVMValueRef lane_offset(nt *t, nt_smem s, bool transposed)
{
    LLVMBuilderRef b = t->nv.b;
    LLVMValueRef l7 = LLVMBuildAnd(b, t->lane, c32(t, 7), "");
    LLVMValueRef r8 = LLVMBuildShl(b, LLVMBuildAnd(b, LLVMBuildLShr(b, t->lane, c32(t, 3), ""), c32(t, 1), ""),
                                   c32(t, 3), "");
    LLVMValueRef c8 = LLVMBuildShl(b, LLVMBuildLShr(b, t->lane, c32(t, 4), ""), c32(t, 3), "");
    LLVMValueRef srow = add(t, transposed ? c8 : r8, l7), scol = transposed ? r8 : c8;
    return add(t, LLVMBuildMul(b, srow, c32(t, s.pitch), ""), LLVMBuildShl(b, scol, c32(t, 1), ""));
}

/* Byte offset of operand element (r, c) (constants) from the tile start. */
static int elem_offset(nt_smem s, bool transposed, int r, int c)
{
    return transposed ? c * s.pitch + r * 2 : r * s.pitch + c * 2;
}

/* One x4 load of the 16x16 operand block at operand (r, c). */
static void ld_block(nt *t, nt_smem s, LLVMValueRef base, nt_role role, bool transpose, int r, int c,
                     LLVMValueRef out[4])
{
    bool trans = role == NT_A ? transpose : !transpose;
    LLVMValueRef off = add(t, base, c32(t, elem_offset(s, transpose, r, c)));
    nv_ldmatrix_x4(&t->nv, nt_sptr(t, off), trans, out);
}

static LLVMValueRef ld_base(nt *t, nt_smem s, bool transpose)
{
    return add(t, s.off, lane_offset(t, s, transpose));
}

void nt_load(nt *t, nt_frag *f, nt_role role, nt_smem s, bool transpose)
{
    int rows = transpose ? s.cols : s.rows, cols = transpose ? s.rows : s.cols;
    shape(f, role, rows, cols, s.dt);
    LLVMValueRef base = ld_base(t, s, transpose);
    for (int rb = 0; rb < rows / 16; rb++)
        for (int cb = 0; cb < cols / 16; cb++) {
            LLVMValueRef r[4];
            ld_block(t, s, base, role, transpose, 16 * rb, 16 * cb, r);
            if (role == NT_A) {
                memcpy(&f->v[(rb * (cols / 16) + cb) * 4], r, sizeof r);
            } else { /* two n8 blocks: r[0], r[1] and r[2], r[3] */
                LLVMValueRef *d = &f->v[(rb * (cols / 8) + 2 * cb) * 2];
                memcpy(d, r, sizeof r);
            }
        }
}

nt_opnd nt_reg(const nt_frag *f)
{
    nt_opnd o = {.frag = f};
    return o;
}

nt_opnd nt_shared(nt_smem s, bool transpose)
{
    nt_opnd o = {.frag = NULL, .smem = s, .transpose = transpose};
    return o;
}

static int opnd_rows(nt_opnd o)
{
    return o.frag ? o.frag->rows : o.transpose ? o.smem.cols : o.smem.rows;
}

static int opnd_cols(nt_opnd o)
{
    return o.frag ? o.frag->cols : o.transpose ? o.smem.rows : o.smem.cols;
}

/* Slab kb (columns 16 kb.., M/16 blocks x 4) of an A operand, from its
 * registers (an accumulator's converted to dt now) or loaded now. */
static void slab_a(nt *t, nt_opnd o, int kb, LLVMValueRef base, dtype dt, LLVMValueRef *out)
{
    int rows = opnd_rows(o), cols = opnd_cols(o);
    for (int rb = 0; rb < rows / 16; rb++) {
        if (o.frag && o.frag->role == NT_C) /* an accumulator: this slab rounded to pairs (nt_to_a's layout) */
            for (int i = 0; i < 4; i++) {
                const LLVMValueRef *src = &o.frag->v[(rb * (cols / 8) + 2 * kb + (i >> 1)) * 4 + 2 * (i & 1)];
                out[4 * rb + i] = nv_pack2(&t->nv, dt, src[0], src[1]);
            }
        else if (o.frag)
            memcpy(&out[4 * rb], &o.frag->v[(rb * (cols / 16) + kb) * 4], 4 * sizeof *out);
        else
            ld_block(t, o.smem, base, NT_A, o.transpose, 16 * rb, 16 * kb, &out[4 * rb]);
    }
}

/* The 16 x 16 block (kb, cb) of a B operand: its two n8 blocks' pairs
 * (out[0..1], out[2..3]; the second absent at an odd last column block). */
static void block_b(nt *t, nt_opnd o, int kb, int cb, LLVMValueRef base, LLVMValueRef out[4])
{
    if (!o.frag) {
        ld_block(t, o.smem, base, NT_B, o.transpose, 16 * kb, 16 * cb, out);
        return;
    }
    int ncb = o.frag->cols / 8;
    for (int i = 0; i < 2 && 2 * cb + i < ncb; i++)
        memcpy(&out[2 * i], &o.frag->v[(kb * ncb + 2 * cb + i) * 2], 2 * sizeof *out);
}

bool nt_mma_wgmma(nt *t, nt_frag *acc, nt_opnd a, nt_opnd b, dtype dt); /* tile_wgmma.c */

void nt_mma(nt *t, nt_frag *acc, nt_opnd a, nt_opnd b, dtype dt)
{
    /* wgmma's shared A is the warpgroup's 64 rows, its accumulator the warp's 16 */
    bool wgmma = !b.frag && b.smem.layout == NT_SWIZZLE128;
    if ((!wgmma && opnd_rows(a) != acc->rows) || opnd_cols(b) != acc->cols || opnd_cols(a) != opnd_rows(b) ||
        acc->role != NT_C || (a.frag && a.frag->role == NT_B) || (b.frag && b.frag->role != NT_B)) {
        if (!t->error)
            t->error = "nt_mma: the operand shapes do not match the accumulator";
        return;
    }
    if (wgmma) {
        nt_mma_wgmma(t, acc, a, b, dt); /* records t->error when it cannot */
        return;
    }
    int M = acc->rows, N = acc->cols, K = opnd_cols(a);
    LLVMValueRef abase = a.frag ? NULL : ld_base(t, a.smem, a.transpose);
    LLVMValueRef bbase = b.frag ? NULL : ld_base(t, b.smem, b.transpose);
    /* One A slab and one B block (a single ldmatrix) live at a time: per
     * k16 slab, each 16-column block of B meets every row block of A. */
    for (int kb = 0; kb < K / 16; kb++) {
        LLVMValueRef as[NT_FRAG_MAX / 4];
        slab_a(t, a, kb, abase, dt, as);
        for (int cb = 0; cb < (N + 15) / 16; cb++) {
            LLVMValueRef bs[4];
            block_b(t, b, kb, cb, bbase, bs);
            for (int rb = 0; rb < M / 16; rb++)
                for (int nb = 2 * cb; nb < 2 * cb + 2 && nb < N / 8; nb++) {
                    LLVMValueRef *c = &acc->v[(rb * (N / 8) + nb) * 4];
                    nv_mma_16816(&t->nv, dt, &as[4 * rb], &bs[2 * (nb - 2 * cb)], c, c);
                }
        }
    }
}
