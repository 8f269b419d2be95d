/* cli_recipe.c — see cli_recipe.h. */
#include "cli_recipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "frontend/frontend.h"

int cli_recipe_load(arena *a, const char *cmd, const char *path, cli_recipe *out)
{
    const char *why = NULL;
    out->r = NULL;
    out->text = frontend_read_file(a, path, &out->len, &why);
    if (!out->text) {
        fprintf(stderr, "attnc %s: cannot read '%s': %s\n", cmd, path, why ? why : "?");
        return a->failed ? EXIT_INTERNAL : EXIT_USER;
    }
    diag_list d;
    diag_list_init(&d, a, path, out->text, out->len);
    out->r = frontend_parse(a, path, out->text, out->len, &d);
    if (a->failed)
        return EXIT_INTERNAL;
    if (!out->r || d.errors) {
        strbuf sb;
        sb_init(&sb);
        diag_render(&d, &sb);
        fputs(sb_cstr(&sb), stderr);
        sb_free(&sb);
        out->r = NULL;
        return EXIT_USER;
    }
    for (int g = 0; g < 3; g++)
        out->grid_size_names[g] =
            g < out->r->grid_ndim && out->r->sizes[SZ_GRID0 + g].fixed <= 0 ? out->r->sizes[SZ_GRID0 + g].name : NULL;
    return EXIT_OK;
}

const char *cli_grid_dim_name(const recipe *r, int d)
{
    const recipe_size *sz = &r->sizes[SZ_GRID0 + d];
    return sz->fixed > 0 || !sz->name ? r->grid_names[d] : sz->name;
}
