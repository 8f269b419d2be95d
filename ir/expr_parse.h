/*
 * expr_parse.h — reads back the prefix form expr_print writes:
 *   true false 42 -3 0.125 1e+20 inf -inf
 *   q.t k.t q.d0 k.lo1 q.hi2       coordinates and tile IR box corners
 *   $tokens $grid0 ...             sizes (size_id_name)
 *   head kv_head batch s
 *   (add x y) (neg x) (select c a b) (@name i j)   operators and params
 * Parameter names are resolved by a callback (NULL: only numeric @N).
 */
#ifndef ATTNC_IR_EXPR_PARSE_H
#define ATTNC_IR_EXPR_PARSE_H

#include <stddef.h>

#include "expr.h"

/* Returns the param index for name[0..len) and its element type, or -1. */
typedef int (*expr_param_resolver)(void *user, const char *name, size_t len, expr_type *elem);

/* Parses one expression starting at *p (leading blanks skipped), stopping
 * before end; advances *p past it. NULL with a message in err on error. */
expr *expr_parse(arena *a, const char **p, const char *end, expr_param_resolver resolve, void *user, strbuf *err);

#endif
