/* test_gpu_unions.c — the CUDA backend against the fp64 reference on the
 * union masks of tests/numeric/union_table.h: key ranges made of parts
 * (sinks || window, several windows and blocks of keys, causal && union,
 * unions on a 2-D grid, cross attention), rows without keys, under auto,
 * mma.sync with small key tiles and the sm_90a TMA producer. Device outputs
 * are poisoned before each launch. Without a driver: "skipped: no CUDA
 * driver". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_case.h"
#include "numeric/union_table.h"
#include "runtime/api/api_typed.h"

/* Sequences: auto, mma.sync with small key tiles and 3 stages, and (on
 * sm_90a) the TMA producer; grids: auto and a small box. A schedule the
 * device cannot run (wgmma before sm_90a) is skipped, not failed. */
static const char *const seq_schedules[] = {NULL, "q=64 kv=16 stages=3 warps=4 mma=sync",
                                            "q=128 kv=64 stages=2 warps=8 mma=wgmma_ws"};
static const char *const grid_schedules[] = {NULL, "q=4x16 kv=4x8 stages=2 warps=4 mma=sync", NULL};

static int run_union(attnc_context *ctx, const union_case *u, const char *sched, uint64_t seed)
{
    gpu_text_run r;
    int ran = gpu_check_text(ctx, u->name, u->text, &u->shape, sched, seed, &r);
    if (ran <= 0)
        return ran < 0;
    bool ok = r.ok;
    const char *why = "";
    if (ok && u->empty_rows != (r.res.lse.empty_rows > 0))
        ok = false, why = u->empty_rows ? " (expected rows without keys)" : " (unexpected rows without keys)";
    printf("[%s] %s [%s]: %s%s%s\n", ok ? "PASS" : "FAIL", u->name, r.sched, r.res.msg, why, r.extra);
    return !ok;
}

static void unions_on_gpu(void **state)
{
    (void)state;
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int failed = 0;
    for (size_t i = 0; i < sizeof union_cases / sizeof union_cases[0]; i++) {
        const union_case *u = &union_cases[i];
        const char *const *scheds = strstr(u->text, "grid(") ? grid_schedules : seq_schedules;
        for (int s = 0; s < 3; s++)
            if (s == 0 || scheds[s])
                failed += run_union(ctx, u, scheds[s], 2000 + 10 * i + (uint64_t)s);
    }
    attnc_context_destroy(ctx);
    assert_int_equal(failed, 0);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    const struct CMUnitTest tests[] = {cmocka_unit_test(unions_on_gpu)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
