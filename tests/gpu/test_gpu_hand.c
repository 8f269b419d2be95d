/* test_gpu_hand.c — the FA2 kernel (mma.sync and, on sm_90a, wgmma) on the GPU against the fp64 reference:
 * dense, causal, sliding window with softcap, 2-D neighborhood, GQA, BSHD
 * strides, token counts that divide no tile, and fully masked rows
 * (O = 0, LSE = -inf). Fresh random inputs each run (seed printed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "gpu_case.h"

static uint64_t seed;

static void run(const hand_cfg *cfg, const gpu_shape *sh, double tol)
{
    strbuf err;
    sb_init(&err);
    gpu_result r;
    attnc_status st = gpu_run_case(cfg, sh, seed++, &r, &err);
    if (st)
        fail_msg("GPU case failed (%s): %s", attnc_status_string(st), sb_cstr(&err));
    printf("  rel_l2 %.2e  max_abs %.2e  lse_max_abs %.2e  bad %ld  dead rows %ld\n", r.o_rel_l2, r.o_max_abs,
           r.lse_max_abs, r.bad, r.dead_rows);
    assert_int_equal(r.bad, 0);
    assert_true(r.o_rel_l2 <= tol);
    assert_true(r.lse_max_abs <= 2e-2);
    sb_free(&err);
}

static void dense_odd(void **s)
{
    (void)s;
    hand_cfg c = {.mask = HM_DENSE, .dt = DT_BF16, .head_dim = 128};
    gpu_shape sh = {.batch = 2, .heads = 3, .kv_heads = 3, .tokens = 300};
    run(&c, &sh, 1e-2);
}

static void causal_odd(void **s)
{
    (void)s;
    hand_cfg c = {.mask = HM_CAUSAL, .dt = DT_BF16, .head_dim = 128};
    gpu_shape sh = {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 517};
    run(&c, &sh, 1e-2);
}

static void causal_gqa_f16_bshd(void **s)
{
    (void)s;
    hand_cfg c = {.mask = HM_CAUSAL, .dt = DT_F16, .head_dim = 64, .schedule = "q=128 kv=64 stages=3 warps=4"};
    gpu_shape sh = {.batch = 2, .heads = 4, .kv_heads = 2, .tokens = 289, .bshd = true};
    run(&c, &sh, 5e-3);
}

static void window_softcap(void **s)
{
    (void)s;
    hand_cfg c = {.mask = HM_WINDOW, .window = 100, .dt = DT_BF16, .head_dim = 64, .softcap = true,
                  .schedule = "q=64 kv=32 stages=1 warps=4"};
    gpu_shape sh = {.batch = 1, .heads = 2, .kv_heads = 1, .tokens = 1000};
    run(&c, &sh, 1e-2);
}

static void nbhd_2d(void **s)
{
    (void)s;
    hand_cfg c = {.mask = HM_NBHD2D, .window = 3, .dt = DT_BF16, .head_dim = 128, .grid_ndim = 2,
                  .schedule = "q=8x16 kv=8x8 stages=2 warps=8"};
    gpu_shape sh = {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 20 * 37, .grid = {20, 37}};
    run(&c, &sh, 1e-2);
}

/* The wgmma (sm_90a) products: the same checks, explicit schedules. */
static void need_hopper(void)
{
    if (!gpu_hopper("wgmma"))
        skip();
}

/* Runs cfg with wgmma products, without and with the producer warpgroup. */
static void run_wgmma(const hand_cfg *cfg, const gpu_shape *sh, double tol)
{
    static const char *const kinds[] = {" mma=wgmma", " mma=wgmma_ws"};
    for (int i = 0; i < 2; i++) {
        char sched[256];
        snprintf(sched, sizeof sched, "%s%s", cfg->schedule, kinds[i]);
        hand_cfg c = *cfg;
        c.schedule = sched;
        printf("  %s\n", sched);
        run(&c, sh, tol);
    }
}

static void wgmma_dense_odd(void **s)
{
    (void)s;
    need_hopper();
    hand_cfg c = {.mask = HM_DENSE, .dt = DT_BF16, .head_dim = 128, .schedule = "q=128 kv=64 stages=2 warps=8"};
    gpu_shape sh = {.batch = 2, .heads = 3, .kv_heads = 3, .tokens = 300};
    run_wgmma(&c, &sh, 1e-2);
}

static void wgmma_causal_kv128(void **s)
{
    (void)s;
    need_hopper();
    hand_cfg c = {.mask = HM_CAUSAL, .dt = DT_BF16, .head_dim = 128,
                  .schedule = "q=128 kv=128 stages=2 warps=8"};
    gpu_shape sh = {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 517};
    run_wgmma(&c, &sh, 1e-2);
}

static void wgmma_causal_gqa_f16_bshd(void **s)
{
    (void)s;
    need_hopper();
    hand_cfg c = {.mask = HM_CAUSAL, .dt = DT_F16, .head_dim = 64, .schedule = "q=64 kv=64 stages=3 warps=4"};
    gpu_shape sh = {.batch = 2, .heads = 4, .kv_heads = 2, .tokens = 289, .bshd = true};
    run_wgmma(&c, &sh, 5e-3);
}

static void wgmma_window_softcap(void **s)
{
    (void)s;
    need_hopper();
    hand_cfg c = {.mask = HM_WINDOW, .window = 100, .dt = DT_BF16, .head_dim = 64, .softcap = true,
                  .schedule = "q=64 kv=32 stages=1 warps=4"};
    gpu_shape sh = {.batch = 1, .heads = 2, .kv_heads = 1, .tokens = 1000};
    run_wgmma(&c, &sh, 1e-2);
}

static void wgmma_nbhd_2d(void **s)
{
    (void)s;
    need_hopper();
    hand_cfg c = {.mask = HM_NBHD2D, .window = 3, .dt = DT_BF16, .head_dim = 128, .grid_ndim = 2,
                  .schedule = "q=8x16 kv=8x8 stages=2 warps=8"};
    gpu_shape sh = {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 20 * 37, .grid = {20, 37}};
    run_wgmma(&c, &sh, 1e-2);
}

/* mma=wgmma_ws on a 2-D grid: the producer copies each tile box with TMA
 * (rank-5 tensor maps, runtime/cuda/cuda_tma.h). Extents that divide no box
 * (edge boxes filled with zeros by TMA), GQA, BSHD strides, batch 2, key
 * boxes of 128 tokens in both orientations; and the same kernels with the
 * cp.async producer (ATTNC_GRID_TMA=0) for comparison. */
static void run_grid_ws(const hand_cfg *cfg, const gpu_shape *sh, double tol)
{
    for (int i = 0; i < 2; i++) {
        if (i)
            setenv("ATTNC_GRID_TMA", "0", 1);
        printf("  %s%s\n", cfg->schedule, i ? " (ATTNC_GRID_TMA=0: cp.async producer)" : " (TMA producer)");
        run(cfg, sh, tol);
        unsetenv("ATTNC_GRID_TMA");
    }
}

static void ws_tma_2d_gqa_bshd(void **s)
{
    (void)s;
    need_hopper();
    hand_cfg c = {.mask = HM_NBHD2D, .window = 3, .dt = DT_BF16, .head_dim = 128, .grid_ndim = 2,
                  .schedule = "q=8x16 kv=8x16 stages=2 warps=8 mma=wgmma_ws"};
    gpu_shape sh = {.batch = 2, .heads = 4, .kv_heads = 2, .tokens = 21 * 35, .grid = {21, 35}, .bshd = true};
    run_grid_ws(&c, &sh, 1e-2);
}

static void ws_tma_2d_kv16x8_f16(void **s)
{
    (void)s;
    need_hopper();
    hand_cfg c = {.mask = HM_NBHD2D, .window = 5, .dt = DT_F16, .head_dim = 64, .grid_ndim = 2,
                  .schedule = "q=8x16 kv=16x8 stages=3 warps=8 mma=wgmma_ws"};
    gpu_shape sh = {.batch = 2, .heads = 2, .kv_heads = 1, .tokens = 19 * 45, .grid = {19, 45}};
    run_grid_ws(&c, &sh, 5e-3);
}

static void ws_tma_2d_small_grid(void **s)
{
    (void)s;
    need_hopper();
    /* A grid smaller than one box in both dims: every box is an edge box. */
    hand_cfg c = {.mask = HM_NBHD2D, .window = 2, .dt = DT_BF16, .head_dim = 128, .grid_ndim = 2,
                  .schedule = "q=8x16 kv=8x8 stages=2 warps=8 mma=wgmma_ws"};
    gpu_shape sh = {.batch = 1, .heads = 3, .kv_heads = 3, .tokens = 5 * 11, .grid = {5, 11}, .bshd = true};
    run_grid_ws(&c, &sh, 1e-2);
}

static void wgmma_fully_masked_rows(void **s)
{
    (void)s;
    need_hopper();
    hand_cfg c = {.mask = HM_NONE_KEPT, .dt = DT_BF16, .head_dim = 64, .schedule = "q=64 kv=64 stages=2 warps=4"};
    gpu_shape sh = {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 77};
    run_wgmma(&c, &sh, 0);
}

static void sync_dense_odd(void **s)
{
    (void)s;
    hand_cfg c = {.mask = HM_DENSE, .dt = DT_BF16, .head_dim = 128, .schedule = "q=128 kv=64 stages=2 warps=8 mma=sync"};
    gpu_shape sh = {.batch = 2, .heads = 3, .kv_heads = 3, .tokens = 300};
    run(&c, &sh, 1e-2);
}

static void fully_masked_rows(void **s)
{
    (void)s;
    hand_cfg c = {.mask = HM_NONE_KEPT, .dt = DT_BF16, .head_dim = 64};
    gpu_shape sh = {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 77};
    run(&c, &sh, 0);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    seed = gpu_test_seed("ATTNC_TEST_SEED to repeat");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dense_odd),      cmocka_unit_test(causal_odd), cmocka_unit_test(causal_gqa_f16_bshd),
        cmocka_unit_test(window_softcap), cmocka_unit_test(nbhd_2d),    cmocka_unit_test(fully_masked_rows),
        cmocka_unit_test(sync_dense_odd), cmocka_unit_test(wgmma_dense_odd), cmocka_unit_test(wgmma_causal_kv128),
        cmocka_unit_test(wgmma_causal_gqa_f16_bshd), cmocka_unit_test(wgmma_window_softcap),
        cmocka_unit_test(wgmma_nbhd_2d), cmocka_unit_test(wgmma_fully_masked_rows),
        cmocka_unit_test(ws_tma_2d_gqa_bshd), cmocka_unit_test(ws_tma_2d_kv16x8_f16),
        cmocka_unit_test(ws_tma_2d_small_grid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
