/*
 * cuda_tma.h — the shape of the q, k and v tensor maps a TMA kernel takes
 * (codegen/nvptx_kernel.h), as plain numbers: cuda_launch.c passes them to
 * cuTensorMapEncodeTiled, the AOT launchers compute the same in generated C
 * (aot_gen_source.c). Internal.
 *
 *   sequence  rank 4 {dim, tokens, heads, batch} (a dim of extent 1 takes
 *             the packed stride: it is never stepped over, and TMA wants
 *             strides that are multiples of 16 bytes)
 *   2-D grid  rank 5 {dim, x, y, heads, batch}: token y*W + x is at
 *             y*(W*s) + x*s for the token stride s
 *   3-D grid  rank 5 {dim, x, y, z, hb}: TMA has five dims, so heads and
 *             batch are one dim the kernel indexes with head + heads*batch;
 *             that needs batch 1, heads 1, or a batch stride of heads x the
 *             head stride ([batch, heads, tokens, dim] order); other
 *             layouts launch once per batch entry (cuda_tma_splits_batch)
 *
 * Boxes are {64 dims, the tile's extents innermost first, 1...}; what lies
 * outside the tensor is filled with zeros, as cp.async's src-size 0 does.
 */
#ifndef ATTNC_RUNTIME_CUDA_TMA_H
#define ATTNC_RUNTIME_CUDA_TMA_H

#include <stdbool.h>
#include <stdint.h>

#include "codegen/nvptx_kernel.h"

typedef struct cuda_tma_geom {
    int rank;
    uint64_t gdim[5];
    uint64_t gstride[4]; /* bytes, dims 1.. */
    uint32_t box[5];
} cuda_tma_geom;

/* The map of tensor t (0 q, 1 k, 2 v; 3 o, the staged O store's, sequences only) for a launch's sizes (by size_id)
 * and t's strides in elements. False, with the reason in *why, when the
 * strides cannot be described. */
bool cuda_tma_geometry(const nvptx_kernel_info *info, int t, const int64_t *size, const int64_t stride[4],
                       cuda_tma_geom *g, const char **why);

/* True when a 3-D grid TMA kernel cannot take this launch in one piece:
 * batch > 1 and q, k or v has heads > 1 with a batch stride other than
 * heads x the head stride (e.g. [batch, tokens, heads, dim]). The CUDA
 * backend then launches once per batch entry, where each map is
 * {dim, x, y, z, heads} and any strides work. strides: q, k, v. */
bool cuda_tma_splits_batch(const nvptx_kernel_info *info, const int64_t *size, const int64_t stride[3][4]);

#endif
