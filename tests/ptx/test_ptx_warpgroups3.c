/* test_ptx_warpgroups3.c — three computing warpgroups over a 192-row query
 * tile (schedule q=192 warps=12, FA3's head-dim-64 shape; ir/schedule.c
 * three_warpgroups, codegen/nvptx_fa2_ws.c consumer_regs) through ptxas for
 * sm_90a: 512 threads, the computing warps raised to the 160 registers the
 * 64K register file leaves them (a raise past it would never return), no
 * spills on the plain and overlapped loops at head dim 64 and with 64-key
 * tiles at 128; and the schedules that cannot run it refused with a reason.
 * Without ptxas: "skipped: no ptxas". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "recipe_ptx.h"

typedef struct wg3_case {
    const char *recipe; /* under bench/recipes/ */
    const char *spec;
} wg3_case;

static const wg3_case cases[] = {
    {"dense_d64.attn", "q=192 kv=128 stages=2 warps=12"},
    {"dense_d64.attn", "q=192 kv=128 stages=2 warps=12 overlap=1"},
    {"causal_d64.attn", "q=192 kv=128 stages=2 warps=12"},
    {"causal_d64.attn", "q=192 kv=128 stages=2 warps=12 overlap=1"},
    {"causal_d64.attn", "q=192 kv=64 stages=3 warps=12"},
    {"dense_d128.attn", "q=192 kv=64 stages=2 warps=12"},
    {"doc_causal.attn", "q=192 kv=64 stages=2 warps=12"},
};

static void assembled(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const wg3_case *c = &cases[i];
        arena a;
        arena_init(&a, NULL);
        strbuf err, ptx, log;
        sb_init(&err);
        sb_init(&ptx);
        sb_init(&log);
        nvptx_kernel_info info;
        if (bench_recipe_ptx(&a, c->recipe, c->spec, TARGET_SM90A, &info, &ptx, &err))
            fail_msg("%s [%s]: %s", c->recipe, c->spec, sb_cstr(&err));
        assert_int_equal(info.threads, 12 * 32 + 128);
        assert_int_equal(info.q_tile[0], 192);
        if (!strstr(sb_cstr(&ptx), "setmaxnreg.inc.sync.aligned.u32 160;"))
            fail_msg("%s [%s]: the computing warps are not raised to 160 registers", c->recipe, c->spec);
        if (!ptxas_check(sb_cstr(&ptx), "sm_90a", &log))
            fail_msg("%s [%s]: ptxas rejected the PTX:\n%s", c->recipe, c->spec, sb_cstr(&log));
        int spill = ptxas_spill_bytes(sb_cstr(&log));
        if (spill)
            fail_msg("%s [%s]: %d bytes of spills\n%s", c->recipe, c->spec, spill, sb_cstr(&log));
        printf("  %-18s %-44s ok\n", c->recipe, c->spec);
        sb_free(&err);
        sb_free(&ptx);
        sb_free(&log);
        arena_free_all(&a);
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
    refused("dense_d64.attn", "q=192 kv=64 stages=2 warps=12", TARGET_SM80, "q=192 only with warps=12");
    refused("dense_d64.attn", "q=192 kv=64 stages=2 warps=8", TARGET_SM90A, "q=192 only with warps=12");
    refused("dense_d64.attn", "q=128 kv=64 stages=2 warps=12", TARGET_SM90A, "warps must be");
    refused("flux_na.attn", "q=12x16 kv=8x16 stages=2 warps=12", TARGET_SM90A, "powers of two");
}

int main(void)
{
    if (!ptxas_available()) {
        printf("skipped: no ptxas\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(assembled), cmocka_unit_test(refusals)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
