/* cuda_internal.h — declarations shared by runtime/cuda_*.c only. */
#ifndef ATTNC_RUNTIME_CUDA_INTERNAL_H
#define ATTNC_RUNTIME_CUDA_INTERNAL_H

#include <cuda.h>

#include "runtime/cuda/cuda_module.h"

#include <pthread.h>

CUfunction cuda_module_function(const cuda_module *k);

/* Kernels with info.serial (module-global scratch, e.g. linear inter=chain)
 * must not run two launches at once: under the module's lock, a launch on a
 * stream other than the previous launch's first waits for an event recorded
 * after that launch. */
pthread_mutex_t *cuda_serial_lock(cuda_module *k);
attnc_status cuda_serial_begin(cuda_module *k, CUstream stream, strbuf *err);
attnc_status cuda_serial_done(cuda_module *k, CUstream stream, strbuf *err);

#endif
