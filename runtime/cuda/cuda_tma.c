/* cuda_tma.c — the tensor maps of TMA kernels as numbers; see cuda_tma.h. */
#include "runtime/cuda/cuda_tma.h"

#include <string.h>

enum { ESIZE = 2 }; /* bf16 / f16 */

/* Extent-1 dims are never stepped over; give them a stride TMA accepts. */
static uint64_t stride_of(int64_t extent, int64_t stride, uint64_t packed)
{
    return extent == 1 ? packed : (uint64_t)stride * ESIZE;
}

bool cuda_tma_geometry(const nvptx_kernel_info *info, int t, const int64_t *size, const int64_t stride[4],
                       cuda_tma_geom *g, const char **why)
{
    memset(g, 0, sizeof *g);
    bool q_side = t == KABI_Q || t == KABI_O; /* o: the staged O tile's store (info->o_tma), q's tokens and heads */
    int dim = t == KABI_V || t == KABI_O ? info->head_dim_v : info->head_dim;
    const int *ext = q_side ? info->q_tile : info->kv_tile;
    int64_t heads = size[q_side ? SZ_HEADS : SZ_KV_HEADS], batch = size[SZ_BATCH];
    int nd = info->grid_ndim;
    g->gdim[0] = (uint64_t)dim;
    g->box[0] = 64;
    if (nd == 0) { /* as the sequence kernels always had it */
        int64_t tokens = size[q_side ? SZ_TOKENS : SZ_KV_TOKENS];
        g->rank = 4;
        g->gdim[1] = (uint64_t)(tokens > 0 ? tokens : 1); /* an empty key range is never copied */
        g->gdim[2] = (uint64_t)heads;
        g->gdim[3] = (uint64_t)batch;
        g->gstride[0] = stride_of(g->gdim[1], stride[2], (uint64_t)dim * ESIZE);
        g->gstride[1] = stride_of(heads, stride[1], g->gstride[0] * g->gdim[1]);
        g->gstride[2] = stride_of(batch, stride[0], g->gstride[1] * (uint64_t)heads);
        g->box[1] = (uint32_t)(t == KABI_O ? 64 : t == KABI_Q ? info->q_tile[0] : info->kv_rows); /* o: a warpgroup's rows */
        g->box[2] = g->box[3] = 1;
        return true;
    }
    if (t == KABI_O) {
        *why = "O is stored by TMA on token sequences only";
        return false;
    }
    if (nd != 2 && nd != 3) {
        *why = "TMA copies grids of 2 or 3 dims";
        return false;
    }
    g->rank = 5;
    uint64_t span = (uint64_t)stride[2] * ESIZE; /* one token */
    g->gstride[0] = span;
    for (int i = 0; i < nd; i++) { /* innermost (x, the last grid dim) first */
        int64_t e = size[SZ_GRID0 + nd - 1 - i];
        g->gdim[1 + i] = (uint64_t)(e > 0 ? e : 1);
        g->box[1 + i] = (uint32_t)ext[nd - 1 - i];
        if (i + 1 < nd) {
            span *= g->gdim[1 + i];
            g->gstride[1 + i] = span;
        }
    }
    span *= g->gdim[nd];
    if (nd == 2) {
        g->gdim[3] = (uint64_t)heads;
        g->gdim[4] = (uint64_t)batch;
        g->gstride[2] = stride_of(heads, stride[1], span);
        g->gstride[3] = stride_of(batch, stride[0], g->gstride[2] * (uint64_t)heads);
        g->box[3] = g->box[4] = 1;
        return true;
    }
    g->box[4] = 1;
    if (heads * batch > INT32_MAX) { /* hb is a signed 32-bit coordinate */
        *why = "a 3-D grid kernel that copies with TMA needs heads x batch below 2^31";
        return false;
    }
    if (batch == 1) {
        g->gdim[4] = (uint64_t)heads;
        g->gstride[3] = stride_of(heads, stride[1], span);
    } else if (heads == 1) { /* hb = batch */
        g->gdim[4] = (uint64_t)batch;
        g->gstride[3] = (uint64_t)stride[0] * ESIZE;
    } else if (stride[0] == heads * stride[1]) {
        g->gdim[4] = (uint64_t)(heads * batch);
        g->gstride[3] = (uint64_t)stride[1] * ESIZE;
    } else {
        *why = "a 3-D grid kernel that copies with TMA needs q, k and v with a batch stride of heads x the head "
               "stride ([batch, heads, tokens, dim] order), or batch or heads 1 (build it with ATTNC_GRID_TMA=0 "
               "or mma=wgmma for other layouts)";
        return false;
    }
    return true;
}

bool cuda_tma_splits_batch(const nvptx_kernel_info *info, const int64_t *size, const int64_t stride[3][4])
{
    if (!info->tma || info->grid_ndim != 3 || size[SZ_BATCH] < 2)
        return false;
    for (int t = 0; t < 3; t++) {
        int64_t heads = size[t == 0 ? SZ_HEADS : SZ_KV_HEADS];
        if (heads > 1 && stride[t][0] != heads * stride[t][1])
            return true;
    }
    return false;
}
