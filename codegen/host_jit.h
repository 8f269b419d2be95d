/*
 * host_jit.h — LLVM ORC LLJIT plumbing for the CPU backend (LLVM-C only).
 *
 * A host_module is an LLVM module in its own thread-safe context. The code
 * generator fills it, host_module_finish() verifies it, gives it the host's
 * triple and data layout and runs the O2 pipeline, and host_jit_create()
 * hands it to a fresh LLJIT and returns the address of one function. The JIT
 * resolves libm and libc symbols (expf, tanhf, memset ...) from the process.
 * One LLJIT per kernel: destroying it frees the code. LLVM's own allocations
 * do not go through attnc's allocator.
 */
#ifndef ATTNC_CODEGEN_HOST_JIT_H
#define ATTNC_CODEGEN_HOST_JIT_H

#include <llvm-c/Core.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <stdbool.h>

#include "../support/strbuf.h"

typedef struct host_module {
    LLVMOrcThreadSafeContextRef tsc;
    LLVMContextRef ctx;
    LLVMModuleRef module;
} host_module;

/* Creates an empty module named `name`. */
bool host_module_create(host_module *hm, const char *name, strbuf *err);
/* Frees a module that was not handed to host_jit_create (safe to repeat). */
void host_module_dispose(host_module *hm);
/* Verifies, sets triple/data layout, optimises at `opt_level` (0..3). */
bool host_module_finish(host_module *hm, int opt_level, strbuf *err);
/* The module as LLVM IR text (for --emit=llvm and failing tests); caller frees with free(). */
char *host_module_print(const host_module *hm);

/* JIT-compiles the module (always consumed, also on failure) and looks up
 * `symbol`. On success *jit must be released with host_jit_destroy. */
bool host_jit_create(LLVMOrcLLJITRef *jit, host_module *hm, const char *symbol, void **addr, strbuf *err);
void host_jit_destroy(LLVMOrcLLJITRef jit);

#endif
