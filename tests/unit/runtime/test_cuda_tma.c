/*
 * The tensor maps of TMA kernels (runtime/cuda/cuda_tma.h) as numbers: a
 * sequence's rank-4 map as the kernels always had it; 2-D grids {dim, x, y,
 * heads, batch} with the grid's row stride W*s; 3-D grids {dim, x, y, z,
 * hb} where heads and batch merge only when their strides allow it (BHSD,
 * or batch or heads 1), and BSHD with both > 1 is refused with a reason;
 * o's map (the staged O's TMA store): q's tokens and heads, v's head dim,
 * boxes of 64 rows, sequences only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "runtime/cuda/cuda_tma.h"

static nvptx_kernel_info info_for(int grid_ndim, const int *q, const int *kv)
{
    nvptx_kernel_info info;
    memset(&info, 0, sizeof info);
    info.tma = true;
    info.grid_ndim = grid_ndim;
    info.ndims = grid_ndim ? grid_ndim : 1;
    info.head_dim = info.head_dim_v = 128;
    info.kv_rows = 1;
    for (int d = 0; d < 3; d++) {
        info.q_tile[d] = q[d];
        info.kv_tile[d] = kv[d];
        info.kv_rows *= kv[d];
    }
    return info;
}

static void sequence_map(void **s)
{
    (void)s;
    int q[3] = {128, 1, 1}, kv[3] = {64, 1, 1};
    nvptx_kernel_info info = info_for(0, q, kv);
    int64_t size[SZ_MAX] = {0};
    size[SZ_BATCH] = 2, size[SZ_HEADS] = 4, size[SZ_KV_HEADS] = 2, size[SZ_TOKENS] = 300, size[SZ_KV_TOKENS] = 0;
    int64_t st[4] = {2 * 300 * 128, 300 * 128, 128, 1};
    cuda_tma_geom g;
    const char *why = NULL;
    assert_true(cuda_tma_geometry(&info, 1, size, st, &g, &why));
    assert_int_equal(g.rank, 4);
    assert_int_equal(g.gdim[1], 1); /* empty key range: one token, never copied */
    assert_int_equal(g.gdim[2], 2);
    assert_int_equal(g.box[1], 64);
    assert_int_equal(g.gstride[0], 256);
    assert_int_equal(g.gstride[2], 2 * 300 * 128 * 2);
}

static void o_store_map(void **s)
{
    (void)s;
    int q[3] = {128, 1, 1}, kv[3] = {64, 1, 1};
    nvptx_kernel_info info = info_for(0, q, kv);
    info.head_dim_v = 64;
    info.o_tma = true;
    int64_t size[SZ_MAX] = {0};
    size[SZ_BATCH] = 2, size[SZ_HEADS] = 4, size[SZ_KV_HEADS] = 2, size[SZ_TOKENS] = 300, size[SZ_KV_TOKENS] = 77;
    int64_t st[4] = {300 * 4 * 64, 64, 4 * 64, 1}; /* o in BSHD */
    cuda_tma_geom g;
    const char *why = NULL;
    assert_true(cuda_tma_geometry(&info, 3, size, st, &g, &why));
    uint64_t gd[4] = {64, 300, 4, 2}, gs[3] = {4 * 64 * 2, 64 * 2, 300 * 4 * 64 * 2};
    uint32_t box[4] = {64, 64, 1, 1};
    assert_int_equal(g.rank, 4);
    assert_memory_equal(g.gdim, gd, sizeof gd);
    assert_memory_equal(g.gstride, gs, sizeof gs);
    assert_memory_equal(g.box, box, sizeof box);
    info = info_for(2, (int[3]){8, 16, 1}, (int[3]){8, 16, 1});
    size[SZ_GRID0] = 15, size[SZ_GRID0 + 1] = 20;
    assert_false(cuda_tma_geometry(&info, 3, size, st, &g, &why));
    assert_non_null(strstr(why, "sequences"));
}

static void grid2d_bshd(void **s)
{
    (void)s;
    int q[3] = {8, 16, 1}, kv[3] = {16, 8, 1};
    nvptx_kernel_info info = info_for(2, q, kv);
    int64_t size[SZ_MAX] = {0};
    int64_t H = 21, W = 35, N = H * W;
    size[SZ_BATCH] = 2, size[SZ_HEADS] = 4, size[SZ_KV_HEADS] = 2, size[SZ_TOKENS] = size[SZ_KV_TOKENS] = N;
    size[SZ_GRID0] = H, size[SZ_GRID0 + 1] = W;
    int64_t st[4] = {N * 2 * 128, 128, 2 * 128, 1}; /* k in BSHD with 2 kv heads */
    cuda_tma_geom g;
    const char *why = NULL;
    assert_true(cuda_tma_geometry(&info, 0, size, st, &g, &why));
    assert_int_equal(g.rank, 5);
    assert_int_equal(g.box[1], 16); /* x innermost */
    assert_int_equal(g.box[2], 8);
    assert_true(cuda_tma_geometry(&info, 1, size, st, &g, &why));
    uint64_t gd[5] = {128, 35, 21, 2, 2}, gs[4] = {512, 512 * 35, 256, (uint64_t)N * 512};
    uint32_t box[5] = {64, 8, 16, 1, 1};
    assert_memory_equal(g.gdim, gd, sizeof gd);
    assert_memory_equal(g.gstride, gs, sizeof gs);
    assert_memory_equal(g.box, box, sizeof box);
    for (int i = 0; i < 4; i++)
        assert_int_equal(g.gstride[i] % 16, 0);
}

static void grid3d_merges(void **s)
{
    (void)s;
    int q[3] = {4, 4, 8}, kv[3] = {2, 8, 8};
    nvptx_kernel_info info = info_for(3, q, kv);
    int64_t size[SZ_MAX] = {0};
    int64_t T = 5, H = 13, W = 22, N = T * H * W;
    size[SZ_BATCH] = 2, size[SZ_HEADS] = 4, size[SZ_KV_HEADS] = 4, size[SZ_TOKENS] = size[SZ_KV_TOKENS] = N;
    size[SZ_GRID0] = T, size[SZ_GRID0 + 1] = H, size[SZ_GRID0 + 2] = W;
    int64_t bhsd[4] = {4 * N * 128, N * 128, 128, 1};
    cuda_tma_geom g;
    const char *why = NULL;
    assert_true(cuda_tma_geometry(&info, 2, size, bhsd, &g, &why));
    uint64_t gd[5] = {128, 22, 13, 5, 8}, gs[4] = {256, 256 * 22, 256 * 22 * 13, (uint64_t)N * 256};
    uint32_t box[5] = {64, 8, 8, 2, 1};
    assert_memory_equal(g.gdim, gd, sizeof gd);
    assert_memory_equal(g.gstride, gs, sizeof gs);
    assert_memory_equal(g.box, box, sizeof box);
    /* BSHD: heads and batch do not merge */
    int64_t bshd[4] = {N * 4 * 128, 128, 4 * 128, 1};
    assert_false(cuda_tma_geometry(&info, 0, size, bshd, &g, &why));
    assert_non_null(why);
    /* ... unless batch or heads is 1 */
    size[SZ_BATCH] = 1;
    assert_true(cuda_tma_geometry(&info, 0, size, bshd, &g, &why));
    assert_int_equal(g.gdim[4], 4);
    assert_int_equal(g.gstride[3], 256);
    size[SZ_BATCH] = 3, size[SZ_HEADS] = 1;
    int64_t one[4] = {N * 128, 128, 128, 1};
    assert_true(cuda_tma_geometry(&info, 0, size, one, &g, &why));
    assert_int_equal(g.gdim[4], 3);
    assert_int_equal(g.gstride[3], (uint64_t)N * 256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(sequence_map), cmocka_unit_test(o_store_map), cmocka_unit_test(grid2d_bshd),
                                       cmocka_unit_test(grid3d_merges)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
