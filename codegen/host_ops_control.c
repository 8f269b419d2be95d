/* host_ops_control.c — QTILE, KV_RANGE, FOR/YIELD and TILE_CLASS.
 *
 * KV_RANGE evaluates the mask analysis' closed-form bounds (RANGE_BOUNDS)
 * over the query box corners and clamps them to the grid of kv tiles;
 * RANGE_ALL visits every tile; RANGE_BLOCK_TABLE visits every tile but
 * the FOR reads the runtime's table (HROLE_BLOCK_TABLE, row-major
 * [query tile][key tile], mask_block_table_build) per pair: 0 skips the
 * body (the iteration values keep their previous contents), 2 makes
 * TILE_CLASS full (no per-element mask), 1 leaves the mask to decide. A NULL
 * table reads as all 1 (every tile, per-element mask). A range with a span
 * is cut to the query tile's document span (HROLE_SPANS, built at launch);
 * a union range (kv_range parts) is normalised once per program into a
 * small array of disjoint boxes (range_parts.h) that the FOR walks in
 * order. FOR keeps its iteration values in buffers of its own: inits are copied in, YIELD copies the new values over them, and
 * the loop's results are those buffers after the last iteration. A `for
 * {reverse=1}` visits its tiles last first; a FOR over a q_range (the
 * backward) is host_bwd_for_q's. */
#include "host_gen.h"
#include "range_parts.h"

static int kv_extent(hgen *g, int d)
{
    return g->linear ? g->tk->sched.linear_block : g->tk->sched.kv_tile[d];
}

static bool emit_qtile(hgen *g, const tir_op *op)
{
    hval *b = hgen_def(g, op->results[0]);
    if (!b)
        return false;
    b->kind = TV_BOX;
    b->nd = g->nd;
    if (g->linear) { /* the whole sequence; its blocks come from the FOR */
        b->whole = true;
        b->lo[0] = hc_i64(g, 0);
        b->ext[0] = g->tk->sched.linear_block;
        return true;
    }
    for (int d = 0; d < g->nd; d++) {
        b->ext[d] = g->tk->sched.q_tile[d];
        b->lo[d] = LLVMBuildMul(g->b, g->qtile[d], hc_i64(g, b->ext[d]), "");
    }
    if (tir_kernel_dilated(g->tk))
        hdil_qbox(g, b);
    return true;
}

/* The i64 slot of part p's lo (hi: true) in dim d. */
static LLVMValueRef part_slot(hgen *g, LLVMValueRef parts, LLVMValueRef p, bool hi, int d)
{
    LLVMValueRef at = LLVMBuildMul(g->b, p, hc_i64(g, 2 * SCHED_MAX_DIMS), "");
    at = LLVMBuildAdd(g->b, at, hc_i64(g, (hi ? SCHED_MAX_DIMS : 0) + d), "");
    return LLVMBuildGEP2(g->b, g->i64, parts, &at, 1, "");
}

/* A union range: each part evaluated over the query box, clipped to the
 * hull, normalised, and stored for the FOR. */
static bool emit_parts(hgen *g, const tir_op *op, const hval *qb, hval *rg)
{
    rparts rp = {0};
    rp.n = op->range_nparts;
    rp.nd = g->nd;
    hexpr_ctx x = {g, NULL, NULL, qb, NULL, NULL};
    for (int p = 0; p < rp.n; p++)
        for (int d = 0; d < g->nd; d++) {
            rp.lo[p][d] = hgen_expr(&x, op->part_lo[p][d]);
            rp.hi[p][d] = hgen_expr(&x, op->part_hi[p][d]);
            if (g->failed)
                return false;
        }
    rparts_clip(g->b, &rp, rg->rlo, rg->rhi);
    rparts_normalize(g->b, g->i64, &rp);
    rg->parts = hgen_entry_alloca(g, g->i64, hc_i64(g, 2 * SCHED_MAX_DIMS * rp.n), "parts");
    rg->nparts = rp.n;
    for (int p = 0; p < rp.n; p++)
        for (int d = 0; d < g->nd; d++) {
            LLVMBuildStore(g->b, rp.lo[p][d], part_slot(g, rg->parts, hc_i64(g, p), false, d));
            LLVMBuildStore(g->b, rp.hi[p][d], part_slot(g, rg->parts, hc_i64(g, p), true, d));
        }
    return true;
}

/* A range with a span (tile_ir.h): dim 0 cut to the key tiles of this
 * query tile's document span, spans[(batch * nqt + qtile) * 2 + 0/1]. */
static void cut_to_span(hgen *g, hval *rg)
{
    LLVMValueRef nqt = hgen_tiles_along(g, false, 0, g->tk->sched.q_tile[0]);
    LLVMValueRef at = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, g->batch, nqt, ""), g->qtile[0], "");
    at = LLVMBuildMul(g->b, at, hc_i64(g, 2), "");
    LLVMValueRef at1 = LLVMBuildAdd(g->b, at, hc_i64(g, 1), "");
    LLVMValueRef lo = LLVMBuildLoad2(g->b, g->i64, LLVMBuildGEP2(g->b, g->i64, g->spans, &at, 1, ""), "span.lo");
    LLVMValueRef hi = LLVMBuildLoad2(g->b, g->i64, LLVMBuildGEP2(g->b, g->i64, g->spans, &at1, 1, ""), "span.hi");
    LLVMValueRef kv = hc_i64(g, kv_extent(g, 0));
    rg->rlo[0] = hgen_imax(g, rg->rlo[0], LLVMBuildSDiv(g->b, lo, kv, ""));
    rg->rhi[0] = hgen_imin(g, rg->rhi[0], LLVMBuildSDiv(g->b, hi, kv, ""));
}

static bool emit_kv_range(hgen *g, const tir_op *op)
{
    hval *qb, *rg = hgen_range_def(g, op, &qb);
    if (!rg)
        return false;
    rg->btable = op->range_mode == RANGE_BLOCK_TABLE && g->block_table && !g->linear;
    for (int d = 0; d < g->nd; d++) {
        LLVMValueRef last = LLVMBuildSub(g->b, hgen_tiles_along(g, true, d, kv_extent(g, d)), hc_i64(g, 1), "");
        if (hdil(g, d) > 1) /* group-local key tiles */
            last = hdil_last_ktile(g, d, kv_extent(g, d));
        rg->rlo[d] = hc_i64(g, 0);
        rg->rhi[d] = last;
        if (op->range_mode != RANGE_BOUNDS || g->linear || d >= op->range_ndims)
            continue;
        hexpr_ctx x = {g, NULL, NULL, qb, NULL, NULL};
        LLVMValueRef lo = op->range_lo[d] ? hgen_expr(&x, op->range_lo[d]) : NULL;
        LLVMValueRef hi = op->range_hi[d] ? hgen_expr(&x, op->range_hi[d]) : NULL;
        if (g->failed)
            return false;
        if (lo)
            rg->rlo[d] = hgen_imax(g, lo, hc_i64(g, 0));
        if (hi)
            rg->rhi[d] = hgen_imin(g, hi, last);
    }
    if (op->span && op->range_mode == RANGE_BOUNDS && g->spans && !g->linear && g->nd == 1)
        cut_to_span(g, rg); /* a table with a span (document(ids) alone) keeps the table here */
    rg->nparts = 0;
    if (op->range_mode == RANGE_BOUNDS && op->range_nparts >= 2 && !g->linear && op->range_ndims == g->nd)
        return emit_parts(g, op, qb, rg);
    return true;
}

static hval *iter_buffer(hgen *g, const tir_value *arg, const hval *init)
{
    hval *h = hgen_def(g, arg);
    if (!h)
        return NULL;
    *h = *init;
    h->buf = hgen_buffer(g, init->rows, init->cols);
    hgen_copy(g, h, init);
    return h;
}

/* Row-major linear tile index of the current query tile (kside false) or
 * of kbox's key tile, and the tile count of that side. */
static LLVMValueRef linear_tile(hgen *g, bool kside, const hval *kbox, LLVMValueRef *count)
{
    LLVMValueRef idx = hc_i64(g, 0), n = hc_i64(g, 1);
    for (int d = 0; d < g->nd; d++) {
        int ext = kside ? kbox->ext[d] : g->tk->sched.q_tile[d];
        LLVMValueRef nd = hgen_tiles_along(g, kside, d, ext);
        LLVMValueRef id = kside ? LLVMBuildSDiv(g->b, kbox->lo[d], hc_i64(g, ext), "") : g->qtile[d];
        idx = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, idx, nd, ""), id, "");
        n = LLVMBuildMul(g->b, n, nd, "");
    }
    *count = n;
    return idx;
}

/* The table entry of the current tile pair (i8); a NULL table reads 1. */
static LLVMValueRef block_table_entry(hgen *g, const hval *kbox)
{
    LLVMValueRef nq, nk;
    LLVMValueRef qi = linear_tile(g, false, kbox, &nq);
    LLVMValueRef ki = linear_tile(g, true, kbox, &nk);
    return hgen_block_table_at(g, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, qi, nk, ""), ki, ""));
}

/* The body for one tile pair; with a block table, only when its entry is not 0. */
static bool emit_for_body(hgen *g, const tir_op *op, const hval *rg, const hval *kbox)
{
    if (!rg->btable)
        return host_emit_block(g, op->body);
    return hgen_emit_if_entry(g, op, block_table_entry(g, kbox));
}

static bool emit_for_dims(hgen *g, const tir_op *op, const hval *rg, hval *kbox);

/* A union range: one loop over its parts (last first for a reverse FOR,
 * whose tiles then also come last first), each walked like a plain range. */
static bool emit_for_parts(hgen *g, const tir_op *op, const hval *rg, hval *kbox)
{
    hloop pl = hgen_loop_begin(g, hc_i64(g, 0), hc_i64(g, rg->nparts));
    LLVMValueRef p = pl.iv;
    if (op->reverse)
        p = LLVMBuildSub(g->b, hc_i64(g, rg->nparts - 1), p, "");
    hval part = *rg;
    part.nparts = 0;
    for (int d = 0; d < g->nd; d++) {
        part.rlo[d] = LLVMBuildLoad2(g->b, g->i64, part_slot(g, rg->parts, p, false, d), "");
        part.rhi[d] = LLVMBuildLoad2(g->b, g->i64, part_slot(g, rg->parts, p, true, d), "");
    }
    bool ok = emit_for_dims(g, op, &part, kbox);
    hgen_loop_end(g, &pl);
    return ok;
}

/* Emits the body once per kv tile of the range: one loop per dim, nested
 * outermost first. The range check keeps every index below SCHED_MAX_DIMS
 * (the size of the box and range arrays) whatever g->nd holds. */
static bool emit_for_dims(hgen *g, const tir_op *op, const hval *rg, hval *kbox)
{
    int nd = g->nd;
    if (nd < 1 || nd > SCHED_MAX_DIMS)
        return hgen_fail(g, "internal error: host codegen: a for over %d dims (1..%d)", nd, SCHED_MAX_DIMS);
    if (rg->nparts > 0)
        return emit_for_parts(g, op, rg, kbox);
    hloop loops[SCHED_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        LLVMValueRef end = LLVMBuildAdd(g->b, rg->rhi[d], hc_i64(g, 1), "");
        loops[d] = hgen_loop_begin(g, rg->rlo[d], end);
        LLVMValueRef iv = loops[d].iv;
        if (op->reverse) /* rhi first: rlo + rhi - iv */
            iv = LLVMBuildSub(g->b, LLVMBuildAdd(g->b, rg->rlo[d], rg->rhi[d], ""), iv, "");
        kbox->lo[d] = hdil(g, d) > 1 ? hdil_kbox_lo(g, iv, kbox->ext[d], d)
                                     : LLVMBuildMul(g->b, iv, hc_i64(g, kbox->ext[d]), "");
    }
    bool ok = emit_for_body(g, op, rg, kbox);
    for (int d = nd - 1; d >= 0; d--)
        hgen_loop_end(g, &loops[d]);
    return ok;
}

static bool emit_for(hgen *g, const tir_op *op)
{
    const tir_block *body = op->body;
    hval *rg = hgen_val(g, op->operands[0]);
    if (!rg || !body || body->nargs < 1 || body->nargs - 1 != op->noperands - 1)
        return hgen_fail(g, "internal error: host codegen: malformed for (%d inits, %d body args)", op->noperands - 1,
                         body ? body->nargs : -1);
    int n = op->noperands - 1;
    hval **args = ARENA_ARRAY(g->a, hval *, n + 1);
    hval *kbox = hgen_def(g, body->args[0]);
    if (!args || !kbox)
        return hgen_fail(g, "out of memory");
    kbox->kind = TV_BOX;
    kbox->kside = !g->linear && !rg->qrange;
    kbox->nd = g->nd;
    for (int d = 0; d < g->nd; d++)
        kbox->ext[d] = rg->qrange ? g->tk->sched.q_tile[d] : kv_extent(g, d);
    for (int i = 0; i < n; i++) {
        hval *init = hgen_val(g, op->operands[1 + i]);
        if (!init || !(args[i] = iter_buffer(g, body->args[1 + i], init)))
            return false;
    }
    hval **saved = g->yield_to;
    int saved_n = g->nyield;
    g->yield_to = args;
    g->nyield = n;
    bool ok = rg->qrange ? host_bwd_for_q(g, op, rg, kbox) : emit_for_dims(g, op, rg, kbox);
    g->yield_to = saved;
    g->nyield = saved_n;
    for (int i = 0; ok && i < n && i < op->nresults; i++) {
        hval *r = hgen_def(g, op->results[i]);
        if (!r)
            return false;
        *r = *args[i];
    }
    return ok;
}

static bool emit_yield(hgen *g, const tir_op *op)
{
    if (op->noperands != g->nyield)
        return hgen_fail(g, "internal error: host codegen: yield of %d values in a for of %d", op->noperands, g->nyield);
    for (int i = 0; i < op->noperands; i++) {
        hval *v = hgen_val(g, op->operands[i]);
        if (!v)
            return false;
        hgen_copy(g, g->yield_to[i], v);
    }
    return true;
}

static bool emit_tile_class(hgen *g, const tir_op *op)
{
    hval *qb = hgen_val(g, op->operands[0]);
    hval *kb = hgen_val(g, op->operands[1]);
    hval *c = hgen_def(g, op->results[0]);
    if (!qb || !kb || !c)
        return false;
    c->kind = TV_CLASS;
    hexpr_ctx x = {g, NULL, NULL, qb, kb, NULL};
    c->full = op->full_expr ? hgen_expr(&x, op->full_expr) : LLVMConstInt(g->i1, 0, false);
    if (c->full && LLVMTypeOf(c->full) != g->i1)
        c->full = LLVMBuildICmp(g->b, LLVMIntNE, c->full, LLVMConstInt(LLVMTypeOf(c->full), 0, false), "");
    c->empty = op->empty_expr ? hgen_expr(&x, op->empty_expr) : LLVMConstInt(g->i1, 0, false);
    if (c->empty && LLVMTypeOf(c->empty) != g->i1)
        c->empty = LLVMBuildICmp(g->b, LLVMIntNE, c->empty, LLVMConstInt(LLVMTypeOf(c->empty), 0, false), "");
    if (c->full && g->bt_entry) /* the table says full: no per-element mask */
        c->full = LLVMBuildOr(g->b, c->full,
                              LLVMBuildICmp(g->b, LLVMIntEQ, g->bt_entry, LLVMConstInt(g->i8, 2, false), ""), "");
    return !g->failed;
}

bool host_op_control(hgen *g, const tir_op *op)
{
    switch (op->kind) {
    case TIR_QTILE: return emit_qtile(g, op);
    case TIR_KV_RANGE: return emit_kv_range(g, op);
    case TIR_FOR: return emit_for(g, op);
    case TIR_YIELD: return emit_yield(g, op);
    case TIR_TILE_CLASS: return emit_tile_class(g, op);
    default: return hgen_fail(g, "internal error: host_op_control: %s", hgen_op_name(op->kind));
    }
}
