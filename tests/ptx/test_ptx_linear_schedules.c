/* test_ptx_linear_schedules.c — the causal linear recipes under every GPU
 * linear schedule (inter=state, chunked, chain; nvptx_linear_*.c) through
 * NVPTX and ptxas for sm_80 and sm_90a, with the launch shape each schedule
 * promises (inter=chain: 8 warps, grid.x 16, its module globals), the
 * schedule string round trip, and the refusals of inter=chain (non-causal
 * recipes, blocks other than 64). Spills are printed, not failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "source_tree.h"
#include "ptxas_run.h"
#include "recipe_ptx.h"

/* Emits recipe `name` under `spec` for arch; returns the nvptx status and
 * fills info and ptx. */
static nvptx_status emit(arena *a, const char *name, const char *spec, target_arch arch, nvptx_kernel_info *info,
                         strbuf *ptx, strbuf *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/recipes/%s", test_source_dir(), name);
    return recipe_ptx(a, path, spec, arch, info, ptx, err);
}

static void assembles(const char *name, const char *spec, target_arch arch)
{
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx, log;
    sb_init(&err);
    sb_init(&ptx);
    sb_init(&log);
    nvptx_kernel_info info;
    const char *an = arch == TARGET_SM80 ? "sm_80" : "sm_90a";
    if (emit(&a, name, spec, arch, &info, &ptx, &err))
        fail_msg("%s %s %s: %s", name, spec, an, sb_cstr(&err));
    if (!ptxas_check(sb_cstr(&ptx), an, &log))
        fail_msg("%s %s: ptxas %s rejected the PTX:\n%s", name, spec, an, sb_cstr(&log));
    int spill = ptxas_spill_bytes(sb_cstr(&log));
    printf("  %-18s %-24s %-6s threads %3d grid.x %2d smem %6d spill %d\n", name, spec, an, info.threads,
           info.grid_x_fixed, info.smem_bytes, spill);
    assert_int_equal(info.strategy, NVPTX_STRATEGY_LINEAR);
    if (strstr(spec, "chain")) {
        assert_int_equal(info.threads, 256);
        int segs = nvptx_lin_segments_mode();
        assert_int_equal(info.grid_x_fixed, segs < 0 ? 16 : segs);
        bool inc = segs > 16 && nvptx_lin_inclusive_mode() == 1; /* and the inclusive flags */
        /* the flags (bytes): 2 + 128 slots, and 128 inclusive flags */
        assert_non_null(strstr(sb_cstr(&ptx), inc ? "attnc_lin_sync[1032]" : "attnc_lin_sync[520]"));
        assert_true(!strstr(sb_cstr(&ptx), "attnc_lin_wsi") == !inc);
        assert_non_null(strstr(sb_cstr(&ptx), "attnc_lin_ws"));
        assert_non_null(strstr(sb_cstr(&ptx), "ld.acquire.gpu"));
    } else {
        assert_null(strstr(sb_cstr(&ptx), "attnc_lin_ws")); /* the old schedules use no globals */
    }
    sb_free(&err);
    sb_free(&ptx);
    sb_free(&log);
    arena_free_all(&a);
}

static void every_schedule(void **state)
{
    (void)state;
    static const char *recipes[] = {"lightning2.attn", "gated_linear.attn"};
    static const char *specs[] = {"block=64 inter=state", "block=64 inter=chunked", "block=64 inter=chain"};
    for (int r = 0; r < 2; r++)
        for (int s = 0; s < 3; s++)
            for (int arch = 0; arch < 2; arch++)
                assembles(recipes[r], specs[s], arch ? TARGET_SM90A : TARGET_SM80);
}

/* Sets (value non-NULL) or clears $name; returns whether it was set,
 * its old value in keep. */
static bool swap_env(const char *name, const char *value, char *keep, size_t n)
{
    const char *old = getenv(name);
    if (old)
        snprintf(keep, n, "%s", old);
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
    return old != NULL;
}

/* $ATTNC_LIN_SEGMENTS (nvptx_linear.h): inter=chain with 32 and 64
 * segments (512 slots), with and without $ATTNC_LIN_INCLUSIVE, still
 * assembles; the other schedules ignore them. */
static void more_segments(void **state)
{
    (void)state;
    char ks[16] = "", ki[16] = "";
    bool hs = swap_env("ATTNC_LIN_SEGMENTS", NULL, ks, sizeof ks);
    bool hi = swap_env("ATTNC_LIN_INCLUSIVE", NULL, ki, sizeof ki);
    static const char *values[] = {"32", "64", "8"};
    for (int incl = 0; incl < 2; incl++)
        for (int v = 0; v < 3; v++) {
            setenv("ATTNC_LIN_SEGMENTS", values[v], 1);
            setenv("ATTNC_LIN_INCLUSIVE", incl ? "1" : "0", 1);
            assembles("lightning2.attn", "block=64 inter=chain", TARGET_SM90A);
            assembles("gated_linear.attn", "block=64 inter=chain", TARGET_SM80);
            assembles("gated_linear.attn", "block=64 inter=chunked", TARGET_SM90A);
        }
    char junk[16];
    swap_env("ATTNC_LIN_SEGMENTS", hs ? ks : NULL, junk, sizeof junk);
    swap_env("ATTNC_LIN_INCLUSIVE", hi ? ki : NULL, junk, sizeof junk);
}

static void refused(const char *name, const char *spec, const char *why)
{
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx;
    sb_init(&err);
    sb_init(&ptx);
    nvptx_kernel_info info;
    assert_int_equal(emit(&a, name, spec, TARGET_SM90A, &info, &ptx, &err), NVPTX_UNSUPPORTED);
    if (!strstr(sb_cstr(&err), why))
        fail_msg("%s %s: refused with '%s', expected '%s'", name, spec, sb_cstr(&err), why);
    sb_free(&err);
    sb_free(&ptx);
    arena_free_all(&a);
}

static void chain_refusals(void **state)
{
    (void)state;
    refused("linear_elu.attn", "block=64 inter=chain", "causal recipes only");
    refused("lightning2.attn", "block=32 inter=chain", "block=64");
    refused("lightning2.attn", "block=128 inter=chain", "block=64");
}

static void chain_round_trip(void **state)
{
    (void)state;
    strbuf err, out;
    sb_init(&err);
    sb_init(&out);
    schedule s = schedule_default(1, TARGET_SM90A, true);
    assert_true(schedule_parse("block=64 inter=chain", 1, &s, &err));
    assert_int_equal(s.inter, INTER_CHAIN);
    schedule_print(&out, &s);
    assert_non_null(strstr(sb_cstr(&out), "inter=chain"));
    schedule t = schedule_default(1, TARGET_SM90A, true);
    assert_true(schedule_parse(sb_cstr(&out), 1, &t, &err));
    assert_int_equal(t.inter, INTER_CHAIN);
    assert_false(schedule_parse("inter=chains", 1, &t, &err));
    sb_free(&err);
    sb_free(&out);
}

int main(void)
{
    const struct CMUnitTest plain[] = {cmocka_unit_test(chain_round_trip)};
    int failed = cmocka_run_group_tests(plain, NULL, NULL);
    if (!ptxas_available()) {
        printf("skipped: no ptxas\n");
        return failed;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(every_schedule), cmocka_unit_test(more_segments),
                                       cmocka_unit_test(chain_refusals)};
    return failed | cmocka_run_group_tests(tests, NULL, NULL);
}
