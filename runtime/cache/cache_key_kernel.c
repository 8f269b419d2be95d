/* cache_key_kernel.c — the cache key of a lowered kernel: its canonical tile
 * IR text (tir_print renumbers values, so equal kernels print equal; code
 * generation reads nothing else of the recipe), the printed schedule and
 * the arch, followed by each code-generation switch of the environment that
 * is set (they change kernels); see cache.h. */
#include "codegen/nvptx_kernel.h"
#include "ir/tile_ir.h"
#include "runtime/cache/cache.h"

/* The environment switches read by code generation: each returns -1 when
 * unset, else its mode. A new switch joins the key by a line here. */
static const struct {
    const char *name;
    int (*mode)(void);
} codegen_switches[] = {
    {"grid_tma", nvptx_grid_tma_mode},     /* $ATTNC_GRID_TMA */
    {"doc_full", nvptx_doc_full_mode},     /* $ATTNC_DOC_FULL */
    {"mask_frames", nvptx_mask_frames_mode}, /* $ATTNC_MASK_FRAMES */
    {"ovl_split", nvptx_ovl_split_mode},   /* $ATTNC_OVL_SPLIT_PRODUCER */
    {"persist_dynamic", nvptx_persist_dynamic_mode}, /* $ATTNC_PERSIST_DYNAMIC */
    {"item_pairs", nvptx_item_pairs_mode},         /* $ATTNC_ITEM_PAIRS */
    {"union_untested", nvptx_union_untested_mode}, /* $ATTNC_UNION_UNTESTED */
    {"doc_table", nvptx_doc_table_mode},           /* $ATTNC_DOC_TABLE */
    {"peel_first", nvptx_peel_first_mode},         /* $ATTNC_PEEL_FIRST */
    {"peel_all", nvptx_peel_all_mode},             /* $ATTNC_PEEL_ALL */
    {"o_stage", nvptx_o_stage_mode},               /* $ATTNC_O_STAGE */
    {"o_tma", nvptx_o_tma_mode},                   /* $ATTNC_O_TMA */
    {"tanh_approx", nvptx_tanh_approx_mode},       /* $ATTNC_TANH_APPROX */
    {"full_range", nvptx_full_range_mode},         /* $ATTNC_FULL_RANGE */
    {"mask_inside", nvptx_mask_inside_mode},       /* $ATTNC_MASK_INSIDE */
    {"tma_fence", nvptx_tma_fence_mode},   /* $ATTNC_TMA_FENCE */
    {"ws_maxnreg", nvptx_ws_maxnreg_mode}, /* $ATTNC_WS_MAXNREG */
    {"tma_skip_empty", nvptx_tma_skip_empty_mode}, /* $ATTNC_TMA_SKIP_EMPTY */
    {"tma_l2_ahead", nvptx_tma_l2_ahead_mode},     /* $ATTNC_TMA_L2_AHEAD */
    {"narrow_first", nvptx_narrow_first_mode},     /* $ATTNC_NARROW_FIRST */
    {"o_defer", nvptx_o_defer_mode},               /* $ATTNC_O_DEFER */
    {"scale_fma", nvptx_scale_fma_mode},           /* $ATTNC_SCALE_FMA */
    {"skip_rescale", nvptx_skip_rescale_mode},     /* $ATTNC_SKIP_RESCALE */
    {"uniform_warp", nvptx_uniform_warp_mode},     /* $ATTNC_UNIFORM_WARP */
    {"max_tree", nvptx_max_tree_mode},             /* $ATTNC_MAX_TREE */
    {"q_regs", nvptx_q_regs_mode},                 /* $ATTNC_Q_REGS */
    {"doc_bits", nvptx_doc_bits_mode},             /* $ATTNC_DOC_BITS */
    {"lin_segs", nvptx_lin_segments_mode}, /* $ATTNC_LIN_SEGMENTS */
    {"lin_incl", nvptx_lin_inclusive_mode}, /* $ATTNC_LIN_INCLUSIVE */
    {"bwd_ring_release", nvptx_bwd_ring_release_mode}, /* $ATTNC_BWD_RING_RELEASE */
    {"bwd_ring_tma_first", nvptx_bwd_ring_tma_first_mode}, /* $ATTNC_BWD_RING_TMA_FIRST */
    {"bwd_ring_stages", nvptx_bwd_ring_stages_mode},   /* $ATTNC_BWD_RING_STAGES */
    {"bwd_ds_bufs", nvptx_bwd_ds_bufs_mode},           /* $ATTNC_BWD_DS_BUFS */
    {"bwd_dqf_bufs", nvptx_bwd_dqf_bufs_mode},         /* $ATTNC_BWD_DQF_BUFS */
    {"bwd_dq_writer", nvptx_bwd_dq_writer_mode},       /* $ATTNC_BWD_DQ_WRITER */
    {"bwd_dq_defer", nvptx_bwd_dq_defer_mode},         /* $ATTNC_BWD_DQ_DEFER */
};

bool cache_key_for_kernel(tir_kernel *k, const schedule *s, const char *arch, cache_key *out)
{
    strbuf ir, sched, target;
    sb_init(&ir);
    sb_init(&sched);
    sb_init(&target);
    tir_print(&ir, k);
    schedule_print(&sched, s);
    if (arch) {
        sb_puts(&target, arch);
        for (size_t i = 0; i < sizeof codegen_switches / sizeof codegen_switches[0]; i++) {
            int mode = codegen_switches[i].mode();
            if (mode >= 0)
                sb_printf(&target, " %s=%d", codegen_switches[i].name, mode);
        }
    }
    bool ok = !ir.failed && !sched.failed && !target.failed;
    if (ok) {
        cache_key_parts p = {sb_cstr(&ir), sb_cstr(&sched), arch ? sb_cstr(&target) : NULL, NULL};
        *out = cache_key_make(&p);
    }
    sb_free(&ir);
    sb_free(&sched);
    sb_free(&target);
    return ok;
}
