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
 * pair-major for sinks || window only) and $ATTNC_ITEM_LIGHT_LAST. */
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

/* The PTX of bench/recipes/file under spec (NULL: the default) with the
 * environment variable name set to value (NULL: unset); the caller frees it. */
static char *switch_ptx(const char *file, const char *spec, const char *name, const char *value)
{
    arena a;
    arena_init(&a, NULL);
    strbuf ptx, err;
    sb_init(&ptx);
    sb_init(&err);
    if (bench_recipe_ptx_env(&a, file, spec, name, value, &ptx, &err))
        fail_msg("%s [%s]: %s", file, spec ? spec : "default", sb_cstr(&err));
    char *out = strdup(sb_cstr(&ptx));
    sb_free(&ptx);
    sb_free(&err);
    arena_free_all(&a);
    return out;
}

static char *pairs_ptx(const char *file, const char *spec, const char *value)
{
    return switch_ptx(file, spec, "ATTNC_ITEM_PAIRS", value);
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

/* $ATTNC_ITEM_LIGHT_LAST=1 (off by default): pair-major items take the
 * query tiles whose union range holds fewer key tiles last. Both roles map
 * items with that count, min(light, query tiles): 17 for sinks(4) ||
 * window 2047 at 128-row tiles (query tile 16's window reaches the sink
 * tile: 17 key tiles against 18 from tile 17 on), 9 for window 1023; by
 * rank order (causal under persist=1) has none; ptxas spills no more. */
static void light_tiles_last_under_pairs(void **state)
{
    (void)state;
    static const struct {
        const char *file, *spec, *min; /* min: the count's min.s32 operand, NULL: PTX unchanged */
    } cases[] = {
        {"sinks_swa_w2047.attn", NULL, ", 17;"},
        {"sinks_swa_w2047.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1", ", 17;"},
        {"swa_w1024.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1", NULL}, /* one box: no pairs */
        {"causal_d128.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *unset = switch_ptx(cases[i].file, cases[i].spec, "ATTNC_ITEM_LIGHT_LAST", NULL);
        char *on = switch_ptx(cases[i].file, cases[i].spec, "ATTNC_ITEM_LIGHT_LAST", "1");
        char *off = switch_ptx(cases[i].file, cases[i].spec, "ATTNC_ITEM_LIGHT_LAST", "0");
        assert_string_equal(unset, off);
        if (!cases[i].min) {
            assert_string_equal(on, off);
        } else {
            int mins = 0;
            for (const char *c = on; (c = strstr(c, "min.s32")) != NULL; c++) {
                const char *eol = strchr(c, '\n');
                const char *hit = strstr(c, cases[i].min);
                mins += hit && (!eol || hit < eol);
            }
            printf("  %-22s %-52s min.s32 ...%s in %d places\n", cases[i].file,
                   cases[i].spec ? cases[i].spec : "default", cases[i].min, mins);
            assert_true(strcmp(on, off) != 0);
            assert_int_equal(mins, 2); /* the producer's and the computing warps' item maps */
            int spill_on = -1, spill_off = -1;
            if (ptxas_available()) {
                strbuf log;
                sb_init(&log);
                assert_true(ptxas_check(on, "sm_90a", &log));
                spill_on = ptxas_spill_bytes(sb_cstr(&log));
                sb_free(&log);
                sb_init(&log);
                assert_true(ptxas_check(off, "sm_90a", &log));
                spill_off = ptxas_spill_bytes(sb_cstr(&log));
                sb_free(&log);
                printf("  spills %d -> %d bytes\n", spill_off, spill_on);
                assert_true(spill_on <= spill_off);
            }
        }
        free(unset), free(on), free(off);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(counter_only_under_the_switch),
                                       cmocka_unit_test(pairs_order_where_work_is_even),
                                       cmocka_unit_test(light_tiles_last_under_pairs)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
