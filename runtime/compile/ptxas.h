/*
 * ptxas.h — NVIDIA's ptxas, when installed: PTX to a cubin ahead of time.
 * AOT output embeds its cubin; the CUDA backend's JIT (runtime/cuda/
 * cuda_jit.h) may use it in place of the driver's built-in compiler.
 */
#ifndef ATTNC_RUNTIME_COMPILE_PTXAS_H
#define ATTNC_RUNTIME_COMPILE_PTXAS_H

#include <stdbool.h>
#include <stddef.h>

#include "support/strbuf.h"

/* The ptxas to run: $ATTNC_PTXAS when set (false when that is not an
 * executable), else /usr/local/cuda/bin/ptxas, else the first on PATH.
 * Writes its path into out. */
bool ptxas_find(char *out, size_t cap);

/* Runs ptxas -arch=ARCH (default optimization, -O3) on a PTX file. Returns 1
 * on success (cubin written), 0 when no ptxas exists (nothing done), -1 when
 * ptxas failed or could not be run (its output and exit status in `log`). */
int ptxas_run(const char *ptx_path, const char *arch, const char *cubin_path, strbuf *log);

#endif
