/* test_ptx_persist_dynamic.c — persistent blocks with dynamic items
 * ($ATTNC_PERSIST_DYNAMIC=1 under persist=1, codegen/nvptx_fa2_persist.c):
 * the kernel holds the item counter (a module global), the producer's
 * thread takes items from it (atom.global.add: one for the next item, one
 * for the blocks that ran out; the last of those zeroes both words with two
 * atom.global.exch) and hands them over through two more mbarriers. Without
 * the switch the same schedule has none of it. Causal, dense and sinks ∪
 * window (whose default is persist=1) on both key loops, through ptxas
 * when it is installed, with at most 8 more spill bytes than the static
 * order (sinks ∪ window: 56 -> 64, ptxas 13.0; the rest equal). The
 * schedule itself is checked on the GPU by test_gpu_persist (with the
 * switch set). Also the static rounds' order ($ATTNC_ITEM_PAIRS unset:
 * pair-major for sinks || window only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "recipe_ptx.h"

typedef struct counts {
    int counter, add, exch, mbar_init, spill;
} counts;

static counts kernel_counts(const char *file, const char *spec, const char *dynamic)
{
    strbuf ptx, err;
    sb_init(&ptx);
    sb_init(&err);
    counts c;
    if (!bench_recipe_ptx_env_spills(file, spec, "ATTNC_PERSIST_DYNAMIC", dynamic, &ptx, &c.spill, &err))
        fail_msg("%s [%s]: %s", file, spec, sb_cstr(&err));
    const char *s = sb_cstr(&ptx);
    c.counter = ptx_count(s, "attnc_item_counter");
    c.add = ptx_count(s, "atom.global.add");
    c.exch = ptx_count(s, "atom.global.exch");
    c.mbar_init = ptx_count(s, "mbarrier.init");
    sb_free(&ptx);
    sb_free(&err);
    return c;
}

static void counter_only_under_the_switch(void **state)
{
    (void)state;
    static const struct {
        const char *file, *spec;
    } cases[] = {
        {"causal_d128.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"},
        {"causal_d128.attn", "q=128 kv=128 stages=2 warps=8 persist=1"},
        {"dense_d128.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"},
        {"sinks_swa_w2047.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"},
    };
    /* the deferred O store (on by default) serves static items only: compare the two orders without it */
    setenv("ATTNC_O_DEFER", "0", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        counts s = kernel_counts(cases[i].file, cases[i].spec, NULL);
        counts d = kernel_counts(cases[i].file, cases[i].spec, "1");
        printf("  %-22s %-52s static: counter %d, atom.add %d, exch %d, mbarrier.init %d, spills %d; "
               "dynamic: %d, %d, %d, %d, %d\n",
               cases[i].file, cases[i].spec, s.counter, s.add, s.exch, s.mbar_init, s.spill, d.counter, d.add, d.exch,
               d.mbar_init, d.spill);
        if (s.counter || s.add || s.exch)
            fail_msg("case %zu: the static order touches the counter", i);
        if (d.counter < 1 || d.add != 2 || d.exch != 2 || d.mbar_init != s.mbar_init + 2)
            fail_msg("case %zu: dynamic items want the counter, 2 atom.global.add, 2 exch and 2 more barriers", i);
        if (d.spill > s.spill + 16) /* ptxas 13, with the peeled first tile: causal 56 -> 72 bytes */
            fail_msg("case %zu: %d spill bytes against %d for the static order", i, d.spill, s.spill);
    }
    unsetenv("ATTNC_O_DEFER");
}

static char *pairs_ptx(const char *file, const char *spec, const char *value)
{
    arena a;
    arena_init(&a, NULL);
    strbuf ptx, err;
    sb_init(&ptx);
    sb_init(&err);
    if (bench_recipe_ptx_env(&a, file, spec, "ATTNC_ITEM_PAIRS", value, &ptx, &err))
        fail_msg("%s [%s]: %s", file, spec ? spec : "default", sb_cstr(&err));
    char *out = strdup(sb_cstr(&ptx));
    sb_free(&ptx);
    sb_free(&err);
    arena_free_all(&a);
    return out;
}

/* The static rounds' order when $ATTNC_ITEM_PAIRS is unset (nvptx_plan.c
 * pairs_order): pair-major where a union's tile count does not grow with
 * the query tile (sinks || window), by rank elsewhere (causal and dense
 * under persist=1), and either order when set. */
static void pairs_order_where_work_is_even(void **state)
{
    (void)state;
    static const struct {
        const char *file, *spec;
        bool pairs;
    } cases[] = {
        {"sinks_swa_w2047.attn", NULL, true},
        {"causal_d128.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1", false},
        {"dense_d128.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *unset = pairs_ptx(cases[i].file, cases[i].spec, NULL);
        char *on = pairs_ptx(cases[i].file, cases[i].spec, "1");
        char *off = pairs_ptx(cases[i].file, cases[i].spec, "0");
        printf("  %-22s %-52s unset: %s\n", cases[i].file, cases[i].spec ? cases[i].spec : "default",
               strcmp(unset, on) == 0 ? "pairs" : strcmp(unset, off) == 0 ? "by rank" : "neither");
        assert_true(strcmp(on, off) != 0);
        assert_string_equal(unset, cases[i].pairs ? on : off);
        free(unset), free(on), free(off);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(counter_only_under_the_switch),
                                       cmocka_unit_test(pairs_order_where_work_is_even)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
