/* nvptx_bwd_param.c — the gradients of float params the score reads, on the
 * GPU backward (nvptx_bwd.h). The CPU program's param_grad ops (one per
 * param read, `site`, with its symbolic partial ∂score/∂element) are read
 * off the backward program; the dK/dV kernel, which forms every pair's dS
 * once, adds dS_raw · partial into the element the read names:
 *
 *   each warp of each dkv CTA owns an f32 slice of the param (workspace,
 *   zeroed by the warp itself); per fragment element the warp sums the
 *   lanes that hit the same element in ascending lane order (shuffles) and
 *   the lowest such lane adds the sum into the slice: no atomics, so the
 *   slice's value depends only on the inputs;
 *   attnc_bwd_dparam sums the slices of each element in slice order in f64
 *   and rounds once to f32, then to the param's dtype (the CPU's
 *   slot_reduce).
 *
 * Bit-identical run to run; the workspace is slices × numel f32 per param.
 * Each param's i32 `atomic` argument (per launch) switches to one f32
 * accumulator instead, zeroed by attnc_bwd_pre and added into with
 * red.global.add.f32 (not deterministic; the runtime's choice where the
 * slices would not fit, or with the atomic dQ). */
#include "nvptx_bwd_impl.h"

enum { DPARAM_THREADS = 256 };

static LLVMValueRef c32(gbw *g, int v)
{
    return nv_i32(&g->f.nv, v);
}

/* ---- the plan ---- */

bool gb_pgrad_read(bwd_plan *bp, const tir_op *op)
{
    int p = op->param;
    if (p < 0 || p >= NVPTX_MAX_PARAMS || !op->site_expr || !op->partial_expr)
        return false;
    if (bp->nsites >= BWD_MAX_SITES)
        return false;
    bp->sites[bp->nsites++] = (bwd_site){p, op->site_expr, op->partial_expr};
    for (int j = 0; j < bp->ngrad; j++)
        if (bp->grad_param[j] == p)
            return true;
    bp->grad_param[bp->ngrad++] = p;
    return true;
}

static int grad_index(const bwd_plan *bp, int p)
{
    for (int j = 0; j < bp->ngrad; j++)
        if (bp->grad_param[j] == p)
            return j;
    return -1;
}

/* ---- ABI: per param with a gradient, its d<param>, slices and mode (the role table) ---- */

void gb_pgrad_bind(gbw *g, const LLVMValueRef *dparam, const LLVMValueRef *slices, const LLVMValueRef *mode)
{
    for (int j = 0; j < g->bp->ngrad; j++) {
        g->dparam[j] = dparam[j];
        g->pacc[j] = slices[j];
        g->patomic[j] = mode[j]; /* i32; atomic() compares it where it is used */
    }
}

/* ---- shared pieces ---- */

static LLVMValueRef atomic(gbw *g, int j)
{
    return LLVMBuildICmp(g->f.nv.b, LLVMIntNE, g->patomic[j], c32(g, 0), "");
}

static LLVMValueRef extent(gbw *g, const tir_param *rp, int d)
{
    return rp->const_dims[d] > 0 ? c32(g, rp->const_dims[d]) : g->f.size[rp->dims[d]];
}

static LLVMValueRef numel64(gbw *g, int p)
{
    nv_ctx *nv = &g->f.nv;
    const tir_param *rp = &g->f.p->k->params[p];
    LLVMValueRef n = nv_i64(nv, 1);
    for (int d = 0; d < rp->ndim; d++)
        n = LLVMBuildMul(nv->b, n, LLVMBuildZExt(nv->b, extent(g, rp, d), nv->i64, ""), "");
    return n;
}

/* Slices per param: one per warp of each dkv CTA (grid: key tiles, kv
 * heads, batch), in the order of gb_pgrad_begin's slice ids. */
static LLVMValueRef nslices64(gbw *g)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMValueRef n = LLVMBuildMul(nv->b, f->size[SZ_KV_HEADS], f->size[SZ_BATCH], "");
    n = LLVMBuildZExt(nv->b, n, nv->i64, "");
    for (int d = 0; d < f->p->ndims; d++)
        n = LLVMBuildMul(nv->b, n, LLVMBuildZExt(nv->b, f->nkt[d], nv->i64, ""), "");
    return LLVMBuildMul(nv->b, n, nv_i64(nv, f->p->Tk / 16), "");
}

static LLVMValueRef at_f32(gbw *g, LLVMValueRef base, LLVMValueRef idx64)
{
    nv_ctx *nv = &g->f.nv;
    return nv_gep(nv, base, LLVMBuildMul(nv->b, idx64, nv_i64(nv, 4), ""));
}

/* A slot of type t in the entry block (mem2reg makes it a register). */
static LLVMValueRef slot_of(gbw *g, LLVMTypeRef t)
{
    LLVMBuilderRef ab = LLVMCreateBuilderInContext(g->f.nv.c);
    LLVMPositionBuilderAtEnd(ab, g->entry);
    LLVMValueRef a = LLVMBuildAlloca(ab, t, "");
    LLVMDisposeBuilder(ab);
    return a;
}

static void warp_sync(gbw *g)
{
    nv_call(&g->f.nv, "llvm.nvvm.bar.warp.sync", NULL, 0, (LLVMValueRef[]){c32(g, -1)}, 1);
}

/* ---- the dkv kernel ---- */

/* This warp's slices, zeroed (before any pair). */
void gb_pgrad_begin(gbw *g)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    if (!g->bp->ngrad)
        return;
    LLVMValueRef id = LLVMBuildAdd(b, LLVMBuildMul(b, nv_sreg(nv, "ctaid.z"), nv_sreg(nv, "nctaid.y"), ""),
                                   nv_sreg(nv, "ctaid.y"), "");
    id = LLVMBuildZExt(b, id, nv->i64, "");
    id = LLVMBuildAdd(b, LLVMBuildMul(b, id, LLVMBuildZExt(b, nv_sreg(nv, "nctaid.x"), nv->i64, ""), ""),
                      LLVMBuildZExt(b, nv_sreg(nv, "ctaid.x"), nv->i64, ""), "");
    id = LLVMBuildAdd(b, LLVMBuildMul(b, id, nv_i64(nv, f->p->Tk / 16), ""), LLVMBuildZExt(b, f->warp, nv->i64, ""),
                      "");
    for (int j = 0; j < g->bp->ngrad; j++) {
        LLVMValueRef n = numel64(g, g->bp->grad_param[j]);
        LLVMValueRef mine = at_f32(g, g->pacc[j], LLVMBuildMul(b, id, n, ""));
        g->pslice[j] = LLVMBuildSelect(b, atomic(g, j), g->pacc[j], mine, "");
        LLVMValueRef n32 = LLVMBuildTrunc(b, n, nv->i32, "");
        LLVMValueRef rounds = LLVMBuildUDiv(b, LLVMBuildAdd(b, n32, c32(g, 31), ""), c32(g, 32), "");
        rounds = LLVMBuildSelect(b, atomic(g, j), c32(g, 0), rounds, ""); /* the accumulator: attnc_bwd_pre's */
        gb_loop l = gb_loop_begin(g, c32(g, 0), rounds);
        LLVMValueRef e = LLVMBuildAdd(b, LLVMBuildMul(b, l.iv, c32(g, 32), ""), f->lane, "");
        LLVMBasicBlockRef in = nv_if(nv, LLVMBuildICmp(b, LLVMIntULT, e, n32, ""), "pg.zero");
        LLVMBuildStore(b, nv_f32(nv, 0), at_f32(g, g->pslice[j], LLVMBuildZExt(b, e, nv->i64, "")));
        nv_endif(nv, in);
        gb_loop_end(g, &l);
    }
    warp_sync(g); /* orders the zeros before any lane's first add */
}

/* Row-major index of the element a site reads (clamped into the shape, as
 * the forward's load): i32 (the runtime keeps params under 2^31 elements). */
static LLVMValueRef site_index(gbw *g, const expr *site)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    const tir_param *rp = &f->p->k->params[site->u.param];
    LLVMValueRef lin = c32(g, 0);
    for (int d = 0; d < rp->ndim; d++) {
        LLVMValueRef x = d < site->nargs ? fa2_emit(f, site->args[d]) : c32(g, 0);
        LLVMValueRef ext = extent(g, rp, d);
        x = LLVMBuildIntCast2(nv->b, x, nv->i32, true, "");
        x = nv_smax(nv, nv_smin(nv, x, LLVMBuildSub(nv->b, ext, c32(g, 1), "")), c32(g, 0));
        lin = LLVMBuildAdd(nv->b, LLVMBuildMul(nv->b, lin, ext, ""), x, "");
    }
    return lin;
}

/* One fragment element (the expression environment set on its pair):
 * dS_raw = P (dP - delta), 0 where P is; each site's index and addend. */
void gb_pgrad_elem(gbw *g, int e, LLVMValueRef p, LLVMValueRef dp, LLVMValueRef delta)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    if (!g->bp->ngrad || e >= GB_PG_ELEMS) {
        f->failed |= g->bp->ngrad > 0;
        return;
    }
    LLVMValueRef r = LLVMBuildFMul(b, p, LLVMBuildFSub(b, dp, delta, ""), "");
    LLVMValueRef live = LLVMBuildFCmp(b, LLVMRealONE, p, nv_f32(nv, 0), "");
    for (int s = 0; s < g->bp->nsites; s++) {
        const bwd_site *st = &g->bp->sites[s];
        LLVMValueRef part = fa2_emit(f, st->partial);
        LLVMValueRef v = LLVMBuildSelect(b, live, LLVMBuildFMul(b, r, part, ""), nv_f32(nv, 0), "");
        g->pg_val[s][e] = v;
        g->pg_idx[s][e] = site_index(g, st->site);
    }
    if (e + 1 > g->pg_n)
        g->pg_n = e + 1;
}

/* Adds one element's addends into the warp's slice: every lane sums the
 * lanes with its index in lane order; the lowest of them stores. */
static void flush_one(gbw *g, LLVMValueRef slice, LLVMValueRef atomic, LLVMValueRef idx, LLVMValueRef v)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef nz = LLVMBuildFCmp(b, LLVMRealONE, v, nv_f32(nv, 0), "");
    LLVMBasicBlockRef red = nv_if(nv, LLVMBuildAnd(b, atomic, nz, ""), "pg.red");
    LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpFAdd, at_f32(g, slice, LLVMBuildZExt(b, idx, nv->i64, "")), v,
                       LLVMAtomicOrderingMonotonic, false);
    nv_endif(nv, red);
    nz = LLVMBuildAnd(b, nz, LLVMBuildNot(b, atomic, ""), ""); /* atomic is uniform: then no lane goes on */
    LLVMValueRef any = nv_call(nv, "llvm.nvvm.vote.any.sync", NULL, 0, (LLVMValueRef[]){c32(g, -1), nz}, 2);
    LLVMBasicBlockRef some = nv_if(nv, any, "pg.some"); /* warp-uniform */
    LLVMValueRef sum = gb_alloca(g), lower = slot_of(g, nv->i1);
    LLVMBuildStore(b, nv_f32(nv, 0), sum);
    LLVMBuildStore(b, LLVMConstInt(nv->i1, 0, false), lower);
    gb_loop l = gb_loop_begin(g, c32(g, 0), c32(g, 32));
    LLVMValueRef ij = nv_shfl_idx(&g->f.nv, idx, l.iv), vj = nv_shfl_idx(&g->f.nv, v, l.iv);
    LLVMValueRef same = LLVMBuildICmp(b, LLVMIntEQ, ij, idx, "");
    LLVMValueRef acc = LLVMBuildLoad2(b, nv->f32, sum, "");
    LLVMBuildStore(b, LLVMBuildSelect(b, same, LLVMBuildFAdd(b, acc, vj, ""), acc, ""), sum);
    LLVMValueRef below = LLVMBuildAnd(b, same, LLVMBuildICmp(b, LLVMIntULT, l.iv, f->lane, ""), "");
    LLVMBuildStore(b, LLVMBuildOr(b, below, LLVMBuildLoad2(b, nv->i1, lower, ""), ""), lower);
    gb_loop_end(g, &l);
    LLVMValueRef total = LLVMBuildLoad2(b, nv->f32, sum, "");
    LLVMValueRef lead = LLVMBuildNot(b, LLVMBuildLoad2(b, nv->i1, lower, ""), "");
    lead = LLVMBuildAnd(b, lead, LLVMBuildFCmp(b, LLVMRealONE, total, nv_f32(nv, 0), ""), "");
    LLVMBasicBlockRef st = nv_if(nv, lead, "pg.add");
    LLVMValueRef at = at_f32(g, slice, LLVMBuildZExt(b, idx, nv->i64, ""));
    LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildLoad2(b, nv->f32, at, ""), total, ""), at);
    nv_endif(nv, st);
    warp_sync(g); /* the next element's leader may be another lane */
    nv_endif(nv, some);
}

/* The addends of one tile pair, in fragment element order (called with
 * every lane of the warp converged). */
void gb_pgrad_flush(gbw *g)
{
    for (int s = 0; s < g->bp->nsites; s++) {
        int j = grad_index(g->bp, g->bp->sites[s].param);
        for (int e = 0; e < g->pg_n; e++)
            flush_one(g, g->pslice[j], atomic(g, j), g->pg_idx[s][e], g->pg_val[s][e]);
    }
    g->pg_n = 0;
}

/* ---- attnc_bwd_dparam: grid (elements / 256, params with gradients) ---- */

static void store_as(gbw *g, dtype dt, LLVMValueRef base, LLVMValueRef e64, LLVMValueRef v)
{
    nv_ctx *nv = &g->f.nv;
    LLVMBuilderRef b = nv->b;
    if (dt == DT_F32) {
        LLVMBuildStore(b, v, at_f32(g, base, e64));
        return;
    }
    LLVMValueRef h = LLVMBuildFPTrunc(b, v, dt == DT_F16 ? nv->f16 : nv->bf16, "");
    LLVMBuildStore(b, h, nv_gep(nv, base, LLVMBuildMul(b, e64, nv_i64(nv, 2), "")));
}

void gb_emit_dparam(gbw *g)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMTypeRef f64 = LLVMDoubleTypeInContext(nv->c);
    gb_ids(g, false);
    gb_extents(g);
    LLVMValueRef which = nv_sreg(nv, "ctaid.y");
    LLVMValueRef e = LLVMBuildAdd(b, LLVMBuildMul(b, nv_sreg(nv, "ctaid.x"), c32(g, DPARAM_THREADS), ""), f->tid, "");
    LLVMValueRef e64 = LLVMBuildZExt(b, e, nv->i64, "");
    LLVMValueRef slices = nslices64(g);
    LLVMValueRef acc = slot_of(g, f64);
    for (int j = 0; j < g->bp->ngrad; j++) {
        int p = g->bp->grad_param[j];
        LLVMValueRef n = numel64(g, p);
        LLVMValueRef mine = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntEQ, which, c32(g, j), ""),
                                         LLVMBuildICmp(b, LLVMIntULT, e64, n, ""), "");
        LLVMBasicBlockRef in = nv_if(nv, mine, "dparam");
        LLVMBuildStore(b, LLVMConstReal(f64, 0.0), acc);
        LLVMValueRef ns = LLVMBuildSelect(b, atomic(g, j), c32(g, 1), LLVMBuildTrunc(b, slices, nv->i32, ""), "");
        gb_loop l = gb_loop_begin(g, c32(g, 0), ns);
        LLVMValueRef idx = LLVMBuildAdd(b, LLVMBuildMul(b, LLVMBuildZExt(b, l.iv, nv->i64, ""), n, ""), e64, "");
        LLVMValueRef v = LLVMBuildFPExt(b, LLVMBuildLoad2(b, nv->f32, at_f32(g, g->pacc[j], idx), ""), f64, "");
        LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildLoad2(b, f64, acc, ""), v, ""), acc);
        gb_loop_end(g, &l);
        LLVMValueRef r = LLVMBuildFPTrunc(b, LLVMBuildLoad2(b, f64, acc, ""), nv->f32, "");
        store_as(g, f->p->k->params[p].dtype, g->dparam[j], e64, r);
        nv_endif(nv, in);
    }
    LLVMBuildRetVoid(b);
}

/* attnc_bwd_pre: the atomic accumulators zeroed by every thread of its
 * grid (x, y, z all at least 1: the runtime's promise in atomic mode). */
void gb_pgrad_zero(gbw *g)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef cta = LLVMBuildMul(b, nv_sreg(nv, "ctaid.z"), nv_sreg(nv, "nctaid.y"), "");
    cta = LLVMBuildMul(b, LLVMBuildAdd(b, cta, nv_sreg(nv, "ctaid.y"), ""), nv_sreg(nv, "nctaid.x"), "");
    cta = LLVMBuildAdd(b, cta, nv_sreg(nv, "ctaid.x"), "");
    LLVMValueRef ntid = nv_sreg(nv, "ntid.x");
    LLVMValueRef me = LLVMBuildAdd(b, LLVMBuildMul(b, cta, ntid, ""), f->tid, "");
    LLVMValueRef all = LLVMBuildMul(b, LLVMBuildMul(b, nv_sreg(nv, "nctaid.x"), nv_sreg(nv, "nctaid.y"), ""),
                                    LLVMBuildMul(b, nv_sreg(nv, "nctaid.z"), ntid, ""), "");
    for (int j = 0; j < g->bp->ngrad; j++) {
        LLVMValueRef n = LLVMBuildTrunc(b, numel64(g, g->bp->grad_param[j]), nv->i32, "");
        LLVMBasicBlockRef on = nv_if(nv, atomic(g, j), "pg.zero.acc");
        LLVMValueRef rounds = LLVMBuildAdd(b, LLVMBuildUDiv(b, n, all, ""), c32(g, 1), ""); /* no n + all overflow */
        gb_loop l = gb_loop_begin(g, c32(g, 0), rounds);
        LLVMValueRef e = LLVMBuildAdd(b, LLVMBuildMul(b, l.iv, all, ""), me, "");
        LLVMBasicBlockRef in = nv_if(nv, LLVMBuildICmp(b, LLVMIntULT, e, n, ""), "pg.zero.e");
        LLVMBuildStore(b, nv_f32(nv, 0), at_f32(g, g->pacc[j], LLVMBuildZExt(b, e, nv->i64, "")));
        nv_endif(nv, in);
        gb_loop_end(g, &l);
        nv_endif(nv, on);
    }
}

int gb_dparam_threads(void)
{
    return DPARAM_THREADS;
}
