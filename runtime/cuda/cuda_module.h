/*
 * cuda_module.h — one GPU kernel as a loaded module: PTX from the NVPTX
 * code generator, compiled by ptxas or the driver (cuda_jit.h) into a cubin
 * that is kept (cuda_module_cubin) for reuse by a cache, loaded, launched.
 *
 * The public API reaches this through cuda_backend.c (its backend_ops row, the
 * hook of runtime/api/api_backend.h); tests, `attnc bench` and `attnc ptx` use
 * it directly.
 * Errors: ATTNC_ERR_NO_DRIVER (no libcuda), ATTNC_ERR_CUDA (driver error;
 * the message has the call, error name/text and the JIT log),
 * ATTNC_ERR_UNSUPPORTED (no GPU kernel for this recipe/schedule yet),
 * ATTNC_ERR_INVALID_ARGUMENT (a launch the kernel cannot take).
 */
#ifndef ATTNC_RUNTIME_CUDA_MODULE_H
#define ATTNC_RUNTIME_CUDA_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/nvptx_kernel.h"
#include "runtime/include/attnc.h"

typedef struct cuda_module cuda_module;

/* Launch values in the kernel ABI's terms (codegen/nvptx_kernel.h). */
typedef struct cuda_launch {
    uint64_t ptr[5];      /* q, k, v, o, lse device pointers; lse 0: not written */
    int64_t stride[5][4]; /* elements; lse uses [0..2] (batch, head, token) */
    int64_t size[SZ_MAX]; /* by size_id; SZ_KV_TOKENS and SZ_KV_HEADS always set */
    uint64_t param_ptr[NVPTX_MAX_PARAMS];  /* tensor params (contiguous) */
    double param_scalar[NVPTX_MAX_PARAMS]; /* scalar params */
} cuda_launch;

/* "sm_80" / "sm_90a" for the current device (device 0 unless
 * $ATTNC_DEVICE says otherwise). */
attnc_status cuda_device_arch(target_arch *out, strbuf *err);
/* The arch a build targets: options->arch by name, else the device's
 * (the forward and backward CUDA builds). */
attnc_status cuda_build_arch(const attnc_build_options *o, target_arch *arch, strbuf *err);

/* Emits PTX for k (arch NULL: the device's) and loads it. */
attnc_status cuda_module_build(cuda_module **out, const tir_kernel *k, const char *arch, strbuf *err);
/* Loads ready PTX described by info (e.g. from a cache). */
attnc_status cuda_module_load(cuda_module **out, const char *ptx, size_t len, const nvptx_kernel_info *info,
                              strbuf *err);
/* Loads a cubin the driver linked earlier (e.g. from the kernel cache):
 * no JIT. cuda_module_ptx() is then "". */
attnc_status cuda_module_load_cubin(cuda_module **out, const void *cubin, size_t len, const nvptx_kernel_info *info,
                                    strbuf *err);
/* True for a module made by cuda_module_load_cubin. */
bool cuda_module_from_cubin(const cuda_module *k);
/* "cc9.0 driver13000 jit=ptxas": what a cached cubin depends on besides the
 * PTX (the device's compute capability, the driver version, and the compiler
 * a JIT would use: cuda_jit.h). */
attnc_status cuda_device_ident(char *out, size_t cap, strbuf *err);
void cuda_module_destroy(cuda_module *k);

/* The multiprocessors of the module's device (0 if unknown). */
int cuda_module_sms(const cuda_module *k);

/* Asynchronous on `stream` (NULL: default stream). A persistent kernel
 * (info.persistent) gets min(items, multiprocessors) blocks. */
attnc_status cuda_module_launch(cuda_module *k, const cuda_launch *a, void *stream, strbuf *err);

const nvptx_kernel_info *cuda_module_info(const cuda_module *k);
const char *cuda_module_ptx(const cuda_module *k);
/* The driver-linked cubin (NULL, 0 when the module came from PTX directly). */
const void *cuda_module_cubin(const cuda_module *k, size_t *size);
/* Milliseconds spent in code generation and in the driver JIT. */
double cuda_module_codegen_ms(const cuda_module *k);
double cuda_module_jit_ms(const cuda_module *k);
/* Which compiler made the module's cubin: "ptxas", "driver", or "cache"
 * (loaded from a cached cubin). */
const char *cuda_module_jit_by(const cuda_module *k);

/* Device memory helpers for tests, the CLI and benchmarks. */
attnc_status cuda_mem_alloc(uint64_t *out, size_t bytes, strbuf *err);
void cuda_mem_free(uint64_t p);
attnc_status cuda_memcpy_htod(uint64_t dst, const void *src, size_t bytes, strbuf *err);
attnc_status cuda_memcpy_dtoh(void *dst, uint64_t src, size_t bytes, strbuf *err);
attnc_status cuda_memset8(uint64_t dst, unsigned char v, size_t bytes, strbuf *err);
attnc_status cuda_synchronize(strbuf *err);

/* Event timer on the default stream. */
typedef struct cuda_timer {
    void *start, *stop;
} cuda_timer;
attnc_status cuda_timer_start(cuda_timer *t, strbuf *err);
/* Stops, waits, returns elapsed ms, destroys the events. */
attnc_status cuda_timer_stop(cuda_timer *t, double *ms, strbuf *err);

#endif
