/*
 * api_typed.h — internal accessors for in-tree tools (the CLI, tests) that
 * need the typed recipe behind an attnc_recipe, e.g. to run the fp64
 * reference. Not part of the public API.
 */
#ifndef ATTNC_RUNTIME_API_TYPED_H
#define ATTNC_RUNTIME_API_TYPED_H

#include "frontend/recipe.h"
#include "runtime/include/attnc.h"

/* The checked recipe; owned by r. NULL for NULL. */
const recipe *attnc_recipe_typed(const attnc_recipe *r);

#endif
