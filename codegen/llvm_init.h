/*
 * llvm_init.h — one-time LLVM target registration, thread-safe.
 */
#ifndef ATTNC_CODEGEN_LLVM_INIT_H
#define ATTNC_CODEGEN_LLVM_INIT_H

/* Registers the NVPTX and native (host) targets once per process. */
void llvm_init_targets(void);

/* "19.1.7": the LLVM version attnc was built against, for cache keys. */
const char *llvm_version_string(void);

#endif
