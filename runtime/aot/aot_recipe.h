/*
 * aot_recipe.h — AOT output for a recipe (NVPTX code generator + aot.h), and
 * the PTX/cubin/C writing shared with `attnc compile --from-ptx`.
 */
#ifndef ATTNC_RUNTIME_AOT_RECIPE_H
#define ATTNC_RUNTIME_AOT_RECIPE_H

#include "frontend/recipe.h"
#include "runtime/aot/aot.h"

/* Lowers r under s (NULL: the recipe's tiling or the documented default) for
 * arch, emits PTX and writes DIR/NAME.{ptx,cubin,h,c}; name NULL:
 * "<recipe>_<arch>", else a C identifier. Returns AOT_OK; AOT_USER (a bad
 * name, an illegal schedule, a recipe the GPU code generator does not handle
 * yet, -o naming a file); AOT_IO (the folder cannot be written, with the
 * system's reason); AOT_INTERNAL (ptxas refusing attnc's PTX included);
 * the reason in err; out_note lists the files. */
/* backward: also the backward program (NAME.bwd.ptx, NAME_bwd_args,
 * NAME_backward; aot.h's aot_bwd), compiled as the CUDA backend compiles it
 * (same $ATTNC_BWD_* settings, the dK/dV kernel's TMA producer where it
 * serves: NAME_backward then encodes the maps of q and dout; not
 * deterministic-only: $ATTNC_BWD_DQ picks how dQ is formed). */
aot_result aot_compile_recipe(const recipe *r, const schedule *s, target_arch arch, const char *name, const char *dir,
                              bool backward, strbuf *out_note, strbuf *err);

/* Writes DIR/NAME.ptx, runs ptxas to DIR/NAME.cubin when present (embedding
 * it), and writes DIR/NAME.h and DIR/NAME.c, all or none (see aot_files.c).
 * out_note says what was written. */
aot_result aot_write_with_cubin(aot_spec *spec, const char *dir, strbuf *out_note, strbuf *err);

#endif
