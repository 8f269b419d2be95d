/* lower_bwd_common.h — emission helpers shared by the two backward
 * lowerings (lower_softmax_bwd.c, lower_linear_bwd.c). Internal to passes/. */
#ifndef ATTNC_PASSES_LOWER_BWD_COMMON_H
#define ATTNC_PASSES_LOWER_BWD_COMMON_H

#include "lower_common.h"

#define OPS(...) ((tir_value *const[]){__VA_ARGS__}), (int)(sizeof((tir_value *[]){__VA_ARGS__}) / sizeof(tir_value *))

/* A kernel of r's backward program named NAME.suffix over `progs`. */
tir_kernel *bwd_kernel_new(arena *a, const recipe *r, const schedule *s, const char *suffix, tir_programs progs);
/* Appends k (false with a message when k is NULL or the program is full). */
bool bwd_program_add(tir_program *p, tir_kernel *k, strbuf *err);

tir_type bwd_tile(int rows, int cols, dtype dt); /* a register tile type */
tir_value *bwd_load(lower_ctx *c, tir_value *box, tir_tensor t, tir_type ty);
void bwd_store(lower_ctx *c, tir_value *box, tir_value *v, tir_tensor t);
tir_value *bwd_fill0(lower_ctx *c, tir_type t);
/* dot a, b [, acc] with a and/or b transposed. */
tir_value *bwd_dot(lower_ctx *c, tir_value *a, tir_value *b, tir_value *acc, bool ta, bool tb, tir_type ty);
/* Opens `for box in range iter(inits[0..n))` (n <= 2), box of extent code
 * box_code; args[0] is the box, args[1..n] the iteration values; *inner
 * emits into the body. NULL on failure. */
tir_op *bwd_open_for(lower_ctx *c, tir_value *range, tir_value *const *inits, int n, int box_code, tir_value **args,
                     lower_ctx *inner);

#endif
