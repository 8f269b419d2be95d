/* compile_job.c — the one compile job (compile_job.h): schedule, lowering
 * and the call into the NVPTX code generator. */
#include "runtime/compile/compile_job.h"

#include <string.h>
#include <time.h>

#include "frontend/forms.h"
#include "frontend/frontend.h"
#include "ir/target_info.h"
#include "passes/pipeline.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void compile_job_init(compile_job *j, const recipe *r, target_arch arch)
{
    memset(j, 0, sizeof *j);
    j->r = r;
    j->arch = arch;
    sb_init(&j->err);
    sb_init(&j->ptx);
    arena_init(&j->own, NULL);
}

void compile_job_free(compile_job *j)
{
    sb_free(&j->err);
    sb_free(&j->ptx);
    arena_free_all(&j->own);
}

static job_status fail(compile_job *j, job_status st, job_step step, const char *prefix, strbuf *why)
{
    j->status = st;
    j->failed = step;
    sb_clear(&j->err);
    sb_printf(&j->err, "%s%s", prefix, why->failed ? "out of memory" : sb_cstr(why));
    return st;
}

static int grid_dims(const recipe *r)
{
    return r->grid_ndim > 0 ? r->grid_ndim : 1;
}

/* Largest power of two dividing v (v >= 1), at most cap. */
static int pow2_divisor(int64_t v, int cap)
{
    int p = 1;
    while (p < cap && v % (2 * p) == 0)
        p *= 2;
    return p;
}

/* One dim of a neighborhood mask whose dilation, stride and causal flag are
 * constants (window = 0 when the window is not). */
typedef struct {
    long window, dilation, stride, causal;
} nbh_dim;

/* Reads the recipe's mask into dims[0..grid_ndim-1] when it is one
 * neighborhood form on a 2-D/3-D grid with constant arguments. */
static bool neighborhood_dims(const recipe *r, nbh_dim dims[SCHED_MAX_DIMS])
{
    const expr *e = r->mask_surface;
    int nd = r->grid_ndim;
    if (nd < 2 || nd > SCHED_MAX_DIMS || !e || e->kind != EX_FORM || e->u.form != FORM_NEIGHBORHOOD ||
        e->nargs < 4 * nd)
        return false;
    for (int d = 0; d < nd; d++) {
        const expr *win = e->args[d], *dil = e->args[nd + d], *stride = e->args[2 * nd + d],
                   *causal = e->args[3 * nd + d];
        if (dil->kind != EX_CONST_INT || stride->kind != EX_CONST_INT || causal->kind != EX_CONST_INT)
            return false;
        dims[d] = (nbh_dim){win->kind == EX_CONST_INT ? win->u.ival : 0, dil->u.ival, stride->u.ival,
                            causal->u.ival};
    }
    return true;
}

/* overlap=1 (the producer kernel's overlapped key loop) where mma=auto
 * takes the producer (bf16/f16) and the loop fits the tiles
 * (schedule_overlap_fits). */
static void overlap_where_fits(const recipe *r, target_arch arch, schedule *s)
{
    if (s->mma == MMA_AUTO && r->qkv_dtype != DT_F32 && schedule_overlap_fits(s, arch, r->head_dim, r->head_dim_v))
        s->overlap = 1;
}

/* A strided neighborhood (GNA) on a 2-D/3-D grid: 128-token query and key
 * boxes whose extents divide the strides, so that every query box lies in
 * one stride group and shares one window: its key tiles are full or empty
 * (H200, 2026-12-03: HunyuanVideo GNA 16x8x8 boxes 2x8x8 513 TFLOP/s
 * against 375 with the 3-D default; FLUX GNA 16x16 8x16 boxes 542 against
 * 470). Extents fill the innermost dims first (contiguous tokens); false
 * when the mask is not one such form or the strides cannot make 128. */
static bool gna_boxes(const recipe *r, target_arch arch, schedule *s)
{
    nbh_dim dims[SCHED_MAX_DIMS];
    if (!neighborhood_dims(r, dims))
        return false;
    int nd = r->grid_ndim, box[SCHED_MAX_DIMS], left = 128;
    bool strided = false;
    for (int d = nd - 1; d >= 0; d--) {
        if (dims[d].dilation != 1 || dims[d].causal != 0 || dims[d].stride < 1)
            return false;
        strided |= dims[d].stride > 1;
        box[d] = pow2_divisor(dims[d].stride, left);
        left /= box[d];
    }
    if (!strided || left != 1)
        return false;
    for (int d = 0; d < nd; d++)
        s->q_tile[d] = s->kv_tile[d] = box[d];
    s->warps = 8;
    /* the query tiles of a stride group (along the first dim) numbered
     * together, so the resident blocks share their windows (qgroup=;
     * H200, 2026-12-04 run26: HunyuanVideo GNA 551 -> 558-562 TFLOP/s, its
     * resident blocks' key windows 36 -> 22 MB; FLUX GNA level) */
    if (dims[0].stride / box[0] > 1)
        s->q_group = dims[0].stride / box[0];
    /* The overlapped key loop (H200, 2026-12-04, run20: FLUX GNA 545 -> 578
     * TFLOP/s once the loop lost its empty-tile branch, nvptx_plan.c
     * overlap_without_empty). 3-D boxes took it once full tiles ran in a loop
     * without mask code (codegen/nvptx_fa2.c emit_loop; H100 2026-12-05
     * run50: HunyuanVideo GNA 600-604 TFLOP/s with three stages on the plain
     * loop, 670 overlapped, 658 for dense on its tokens); where it does not
     * fit, three K/V stages (H200, 2026-12-03: 528.6 against 517.9 with two). */
    overlap_where_fits(r, arch, s);
    if (nd == 3 && !s->overlap)
        s->stages = 3;
    return true;
}

/* A plain 2-D neighborhood whose window spans at least 64 tokens in each
 * dim: 128-key boxes of 16x8 under the default 8x16 query box (H200,
 * 2026-12-03: FLUX 80x80 on 256x256 388.7 TFLOP/s against 374.9 with 8x8
 * key boxes). Smaller windows keep 64-key boxes: fewer masked pairs. */
static bool wide_window_boxes(const recipe *r, schedule *s)
{
    nbh_dim dims[SCHED_MAX_DIMS];
    if (r->grid_ndim != 2 || !neighborhood_dims(r, dims))
        return false;
    for (int d = 0; d < 2; d++)
        if (dims[d].window < 64 || dims[d].dilation != 1 || dims[d].stride != 1 || dims[d].causal != 0)
            return false;
    s->q_tile[0] = 8, s->q_tile[1] = 16;
    s->kv_tile[0] = 16, s->kv_tile[1] = 8;
    s->warps = 8;
    return true;
}

/* A 1-D softmax recipe without a mask on sm_90a runs the producer
 * warpgroup's key loop with overlap=1 (S of the next tile issued before
 * the softmax of this one, codegen/nvptx_fa2_overlap.c): H200, 2026-12-04
 * (bench/RESULTS.md, three rounds, TFLOP/s), D=128 B*N=16384 H=16: 611 ->
 * 660 at N=8192, 582 -> 632 at 4096, 574 -> 613 at 32768; D=64 H=32: 367
 * -> 410 to 399 -> 439. Masked recipes keep the plain loop (sinks + window,
 * documents and strided 2-D/3-D neighborhoods lost 1-7% then) except causal
 * and causal documents (causal_overlap) and unions (union_persist). Only where the loop fits
 * (schedule_overlap_fits) and mma=auto takes the producer: bf16/f16 token
 * sequences. */
static void unmasked_overlap(const recipe *r, target_arch arch, schedule *s)
{
    if (r->mask || r->grid_ndim != 0)
        return;
    /* Head dims up to 64: FA3's 192-row query tile over three computing
     * warpgroups (q=192 warps=12) on the overlapped loop. H200, 2026-12-05
     * run37, D=64 H=32, two rounds, TFLOP/s: B=2 N=8192 431/429 -> 500/503,
     * N=16384 439/442 -> 510/497, B=4 N=4096 412/412 -> 457/455; checked
     * by test_gpu_overlap wide_rows_d64. Kept where that loop fits. */
    if (r->head_dim <= 64 && (r->head_dim_v ? r->head_dim_v : r->head_dim) <= 64 && s->ndims == 1) {
        schedule wide = *s;
        wide.q_tile[0] = 192;
        wide.warps = 12;
        overlap_where_fits(r, arch, &wide);
        if (wide.overlap == 1) {
            *s = wide;
            return;
        }
    }
    overlap_where_fits(r, arch, s);
}

static bool is_form(const expr *e, int form)
{
    return e && e->kind == EX_FORM && e->u.form == form;
}

/* `a && b` of two forms, either order. */
static bool forms_and(const expr *m, int a, int b)
{
    return m && m->kind == EX_BINARY && m->u.binop == BIN_AND && m->nargs == 2 &&
           ((is_form(m->args[0], a) && is_form(m->args[1], b)) || (is_form(m->args[0], b) && is_form(m->args[1], a)));
}

/* `causal && document(ids)`, either order. */
static bool causal_documents(const expr *m)
{
    return forms_and(m, FORM_CAUSAL, FORM_DOCUMENT);
}

/* A causal sequence with the default score runs the overlapped key loop
 * (overlap=1) now that it has the lazy rescale and the scale folded into
 * the exponent's FFMA (nvptx_plan.c). H100, 2026-12-05 (bench/RESULTS.md,
 * run40, two rounds, TFLOP/s, plain loop at regs=even -> overlapped):
 * D=128 H=16 N=16384 640/641 -> 716/715, 2x8192 583/576 -> 650/650; D=64
 * H=32 2x8192 410/408 -> 436/430, N=16384 437/437 -> 471/468. Before those
 * two changes causal lost on it (H200, 2026-12-04: D=64 394 -> 371) and
 * kept the plain loop at even registers, which stays its fallback where
 * the overlapped loop does not fit. A written score (alibi) spills at even
 * registers and keeps the plain loop's register split.
 *
 * Causal documents (`causal && document(ids)`) run the overlapped loop too,
 * their key range cut to the document in the kernel (nvptx_fa2_span.c):
 * H200, 2026-12-05 run45, 8 documents of 8192 at N=65536, ms, plain ->
 * overlap=1 with the cut made warp-uniform: 4.384 / 4.383 -> 3.918 /
 * 4.040, one document 30.41 -> 26.91; H100 run41-44 level to -11%. Where
 * the loop does not fit they keep the plain loop (not even registers). */
static void causal_overlap(const recipe *r, target_arch arch, schedule *s)
{
    const expr *m = r->mask_surface;
    if (r->grid_ndim != 0 || r->nscore_origins != 0)
        return;
    if (causal_documents(m)) {
        overlap_where_fits(r, arch, s);
        return;
    }
    if (!is_form(m, FORM_CAUSAL))
        return;
    overlap_where_fits(r, arch, s);
    if (s->overlap == 0)
        s->even_regs = true;
}

/* A token sequence of head dim 128 whose mask is a union of closed forms
 * (an `||`, no runtime tensor: sinks || window, whose key range is two
 * parts) runs persistent blocks on the overlapped loop: each block's next
 * query tile loads while this one finalizes, which the short loops of
 * windows feel. H200, 2026-12-04 (bench/RESULTS.md, run29-30, TFLOP/s, two
 * rounds): sinks(4) || window 2047 at N=16384 459 -> 474-479, 32768 467-470
 * -> 491, 65536 461-476 -> 459-496, 4x8192 466 -> 468; window 1023 2x8192
 * 362 -> 379, 32768 373 -> 388-390. Head dim 64 lost (310 -> 296). Masks
 * that read a tensor are left out: documents take no persistent blocks
 * (nvptx_plan.c drops persist=1 there; causal documents take overlap=1
 * alone, causal_overlap). */
static void union_persist(const recipe *r, target_arch arch, schedule *s)
{
    /* the union on the written mask; a tensor read (document, blocks) in the expanded one */
    if (r->grid_ndim != 0 || r->head_dim < 128 || !expr_uses_binop(r->mask_surface, BIN_OR) ||
        expr_uses_kind(r->mask, EX_PARAM))
        return;
    overlap_where_fits(r, arch, s);
    s->persistent = s->overlap == 1;
}

/* Head dim 256 on sm_90a: a sequence without a mask or with plain
 * `causal` (windows and documents below), and the default score, takes 128-row query tiles over two
 * computing warpgroups and 64-key tiles on the overlapped loop, as head dim
 * 128 does, instead of the generic 64 x 32 tiles on one warpgroup (H100,
 * 2026-12-06 run63, B=1 H=16 N=8192 D=256, TFLOP/s: causal 370 -> 701,
 * dense 386 -> 763, against cuDNN's causal 614; 80-key tiles 709 / 798
 * but not powers of two; `attnc run --check` on the causal kernel at
 * 2x3x1000 and 1x2x4097). Sliding windows and causal documents too (H100
 * 2026-12-06 run66, N=8192: `causal && sliding_window(300, 0)` 180 -> 246,
 * 8 documents 240 -> 377; checked against fp64 at 1x3x2000 and 2x2x3000).
 * Other masks and written scores keep the generic tiles (softcap lost on
 * these tiles, 586 -> 534, run65: its written score keeps the plain loop). */
static bool wide_heads_mask(const expr *m)
{
    return !m || is_form(m, FORM_CAUSAL) || is_form(m, FORM_SLIDING_WINDOW) ||
           forms_and(m, FORM_CAUSAL, FORM_SLIDING_WINDOW) || causal_documents(m);
}

static void wide_heads_overlap(const recipe *r, target_arch arch, schedule *s)
{
    /* head dims and dtype: overlap_where_fits decides */
    if (r->grid_ndim != 0 || r->nscore_origins != 0 || !wide_heads_mask(r->mask ? r->mask_surface : NULL))
        return;
    schedule wide = *s;
    wide.q_tile[0] = 128;
    wide.kv_tile[0] = 64;
    wide.warps = 8;
    overlap_where_fits(r, arch, &wide);
    if (wide.overlap == 1)
        *s = wide;
}

schedule compile_default_schedule(const recipe *r, target_arch arch)
{
    if (arch != TARGET_HOST || !r) { /* the code generator reads the kernel's header, not the recipe */
        arena a;
        arena_init(&a, NULL);
        schedule s = nvptx_default_schedule(r ? lower_signature(&a, r) : NULL, arch == TARGET_HOST ? TARGET_SM80 : arch);
        arena_free_all(&a);
        int D = r && r->head_dim_v > r->head_dim ? r->head_dim_v : r ? r->head_dim : 0;
        if (!r || !r->sched.is_auto || r->family != FAMILY_SOFTMAX || !(target_info_of(arch)->mma & TARGET_MMA_WGMMA))
            return s;
        if (D > 128) {
            wide_heads_overlap(r, arch, &s);
        } else if (!gna_boxes(r, arch, &s) && !wide_window_boxes(r, &s)) {
            unmasked_overlap(r, arch, &s);
            causal_overlap(r, arch, &s);
            union_persist(r, arch, &s);
        }
        return s;
    }
    int nd = grid_dims(r);
    if (!r->sched.is_auto && r->sched.ndims == nd)
        return r->sched;
    schedule s = schedule_default(nd, arch, r->family == FAMILY_LINEAR);
    if (r->family == FAMILY_LINEAR && r->linear.block > 0)
        s.linear_block = r->linear.block;
    return s;
}

/* The caller's schedule, if it gave one that is not `auto`: *have says. */
static bool explicit_schedule(compile_job *j, schedule *s, bool *have, strbuf *why)
{
    *have = false;
    if (j->explicit_sched && !j->explicit_sched->is_auto) {
        *s = *j->explicit_sched;
        *have = true;
        return true;
    }
    if (!j->schedule_text)
        return true;
    if (!schedule_parse(j->schedule_text, grid_dims(j->r), s, why))
        return false;
    *have = !s->is_auto;
    return true;
}

job_status compile_job_schedule(compile_job *j)
{
    if (j->resolved || j->status)
        return j->status;
    const recipe *r = j->r;
    int nd = grid_dims(r);
    strbuf why;
    sb_init(&why);
    schedule s;
    bool have;
    job_status st = JOB_OK;
    if (!frontend_target_ok(r, j->arch, &why)) { /* before the schedule: f32 on a GPU is no tiling problem */
        st = fail(j, JOB_UNSUPPORTED, JOB_STEP_TARGET, "", &why);
    } else if (!explicit_schedule(j, &s, &have, &why)) {
        st = fail(j, JOB_USER_ERROR, JOB_STEP_PARSE, "", &why);
    } else {
        j->source = SCHED_FROM_EXPLICIT;
        if (!have && j->tuned && r->sched.is_auto) {
            s = *j->tuned;
            j->source = SCHED_FROM_TUNED;
        } else if (!have) {
            s = compile_default_schedule(r, j->arch);
            j->source = !r->sched.is_auto && r->sched.ndims == nd ? SCHED_FROM_RECIPE : SCHED_FROM_DEFAULT;
        }
        if (s.ndims != nd) {
            sb_printf(&why, "schedule has %d tile dims but the recipe's token grid has %d", s.ndims, nd);
            st = fail(j, JOB_USER_ERROR, JOB_STEP_SCHEDULE, "", &why);
        } else if (!schedule_check(&s, j->arch, r->head_dim, dtype_size(r->qkv_dtype), &why)) {
            st = fail(j, JOB_USER_ERROR, JOB_STEP_SCHEDULE, "illegal schedule: ", &why);
        } else {
            j->sched = s;
            j->resolved = true;
        }
    }
    sb_free(&why);
    return st;
}

job_status compile_job_lower(compile_job *j)
{
    if (compile_job_schedule(j) || j->tk)
        return j->status;
    arena *a = j->a ? j->a : &j->own;
    strbuf why;
    sb_init(&why);
    double t0 = now_ms();
    j->tk = (j->lower ? j->lower : lower_recipe)(a, j->r, &j->sched, j->arch, &why);
    j->lower_ms = now_ms() - t0;
    if (!j->tk)
        fail(j, a->failed ? JOB_NOMEM : JOB_INTERNAL, JOB_STEP_LOWER, "", &why);
    sb_free(&why);
    return j->status;
}

job_status compile_job_emit(compile_job *j)
{
    if (compile_job_lower(j))
        return j->status;
    strbuf why;
    sb_init(&why);
    sb_clear(&j->ptx);
    double t0 = now_ms();
    nvptx_status ns = nvptx_emit_kernel(j->tk, j->arch, &j->info, &j->ptx, &why);
    j->codegen_ms = now_ms() - t0;
    if (ns != NVPTX_OK)
        fail(j, ns == NVPTX_UNSUPPORTED ? JOB_UNSUPPORTED : JOB_INTERNAL, JOB_STEP_EMIT, "", &why);
    else if (j->ptx.failed)
        fail(j, JOB_NOMEM, JOB_STEP_EMIT, "", &why);
    sb_free(&why);
    return j->status;
}

job_status compile_job_run(compile_job *j)
{
    return compile_job_emit(j);
}

attnc_status compile_job_attnc_status(job_status st)
{
    switch (st) {
    case JOB_OK: return ATTNC_OK;
    case JOB_USER_ERROR: return ATTNC_ERR_INVALID_ARGUMENT;
    case JOB_UNSUPPORTED: return ATTNC_ERR_UNSUPPORTED;
    case JOB_NOMEM: return ATTNC_ERR_NOMEM;
    case JOB_INTERNAL: break;
    }
    return ATTNC_ERR_INTERNAL;
}

void compile_job_schedule_text(const compile_job *j, strbuf *out)
{
    schedule_print_for(out, &j->sched, j->r->family == FAMILY_LINEAR);
}

const char *sched_source_name(sched_source s)
{
    switch (s) {
    case SCHED_FROM_EXPLICIT: return "explicit";
    case SCHED_FROM_TUNED: return "tuned";
    case SCHED_FROM_RECIPE: return "recipe";
    case SCHED_FROM_DEFAULT: return "default";
    }
    return "?";
}
