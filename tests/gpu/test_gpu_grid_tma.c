/* test_gpu_grid_tma.c — 2-D and 3-D neighborhoods on the CUDA backend
 * against the fp64 reference under the schedules that copy grid boxes with
 * TMA (mma=auto on sm_90a takes the TMA producer for grid boxes; explicit
 * mma=wgmma_ws boxes of 64 and 128 tokens in several orientations).
 * Shapes the rank-5 tensor maps cannot fold into one launch (3-D, batch 2,
 * several heads, [batch, tokens, heads, dim]) run one launch per batch entry
 * (cuda_tma_splits_batch); the rest fold. Extents divide no box, GQA, and
 * strided (GNA) windows. Device outputs are poisoned before each launch.
 * Without a driver: "skipped: no CUDA driver"; before sm_90a the TMA
 * schedules are skipped, the default still runs. $ATTNC_TEST_CASE=NAME
 * runs the cases whose name holds NAME. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_case.h"

#define QKV "input q, k, v : bf16 [batch, heads, tokens, 128]\n"
#define GRID2 QKV "tokens grid(y: H, x: W)\n"
#define GRID3 QKV "tokens grid(time: T, y: H, x: W)\n"
#define GQA "input q : bf16 [batch, heads, tokens, 128]\ninput k, v : bf16 [batch, kv_heads, tokens, 128]\n"

typedef struct grid_case {
    const char *name;
    const char *text; /* after "recipe NAME\n" */
    ref_shape shape;
    const char *scheds[4]; /* NULL first: the default; more NULLs end the list */
} grid_case;

static const grid_case cases[] = {
    {"na2d_bshd_gqa", GQA "tokens grid(y: H, x: W)\nmask neighborhood(window: (7, 9))\n",
     {.batch = 2, .heads = 4, .kv_heads = 2, .grid = {21, 35}, .bshd = true},
     {NULL, "q=8x16 kv=16x8 stages=2 warps=8 mma=wgmma_ws", "q=8x16 kv=8x16 stages=2 warps=8 mma=wgmma_ws"}},
    {"gna2d_stride", GRID2 "mask neighborhood(window: (9, 9), stride: (4, 8))\n",
     {.batch = 1, .heads = 2, .grid = {27, 37}},
     {NULL, "q=8x16 kv=8x16 stages=2 warps=8 mma=wgmma_ws"}},
    /* 3-D, batch 2, heads 3, BSHD: one launch per batch entry */
    {"na3d_bshd_batch2", GRID3 "mask neighborhood(window: (3, 5, 5))\n",
     {.batch = 2, .heads = 3, .grid = {5, 11, 13}, .bshd = true},
     {NULL, "q=4x8x4 kv=2x4x8 stages=2 warps=8 mma=wgmma_ws", "q=2x8x8 kv=2x8x8 stages=2 warps=8 mma=wgmma_ws"}},
    /* 3-D, batch 2, BHSD with GQA: folds when the batch stride is heads x the head stride */
    {"na3d_bhsd_gqa", GQA "tokens grid(time: T, y: H, x: W)\nmask neighborhood(window: (3, 7, 5))\n",
     {.batch = 2, .heads = 4, .kv_heads = 2, .grid = {6, 10, 9}},
     {NULL, "q=4x4x8 kv=4x4x4 stages=2 warps=8 mma=wgmma_ws"}},
    {"gna3d_stride", GRID3 "mask neighborhood(window: (4, 6, 6), stride: (2, 4, 4))\n",
     {.batch = 1, .heads = 2, .grid = {7, 13, 17}},
     {NULL, "q=2x8x8 kv=2x8x8 stages=2 warps=8 mma=wgmma_ws"}},
    /* defaults of compile_job.c: 3-D GNA boxes 2x8x8 with three stages;
     * a 2-D window of 64 or more per dim takes 16x8 key boxes */
    {"gna3d_boxes_stages3", GRID3 "mask neighborhood(window: (6, 12, 12), stride: (4, 8, 8))\n",
     {.batch = 1, .heads = 1, .grid = {9, 20, 19}},
     {NULL}},
    {"na2d_wide_window", GRID2 "mask neighborhood(window: (64, 64))\n",
     {.batch = 1, .heads = 1, .grid = {75, 83}},
     {NULL}},
    /* 2-D GNA boxes (8x16 here) default to the overlapped loop, which has
     * no empty-tile test on one-box ranges (nvptx_plan.c); edge tiles of a
     * grid the boxes do not divide are partial. A plain neighborhood
     * under the overlapped loop: partial tiles everywhere. */
    {"gna2d_boxes_overlap", GRID2 "mask neighborhood(window: (24, 40), stride: (8, 16))\n",
     {.batch = 1, .heads = 2, .grid = {37, 45}},
     {NULL, "q=8x16 kv=8x16 stages=3 warps=8 overlap=1", "q=8x16 kv=8x16 stages=2 warps=8 overlap=2"}},
    {"na2d_overlap", GRID2 "mask neighborhood(window: (7, 9))\n",
     {.batch = 2, .heads = 2, .grid = {21, 35}},
     {"q=8x16 kv=8x16 stages=2 warps=8 overlap=1"}},
    /* query tiles in slabs along the first dim (qgroup=, the GNA default):
     * 5 T-tiles in slabs of 2 (the last short) and of 8 (one short slab);
     * 2-D rows in pairs over an odd count */
    {"gna3d_qgroup", GRID3 "mask neighborhood(window: (6, 12, 12), stride: (4, 8, 8))\n",
     {.batch = 2, .heads = 2, .grid = {9, 20, 19}},
     {"q=2x8x8 kv=2x8x8 stages=3 warps=8 qgroup=2", "q=2x8x8 kv=2x8x8 stages=2 warps=8 qgroup=8",
      "q=2x8x8 kv=2x8x8 stages=3 warps=8 qgroup=1"}},
    {"gna2d_qgroup", GRID2 "mask neighborhood(window: (24, 40), stride: (16, 16))\n",
     {.batch = 1, .heads = 3, .grid = {37, 45}},
     {NULL, "q=8x16 kv=8x16 stages=2 warps=8 overlap=1 qgroup=2"}},
    /* slab positions in chunks of the last dim (qchunk=): 3 x-tiles in
     * chunks of 2 (the last short) and of 1, with slabs and without; a
     * chunk wider than the dim is one chunk; persistent blocks (their
     * producer numbers items the same way) */
    {"gna3d_qchunk", GRID3 "mask neighborhood(window: (6, 12, 12), stride: (4, 8, 8))\n",
     {.batch = 2, .heads = 2, .grid = {9, 20, 19}},
     {"q=2x8x8 kv=2x8x8 stages=3 warps=8 qgroup=2 qchunk=2", "q=2x8x8 kv=2x8x8 stages=3 warps=8 qchunk=2",
      "q=2x8x8 kv=2x8x8 stages=2 warps=8 qgroup=8 qchunk=5",
      "q=2x8x8 kv=2x8x8 stages=3 warps=8 persist=1 qgroup=2 qchunk=2"}},
};

static void grid_tma_on_gpu(void **state)
{
    (void)state;
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int failed = 0;
    const char *only = getenv("ATTNC_TEST_CASE"); /* cases whose name holds it (a sanitizer's time) */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int s = 0; s < 4 && (s == 0 || cases[i].scheds[s]) && (!only || strstr(cases[i].name, only)); s++)
            failed += gpu_check_text_line(ctx, cases[i].name, cases[i].text, &cases[i].shape, cases[i].scheds[s],
                                          7000 + 10 * i + (uint64_t)s);
    attnc_context_destroy(ctx);
    assert_int_equal(failed, 0);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    const struct CMUnitTest tests[] = {cmocka_unit_test(grid_tma_on_gpu)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
