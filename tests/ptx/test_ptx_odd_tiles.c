/* test_ptx_odd_tiles.c — sm_90a tiles that are not powers of two
 * (ir/schedule.c) through ptxas:
 *  - three computing warpgroups over a 192-row query tile (q=192 warps=12,
 *    FA3's head-dim-64 shape; three_warpgroups, codegen/nvptx_fa2_ws.c
 *    consumer_regs): 512 threads, the computing warps raised to the 160
 *    registers the 64K register file leaves them (a raise past it would
 *    never return), no spills on the plain and overlapped loops at head
 *    dim 64 and with 64-key tiles at 128;
 *  - key tiles of any multiple of 16 (wide_keys; FA3's 176 at head dim
 *    128): no spills and no serialised wgmma (ptxas C751x) on the plain
 *    and overlapped loops;
 * and the schedules that cannot run them refused with a reason. Without
 * ptxas: "skipped: no ptxas". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "recipe_ptx.h"

typedef struct odd_case {
    const char *recipe; /* under bench/recipes/ */
    const char *spec;
} odd_case;

static const odd_case wg3_cases[] = {
    {"dense_d64.attn", "q=192 kv=128 stages=2 warps=12"},
    {"dense_d64.attn", "q=192 kv=128 stages=2 warps=12 overlap=1"},
    {"causal_d64.attn", "q=192 kv=128 stages=2 warps=12"},
    {"causal_d64.attn", "q=192 kv=128 stages=2 warps=12 overlap=1"},
    {"causal_d64.attn", "q=192 kv=64 stages=3 warps=12"},
    {"dense_d128.attn", "q=192 kv=64 stages=2 warps=12"},
    {"doc_causal.attn", "q=192 kv=64 stages=2 warps=12"},
};

static const odd_case wide_cases[] = {
    {"dense_d128.attn", "q=128 kv=176 stages=2 warps=8 overlap=1"},
    {"dense_d128.attn", "q=128 kv=176 stages=2 warps=8"},
    {"dense_d128.attn", "q=128 kv=176 stages=2 warps=8 persist=1"},
    {"causal_d128.attn", "q=128 kv=176 stages=2 warps=8 overlap=1"},
    {"dense_d64.attn", "q=128 kv=176 stages=2 warps=8 overlap=1"},
    {"sinks_swa_w2047.attn", "q=128 kv=144 stages=2 warps=8 overlap=1"},
    {"dense_d64.attn", "q=192 kv=144 stages=2 warps=12"},
};

/* ptxas on one case: accepted, no spills, no serialised wgmma; the PTX
 * text to check further in ptx. */
static void assemble(const odd_case *c, nvptx_kernel_info *info, strbuf *ptx)
{
    arena a;
    arena_init(&a, NULL);
    strbuf err, log;
    sb_init(&err);
    sb_init(&log);
    if (bench_recipe_ptx(&a, c->recipe, c->spec, TARGET_SM90A, info, ptx, &err))
        fail_msg("%s [%s]: %s", c->recipe, c->spec, sb_cstr(&err));
    const char *why = ptxas_clean(sb_cstr(ptx), "sm_90a", &log);
    if (why)
        fail_msg("%s [%s]: %s:\n%s", c->recipe, c->spec, why, sb_cstr(&log));
    printf("  %-20s %-44s ok\n", c->recipe, c->spec);
    sb_free(&err);
    sb_free(&log);
    arena_free_all(&a);
}

static void three_warpgroups(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof wg3_cases / sizeof wg3_cases[0]; i++) {
        nvptx_kernel_info info;
        strbuf ptx;
        sb_init(&ptx);
        assemble(&wg3_cases[i], &info, &ptx);
        assert_int_equal(info.threads, 12 * 32 + 128);
        assert_int_equal(info.q_tile[0], 192);
        if (!strstr(sb_cstr(&ptx), "setmaxnreg.inc.sync.aligned.u32 160;"))
            fail_msg("%s [%s]: the computing warps are not raised to 160 registers", wg3_cases[i].recipe,
                     wg3_cases[i].spec);
        sb_free(&ptx);
    }
}

static void wide_key_tiles(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof wide_cases / sizeof wide_cases[0]; i++) {
        nvptx_kernel_info info;
        strbuf ptx;
        sb_init(&ptx);
        assemble(&wide_cases[i], &info, &ptx);
        char want[32]; /* S = Q K^T over the whole key tile: N = its keys */
        snprintf(want, sizeof want, "m64n%dk16", info.kv_rows);
        if (!strstr(sb_cstr(&ptx), want))
            fail_msg("%s [%s]: no %s product", wide_cases[i].recipe, wide_cases[i].spec, want);
        sb_free(&ptx);
    }
}

static void refused(const char *file, const char *spec, target_arch arch, const char *why)
{
    strbuf msg;
    sb_init(&msg);
    if (!bench_recipe_refused(file, spec, arch, why, &msg))
        fail_msg("%s", sb_cstr(&msg));
    printf("  refused [%s]\n", spec);
    sb_free(&msg);
}

static void refusals(void **state)
{
    (void)state;
    refused("dense_d64.attn", "q=192 kv=128 stages=2 warps=12 regs=even", TARGET_SM90A, "register shift");
    refused("dense_d64.attn", "q=192 kv=128 stages=2 warps=12 mma=wgmma", TARGET_SM90A, "producer warpgroup");
    refused("dense_d64.attn", "q=192 kv=128 stages=2 warps=12 overlap=2", TARGET_SM90A, "warps=8");
    refused("dense_d64.attn", "q=192 kv=64 stages=2 warps=12", TARGET_SM80, "q=192 with warps=12");
    refused("dense_d64.attn", "q=192 kv=64 stages=2 warps=8", TARGET_SM90A, "q=192 with warps=12");
    refused("dense_d128.attn", "q=128 kv=176 stages=2 warps=8", TARGET_SM80, "kv any multiple of 16");
    refused("dense_d128.attn", "q=128 kv=176 stages=2 warps=8 mma=sync", TARGET_SM90A, "kv any multiple of 16");
    refused("dense_d128.attn", "q=128 kv=200 stages=2 warps=8", TARGET_SM90A, "kv any multiple of 16");
    refused("dense_d128.attn", "q=128 kv=240 stages=1 warps=8 overlap=1", TARGET_SM90A, "registers");
    refused("dense_d64.attn", "q=192 kv=144 stages=2 warps=12 overlap=1", TARGET_SM90A, "registers");
    refused("flux_na.attn", "q=8x16 kv=8x24 stages=2 warps=8", TARGET_SM90A, "powers of two");
    refused("dense_d64.attn", "q=128 kv=64 stages=2 warps=12", TARGET_SM90A, "warps must be");
    refused("flux_na.attn", "q=12x16 kv=8x16 stages=2 warps=12", TARGET_SM90A, "powers of two");
}

int main(void)
{
    if (!ptxas_available()) {
        printf("skipped: no ptxas\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(three_warpgroups), cmocka_unit_test(wide_key_tiles),
                                       cmocka_unit_test(refusals)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
