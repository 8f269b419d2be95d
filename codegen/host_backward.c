/* host_backward.c — backward programs on the host: the signature shared by
 * a program's kernels, the binding of its parameters, the loop over a
 * kernel's programs (each tir_programs grid), and the FOR over a q_range:
 * for every query head of the key tile's kv head (group), the query tiles
 * of the range — closed-form bounds over the key box, the forward's bounds
 * inverted by a scan over the query tiles (then each pair is checked
 * against its forward range, so exactly the forward's pairs are visited),
 * or every tile with the block table's entry per pair; a range with parts
 * (the transposed union, tile_ir.h) walks them instead, inside the bounds
 * or every query tile, with no forward-range check. */
#include <string.h>

#include "host_bwd.h"
#include "range_parts.h"

static bool is_float(dtype dt)
{
    return dt == DT_F32 || dt == DT_BF16 || dt == DT_F16;
}

static const tir_tensor ws_tensors[] = {TENSOR_DELTA, TENSOR_QDQ, TENSOR_KDK, TENSOR_DOX, TENSOR_DKH, TENSOR_DVH};

bool host_bwd_plan(const tir_kernel *k, host_kernel *hk)
{
    bool ok = host_plan_inputs(k, hk, HT_COUNT);
    for (int p = 0; p < k->nparams; p++) {
        if (!is_float(k->params[p].dtype))
            continue;
        ok &= host_arg_add(hk, HROLE_DPARAM, p, 0);
        for (int d = 0; d < k->params[p].ndim; d++)
            ok &= host_arg_add(hk, HROLE_DPARAM_STRIDE, p, d);
    }
    ok &= host_arg_add(hk, HROLE_BLOCK_TABLE, 0, 0);
    for (size_t i = 0; i < sizeof ws_tensors / sizeof *ws_tensors; i++)
        ok &= host_arg_add(hk, HROLE_WS, ws_tensors[i], 0);
    for (int p = 0; p < k->nparams; p++)
        if (is_float(k->params[p].dtype))
            ok &= host_arg_add(hk, HROLE_WS, TENSOR_SLOTS, p);
    ok &= host_arg_add(hk, HROLE_NSLOTS, 0, 0);
    ok &= host_arg_add(hk, HROLE_SCRATCH, 0, 0);
    ok &= host_arg_add(hk, HROLE_PROGRAM_FIRST, 0, 0);
    ok &= host_arg_add(hk, HROLE_PROGRAM_LAST, 0, 0);
    return ok;
}

static hbwd *state(hgen *g)
{
    if (g->bwd)
        return g->bwd;
    int np = g->tk->nparams > 0 ? g->tk->nparams : 1;
    hbwd *b = ARENA_NEW(g->a, hbwd);
    if (b) {
        b->dparam = ARENA_ARRAY(g->a, LLVMValueRef, np);
        b->dparam_stride = arena_alloc(g->a, sizeof *b->dparam_stride * (size_t)np);
        b->slots = ARENA_ARRAY(g->a, LLVMValueRef, np);
    }
    if (!b || !b->dparam || !b->dparam_stride || !b->slots) {
        hgen_fail(g, "out of memory");
        return NULL;
    }
    memset(b->dparam_stride, 0, sizeof *b->dparam_stride * (size_t)np);
    g->bwd = b;
    return b;
}

bool host_bwd_bind(hgen *g, const host_arg *a, LLVMValueRef v)
{
    hbwd *b = state(g);
    if (!b)
        return false;
    switch (a->role) {
    case HROLE_DPARAM: b->dparam[a->which] = v; return true;
    case HROLE_DPARAM_STRIDE: b->dparam_stride[a->which][a->dim] = v; return true;
    case HROLE_WS:
        if (a->which == TENSOR_SLOTS)
            b->slots[a->dim] = v;
        else
            b->ws[a->which] = v;
        return true;
    case HROLE_NSLOTS: b->nslots = v; return true;
    default: return hgen_fail(g, "internal error: host codegen: argument role %d", (int)a->role);
    }
}

LLVMValueRef hbwd_alloca_i64(hgen *g)
{
    return hgen_entry_alloca(g, g->i64, NULL, "idx");
}

LLVMValueRef hbwd_param_numel(hgen *g, int p)
{
    LLVMValueRef n = hc_i64(g, 1);
    for (int d = 0; d < g->tk->params[p].ndim; d++)
        n = LLVMBuildMul(g->b, n, g->param_shape[p][d], "");
    return n;
}

LLVMValueRef hbwd_ws_offset(hgen *g, bool kside, LLVMValueRef t, LLVMValueRef col, int cols)
{
    LLVMValueRef T = g->size[kside ? SZ_KV_TOKENS : SZ_TOKENS];
    LLVMValueRef bh = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, g->batch, g->size[SZ_HEADS], ""), g->head, "");
    LLVMValueRef row = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, bh, T, ""), t, "");
    return LLVMBuildAdd(g->b, LLVMBuildMul(g->b, row, hc_i64(g, cols), ""), col ? col : hc_i64(g, 0), "");
}

/* ---- the program grid ---- */

static LLVMValueRef group_size(hgen *g)
{
    LLVMValueRef kvh = hgen_imax(g, g->size[SZ_KV_HEADS], hc_i64(g, 1));
    return hgen_imax(g, LLVMBuildSDiv(g->b, g->size[SZ_HEADS], kvh, ""), hc_i64(g, 1));
}

/* Splits p into per-dim tile indices (last dim fastest) over the q or k
 * side; returns the rest (the head-and-batch part). */
static LLVMValueRef split_tiles(hgen *g, LLVMValueRef p, bool kside, LLVMValueRef *idx)
{
    for (int d = g->nd - 1; d >= 0; d--) {
        int ext = kside ? g->tk->sched.kv_tile[d] : g->tk->sched.q_tile[d];
        LLVMValueRef n = hgen_tiles_along(g, kside, d, ext);
        idx[d] = LLVMBuildURem(g->b, p, n, "tile");
        p = LLVMBuildUDiv(g->b, p, n, "");
    }
    return p;
}

/* rest = batch * heads_n + head: sets batch and the head (or kv head). */
static void split_heads(hgen *g, LLVMValueRef rest, bool kv)
{
    LLVMValueRef n = g->size[kv ? SZ_KV_HEADS : SZ_HEADS];
    LLVMValueRef h = LLVMBuildURem(g->b, rest, n, "head");
    g->batch = LLVMBuildUDiv(g->b, rest, n, "batch");
    if (kv) {
        g->kv_head = h;
        g->head = LLVMBuildMul(g->b, h, group_size(g), ""); /* the group's first; a q_range FOR visits all */
    } else {
        g->head = h;
        g->kv_head = LLVMBuildSDiv(g->b, h, group_size(g), "kv_head");
    }
}

/* One program's coordinates from its index. */
static void split_program(hgen *g, tir_programs kind, LLVMValueRef p)
{
    g->bwd->program = p;
    switch (kind) {
    case PROG_QTILES:
    case PROG_SLOTS: split_heads(g, g->linear ? p : split_tiles(g, p, false, g->qtile), false); break;
    case PROG_HEADS: split_heads(g, p, false); break;
    case PROG_KVTILES: split_heads(g, split_tiles(g, p, true, g->bwd->ktile), true); break;
    case PROG_KVHEADS: split_heads(g, p, true); break;
    default: /* ELEMS, ONE: no batch or head */
        g->batch = g->head = g->kv_head = hc_i64(g, 0);
        break;
    }
}

/* Query-tile programs of the grid (for the slot loop). */
static LLVMValueRef qtile_programs(hgen *g)
{
    LLVMValueRef n = LLVMBuildMul(g->b, g->size[SZ_BATCH], g->size[SZ_HEADS], "");
    for (int d = 0; d < g->nd; d++)
        n = LLVMBuildMul(g->b, n, hgen_tiles_along(g, false, d, g->tk->sched.q_tile[d]), "");
    return n;
}

bool host_bwd_emit_body(hgen *g)
{
    g->entry = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "entry");
    LLVMPositionBuilderAtEnd(g->b, g->entry);
    if (!state(g))
        return false;
    tir_programs kind = g->tk->programs;
    hloop l = hgen_loop_begin(g, g->first, g->last);
    bool ok;
    if (kind == PROG_SLOTS) { /* slot s runs the query-tile programs s, s + S, ... in order */
        g->bwd->slot = l.iv;
        LLVMValueRef n = qtile_programs(g), nslots = hgen_imax(g, g->bwd->nslots, hc_i64(g, 1));
        LLVMValueRef count = LLVMBuildSDiv(g->b, LLVMBuildAdd(g->b, LLVMBuildSub(g->b, n, l.iv, ""),
                                                               LLVMBuildSub(g->b, nslots, hc_i64(g, 1), ""), ""),
                                           nslots, "");
        hloop it = hgen_loop_begin(g, hc_i64(g, 0), count);
        split_program(g, kind, LLVMBuildAdd(g->b, l.iv, LLVMBuildMul(g->b, it.iv, nslots, ""), ""));
        ok = host_emit_block(g, g->tk->body);
        hgen_loop_end(g, &it);
    } else {
        split_program(g, kind, l.iv);
        ok = host_emit_block(g, g->tk->body);
    }
    hgen_loop_end(g, &l);
    LLVMBuildRet(g->b, LLVMConstInt(g->i32, 0, false));
    return ok;
}

/* ---- FOR over a q_range ---- */

/* Whether key tile ktile (per dim) lies in the forward range (op's lo/hi
 * over the query box qb). */
static LLVMValueRef in_forward_range(hgen *g, const tir_op *op, const hval *qb)
{
    hexpr_ctx x = {g, NULL, NULL, qb, NULL, NULL};
    LLVMValueRef in = LLVMConstInt(g->i1, 1, false);
    for (int d = 0; d < op->range_ndims && d < g->nd; d++) {
        LLVMValueRef lo = hgen_expr(&x, op->range_lo[d]), hi = hgen_expr(&x, op->range_hi[d]);
        if (!lo || !hi)
            return in;
        LLVMValueRef k = g->bwd->ktile[d];
        in = LLVMBuildAnd(g->b, in, LLVMBuildICmp(g->b, LLVMIntSLE, lo, k, ""), "");
        in = LLVMBuildAnd(g->b, in, LLVMBuildICmp(g->b, LLVMIntSLE, k, hi, ""), "");
    }
    return in;
}

static hval query_box(hgen *g, const LLVMValueRef *idx)
{
    hval b = {0};
    b.kind = TV_BOX;
    b.nd = g->nd;
    for (int d = 0; d < g->nd; d++) {
        b.ext[d] = g->tk->sched.q_tile[d];
        b.lo[d] = LLVMBuildMul(g->b, idx[d], hc_i64(g, b.ext[d]), "");
    }
    return b;
}

/* RANGE_INVERSE: per dim the first and last query tile whose forward range
 * holds the key tile, by a scan over every query tile. */
typedef struct inv_scan {
    LLVMValueRef lo[SCHED_MAX_DIMS], hi[SCHED_MAX_DIMS]; /* i64 slots */
    LLVMValueRef idx[SCHED_MAX_DIMS];
} inv_scan;

/* One loop per dim (outermost first) over every query tile; the dim count
 * is checked so every index stays below SCHED_MAX_DIMS. */
static void scan_dims(hgen *g, const tir_op *op, inv_scan *s)
{
    int nd = g->nd;
    if (nd < 1 || nd > SCHED_MAX_DIMS) {
        hgen_fail(g, "internal error: host codegen: a q range over %d dims (1..%d)", nd, SCHED_MAX_DIMS);
        return;
    }
    hloop loops[SCHED_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        loops[d] = hgen_loop_begin(g, hc_i64(g, 0), hgen_tiles_along(g, false, d, g->tk->sched.q_tile[d]));
        s->idx[d] = loops[d].iv;
    }
    hval qb = query_box(g, s->idx);
    hif h = hgen_if_begin(g, in_forward_range(g, op, &qb));
    for (int e = 0; e < nd; e++) {
        LLVMValueRef lo = LLVMBuildLoad2(g->b, g->i64, s->lo[e], ""), hi = LLVMBuildLoad2(g->b, g->i64, s->hi[e], "");
        LLVMBuildStore(g->b, hgen_imin(g, lo, s->idx[e]), s->lo[e]);
        LLVMBuildStore(g->b, hgen_imax(g, hi, s->idx[e]), s->hi[e]);
    }
    hgen_if_end(g, &h);
    for (int d = nd - 1; d >= 0; d--)
        hgen_loop_end(g, &loops[d]);
}

static void inverse_bounds(hgen *g, const tir_op *op, LLVMValueRef *lo, LLVMValueRef *hi)
{
    inv_scan s;
    for (int d = 0; d < g->nd; d++) {
        s.lo[d] = hbwd_alloca_i64(g);
        s.hi[d] = hbwd_alloca_i64(g);
        LLVMBuildStore(g->b, hc_i64(g, INT64_MAX), s.lo[d]);
        LLVMBuildStore(g->b, hc_i64(g, -1), s.hi[d]);
    }
    scan_dims(g, op, &s);
    for (int d = 0; d < g->nd; d++) {
        lo[d] = LLVMBuildLoad2(g->b, g->i64, s.lo[d], "");
        hi[d] = LLVMBuildLoad2(g->b, g->i64, s.hi[d], "");
    }
}

/* The range's query tile bounds per dim for the current head. */
static void q_bounds(hgen *g, const tir_op *op, const hval *kb, LLVMValueRef *lo, LLVMValueRef *hi)
{
    if (op->range_mode == RANGE_INVERSE) {
        inverse_bounds(g, op, lo, hi);
        return;
    }
    for (int d = 0; d < g->nd; d++) {
        LLVMValueRef last = LLVMBuildSub(g->b, hgen_tiles_along(g, false, d, g->tk->sched.q_tile[d]), hc_i64(g, 1), "");
        lo[d] = hc_i64(g, 0);
        hi[d] = last;
        if (op->range_mode != RANGE_BOUNDS || d >= op->range_ndims)
            continue;
        hexpr_ctx x = {g, NULL, NULL, NULL, kb, NULL};
        LLVMValueRef l = hgen_expr(&x, op->range_lo[d]), h = hgen_expr(&x, op->range_hi[d]);
        if (l && h) {
            lo[d] = hgen_imax(g, l, hc_i64(g, 0));
            hi[d] = hgen_imin(g, h, last);
        }
    }
}

/* Row-major linear index of tile indices idx over the q or k side. */
static LLVMValueRef linear_index(hgen *g, bool kside, const LLVMValueRef *idx, LLVMValueRef *count)
{
    LLVMValueRef lin = hc_i64(g, 0), n = hc_i64(g, 1);
    for (int d = 0; d < g->nd; d++) {
        int ext = kside ? g->tk->sched.kv_tile[d] : g->tk->sched.q_tile[d];
        LLVMValueRef nd = hgen_tiles_along(g, kside, d, ext);
        lin = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, lin, nd, ""), idx[d], "");
        n = LLVMBuildMul(g->b, n, nd, "");
    }
    *count = n;
    return lin;
}

/* Whether the q range walks its parts (an inverse one then needs no scan
 * and no per-pair check: the parts hold every query tile keeping a pair). */
static bool has_qparts(hgen *g, const tir_op *qop)
{
    return qop->range_nparts >= 2 && qop->range_ndims == g->nd &&
           (qop->range_mode == RANGE_BOUNDS || qop->range_mode == RANGE_INVERSE);
}

/* The body for one (query tile, key tile) pair, gated by the block table
 * or the forward's range check. */
static bool pair_body(hgen *g, const tir_op *op, const tir_op *qop, const hval *qbox, const LLVMValueRef *qidx)
{
    if (qop->range_mode == RANGE_INVERSE && !has_qparts(g, qop)) {
        hif h = hgen_if_begin(g, in_forward_range(g, qop, qbox));
        bool ok = host_emit_block(g, op->body);
        hgen_if_end(g, &h);
        return ok;
    }
    if (qop->range_mode != RANGE_BLOCK_TABLE || !g->block_table)
        return host_emit_block(g, op->body);
    LLVMValueRef nq, nk;
    LLVMValueRef qi = linear_index(g, false, qidx, &nq), ki = linear_index(g, true, g->bwd->ktile, &nk);
    LLVMValueRef off = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, qi, nk, ""), ki, "");
    return hgen_emit_if_entry(g, op, hgen_block_table_at(g, off));
}

/* The pairs of the range: one loop per dim, outermost first (the dim
 * count checked as in scan_dims). */
static bool q_dims(hgen *g, const tir_op *op, const tir_op *qop, hval *qbox, const LLVMValueRef *lo,
                   const LLVMValueRef *hi)
{
    int nd = g->nd;
    if (nd < 1 || nd > SCHED_MAX_DIMS)
        return hgen_fail(g, "internal error: host codegen: a q range over %d dims (1..%d)", nd, SCHED_MAX_DIMS);
    hloop loops[SCHED_MAX_DIMS];
    LLVMValueRef idx[SCHED_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        loops[d] = hgen_loop_begin(g, lo[d], LLVMBuildAdd(g->b, hi[d], hc_i64(g, 1), ""));
        idx[d] = loops[d].iv;
        qbox->lo[d] = LLVMBuildMul(g->b, idx[d], hc_i64(g, qbox->ext[d]), "");
    }
    bool ok = pair_body(g, op, qop, qbox, idx);
    for (int d = nd - 1; d >= 0; d--)
        hgen_loop_end(g, &loops[d]);
    return ok;
}

/* The i64 slot of part p's lo (hi: true) in dim d. */
static LLVMValueRef qpart_slot(hgen *g, LLVMValueRef parts, LLVMValueRef p, bool hi, int d)
{
    LLVMValueRef at = LLVMBuildMul(g->b, p, hc_i64(g, 2 * SCHED_MAX_DIMS), "");
    at = LLVMBuildAdd(g->b, at, hc_i64(g, (hi ? SCHED_MAX_DIMS : 0) + d), "");
    return LLVMBuildGEP2(g->b, g->i64, parts, &at, 1, "");
}

/* The parts over the key box kb, clipped to the hull lo/hi and normalised
 * (range_parts.h), stored, then walked part after part. */
static bool q_parts(hgen *g, const tir_op *op, const tir_op *qop, const hval *kb, hval *qbox, const LLVMValueRef *lo,
                    const LLVMValueRef *hi)
{
    rparts rp = {0};
    rp.n = qop->range_nparts;
    rp.nd = g->nd;
    hexpr_ctx x = {g, NULL, NULL, NULL, kb, NULL};
    for (int p = 0; p < rp.n; p++)
        for (int d = 0; d < g->nd; d++) {
            rp.lo[p][d] = hgen_expr(&x, qop->part_lo[p][d]);
            rp.hi[p][d] = hgen_expr(&x, qop->part_hi[p][d]);
            if (g->failed || !rp.lo[p][d] || !rp.hi[p][d])
                return hgen_fail(g, "internal error: host codegen: a q range part it cannot evaluate");
        }
    rparts_clip(g->b, &rp, lo, hi);
    rparts_normalize(g->b, g->i64, &rp);
    LLVMValueRef parts = hgen_entry_alloca(g, g->i64, hc_i64(g, 2 * SCHED_MAX_DIMS * rp.n), "qparts");
    for (int p = 0; p < rp.n; p++)
        for (int d = 0; d < g->nd; d++) {
            LLVMBuildStore(g->b, rp.lo[p][d], qpart_slot(g, parts, hc_i64(g, p), false, d));
            LLVMBuildStore(g->b, rp.hi[p][d], qpart_slot(g, parts, hc_i64(g, p), true, d));
        }
    hloop pl = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, rp.n));
    LLVMValueRef plo[SCHED_MAX_DIMS], phi[SCHED_MAX_DIMS];
    for (int d = 0; d < g->nd; d++) {
        plo[d] = LLVMBuildLoad2(g->b, g->i64, qpart_slot(g, parts, pl.iv, false, d), "");
        phi[d] = LLVMBuildLoad2(g->b, g->i64, qpart_slot(g, parts, pl.iv, true, d), "");
    }
    bool ok = q_dims(g, op, qop, qbox, plo, phi);
    hgen_loop_end(g, &pl);
    return ok;
}

bool host_bwd_for_q(hgen *g, const tir_op *op, const hval *rg, hval *qbox)
{
    const tir_op *qop = rg->qrange;
    LLVMValueRef first = qop->group ? LLVMBuildMul(g->b, g->kv_head, group_size(g), "") : g->head;
    LLVMValueRef count = qop->group ? group_size(g) : hc_i64(g, 1);
    LLVMValueRef saved = g->head;
    hloop h = hgen_loop_begin(g, first, LLVMBuildAdd(g->b, first, count, ""));
    g->head = h.iv;
    LLVMValueRef lo[SCHED_MAX_DIMS], hi[SCHED_MAX_DIMS];
    bool parts = has_qparts(g, qop);
    if (parts && qop->range_mode == RANGE_INVERSE) /* the parts inside every query tile */
        for (int d = 0; d < g->nd; d++) {
            lo[d] = hc_i64(g, 0);
            hi[d] = LLVMBuildSub(g->b, hgen_tiles_along(g, false, d, g->tk->sched.q_tile[d]), hc_i64(g, 1), "");
        }
    else
        q_bounds(g, qop, rg->rbox, lo, hi);
    bool ok = !g->failed && (parts ? q_parts(g, op, qop, rg->rbox, qbox, lo, hi) : q_dims(g, op, qop, qbox, lo, hi));
    hgen_loop_end(g, &h);
    g->head = saved;
    return ok;
}

/* ---- program counts (the runtime) ---- */

static int64_t tiles(int64_t extent, int tile)
{
    return tile > 0 ? (extent + tile - 1) / tile : extent;
}

int64_t host_bwd_programs(const host_kernel *hk, const int64_t *sz, int64_t nslots, const int64_t *numel)
{
    int nd = hk->bwd.grid_ndim > 0 ? hk->bwd.grid_ndim : 1;
    bool kv = hk->bwd.programs == PROG_KVTILES || hk->bwd.programs == PROG_KVHEADS;
    int64_t n;
    if (__builtin_mul_overflow(sz[SZ_BATCH], sz[kv ? SZ_KV_HEADS : SZ_HEADS], &n))
        return -1;
    switch (hk->bwd.programs) {
    case PROG_HEADS:
    case PROG_KVHEADS: return n;
    case PROG_SLOTS: return nslots;
    case PROG_ONE: return 1;
    case PROG_ELEMS: return hk->bwd.param >= 0 ? tiles(numel[hk->bwd.param], TIR_ELEM_CHUNK) : 0;
    default: break;
    }
    for (int d = 0; d < nd; d++) {
        int64_t ext = hk->bwd.grid_ndim > 0 ? sz[SZ_GRID0 + d] : sz[kv ? SZ_KV_TOKENS : SZ_TOKENS];
        int t = kv ? hk->bwd.kv_tile[d] : hk->bwd.q_tile[d];
        if (__builtin_mul_overflow(n, tiles(ext, t), &n))
            return -1;
    }
    return n;
}
