/* cli_recipe.h — reading a recipe file for `attnc bench` (the last command
 * on the typed recipe; the others use attnc_tools_recipe_read): diagnostics
 * go to stderr, the result lives in the caller's arena. */
#ifndef ATTNC_CLI_RECIPE_H
#define ATTNC_CLI_RECIPE_H

#include <stddef.h>

#include "frontend/recipe.h"
#include "support/arena.h"

typedef struct cli_recipe {
    recipe *r;
    const char *text; /* the source, for tune_recipe_hash */
    size_t len;
    const char *grid_size_names[3]; /* "H", "W" for `tokens grid(y: H, x: W)`; NULL for a fixed dim */
} cli_recipe;

/* Returns EXIT_OK, or EXIT_USER after printing why (unreadable file,
 * recipe errors), or EXIT_INTERNAL (out of memory). `cmd` prefixes messages. */
int cli_recipe_load(arena *a, const char *cmd, const char *path, cli_recipe *out);

/* The name a grid dim goes by in shapes and messages: its extent's size
 * name ("H" in grid(y: H)), or for a dim the recipe fixes its label ("y"
 * in grid(y: 30)), whose value is the number. */
const char *cli_grid_dim_name(const recipe *r, int d);

#endif
