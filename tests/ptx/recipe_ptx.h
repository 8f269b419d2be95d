/*
 * recipe_ptx.h — a recipe file to PTX through the real front end, lowering
 * and NVPTX code generator (tests only), for the tests that check recipes'
 * PTX (ptxas, linear schedules, the pass pipeline).
 */
#ifndef ATTNC_TESTS_RECIPE_PTX_H
#define ATTNC_TESTS_RECIPE_PTX_H

#include <stddef.h>

#include "codegen/nvptx_kernel.h"
#include "support/arena.h"
#include "support/strbuf.h"

/* The PTX of the recipe at path for arch, under spec (keys over the GPU
 * default schedule) or the GPU default when spec is NULL. A file that does
 * not read or parse, a bad spec or a failed lowering return NVPTX_INTERNAL
 * with the reason in err; otherwise nvptx_emit_kernel's status. Allocates in
 * a; info may be NULL. */
nvptx_status recipe_ptx(arena *a, const char *path, const char *spec, target_arch arch, nvptx_kernel_info *info,
                        strbuf *ptx, strbuf *err);
/* recipe_ptx of recipe text (len bytes; name for its messages), with no
 * file in between. */
nvptx_status recipe_text_ptx(arena *a, const char *name, const char *text, size_t len, const char *spec,
                             target_arch arch, nvptx_kernel_info *info, strbuf *ptx, strbuf *err);
/* recipe_ptx of bench/recipes/file (under ATTNC_SOURCE_DIR). */
nvptx_status bench_recipe_ptx(arena *a, const char *file, const char *spec, target_arch arch, nvptx_kernel_info *info,
                              strbuf *ptx, strbuf *err);
/* bench_recipe_ptx for sm_90a with environment variable name set to value
 * (NULL: unset) while it is generated, unset after. */
nvptx_status bench_recipe_ptx_env(arena *a, const char *file, const char *spec, const char *name, const char *value,
                                  strbuf *ptx, strbuf *err);
/* bench_recipe_ptx_env into ptx (initialised by the caller) and its ptxas
 * spill bytes (ptxas_spills: -1 without ptxas). false, with the reason in
 * err, when the PTX is not generated or ptxas refuses it. */
bool bench_recipe_ptx_env_spills(const char *file, const char *spec, const char *name, const char *value, strbuf *ptx,
                                 int *spill, strbuf *err);
/* Whether bench/recipes/file under spec for arch is refused (unsupported
 * or an illegal schedule) with a message containing why; when not, the
 * reason in msg. */
bool bench_recipe_refused(const char *file, const char *spec, target_arch arch, const char *why, strbuf *msg);

#endif
