/* nvptx_bwd.c — the backward module (nvptx_bwd.h): its schedule, the plan
 * read off the lowered backward program (score, mask, its derivative, the
 * tile classes, the forward's key ranges and the transposed query ranges,
 * the document span that cuts both unless ATTNC_BWD_DOC_SPAN=0),
 * the shared-memory layout, and the kernels in launch order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvptx_bwd_impl.h"
#include "nvptx_target.h"
#include "../ir/target_info.h"

static bool tile_fits(const schedule *s)
{
    int q = schedule_q_tokens(s), k = schedule_kv_tokens(s);
    for (int d = 0; d < s->ndims; d++)
        if (s->q_tile[d] < 1 || s->kv_tile[d] < 1 || (s->q_tile[d] & (s->q_tile[d] - 1)) ||
            (s->kv_tile[d] & (s->kv_tile[d] - 1)))
            return false;
    return q >= 16 && q <= 64 && k >= 16 && k <= 128 && q % 16 == 0 && k % 16 == 0;
}

schedule nvptx_bwd_schedule(const tir_kernel *k, const schedule *base, target_arch arch)
{
    schedule s = nvptx_default_schedule(k, arch);
    int nd = s.ndims;
    if (base && !base->is_auto && base->ndims == nd && tile_fits(base)) {
        memcpy(s.q_tile, base->q_tile, sizeof s.q_tile);
        memcpy(s.kv_tile, base->kv_tile, sizeof s.kv_tile);
    } else {
        /* head dims over 128: half the tiles (double-buffered tiles in sm_80's shared memory) */
        bool wide = k && (k->head_dim > 128 || k->head_dim_v > 128);
        static const int tiles[2][3][3] = {{{64}, {8, 8}, {4, 4, 4}}, {{32}, {4, 8}, {2, 4, 4}}};
        for (int d = 0; d < nd; d++)
            s.q_tile[d] = s.kv_tile[d] = tiles[wide][nd - 1][d];
    }
    s.warps = schedule_q_tokens(&s) / 16; /* the dQ kernel's; the dK/dV kernel has one warp per 16 keys */
    s.stages = 1;
    s.mma = MMA_SYNC;
    s.is_auto = false;
    return s;
}

static bool wg_dim(int d)
{
    return d == 64 || d == 128;
}

bool nvptx_bwd_wgmma_fits(const tir_kernel *sig, const schedule *s, target_arch arch)
{
    if (arch != TARGET_SM90A || !sig || (sig->qkv_dtype != DT_BF16 && sig->qkv_dtype != DT_F16))
        return false;
    int dv = sig->head_dim_v ? sig->head_dim_v : sig->head_dim, k = schedule_kv_tokens(s);
    /* m64 products: the dQ kernel's 64 query rows are one warpgroup; the
     * dK/dV kernel's keys one warpgroup per 64. Wider heads would spill
     * (dK and dV both stay in registers). */
    return wg_dim(sig->head_dim) && wg_dim(dv) && schedule_q_tokens(s) == 64 && (k == 64 || k == 128);
}

/* Key tiles of 64 tokens (one warpgroup in the dK/dV kernel) by default:
 * the tiles are the dQ kernel's too, and there 128 keys keep S, P, dP and
 * dQ (64 registers each at D = 128) live at once: ptxas spilled 180..280
 * bytes in most 1-D recipes, against none at 64 (test_ptx_backward).
 * Explicit 128-key tiles (q=64 kv=128: two warpgroups share each Q tile)
 * are kept. Grids keep the mma.sync boxes (64 tokens). */
enum { WG_KV_1D = 64 };

schedule nvptx_bwd_schedule_mma(const tir_kernel *k, const schedule *base, target_arch arch, mma_kind want)
{
    schedule s = nvptx_bwd_schedule(k, base, arch);
    if (want == MMA_SYNC)
        return s;
    bool kept = base && !base->is_auto && base->ndims == s.ndims && tile_fits(base);
    schedule w = s;
    if (!kept && w.ndims == 1)
        w.kv_tile[0] = WG_KV_1D;
    if (!nvptx_bwd_wgmma_fits(k, &w, arch))
        return s;
    w.warps = 4;
    w.mma = MMA_WGMMA;
    return w;
}

/* $ATTNC_BWD_DKV_BOX into w (s's tiles). "wide" (also unset), under the
 * 64-token default boxes of a 2-D/3-D grid (8x8, 4x4x4): 128-key boxes, so
 * that two warpgroups share each query box as the 1-D kernel's 128 keys
 * do, shaped for the fewest visited pairs of neighborhoods
 * (tools_count_bwd_tiles, kept/visited pairs): 2-D q=8x8 kv=8x16 (17x17 on
 * 128x128: 0.376, 64-key boxes 0.502), 3-D q=4x2x8 kv=4x4x8 (7x13x13 on
 * 16x32x32: 0.370, against 0.365 at 4x4x4 and 0.329 at q=4x4x4
 * kv=4x4x8). H200 (2026-12-03, B=1 H=16 D=128, 2.5x the forward's flops):
 * 17x17 on 128x128 1.074 ms, 90.3 TFLOP/s (8x8 boxes 1.243, 78.0; kv=16x8
 * 89.6); 7x13x13 on 16x32x32 3.901 ms, 101.8 (4x4x4 6.790, 58.5; q=4x4x4
 * kv=4x4x8 81.7; q=1x8x8 kv=2x8x8 99.5). "off": the schedule's boxes.
 * "kv=8x16" or "q=8x8 kv=8x16": those boxes where they have s's dims.
 * False: the text does not apply to s. */
static bool box_of(const char *box, const schedule *s, schedule *w)
{
    if (!strcmp(box, "off"))
        return false;
    if (!strcmp(box, "wide")) {
        static const int q[2][3] = {{8, 8}, {4, 2, 8}}, kv[2][3] = {{8, 16}, {4, 4, 8}};
        static const int dflt[2][3] = {{8, 8}, {4, 4, 4}};
        int i = s->ndims - 2;
        if (i < 0 || i > 1 || memcmp(s->q_tile, dflt[i], sizeof dflt[i]) || memcmp(s->kv_tile, dflt[i], sizeof dflt[i]))
            return false;
        memcpy(w->q_tile, q[i], sizeof q[i]);
        memcpy(w->kv_tile, kv[i], sizeof kv[i]);
        return true;
    }
    schedule t;
    strbuf err;
    sb_init(&err);
    bool ok = schedule_parse(box, s->ndims, &t, &err) && !t.is_auto && t.ndims == s->ndims;
    sb_free(&err);
    if (ok && strstr(box, "q="))
        memcpy(w->q_tile, t.q_tile, sizeof w->q_tile);
    if (ok && strstr(box, "kv="))
        memcpy(w->kv_tile, t.kv_tile, sizeof w->kv_tile);
    return ok;
}

bool nvptx_bwd_dkv_schedule(const tir_kernel *k, schedule *s, target_arch arch, const char *keys, const char *box,
                            schedule *out)
{
    if (s->mma != MMA_WGMMA)
        return false;
    schedule w = *s;
    if (!box_of(box && box[0] ? box : "wide", s, &w)) {
        if (s->ndims != 1 || s->kv_tile[0] != 64 || (keys && strcmp(keys, "128")))
            return false;
        w.kv_tile[0] = 128;
    }
    if (!memcmp(w.q_tile, s->q_tile, sizeof w.q_tile) && !memcmp(w.kv_tile, s->kv_tile, sizeof w.kv_tile))
        return false;
    schedule dq = *s; /* the dQ kernel, the pre and dQ conversion grids: the same query box */
    memcpy(dq.q_tile, w.q_tile, sizeof dq.q_tile);
    if (!tile_fits(&w) || !nvptx_bwd_wgmma_fits(k, &w, arch) || !tile_fits(&dq) || !nvptx_bwd_wgmma_fits(k, &dq, arch))
        return false;
    *out = w;
    *s = dq;
    return true;
}

/* ---- the plan ---- */

typedef struct reader {
    bwd_plan *bp;
    bool dkv; /* reading the dkv kernel (else dq) */
    bool too_many_sites;
} reader;

static void read_q_range(const tir_op *op, bwd_plan *bp)
{
    bp->qmode = nvptx_read_range(op, bp->fp.ndims, bp->qlo, bp->qhi);
    bp->group = op->group;
    bp->q_ndims = op->range_ndims;
}

/* The document span of the dQ kernel's kv_range (both kernels read the
 * same params), unless $ATTNC_BWD_DOC_SPAN=0: see read_plan. */
static void read_doc_span(const tir_op *op, bwd_plan *bp)
{
    int mode = nvptx_bwd_doc_span_mode();
    bp->doc_param = mode >= 1 ? nvptx_span_param(op, &bp->fp) : -1;
    bp->doc_full = bp->doc_param >= 0 && nvptx_doc_full_mode() != 0 ? op->span_full_expr : NULL;
    bp->fp.span_full = mode == 2 ? bp->doc_full : NULL; /* the dK/dV kernel's runs (its span_param stays -1) */
}

static void visit(tir_op *op, void *user)
{
    reader *rd = user;
    bwd_plan *bp = rd->bp;
    switch (op->kind) {
    case TIR_Q_RANGE:
        read_q_range(op, bp);
        if (bp->qmode == RANGE_BOUNDS || bp->qmode == RANGE_INVERSE)
            gb_parts_read(op, bp);
        break;
    case TIR_KV_RANGE:
        if (!rd->dkv) {
            bp->fp.range = nvptx_read_range(op, bp->fp.ndims, bp->fp.lo, bp->fp.hi);
            read_doc_span(op, bp);
            if (bp->fp.range == RANGE_BOUNDS)
                gb_parts_read(op, bp);
        }
        break;
    case TIR_TILE_CLASS:
        bp->fp.full = op->full_expr;
        bp->fp.empty = NULL;
        if (op->empty_expr && !(op->empty_expr->kind == EX_CONST_BOOL && !op->empty_expr->u.ival))
            bp->fp.empty = op->empty_expr;
        break;
    case TIR_SCORE:
        bp->fp.score = op->score_expr;
        bp->fp.mask = op->mask_expr;
        bp->fp.base2 = op->base2;
        bp->fp.score_k = nvptx_score_k(op->score_expr);
        break;
    case TIR_SCORE_GRAD:
        bp->dscore = op->score_expr;
        break;
    case TIR_PARAM_GRAD: /* the dq kernel's (the CPU's slots); the GPU adds them in dkv */
        if (!rd->dkv)
            rd->too_many_sites |= !gb_pgrad_read(bp, op);
        break;
    default:
        break;
    }
}

static const tir_kernel *find(const tir_program *prog, const char *suffix)
{
    for (int i = 0; i < prog->nkernels; i++) {
        const char *n = prog->kernels[i]->name, *dot = n ? strrchr(n, '.') : NULL;
        if (dot && !strcmp(dot + 1, suffix))
            return prog->kernels[i];
    }
    return NULL;
}

static void plan_tiles(const tir_kernel *k, fa_plan *p)
{
    const schedule *s = &k->sched;
    p->k = k;
    p->dt = k->qkv_dtype;
    p->D = k->head_dim;
    p->Dv = k->head_dim_v ? k->head_dim_v : k->head_dim;
    p->grid_ndim = k->grid_ndim;
    p->ndims = s->ndims;
    for (int d = 0; d < 3; d++) {
        p->q_ext[d] = d < s->ndims ? s->q_tile[d] : 1;
        p->kv_ext[d] = d < s->ndims ? s->kv_tile[d] : 1;
    }
    p->Tq = schedule_q_tokens(s);
    p->Tk = schedule_kv_tokens(s);
    p->warps = p->Tq / 16;
    p->stages = 1;
    p->MR = 1;
    p->range = RANGE_ALL;
}

static nvptx_status check(const bwd_plan *bp, bool too_many_sites, strbuf *err)
{
    const fa_plan *p = &bp->fp;
    if (too_many_sites || (bp->ngrad && !p->k)) {
        sb_printf(err, "GPU backward: the score reads float params with gradients at more than %d places; build the "
                       "backward with backend ATTNC_BACKEND_CPU", BWD_MAX_SITES);
        return NVPTX_UNSUPPORTED;
    }
    /* The GPU's delta is rowsum(dO ∘ O) with O rounded to the qkv dtype; a
     * partial that grows along the row (ALiBi's distance) sums that rounding
     * over the row (H200: ALiBi slopes off by 4-13% at 190 tokens, D=128).
     * The CPU backend's exact delta (lower_softmax_bwd.c) serves them. */
    for (int i = 0; i < bp->nsites; i++)
        if (expr_uses_coord(bp->sites[i].partial, SIDE_Q) || expr_uses_coord(bp->sites[i].partial, SIDE_K)) {
            sb_printf(err, "GPU backward: the gradient of param '%s' has a partial derivative that depends on the "
                           "query/key position (as ALiBi slopes do); it needs the exact delta the CPU backward "
                           "computes: build the backward with backend ATTNC_BACKEND_CPU",
                      p->k->params[bp->sites[i].param].name);
            return NVPTX_UNSUPPORTED;
        }
    if (p->dt != DT_BF16 && p->dt != DT_F16) {
        sb_printf(err, "GPU backward: q/k/v must be bf16 or f16 (got %s)", dtype_name(p->dt));
        return NVPTX_UNSUPPORTED;
    }
    if (p->D % 16 || p->Dv % 16 || p->D > 256 || p->Dv > 256) {
        sb_printf(err, "GPU backward: head_dim %d / %d must be a multiple of 16 up to 256", p->D, p->Dv);
        return NVPTX_UNSUPPORTED;
    }
    if (p->Tq % 16 || p->Tk % 16 || p->Tq > 128 || p->Tk > 128 || p->Tq < 16 || p->Tk < 16) {
        sb_printf(err, "GPU backward: tiles of %d query and %d key tokens (multiples of 16 up to 128)", p->Tq, p->Tk);
        return NVPTX_UNSUPPORTED;
    }
    if (!p->score || !bp->dscore) {
        sb_puts(err, "internal error: GPU backward: the program lacks its score or score gradient");
        return NVPTX_INTERNAL;
    }
    if (bp->wg && !(p->Tq == 64 && (p->Tk == 64 || p->Tk == 128) && (p->D == 64 || p->D == 128) &&
                    (p->Dv == 64 || p->Dv == 128))) {
        sb_printf(err, "GPU backward: mma=wgmma takes 64 query and 64 or 128 key tokens, head dims 64 or 128 "
                       "(got %d, %d, %d/%d): use mma=sync",
                  p->Tq, p->Tk, p->D, p->Dv);
        return NVPTX_UNSUPPORTED;
    }
    if (p->k && p->k->nparams > NVPTX_MAX_PARAMS) {
        sb_printf(err, "GPU backward: at most %d params", NVPTX_MAX_PARAMS);
        return NVPTX_UNSUPPORTED;
    }
    return NVPTX_OK;
}

static nvptx_status read_plan(const tir_program *prog, bwd_plan *bp, strbuf *err)
{
    memset(bp, 0, sizeof *bp);
    /* The backward visits each kv_range's union parts (nvptx_bwd_parts.c),
     * or its hull under $ATTNC_BWD_PARTS=0.
     * The document-span cut (issue 14: tiles the forward's mask analysis
     * skips are skipped in the backward) is bp->doc_param, not fp's
     * span_param: the dK/dV kernel evaluates the forward's range per query
     * tile inside divergent code (in_forward_range), where the forward's
     * CTA-wide scan cannot run, so fp.span_param stays -1 and only the dQ
     * kernel's copy of the plan takes it (emit_one); the dK/dV kernel cuts
     * its query ranges by the transposed scan (nvptx_bwd_span.c). Both
     * products (wgmma, mma.sync), deterministic or not (the cut only drops
     * tile pairs with no kept pair; the order of the rest is unchanged).
     * $ATTNC_BWD_DOC_SPAN=1 cuts; 2 (the default) also gives the dK/dV
     * kernel its full tiles inside one document (48 B of spills in the
     * ring's kernel, yet faster: H200, 8 documents at 64k, backward 93.5 ms
     * uncut, 13.6 at 1, 11.7 at 2; test_gpu_documents' 174 backward cases
     * pass at 1 and at 2); 0 turns it off. */
    bp->fp.span_param = -1;
    bp->doc_param = -1;
    const tir_kernel *dkv = find(prog, "bwd_dkv"), *dq = find(prog, "bwd_dq");
    if (!dkv || !dq || dkv->family != FAMILY_SOFTMAX) {
        sb_puts(err, "GPU backward: only the softmax family has a GPU backward yet");
        return NVPTX_UNSUPPORTED;
    }
    plan_tiles(dkv, &bp->fp);
    bp->fp.uniform_warp = nvptx_uniform_warp_mode() == 1; /* fa2_thread_ids */
    bp->wg = dkv->sched.mma == MMA_WGMMA;
    reader rd = {bp, false, false};
    tir_walk(dq->body, visit, &rd);
    rd.dkv = true;
    tir_walk(dkv->body, visit, &rd);
    if (bp->qmode == RANGE_INVERSE && bp->fp.range != RANGE_BOUNDS)
        bp->qmode = RANGE_ALL;
    if (bp->qmode == RANGE_BLOCK_TABLE)
        bp->qmode = RANGE_ALL;
    /* a score s * c reads no param, and its derivative is the constant c */
    if (bp->fp.score_k > 0 && bp->dscore && bp->dscore->kind == EX_CONST_FLOAT &&
        (float)bp->dscore->u.fval == bp->fp.score_k)
        bp->ds_factor = bp->fp.score_k;
    return check(bp, rd.too_many_sites, err);
}

/* ---- layout and emission ---- */

/* [K V](x2 for the dq kernel) [Q dO lse delta](x2 for the dkv kernel) [dS] [scan]:
 * the tiles the loop streams are double-buffered (bank 0: K/V, bank 1: Q). */
static void layout(gbw *g, nvptx_bwd_kind kind)
{
    const fa_plan *p = g->f.p;
    if (g->bp->wg) {
        gw_layout(g, kind);
        return;
    }
    g->pitch_q = g->pitch_k = p->D * 2 + 16;
    g->pitch_v = g->pitch_do = p->Dv * 2 + 16;
    g->pitch_ds = p->Tk * 2 + 16;
    g->off_k = 0;
    g->off_v = g->off_k + p->Tk * g->pitch_k;
    int kv = g->off_v + p->Tk * g->pitch_v;
    g->bank_lo[0] = 0, g->bank_hi[0] = g->bank_size[0] = kv;
    g->off_q = kv * (kind == BWK_DQ ? 2 : 1);
    g->off_do = g->off_q + p->Tq * g->pitch_q;
    g->off_lse = g->off_do + p->Tq * g->pitch_do;
    g->off_delta = g->off_lse + 4 * p->Tq;
    int qs = g->off_delta + 4 * p->Tq - g->off_q;
    g->bank_lo[1] = g->off_q, g->bank_hi[1] = g->off_q + qs, g->bank_size[1] = qs;
    g->off_ds = g->off_q + qs * (kind == BWK_DKV ? 2 : 1);
    g->off_scan = g->off_ds + (kind == BWK_DKV && g->bp->atomics ? p->Tq * g->pitch_ds : 0);
    g->off_span = g->off_scan + 24; /* past the inverse range's words (3 dims) */
    /* the inverse q range's min/max per dim, the document span's cut and run */
    g->smem = g->off_span + (g->bp->doc_param >= 0 ? 16 : 8);
}

static const char *const kernel_names[] = {"attnc_bwd_pre", "attnc_bwd_dkv", "attnc_bwd_dq", "attnc_bwd_dq_cvt",
                                           "attnc_bwd_dparam"};

static int threads_of(const bwd_plan *bp, nvptx_bwd_kind kind)
{
    switch (kind) {
    case BWK_PRE: return 32 * gb_pre_rows();
    case BWK_DKV: return 32 * (bp->fp.Tk / 16);
    case BWK_DQ: return 32 * (bp->fp.Tq / 16);
    case BWK_DPARAM: return gb_dparam_threads();
    default: return gb_cvt_threads();
    }
}

/* Where the dK/dV kernel's producer ring (nvptx_bwd_ring.c) serves: its
 * TMA maps are sequences' [batch, heads, tokens, dim] boxes of Tq rows, its
 * q range needs no CTA-wide scan, its computing warps no CTA barrier (no
 * param gradient slices, dQ by bulk reduction); two computing warpgroups
 * (128 keys: 384 threads, so ptxas gives 168 registers at launch, which
 * setmaxnreg moves to 24 / 240). */
static bool ring_fits(const bwd_plan *bp)
{
    const fa_plan *p = &bp->fp;
    return bp->wg && bp->bulk && !bp->ngrad && p->grid_ndim == 0 && p->ndims == 1 && bp->qmode != RANGE_INVERSE &&
           p->Tq == 64 && p->Tk == 128 && (p->D == 64 || p->D == 128) && p->Dv == p->D;
}

/* false: *why says what failed (a misuse of the tile builder, or an
 * expression the kernel cannot provide). */
static bool emit_one(LLVMModuleRef m, const bwd_plan *bp, nvptx_bwd_kind kind, nvptx_bwd_kernel *out,
                     const char **why)
{
    gbw *g = calloc(1, sizeof *g);
    if (!g)
        return false;
    LLVMContextRef c = LLVMGetModuleContext(m);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
    nv_ctx_init(&g->f.nv, c, m, b);
    g->f.p = &bp->fp;
    g->bp = bp;
    if (kind == BWK_DQ && bp->doc_param >= 0) { /* the forward's key-range cut (fa2_range) */
        g->dq_plan = bp->fp;
        g->dq_plan.span_param = bp->doc_param;
        g->dq_plan.span_full = bp->doc_full;
        g->f.p = &g->dq_plan;
    }
    g->f.span_fence = bp->wg; /* the scan words are later read or refilled through the async proxy */
    layout(g, kind);
    g->f.threads = g->f.load_threads = threads_of(bp, kind);
    gb_declare(g, kernel_names[kind]);
    switch (kind) {
    case BWK_PRE: gb_emit_pre(g); break;
    case BWK_DKV: gb_emit_dkv(g); break;
    case BWK_DQ: gb_emit_dq(g); break;
    case BWK_DQ_CVT: gb_emit_cvt(g); break;
    case BWK_DPARAM: gb_emit_dparam(g); break;
    default: g->f.failed = true; break; /* the linear program's (nvptx_linear_bwd.c) */
    }
    int threads = g->f.threads + (kind == BWK_DKV && bp->producer ? GR_PRODUCER_THREADS : 0);
    gb_finish(g, threads);
    snprintf(out->name, sizeof out->name, "%s", kernel_names[kind]);
    out->kind = kind;
    out->threads = threads;
    out->smem_bytes = kind == BWK_DKV || kind == BWK_DQ ? g->smem : 0;
    bool ok = !g->f.failed && !g->f.t.error;
    *why = g->f.t.error ? g->f.t.error : "a mask/score expression uses a value the kernel cannot provide";
    LLVMDisposeBuilder(b);
    free(g);
    return ok;
}

static void describe(const bwd_plan *bp, target_arch arch, nvptx_bwd_info *info)
{
    const fa_plan *p = &bp->fp;
    memset(info, 0, sizeof *info);
    info->arch = arch;
    info->ndims = p->ndims;
    info->grid_ndim = p->grid_ndim;
    for (int d = 0; d < 3; d++) {
        info->q_tile[d] = p->q_ext[d];
        info->kv_tile[d] = p->kv_ext[d];
    }
    info->atomics = bp->atomics;
    info->dq_bulk = bp->bulk;
    info->wgmma = bp->wg;
    info->dt = p->dt;
    info->head_dim = p->D;
    info->head_dim_v = p->Dv;
    info->nparams = p->k ? p->k->nparams : 0;
    for (int i = 0; i < info->nparams && i < NVPTX_MAX_PARAMS; i++) {
        const tir_param *rp = &p->k->params[i];
        info->param_scalar[i] = rp->ndim == 0;
        info->param_float[i] = rp->dtype == DT_F32 || rp->dtype == DT_BF16 || rp->dtype == DT_F16;
    }
    info->ngrad = bp->ngrad;
    memcpy(info->grad_param, bp->grad_param, sizeof info->grad_param);
    info->dkv_warps = p->Tk / 16;
    info->producer = bp->producer;
    info->dq_defer = bp->dq_defer;
}

nvptx_status nvptx_bwd_emit(const tir_program *prog, const tir_program *dq_prog, target_arch arch,
                            nvptx_bwd_dq dq, int overlap, nvptx_bwd_info *info, strbuf *ptx, strbuf *err)
{
    bool atomics = dq != NVPTX_BWD_DQ_KERNEL;
    if (!nvptx_arch_name(arch)) {
        sb_puts(err, "GPU code generation needs an sm_80 or sm_90a target");
        return NVPTX_UNSUPPORTED;
    }
    bwd_plan *bp = calloc(2, sizeof *bp), *bq = bp + 1;
    if (!bp) {
        sb_puts(err, "out of memory");
        return NVPTX_INTERNAL;
    }
    nvptx_status st = read_plan(prog, bp, err);
    if (!st && dq_prog) {
        st = read_plan(dq_prog, bq, err);
        if (!st && bq->wg != bp->wg) {
            sb_puts(err, "internal error: GPU backward: the dQ program's products differ from the dK/dV program's");
            st = NVPTX_INTERNAL;
        }
    }
    if (!dq_prog)
        bq = bp;
    bp->atomics = bq->atomics = atomics;
    bp->bulk = bq->bulk = dq == NVPTX_BWD_DQ_BULK;
    bool producer = overlap & NVPTX_BWD_PRODUCER, split = overlap & NVPTX_BWD_PRODUCER_DS_SPLIT;
    bool unset = overlap & NVPTX_BWD_LEVEL_UNSET;
    overlap &= ~(NVPTX_BWD_PRODUCER | NVPTX_BWD_PRODUCER_DS_SPLIT | NVPTX_BWD_LEVEL_UNSET);
    bp->overlap = bq->overlap = bp->wg ? overlap : 0;
    bp->producer = bq->producer = !st && producer && ring_fits(bp) && (!dq_prog || bq->wg);
    bp->ds_split = bq->ds_split = bp->producer && split;
    if (bp->producer && unset) /* the producer's own order (the dQ kernel, if any, keeps the level) */
        bp->overlap = NVPTX_BWD_OVERLAP_PIPE_SDP;
    bp->stages = bp->producer && nvptx_bwd_ring_stages_mode() == 3 ? 3 : 2;
    bp->ds_bufs = bp->producer && !bp->ds_split && nvptx_bwd_ds_bufs_mode() == 2 ? 2 : 1;
    bp->release_all = bp->producer && nvptx_bwd_ring_release_mode() != 0; /* the default (racecheck-clean) */
    bp->tma_first = bp->producer && nvptx_bwd_ring_tma_first_mode() == 1;
    bp->dq_writer = bp->producer && nvptx_bwd_dq_writer_mode() == 1;
    bp->dqf_max = nvptx_bwd_dqf_bufs_mode() == 1 || bp->dq_writer ? 1 : 2;
    bq->stages = bp->stages, bq->ds_bufs = bp->ds_bufs, bq->release_all = bp->release_all, bq->dqf_max = bp->dqf_max;
    bq->tma_first = bp->tma_first, bq->dq_writer = bp->dq_writer;
    /* one dQ block per computing warpgroup (Tk / 64 == D / 64), the pipelined pair's orders */
    bp->dq_defer = bp->producer && bp->bulk && !bp->ds_split && bp->ds_bufs == 1 && !bp->dq_writer &&
                   (bp->overlap == NVPTX_BWD_OVERLAP_PIPE || bp->overlap == NVPTX_BWD_OVERLAP_PIPE_SDP) &&
                   bp->fp.Tk / 64 == bp->fp.D / 64 && nvptx_bwd_dq_defer_mode() == 1;
    if (!st && bp->wg && arch != TARGET_SM90A) {
        sb_puts(err, "GPU backward: mma=wgmma needs an sm_90a target");
        st = NVPTX_UNSUPPORTED;
    }
    if (!st && bp->bulk && !bp->wg) {
        sb_puts(err, "GPU backward: dQ by bulk reduction needs the mma=wgmma dK/dV kernel (sm_90a)");
        st = NVPTX_UNSUPPORTED;
    }
    if (st) {
        free(bp);
        return st;
    }
    describe(bp, arch, info);
    nvptx_bwd_kind kinds[4] = {BWK_PRE, BWK_DKV, atomics ? BWK_DQ_CVT : BWK_DQ, BWK_DPARAM};
    int nk = bp->ngrad ? 4 : 3;
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = nvptx_module_create(c, "attnc_bwd", arch);
    int limit = target_info_of(arch)->smem_block_optin;
    for (int i = 0; i < nk && !st; i++) {
        const char *why = "out of memory";
        if (!emit_one(m, kinds[i] == BWK_DQ ? bq : bp, kinds[i], &info->kernels[i], &why)) {
            sb_printf(err, "internal error: GPU backward: %s", why);
            st = NVPTX_INTERNAL;
        } else if (info->kernels[i].smem_bytes > limit) {
            sb_printf(err, "GPU backward: %d bytes of shared memory (limit %d): use smaller tiles",
                      info->kernels[i].smem_bytes, limit);
            st = NVPTX_UNSUPPORTED;
        }
        info->nkernels = i + 1;
    }
    st = nvptx_module_finish(m, NULL, arch, st, ptx, err);
    free(bp);
    return st;
}

static int64_t tiles_over(const nvptx_bwd_info *info, const int *tile, const int64_t *sizes, int tok_id)
{
    return nvptx_tiles_over(info->ndims, info->grid_ndim, tile, NULL, sizes, tok_id);
}

void nvptx_bwd_kernel_abi(const nvptx_bwd_info *info, kernel_abi *out)
{
    kabi_type types[NVPTX_MAX_PARAMS];
    kabi_param_types(info->nparams, info->param_scalar, info->param_float, types);
    kernel_abi_backward(out, info->nparams, types, info->ngrad, info->producer);
}

nvptx_bwd_grid nvptx_bwd_grid_rule(const nvptx_bwd_info *info, nvptx_bwd_kind kind)
{
    nvptx_bwd_grid g = {BWG_ROWS, SZ_TOKENS, 1, 1, SZ_HEADS, SZ_BATCH};
    switch (kind) {
    case BWK_PRE: /* a warp per row: delta of the tokens, the accumulator's rows zeroed (bulk: more) */
        g.x = info->dq_bulk ? BWG_Q_TILE_ROWS : BWG_ROWS, g.x_div = gb_pre_rows();
        break;
    case BWK_DKV: g.x = BWG_KV_TILES, g.y_size = SZ_KV_HEADS; break;
    case BWK_DQ: g.x = BWG_Q_TILES; break;
    case BWK_LIN_DQ:
    case BWK_LIN_DK:
    case BWK_LIN_DV:
    case BWK_LIN_DKV: g.x = BWG_FIXED, g.x_mul = info->lin_grid_x; break;
    case BWK_LIN_GATE: /* per head (a per-head decay sums over the batch) or per (head, batch) */
        g.x = BWG_FIXED, g.x_mul = 1;
        if (info->lin_per_head)
            g.z_size = -1;
        break;
    case BWK_DPARAM: /* every element, also with no pair at all (then 0) */
        g.x = BWG_PARAM_ELEMS, g.x_div = gb_dparam_threads(), g.y_size = -1, g.z_size = -1;
        break;
    default: /* a thread per pair of columns (bulk: of every accumulator row) */
        g.x = info->dq_bulk ? BWG_Q_TILE_ROWS : BWG_ROWS, g.x_mul = info->head_dim / 2, g.x_div = gb_cvt_threads();
        break;
    }
    return g;
}

int64_t nvptx_bwd_rows(const nvptx_bwd_info *info, nvptx_bwd_row_kind kind, const int64_t *sizes)
{
    if (kind == BWR_TOKENS)
        return sizes[SZ_TOKENS];
    int64_t q = 1;
    for (int d = 0; d < info->ndims; d++)
        q *= info->q_tile[d];
    return tiles_over(info, info->q_tile, sizes, SZ_TOKENS) * q;
}

int64_t nvptx_bwd_grid_x(const nvptx_bwd_info *info, nvptx_bwd_kind kind, const int64_t *sizes)
{
    nvptx_bwd_grid g = nvptx_bwd_grid_rule(info, kind);
    switch (g.x) {
    case BWG_ROWS: return (sizes[g.x_size] * g.x_mul + g.x_div - 1) / g.x_div;
    case BWG_Q_TILE_ROWS: return (nvptx_bwd_rows(info, BWR_Q_TILE_ROWS, sizes) * g.x_mul + g.x_div - 1) / g.x_div;
    case BWG_KV_TILES: return tiles_over(info, info->kv_tile, sizes, SZ_KV_TOKENS);
    case BWG_Q_TILES: return tiles_over(info, info->q_tile, sizes, SZ_TOKENS);
    case BWG_PARAM_ELEMS: break; /* per param numel: nvptx_bwd_dparam_grid_x */
    case BWG_FIXED: return g.x_mul;
    }
    return 0;
}

int64_t nvptx_bwd_ws_row_floats(const nvptx_bwd_info *info, kabi_ws r)
{
    switch (r) {
    case KABI_WS_DELTA: /* linear: the decay gradient's row dots (nvptx_linear_bwd.c), nothing without it */
        return info->linear ? (info->ngrad ? 8 : 0) : 1;
    case KABI_WS_DQACC: /* linear with a decay gradient: the boundary states, D x Dv bf16 a block */
        return info->linear ? (info->ngrad ? info->head_dim * info->head_dim_v / 128 : 0)
                            : info->atomics ? info->head_dim : 0;
    case KABI_NWS: break;
    }
    return 0;
}

nvptx_bwd_row_kind nvptx_bwd_ws_rows(const nvptx_bwd_info *info, kabi_ws r)
{
    return r == KABI_WS_DQACC && info->dq_bulk ? BWR_Q_TILE_ROWS : BWR_TOKENS;
}

int64_t nvptx_bwd_ws_bytes(const nvptx_bwd_info *info, kabi_ws r, const int64_t *sizes)
{
    int64_t n = sizes[SZ_BATCH] * sizes[SZ_HEADS] * nvptx_bwd_rows(info, nvptx_bwd_ws_rows(info, r), sizes) *
                nvptx_bwd_ws_row_floats(info, r) * (int64_t)sizeof(float);
    return (n + 255) & ~(int64_t)255;
}

int64_t nvptx_bwd_dparam_grid_x(int64_t max_numel)
{
    return (max_numel + gb_dparam_threads() - 1) / gb_dparam_threads();
}

int64_t nvptx_bwd_param_slices(const nvptx_bwd_info *info, const int64_t *sizes)
{
    return tiles_over(info, info->kv_tile, sizes, SZ_KV_TOKENS) * sizes[SZ_KV_HEADS] * sizes[SZ_BATCH] *
           info->dkv_warps;
}
