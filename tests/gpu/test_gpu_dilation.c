/* test_gpu_dilation.c — the CUDA backend against the fp64 reference on the
 * dilated neighborhoods of tests/numeric/dilation_table.h, whose forward
 * kernels tile by dilation groups (strided query/key boxes of one group,
 * rows gathered by cp.async; docs/mask-analysis.md): extents divisible
 * neither by the dilation nor by the tiles, strides, causal dims, causal &&
 * dilation, and a union that keeps contiguous tiles. Schedules: auto,
 * mma.sync with small key tiles, and on sm_90a wgmma and the warp-specialised
 * producer (cp.async: a strided tile is no TMA box). Device outputs are
 * poisoned before each launch. Without a driver: "skipped: no CUDA driver". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_case.h"
#include "numeric/dilation_table.h"
#include "runtime/api/api_typed.h"

/* A schedule the device cannot run (wgmma before sm_90a) is skipped, not failed. */
static const char *const schedules[3][4] = {
    {NULL, "q=64 kv=16 stages=3 warps=4 mma=sync", "q=128 kv=64 stages=2 warps=8 mma=wgmma_ws",
     "q=64 kv=64 stages=2 warps=4 mma=wgmma"},
    {NULL, "q=4x16 kv=4x8 stages=2 warps=4 mma=sync", "q=8x16 kv=8x8 stages=2 warps=8 mma=wgmma_ws",
     "q=8x8 kv=8x8 stages=2 warps=4 mma=wgmma"},
    {NULL, "q=1x4x16 kv=1x4x8 stages=2 warps=4 mma=sync", NULL, NULL},
};

static void dilation_on_gpu(void **state)
{
    (void)state;
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int failed = 0;
    for (size_t i = 0; i < sizeof dilation_cases / sizeof dilation_cases[0]; i++) {
        const dilation_case *u = &dilation_cases[i];
        for (int s = 0; s < 4; s++)
            if (s == 0 || schedules[u->ndims - 1][s])
                failed += gpu_check_text_line(ctx, u->name, u->text, &u->shape, schedules[u->ndims - 1][s],
                                              3000 + 10 * i + (uint64_t)s);
    }
    attnc_context_destroy(ctx);
    assert_int_equal(failed, 0);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    const struct CMUnitTest tests[] = {cmocka_unit_test(dilation_on_gpu)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
