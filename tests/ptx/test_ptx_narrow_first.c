/* test_ptx_narrow_first.c — $ATTNC_NARROW_FIRST (codegen/nvptx_fa2_narrow.c,
 * on by default): a union range's first tile on its first 16 keys. By
 * default (unset) and under =1 the sinks + window kernel (every loop it
 * runs on: the default overlapped persistent one, the plain loop,
 * overlap=1, persist=1) gains one narrow S = Q K^T (m64n16k16, one per 16
 * head-dim columns: 8 at D = 128) and ptxas spills no more than without
 * it; under =0, and on masks without union parts (dense, causal), there is
 * none. Without ptxas only the PTX text is checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "recipe_ptx.h"

/* Narrow products in the PTX of bench/recipes/file under spec (NULL: the
 * default) with switch `name` set to `value` (NULL: unset); *spill:
 * ptxas's spill bytes (-1 without ptxas). ptxas must keep the products
 * asynchronous (no "are serialized" warning). */
static int narrow_products_env(const char *file, const char *spec, const char *name, const char *value, int *spill)
{
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx;
    sb_init(&err);
    sb_init(&ptx);
    if (bench_recipe_ptx_env(&a, file, spec, name, value, &ptx, &err))
        fail_msg("%s [%s]: %s", file, spec ? spec : "default", sb_cstr(&err));
    int n = ptx_count(sb_cstr(&ptx), "m64n16k16");
    *spill = -1;
    if (ptxas_available()) {
        strbuf log;
        sb_init(&log);
        if (!ptxas_check(sb_cstr(&ptx), "sm_90a", &log))
            fail_msg("%s [%s], %s=%s: ptxas refused it:\n%s", file, spec ? spec : "default", name,
                     value ? value : "(unset)", sb_cstr(&log));
        if (strstr(sb_cstr(&log), "are serialized") || strstr(sb_cstr(&log), "C751"))
            fail_msg("%s [%s], %s=%s: ptxas serialises the wgmma:\n%s", file, spec ? spec : "default", name,
                     value ? value : "(unset)", sb_cstr(&log));
        *spill = ptxas_spill_bytes(sb_cstr(&log));
        sb_free(&log);
    }
    sb_free(&err);
    sb_free(&ptx);
    arena_free_all(&a);
    return n;
}

static int narrow_products(const char *file, const char *spec, const char *value, int *spill)
{
    return narrow_products_env(file, spec, "ATTNC_NARROW_FIRST", value, spill);
}

static void narrow_only_where_it_applies(void **state)
{
    (void)state;
    static const struct {
        const char *file, *spec;
        int want; /* narrow products with the switch on */
    } cases[] = {
        {"sinks_swa_w2047.attn", NULL, 8},
        {"sinks_swa_w2047.attn", "q=128 kv=128 stages=2 warps=8", 8},
        {"sinks_swa_w2047.attn", "q=128 kv=128 stages=3 warps=8 overlap=1", 8},
        {"sinks_swa_w2047.attn", "q=128 kv=128 stages=2 warps=8 persist=1", 8},
        {"sinks_swa_w2047.attn", "q=128 kv=128 stages=2 warps=8 overlap=2", 0}, /* ping-pong: per-tile turns */
        {"dense_d128.attn", NULL, 0},
        {"causal_d128.attn", NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int spill_off, spill_on, spill_unset;
        int off = narrow_products(cases[i].file, cases[i].spec, "0", &spill_off);
        int on = narrow_products(cases[i].file, cases[i].spec, "1", &spill_on);
        int unset = narrow_products(cases[i].file, cases[i].spec, NULL, &spill_unset);
        printf("  %-22s %-42s narrow products: =0 %d, =1 %d, unset %d; spills %d -> %d bytes\n", cases[i].file,
               cases[i].spec ? cases[i].spec : "default", off, on, unset, spill_off, spill_on);
        assert_int_equal(off, 0);
        assert_int_equal(on, cases[i].want);
        assert_int_equal(unset, on); /* on by default */
        assert_int_equal(spill_unset, spill_on);
        assert_true(spill_on <= spill_off);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(narrow_only_where_it_applies)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
