/* nvptx_fa2_frames.c — the partial-tile mask with its key-frame subtrees
 * hoisted out of the per-element work (nvptx_fa2.h; ATTNC_MASK_FRAMES=1).
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
 * values alone, no select per element. Radial's per-element work
 * falls from a division, a modulo and a log per element (about 45 SASS
 * instructions) to |si - sj| <= w and the logic around it.
 *
 * Exact: floor division by F > 0 puts k.t in frame kf0 iff k.t < kb, every
 * column of the tile (clipped ones too) lies in frame kf0 or kf0 + 1, and a
 * subtree is a pure function of its leaves, emitted with the mask's own
 * int type (expr_env.node hands the value to emit_expr in its place). */
#include <stdint.h>

#include "nvptx_fa2.h"

enum { LV_NONE, LV_FRAME, LV_ELEM }; /* what of the key a subtree reads */

static bool is_key(const expr *e)
{
    return e->kind == EX_COORD && e->u.coord.side == SIDE_K;
}

/* c > 0 when e is `k.t op c` (a constant; the flat token or dim 0). */
static int64_t key_by(const expr *e, expr_binop op)
{
    if (e->kind != EX_BINARY || e->u.binop != op || e->nargs != 2 || !is_key(e->args[0]) ||
        e->args[0]->u.coord.dim > 0)
        return 0;
    const expr *c = e->args[1];
    return c->kind == EX_CONST_INT && c->u.ival > 0 ? c->u.ival : 0;
}

/* Whether every key coordinate of e is under `div F` or `mod F`, one F
 * (*F: 0 until the first is seen). */
static bool one_period(const expr *e, int64_t *F)
{
    int64_t c = key_by(e, BIN_DIV);
    if (!c)
        c = key_by(e, BIN_MOD);
    if (c) {
        if (*F && *F != c)
            return false;
        *F = c;
        return true;
    }
    if (is_key(e))
        return false;
    for (int i = 0; i < e->nargs; i++)
        if (!one_period(e->args[i], F))
            return false;
    return true;
}

static int level(const expr *e, int64_t F)
{
    if (key_by(e, BIN_DIV) == F)
        return LV_FRAME;
    if (is_key(e) || e->kind == EX_SCORE)
        return LV_ELEM;
    int lv = LV_NONE;
    for (int i = 0; i < e->nargs; i++) {
        int l = level(e->args[i], F);
        lv = l > lv ? l : lv;
    }
    return lv;
}

/* The largest subtrees reading the key only through its frame, once each;
 * false past FA_FR_MAX. */
static bool collect(const expr *e, int64_t F, fa2_frames *fr)
{
    int lv = level(e, F);
    if (lv == LV_NONE)
        return true;
    if (lv == LV_FRAME) {
        for (int i = 0; i < fr->n; i++)
            if (fr->node[i] == e)
                return true;
        if (fr->n == FA_FR_MAX)
            return false;
        fr->node[fr->n++] = e;
        return true;
    }
    for (int i = 0; i < e->nargs; i++)
        if (!collect(e->args[i], F, fr))
            return false;
    return true;
}

int64_t fa2_frames_period(const expr *mask, int grid_ndim, int kv_tile)
{
    int64_t F = 0;
    if (!mask || grid_ndim != 0 || !one_period(mask, &F) || F < kv_tile || F > INT32_MAX)
        return 0;
    fa2_frames fr = {0};
    return collect(mask, F, &fr) && fr.n > 0 ? F : 0;
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

void fa2_frames_begin(fa2 *f, bool one)
{
    const fa_plan *p = f->p;
    fa2_frames *fr = &f->fr;
    LLVMBuilderRef b = f->nv.b;
    *fr = (fa2_frames){0};
    collect(p->mask, f->fr_period, fr);
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
            for (fr->c = 0; fr->c < (one ? 1 : 2); fr->c++)
                for (int i = 0; i < fr->n; i++)
                    fr->val[i][mi][h][fr->c] = fa2_emit_ty(f, fr->node[i], fr->ty);
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

void fa2_frames_end(fa2 *f)
{
    f->fr_on = false;
}

LLVMValueRef fa2_frames_node(fa2 *f, const expr *e)
{
    fa2_frames *fr = &f->fr;
    if (fr->pre)
        return key_by(e, BIN_DIV) == f->fr_period ? fr->kf[fr->c] : NULL;
    if (key_by(e, BIN_MOD) == f->fr_period)
        return fr->sj;
    for (int i = 0; i < fr->n; i++) {
        if (fr->node[i] != e)
            continue;
        LLVMValueRef *v = fr->val[i][fr->mi][fr->h];
        return fr->one ? v[0] : LLVMBuildSelect(f->nv.b, fr->first, v[0], v[1], "");
    }
    return NULL;
}
