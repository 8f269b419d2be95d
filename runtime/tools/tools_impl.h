/* tools_impl.h — what the tools_*.c files share behind attnc_tools.h. */
#ifndef ATTNC_RUNTIME_TOOLS_IMPL_H
#define ATTNC_RUNTIME_TOOLS_IMPL_H

#include "codegen/nvptx_kernel.h"
#include "frontend/recipe.h"
#include "runtime/compile/compile_job.h"
#include "runtime/include/attnc_tools.h"

/* A recipe read by attnc_tools_recipe_read: its arena owns everything. */
struct attnc_tools_recipe {
    arena a;
    recipe *r;
    const char *text; /* the source (the tuning database keys on its hash) */
    size_t len;
};

const recipe *tools_recipe_of(const attnc_tools_recipe *r);

/* tools_ptx.c: runs the compile job j (recipe and arch set) under spec
 * (NULL or `auto`: the GPU's default; else it overrides the tile section)
 * to PTX, or (emit false) only to the tile IR, and maps its status: USER
 * (a bad schedule, "--schedule: ..." when it does not parse, or a recipe
 * the arch cannot run) or INTERNAL ("not supported: ..." when the GPU has
 * no kernel for it yet), one line in err. */
attnc_tools_result tools_gpu_compile(compile_job *j, const char *spec, bool emit, strbuf *err);

#endif
