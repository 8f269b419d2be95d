/* cli_recipe.c — see cli_recipe.h. */
#include "cli_recipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
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

int cli_tune_shape(const cli_recipe *cr, const char *cmd, const char *text, tune_shape *out)
{
    const recipe *r = cr->r;
    strbuf full, err;
    sb_init(&full);
    sb_init(&err);
    sb_puts(&full, text);
    int rc = EXIT_OK;
    for (int d = 0; d < r->grid_ndim && !rc; d++) {
        int64_t fixed = r->sizes[SZ_GRID0 + d].fixed;
        if (fixed <= 0)
            continue;
        const char *label = r->grid_names[d];
        size_t n = strlen(label);
        for (const char *p = text; p && *p && !rc; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
            if (!strncmp(p, label, n) && p[n] == '=' && strtoll(p + n + 1, NULL, 10) != fixed)
                rc = cli_usage_error(cmd, "--shape: grid dim %s is fixed to %lld by the recipe", label,
                                     (long long)fixed);
        sb_printf(&full, ",%s=%lld", label, (long long)fixed); /* the same value again is harmless */
    }
    if (!rc && !tune_shape_parse(sb_cstr(&full), r->grid_names, cr->grid_size_names, r->grid_ndim, out, &err))
        rc = cli_usage_error(cmd, "%s", sb_cstr(&err));
    sb_free(&full);
    sb_free(&err);
    return rc;
}
