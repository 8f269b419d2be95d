/* tune_db_rows.c — reading and writing tuning rows, shape buckets; see
 * tune_db.h. Every statement is prepared, bound, stepped and finalised in
 * one function so no statement outlives a call. */
#include "runtime/tune/tune_db_impl.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t round_pow2(int64_t v, int64_t min)
{
    int64_t p = min;
    while (p < v && p < ((int64_t)1 << 40))
        p <<= 1;
    return p;
}

void tune_bucket(char *out, size_t cap, int64_t batch, int64_t heads, int64_t q_tokens, int64_t kv_tokens,
                 int head_dim)
{
    snprintf(out, cap, "bh%lld.q%lld.k%lld.d%d", (long long)round_pow2(batch * heads, 1),
             (long long)round_pow2(q_tokens, 16), (long long)round_pow2(kv_tokens, 16), head_dim);
}

static bool fail(tune_db *t, strbuf *msg, const char *what)
{
    if (msg)
        sb_printf(msg, "tuning database: %s: %s", what, sqlite3_errmsg(t->db));
    return false;
}

/* Writes to a database opened read-only fail here, with the reason. */
static bool writable(tune_db *t, strbuf *msg, const char *what)
{
    if (t->readonly && msg)
        sb_printf(msg, "tuning database: %s: '%s' was opened read-only (its folder or file cannot be written)", what,
                  t->path);
    return !t->readonly;
}

static void copy(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

static bool bind_texts(sqlite3_stmt *st, const char *a, const char *b, const char *c)
{
    return sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
           sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
           sqlite3_bind_text(st, 3, c, -1, SQLITE_TRANSIENT) == SQLITE_OK;
}

static bool drop_row(tune_db *t, const char *recipe, const char *arch, const char *bucket)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(t->db, "DELETE FROM best WHERE recipe_hash=?1 AND arch=?2 AND bucket=?3", -1,
                                 &st, NULL) == SQLITE_OK &&
              bind_texts(st, recipe, arch, bucket) && sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok;
}

tune_result tune_db_lookup(tune_db *t, const char *recipe, const char *arch, const char *bucket, tune_record *out,
                           strbuf *msg)
{
    static const char sql[] = "SELECT schedule, time_us, created,"
                              " checksum = attnc_row_sum(recipe_hash, arch, bucket, schedule, time_us)"
                              " FROM best WHERE recipe_hash=?1 AND arch=?2 AND bucket=?3";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) != SQLITE_OK || !bind_texts(st, recipe, arch, bucket)) {
        sqlite3_finalize(st);
        fail(t, msg, "lookup");
        return TUNE_ERROR;
    }
    int rc = sqlite3_step(st);
    tune_result r = rc == SQLITE_DONE ? TUNE_NOT_FOUND : rc == SQLITE_ROW ? TUNE_FOUND : TUNE_ERROR;
    if (r == TUNE_FOUND && !sqlite3_column_int(st, 3))
        r = TUNE_CORRUPT;
    if (r == TUNE_FOUND) {
        memset(out, 0, sizeof *out);
        copy(out->recipe_hash, sizeof out->recipe_hash, (const unsigned char *)recipe);
        copy(out->arch, sizeof out->arch, (const unsigned char *)arch);
        copy(out->bucket, sizeof out->bucket, (const unsigned char *)bucket);
        copy(out->schedule, sizeof out->schedule, sqlite3_column_text(st, 0));
        out->time_us = sqlite3_column_double(st, 1);
        out->created = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (r == TUNE_ERROR)
        fail(t, msg, "lookup");
    if (r == TUNE_CORRUPT) {
        if (msg)
            sb_printf(msg, "tuning record for %s/%s/%s failed its checksum; %s", recipe, arch, bucket,
                      t->readonly ? "ignored (the database is read-only)" : "removed, it will be re-tuned");
        if (!t->readonly)
            drop_row(t, recipe, arch, bucket);
    }
    return r;
}

bool tune_db_record_best(tune_db *t, const char *recipe, const char *arch, const char *bucket,
                         const char *sched, double time_us, strbuf *msg)
{
    /* Replace a slower row, or one whose checksum no longer holds. */
    static const char sql[] =
        "INSERT INTO best VALUES(?1, ?2, ?3, ?4, ?5, ?6, attnc_row_sum(?1, ?2, ?3, ?4, ?5))"
        " ON CONFLICT(recipe_hash, arch, bucket) DO UPDATE SET schedule=excluded.schedule,"
        " time_us=excluded.time_us, created=excluded.created, checksum=excluded.checksum"
        " WHERE excluded.time_us < best.time_us"
        " OR best.checksum != attnc_row_sum(best.recipe_hash, best.arch, best.bucket, best.schedule, best.time_us)";
    if (!writable(t, msg, "record best"))
        return false;
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) == SQLITE_OK &&
              bind_texts(st, recipe, arch, bucket) &&
              sqlite3_bind_text(st, 4, sched, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
              sqlite3_bind_double(st, 5, time_us) == SQLITE_OK &&
              sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL)) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok || fail(t, msg, "record best");
}

bool tune_db_record_candidate(tune_db *t, const char *recipe, const char *arch, const char *bucket,
                              const char *sched, double time_us, const char *status, strbuf *msg)
{
    static const char sql[] = "INSERT OR REPLACE INTO candidates VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    if (!writable(t, msg, "record candidate"))
        return false;
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) == SQLITE_OK &&
              bind_texts(st, recipe, arch, bucket) &&
              sqlite3_bind_text(st, 4, sched, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
              sqlite3_bind_double(st, 5, time_us) == SQLITE_OK &&
              sqlite3_bind_text(st, 6, status ? status : "ok", -1, SQLITE_TRANSIENT) == SQLITE_OK &&
              sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL)) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok || fail(t, msg, "record candidate");
}

long tune_db_list(tune_db *t, tune_list_fn fn, void *user, long *corrupt, strbuf *msg)
{
    static const char sql[] = "SELECT recipe_hash, arch, bucket, schedule, time_us, created,"
                              " checksum = attnc_row_sum(recipe_hash, arch, bucket, schedule, time_us)"
                              " FROM best ORDER BY recipe_hash, arch, bucket";
    sqlite3_stmt *st = NULL;
    if (corrupt)
        *corrupt = 0;
    if (sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail(t, msg, "list");
        return -1;
    }
    long n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!sqlite3_column_int(st, 6)) {
            if (corrupt)
                (*corrupt)++;
            continue;
        }
        tune_record r;
        memset(&r, 0, sizeof r);
        copy(r.recipe_hash, sizeof r.recipe_hash, sqlite3_column_text(st, 0));
        copy(r.arch, sizeof r.arch, sqlite3_column_text(st, 1));
        copy(r.bucket, sizeof r.bucket, sqlite3_column_text(st, 2));
        copy(r.schedule, sizeof r.schedule, sqlite3_column_text(st, 3));
        r.time_us = sqlite3_column_double(st, 4);
        r.created = sqlite3_column_int64(st, 5);
        fn(user, &r);
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        fail(t, msg, "list");
        return -1;
    }
    return n;
}

bool tune_db_clear(tune_db *t, strbuf *msg)
{
    char *e = NULL;
    if (!writable(t, msg, "clear"))
        return false;
    if (sqlite3_exec(t->db, "DELETE FROM best; DELETE FROM candidates;", NULL, NULL, &e) == SQLITE_OK)
        return true;
    if (msg)
        sb_printf(msg, "tuning database: clear: %s", e ? e : "?");
    sqlite3_free(e);
    return false;
}
