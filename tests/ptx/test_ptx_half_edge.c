/* test_ptx_half_edge.c — $ATTNC_HALF_EDGE=1 (codegen/nvptx_fa2_half.c,
 * off by default): the overlapped loop's edge tiles on a warpgroup's half.
 * Under =1 the sinks + window kernel (persistent, the default, and one
 * item a block) gains the half products: S = Q K^T on 64 keys
 * (m64n64k16, 8 at D = 128) in each of the two half arms, ptxas takes it
 * without serialising the wgmma, and — where nvdisasm is found — the key
 * loop keeps its size and its uniform registers: the edges run after it
 * (before it, the warpgroups' branches made ptxas 13.0 copy the loop's
 * descriptors with 38 R2UR a tile). Unset and =0 give the same PTX, with
 * no such product; masks without a class empty test (dense, causal) are
 * unchanged under =1. Without ptxas only the PTX text is checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "recipe_ptx.h"
#include "sass_run.h"

static char *ptx_under(const char *file, const char *spec, const char *value)
{
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx;
    sb_init(&err);
    sb_init(&ptx);
    if (bench_recipe_ptx_env(&a, file, spec, "ATTNC_HALF_EDGE", value, &ptx, &err))
        fail_msg("%s [%s], ATTNC_HALF_EDGE=%s: %s", file, spec ? spec : "default", value ? value : "(unset)",
                 sb_cstr(&err));
    char *out = strdup(sb_cstr(&ptx));
    sb_free(&err);
    sb_free(&ptx);
    arena_free_all(&a);
    assert_non_null(out);
    return out;
}

/* ptxas takes ptx without serialising its wgmma; its spill bytes. */
static int assembled(const char *ptx, const char *what)
{
    strbuf log;
    sb_init(&log);
    if (!ptxas_check(ptx, "sm_90a", &log))
        fail_msg("%s: ptxas refused it:\n%s", what, sb_cstr(&log));
    if (strstr(sb_cstr(&log), "are serialized") || strstr(sb_cstr(&log), "C751"))
        fail_msg("%s: ptxas serialises the wgmma:\n%s", what, sb_cstr(&log));
    int spill = ptxas_spill_bytes(sb_cstr(&log));
    sb_free(&log);
    return spill;
}

/* The key loop (16 products: S and P V, 8 each at D = 128): size, R2UR. */
static int key_loop(const char *ptx, int *r2ur)
{
    strbuf sass;
    sb_init(&sass);
    if (!sass_of(ptx, "sm_90a", &sass))
        fail_msg("no SASS:\n%s", sb_cstr(&sass));
    int n = sass_loop_with_hgmma(sb_cstr(&sass), 16, r2ur);
    sb_free(&sass);
    return n;
}

static void half_products_where_they_apply(void **state)
{
    (void)state;
    static const char *const specs[] = {NULL, "q=128 kv=128 stages=2 warps=8 overlap=1"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        const char *what = specs[i] ? specs[i] : "default";
        char *unset = ptx_under("sinks_swa_w2047.attn", specs[i], NULL);
        char *off = ptx_under("sinks_swa_w2047.attn", specs[i], "0");
        char *on = ptx_under("sinks_swa_w2047.attn", specs[i], "1");
        assert_string_equal(unset, off);
        assert_int_equal(ptx_count(off, "m64n64k16"), 0);
        int halves = ptx_count(on, "m64n64k16");
        printf("  sinks_swa_w2047 %-42s half products under =1: %d\n", what, halves);
        assert_int_equal(halves, 16);
        if (ptxas_available()) {
            int spill_off = assembled(off, "=0"), spill_on = assembled(on, "=1");
            printf("    spills %d -> %d bytes (outside the key loop: checked below where nvdisasm is found)\n",
                   spill_off, spill_on);
        }
        if (sass_tool() && ptxas_available()) {
            int r2ur_off, r2ur_on;
            int n_off = key_loop(off, &r2ur_off), n_on = key_loop(on, &r2ur_on);
            printf("    key loop: %d instructions, %d R2UR -> %d, %d\n", n_off, r2ur_off, n_on, r2ur_on);
            assert_true(n_off > 0 && n_on > 0);
            assert_true(n_on <= n_off + 16);
            assert_true(r2ur_on <= r2ur_off + 4); /* ptxas 13.0: 1 -> 2 persistent, 0 -> 4 one item a block */
        } else {
            printf("    key loop: skipped: no nvdisasm\n");
        }
        free(unset), free(off), free(on);
    }
}

static void unchanged_without_an_empty_test(void **state)
{
    (void)state;
    static const char *const files[] = {"dense_d128.attn", "causal_d128.attn", "swa_w1024.attn"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *off = ptx_under(files[i], NULL, "0");
        char *on = ptx_under(files[i], NULL, "1");
        printf("  %-18s =1 %s\n", files[i], strcmp(on, off) == 0 ? "unchanged" : "CHANGED");
        assert_string_equal(on, off);
        free(off), free(on);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(half_products_where_they_apply),
                                       cmocka_unit_test(unchanged_without_an_empty_test)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
