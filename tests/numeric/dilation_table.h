/* dilation_table.h — dilated neighborhoods (1-D sequences, 2-D and 3-D
 * grids) whose forward kernels use dilation-group tiling (tile_ir.h `dil`,
 * docs/mask-analysis.md "Dilation groups"): strided query and key tiles of
 * one dilation group. Extents are not divisible by the dilation (groups of
 * unequal length) nor by the tiles; strides, causal dims, a dim without
 * dilation, causal && dilation on a sequence and on a grid, and a union that keeps the
 * contiguous tiles (sinks carry no congruence). Shared by the CPU check
 * (test_dilation.c) and the GPU one (tests/gpu/test_gpu_dilation.c).
 * Header-only. */
#ifndef ATTNC_TESTS_DILATION_TABLE_H
#define ATTNC_TESTS_DILATION_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "reference/ref_check.h"

#define D_QKV "input q, k, v : bf16 [batch, heads, tokens, 64]\n"
#define D_GRID2 D_QKV "tokens grid(y: H, x: W)\n"
#define D_GRID3 D_QKV "tokens grid(time: T, y: H, x: W)\n"
#define D_SEQ(b, h, t) {.batch = (b), .heads = (h), .tokens = (t)}
#define D_G2(b, h, y, x) {.batch = (b), .heads = (h), .grid = {(y), (x)}}
#define D_G3(b, h, t, y, x) {.batch = (b), .heads = (h), .grid = {(t), (y), (x)}}

typedef struct dilation_case {
    const char *name;
    const char *text; /* after "recipe NAME\n" */
    ref_shape shape;
    int ndims;    /* tile dims: picks the schedules */
    bool grouped; /* the forward uses dilation-group tiling */
} dilation_case;

static const dilation_case dilation_cases[] = {
    {"seq_k9_d3", D_QKV "mask neighborhood(window: 9, dilation: 3)\n", D_SEQ(1, 2, 301), 1, true},
    /* ceil(L / δ) = 1 mod every query tile: the shorter groups' last query tile is empty */
    {"seq_empty_group_tile", D_QKV "mask neighborhood(window: 9, dilation: 3)\n", D_SEQ(1, 2, 194), 1, true},
    {"seq_k8_d4_stride2", D_QKV "mask neighborhood(window: 8, dilation: 4, stride: 2)\n", D_SEQ(2, 1, 259), 1, true},
    {"seq_k7_d2_causal", D_QKV "mask neighborhood(window: 7, dilation: 2, causal: true)\n", D_SEQ(1, 2, 250), 1,
     true},
    {"seq_causal_and_dilated", D_QKV "mask causal && neighborhood(window: 9, dilation: 5)\n", D_SEQ(1, 2, 233), 1,
     true},
    {"seq_dilated_or_sinks", D_QKV "mask neighborhood(window: 9, dilation: 3) || sinks(2)\n", D_SEQ(1, 2, 200), 1,
     false},
    {"grid_k9_d3", D_GRID2 "mask neighborhood(window: (9, 9), dilation: (3, 3))\n", D_G2(1, 2, 29, 31), 2, true},
    {"grid_empty_group_tiles", D_GRID2 "mask neighborhood(window: (5, 5), dilation: (2, 2))\n", D_G2(1, 2, 17, 26), 2,
     true},
    {"grid_causal_and_dilated", D_GRID2 "mask causal && neighborhood(window: (5, 5), dilation: (2, 2))\n",
     D_G2(1, 2, 13, 14), 2, true},
    {"grid_k5x7_d2x3", D_GRID2 "mask neighborhood(window: (5, 7), dilation: (2, 3))\n", D_G2(1, 2, 23, 22), 2, true},
    {"grid_one_dim_dilated", D_GRID2 "mask neighborhood(window: (5, 5), dilation: (1, 3))\n", D_G2(2, 1, 17, 22), 2,
     true},
    {"grid_d3_stride2", D_GRID2 "mask neighborhood(window: (6, 6), dilation: (3, 3), stride: (2, 2))\n",
     D_G2(1, 2, 26, 25), 2, true},
    {"grid3_causal_time",
     D_GRID3 "mask neighborhood(window: (3, 5, 5), dilation: (1, 2, 2), causal: (true, false, false))\n",
     D_G3(1, 2, 5, 11, 13), 3, true},
    {"grid3_all_dilated", D_GRID3 "mask neighborhood(window: (3, 3, 3), dilation: (2, 2, 2))\n", D_G3(1, 1, 7, 9, 10),
     3, true},
};

#endif
