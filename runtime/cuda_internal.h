/* cuda_internal.h — declarations shared by runtime/cuda_*.c only. */
#ifndef ATTNC_RUNTIME_CUDA_INTERNAL_H
#define ATTNC_RUNTIME_CUDA_INTERNAL_H

#include <cuda.h>

#include "cuda_module.h"

CUfunction cuda_module_function(const cuda_module *k);

#endif
