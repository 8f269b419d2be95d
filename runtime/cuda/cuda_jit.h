/*
 * cuda_jit.h — PTX to a loaded module for the CUDA backend, through NVIDIA's
 * ptxas (runtime/compile/ptxas.h) or the driver's built-in compiler,
 * as $ATTNC_JIT says (both compile whole programs; the driver's linker,
 * cuLink*, is not used: see driver_jit in cuda_jit.c):
 *
 *   auto    (default) ptxas when one is installed, else the driver; a ptxas
 *           that fails, or whose cubin the driver will not load (a toolkit
 *           newer than the driver), falls back to the driver;
 *   ptxas   ptxas only: an error when none is found or it fails;
 *   driver  the driver's compiler only.
 *
 * Why prefer ptxas: it hands back the cubin, which the kernel cache keeps so
 * that another process skips the JIT; the driver's compiler loads a module
 * and keeps its cubin to itself.
 */
#ifndef ATTNC_RUNTIME_CUDA_JIT_H
#define ATTNC_RUNTIME_CUDA_JIT_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/cuda/cuda_driver.h"

typedef enum { CUDA_JIT_AUTO, CUDA_JIT_PTXAS, CUDA_JIT_DRIVER } cuda_jit_mode;

/* $ATTNC_JIT ("auto" when unset); false for another value (*mode AUTO). */
bool cuda_jit_mode_get(cuda_jit_mode *mode);

/* The compiler a JIT in this process would use first: "ptxas" or "driver"
 * (a part of the cached cubin's key). */
const char *cuda_jit_compiler(void);

/* The -arch ptxas needs for `ptx` on a device of compute capability
 * major.minor: the PTX's own target when it is arch-specific ("sm_90a"),
 * else the device's ("sm_90" for sm_80 PTX on an H200). */
void cuda_jit_ptxas_arch(const char *ptx, int major, int minor, char *out, size_t cap);

/* ptxas alone, no driver needed: ptx (NUL-terminated) to a malloc'd cubin.
 * Returns 1 (done), 0 (no ptxas installed) or -1 (it failed; log says why). */
int cuda_jit_ptxas(const char *ptx, const char *arch, void **cubin, size_t *size, strbuf *log);

/* Compiles ptx for device dev (its context current) and loads it: *mod
 * loaded, *cubin what was loaded (malloc'd; NULL from the driver's compiler,
 * which keeps no cubin to hand back), *by the compiler used ("ptxas" or
 * "driver"). Errors: ATTNC_ERR_CUDA (the message has the call and the
 * compiler's log), ATTNC_ERR_INVALID_ARGUMENT (a bad $ATTNC_JIT),
 * ATTNC_ERR_NOMEM. */
attnc_status cuda_jit_load(const cuda_api *a, CUdevice dev, const char *ptx, CUmodule *mod, void **cubin,
                           size_t *size, const char **by, strbuf *err);

#endif
