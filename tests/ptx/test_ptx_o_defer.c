/* test_ptx_o_defer.c — $ATTNC_O_DEFER (on by default; =1 against =0,
 * codegen/nvptx_fa2_overlap.c):
 * persistent blocks stage each item's O after its last P V and store it
 * under the next item's first S = Q K^T. Checked on the persistent kernels
 * it applies to (sinks + window with the narrow tile first or last, a
 * causal and a dense sequence under persist=1): the staged rows' global stores appear
 * three times (under the next item's S, before a loop whose first tile is
 * not peeled, after the last item) instead of once; ptxas keeps every
 * product asynchronous and injects no wait for the deferred half
 * (C7517: it did where that half read O's accumulators), and spills no
 * more than without the switch. Where it does not apply (one item a
 * block) the PTX is the same either way. Without ptxas
 * only the PTX text is checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "recipe_ptx.h"

/* The PTX of bench/recipes/file under spec (NULL: the default) with
 * $ATTNC_O_DEFER set to `value` (NULL: unset), into *ptx (the caller frees it); *spill: ptxas's spill
 * bytes (-1 without ptxas). */
static void defer_ptx(const char *file, const char *spec, const char *value, strbuf *ptx, int *spill)
{
    arena a;
    arena_init(&a, NULL);
    strbuf err;
    sb_init(&err);
    sb_init(ptx);
    nvptx_status st = bench_recipe_ptx_env(&a, file, spec, "ATTNC_O_DEFER", value, ptx, &err);
    if (st)
        fail_msg("%s [%s]: %s", file, spec ? spec : "default", sb_cstr(&err));
    *spill = -1;
    if (ptxas_available()) {
        strbuf log;
        sb_init(&log);
        if (!ptxas_check(sb_cstr(ptx), "sm_90a", &log))
            fail_msg("%s [%s], ATTNC_O_DEFER=%s: ptxas refused it:\n%s", file, spec ? spec : "default",
                     value ? value : "(unset)", sb_cstr(&log));
        if (strstr(sb_cstr(&log), "are serialized") || strstr(sb_cstr(&log), "C751"))
            fail_msg("%s [%s], ATTNC_O_DEFER=%s: ptxas waits for or serialises the wgmma:\n%s", file,
                     spec ? spec : "default", value ? value : "(unset)", sb_cstr(&log));
        *spill = ptxas_spill_bytes(sb_cstr(&log));
        sb_free(&log);
    }
    sb_free(&err);
    arena_free_all(&a);
}

static void deferred_store_where_it_applies(void **state)
{
    (void)state;
    static const struct {
        const char *file, *spec;
        int copies; /* of the staged rows' stores under =1 */
    } cases[] = {
        {"sinks_swa_w2047.attn", NULL, 3}, /* the narrow tile first */
        {"causal_d128.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1", 3},
        {"dense_d128.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1", 3},
        {"causal_d128.attn", NULL, 1}, /* one item a block */
        {"sinks_swa_w2047.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        strbuf on, off;
        int spill_on, spill_off;
        defer_ptx(cases[i].file, cases[i].spec, "1", &on, &spill_on);
        defer_ptx(cases[i].file, cases[i].spec, "0", &off, &spill_off);
        int stores_on = ptx_count(sb_cstr(&on), "st.global.v4.u32"), stores_off = ptx_count(sb_cstr(&off), "st.global.v4.u32");
        printf("  %-22s %-52s row stores %d -> %d, spills %d -> %d bytes\n", cases[i].file,
               cases[i].spec ? cases[i].spec : "default", stores_off, stores_on, spill_off, spill_on);
        assert_true(stores_off > 0);
        assert_int_equal(stores_on, cases[i].copies * stores_off);
        if (cases[i].copies == 1)
            assert_string_equal(sb_cstr(&on), sb_cstr(&off));
        assert_true(spill_on <= spill_off);
        sb_free(&on);
        sb_free(&off);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(deferred_store_where_it_applies)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
