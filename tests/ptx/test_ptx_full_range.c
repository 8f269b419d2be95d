/* test_ptx_full_range.c — a run of full tiles in a key loop of its own
 * (codegen/nvptx_fa2_coords.c fa2_key_loops; $ATTNC_FULL_RANGE=1 against
 * =0, unset being on for token grids): dense (no mask), causal and GNA kernels hold more loops
 * (more wgmma), the new one with no -inf select (ptxas would otherwise
 * if-convert the partial tiles' mask into every iteration: SASS, HunyuanVideo
 * GNA 923 instructions a tile against 474 in the run's loop, causal D=128 778
 * against 509; sinks || window, part by part, 1008 against 579); documents
 * too (their run of tiles inside the query tile's document: SASS, 8 causal
 * documents 469 instructions in the run's loop against 1296). Through ptxas
 * when installed: no more spills with it than without. The kernels run on the GPU under
 * bench/runs/2026-12-05/run49.sh (PARTS=full). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "recipe_ptx.h"

typedef struct loop_marks {
    int wgmma, neg_inf_sel, spill;
} loop_marks;

static loop_marks kernel_marks(const char *file, const char *on)
{
    strbuf ptx, err;
    sb_init(&ptx);
    sb_init(&err);
    loop_marks m;
    if (!bench_recipe_ptx_env_spills(file, NULL, "ATTNC_FULL_RANGE", on, &ptx, &m.spill, &err))
        fail_msg("%s: %s", file, sb_cstr(&err));
    m.wgmma = ptx_count(sb_cstr(&ptx), "wgmma.mma_async");
    m.neg_inf_sel = ptx_count(sb_cstr(&ptx), "0fFF800000, %p");
    sb_free(&ptx);
    sb_free(&err);
    return m;
}

static void copy_only_where_it_serves(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        bool copy, grid; /* grid: one general loop and the run's, so the selects show the run's has none */
    } cases[] = {
        {"dense_d128.attn", true, false},  {"dense_d64.attn", true, false},       {"causal_d128.attn", true, false},
        {"swa_w1024.attn", true, false},   {"sinks_swa_w2047.attn", true, false}, {"hunyuan_gna.attn", true, true},
        {"flux_gna.attn", true, true},     {"na2d_k17.attn", true, true},         {"doc_causal.attn", true, false},
        {"na2d_k9_dil3_d64.attn", false, true}, /* dilation groups: no run loop (fa2_full_range_on) */
    };
    /* the switch's own cost: with the persistent kernel's staged O as well
     * (its own bytes and barrier, nvptx_fa2_ostage.c), ptxas 13 spilled
     * sinks + window's 56 bytes to 128-168 under this opt-in switch; and
     * with the union loop's empty tiles untested (the default) 48 -> 56:
     * the switch stays opt-in on sequences, so its cost is pinned against
     * the loop that tests them */
    setenv("ATTNC_O_STAGE", "0", 1);
    setenv("ATTNC_UNION_UNTESTED", "0", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        loop_marks off = kernel_marks(cases[i].file, "0"); /* unset: on for token grids */
        loop_marks on = kernel_marks(cases[i].file, "1");
        printf("  %-22s off: wgmma %d, -inf selects %d, spills %d; on: %d, %d, %d\n", cases[i].file, off.wgmma,
               off.neg_inf_sel, off.spill, on.wgmma, on.neg_inf_sel, on.spill);
        if (cases[i].copy && on.wgmma <= off.wgmma)
            fail_msg("%s: want the run's loop besides the general one (%d wgmma, had %d)", cases[i].file, on.wgmma,
                     off.wgmma);
        /* the run's loop keeps the softmax's guards of an all -inf row (a few), not the 64 of a tile's mask
         * (a sequence's general loops before and after the run hold the mask twice: SASS shows the rest) */
        if (cases[i].grid && on.neg_inf_sel > off.neg_inf_sel + 8)
            fail_msg("%s: the copy masks (%d -inf selects against %d)", cases[i].file, on.neg_inf_sel,
                     off.neg_inf_sel);
        if (!cases[i].copy && (on.wgmma != off.wgmma || on.neg_inf_sel != off.neg_inf_sel))
            fail_msg("%s: no copy here", cases[i].file);
        if (on.spill > off.spill)
            fail_msg("%s: spills (%d without the switch, %d with)", cases[i].file, off.spill, on.spill);
    }
    unsetenv("ATTNC_O_STAGE");
    unsetenv("ATTNC_UNION_UNTESTED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(copy_only_where_it_serves)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
