/* cuda_driver.c — dlopen of libcuda and error text (cuda_driver.h). The
 * library handle is kept for the life of the process: kernels and modules
 * made through it may outlive any one context. */
#include "runtime/cuda/cuda_driver.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#define XSTR(x) STR(x)
#define STR(x) #x

static once_flag load_once = ONCE_FLAG_INIT;
static cuda_api api;
static attnc_status load_status = ATTNC_ERR_NO_DRIVER;
static char load_msg[256];

static void *find(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (!p && !load_msg[0])
        strncpy(load_msg, name, sizeof load_msg - 1);
    return p;
}

static void load(void)
{
    const char *path = getenv("ATTNC_LIBCUDA");
    void *h = dlopen(path && *path ? path : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        strncpy(load_msg, "no CUDA driver (libcuda.so.1 not found)", sizeof load_msg - 1);
        return;
    }
    bool ok = true;
#define X(name) ok &= (api.name = (__typeof__(&name))find(h, XSTR(name))) != NULL;
    CUDA_DRIVER_FUNCS(X)
#undef X
    if (!ok) {
        char sym[128];
        strncpy(sym, load_msg, sizeof sym - 1);
        sym[sizeof sym - 1] = 0;
        snprintf(load_msg, sizeof load_msg, "the CUDA driver is too old: it lacks %s", sym);
        return;
    }
    /* Optional: only kernels that copy with TMA need it. */
    api.cuTensorMapEncodeTiled = (__typeof__(&cuTensorMapEncodeTiled))dlsym(h, "cuTensorMapEncodeTiled");
    api.cuMemcpy2DAsync = (__typeof__(&cuMemcpy2DAsync))dlsym(h, XSTR(cuMemcpy2DAsync));
    api.cuStreamCreate = (__typeof__(&cuStreamCreate))dlsym(h, "cuStreamCreate");
    api.cuStreamDestroy = (__typeof__(&cuStreamDestroy))dlsym(h, XSTR(cuStreamDestroy));
    CUresult r = api.cuInit(0);
    if (r != CUDA_SUCCESS) {
        const char *name = NULL;
        api.cuGetErrorName(r, &name);
        snprintf(load_msg, sizeof load_msg, "no usable CUDA device: cuInit: %s", name ? name : "?");
        return;
    }
    api.cuDriverGetVersion(&api.driver_version);
    load_status = ATTNC_OK;
}

attnc_status cuda_api_get(const cuda_api **out, strbuf *err)
{
    call_once(&load_once, load);
    *out = load_status == ATTNC_OK ? &api : NULL;
    if (load_status != ATTNC_OK && err)
        sb_puts(err, load_msg);
    return load_status;
}

attnc_status cuda_check(const cuda_api *a, CUresult r, const char *call, strbuf *err)
{
    if (r == CUDA_SUCCESS)
        return ATTNC_OK;
    const char *name = NULL, *text = NULL;
    if (a) {
        a->cuGetErrorName(r, &name);
        a->cuGetErrorString(r, &text);
    }
    if (err)
        sb_printf(err, "%s: %s: %s", call, name ? name : "CUDA_ERROR_?", text ? text : "unknown error");
    return ATTNC_ERR_CUDA;
}

int cuda_device_ordinal(void)
{
    const char *s = getenv("ATTNC_DEVICE");
    return s && *s ? atoi(s) : 0;
}

attnc_status cuda_context_acquire(int ordinal, CUdevice *dev, strbuf *err)
{
    const cuda_api *a;
    attnc_status st = cuda_api_get(&a, err);
    if (st)
        return st;
    CUcontext ctx;
    if ((st = cuda_check(a, a->cuDeviceGet(dev, ordinal), "cuDeviceGet", err)))
        return st;
    if ((st = cuda_check(a, a->cuDevicePrimaryCtxRetain(&ctx, *dev), "cuDevicePrimaryCtxRetain", err)))
        return st;
    st = cuda_check(a, a->cuCtxSetCurrent(ctx), "cuCtxSetCurrent", err);
    if (st)
        a->cuDevicePrimaryCtxRelease(*dev);
    return st;
}

void cuda_context_release(CUdevice dev)
{
    const cuda_api *a;
    if (cuda_api_get(&a, NULL) == ATTNC_OK)
        a->cuDevicePrimaryCtxRelease(dev);
}
