/*
 * aot_recipe.h — AOT output for a recipe (NVPTX code generator + aot.h), and
 * the PTX/cubin/C writing shared with `attnc compile --from-ptx`.
 */
#ifndef ATTNC_RUNTIME_AOT_RECIPE_H
#define ATTNC_RUNTIME_AOT_RECIPE_H

#include "../frontend/recipe.h"
#include "aot.h"

enum { AOT_RECIPE_OK = 0, AOT_RECIPE_USER = 1, AOT_RECIPE_INTERNAL = 2 };

/* Lowers r under s (NULL: the recipe's tiling or the documented default) for
 * arch, emits PTX and writes DIR/NAME.{ptx,cubin,h,c}; name NULL:
 * "<recipe>_<arch>". Returns AOT_RECIPE_OK, AOT_RECIPE_USER (illegal
 * schedule, a recipe the GPU code generator does not handle yet) or
 * AOT_RECIPE_INTERNAL, with the reason in err; out_note lists the files. */
int aot_compile_recipe(const recipe *r, const schedule *s, target_arch arch, const char *name, const char *dir,
                       strbuf *out_note, strbuf *err);

/* Writes DIR/NAME.ptx, runs ptxas to DIR/NAME.cubin when present (embedding
 * it), and writes DIR/NAME.h and DIR/NAME.c. out_note says what was written. */
bool aot_write_with_cubin(aot_spec *spec, const char *dir, strbuf *out_note, strbuf *err);

#endif
