/* cli_recipe.h — reading a recipe file for a command: diagnostics go to
 * stderr, the result lives in the caller's arena. */
#ifndef ATTNC_CLI_RECIPE_H
#define ATTNC_CLI_RECIPE_H

#include <stddef.h>

#include "frontend/recipe.h"
#include "support/arena.h"

typedef struct cli_recipe {
    recipe *r;
    const char *text; /* the source, for tune_recipe_hash */
    size_t len;
    const char *grid_size_names[3]; /* "H", "W" for `tokens grid(y: H, x: W)` */
} cli_recipe;

/* Returns EXIT_OK, or EXIT_USER after printing why (unreadable file,
 * recipe errors), or EXIT_INTERNAL (out of memory). `cmd` prefixes messages. */
int cli_recipe_load(arena *a, const char *cmd, const char *path, cli_recipe *out);

#endif
