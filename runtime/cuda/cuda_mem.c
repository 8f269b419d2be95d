/* cuda_mem.c — device memory and event-timer helpers (cuda_module.h) for
 * tests, the CLI and benchmarks; each reports driver errors as statuses. */
#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/cuda_module.h"

#include <stdlib.h>

/* Memory and timers may be used before any kernel is built (the tuner and
 * tests allocate first), so make sure some context is current: the primary
 * context of $ATTNC_DEVICE (default 0), retained for the process's life. */
static attnc_status ensure_context(const cuda_api *a, strbuf *err)
{
    CUcontext cur = NULL;
    if (a->cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur)
        return ATTNC_OK;
    const char *s = getenv("ATTNC_DEVICE");
    CUdevice dev;
    return cuda_context_acquire(s && *s ? atoi(s) : 0, &dev, err);
}

#define API(a, err)                                                                                \
    const cuda_api *a;                                                                             \
    {                                                                                              \
        attnc_status st_ = cuda_api_get(&a, err);                                                  \
        if (!st_)                                                                                  \
            st_ = ensure_context(a, err);                                                          \
        if (st_)                                                                                   \
            return st_;                                                                            \
    }

attnc_status cuda_mem_alloc(uint64_t *out, size_t bytes, strbuf *err)
{
    API(a, err);
    CUdeviceptr p = 0;
    attnc_status st = cuda_check(a, a->cuMemAlloc(&p, bytes ? bytes : 16), "cuMemAlloc", err);
    *out = st ? 0 : (uint64_t)p;
    return st;
}

void cuda_mem_free(uint64_t p)
{
    const cuda_api *a;
    if (p && cuda_api_get(&a, NULL) == ATTNC_OK)
        a->cuMemFree((CUdeviceptr)p);
}

attnc_status cuda_memcpy_htod(uint64_t dst, const void *src, size_t bytes, strbuf *err)
{
    API(a, err);
    return cuda_check(a, a->cuMemcpyHtoD((CUdeviceptr)dst, src, bytes), "cuMemcpyHtoD", err);
}

attnc_status cuda_memcpy_dtoh(void *dst, uint64_t src, size_t bytes, strbuf *err)
{
    API(a, err);
    return cuda_check(a, a->cuMemcpyDtoH(dst, (CUdeviceptr)src, bytes), "cuMemcpyDtoH", err);
}

attnc_status cuda_memset8(uint64_t dst, unsigned char v, size_t bytes, strbuf *err)
{
    API(a, err);
    return cuda_check(a, a->cuMemsetD8((CUdeviceptr)dst, v, bytes), "cuMemsetD8", err);
}

attnc_status cuda_synchronize(strbuf *err)
{
    API(a, err);
    return cuda_check(a, a->cuCtxSynchronize(), "cuCtxSynchronize (kernel execution)", err);
}

attnc_status cuda_timer_start(cuda_timer *t, strbuf *err)
{
    API(a, err);
    CUevent e0 = NULL, e1 = NULL;
    attnc_status st = cuda_check(a, a->cuEventCreate(&e0, CU_EVENT_DEFAULT), "cuEventCreate", err);
    if (!st)
        st = cuda_check(a, a->cuEventCreate(&e1, CU_EVENT_DEFAULT), "cuEventCreate", err);
    if (!st)
        st = cuda_check(a, a->cuEventRecord(e0, NULL), "cuEventRecord", err);
    if (st) {
        if (e0)
            a->cuEventDestroy(e0);
        if (e1)
            a->cuEventDestroy(e1);
        e0 = e1 = NULL;
    }
    t->start = e0;
    t->stop = e1;
    return st;
}

attnc_status cuda_timer_stop(cuda_timer *t, double *ms, strbuf *err)
{
    API(a, err);
    float f = 0;
    attnc_status st = cuda_check(a, a->cuEventRecord((CUevent)t->stop, NULL), "cuEventRecord", err);
    if (!st)
        st = cuda_check(a, a->cuEventSynchronize((CUevent)t->stop), "cuEventSynchronize", err);
    if (!st)
        st = cuda_check(a, a->cuEventElapsedTime(&f, (CUevent)t->start, (CUevent)t->stop), "cuEventElapsedTime",
                        err);
    a->cuEventDestroy((CUevent)t->start);
    a->cuEventDestroy((CUevent)t->stop);
    t->start = t->stop = NULL;
    *ms = f;
    return st;
}
