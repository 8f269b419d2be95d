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
#include "../support/strbuf.h"

/* "sm_80" / "sm_90a"; NULL for the host. */
const char *nvptx_arch_name(target_arch arch);
/* Parses "sm_80", "sm_90a" (also "sm_90" as sm_90a-less sm_80 path is not
 * offered: refused). Returns false for unknown names. */
bool nvptx_arch_parse(const char *name, target_arch *out);

/* A module with the NVPTX triple and the target machine's data layout. */
LLVMModuleRef nvptx_module_create(LLVMContextRef c, const char *name, target_arch arch);

/* Verifies, optimises (default<O3>) and emits PTX text into ptx. The module
 * stays owned by the caller. On failure returns false with a message. */
bool nvptx_module_to_ptx(LLVMModuleRef m, target_arch arch, strbuf *ptx, strbuf *err);

#endif
