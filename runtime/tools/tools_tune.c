/* tools_tune.c — tuning shapes and stored schedules for attnc's tools
 * (include/attnc_tools.h), over tune_db.h. */
#include "runtime/include/attnc_tools.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/tools/tools_impl.h"
#include "runtime/tune/tune_db.h"

_Static_assert(sizeof(attnc_tools_shape) == sizeof(tune_shape), "attnc_tools_shape mirrors tune_shape");

const char *attnc_tools_recipe_name(const attnc_tools_recipe *r)
{
    return tools_recipe_of(r)->name;
}

const char *attnc_tools_grid_dim_name(const attnc_tools_recipe *tr, int d)
{
    const recipe *r = tools_recipe_of(tr);
    const recipe_size *sz = &r->sizes[SZ_GRID0 + d];
    return sz->fixed > 0 || !sz->name ? r->grid_names[d] : sz->name;
}

/* A grid dim the recipe fixes must not be given another value. */
static bool fixed_dims(const recipe *r, const char *text, strbuf *full, strbuf *err)
{
    for (int d = 0; d < r->grid_ndim; d++) {
        int64_t fixed = r->sizes[SZ_GRID0 + d].fixed;
        if (fixed <= 0)
            continue;
        const char *label = r->grid_names[d];
        size_t n = strlen(label);
        for (const char *p = text; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
            if (!strncmp(p, label, n) && p[n] == '=' && strtoll(p + n + 1, NULL, 10) != fixed) {
                sb_printf(err, "--shape: grid dim %s is fixed to %lld by the recipe", label, (long long)fixed);
                return false;
            }
        sb_printf(full, ",%s=%lld", label, (long long)fixed); /* the same value again is harmless */
    }
    return true;
}

bool attnc_tools_tune_shape(const attnc_tools_recipe *tr, const char *text, attnc_tools_shape *out, strbuf *err)
{
    const recipe *r = tools_recipe_of(tr);
    const char *size_names[3] = {NULL, NULL, NULL};
    for (int g = 0; g < 3; g++)
        size_names[g] = g < r->grid_ndim && r->sizes[SZ_GRID0 + g].fixed <= 0 ? r->sizes[SZ_GRID0 + g].name : NULL;
    strbuf full;
    sb_init(&full);
    sb_puts(&full, text);
    tune_shape sh;
    bool ok = fixed_dims(r, text, &full, err) &&
              tune_shape_parse(sb_cstr(&full), r->grid_names, size_names, r->grid_ndim, &sh, err);
    sb_free(&full);
    if (ok)
        memcpy(out, &sh, sizeof sh);
    return ok;
}

attnc_tools_result attnc_tools_tuned_lookup(const attnc_tools_recipe *tr, const char *arch,
                                            const attnc_tools_shape *shape, attnc_tools_tuned *rec, char bucket[64],
                                            strbuf *note, strbuf *err)
{
    const attnc_tools_recipe *t = tr;
    char hash[33];
    tune_recipe_hash(t->text, t->len, hash);
    tune_bucket(bucket, 64, shape->batch, shape->heads, shape->tokens, shape->kv_tokens, t->r->head_dim);
    tune_db *db = tune_db_open(NULL, note);
    tune_record r;
    tune_result res = db ? tune_db_lookup(db, hash, arch, bucket, &r, err) : TUNE_ERROR;
    tune_db_close(db);
    if (res != TUNE_FOUND)
        return res == TUNE_ERROR ? ATTNC_TOOLS_INTERNAL : ATTNC_TOOLS_USER;
    memcpy(rec->recipe_hash, r.recipe_hash, sizeof rec->recipe_hash);
    memcpy(rec->arch, r.arch, sizeof rec->arch);
    memcpy(rec->bucket, r.bucket, sizeof rec->bucket);
    memcpy(rec->schedule, r.schedule, sizeof rec->schedule);
    rec->time_us = r.time_us;
    return ATTNC_TOOLS_OK;
}
