/* tools_impl.h — what the tools_*.c files share behind attnc_tools.h. */
#ifndef ATTNC_RUNTIME_TOOLS_IMPL_H
#define ATTNC_RUNTIME_TOOLS_IMPL_H

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

#endif
