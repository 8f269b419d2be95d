/* nvptx_plan.c — read the canonical softmax tile IR into an fa_plan
 * (nvptx_plan.h). Ops the GPU strategies implement implicitly (load, fill,
 * dot, rescale, convert, finalize) are accepted; what carries meaning
 * (kv_range, tile_class, score, softmax_update, stores) is copied out. */
#include "nvptx_plan.h"

/* mma=auto on sm_90a: wgmma where the tile allows it. */
#ifndef NVPTX_WGMMA_BY_DEFAULT
#define NVPTX_WGMMA_BY_DEFAULT 1
#endif
/* The GPU backward walks union parts (nvptx_kernel.h, $ATTNC_BWD_PARTS). */
#ifndef NVPTX_BWD_PARTS_BY_DEFAULT
#define NVPTX_BWD_PARTS_BY_DEFAULT 1
#endif
/* The backward's document cut (nvptx_bwd_span.c, $ATTNC_BWD_DOC_SPAN): 0
 * off, 1 the cut, 2 also the dK/dV kernel's full tiles. */
#ifndef NVPTX_BWD_DOC_SPAN_BY_DEFAULT
#define NVPTX_BWD_DOC_SPAN_BY_DEFAULT 2
#endif
/* Radial-style masks hoisted per key frame (nvptx_fa2_frames.c,
 * $ATTNC_MASK_FRAMES) and no TMA copies of tiles the class proves empty
 * (nvptx_fa2_ws.c, $ATTNC_TMA_SKIP_EMPTY). */
#ifndef NVPTX_MASK_FRAMES_BY_DEFAULT
#define NVPTX_MASK_FRAMES_BY_DEFAULT 1
#endif
#ifndef NVPTX_TMA_SKIP_EMPTY_BY_DEFAULT
#define NVPTX_TMA_SKIP_EMPTY_BY_DEFAULT 0
#endif
/* A union range's first tile on its first 16 keys (nvptx_fa2_narrow.c,
 * $ATTNC_NARROW_FIRST; H200, 2026-12-05 run35, two rounds: sinks(4) ||
 * window 2047 at N = 32768 489/491 -> 501/500 TFLOP/s). */
#ifndef NVPTX_NARROW_FIRST_BY_DEFAULT
#define NVPTX_NARROW_FIRST_BY_DEFAULT 1
#endif
/* Each item's O store under the next item's first S ($ATTNC_O_DEFER,
 * nvptx_kernel.h), and the union loop without its branch around empty
 * tiles ($ATTNC_UNION_UNTESTED). H100 2026-12-07 run93 and the call after
 * it, causal && (sinks(4) || sliding_window(2047, 0)) N=32768 H=16, ms:
 * before 1.100 / 1.051 / 1.067 / 1.093 / 1.087; both 1.038 / 1.033 / 1.025 /
 * 1.048 / 1.022; with the pairs order too (fa_plan.pairs) 1.023 / 1.015 /
 * 1.022 / 1.010 / 0.976, against FlexAttention's 1.550. Checked under all
 * three: test_gpu_persist 75 PASS, test_gpu_unions 45 PASS, `attnc run
 * --check` on four sinks + window shapes. */
#ifndef NVPTX_O_DEFER_BY_DEFAULT
#define NVPTX_O_DEFER_BY_DEFAULT 1
#endif
#ifndef NVPTX_UNION_UNTESTED_BY_DEFAULT
#define NVPTX_UNION_UNTESTED_BY_DEFAULT 1
#endif
/* The linear backward's fused dK/dV scan on sm_90a without a decay
 * gradient (nvptx_linear_bwd.c, $ATTNC_BWD_LINEAR_FUSED; H200, 2026-12-05
 * run35, lightning2 B=1 H=16 N=16384 --no-grad decay, two rounds:
 * 0.525/0.527 ms -> 0.443/0.441). */
#ifndef NVPTX_BWD_LINEAR_FUSED_BY_DEFAULT
#define NVPTX_BWD_LINEAR_FUSED_BY_DEFAULT 1
#endif
/* The scale folded into the exponent's FFMA (nvptx_fa2_softmax.c,
 * gb_prob; $ATTNC_SCALE_FMA). H100, 2026-12-05 run38/38b, two rounds,
 * TFLOP/s: the forward gained on all 11 shapes (dense D=128 2x8192 636/661
 * -> 682/681, D=64 501 -> 548, causal D=128 1x16384 624 -> 638, FLUX GNA
 * 610/598 -> 624/625, HunyuanVideo GNA 578 -> 593, sinks + window 493 ->
 * 510); the backward causal 16384 540/520 -> 577/581, dense 2x8192 526/517
 * -> 537/537. */
#ifndef NVPTX_SCALE_FMA_BY_DEFAULT
#define NVPTX_SCALE_FMA_BY_DEFAULT 1
#endif
/* The level of $ATTNC_SKIP_RESCALE the overlapped key loop (overlap=1)
 * takes when the variable is unset: 2, FlashAttention-4's lazy rescale
 * (nvptx_fa2_softmax.c). H100, 2026-12-05 run38b, two rounds, TFLOP/s,
 * against the scale FMA alone: dense D=128 2x8192 682/681 -> 707/699, D=64
 * (q=192) 547/549 -> 563/559, causal overlapped 687/675 -> 706/715, sinks +
 * window 510/511 -> 524/524, FLUX GNA 624/625 -> 656/650; dense 1x16384
 * 677/683 -> 722/670. The plain loop keeps 0: causal D=64 at regs=even
 * lost (405/410 -> 390/391), HunyuanVideo GNA 593 -> 589, documents and
 * causal D=128 within noise. */
#ifndef NVPTX_SKIP_RESCALE_OVERLAP_DEFAULT
#define NVPTX_SKIP_RESCALE_OVERLAP_DEFAULT 2
#endif
/* The warp index made warp-uniform for ptxas (nt_uniform_warp,
 * $ATTNC_UNIFORM_WARP): opt-in. ptxas 13.0, dense D=128 backward, the
 * dK/dV kernel's key loop: 569 -> 468 SASS instructions (R2UR 51 -> 12,
 * the wgmma descriptors of each warpgroup's K/V tile computed in uniform
 * registers); but on the H100 (bench/RESULTS.md, 2026-12-05 12:40, two
 * rounds) HunyuanVideo GNA lost 3% with it and the backward gained in
 * one round of two. */
#ifndef NVPTX_UNIFORM_WARP_BY_DEFAULT
#define NVPTX_UNIFORM_WARP_BY_DEFAULT 0
#endif
/* The overlapped key loop's first tile peeled (nvptx_fa2_overlap.c
 * first_tile, $ATTNC_PEEL_FIRST): S of the block's first tile alone, so
 * the loop's first iteration issues a real P V instead of one of P = 0.
 * H100, 2026-12-06 run60 (three rounds of 100 iterations, ms, off -> on):
 * causal N=16384 1.724-1.727 -> 1.670-1.698, B=8 N=8192 3.549-3.594 ->
 * 3.498-3.540; dense N=16384 and 8 documents level. */
/* Q's A fragments in registers (nvptx_fa2_wgmma.c, $ATTNC_Q_REGS; the
 * kernels of fa_plan_q_regs). H100, 2026-12-06 run74, three rounds of 100
 * iterations (ms, off -> on): causal B=8 N=8192 3.475-3.479 -> 3.384-3.391,
 * dense N=16384 3.248-3.283 -> 3.164-3.196, causal N=16384 1.646 -> 1.606;
 * run75 (two rounds, on vs =0): causal B=8 3.420 / 3.430 vs 3.484 / 3.495,
 * dense at 65536 and 115200 tokens -2.7% and -3.5%; run77 (persistent
 * blocks, Q's bytes freed at once): sinks(4) || window 2047 at 32768 tokens
 * 1.082 / 1.134 / 1.138 -> 1.050 / 1.076 / 1.061. */
#ifndef NVPTX_Q_REGS_BY_DEFAULT
#define NVPTX_Q_REGS_BY_DEFAULT 1
#endif
/* The row max as a tree (nvptx_fa2_softmax.c, $ATTNC_MAX_TREE): off, slower
 * than the chain on the H100 (2026-12-06 run74: causal B=8 N=8192 +2-3%,
 * causal N=16384 +5%). */
#ifndef NVPTX_MAX_TREE_BY_DEFAULT
#define NVPTX_MAX_TREE_BY_DEFAULT 0
#endif
#ifndef NVPTX_PEEL_FIRST_BY_DEFAULT
#define NVPTX_PEEL_FIRST_BY_DEFAULT 1
#endif
/* ... also in persistent blocks and loops that test tiles for emptiness
 * ($ATTNC_PEEL_ALL; today that changes only the sinks + window kernels).
 * H100 2026-12-07 run87 (an earlier form, wrong after the narrow first
 * tile, which left O unscaled): sinks(4) || window 2047 at 32768 tokens
 * 1.062-1.071 -> 1.044-1.052 ms. */
#ifndef NVPTX_PEEL_ALL_BY_DEFAULT
#define NVPTX_PEEL_ALL_BY_DEFAULT 1
#endif
/* O written through shared memory, each warpgroup's rows in its own
 * Q rows, then stored 16 bytes a thread in whole rows (nvptx_fa2_ostage.c,
 * $ATTNC_O_STAGE). H100 2026-12-06 run68: one 4-byte store a row instead
 * of Dv/8 (a bound, not a kernel) took causal B=8 N=8192 from 3.50-3.54 to
 * 3.39-3.45 ms and 8 documents from 3.55-3.66 to 3.45-3.50. */
#ifndef NVPTX_O_STAGE_BY_DEFAULT
#define NVPTX_O_STAGE_BY_DEFAULT 1
#endif
/* tanh on the GPU as PTX's tanh.approx.f32 (one MUFU.TANH; relative error
 * at most 2^-11, below bf16's rounding), as FlashAttention-3's softcap
 * does; $ATTNC_TANH_APPROX=0: 1 - 2 / (2^(2|x| log2 e) + 1) with an
 * approximate reciprocal (codegen/emit_expr.c emit_tanh). Before, an IEEE
 * division there put a slow-path branch per score in the key loop: the
 * D=256 softcap forward's loop was 1091 SASS instructions against 387
 * without the softcap (H100 2026-12-06 run61: 124 TFLOP/s against 370). */
#ifndef NVPTX_TANH_APPROX_BY_DEFAULT
#define NVPTX_TANH_APPROX_BY_DEFAULT 1
#endif
/* ... and with a TMA producer warpgroup on token sequences. */
#ifndef NVPTX_WS_BY_DEFAULT
#define NVPTX_WS_BY_DEFAULT 1
#endif

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/expr_eval.h"
#include "../ir/target_info.h"

/* A code-generation switch of the environment: -1 unset or empty, else 0
 * or 1. */
static int env_switch(const char *name)
{
    const char *e = getenv(name);
    if (!e || !*e)
        return -1;
    return atoi(e) ? 1 : 0;
}

int nvptx_grid_tma_mode(void)
{
    return env_switch("ATTNC_GRID_TMA");
}

int nvptx_doc_full_mode(void)
{
    return env_switch("ATTNC_DOC_FULL");
}

/* env_switch, but unset reads as 1 when the switch is on by default; off
 * by default, unset stays -1 (a kernel-cache key of its own). */
static int env_switch_default(const char *name, bool on_by_default)
{
    int m = env_switch(name);
    return m < 0 && on_by_default ? 1 : m;
}

int nvptx_mask_frames_mode(void)
{
    return env_switch_default("ATTNC_MASK_FRAMES", NVPTX_MASK_FRAMES_BY_DEFAULT);
}

int nvptx_ovl_split_mode(void)
{
    return env_switch("ATTNC_OVL_SPLIT_PRODUCER");
}

int nvptx_union_untested_mode(void)
{
    return env_switch_default("ATTNC_UNION_UNTESTED", NVPTX_UNION_UNTESTED_BY_DEFAULT);
}

int nvptx_item_pairs_mode(void)
{
    return env_switch("ATTNC_ITEM_PAIRS");
}

int nvptx_persist_dynamic_mode(void)
{
    return env_switch("ATTNC_PERSIST_DYNAMIC");
}

int nvptx_tanh_approx_mode(void)
{
    return env_switch_default("ATTNC_TANH_APPROX", NVPTX_TANH_APPROX_BY_DEFAULT);
}

int nvptx_peel_first_mode(void)
{
    return env_switch_default("ATTNC_PEEL_FIRST", NVPTX_PEEL_FIRST_BY_DEFAULT);
}

int nvptx_peel_all_mode(void)
{
    return env_switch_default("ATTNC_PEEL_ALL", NVPTX_PEEL_ALL_BY_DEFAULT);
}

int nvptx_o_tma_mode(void)
{
    return env_switch("ATTNC_O_TMA");
}

int nvptx_o_stage_mode(void)
{
    return env_switch_default("ATTNC_O_STAGE", NVPTX_O_STAGE_BY_DEFAULT);
}

int nvptx_doc_table_mode(void)
{
    return env_switch("ATTNC_DOC_TABLE");
}

int nvptx_mask_inside_mode(void)
{
    return env_switch("ATTNC_MASK_INSIDE");
}

int nvptx_full_range_mode(void)
{
    return env_switch("ATTNC_FULL_RANGE");
}

int nvptx_tma_skip_empty_mode(void)
{
    return env_switch_default("ATTNC_TMA_SKIP_EMPTY", NVPTX_TMA_SKIP_EMPTY_BY_DEFAULT);
}

int nvptx_tma_fence_mode(void)
{
    return env_switch("ATTNC_TMA_FENCE");
}

int nvptx_ws_maxnreg_mode(void)
{
    return env_switch("ATTNC_WS_MAXNREG");
}

int nvptx_narrow_first_mode(void)
{
    return env_switch_default("ATTNC_NARROW_FIRST", NVPTX_NARROW_FIRST_BY_DEFAULT);
}

int nvptx_o_defer_mode(void)
{
    return env_switch_default("ATTNC_O_DEFER", NVPTX_O_DEFER_BY_DEFAULT);
}

int nvptx_bwd_linear_fused_mode(void)
{
    return env_switch_default("ATTNC_BWD_LINEAR_FUSED", NVPTX_BWD_LINEAR_FUSED_BY_DEFAULT);
}

int nvptx_scale_fma_mode(void)
{
    return env_switch_default("ATTNC_SCALE_FMA", NVPTX_SCALE_FMA_BY_DEFAULT);
}

int nvptx_uniform_warp_mode(void)
{
    return env_switch_default("ATTNC_UNIFORM_WARP", NVPTX_UNIFORM_WARP_BY_DEFAULT);
}

int nvptx_q_regs_mode(void)
{
    return env_switch("ATTNC_Q_REGS");
}

int nvptx_doc_bits_mode(void)
{
    return env_switch_default("ATTNC_DOC_BITS", 1);
}

int nvptx_max_tree_mode(void)
{
    return env_switch_default("ATTNC_MAX_TREE", NVPTX_MAX_TREE_BY_DEFAULT);
}

int nvptx_tma_l2_ahead_mode(void)
{
    const char *e = getenv("ATTNC_TMA_L2_AHEAD");
    if (!e || !*e)
        return -1;
    int n = atoi(e);
    return n < 0 || n > 4 ? -1 : n; /* out of range: as unset */
}

int nvptx_lin_segments_mode(void)
{
    const char *e = getenv("ATTNC_LIN_SEGMENTS");
    if (!e || !*e)
        return -1;
    int n = atoi(e);
    return n < 1 ? 1 : n > 64 ? 64 : n;
}

int nvptx_lin_inclusive_mode(void)
{
    return env_switch("ATTNC_LIN_INCLUSIVE");
}

/* A numeric switch of the environment: -1 unset, empty or outside lo..hi. */
static int env_level(const char *name, int lo, int hi)
{
    const char *e = getenv(name);
    if (!e || !*e)
        return -1;
    int v = atoi(e);
    return v >= lo && v <= hi ? v : -1;
}

int nvptx_skip_rescale_mode(void)
{
    return env_level("ATTNC_SKIP_RESCALE", 0, 2);
}

int nvptx_bwd_ring_release_mode(void)
{
    return env_switch("ATTNC_BWD_RING_RELEASE");
}

int nvptx_bwd_ring_tma_first_mode(void)
{
    return env_switch("ATTNC_BWD_RING_TMA_FIRST");
}

int nvptx_bwd_dq_writer_mode(void)
{
    return env_switch("ATTNC_BWD_DQ_WRITER");
}

int nvptx_bwd_dq_defer_mode(void)
{
    return env_switch("ATTNC_BWD_DQ_DEFER");
}

int nvptx_bwd_stat_early_mode(void)
{
    return env_switch("ATTNC_BWD_STAT_EARLY");
}

int nvptx_bwd_ring_stages_mode(void)
{
    return env_level("ATTNC_BWD_RING_STAGES", 2, 3);
}

int nvptx_bwd_ds_bufs_mode(void)
{
    return env_level("ATTNC_BWD_DS_BUFS", 1, 2);
}

int nvptx_bwd_doc_span_mode(void)
{
    int m = env_level("ATTNC_BWD_DOC_SPAN", 0, 2);
    return m < 0 ? NVPTX_BWD_DOC_SPAN_BY_DEFAULT : m;
}

int nvptx_bwd_dqf_bufs_mode(void)
{
    return env_level("ATTNC_BWD_DQF_BUFS", 1, 2);
}

bool nvptx_bwd_parts_on(void)
{
    int m = env_switch("ATTNC_BWD_PARTS");
    return m < 0 ? NVPTX_BWD_PARTS_BY_DEFAULT : m == 1;
}

/* Local name table: the IR library's tir_op_name() may not be linked into
 * every consumer of the code generator. */
static const char *op_name(tir_op_kind k)
{
    static const char *const names[] = {
#define X(id, name, nopnd, nres, body) name,
        TIR_OPS(X)
#undef X
    };
    return (unsigned)k < TIR_OP_COUNT ? names[k] : "?";
}

static nvptx_status refuse(strbuf *err, nvptx_status st, const char *fmt, const char *what)
{
    sb_printf(err, fmt, what);
    return st;
}

tir_range_mode nvptx_read_range(const tir_op *op, int ndims, const expr *lo[3], const expr *hi[3])
{
    tir_range_mode mode = op->range_mode;
    /* a block table that mask analysis also gave bounds and a document
     * cut (document(ids) alone): the cut replaces the table here */
    if (mode == RANGE_BLOCK_TABLE && op->span && op->range_ndims == ndims)
        mode = RANGE_BOUNDS;
    for (int d = 0; d < op->range_ndims && d < 3; d++) {
        lo[d] = op->range_lo[d];
        hi[d] = op->range_hi[d];
    }
    if (mode == RANGE_BOUNDS && op->range_ndims != ndims)
        mode = RANGE_ALL; /* not per tile dim: visit everything, mask decides */
    for (int d = 0; mode == RANGE_BOUNDS && d < ndims; d++)
        if (!lo[d] || !hi[d])
            mode = RANGE_ALL;
    return mode;
}

int nvptx_span_param(const tir_op *op, const fa_plan *p)
{
    tir_range_mode mode = nvptx_read_range(op, p->ndims, (const expr *[3]){0}, (const expr *[3]){0});
    if (mode == RANGE_BOUNDS && op->span && p->grid_ndim == 0 && p->ndims == 1 && p->k && op->span_param >= 0 &&
        op->span_param < p->k->nparams &&
        (p->k->params[op->span_param].dtype == DT_I32 || p->k->params[op->span_param].dtype == DT_I64) &&
        p->k->params[op->span_param].ndim >= 1 && p->k->params[op->span_param].ndim <= 2)
        return op->span_param;
    return -1;
}

static void read_range(const tir_op *op, fa_plan *p)
{
    p->range = nvptx_read_range(op, p->ndims, p->lo, p->hi);
    p->span_param = nvptx_span_param(op, p);
    if (p->span_param >= 0 && nvptx_doc_full_mode() != 0) {
        p->span_full = op->span_full_expr;
        p->span_mask = op->span_full_expr ? op->span_mask_expr : NULL;
    }
    p->nparts = p->range == RANGE_BOUNDS && op->range_nparts >= 2 ? op->range_nparts : 0;
    for (int i = 0; i < p->nparts; i++)
        for (int d = 0; d < p->ndims; d++) {
            p->plo[i][d] = op->part_lo[i][d];
            p->phi[i][d] = op->part_hi[i][d];
            if (!p->plo[i][d] || !p->phi[i][d])
                p->nparts = 0; /* the hull alone */
        }
}

/* Only a positive constant factor lets a kernel take raw s into the
 * exponent: it keeps the row max where it is (rounding is monotone:
 * fl(max s * c) = max fl(s * c)) and -inf stays -inf. */
float nvptx_score_k(const expr *score)
{
    if (nvptx_scale_fma_mode() != 1 || !score || score->kind != EX_BINARY || score->u.binop != BIN_MUL)
        return 0;
    for (int i = 0; i < 2; i++) {
        const expr *c = score->args[i], *other = score->args[1 - i];
        if (c->kind == EX_CONST_FLOAT && other->kind == EX_SCORE) {
            float k = (float)c->u.fval;
            return k > 0 && isfinite(k) ? k : 0;
        }
    }
    return 0;
}

static nvptx_status read_body(const tir_block *body, fa_plan *p, strbuf *err)
{
    bool have_score = false;
    for (const tir_op *op = body->first; op; op = op->next) {
        switch (op->kind) {
        case TIR_TILE_CLASS:
            p->full = op->full_expr;
            /* `false` (unknown) needs no test at run time */
            if (op->empty_expr && !(op->empty_expr->kind == EX_CONST_BOOL && !op->empty_expr->u.ival))
                p->empty = op->empty_expr;
            break;
        case TIR_SCORE:
            p->score = op->score_expr;
            p->mask = op->mask_expr;
            p->base2 = op->base2;
            p->score_k = nvptx_score_k(op->score_expr);
            have_score = true;
            break;
        case TIR_SOFTMAX_UPDATE:
        case TIR_LOAD:
        case TIR_DOT:
        case TIR_RESCALE:
        case TIR_CONVERT:
        case TIR_YIELD:
        case TIR_FILL:
        case TIR_ADD:
        case TIR_WAIT:    /* the FA2 loop waits for a stage's K and V together, then */
        case TIR_BARRIER: /* a barrier, at the top of each iteration: stricter than the marks */
            break;
        default:
            return refuse(err, NVPTX_UNSUPPORTED, "GPU: tile op '%s' inside the key loop is not supported yet",
                          op_name(op->kind));
        }
    }
    if (!have_score)
        return refuse(err, NVPTX_INTERNAL, "internal error: key loop without a %s op", "score");
    return NVPTX_OK;
}

static nvptx_status read_top(const tir_kernel *k, fa_plan *p, strbuf *err)
{
    bool have_for = false;
    for (const tir_op *op = k->body->first; op; op = op->next) {
        switch (op->kind) {
        case TIR_KV_RANGE:
            read_range(op, p);
            break;
        case TIR_FOR: {
            nvptx_status st = read_body(op->body, p, err);
            if (st)
                return st;
            if (op->stages > 0) /* the pipelining pass's depth wins over the schedule's */
                p->stages = op->stages;
            have_for = true;
            break;
        }
        case TIR_STORE:
            if (op->tensor == TENSOR_LSE)
                p->store_lse = true;
            break;
        case TIR_QTILE:
        case TIR_LOAD:
        case TIR_FILL:
        case TIR_FINALIZE:
        case TIR_CONVERT:
            break;
        default:
            return refuse(err, NVPTX_UNSUPPORTED, "GPU: tile op '%s' is not supported by the FA2 strategy yet",
                          op_name(op->kind));
        }
    }
    if (!have_for)
        return refuse(err, NVPTX_INTERNAL, "internal error: softmax kernel without a %s loop", "key");
    return NVPTX_OK;
}

static nvptx_status check_shape(const fa_plan *p, strbuf *err)
{
    if (p->dt != DT_BF16 && p->dt != DT_F16)
        return refuse(err, NVPTX_UNSUPPORTED, "GPU: q/k/v must be bf16 or f16 (got %s)", dtype_name(p->dt));
    if (p->D % 16 || p->Dv % 16 || p->D > 256 || p->Dv > 256 || p->D < 16 || p->Dv < 16) {
        sb_printf(err, "GPU: head_dim %d / %d must be a multiple of 16 up to 256", p->D, p->Dv);
        return NVPTX_UNSUPPORTED;
    }
    if (p->Tq % (16 * p->warps) || p->Tk % 16 || p->MR < 1 || p->MR > 4) {
        sb_printf(err, "GPU: query tile %d with %d warps, key tile %d: each warp owns 16*n rows, keys in 16s",
                  p->Tq, p->warps, p->Tk);
        return NVPTX_UNSUPPORTED;
    }
    if (p->k && p->k->nparams > NVPTX_MAX_PARAMS) {
        sb_printf(err, "GPU: at most %d params", NVPTX_MAX_PARAMS);
        return NVPTX_UNSUPPORTED;
    }
    return NVPTX_OK;
}

/* Warpgroup MMA (sm_90a) needs a warpgroup per 64 query rows, head dims
 * in whole 128-byte swizzle rows, and key tiles of at most 256 (the N of
 * S = Q K^T). Returns NULL when the plan fits, else why not. */
static const char *wgmma_misfit(const fa_plan *p, target_arch arch)
{
    if (!(target_info_of(arch)->mma & TARGET_MMA_WGMMA))
        return "needs sm_90a";
    if (p->warps % 4 || p->MR != 1)
        return "needs 4 or 8 warps with 16 query rows each (q = 16 * warps)";
    if (p->D % 64 || p->Dv % 64)
        return "needs head dims that are multiples of 64";
    if (p->Tk % 16 || p->Tk > 256)
        return "needs a key tile of 16..256 tokens in steps of 16";
    if (p->Tk / 2 + p->Dv / 2 > 192) /* S and O accumulators per thread */
        return "needs key tile + value head dim <= 384 (the S and O accumulators must fit in registers)";
    return NULL;
}

static nvptx_status pick_mma(const schedule *s, target_arch arch, fa_plan *p, strbuf *err)
{
    const char *why = wgmma_misfit(p, arch);
    bool forced = s->mma == MMA_WGMMA || s->mma == MMA_WGMMA_WS;
    if (forced && why) {
        sb_printf(err, "GPU: mma=%s %s", s->mma == MMA_WGMMA ? "wgmma" : "wgmma_ws", why);
        return NVPTX_UNSUPPORTED;
    }
    p->wgmma = forced || (s->mma == MMA_AUTO && !why && NVPTX_WGMMA_BY_DEFAULT);
    /* TMA boxes are rectangles of the [batch, heads, tokens, dim] tensor:
     * a 1-D tile of consecutive tokens is one. A TMA producer made warp
     * specialisation pay (H200: dense D=128 573 TFLOP/s against 507 without
     * a producer); a cp.async producer did not, so auto takes the producer
     * warpgroup only where TMA can feed it. */
    bool dilated = p->dil[0] > 1 || p->dil[1] > 1 || p->dil[2] > 1; /* strided tiles: no TMA box */
    bool sequence = p->ndims == 1 && p->grid_ndim == 0 && !dilated;
    /* A box of a row-major grid (2-D, 3-D) is a rectangle of the tensor
     * viewed as [batch, heads, (z,) y, x, dim] (grid maps, nvptx_kernel.h).
     * mma=wgmma_ws and auto take it unless ATTNC_GRID_TMA=0: on the H200
     * the TMA producer ran the default grid boxes 14% faster than cp.async
     * without a producer (FLUX NA 376 vs 331 TFLOP/s, HunyuanVideo NA 230
     * vs 202; bench/RESULTS.md 2026-12-02 19:45). Dilation-group tiles are
     * strided, not boxes. */
    int grid_tma = nvptx_grid_tma_mode();
    bool grid_box = p->grid_ndim >= 2 && p->grid_ndim == p->ndims && grid_tma != 0 && !dilated;
    bool auto_ws = sequence || grid_box;
    p->ws = s->mma == MMA_WGMMA_WS || (s->mma == MMA_AUTO && p->wgmma && auto_ws && NVPTX_WS_BY_DEFAULT);
    p->tma = p->ws && (sequence || grid_box);
    p->overlap = s->overlap;
    /* regs=even, or $ATTNC_WS_MAXNREG (0 or 1) over the schedule's word */
    int maxnreg = nvptx_ws_maxnreg_mode();
    p->reg_shift = p->ws && (maxnreg < 0 ? !s->even_regs : maxnreg != 0);
    if (p->overlap && !p->ws) {
        sb_printf(err, "GPU: overlap=%d needs the producer warpgroup (mma=wgmma_ws on sm_90a)", p->overlap);
        return NVPTX_UNSUPPORTED;
    }
    if (p->overlap && p->Tk * 3 / 4 + p->Dv / 2 > schedule_overlap_regs(p->warps)) { /* + the pending P */
        sb_printf(err, "GPU: overlap= needs 3/4 key tile + value head dim / 2 <= %d at %d warps (S, P and O in "
                       "registers)", schedule_overlap_regs(p->warps), p->warps);
        return NVPTX_UNSUPPORTED;
    }
    /* tiles that are not powers of two (schedule_check) run on warpgroup MMA only */
    if (((p->Tk & (p->Tk - 1)) || (p->Tq & (p->Tq - 1))) && !p->wgmma) {
        sb_printf(err, "GPU: query tile %d / key tile %d (not powers of two) need warpgroup MMA (sm_90a, mma=auto or "
                       "wgmma_ws)", p->Tq, p->Tk);
        return NVPTX_UNSUPPORTED;
    }
    /* three warpgroups (schedule_check: q=192 warps=12) share the 64K
     * registers only once the producer hands its own over */
    if (p->warps > 8 && !(p->ws && p->reg_shift)) {
        sb_printf(err, "GPU: warps=%d needs the producer warpgroup with the register shift (mma=wgmma_ws or auto on "
                       "sm_90a, not regs=even)", p->warps);
        return NVPTX_UNSUPPORTED;
    }
    if (p->overlap == 2 && p->warps != 8) {
        sb_puts(err, "GPU: overlap=2 (ping-pong) needs two computing warpgroups (warps=8)");
        return NVPTX_UNSUPPORTED;
    }
    return NVPTX_OK;
}

/* The overlapped loop (overlap=1|2) keeps O and the pending P in flight
 * across its tiles, and a branch around an empty tile (skip_tile or
 * compute_tile, nvptx_fa2_overlap.c) costs ptxas copies of that state on
 * every tile: H200, 2026-12-04 (bench/RESULTS.md, run20), FLUX GNA
 * overlap=1 527.9 TFLOP/s with the branch, 578.4 without. A range of one
 * closed-form box (no union parts) holds few empty tiles (none under GNA's
 * boxes; under a document cut only between the runs of a recurring id), so
 * there the loop has no empty test: such a tile is copied and computed as
 * a partial one, whose mask keeps none of its pairs (not full, so masked). */
static void overlap_without_empty(fa_plan *p)
{
    if (p->overlap && p->empty && p->range == RANGE_BOUNDS && p->nparts == 0)
        p->empty = NULL;
    /* A union's parts are the forms' own ranges, so their tiles are rarely
     * empty either (sinks || window: none); with the branch ptxas moved the
     * loop's ring slots out of uniform registers (96 R2UR in the sinks +
     * window kernel against 5 in causal's). The narrow tile's test still
     * reads p->empty. */
    if (p->overlap && p->empty && p->range == RANGE_BOUNDS && p->nparts > 0 && nvptx_union_untested_mode() == 1)
        p->empty_untested = true;
}

/* The bounds of each part of a query tile's union range (dim 0, key tile
 * indices, unclamped) at query tile `x` of a long sequence (2^24 tokens,
 * other sizes 1); false where a bound cannot be evaluated (it reads a
 * tensor). */
static bool union_bounds_at(const fa_plan *p, int64_t x, int64_t lo[TIR_MAX_PARTS], int64_t hi[TIR_MAX_PARTS])
{
    eval_env e;
    memset(&e, 0, sizeof e);
    for (int i = 0; i < SZ_MAX; i++)
        e.sizes[i] = 1;
    e.sizes[SZ_TOKENS] = e.sizes[SZ_KV_TOKENS] = (int64_t)1 << 24;
    e.qlo[0] = x * p->Tq;
    e.qhi[0] = e.qlo[0] + p->Tq - 1;
    for (int i = 0; i < p->nparts; i++)
        if (!expr_eval_int(p->plo[i][0], &e, &lo[i]) || !expr_eval_int(p->phi[i][0], &e, &hi[i]))
            return false;
    return true;
}

/* The key tiles a query tile's union range holds (its parts' counts) at
 * query tile `x` (union_bounds_at); false where a bound does not evaluate. */
static bool union_tiles_at(const fa_plan *p, int64_t x, int64_t *tiles)
{
    int64_t lo[TIR_MAX_PARTS], hi[TIR_MAX_PARTS];
    if (!union_bounds_at(p, x, lo, hi))
        return false;
    *tiles = 0;
    for (int i = 0; i < p->nparts; i++)
        *tiles += hi[i] >= lo[i] ? hi[i] - lo[i] + 1 : 0;
    return true;
}

/* Whether persistent blocks on a token sequence take their items pair-major
 * ($ATTNC_ITEM_PAIRS; unset: where every query tile far from the start
 * holds the same number of key tiles, a union of bounded parts such as
 * sinks || window). Rank order keeps causal-like work balanced over the
 * blocks (bench/item_order_sim.py balance); where the work per item is the
 * same, pair-major order lets the blocks of a round share one pair's keys
 * in L2 (nvptx_fa2_persist.c set_item). */
static bool pairs_order(const fa_plan *p)
{
    if (p->ndims != 1 || p->grid_ndim != 0)
        return false;
    int mode = nvptx_item_pairs_mode();
    if (mode >= 0)
        return mode == 1;
    if (p->nparts == 0)
        return false;
    int64_t a, b;
    return union_tiles_at(p, 4096, &a) && union_tiles_at(p, 8192, &b) && a == b;
}

nvptx_status fa_plan_from_tir(const tir_kernel *k, target_arch arch, fa_plan *p, strbuf *err)
{
    memset(p, 0, sizeof *p);
    if (k->family != FAMILY_SOFTMAX)
        return refuse(err, NVPTX_UNSUPPORTED, "GPU: %s attention has no GPU kernel yet (CPU backend only)",
                      "linear");
    p->k = k;
    p->dt = k->qkv_dtype;
    p->D = k->head_dim;
    p->Dv = k->head_dim_v ? k->head_dim_v : k->head_dim;
    p->grid_ndim = k->grid_ndim;
    if (k->sched.is_auto) /* the compile job (runtime/compile) resolves schedules before lowering */
        return refuse(err, NVPTX_INTERNAL, "internal error: the kernel's schedule is %s, not resolved", "auto");
    schedule s = k->sched;
    p->ndims = s.ndims;
    for (int d = 0; d < 3; d++) {
        p->q_ext[d] = d < s.ndims ? s.q_tile[d] : 1;
        p->kv_ext[d] = d < s.ndims ? s.kv_tile[d] : 1;
        p->dil[d] = tir_kernel_dil(k, d);
    }
    p->Tq = schedule_q_tokens(&s);
    p->Tk = schedule_kv_tokens(&s);
    p->warps = s.warps;
    p->stages = s.stages < 1 ? 1 : s.stages;
    p->MR = p->warps ? p->Tq / (16 * p->warps) : 0;
    p->range = RANGE_ALL;
    p->span_param = -1;
    nvptx_status st = check_shape(p, err);
    if (!st)
        st = pick_mma(&s, arch, p, err);
    if (st)
        return st;
    st = read_top(k, p, err);
    if (!st)
        overlap_without_empty(p);
    /* persist=1 where its item loop applies: the TMA producer (one thread
     * issues every copy), not ping-pong (its turn barriers would need a
     * hand-over between items), not a document cut (the whole block scans
     * it before the roles split: documents take no persistent blocks). */
    p->persist = s.persistent && p->tma && p->overlap != 2 && p->span_param < 0;
    p->pairs = p->persist && pairs_order(p);
    p->q_group = p->ndims > 1 && s.q_group > 1 ? s.q_group : 1;
    p->q_chunk = p->ndims > 2 && s.q_chunk > 1 ? s.q_chunk : 1;
    int skip = nvptx_skip_rescale_mode(); /* unset: by loop (the schedule is in the kernel key) */
    p->skip_rescale = skip >= 0 ? skip : p->overlap == 1 ? NVPTX_SKIP_RESCALE_OVERLAP_DEFAULT : 0;
    p->uniform_warp = nvptx_uniform_warp_mode() == 1;
    p->o_stage = fa_plan_o_stage(p);
    if (p->o_stage && p->persist) { /* O's own bytes after Q's (nvptx_fa2.c plan_smem): + barriers and 1024 of slack */
        int bytes = p->stages * p->Tk * 2 * (p->D + p->Dv) + p->Tq * 2 * (p->D + p->Dv) + 2048;
        p->o_stage = bytes <= target_info_of(arch)->smem_block_optin;
    }
    p->o_tma = p->o_stage && p->tma && p->grid_ndim == 0 && nvptx_o_tma_mode() == 1;
    p->doc_bits = fa_plan_doc_bits(p);
    p->q_regs = fa_plan_q_regs(p);
    return st;
}

bool fa_plan_q_regs(const fa_plan *p)
{
    int mode = nvptx_q_regs_mode();
    /* the warp-specialized wgmma kernels with the TMA producer, either key
     * loop (the plain loop carries the fragments from tile to tile:
     * nvptx_fa2_wgmma.c q_this_tile) */
    if (mode == 0 || !p->wgmma || !p->ws || !p->tma || p->MR != 1)
        return false;
    if (mode == 1)
        return true;
    /* by default where ptxas 13 keeps every product asynchronous without
     * spills: two computing warpgroups (three, at 192 rows, serialize),
     * head dim and key tile <= 128 (176 keys: 128 bytes spilled), a
     * document cut only with its boundary tiles' filter as bit words
     * (fa_plan_doc_bits; with the filter element by element 116 bytes
     * spilled in its loop, H100 run77; with the bits none, and 8 documents
     * 1-2% faster on the H200, run80),
     * and the overlapped loop: the plain one, correct since its fragments
     * are carried, was level or 1-2% slower with them (H100, run78: window
     * 1024 level, 2-D / 3-D / FLUX / HunyuanVideo NA +1-2%), the overlapped
     * grids 0.6-2% faster (FLUX and HunyuanVideo GNA). Persistent blocks
     * take it too: they free Q's bytes for the next item at once
     * (fa2_ws_q_wait) */
    return NVPTX_Q_REGS_BY_DEFAULT && p->overlap >= 1 && p->warps == 8 && p->D <= 128 && p->Tk <= 128 &&
           (p->span_param < 0 || p->doc_bits);
}

bool fa_plan_doc_bits(const fa_plan *p)
{
    /* bit 2 nb + e of an i32 word a row: Tk / 8 <= 16 column pairs of pairs */
    return nvptx_doc_bits_mode() != 0 && p->span_param >= 0 && p->span_mask && p->grid_ndim == 0 && p->Tk <= 128 &&
           p->Tk % 8 == 0 && p->overlap != 2;
}

bool fa_plan_o_stage(const fa_plan *p)
{
    /* a warpgroup per 64 rows, Dv <= D both multiples of 64: O's rows fit the bytes of Q's (nvptx_fa2_ostage.c);
     * persistent blocks, whose producer refills Q's bytes for the next item, stage O in bytes of its own when
     * they fit (fa_plan_from_tir) */
    return nvptx_o_stage_mode() != 0 && p->wgmma && p->ws && p->MR == 1 && p->warps % 4 == 0 &&
           p->warps <= 12 && p->Dv <= p->D && p->D % 64 == 0 && p->Dv % 64 == 0 && p->Tq == 16 * p->warps;
}
