/* cuda_launch.c — cuda_module_launch (cuda_module.h): checks what the
 * kernel itself relies on (16-byte rows, unit inner stride, sizes that fit
 * its 32-bit indices, grid limits), marshals the arguments by the kernel's
 * role table (codegen/kernel_abi.h) and launches. Nothing is launched on a bad
 * argument. */
#include <string.h>

#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/cuda_internal.h"
#include "runtime/cuda/cuda_tma.h"

/* One slot per kernel parameter (the driver reads each through a pointer
 * to it), filled by kernel_abi_marshal's walk of the kernel's role table
 * (kernel_abi.h), as the backward's are. */
typedef struct marshal {
    kabi_values v;
    kabi_slot slot[KABI_MAX_ARGS];
    CUtensorMap tmap[KABI_NMAPS];
    void *args[KABI_MAX_ARGS];
} marshal;

static attnc_status bad(strbuf *err, const char *what)
{
    sb_printf(err, "CUDA launch: %s", what);
    return ATTNC_ERR_INVALID_ARGUMENT;
}

static attnc_status check_tensor(const cuda_launch *a, int t, int esize, strbuf *err)
{
    const char *name = kabi_tensors[t].name;
    if (!a->ptr[t]) {
        sb_printf(err, "CUDA launch: tensor %s is NULL", name);
        return ATTNC_ERR_INVALID_ARGUMENT;
    }
    bool aligned = a->ptr[t] % 16 == 0 && a->stride[t][3] == 1;
    for (int i = 0; i < 3; i++) /* 16-byte rows; stride * esize could overflow (a dim of extent 1 takes any stride) */
        aligned &= a->stride[t][i] % (16 / esize) == 0;
    if (!aligned) {
        sb_printf(err,
                  "CUDA launch: tensor %s needs a 16-byte aligned base, unit stride in the last dim and "
                  "16-byte aligned rows",
                  name);
        return ATTNC_ERR_INVALID_ARGUMENT;
    }
    return ATTNC_OK;
}

static attnc_status check(const nvptx_kernel_info *info, const cuda_launch *a, strbuf *err)
{
    for (int t = 0; t < KABI_NTENSORS; t++) { /* the bf16/f16 tensors; lse is f32 rows, maybe NULL */
        attnc_status st = kabi_tensors[t].dim == KABI_DIM_NONE ? ATTNC_OK : check_tensor(a, t, 2, err);
        if (st)
            return st;
    }
    for (int i = 0; i < SZ_MAX; i++)
        if (a->size[i] < 0 || a->size[i] > INT32_MAX)
            return bad(err, "a size is negative or does not fit 32 bits");
    if (a->size[SZ_KV_HEADS] < 1 || a->size[SZ_HEADS] % a->size[SZ_KV_HEADS])
        return bad(err, "heads must be a multiple of kv_heads");
    if (a->size[SZ_HEADS] > 65535 || a->size[SZ_BATCH] > 65535)
        return bad(err, "batch and heads must be at most 65535");
    for (int i = 0; i < info->nparams; i++)
        if (!info->param_scalar[i] && !a->param_ptr[i])
            return bad(err, "a tensor param is NULL");
    return ATTNC_OK;
}

/* Every argument in table order; the maps must be encoded already. */
static void fill(marshal *m, const kernel_abi *abi, const cuda_launch *a)
{
    for (int t = 0; t < KABI_NTENSORS; t++) {
        m->v.ptr[t] = a->ptr[t];
        memcpy(m->v.stride[t], a->stride[t], sizeof a->stride[t]);
    }
    memcpy(m->v.size, a->size, sizeof a->size);
    memcpy(m->v.param_ptr, a->param_ptr, sizeof a->param_ptr);
    memcpy(m->v.param_scalar, a->param_scalar, sizeof a->param_scalar);
    void *maps[KABI_NMAPS];
    for (int t = 0; t < KABI_NMAPS; t++)
        maps[t] = &m->tmap[t];
    kernel_abi_marshal(abi, &m->v, m->slot, m->args, maps);
}

attnc_status cuda_tma_encode(const cuda_api *api, CUtensorMap *map, const nvptx_kernel_info *info, int t,
                             const int64_t *size, const int64_t stride[4], uint64_t ptr, strbuf *err)
{
    if (!api->cuTensorMapEncodeTiled)
        return bad(err, "this kernel copies with TMA but the driver lacks cuTensorMapEncodeTiled (CUDA 12+)");
    cuda_tma_geom g;
    const char *why = NULL;
    if (!cuda_tma_geometry(info, t, size, stride, &g, &why))
        return bad(err, why);
    cuuint64_t gdim[5], gstride[4];
    cuuint32_t box[5], estride[5] = {1, 1, 1, 1, 1};
    for (int i = 0; i < g.rank; i++) {
        gdim[i] = g.gdim[i];
        box[i] = g.box[i];
        if (i + 1 < g.rank)
            gstride[i] = g.gstride[i];
    }
    CUtensorMapDataType dt = info->dt == DT_F16 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    CUresult r = api->cuTensorMapEncodeTiled(map, dt, (cuuint32_t)g.rank, (void *)(uintptr_t)ptr, gdim, gstride, box,
                                             estride, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                             CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    return cuda_check(api, r, "cuTensorMapEncodeTiled", err);
}

/* The q, k, v tensor maps of a TMA kernel, and o's when it stores O by TMA
 * (nvptx_kernel.h; their shape cuda_tma.h); in the ABI's order. */
static attnc_status encode_maps(const cuda_api *api, marshal *m, const nvptx_kernel_info *info, const cuda_launch *a,
                                strbuf *err)
{
    for (int t = KABI_Q; t <= (info->o_tma ? KABI_O : KABI_V); t++) {
        attnc_status st = cuda_tma_encode(api, &m->tmap[t], info, t, a->size, a->stride[t], a->ptr[t], err);
        if (st)
            return st;
    }
    return ATTNC_OK;
}

attnc_status cuda_module_launch(cuda_module *k, const cuda_launch *a, void *stream, strbuf *err)
{
    const nvptx_kernel_info *info = cuda_module_info(k);
    attnc_status st = check(info, a, err);
    if (st)
        return st;
    int64_t gx = nvptx_grid_x(info, a->size);
    if (gx == 0 || a->size[SZ_HEADS] == 0 || a->size[SZ_BATCH] == 0)
        return ATTNC_OK; /* nothing to compute */
    if (gx > INT32_MAX)
        return bad(err, "too many query tiles");
    int64_t grid[3] = {gx, a->size[SZ_HEADS], a->size[SZ_BATCH]};
    if (info->persistent) { /* one block per SM over the items, at most one per item */
        int64_t items = gx * grid[1] * grid[2], sms = cuda_module_sms(k);
        if (items > INT32_MAX)
            return bad(err, "too many query tiles");
        grid[0] = sms > 0 && sms < items ? sms : items;
        grid[1] = grid[2] = 1;
    }
    const cuda_api *api;
    if ((st = cuda_api_get(&api, err)))
        return st;
    marshal m;
    memset(&m, 0, sizeof m);
    if (info->tma && (st = encode_maps(api, &m, info, a, err)))
        return st;
    kernel_abi abi;
    nvptx_kernel_abi(info, &abi);
    fill(&m, &abi, a);
    if (info->serial) {
        pthread_mutex_lock(cuda_serial_lock(k));
        st = cuda_serial_begin(k, (CUstream)stream, err);
    }
    if (!st) {
        CUresult r = api->cuLaunchKernel(cuda_module_function(k), (unsigned)grid[0], (unsigned)grid[1],
                                         (unsigned)grid[2], (unsigned)info->threads, 1, 1,
                                         (unsigned)info->smem_bytes, (CUstream)stream, m.args, NULL);
        st = cuda_check(api, r, "cuLaunchKernel", err);
    }
    if (info->serial) {
        if (!st)
            st = cuda_serial_done(k, (CUstream)stream, err);
        pthread_mutex_unlock(cuda_serial_lock(k));
    }
    return st;
}
