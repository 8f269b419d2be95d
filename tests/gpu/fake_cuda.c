/* fake_cuda.c — a stand-in libcuda for tests on machines without a GPU
 * (loaded through $ATTNC_LIBCUDA). Memory is host memory, modules are the
 * PTX text, a launch records its configuration and arguments (by the kernel
 * ABI of codegen/nvptx_kernel.h) instead of running. It checks what the real
 * driver would refuse: unknown kernel names, dynamic shared memory over the
 * opt-in limit or above 48 KB without the attribute. A tensor map holds
 * what it was encoded from (fake_map), and a launch copies the maps it was
 * passed (the entry's trailing 128-byte parameters in the PTX). */
#include <cuda.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/expr.h"

/* What cuTensorMapEncodeTiled was given, kept in the map's 128 bytes. */
typedef struct fake_map {
    uint32_t magic, rank; /* FAKE_MAP_MAGIC */
    uint64_t addr, dim[5], stride[4];
    uint32_t box[5];
    int32_t dtype, swizzle, l2;
} fake_map;
enum { FAKE_MAP_MAGIC = 0x7a4d4150, FAKE_MAX_MAPS = 4 };

typedef struct fake_launch {
    unsigned grid[3], block[3], smem;
    int count;
    uint64_t ptr[5];
    int64_t stride[19];
    int32_t size[SZ_MAX];
    int nparams, nmaps; /* the entry's parameters in the PTX, its 128-byte (map) ones */
    fake_map maps[FAKE_MAX_MAPS];
} fake_launch;

static fake_launch last;
/* A function: its module (the PTX text) and entry name. */
enum { MAX_FNS = 1024 };
static struct fake_fn {
    CUmodule mod;
    char name[120];
} fns[MAX_FNS];

static CUmodule module_of(CUfunction f)
{
    return ((struct fake_fn *)f)->mod;
}

/* Dynamic shared-memory opt-in per module (its kernels share one: a
 * program's largest): several modules may be loaded at once. */
enum { MAX_FUNCS = 64 };
static struct {
    CUmodule f;
    int optin;
} funcs[MAX_FUNCS];

static int *optin_of(CUmodule f)
{
    for (int i = 0; i < MAX_FUNCS; i++)
        if (funcs[i].f == f)
            return &funcs[i].optin;
    for (int i = 0; i < MAX_FUNCS; i++)
        if (!funcs[i].f) {
            funcs[i].f = f;
            funcs[i].optin = 48 * 1024;
            return &funcs[i].optin;
        }
    return &funcs[0].optin; /* full: tests never load this many */
}

static int links; /* PTX compiled by the driver (cuModuleLoadDataEx; cuLinkComplete): a cubin adds none */

__attribute__((visibility("default"))) const fake_launch *fake_cuda_last_launch(void)
{
    return &last;
}

__attribute__((visibility("default"))) int fake_cuda_link_count(void)
{
    return links;
}

CUresult cuInit(unsigned f) { (void)f; return CUDA_SUCCESS; }
CUresult cuDriverGetVersion(int *v) { *v = 13000; return CUDA_SUCCESS; }
CUresult cuGetErrorName(CUresult e, const char **s) { *s = e ? "CUDA_ERROR_FAKE" : "CUDA_SUCCESS"; return CUDA_SUCCESS; }
CUresult cuGetErrorString(CUresult e, const char **s) { *s = e ? "refused by the fake driver" : "no error"; return CUDA_SUCCESS; }
CUresult cuDeviceGet(CUdevice *d, int o) { *d = o; return o == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return CUDA_SUCCESS; }
CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d)
{
    (void)d;
    *v = a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ? 9 : a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ? 0 : 1;
    return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char *n, int len, CUdevice d) { (void)d; strncpy(n, "fake", (size_t)len); return CUDA_SUCCESS; }
CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) { (void)d; *c = (CUcontext)&last; return CUDA_SUCCESS; }
CUresult cuDevicePrimaryCtxRelease(CUdevice d) { (void)d; return CUDA_SUCCESS; }
CUresult cuCtxSetCurrent(CUcontext c) { (void)c; return CUDA_SUCCESS; }
CUresult cuCtxGetCurrent(CUcontext *c) { *c = (CUcontext)&last; return CUDA_SUCCESS; }
CUresult cuCtxSynchronize(void) { return CUDA_SUCCESS; }

CUresult cuLinkCreate(unsigned n, CUjit_option *o, void **v, CUlinkState *s)
{
    (void)n, (void)o, (void)v;
    *s = calloc(1, sizeof(char *));
    return *s ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}
CUresult cuLinkAddData(CUlinkState s, CUjitInputType t, void *data, size_t size, const char *name, unsigned n,
                       CUjit_option *o, void **v)
{
    (void)name, (void)n, (void)o, (void)v;
    if (t != CU_JIT_INPUT_PTX || !strstr(data, ".entry") || ((char *)data)[size - 1] != 0)
        return CUDA_ERROR_INVALID_PTX;
    *(char **)s = strdup(data);
    return CUDA_SUCCESS;
}
CUresult cuLinkComplete(CUlinkState s, void **cubin, size_t *size)
{
    *cubin = *(char **)s;
    *size = strlen(*cubin) + 1;
    links++;
    return CUDA_SUCCESS;
}
CUresult cuLinkDestroy(CUlinkState s) { free(*(char **)s); free(s); return CUDA_SUCCESS; }
CUresult cuModuleLoadData(CUmodule *m, const void *image)
{
    *m = (CUmodule)strdup(image);
    return CUDA_SUCCESS;
}
CUresult cuModuleLoadDataEx(CUmodule *m, const void *image, unsigned n, CUjit_option *o, void **v)
{
    (void)n, (void)o, (void)v;
    if (!strstr(image, ".entry"))
        return CUDA_ERROR_INVALID_PTX;
    links++;
    return cuModuleLoadData(m, image);
}
CUresult cuModuleUnload(CUmodule m)
{
    for (int i = 0; i < MAX_FUNCS; i++)
        if (funcs[i].f == m)
            funcs[i].f = NULL;
    for (int i = 0; i < MAX_FNS; i++)
        if (fns[i].mod == m)
            fns[i].mod = NULL;
    free(m);
    return CUDA_SUCCESS;
}
CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name)
{
    char want[256];
    snprintf(want, sizeof want, ".entry %s(", name);
    if (!strstr((const char *)m, want) || strlen(name) >= sizeof fns[0].name)
        return CUDA_ERROR_NOT_FOUND;
    (void)optin_of(m); /* 48 KB for a new module (cuModuleUnload forgets the old one's) */
    int free_slot = -1;
    for (int i = 0; i < MAX_FNS; i++) {
        if (fns[i].mod == m && !strcmp(fns[i].name, name)) {
            *f = (CUfunction)&fns[i];
            return CUDA_SUCCESS;
        }
        if (!fns[i].mod && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    fns[free_slot].mod = m;
    strcpy(fns[free_slot].name, name);
    *f = (CUfunction)&fns[free_slot];
    return CUDA_SUCCESS;
}

/* The entry's parameter count and how many of the last ones are 128-byte
 * tensor maps, from its PTX declaration. */
static void entry_params(CUfunction f, int *nparams, int *nmaps)
{
    char want[160];
    snprintf(want, sizeof want, ".entry %s(", ((struct fake_fn *)f)->name);
    const char *p = strstr((const char *)module_of(f), want), *end = p ? strchr(p, ')') : NULL;
    *nparams = *nmaps = 0;
    for (const char *q = p; q && end && (q = strstr(q, ".param")) && q < end; q += 6) {
        char line[200];
        size_t len = strcspn(q, "\n");
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), q);
        bool map = strstr(line, "[128]") != NULL;
        (*nparams)++;
        *nmaps = map ? *nmaps + 1 : 0;
    }
}
CUresult cuFuncSetAttribute(CUfunction f, CUfunction_attribute a, int v)
{
    if (a == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
        if (v > 232448)
            return CUDA_ERROR_INVALID_VALUE;
        if (v > *optin_of(module_of(f))) /* the module's kernels share one: its largest */
            *optin_of(module_of(f)) = v;
    }
    return CUDA_SUCCESS;
}
CUresult cuFuncGetAttribute(int *v, CUfunction_attribute a, CUfunction f) { (void)a, (void)f; *v = 0; return CUDA_SUCCESS; }
/* The stream of each launch, by its count (ring of 64). */
static CUstream launch_stream[64];
__attribute__((visibility("default"))) void *fake_cuda_launch_stream(int count)
{
    return (void *)launch_stream[count & 63];
}
CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned smem, CUstream s, void **params, void **extra)
{
    (void)extra;
    launch_stream[(last.count + 1) & 63] = s;
    if ((int)smem > *optin_of(module_of(f)) || !gx || !gy || !gz || gy > 65535 || gz > 65535 || bx * by * bz > 1024)
        return CUDA_ERROR_INVALID_VALUE;
    int count = last.count + 1;
    memset(&last, 0, sizeof last);
    last = (fake_launch){.grid = {gx, gy, gz}, .block = {bx, by, bz}, .smem = smem, .count = count};
    int k = 0;
    for (int i = 0; i < 5; i++)
        last.ptr[i] = *(CUdeviceptr *)params[k++];
    for (int i = 0; i < 19; i++)
        last.stride[i] = *(int64_t *)params[k++];
    for (int i = 0; i < SZ_MAX; i++)
        last.size[i] = *(int32_t *)params[k++];
    entry_params(f, &last.nparams, &last.nmaps);
    for (int i = 0; i < last.nmaps && i < FAKE_MAX_MAPS; i++)
        memcpy(&last.maps[i], params[last.nparams - last.nmaps + i], sizeof last.maps[i]);
    return CUDA_SUCCESS;
}
static size_t last_alloc; /* bytes of the latest cuMemAlloc */
__attribute__((visibility("default"))) size_t fake_cuda_last_alloc(void)
{
    return last_alloc;
}
CUresult cuMemAlloc(CUdeviceptr *p, size_t n)
{
    last_alloc = n;
    void *m = aligned_alloc(256, (n + 255) / 256 * 256);
    *p = (CUdeviceptr)(uintptr_t)m;
    return m ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}
CUresult cuMemFree(CUdeviceptr p) { free((void *)(uintptr_t)p); return CUDA_SUCCESS; }
CUresult cuMemcpyHtoD(CUdeviceptr d, const void *s, size_t n) { memcpy((void *)(uintptr_t)d, s, n); return CUDA_SUCCESS; }
CUresult cuMemcpyDtoH(void *d, CUdeviceptr s, size_t n) { memcpy(d, (void *)(uintptr_t)s, n); return CUDA_SUCCESS; }
CUresult cuMemsetD8(CUdeviceptr d, unsigned char v, size_t n) { memset((void *)(uintptr_t)d, v, n); return CUDA_SUCCESS; }
CUresult cuStreamSynchronize(CUstream s) { (void)s; return CUDA_SUCCESS; }
/* Streams are distinct heap cells (the fan-out's side streams, runtime/cuda/cuda_fanout.c). */
CUresult cuStreamCreate(CUstream *s, unsigned f) { (void)f; *s = malloc(8); return *s ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY; }
CUresult cuStreamDestroy(CUstream s) { free(s); return CUDA_SUCCESS; }
static int stream_waits;
CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned f)
{
    (void)s, (void)e, (void)f;
    stream_waits++;
    return CUDA_SUCCESS;
}
__attribute__((visibility("default"))) int fake_cuda_stream_waits(void)
{
    return stream_waits;
}
CUresult cuEventCreate(CUevent *e, unsigned f) { (void)f; *e = malloc(8); return CUDA_SUCCESS; }
CUresult cuEventRecord(CUevent e, CUstream s) { (void)e, (void)s; return CUDA_SUCCESS; }
CUresult cuEventSynchronize(CUevent e) { (void)e; return CUDA_SUCCESS; }
CUresult cuEventElapsedTime(float *ms, CUevent a, CUevent b) { (void)a, (void)b; *ms = 1.0f; return CUDA_SUCCESS; }
CUresult cuEventDestroy(CUevent e) { free(e); return CUDA_SUCCESS; }

/* TMA descriptors: checks what the real driver requires of the kernels'
 * maps (rank, 16-byte strides, boxes of at most 256, 128-byte rows under
 * the 128-byte swizzle) and fills the map with a recognisable pattern. */
CUresult cuTensorMapEncodeTiled(CUtensorMap *m, CUtensorMapDataType dt, cuuint32_t rank, void *addr,
                                const cuuint64_t *dim, const cuuint64_t *stride, const cuuint32_t *box,
                                const cuuint32_t *estride, CUtensorMapInterleave il, CUtensorMapSwizzle sw,
                                CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill fill)
{
    (void)il, (void)fill;
    if (!m || !addr || (uintptr_t)addr % 16 || rank < 1 || rank > 5)
        return CUDA_ERROR_INVALID_VALUE;
    for (cuuint32_t i = 0; i < rank; i++) {
        if (dim[i] < 1 || box[i] < 1 || box[i] > 256 || estride[i] != 1)
            return CUDA_ERROR_INVALID_VALUE;
        if (i > 0 && (stride[i - 1] % 16 || stride[i - 1] == 0))
            return CUDA_ERROR_INVALID_VALUE;
    }
    if (sw == CU_TENSOR_MAP_SWIZZLE_128B && box[0] * 2 > 128)
        return CUDA_ERROR_INVALID_VALUE;
    memset(m, 0x5a, sizeof *m);
    fake_map fm = {FAKE_MAP_MAGIC, rank, (uint64_t)(uintptr_t)addr, {0}, {0}, {0}, (int32_t)dt, (int32_t)sw, (int32_t)l2};
    for (cuuint32_t i = 0; i < rank; i++) {
        fm.dim[i] = dim[i];
        fm.box[i] = box[i];
        if (i + 1 < rank)
            fm.stride[i] = stride[i];
    }
    _Static_assert(sizeof fm <= sizeof *m, "a fake map fits a CUtensorMap");
    memcpy(m, &fm, sizeof fm);
    return CUDA_SUCCESS;
}
