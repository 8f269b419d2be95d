/* nvptx_fa2_coords.c — where tokens are: query/key tile boxes, per-row and
 * per-column coordinates, the key-tile range of this program, and the
 * expression environment that feeds emit_expr() (nvptx_fa2.h). Tile extents
 * are powers of two (but a sequence's tiles under warpgroup MMA: 192 query
 * rows, key tiles of any multiple of 16), so a token's place inside a box
 * is shifts and masks. */
#include <math.h>

#include "nvptx_fa2.h"
#include "range_parts.h"

static int ilog2(int v)
{
    int s = 0;
    while ((1 << s) < v)
        s++;
    return s;
}

static LLVMValueRef add(fa2 *f, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildAdd(f->nv.b, a, b, "");
}

static LLVMValueRef mul(fa2 *f, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildMul(f->nv.b, a, b, "");
}

void fa2_tile_coords(fa2 *f, const int *ext, const LLVMValueRef *org, LLVMValueRef idx, LLVMValueRef c[3])
{
    int sh = 0;
    for (int d = f->p->ndims - 1; d >= 0; d--) {
        LLVMValueRef local = LLVMBuildLShr(f->nv.b, idx, nv_i32(&f->nv, sh), "");
        /* a sequence's tiles may not be powers of two (ir/schedule.c:
         * 192 query rows, wide key tiles); the outermost dim's place needs
         * no mask (idx is inside the box) */
        if (d || (ext[d] & (ext[d] - 1)) == 0)
            local = LLVMBuildAnd(f->nv.b, local, nv_i32(&f->nv, ext[d] - 1), "");
        if (fa2_dil(f, d) > 1) /* a strided box of one dilation group */
            local = mul(f, local, nv_i32(&f->nv, fa2_dil(f, d)));
        c[d] = add(f, org[d], local);
        sh += ilog2(ext[d]);
    }
}

LLVMValueRef fa2_flat_token(fa2 *f, LLVMValueRef c[3])
{
    if (f->p->grid_ndim == 0)
        return c[0];
    LLVMValueRef t = c[0];
    for (int d = 1; d < f->p->grid_ndim; d++)
        t = add(f, mul(f, t, f->size[SZ_GRID0 + d]), c[d]);
    return t;
}

LLVMValueRef fa2_in_bounds(fa2 *f, LLVMValueRef c[3], const LLVMValueRef *ext)
{
    LLVMValueRef ok = NULL;
    for (int d = 0; d < f->p->ndims; d++) {
        LLVMValueRef in = LLVMBuildICmp(f->nv.b, LLVMIntSLT, c[d], ext[d], "");
        ok = ok ? LLVMBuildAnd(f->nv.b, ok, in, "") : in;
    }
    return ok;
}

static LLVMValueRef ceil_div(fa2 *f, LLVMValueRef a, int b)
{
    return LLVMBuildSDiv(f->nv.b, add(f, a, nv_i32(&f->nv, b - 1)), nv_i32(&f->nv, b), "");
}

/* Query tile boxes are numbered row-major over tile dims, heaviest (last)
 * first for 1-D so causal programs with the most key tiles start early;
 * under p->q_group > 1 (schedule qgroup=, grids) in slabs of q_group
 * tiles of dim 0, dim 0 fastest inside a slab (group_index), the slab's
 * positions in chunks of the last dim under p->q_chunk > 1 (chunk_index). */
static LLVMValueRef q_tiles(fa2 *f, LLVMValueRef nqt[3])
{
    const fa_plan *p = f->p;
    LLVMValueRef total = nv_i32(&f->nv, 1);
    for (int d = 0; d < p->ndims; d++) {
        nqt[d] = fa2_dil(f, d) > 1 ? fa2_dil_qtiles(f, d) : ceil_div(f, f->qext[d], p->q_ext[d]);
        total = mul(f, total, nqt[d]);
    }
    return total;
}

LLVMValueRef fa2_q_tiles(fa2 *f)
{
    LLVMValueRef nqt[3];
    return q_tiles(f, nqt);
}

/* qchunk=C (3-D grids): position pos inside a slab, numbered chunk by
 * chunk (C tiles of the last dim, the last chunk maybe short), then the
 * middle dim, then the last dim inside the chunk, as the row-major index
 * over dims 1.. (middle * W + last). Every chunk before pos's is full, so
 * its chunk is pos / (M C); a bijection on 0 .. M W - 1. */
static LLVMValueRef chunk_index(fa2 *f, LLVMValueRef pos, const LLVMValueRef nqt[3])
{
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef W = nqt[2], M = nqt[1];
    LLVMValueRef C = nv_smin(&f->nv, nv_i32(&f->nv, f->p->q_chunk), W);
    LLVMValueRef per = mul(f, M, C);
    LLVMValueRef c = LLVMBuildUDiv(b, pos, per, "chunk");
    LLVMValueRef w0 = mul(f, c, C);
    LLVMValueRef r = LLVMBuildSub(b, pos, mul(f, c, per), "");
    LLVMValueRef cw = nv_smin(&f->nv, C, LLVMBuildSub(b, W, w0, ""));
    LLVMValueRef mid = LLVMBuildUDiv(b, r, cw, ""), last = add(f, w0, LLVMBuildURem(b, r, cw, ""));
    return add(f, mul(f, mid, W), last);
}

/* Block index rem as a slab-major tile index (dim 0 and the rest, idx0
 * and the row-major index over dims 1.. returned): slab s holds tiles
 * s*G .. s*G+g-1 of dim 0 (g = G but at the last slab, which may be
 * short) for every position of the other dims, and inside it dim 0 runs
 * fastest, so the resident blocks are the G query tiles of a stride group
 * (which share their key window) at neighbouring positions. A bijection
 * on 0 .. total-1 for any extents. */
static LLVMValueRef group_index(fa2 *f, LLVMValueRef rem, const LLVMValueRef nqt[3], LLVMValueRef *idx0)
{
    LLVMBuilderRef b = f->nv.b;
    /* at most dim 0's tiles: G x the other dims' tiles then stays within the total */
    LLVMValueRef G = nv_smin(&f->nv, nv_i32(&f->nv, f->p->q_group), nqt[0]), rest = nv_i32(&f->nv, 1);
    for (int d = 1; d < f->p->ndims; d++)
        rest = mul(f, rest, nqt[d]);
    LLVMValueRef slab = mul(f, G, rest);
    LLVMValueRef s = LLVMBuildUDiv(b, rem, slab, "slab");
    LLVMValueRef r = LLVMBuildSub(b, rem, mul(f, s, slab), "");
    LLVMValueRef first = mul(f, s, G);
    LLVMValueRef g = nv_smin(&f->nv, G, LLVMBuildSub(b, nqt[0], first, ""));
    *idx0 = add(f, first, LLVMBuildURem(b, r, g, ""));
    LLVMValueRef pos = LLVMBuildUDiv(b, r, g, "");
    return f->p->q_chunk > 1 ? chunk_index(f, pos, nqt) : pos;
}

static void q_box(fa2 *f)
{
    const fa_plan *p = f->p;
    LLVMValueRef nqt[3], total = q_tiles(f, nqt);
    LLVMValueRef rem = f->cta_x ? f->cta_x : nv_sreg(&f->nv, "ctaid.x");
    if (p->ndims == 1)
        rem = LLVMBuildSub(f->nv.b, LLVMBuildSub(f->nv.b, total, nv_i32(&f->nv, 1), ""), rem, "");
    LLVMValueRef idx0 = NULL;
    if (p->ndims > 1 && (p->q_group > 1 || p->q_chunk > 1))
        rem = group_index(f, rem, nqt, &idx0);
    for (int d = p->ndims - 1; d >= 0; d--) {
        LLVMValueRef idx = d ? LLVMBuildURem(f->nv.b, rem, nqt[d], "") : idx0 ? idx0 : rem;
        if (d)
            rem = LLVMBuildUDiv(f->nv.b, rem, nqt[d], "");
        if (fa2_dil(f, d) > 1) {
            fa2_dil_q_origin(f, d, idx);
            continue;
        }
        f->q_org[d] = mul(f, idx, nv_i32(&f->nv, p->q_ext[d]));
        f->q_lo[d] = f->q_org[d];
        LLVMValueRef last = add(f, f->q_org[d], nv_i32(&f->nv, p->q_ext[d] - 1));
        f->q_hi[d] = nv_smin(&f->nv, last, LLVMBuildSub(f->nv.b, f->qext[d], nv_i32(&f->nv, 1), ""));
    }
}

void fa2_thread_ids(fa2 *f)
{
    nt_attach(&f->t, f->nv, f->fn, f->smem, f->threads, f->p->wgmma ? TARGET_SM90A : TARGET_SM80);
    if (f->p->uniform_warp)
        nt_uniform_warp(&f->t);
    if (f->smem32) /* the wgmma base (nv_wg_smem_base): the same address, one value */
        f->t.smem32 = f->smem32;
    f->tid = f->t.tid;
    f->lane = f->t.lane;
    f->warp = f->t.warp;
    f->g = f->t.g;
    f->t4 = f->t.t4;
}

void fa2_extents(fa2 *f)
{
    const fa_plan *p = f->p;
    for (int d = 0; d < 3; d++)
        f->qext[d] = f->kext[d] = nv_i32(&f->nv, 1);
    if (p->grid_ndim == 0) {
        f->qext[0] = f->size[SZ_TOKENS];
        f->kext[0] = f->size[SZ_KV_TOKENS];
    } else {
        for (int d = 0; d < p->ndims; d++)
            f->qext[d] = f->kext[d] = f->size[SZ_GRID0 + d];
    }
}

void fa2_coords_init(fa2 *f)
{
    const fa_plan *p = f->p;
    fa2_extents(f);
    q_box(f);
    for (int d = 0; d < p->ndims; d++)
        f->nkt[d] = fa2_dil(f, d) > 1 ? fa2_dil_nkt(f, d) : ceil_div(f, f->kext[d], p->kv_ext[d]);
    for (int mi = 0; mi < p->MR; mi++) {
        for (int h = 0; h < 2; h++) {
            LLVMValueRef r = mul(f, f->warp, nv_i32(&f->nv, 16 * p->MR));
            r = add(f, add(f, r, f->g), nv_i32(&f->nv, mi * 16 + h * 8));
            fa2_tile_coords(f, p->q_ext, f->q_org, r, f->row_c[mi][h]);
            f->row_t[mi][h] = fa2_flat_token(f, f->row_c[mi][h]);
        }
    }
}

/* The part of a union range that loop index j falls in: its first tile and
 * counts per dim, and j less the part's base. Empty parts have the base of
 * the next one, so the last part whose base is <= j is the one. */
static LLVMValueRef select_part(fa2 *f, LLVMValueRef j, LLVMValueRef lo[3], LLVMValueRef cnt[3])
{
    nv_ctx *nv = &f->nv;
    int fixed = f->part_only - 1;
    if (fixed >= 0) { /* inside a loop over one part (fa2_key_loops) */
        for (int d = 0; d < f->p->ndims; d++) {
            lo[d] = f->part_lo[fixed][d];
            cnt[d] = f->part_cnt[fixed][d];
        }
        return LLVMBuildSub(nv->b, j, f->part_base[fixed], "");
    }
    LLVMValueRef base = f->part_base[0];
    for (int d = 0; d < f->p->ndims; d++) {
        lo[d] = f->part_lo[0][d];
        cnt[d] = f->part_cnt[0][d];
    }
    for (int i = 1; i < f->p->nparts; i++) {
        LLVMValueRef in = LLVMBuildICmp(nv->b, LLVMIntSGE, j, f->part_base[i], "");
        base = LLVMBuildSelect(nv->b, in, f->part_base[i], base, "");
        for (int d = 0; d < f->p->ndims; d++) {
            lo[d] = LLVMBuildSelect(nv->b, in, f->part_lo[i][d], lo[d], "");
            cnt[d] = LLVMBuildSelect(nv->b, in, f->part_cnt[i][d], cnt[d], "");
        }
    }
    return LLVMBuildSub(nv->b, j, base, "");
}

void fa2_kv_tile_origin(fa2 *f, LLVMValueRef j, LLVMValueRef org[3])
{
    const fa_plan *p = f->p;
    LLVMValueRef rem = j, r_lo[3], r_cnt[3];
    for (int d = 0; d < p->ndims; d++) {
        r_lo[d] = f->r_lo[d];
        r_cnt[d] = f->r_cnt[d];
    }
    if (p->nparts)
        rem = select_part(f, j, r_lo, r_cnt);
    for (int d = p->ndims - 1; d >= 0; d--) {
        LLVMValueRef idx = rem;
        if (d || p->ndims > 1) {
            /* cnt may be 0 only when total is 0; keep the division defined. */
            LLVMValueRef cnt = nv_smax(&f->nv, r_cnt[d], nv_i32(&f->nv, 1));
            idx = d ? LLVMBuildURem(f->nv.b, rem, cnt, "") : rem;
            if (d)
                rem = LLVMBuildUDiv(f->nv.b, rem, cnt, "");
        }
        org[d] = fa2_dil(f, d) > 1 ? fa2_dil_k_origin(f, d, add(f, r_lo[d], idx))
                                   : mul(f, add(f, r_lo[d], idx), nv_i32(&f->nv, p->kv_ext[d]));
    }
}

/* A key-tile bound v clamped: at least lo (is_lo) or at most hi. An i64 v
 * (an expression that needs 64 bits, fa2_emit) is clamped to [lo, hi] in
 * 64 bits first, so narrowing it keeps its meaning. */
static LLVMValueRef clamp_index(fa2 *f, LLVMValueRef v, LLVMValueRef lo, LLVMValueRef hi, bool is_lo)
{
    nv_ctx *nv = &f->nv;
    if (LLVMTypeOf(v) == nv->i32)
        return is_lo ? nv_smax(nv, v, lo) : nv_smin(nv, v, hi);
    LLVMValueRef lo64 = LLVMBuildSExt(nv->b, lo, nv->i64, ""), hi64 = LLVMBuildSExt(nv->b, hi, nv->i64, "");
    v = nv_smin(nv, nv_smax(nv, v, lo64), hi64);
    return LLVMBuildTrunc(nv->b, v, nv->i32, "");
}

/* A union range: each part clamped like the hull, clipped to it and
 * normalised (range_parts.h); the loop runs over the parts' tiles in order. */
static void range_parts(fa2 *f)
{
    const fa_plan *p = f->p;
    nv_ctx *nv = &f->nv;
    rparts rp = {0};
    rp.n = p->nparts;
    rp.nd = p->ndims;
    LLVMValueRef hhi[3];
    for (int d = 0; d < p->ndims; d++) {
        LLVMValueRef last = LLVMBuildSub(nv->b, f->nkt[d], nv_i32(nv, 1), "");
        hhi[d] = add(f, f->r_lo[d], LLVMBuildSub(nv->b, f->r_cnt[d], nv_i32(nv, 1), ""));
        for (int i = 0; i < rp.n; i++) {
            rp.lo[i][d] = clamp_index(f, fa2_emit(f, p->plo[i][d]), nv_i32(nv, 0), add(f, last, nv_i32(nv, 1)), true);
            rp.hi[i][d] = clamp_index(f, fa2_emit(f, p->phi[i][d]), nv_i32(nv, -1), last, false);
        }
    }
    rparts_clip(nv->b, &rp, f->r_lo, hhi);
    rparts_normalize(nv->b, nv->i32, &rp);
    LLVMValueRef base = nv_i32(nv, 0);
    for (int i = 0; i < rp.n; i++) {
        f->part_base[i] = base;
        for (int d = 0; d < p->ndims; d++) {
            f->part_lo[i][d] = rp.lo[i][d];
            LLVMValueRef cnt = add(f, LLVMBuildSub(nv->b, rp.hi[i][d], rp.lo[i][d], ""), nv_i32(nv, 1));
            f->part_cnt[i][d] = nv_smax(nv, cnt, nv_i32(nv, 0));
        }
        base = add(f, base, rparts_count(nv->b, nv->i32, &rp, i));
    }
    f->r_total = base;
}

void fa2_range(fa2 *f)
{
    const fa_plan *p = f->p;
    f->mode = EXM_BOX;
    f->r_total = nv_i32(&f->nv, 1);
    for (int d = 0; d < p->ndims; d++) {
        LLVMValueRef last = LLVMBuildSub(f->nv.b, f->nkt[d], nv_i32(&f->nv, 1), "");
        LLVMValueRef lo = nv_i32(&f->nv, 0), hi = last;
        if (p->range == RANGE_BOUNDS) {
            lo = clamp_index(f, fa2_emit(f, p->lo[d]), lo, add(f, last, nv_i32(&f->nv, 1)), true);
            hi = clamp_index(f, fa2_emit(f, p->hi[d]), nv_i32(&f->nv, -1), last, false);
        }
        LLVMValueRef cnt = add(f, LLVMBuildSub(f->nv.b, hi, lo, ""), nv_i32(&f->nv, 1));
        f->r_lo[d] = lo;
        f->r_cnt[d] = nv_smax(&f->nv, cnt, nv_i32(&f->nv, 0));
        f->r_total = mul(f, f->r_total, f->r_cnt[d]);
    }
    if (p->range == RANGE_BOUNDS && p->span_param >= 0)
        fa2_doc_span(f);
    if (p->range == RANGE_BOUNDS && p->nparts)
        range_parts(f);
}

/* Key box corners of the current tile (clipped to the grid). */
static void key_box(fa2 *f)
{
    const fa_plan *p = f->p;
    for (int d = 0; d < p->ndims; d++) {
        LLVMValueRef end = add(f, f->k_org[d], nv_i32(&f->nv, p->kv_ext[d]));
        f->k_lo[d] = f->k_org[d];
        LLVMValueRef last = LLVMBuildSub(f->nv.b, end, nv_i32(&f->nv, 1), "");
        f->k_hi[d] = nv_smin(&f->nv, last, LLVMBuildSub(f->nv.b, f->kext[d], nv_i32(&f->nv, 1), ""));
        if (fa2_dil(f, d) > 1)
            f->k_hi[d] = fa2_dil_box_hi(f, d, f->k_org[d], p->kv_ext[d]);
    }
}

LLVMValueRef fa2_tile_empty(fa2 *f)
{
    key_box(f);
    if (f->all_full)
        return LLVMConstInt(f->nv.i1, 0, false);
    f->mode = EXM_BOX;
    LLVMValueRef empty = fa2_emit(f, f->p->empty);
    return f->fr_period > 0 && f->p->empty ? fa2_frames_split(f, f->p->empty, empty) : empty;
}

LLVMValueRef fa2_tile_in_doc(fa2 *f)
{
    const fa_plan *p = f->p;
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef org = f->run_on_q ? f->q_org[0] : f->k_org[0]; /* the other side's tile */
    int ext = f->run_on_q ? p->q_ext[0] : p->kv_ext[0];
    LLVMValueRef after = LLVMBuildICmp(b, LLVMIntSGT, org, f->run_lo, "");
    LLVMValueRef before = LLVMBuildICmp(b, LLVMIntSLE, add(f, org, nv_i32(&f->nv, ext)), f->run_hi, "");
    return LLVMBuildAnd(b, after, before, "in_doc");
}

bool fa2_full_range_on(const fa2 *f)
{
    const fa_plan *p = f->p;
    /* on by default for token grids (H100 run50: HunyuanVideo GNA overlapped 572 -> 670 TFLOP/s, FLUX GNA
     * 651 -> 661-666); sequences only under the switch (dense D=128 lost 1.5%, causal and windows level) */
    int mode = nvptx_full_range_mode();
    if (!(mode == 1 || (mode < 0 && p->grid_ndim > 0)))
        return false;
    /* no mask (dense): runs of whole tiles inside the keys; unions part by part, on sequences */
    /* documents: with their run's full test (span_full), and only under the switch */
    bool doc = p->span_param >= 0;
    if (doc && (mode != 1 || !p->span_full || p->nparts))
        return false;
    if ((p->mask && !p->full && !doc) || (p->nparts && p->ndims != 1) || f->fr_period > 0)
        return false;
    for (int d = 0; d < p->ndims; d++)
        if (fa2_dil(f, d) > 1)
            return false;
    return true;
}

/* A sequence's tile index of loop index j (in the part f->part_only - 1 of
 * a union). */
static LLVMValueRef seq_tile(fa2 *f, LLVMValueRef j)
{
    int i = f->part_only - 1;
    if (f->p->nparts && i >= 0)
        return add(f, f->part_lo[i][0], LLVMBuildSub(f->nv.b, j, f->part_base[i], ""));
    return add(f, f->r_lo[0], j);
}

/* Whether loop tiles [lo, hi) (a sequence's; a grid's whole box: lo = 0,
 * hi = r_total) are all full: not empty, their hull inside the keys and,
 * with a mask, its full test on the hull (sound on any box pair). */
static LLVMValueRef hull_full(fa2 *f, LLVMValueRef lo, LLVMValueRef hi)
{
    const fa_plan *p = f->p;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef ok = LLVMBuildICmp(b, LLVMIntSLT, lo, hi, "");
    for (int d = 0; d < p->ndims; d++) {
        LLVMValueRef t_lo = f->r_lo[d], t_end = add(f, f->r_lo[d], f->r_cnt[d]);
        if (p->ndims == 1) {
            t_lo = seq_tile(f, lo);
            t_end = add(f, t_lo, LLVMBuildSub(b, hi, lo, ""));
        }
        LLVMValueRef end = mul(f, t_end, nv_i32(nv, p->kv_ext[d]));
        ok = LLVMBuildAnd(b, ok, LLVMBuildICmp(b, LLVMIntSLE, end, f->kext[d], ""), "");
        f->k_lo[d] = mul(f, t_lo, nv_i32(nv, p->kv_ext[d]));
        f->k_hi[d] = LLVMBuildSub(b, end, nv_i32(nv, 1), "");
    }
    if (!p->mask)
        return ok;
    f->mode = EXM_BOX;
    LLVMValueRef full = p->full ? fa2_emit(f, p->full) : LLVMConstInt(nv->i1, 0, false);
    if (p->span_full && f->run_lo) { /* documents: a hull inside the query tile's run, as fa2_tile_partial */
        LLVMValueRef after = LLVMBuildICmp(b, LLVMIntSGT, f->k_lo[0], f->run_lo, "");
        LLVMValueRef before = LLVMBuildICmp(b, LLVMIntSLE, add(f, f->k_hi[0], nv_i32(nv, 1)), f->run_hi, "");
        LLVMValueRef in_run = LLVMBuildAnd(b, after, before, "");
        full = LLVMBuildOr(b, full, LLVMBuildAnd(b, in_run, fa2_emit(f, p->span_full), ""), "");
    }
    return LLVMBuildAnd(b, ok, full, "hull_full");
}

/* The run of full tiles [*a, *b) among loop tiles [first, n). */
static void full_run(fa2 *f, LLVMValueRef first, LLVMValueRef n, LLVMValueRef *a, LLVMValueRef *b)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef bl = nv->b;
    LLVMValueRef one = nv_i32(nv, 1);
    LLVMValueRef n1 = LLVMBuildSub(bl, n, one, "");
    LLVMValueRef f1 = LLVMBuildAdd(bl, first, one, "");
    /* by preference: every tile, all but the last (causal's diagonal), all but the first, both ends (a window) */
    LLVMValueRef lo[4] = {first, first, f1, f1}, hi[4] = {n, n1, n, n1};
    int tries = f->p->ndims == 1 ? 4 : 1;
    *a = n;
    *b = n;
    for (int i = tries - 1; i >= 0; i--) {
        LLVMValueRef ok = hull_full(f, lo[i], hi[i]);
        *a = LLVMBuildSelect(bl, ok, lo[i], *a, "run_lo");
        *b = LLVMBuildSelect(bl, ok, hi[i], *b, "run_hi");
    }
}

/* Loop tiles [lo, hi): the general loop, the run of full tiles, the general
 * loop (a grid's run is its whole box or nothing: two loops). */
static void split_loops(fa2 *f, fa2_tiles_fn tiles, void *user, LLVMValueRef lo, LLVMValueRef hi)
{
    LLVMValueRef a, b;
    full_run(f, lo, hi, &a, &b);
    tiles(f, user, lo, a, false);
    tiles(f, user, a, b, true);
    if (f->p->ndims == 1)
        tiles(f, user, b, hi, false);
}

void fa2_key_loops(fa2 *f, fa2_tiles_fn tiles, void *user, LLVMValueRef first, LLVMValueRef end)
{
    const fa_plan *p = f->p;
    if (!fa2_full_range_on(f)) {
        tiles(f, user, first, end, false);
        return;
    }
    if (!p->nparts) {
        split_loops(f, tiles, user, first, end);
        return;
    }
    for (int i = 0; i < p->nparts; i++) { /* a union part by part: its tile origins without the part select */
        LLVMValueRef base = f->part_base[i], part_end = add(f, base, f->part_cnt[i][0]);
        f->part_only = i + 1;
        split_loops(f, tiles, user, nv_smax(&f->nv, first, base), part_end);
        f->part_only = 0;
    }
}

LLVMValueRef fa2_tile_partial(fa2 *f)
{
    const fa_plan *p = f->p;
    LLVMValueRef edge = LLVMConstInt(f->nv.i1, 0, false);
    for (int d = 0; d < p->ndims; d++) {
        LLVMValueRef end = add(f, f->k_org[d], nv_i32(&f->nv, p->kv_ext[d]));
        LLVMValueRef past = fa2_dil(f, d) > 1 ? fa2_dil_past_end(f, d, f->k_org[d], p->kv_ext[d])
                                              : LLVMBuildICmp(f->nv.b, LLVMIntSGT, end, f->kext[d], "");
        edge = LLVMBuildOr(f->nv.b, edge, past, "");
        f->k_lo[d] = f->k_org[d];
        LLVMValueRef last = LLVMBuildSub(f->nv.b, end, nv_i32(&f->nv, 1), "");
        f->k_hi[d] = nv_smin(&f->nv, last, LLVMBuildSub(f->nv.b, f->kext[d], nv_i32(&f->nv, 1), ""));
        if (fa2_dil(f, d) > 1)
            f->k_hi[d] = fa2_dil_box_hi(f, d, f->k_org[d], p->kv_ext[d]);
    }
    if (f->all_full) /* fa2_range_all_full held: no tile of the range is partial */
        return LLVMConstInt(f->nv.i1, 0, false);
    if (!p->mask)
        return edge;
    LLVMValueRef full = LLVMConstInt(f->nv.i1, 0, false);
    f->mode = EXM_BOX;
    if (p->full)
        full = fa2_emit(f, p->full);
    if (p->full && f->fr_period > 0) /* tiles across a frame boundary: their parts' tests */
        full = fa2_frames_split(f, p->full, full);
    if (p->span_full && f->run_lo) { /* a tile inside the query's document: the mask without its filter */
        LLVMValueRef in_doc = fa2_tile_in_doc(f);
        full = LLVMBuildOr(f->nv.b, full, LLVMBuildAnd(f->nv.b, in_doc, fa2_emit(f, p->span_full), ""), "");
    } else if (!p->full)
        return LLVMConstInt(f->nv.i1, 1, false);
    return LLVMBuildOr(f->nv.b, edge, LLVMBuildNot(f->nv.b, full, ""), "");
}

/* ---- expression environment ------------------------------------------ */

static LLVMValueRef env_coord(void *user, coord_side side, int dim)
{
    fa2 *f = user;
    bool q = side == SIDE_Q;
    if (dim >= TIR_BOX_HI && dim < TIR_BOX_HI + 3)
        return q ? f->q_hi[dim - TIR_BOX_HI] : f->k_hi[dim - TIR_BOX_HI];
    if (dim >= TIR_BOX_LO && dim < TIR_BOX_LO + 3)
        return q ? f->q_lo[dim - TIR_BOX_LO] : f->k_lo[dim - TIR_BOX_LO];
    if (f->mode != EXM_ELEM || dim > 2) {
        f->failed = true;
        return nv_i32(&f->nv, 0);
    }
    if (dim < 0 || f->p->grid_ndim == 0)
        return q ? f->ex_qt : f->ex_kt;
    return q ? f->ex_qc[dim] : f->ex_kc[dim];
}

static LLVMValueRef env_size(void *user, size_id id)
{
    fa2 *f = user;
    return f->size[id];
}

static LLVMValueRef env_leaf(void *user, expr_kind kind)
{
    fa2 *f = user;
    switch (kind) {
    case EX_HEAD:
        return f->head;
    case EX_KV_HEAD:
        return f->kv_head;
    case EX_BATCH:
        return f->batch;
    case EX_SCORE:
        if (f->ex_s)
            return f->ex_s;
        break;
    default:
        break;
    }
    f->failed = true;
    return nv_i32(&f->nv, 0);
}

LLVMValueRef fa2_param_extent(fa2 *f, const tir_param *rp, int i)
{
    if (rp->const_dims[i] > 0)
        return nv_i32(&f->nv, rp->const_dims[i]);
    return f->size[rp->dims[i]];
}

static LLVMValueRef load_elem(fa2 *f, dtype dt, LLVMValueRef ptr)
{
    nv_ctx *nv = &f->nv;
    switch (dt) {
    case DT_F32:
        return LLVMBuildLoad2(nv->b, nv->f32, ptr, "");
    case DT_BF16: {
        LLVMValueRef v = LLVMBuildZExt(nv->b, LLVMBuildLoad2(nv->b, nv->i16, ptr, ""), nv->i32, "");
        v = LLVMBuildShl(nv->b, v, nv_i32(nv, 16), "");
        return LLVMBuildBitCast(nv->b, v, nv->f32, "");
    }
    case DT_F16:
        return LLVMBuildFPExt(nv->b, LLVMBuildLoad2(nv->b, nv->f16, ptr, ""), nv->f32, "");
    case DT_I64: /* whole: emit_expr narrows it when the expression is in 32 bits */
        return LLVMBuildLoad2(nv->b, nv->i64, ptr, "");
    case DT_U8:
        return LLVMBuildZExt(nv->b, LLVMBuildLoad2(nv->b, nv->i8, ptr, ""), nv->i32, "");
    default:
        return LLVMBuildLoad2(nv->b, nv->i32, ptr, "");
    }
}

static LLVMValueRef env_param(void *user, int param, LLVMValueRef *idx, int n)
{
    fa2 *f = user;
    const tir_kernel *r = f->p->k;
    if (!r || param < 0 || param >= r->nparams) {
        f->failed = true;
        return nv_i32(&f->nv, 0);
    }
    const tir_param *rp = &r->params[param];
    if (rp->ndim == 0)
        return f->param[param];
    LLVMValueRef lin = nv_i32(&f->nv, 0);
    for (int i = 0; i < rp->ndim && i < n; i++) {
        LLVMValueRef ext = fa2_param_extent(f, rp, i);
        LLVMValueRef x = LLVMBuildIntCast2(f->nv.b, idx[i], f->nv.i32, true, "");
        x = nv_smax(&f->nv, nv_smin(&f->nv, x, LLVMBuildSub(f->nv.b, ext, nv_i32(&f->nv, 1), "")),
                    nv_i32(&f->nv, 0));
        lin = add(f, mul(f, lin, ext), x);
    }
    LLVMValueRef off = LLVMBuildMul(f->nv.b, LLVMBuildZExt(f->nv.b, lin, f->nv.i64, ""),
                                    nv_i64(&f->nv, dtype_size(rp->dtype)), "");
    return load_elem(f, rp->dtype, nv_gep(&f->nv, f->param[param], off));
}

LLVMValueRef fa2_param_elem(fa2 *f, int param, LLVMValueRef *idx, int n)
{
    return env_param(f, param, idx, n);
}

/* Ints are computed in 32 bits when every int value of e provably fits
 * (ir/expr_range.h, over every launch the recipe allows), else in 64 bits
 * like the language (and the host, and the reference): a big constant, an
 * i64 param or a product that can pass 2^31 is never truncated. */
static bool fits_i32(const fa2 *f, const expr *e)
{
    range_env env;
    if (f->p->k)
        tir_kernel_range_env(f->p->k, &env);
    else
        range_env_init(&env, f->p->grid_ndim, NULL);
    return expr_int_range(e, &env).fits_i32;
}

static LLVMValueRef env_node(void *user, const expr *e)
{
    fa2 *f = user;
    return f->fr_on ? fa2_frames_node(f, e) : NULL;
}

LLVMTypeRef fa2_int_ty(fa2 *f, const expr *e)
{
    return !e || fits_i32(f, e) ? f->nv.i32 : f->nv.i64;
}

LLVMValueRef fa2_emit_ty(fa2 *f, const expr *e, LLVMTypeRef int_ty)
{
    expr_env env = {
        .ctx = f->nv.c,
        .module = f->nv.m,
        .builder = f->nv.b,
        .int_ty = int_ty,
        .nvptx = true,
        .coord = env_coord,
        .size = env_size,
        .leaf = env_leaf,
        .param = env_param,
        .user = f,
        .node = env_node,
    };
    LLVMValueRef v = e ? emit_expr(&env, e) : NULL;
    if (!v) {
        /* A typed placeholder keeps the IR well formed; f->failed refuses it. */
        f->failed = true;
        if (e && e->type == TY_BOOL)
            return LLVMConstInt(f->nv.i1, 0, false);
        return e && e->type == TY_FLOAT ? nv_f32(&f->nv, 0) : nv_i32(&f->nv, 0);
    }
    return v;
}

LLVMValueRef fa2_emit(fa2 *f, const expr *e)
{
    return fa2_emit_ty(f, e, fa2_int_ty(f, e));
}
