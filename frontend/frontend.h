/*
 * frontend.h — `.attn` text in, typed recipe out.
 *
 * frontend_parse() lexes, parses and checks one recipe file. It never
 * prints, exits, crashes or leaks on any input (binary garbage, NUL bytes,
 * invalid UTF-8, huge or deeply nested text): problems become diagnostics in
 * `diags`, and the result is NULL when there was any error. All memory comes
 * from the arena `a`.
 */
#ifndef ATTNC_FRONTEND_FRONTEND_H
#define ATTNC_FRONTEND_FRONTEND_H

#include <stddef.h>

#include "../support/arena.h"
#include "../support/diag.h"
#include "recipe.h"

/* diags must have been initialised with the same file/source. */
recipe *frontend_parse(arena *a, const char *file, const char *text, size_t len, diag_list *diags);

/* Reads a whole file into the arena (NUL-terminated; *len excludes the NUL).
 * Returns NULL and sets errno-style text in err_out (static) on failure. */
char *frontend_read_file(arena *a, const char *path, size_t *len, const char **err_out);

/* Whether r can run on arch at all: NULL when it can, else why in one line
 * (with what to write instead), located at *loc. Today: q/k/v in f32 run
 * on the CPU backend only (TARGET_HOST). */
const char *frontend_target_problem(const recipe *r, target_arch arch, src_loc *loc);

/* The same as "FILE:LINE:COL: why" into err; true when r can run on arch. */
bool frontend_target_ok(const recipe *r, target_arch arch, strbuf *err);

#endif
