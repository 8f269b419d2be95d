/*
 * cuda_driver.h — the CUDA Driver API, opened with dlopen("libcuda.so.1")
 * once per process (call_once), never linked. cuda.h supplies the types and
 * the prototypes the function-pointer fields are declared from; the
 * versioned names it #defines (cuMemAlloc -> cuMemAlloc_v2) apply to the
 * fields and to the dlsym names alike, so `api->cuMemAlloc(...)` calls the
 * right symbol.
 *
 * Without a driver every entry returns ATTNC_ERR_NO_DRIVER and attnc keeps
 * working minus the GPU. Every driver error becomes ATTNC_ERR_CUDA with the
 * call, the driver's error name and its text in the message.
 */
#ifndef ATTNC_RUNTIME_CUDA_DRIVER_H
#define ATTNC_RUNTIME_CUDA_DRIVER_H

#include <cuda.h>

#include "support/strbuf.h"
#include "runtime/include/attnc.h"

#define CUDA_DRIVER_FUNCS(X)                                                                  \
    X(cuInit) X(cuDriverGetVersion) X(cuGetErrorName) X(cuGetErrorString) X(cuDeviceGet)    \
    X(cuDeviceGetCount) X(cuDeviceGetAttribute) X(cuDeviceGetName) X(cuDevicePrimaryCtxRetain) \
    X(cuDevicePrimaryCtxRelease) X(cuCtxSetCurrent) X(cuCtxGetCurrent) X(cuCtxSynchronize)  \
    X(cuModuleLoadDataEx) X(cuModuleLoadData) X(cuModuleUnload) X(cuModuleGetFunction)        \
    X(cuFuncSetAttribute) X(cuFuncGetAttribute) X(cuLaunchKernel) X(cuMemAlloc) X(cuMemFree)  \
    X(cuMemcpyHtoD) X(cuMemcpyDtoH) X(cuMemsetD8) X(cuStreamSynchronize) X(cuStreamWaitEvent) X(cuEventCreate)     \
    X(cuEventRecord) X(cuEventSynchronize) X(cuEventElapsedTime) X(cuEventDestroy)

typedef struct cuda_api {
#define X(name) __typeof__(&name) name;
    CUDA_DRIVER_FUNCS(X)
#undef X
    __typeof__(&cuTensorMapEncodeTiled) cuTensorMapEncodeTiled; /* optional (NULL before CUDA 12) */
    __typeof__(&cuMemcpy2DAsync) cuMemcpy2DAsync; /* optional: programs of kernels (runtime/program/program_run.c) */
    __typeof__(&cuStreamCreate) cuStreamCreate;   /* optional: the NCCL ring's communication stream */
    __typeof__(&cuStreamDestroy) cuStreamDestroy;
    int driver_version;
} cuda_api;

/* The loaded API (cuInit done), or ATTNC_ERR_NO_DRIVER with a message. */
attnc_status cuda_api_get(const cuda_api **out, strbuf *err);

/* ATTNC_OK for CUDA_SUCCESS; otherwise appends "call: NAME: text" to err
 * and returns ATTNC_ERR_CUDA. */
attnc_status cuda_check(const cuda_api *api, CUresult r, const char *call, strbuf *err);

/* Encodes into *map the tensor map of tensor slot t (0 q, 1 k, 2 v:
 * runtime/cuda/cuda_tma.h's shapes for info's tiles) at device address
 * ptr with strides in elements: the 128-byte swizzle of the kernels'
 * shared tiles, zeros out of bounds (cuda_launch.c; the backward's
 * producer encodes its q and do maps with it). */
struct nvptx_kernel_info;
attnc_status cuda_tma_encode(const cuda_api *api, CUtensorMap *map, const struct nvptx_kernel_info *info, int t,
                             const int64_t *size, const int64_t stride[4], uint64_t ptr, strbuf *err);

/* The device attnc uses: $ATTNC_DEVICE, else 0. */
int cuda_device_ordinal(void);
/* Makes device `ordinal`'s primary context current (retaining it once per
 * call; release with cuda_context_release). */
attnc_status cuda_context_acquire(int ordinal, CUdevice *dev, strbuf *err);
void cuda_context_release(CUdevice dev);

#endif
