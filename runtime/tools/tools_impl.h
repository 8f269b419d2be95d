/* tools_impl.h — what the tools_*.c files share behind attnc_tools.h. */
#ifndef ATTNC_RUNTIME_TOOLS_IMPL_H
#define ATTNC_RUNTIME_TOOLS_IMPL_H

#include "codegen/nvptx_kernel.h"
#include "frontend/recipe.h"
#include "runtime/include/attnc_tools.h"

/* A recipe read by attnc_tools_recipe_read: its arena owns everything. */
struct attnc_tools_recipe {
    arena a;
    recipe *r;
    const char *text; /* the source (the tuning database keys on its hash) */
    size_t len;
};

const recipe *tools_recipe_of(const attnc_tools_recipe *r);

/* tools_ptx.c: lowers r for GPU arch under spec (NULL or `auto`: the GPU's
 * default; else it overrides the tile section), the time in *lower_ms; NULL
 * with *res USER (a bad schedule, "--schedule: ..." when it does not parse,
 * or a recipe arch cannot run) or INTERNAL, one line in err. */
tir_kernel *tools_gpu_lower(arena *a, const recipe *r, target_arch arch, const char *spec, double *lower_ms,
                            attnc_tools_result *res, strbuf *err);
/* Emits k's PTX into ptx, timed; INTERNAL with one line ("not supported:
 * ..." when the GPU has no kernel for it yet). */
attnc_tools_result tools_gpu_emit(const tir_kernel *k, target_arch arch, nvptx_kernel_info *info, strbuf *ptx,
                                  double *codegen_ms, strbuf *err);

#endif
