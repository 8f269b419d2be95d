/*
 * frontend.c — frontend_parse(): lex, parse, check; see frontend.h.
 *
 * Each phase runs even after errors in the one before (the lexer drops bad
 * bytes, the parser skips bad lines), so one run reports as much as is
 * sensible. The recipe is returned only when there was no error at all.
 */
#include <string.h>

#include "frontend.h"
#include "syntax.h"

/* The out-of-memory error goes first: after a failed allocation later
 * checks report what it lost (a param never stored is then an "unknown
 * name"), which is not the cause. */
static recipe *out_of_memory(diag_list *diags)
{
    diag *oom = diag_error(diags, ((src_loc){1, 1, 1}), NULL, "out of memory while compiling the recipe");
    if (oom && diags->first != oom) {
        diag *before = diags->first;
        while (before->next != oom)
            before = before->next;
        before->next = NULL;
        diags->last = before;
        oom->next = diags->first;
        diags->first = oom;
    }
    return NULL;
}

recipe *frontend_parse(arena *a, const char *file, const char *text, size_t len, diag_list *diags)
{
    int ntoks = 0;
    token *toks = fe_lex(a, text, len, diags, &ntoks);
    if (!toks || a->failed)
        return out_of_memory(diags);
    syntax syn;
    fe_parse_recipe(a, toks, ntoks, diags, &syn);
    recipe *r = ARENA_NEW(a, recipe);
    if (!r || a->failed)
        return out_of_memory(diags);
    r->file = file ? arena_strdup(a, file) : "<input>";
    fe_sema_recipe(a, &syn, diags, r);
    if (a->failed)
        return out_of_memory(diags);
    return diags->errors ? NULL : r;
}
