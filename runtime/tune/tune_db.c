/* tune_db.c — the SQLite tuning database; see tune_db.h for the contract. */
#include "runtime/tune/tune_db.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "runtime/cache/cache.h"
#include "runtime/cache/cache_disk.h"
#include "runtime/tune/tune_db_impl.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS best("
    " recipe_hash TEXT NOT NULL, arch TEXT NOT NULL, bucket TEXT NOT NULL,"
    " schedule TEXT NOT NULL, time_us REAL NOT NULL, created INTEGER NOT NULL,"
    " checksum INTEGER NOT NULL, PRIMARY KEY(recipe_hash, arch, bucket));"
    "CREATE TABLE IF NOT EXISTS candidates("
    " recipe_hash TEXT NOT NULL, arch TEXT NOT NULL, bucket TEXT NOT NULL,"
    " schedule TEXT NOT NULL, time_us REAL NOT NULL, status TEXT NOT NULL, created INTEGER NOT NULL,"
    " PRIMARY KEY(recipe_hash, arch, bucket, schedule));"
    "PRAGMA user_version = 1;";

/* XXH3-64 over the row's fields, NUL-separated, the time printed exactly. */
static int64_t row_sum(const char *recipe, const char *arch, const char *bucket, const char *sched, double us)
{
    char t[40];
    snprintf(t, sizeof t, "%.17g", us);
    const char *f[] = {recipe, arch, bucket, sched, t};
    XXH64_hash_t h = 0x617474; /* "att" */
    for (int i = 0; i < 5; i++)
        h = XXH3_64bits_withSeed(f[i] ? f[i] : "", f[i] ? strlen(f[i]) + 1 : 1, h);
    return (int64_t)h;
}

/* attnc_row_sum(recipe, arch, bucket, schedule, time_us) for SQL. */
static void sql_row_sum(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
    (void)argc;
    sqlite3_result_int64(ctx, row_sum((const char *)sqlite3_value_text(v[0]), (const char *)sqlite3_value_text(v[1]),
                                      (const char *)sqlite3_value_text(v[2]), (const char *)sqlite3_value_text(v[3]),
                                      sqlite3_value_double(v[4])));
}

typedef enum { OPEN_OK, OPEN_CORRUPT, OPEN_FAILED, OPEN_BUSY } open_result;

/* Another connection holds a lock SQLite will not wait for through the busy
 * handler (switching a new file to WAL, WAL recovery): retried by try_open. */
static bool is_busy(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* Damage, as opposed to a busy or unreadable file (which must never be
 * moved aside: another process may simply hold a lock). */
static bool is_damage(int rc)
{
    return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

/* PRAGMA quick_check answers one row "ok" on a sound file. */
static open_result check_file(sqlite3 *db, strbuf *why)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
    int step = rc == SQLITE_OK ? sqlite3_step(st) : rc;
    const char *row = step == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    open_result r = row && !strcmp(row, "ok") ? OPEN_OK
                  : !row && is_busy(step)     ? OPEN_BUSY
                  : row || is_damage(step)    ? OPEN_CORRUPT
                                              : OPEN_FAILED;
    if (r != OPEN_OK)
        sb_puts(why, row ? row : sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return r;
}

/* How a connection is opened: read-write (created if missing), read-only
 * (the file or its folder cannot be written), or read-only without locks
 * (a WAL database whose -shm file cannot be made in a read-only folder). */
typedef enum { MODE_RW, MODE_RO, MODE_IMMUTABLE } open_mode;

/* WAL, the schema (writable connections), and attnc_row_sum (every one). */
static open_result setup(sqlite3 *db, open_mode mode, strbuf *why)
{
    char *e = NULL;
    int rc = SQLITE_OK;
    if (mode == MODE_RW && sqlite3_db_readonly(db, "main") == 1) { /* SQLite fell back to reading */
        sb_puts(why, "the file cannot be written");
        return OPEN_FAILED;
    }
    if (mode == MODE_RW)
        rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, &e);
    if (mode == MODE_RW && rc == SQLITE_OK) {
        sqlite3_free(e);
        e = NULL;
        rc = sqlite3_exec(db, schema, NULL, NULL, &e);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(db, "attnc_row_sum", 5, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_row_sum,
                                     NULL, NULL);
    if (rc != SQLITE_OK)
        sb_puts(why, e ? e : sqlite3_errmsg(db));
    sqlite3_free(e);
    return rc == SQLITE_OK ? OPEN_OK : is_busy(rc) ? OPEN_BUSY : is_damage(rc) ? OPEN_CORRUPT : OPEN_FAILED;
}

/* "file:PATH?mode=ro" with PATH percent-encoded where URIs need it. */
static void uri_for(strbuf *u, const char *path, open_mode mode)
{
    sb_puts(u, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (*p == '%' || *p == '?' || *p == '#' || *p <= ' ' || *p >= 0x7f)
            sb_printf(u, "%%%02X", *p);
        else
            sb_putc(u, (char)*p);
    sb_puts(u, mode == MODE_IMMUTABLE ? "?immutable=1" : "?mode=ro");
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Opens, checks and sets up, retrying for up to 15 s (the busy timeout)
 * while other connections hold locks; on failure the db is closed and why
 * says why. */
static open_result try_open_once(tune_db *t, open_mode mode, strbuf *why);
static open_result try_open(tune_db *t, open_mode mode, strbuf *why)
{
    double give_up = seconds() + 15.0;
    unsigned seed = (unsigned)getpid() ^ (unsigned)(uintptr_t)t;
    for (;;) {
        sb_clear(why);
        open_result r = try_open_once(t, mode, why);
        if (r != OPEN_BUSY)
            return r;
        if (seconds() > give_up)
            return OPEN_FAILED;
        usleep(2000 + (useconds_t)(rand_r(&seed) % 20000));
    }
}

static open_result try_open_once(tune_db *t, open_mode mode, strbuf *why)
{
    strbuf uri;
    sb_init(&uri);
    int rc = SQLITE_NOMEM;
    if (mode == MODE_RW) {
        rc = sqlite3_open_v2(t->path, &t->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    } else {
        uri_for(&uri, t->path, mode);
        if (!uri.failed)
            rc = sqlite3_open_v2(sb_cstr(&uri), &t->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    }
    sb_free(&uri);
    open_result r = rc == SQLITE_OK ? OPEN_OK : is_damage(rc) ? OPEN_CORRUPT : OPEN_FAILED;
    if (r != OPEN_OK)
        sb_puts(why, t->db ? sqlite3_errmsg(t->db) : "cannot open");
    if (r == OPEN_OK) {
        sqlite3_busy_timeout(t->db, 15000);
        sqlite3_extended_result_codes(t->db, 1);
        r = check_file(t->db, why);
    }
    if (r == OPEN_OK)
        r = setup(t->db, mode, why);
    if (r != OPEN_OK) {
        sqlite3_close(t->db);
        t->db = NULL;
    }
    return r;
}

static char *default_path(strbuf *msg)
{
    strbuf p;
    sb_init(&p);
    char *r = NULL;
    if (cache_default_dir(&p, false, msg)) {
        sb_puts(&p, "/tuning.sqlite");
        r = p.failed ? NULL : strdup(sb_cstr(&p));
    }
    sb_free(&p);
    return r;
}

static void make_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return;
    char dir[4096];
    size_t n = (size_t)(slash - path);
    if (n >= sizeof dir)
        return;
    memcpy(dir, path, n);
    dir[n] = 0;
    disk_make_dirs(dir, NULL);
}

/* flock on PATH.lock: only one process decides a file is damaged and
 * replaces it; the others then find the replacement. -1 if impossible. */
static int lock_repair(const char *path)
{
    char lp[4200];
    snprintf(lp, sizeof lp, "%s.lock", path);
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    while (fd >= 0 && flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) {
            close(fd);
            fd = -1;
        }
    return fd;
}

static bool repair(tune_db *t, strbuf *note)
{
    strbuf why;
    sb_init(&why);
    int fd = lock_repair(t->path);
    open_result r = try_open(t, MODE_RW, &why); /* someone may have repaired it meanwhile */
    if (r == OPEN_CORRUPT) {
        sb_printf(note, "tuning database '%s' is corrupt (%s); recreated empty", t->path, sb_cstr(&why));
        tune_db_move_aside(t->path, note);
        sb_clear(&why);
        r = try_open(t, MODE_RW, &why);
    }
    if (r != OPEN_OK)
        sb_printf(note, "%scannot open tuning database '%s': %s", note->len ? "; " : "", t->path, sb_cstr(&why));
    if (fd >= 0)
        close(fd); /* releases the lock */
    sb_free(&why);
    return r == OPEN_OK;
}

/* A file that cannot be written (a read-only folder or file system, or
 * another user's): read it without writing. Never creates or repairs. */
static bool open_readonly(tune_db *t, const char *why_rw, strbuf *note)
{
    strbuf why;
    sb_init(&why);
    open_result r = try_open(t, MODE_RO, &why);
    if (r == OPEN_FAILED) { /* WAL needs a -shm file it cannot create here */
        sb_clear(&why);
        r = try_open(t, MODE_IMMUTABLE, &why);
    }
    t->readonly = r == OPEN_OK;
    if (r == OPEN_OK)
        sb_printf(note, "tuning database '%s' cannot be written (%s); opened read-only: its tuned schedules are used, "
                        "new ones cannot be recorded",
                  t->path, why_rw);
    else
        sb_printf(note, "cannot open tuning database '%s': %s%s (read-only: %s)", t->path, why_rw,
                  r == OPEN_CORRUPT ? "; it is corrupt and cannot be moved aside" : "", sb_cstr(&why));
    sb_free(&why);
    return r == OPEN_OK;
}

static bool open_or_recreate(tune_db *t, strbuf *note)
{
    struct stat st;
    bool exists = stat(t->path, &st) == 0, was_empty = exists && st.st_size == 0;
    strbuf why;
    sb_init(&why);
    open_result r = try_open(t, MODE_RW, &why);
    bool ok = r == OPEN_OK;
    if (r == OPEN_OK && was_empty)
        sb_printf(note, "tuning database '%s' was an empty file; recreated", t->path);
    else if (r == OPEN_FAILED && exists && !was_empty)
        ok = open_readonly(t, sb_cstr(&why), note);
    else if (r == OPEN_FAILED)
        sb_printf(note, "cannot open tuning database '%s': %s", t->path, sb_cstr(&why));
    else if (r == OPEN_CORRUPT)
        ok = repair(t, note);
    sb_free(&why);
    return ok;
}

tune_db *tune_db_open(const char *path, strbuf *note)
{
    strbuf scratch;
    sb_init(&scratch);
    if (!note)
        note = &scratch;
    tune_db *t = calloc(1, sizeof *t);
    if (t)
        t->path = path ? strdup(path) : default_path(note);
    if (!t || !t->path) {
        if (!t)
            sb_puts(note, "out of memory opening the tuning database");
        free(t);
        sb_free(&scratch);
        return NULL;
    }
    make_parent(t->path);
    if (!open_or_recreate(t, note)) {
        tune_db_close(t);
        t = NULL;
    }
    sb_free(&scratch);
    return t;
}

void tune_db_close(tune_db *t)
{
    if (!t)
        return;
    sqlite3_close(t->db);
    free(t->path);
    free(t);
}

const char *tune_db_path(const tune_db *t)
{
    return t->path;
}

bool tune_db_readonly(const tune_db *t)
{
    return t->readonly;
}
