/* nvptx_fa2_frames.c — the partial-tile mask with its key-frame subtrees
 * hoisted out of the per-element work (nvptx_fa2.h; on unless ATTNC_MASK_FRAMES=0).
 *
 * Video masks (radial, radial_token) read the key token only as its frame
 * fj = k.t div F and its place in the frame sj = k.t mod F. A key tile of
 * at most F tokens lies in at most two frames, kf0 = k.lo div F and
 * kf0 + 1, split at kb = (kf0 + 1) F, so every subtree of the mask that
 * reads the key only through fj (the frame distance, its ilog2, the split
 * test with its modulo, the band width with its division) takes one of two
 * values per query row. Those subtrees are emitted once per tile and row
 * slot, for fj = kf0 and fj = kf0 + 1, and each element selects by
 * k.t < kb; sj is k.t - kf0 F, less F from kb on. Most tiles (all but
 * about Tk / F of them) lie in one frame: a branch runs them with the kf0
 * values alone, no select per element; in the other, a mask that reads
 * the element through one bool subtree A (mask_key_atom: radial's
 * |si - sj| <= w) is A ? mask[A := 1] : mask[A := 0], the cofactors
 * computed per row and frame, so an element selects two bools, not every
 * hoisted value (SASS of that branch ~1280 -> ~990). Radial's per-element work
 * falls from a division, a modulo and a log per element (about 45 SASS
 * instructions) to |si - sj| <= w and the logic around it.
 *
 * Exact: floor division by F > 0 puts k.t in frame kf0 iff k.t < kb, every
 * column of the tile (clipped ones too) lies in frame kf0 or kf0 + 1, and a
 * subtree is a pure function of its leaves, emitted with the mask's own
 * int type (expr_env.node hands the value to emit_expr in its place).
 *
 * The tile class tests (`empty`, `full`) see a box across a frame boundary
 * with `mod F` spanning the whole frame, so they settle few such tiles:
 * when the hull's test fails there, fa2_frames_split runs it on the parts
 * cut at the boundary (mask_classify_frames on the host; radial at N = 31200:
 * computed tiles 586672 -> 530304, those holding kept pairs 525792).
 * The analysis (which masks, which subtrees) is passes/mask_frames.c. */
#include "nvptx_fa2.h"
#include "../passes/mask_frames.h"

int64_t fa2_frames_period(const expr *mask, int grid_ndim, int kv_tile)
{
    return mask_key_period(mask, grid_ndim, kv_tile);
}

static LLVMValueRef to_ty(fa2 *f, LLVMValueRef v)
{
    return LLVMBuildIntCast2(f->nv.b, v, f->fr.ty, true, "");
}

LLVMValueRef fa2_frames_one(fa2 *f)
{
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef F = nv_i32(&f->nv, (int)f->fr_period);
    LLVMValueRef last = LLVMBuildAdd(b, f->k_lo[0], nv_i32(&f->nv, f->p->kv_ext[0] - 1), "");
    return LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildUDiv(b, f->k_lo[0], F, ""), LLVMBuildUDiv(b, last, F, ""), "");
}

/* The mask with its atom false and true, for row slot (mi, h) and frame
 * fr->c (pre phase). */
static void cofactors(fa2 *f, int mi, int h)
{
    fa2_frames *fr = &f->fr;
    if (!fr->atom || fr->one)
        return;
    for (int v = 0; v < 2; v++) {
        fr->atom_val = LLVMConstInt(f->nv.i1, (unsigned long long)v, false);
        fr->kval[mi][h][fr->c][v] = fa2_emit_ty(f, f->p->mask, fr->ty);
    }
    fr->atom_val = NULL;
}

void fa2_frames_begin(fa2 *f, bool one)
{
    const fa_plan *p = f->p;
    fa2_frames *fr = &f->fr;
    LLVMBuilderRef b = f->nv.b;
    *fr = (fa2_frames){0};
    fr->n = mask_key_frame_nodes(p->mask, f->fr_period, fr->node, FA_FR_MAX);
    fr->atom = mask_key_atom(p->mask, f->fr_period);
    fr->one = one;
    fr->ty = fa2_int_ty(f, p->mask);
    LLVMValueRef kf0 = LLVMBuildUDiv(b, f->k_lo[0], nv_i32(&f->nv, (int)f->fr_period), "kf0");
    fr->kf[0] = to_ty(f, kf0);
    fr->kf[1] = to_ty(f, LLVMBuildAdd(b, kf0, nv_i32(&f->nv, 1), ""));
    f->fr_on = true;
    fr->pre = true;
    f->mode = EXM_ELEM;
    f->ex_kt = f->k_lo[0]; /* unread: every key leaf below a hoisted node is `k.t div F` */
    f->ex_s = NULL;
    for (int mi = 0; mi < p->MR; mi++)
        for (int h = 0; h < 2; h++) {
            for (int d = 0; d < 3; d++)
                f->ex_qc[d] = f->row_c[mi][h][d];
            f->ex_qt = f->row_t[mi][h];
            for (fr->c = 0; fr->c < (one ? 1 : 2); fr->c++) {
                for (int i = 0; i < fr->n; i++)
                    fr->val[i][mi][h][fr->c] = fa2_emit_ty(f, fr->node[i], fr->ty);
                cofactors(f, mi, h);
            }
        }
    fr->pre = false;
}

void fa2_frames_column(fa2 *f, LLVMValueRef kt)
{
    LLVMBuilderRef b = f->nv.b;
    fa2_frames *fr = &f->fr;
    LLVMValueRef F = nv_i32(&f->nv, (int)f->fr_period);
    LLVMValueRef kf0 = LLVMBuildUDiv(b, f->k_lo[0], F, "");
    LLVMValueRef s0 = LLVMBuildSub(b, kt, LLVMBuildMul(b, kf0, F, ""), "");
    if (fr->one) {
        fr->sj = to_ty(f, s0);
        return;
    }
    fr->first = LLVMBuildICmp(b, LLVMIntSLT, s0, F, "");
    fr->sj = to_ty(f, LLVMBuildSelect(b, fr->first, s0, LLVMBuildSub(b, s0, F, ""), ""));
}

void fa2_frames_row(fa2 *f, int mi, int h)
{
    f->fr.mi = mi;
    f->fr.h = h;
}

/* The row's value of a per-frame pair v[2] for the current element. */
static LLVMValueRef by_frame(fa2 *f, LLVMValueRef v[2])
{
    return f->fr.one ? v[0] : LLVMBuildSelect(f->nv.b, f->fr.first, v[0], v[1], "");
}

LLVMValueRef fa2_frames_keep(fa2 *f)
{
    fa2_frames *fr = &f->fr;
    if (!fr->atom || fr->one) /* one frame: LLVM folds the row's logic into the element's selects */
        return NULL;
    LLVMValueRef (*k)[2] = fr->kval[fr->mi][fr->h]; /* [frame][atom] */
    LLVMValueRef k0[2] = {k[0][0], k[1][0]}, k1[2] = {k[0][1], k[1][1]};
    LLVMValueRef a = fa2_emit_ty(f, fr->atom, fr->ty);
    return LLVMBuildSelect(f->nv.b, a, by_frame(f, k1), by_frame(f, k0), "");
}

void fa2_frames_end(fa2 *f)
{
    f->fr_on = false;
}

LLVMValueRef fa2_frames_node(fa2 *f, const expr *e)
{
    fa2_frames *fr = &f->fr;
    if (fr->pre) {
        if (fr->atom_val && e == fr->atom)
            return fr->atom_val;
        return mask_is_key_by(e, BIN_DIV, f->fr_period) ? fr->kf[fr->c] : NULL;
    }
    if (mask_is_key_by(e, BIN_MOD, f->fr_period))
        return fr->sj;
    for (int i = 0; i < fr->n; i++) {
        if (fr->node[i] != e)
            continue;
        return by_frame(f, fr->val[i][fr->mi][fr->h]);
    }
    return NULL;
}

/* Corner `hi` of part x of [lo, hi] cut at `cut` (x 0: [lo, cut - 1] when
 * the cut falls inside, else the box; x 1: [cut, hi]). */
static void part(fa2 *f, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef cut, LLVMValueRef in, int x,
                 LLVMValueRef *plo, LLVMValueRef *phi)
{
    LLVMBuilderRef b = f->nv.b;
    *plo = x ? cut : lo;
    *phi = x ? hi : LLVMBuildSelect(b, in, LLVMBuildSub(b, cut, nv_i32(&f->nv, 1), ""), hi, "");
}

LLVMValueRef fa2_frames_split(fa2 *f, const expr *test, LLVMValueRef hull)
{
    nt *t = &f->t;
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef F = nv_i32(&f->nv, (int)f->fr_period), one = nv_i32(&f->nv, 1);
    LLVMValueRef qlo = f->q_lo[0], qhi = f->q_hi[0], klo = f->k_lo[0], khi = f->k_hi[0];
    LLVMValueRef qcut = LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildUDiv(b, qlo, F, ""), one, ""), F, "");
    LLVMValueRef kcut = LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildUDiv(b, klo, F, ""), one, ""), F, "");
    LLVMValueRef qin = LLVMBuildICmp(b, LLVMIntSLE, qcut, qhi, ""), kin = LLVMBuildICmp(b, LLVMIntSLE, kcut, khi, "");
    LLVMValueRef var = nt_var(t, f->nv.i1, LLVMConstInt(f->nv.i1, 0, false), "frames.cls");
    nt_set(t, var, hull);
    LLVMValueRef go = LLVMBuildAnd(b, LLVMBuildNot(b, hull, ""), LLVMBuildOr(b, qin, kin, ""), "");
    LLVMBasicBlockRef join = nt_if(t, go);
    LLVMValueRef all = LLVMConstInt(f->nv.i1, 1, false);
    f->mode = EXM_BOX;
    for (int x = 0; x < 2; x++)
        for (int y = 0; y < 2; y++) {
            part(f, qlo, qhi, qcut, qin, x, &f->q_lo[0], &f->q_hi[0]);
            part(f, klo, khi, kcut, kin, y, &f->k_lo[0], &f->k_hi[0]);
            LLVMValueRef v = fa2_emit(f, test);
            LLVMValueRef real = LLVMConstInt(f->nv.i1, 1, false); /* the pair of parts exists */
            if (x)
                real = LLVMBuildAnd(b, real, qin, "");
            if (y)
                real = LLVMBuildAnd(b, real, kin, "");
            all = LLVMBuildAnd(b, all, LLVMBuildOr(b, v, LLVMBuildNot(b, real, ""), ""), "");
        }
    f->q_lo[0] = qlo, f->q_hi[0] = qhi, f->k_lo[0] = klo, f->k_hi[0] = khi;
    nt_set(t, var, all);
    nt_endif(t, join);
    return nt_get(t, var);
}
