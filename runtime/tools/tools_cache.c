/* tools_cache.c — the kernel cache and tuning database for attnc's tools
 * (include/attnc_tools.h): thin wrappers that copy internal records into
 * the header's plain types. */
#include "runtime/include/attnc_tools.h"

#include <string.h>

#include "runtime/cache/cache.h"
#include "runtime/tune/tune_db.h"

attnc_tools_cache *attnc_tools_cache_open(const char *dir, strbuf *err)
{
    cache_options co = {.dir = dir};
    return cache_open(&co, err);
}

void attnc_tools_cache_close(attnc_tools_cache *c)
{
    cache_close(c);
}

const char *attnc_tools_cache_dir(const attnc_tools_cache *c)
{
    return cache_dir(c);
}

const char *attnc_tools_cache_stamp(void)
{
    return cache_stamp();
}

typedef struct entry_relay {
    attnc_tools_entry_fn fn;
    void *user;
} entry_relay;

static void relay_entry(void *user, const cache_entry_info *e)
{
    const entry_relay *r = user;
    attnc_tools_entry t = {{0}, e->kind == CACHE_CUBIN, e->payload_len, e->file_len, e->mtime, e->valid};
    memcpy(t.key_hex, e->key_hex, sizeof t.key_hex);
    r->fn(r->user, &t);
}

long attnc_tools_cache_list(attnc_tools_cache *c, attnc_tools_entry_fn fn, void *user, strbuf *err)
{
    entry_relay r = {fn, user};
    return cache_list(c, relay_entry, &r, err);
}

long attnc_tools_cache_clear(attnc_tools_cache *c, strbuf *err)
{
    return cache_clear(c, err);
}

/* ---- tuning ---- */

bool attnc_tools_tuning_path(const char *dir, strbuf *path, strbuf *note)
{
    if (dir)
        sb_printf(path, "%s/tuning.sqlite", dir);
    else if (cache_default_dir(path, false, note))
        sb_puts(path, "/tuning.sqlite");
    return path->len > 0 && !path->failed;
}

attnc_tools_tuning *attnc_tools_tuning_open(const char *path, strbuf *note)
{
    return tune_db_open(path, note);
}

void attnc_tools_tuning_close(attnc_tools_tuning *db)
{
    tune_db_close(db);
}

const char *attnc_tools_tuning_where(const attnc_tools_tuning *db)
{
    return tune_db_path(db);
}

bool attnc_tools_tuning_readonly(const attnc_tools_tuning *db)
{
    return tune_db_readonly(db);
}

typedef struct tuned_relay {
    attnc_tools_tuned_fn fn;
    void *user;
} tuned_relay;

static void relay_tuned(void *user, const tune_record *rec)
{
    const tuned_relay *r = user;
    attnc_tools_tuned t;
    memcpy(t.recipe_hash, rec->recipe_hash, sizeof t.recipe_hash);
    memcpy(t.arch, rec->arch, sizeof t.arch);
    memcpy(t.bucket, rec->bucket, sizeof t.bucket);
    memcpy(t.schedule, rec->schedule, sizeof t.schedule);
    t.time_us = rec->time_us;
    r->fn(r->user, &t);
}

long attnc_tools_tuning_list(attnc_tools_tuning *db, attnc_tools_tuned_fn fn, void *user, long *corrupt, strbuf *err)
{
    tuned_relay r = {fn, user};
    return tune_db_list(db, relay_tuned, &r, corrupt, err);
}

bool attnc_tools_tuning_clear(attnc_tools_tuning *db, strbuf *err)
{
    return tune_db_clear(db, err);
}

long attnc_tools_tuning_remove_asides(const char *path, strbuf *err)
{
    return tune_db_remove_asides(path, err);
}
