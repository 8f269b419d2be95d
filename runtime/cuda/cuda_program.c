/* cuda_program.c — a module of several kernels and its workspace
 * (cuda_program.h). */
#include "runtime/cuda/cuda_program.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ir/target_info.h"
#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/cuda_jit.h"

struct cuda_program {
    int n;
    CUdevice dev;
    CUmodule mod;
    CUfunction fn[CUDA_PROGRAM_MAX_KERNELS];
    int threads[CUDA_PROGRAM_MAX_KERNELS], smem[CUDA_PROGRAM_MAX_KERNELS];
    pthread_mutex_t lock;
    CUdeviceptr ws;
    size_t ws_bytes;
    CUstream last_stream;
    CUevent last_done;
};

static attnc_status load(const cuda_api *a, cuda_program *p, const char *ptx, size_t len,
                         const cuda_program_kernel *kernels, strbuf *err)
{
    char *text = malloc(len + 1);
    if (!text)
        return ATTNC_ERR_NOMEM;
    memcpy(text, ptx, len);
    text[len] = 0;
    void *cubin = NULL;
    size_t size = 0;
    const char *by;
    attnc_status st = cuda_jit_load(a, p->dev, text, &p->mod, &cubin, &size, &by, err);
    free(cubin);
    for (int i = 0; !st && i < p->n; i++) {
        st = cuda_check(a, a->cuModuleGetFunction(&p->fn[i], p->mod, kernels[i].name), "cuModuleGetFunction", err);
        p->threads[i] = kernels[i].threads;
        p->smem[i] = kernels[i].smem_bytes;
        if (!st && p->smem[i] > target_info_of(TARGET_SM80)->smem_block_default) /* 48 KiB on every GPU target */
            st = cuda_check(a, a->cuFuncSetAttribute(p->fn[i], CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, p->smem[i]),
                            "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", err);
    }
    free(text);
    return st;
}

attnc_status cuda_program_load(cuda_program **out, const char *ptx, size_t len, const cuda_program_kernel *kernels,
                               int n, strbuf *err)
{
    *out = NULL;
    if (n < 1 || n > CUDA_PROGRAM_MAX_KERNELS)
        return ATTNC_ERR_INVALID_ARGUMENT;
    const cuda_api *a;
    attnc_status st = cuda_api_get(&a, err);
    if (st)
        return st;
    cuda_program *p = calloc(1, sizeof *p);
    if (!p)
        return ATTNC_ERR_NOMEM;
    p->n = n;
    p->dev = -1;
    pthread_mutex_init(&p->lock, NULL);
    st = cuda_context_acquire(cuda_device_ordinal(), &p->dev, err);
    if (st)
        p->dev = -1;
    else
        st = load(a, p, ptx, len, kernels, err);
    if (st) {
        cuda_program_destroy(p);
        return st;
    }
    *out = p;
    return ATTNC_OK;
}

void cuda_program_destroy(cuda_program *p)
{
    if (!p)
        return;
    const cuda_api *a;
    if (cuda_api_get(&a, NULL) == ATTNC_OK) {
        if (p->ws || p->last_done)
            a->cuCtxSynchronize();
        if (p->ws)
            a->cuMemFree(p->ws);
        if (p->last_done)
            a->cuEventDestroy(p->last_done);
        if (p->mod)
            a->cuModuleUnload(p->mod);
    }
    if (p->dev >= 0)
        cuda_context_release(p->dev);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Grows the workspace: the old one may still be in use by earlier runs. */
static attnc_status grow(const cuda_api *a, cuda_program *p, size_t bytes, strbuf *err)
{
    if (bytes <= p->ws_bytes && p->ws)
        return ATTNC_OK;
    if (p->ws) {
        attnc_status st = cuda_check(a, a->cuCtxSynchronize(), "cuCtxSynchronize", err);
        if (st)
            return st;
        a->cuMemFree(p->ws);
        p->ws = 0;
        p->ws_bytes = 0;
    }
    attnc_status st = cuda_check(a, a->cuMemAlloc(&p->ws, bytes ? bytes : 16), "cuMemAlloc (workspace)", err);
    if (!st)
        p->ws_bytes = bytes;
    return st;
}

attnc_status cuda_program_begin(cuda_program *p, void *stream, size_t bytes, uint64_t *ws, strbuf *err)
{
    pthread_mutex_lock(&p->lock);
    const cuda_api *a;
    attnc_status st = cuda_api_get(&a, err);
    CUstream s = (CUstream)stream;
    if (!st && p->last_done && p->last_stream != s)
        st = cuda_check(a, a->cuStreamWaitEvent(s, p->last_done, 0), "cuStreamWaitEvent", err);
    if (!st)
        st = grow(a, p, bytes, err);
    *ws = st ? 0 : (uint64_t)p->ws;
    return st;
}

attnc_status cuda_program_launch(cuda_program *p, int i, const int64_t grid[3], void **args, void *stream, strbuf *err)
{
    if (i < 0 || i >= p->n)
        return ATTNC_ERR_INVALID_ARGUMENT;
    if (grid[0] <= 0 || grid[1] <= 0 || grid[2] <= 0)
        return ATTNC_OK;
    if (grid[0] > INT32_MAX || grid[1] > 65535 || grid[2] > 65535) {
        sb_puts(err, "CUDA launch: the grid is too large");
        return ATTNC_ERR_INVALID_ARGUMENT;
    }
    const cuda_api *a;
    attnc_status st = cuda_api_get(&a, err);
    if (st)
        return st;
    CUresult r = a->cuLaunchKernel(p->fn[i], (unsigned)grid[0], (unsigned)grid[1], (unsigned)grid[2],
                                   (unsigned)p->threads[i], 1, 1, (unsigned)p->smem[i], (CUstream)stream, args, NULL);
    return cuda_check(a, r, "cuLaunchKernel", err);
}

attnc_status cuda_program_end(cuda_program *p, void *stream, strbuf *err)
{
    const cuda_api *a;
    attnc_status st = cuda_api_get(&a, err);
    if (!st && !p->last_done)
        st = cuda_check(a, a->cuEventCreate(&p->last_done, CU_EVENT_DISABLE_TIMING), "cuEventCreate", err);
    if (!st)
        st = cuda_check(a, a->cuEventRecord(p->last_done, (CUstream)stream), "cuEventRecord", err);
    p->last_stream = (CUstream)stream;
    pthread_mutex_unlock(&p->lock);
    return st;
}
