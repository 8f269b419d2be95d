/* api_recipe.c — attnc_recipe: parse and check a recipe through the front
 * end; the recipe and its diagnostics live in the recipe's arena. */
#include <string.h>

#include "frontend/frontend.h"
#include "runtime/api/api_internal.h"
#include "runtime/tune/tune_db.h"
#include "runtime/api/api_typed.h"

/* Copies the rendered diagnostics into the context's message. */
static void report_diags(attnc_context *ctx, const diag_list *d)
{
    strbuf sb;
    sb_init(&sb);
    diag_render(d, &sb);
    if (sb.failed || sb.len == 0)
        ctx_error(ctx, ATTNC_ERR_RECIPE, "%s: the recipe has errors", d->file ? d->file : "<recipe>");
    else
        ctx_error(ctx, ATTNC_ERR_RECIPE, "%s", sb_cstr(&sb));
    sb_free(&sb);
}

static attnc_status parse_into(attnc_recipe *rc, const char *name, const char *text, size_t len)
{
    attnc_context *ctx = rc->ctx;
    diag_list d;
    const char *file = name ? arena_strdup(&rc->arena, name) : "<recipe>";
    if (!file)
        return ctx_error(ctx, ATTNC_ERR_NOMEM, "out of memory reading the recipe");
    tune_recipe_hash(text ? text : "", text ? len : 0, rc->text_hash);
    diag_list_init(&d, &rc->arena, file, text, len);
    rc->r = frontend_parse(&rc->arena, file, text, len, &d);
    if (rc->arena.failed)
        return ctx_error(ctx, ATTNC_ERR_NOMEM, "out of memory parsing %s", file);
    if (!rc->r || d.errors) {
        report_diags(ctx, &d);
        return ATTNC_ERR_RECIPE;
    }
    return ATTNC_OK;
}

static attnc_status recipe_new(attnc_recipe **out, attnc_context *ctx)
{
    attnc_recipe *rc = ctx_calloc(ctx, sizeof *rc);
    if (!rc)
        return ctx_error(ctx, ATTNC_ERR_NOMEM, "out of memory creating a recipe");
    rc->ctx = ctx;
    arena_init(&rc->arena, &ctx->heap);
    *out = rc;
    return ATTNC_OK;
}

attnc_status attnc_recipe_from_text(attnc_recipe **out, attnc_context *ctx, const char *name, const char *text,
                                    size_t len)
{
    if (out)
        *out = NULL;
    if (!ctx)
        return ATTNC_ERR_INVALID_ARGUMENT;
    if (!out || (!text && len))
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT, "attnc_recipe_from_text: %s is NULL",
                         !out ? "out" : "text");
    ctx_clear_error(ctx);
    attnc_recipe *rc = NULL;
    attnc_status st = recipe_new(&rc, ctx);
    if (st)
        return st;
    /* the front end may keep pointers into the text: copy it into the arena */
    char *copy = arena_alloc(&rc->arena, len + 1);
    st = copy ? ATTNC_OK : ctx_error(ctx, ATTNC_ERR_NOMEM, "out of memory copying the recipe text");
    if (!st) {
        if (len)
            memcpy(copy, text, len);
        st = parse_into(rc, name, copy, len);
    }
    if (st) {
        attnc_recipe_destroy(rc);
        return st;
    }
    *out = rc;
    return ATTNC_OK;
}

attnc_status attnc_recipe_from_file(attnc_recipe **out, attnc_context *ctx, const char *path)
{
    if (out)
        *out = NULL;
    if (!ctx)
        return ATTNC_ERR_INVALID_ARGUMENT;
    if (!out || !path)
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT, "attnc_recipe_from_file: %s is NULL", !out ? "out" : "path");
    ctx_clear_error(ctx);
    attnc_recipe *rc = NULL;
    attnc_status st = recipe_new(&rc, ctx);
    if (st)
        return st;
    size_t len = 0;
    const char *why = NULL;
    char *text = frontend_read_file(&rc->arena, path, &len, &why);
    if (!text)
        st = rc->arena.failed ? ctx_error(ctx, ATTNC_ERR_NOMEM, "out of memory reading %s", path)
                              : ctx_error(ctx, ATTNC_ERR_IO, "cannot read %s: %s", path, why ? why : "error");
    else
        st = parse_into(rc, path, text, len);
    if (st) {
        attnc_recipe_destroy(rc);
        return st;
    }
    *out = rc;
    return ATTNC_OK;
}

void attnc_recipe_destroy(attnc_recipe *r)
{
    if (!r)
        return;
    attnc_context *ctx = r->ctx;
    arena_free_all(&r->arena);
    ctx_free(ctx, r);
}

const char *attnc_recipe_name(const attnc_recipe *r)
{
    return r && r->r && r->r->name ? r->r->name : "";
}

const recipe *attnc_recipe_typed(const attnc_recipe *r)
{
    return r ? r->r : NULL;
}
