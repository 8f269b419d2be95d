/*
 * nvptx_target.h — the NVPTX target machine and LLVM module -> PTX text.
 *
 * One place knows the triple, the CPU name per attnc target (sm_80, sm_90a),
 * the PTX ISA feature and the optimisation pipeline; code generators build a
 * module with nvptx_module_create() and hand it to nvptx_module_to_ptx().
 */
#ifndef ATTNC_CODEGEN_NVPTX_TARGET_H
#define ATTNC_CODEGEN_NVPTX_TARGET_H

#include <llvm-c/Core.h>
#include <stdbool.h>

#include "../ir/schedule.h"
#include "nvptx_kernel.h"
#include "../support/strbuf.h"

/* A module with the NVPTX triple and the target machine's data layout. */
LLVMModuleRef nvptx_module_create(LLVMContextRef c, const char *name, target_arch arch);

/* Verifies, optimises (nvptx_pipeline(), or $ATTNC_NVPTX_PIPELINE when set)
 * and emits PTX text into ptx. The module stays owned by the caller. On
 * failure returns false with a message. */
bool nvptx_module_to_ptx(LLVMModuleRef m, target_arch arch, strbuf *ptx, strbuf *err);

/* The end of every kernel family's module (forward, backward, linear):
 * st NVPTX_OK: its PTX into ptx (NVPTX_INTERNAL when that fails); then the
 * builder b (NULL: none), the module and its context are disposed.
 * Returns the status. */
nvptx_status nvptx_module_finish(LLVMModuleRef m, LLVMBuilderRef b, target_arch arch, nvptx_status st, strbuf *ptx,
                                 strbuf *err);

/* The new-pass-manager pipeline for kernels: default<O3> less the passes
 * that do not change attnc's kernels (nvptx_pipeline.c says how that is
 * kept true). */
const char *nvptx_pipeline(void);

#endif
