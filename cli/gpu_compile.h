/*
 * gpu_compile.h — recipe file -> lowered tile IR -> PTX for `attnc ptx` and
 * `attnc bench`: one path, timed per stage, with errors printed the CLI way
 * (diagnostics for recipe errors) and mapped to exit codes.
 */
#ifndef ATTNC_CLI_GPU_COMPILE_H
#define ATTNC_CLI_GPU_COMPILE_H

#include "codegen/nvptx_kernel.h"
#include "frontend/recipe.h"
#include "support/arena.h"
#include "support/strbuf.h"

typedef struct gpu_compiled {
    arena a;
    recipe *r;
    tir_kernel *k;
    target_arch arch;
    nvptx_kernel_info info;
    strbuf ptx;
    double read_ms, parse_ms, lower_ms, codegen_ms;
} gpu_compiled;

/* Compiles `path` for arch ("sm_80", "sm_90a"; NULL: the device's) under
 * sched_spec (NULL: the recipe's tile section, or the GPU default for
 * `auto`). Prints errors to stderr prefixed by `cmd`. Returns an exit code
 * (commands.h); g must be released with gpu_compiled_free either way. */
int gpu_compile_file(gpu_compiled *g, const char *cmd, const char *path, const char *arch, const char *sched_spec);
void gpu_compiled_free(gpu_compiled *g);

#endif
