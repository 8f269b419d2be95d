/* test_ptx_l2_prefetch.c — $ATTNC_TMA_L2_AHEAD (codegen/nvptx_fa2_ws.c
 * prefetch_ahead): the forward's TMA producer fetches K and V of a tile
 * ahead into L2 only under the switch, with one prefetch per 64-column box
 * of each (the boxes its copies read), on every producer loop: the plain
 * one (3-D GNA boxes, five coordinates), the overlapped one (dense) and the
 * persistent overlapped one (sinks + window). ptxas must accept it; without
 * ptxas only the PTX text is checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "recipe_ptx.h"

/* Prefetch instructions in the PTX of bench/recipes/file under the switch
 * (NULL: unset); ptxas checks it when present. */
static int prefetches(const char *file, const char *ahead, const char *dims)
{
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx;
    sb_init(&err);
    sb_init(&ptx);
    if (bench_recipe_ptx_env(&a, file, NULL, "ATTNC_TMA_L2_AHEAD", ahead, &ptx, &err))
        fail_msg("%s: %s", file, sb_cstr(&err));
    int n = ptx_count(sb_cstr(&ptx), "cp.async.bulk.prefetch.tensor.");
    if (n && !strstr(sb_cstr(&ptx), dims))
        fail_msg("%s: prefetches are not %s (the copies' coordinates)", file, dims);
    if (ptxas_available()) {
        strbuf log;
        sb_init(&log);
        if (!ptxas_check(sb_cstr(&ptx), "sm_90a", &log))
            fail_msg("%s, ATTNC_TMA_L2_AHEAD=%s: ptxas refused it:\n%s", file, ahead ? ahead : "(unset)", sb_cstr(&log));
        sb_free(&log);
    }
    sb_free(&err);
    sb_free(&ptx);
    arena_free_all(&a);
    return n;
}

static void prefetch_only_under_the_switch(void **state)
{
    (void)state;
    static const struct {
        const char *file, *dims;
    } cases[] = {{"hunyuan_gna.attn", "tensor.5d.L2.global.tile"},
                 {"dense_d128.attn", "tensor.4d.L2.global.tile"},
                 {"sinks_swa_w2047.attn", "tensor.4d.L2.global.tile"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int off = prefetches(cases[i].file, NULL, cases[i].dims);
        int zero = prefetches(cases[i].file, "0", cases[i].dims);
        int on = prefetches(cases[i].file, "2", cases[i].dims);
        printf("  %s: unset %d, 0 %d, 2 %d prefetches\n", cases[i].file, off, zero, on);
        assert_int_equal(off, 0);
        assert_int_equal(zero, 0);
        /* D = 128: two 64-column boxes of K and two of V, per producer loop */
        if (on < 4 || on % 4)
            fail_msg("%s: %d prefetches under ATTNC_TMA_L2_AHEAD=2, want 4 per producer loop", cases[i].file, on);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(prefetch_only_under_the_switch)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
