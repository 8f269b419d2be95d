/*
 * pipeline.h — the public entry of the passes: typed recipe + schedule ->
 * tile IR ready for a code generator.
 *
 * Passes, in order (pipeline.c's table; `attnc ir --list-passes`):
 *   lower          recipe -> canonical tile IR (lower_softmax.c / lower_linear.c)
 *   tiling         token extents of query/key tiles from the schedule
 *   mask_analysis  key-tile ranges and full/empty tile classes (interval arithmetic)
 *   fusion         scale*log2(e) folded into the score, exp2 (base2)
 *   layout         memory spaces and register layouts for the target
 * In debug builds (NDEBUG undefined) the verifier runs after every pass.
 */
#ifndef ATTNC_PASSES_PIPELINE_H
#define ATTNC_PASSES_PIPELINE_H

#include "pass_table.h"

/* The pass table, terminated by an entry with name == NULL. */
const pass_info *pass_table(void);
int pass_count(void);
const pass_info *pass_find(const char *name);

/* Lowers r under schedule s (NULL or is_auto: r->sched, else the default
 * for arch) through every pass. Returns NULL with a message in err when the
 * schedule is illegal or a pass fails. All memory comes from a. */
tir_kernel *lower_recipe(arena *a, const recipe *r, const schedule *s, target_arch arch, strbuf *err);

/* The same, stopping after the pass named after_pass (NULL: all). With a
 * dump buffer, appends "// after PASS" and the IR after every pass to it
 * ("// after PASS (unchanged)" when the pass changed nothing). */
tir_kernel *lower_recipe_until(arena *a, const recipe *r, const schedule *s, target_arch arch,
                               const char *after_pass, strbuf *dump, strbuf *err);

/* A kernel with r's header and no ops: what code generators read of a
 * recipe before lowering (nvptx_default_schedule, nvptx_bwd_schedule). Its
 * sched is r's `tile` section. NULL when out of memory. */
tir_kernel *lower_signature(arena *a, const recipe *r);

/* The schedule lower_recipe uses for (r, s, arch): s when it is not auto,
 * else the recipe's tile section, else schedule_default shrunk until it is
 * legal. Only a fallback for callers that lower without the compile job
 * (runtime/compile/compile_job.h, which decides every kernel's schedule and
 * always passes one): the passes' tests, golden files and fuzzers. */
schedule pipeline_schedule(const recipe *r, const schedule *s, target_arch arch);

#endif
