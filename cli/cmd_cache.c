/* cmd_cache.c — `attnc cache ls|clear|stats`: the on-disk kernel cache and
 * tuning database of this attnc version. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_opts.h"
#include "commands.h"
#include "runtime/include/attnc_tools.h"

typedef struct cache_cli {
    const char *dir; /* --dir, else the default */
    bool all;        /* clear: the tuning database too */
} cache_cli;

typedef struct totals {
    long entries, corrupt;
    unsigned long long bytes;
} totals;

static void print_entry(void *user, const attnc_tools_entry *e)
{
    totals *t = user;
    char when[32] = "?";
    time_t mt = (time_t)e->mtime;
    struct tm tm;
    if (localtime_r(&mt, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    printf("%s  %-5s %10llu  %s  %s\n", e->key_hex, e->cubin ? "cubin" : "ptx",
           (unsigned long long)e->payload_len, when, e->valid ? "ok" : "CORRUPT (will be rebuilt)");
    t->entries++;
    t->corrupt += !e->valid;
    t->bytes += e->file_len;
}

static void count_entry(void *user, const attnc_tools_entry *e)
{
    totals *t = user;
    t->entries++;
    t->corrupt += !e->valid;
    t->bytes += e->file_len;
}

static void print_tuned(void *user, const attnc_tools_tuned *r)
{
    (void)user;
    printf("  %.16s  %-7s %-24s %10.2f us  %s\n", r->recipe_hash, r->arch, r->bucket, r->time_us, r->schedule);
}

static void count_tuned(void *user, const attnc_tools_tuned *r)
{
    (void)r;
    ++*(long *)user;
}

static attnc_tools_cache *open_cache(const cache_cli *o)
{
    strbuf err;
    sb_init(&err);
    attnc_tools_cache *c = attnc_tools_cache_open(o->dir, &err);
    if (!c)
        fprintf(stderr, "attnc cache: %s\n", sb_cstr(&err));
    sb_free(&err);
    return c;
}

/* Where the tuning database is (or would be); false with a message. */
static bool tuning_path(const cache_cli *o, strbuf *path, strbuf *note)
{
    return attnc_tools_tuning_path(o->dir, path, note);
}

/* The tuning database, only if it exists (listing must not create it);
 * *failed when it exists but cannot be opened (the message is printed). */
static attnc_tools_tuning *open_tuning(const cache_cli *o, bool *failed)
{
    strbuf path, note;
    sb_init(&path);
    sb_init(&note);
    attnc_tools_tuning *db = NULL;
    *failed = false;
    if (tuning_path(o, &path, &note) && access(sb_cstr(&path), F_OK) == 0) {
        db = attnc_tools_tuning_open(sb_cstr(&path), &note);
        *failed = !db;
    }
    if (note.len)
        fprintf(stderr, "attnc cache: %s\n", sb_cstr(&note));
    sb_free(&path);
    sb_free(&note);
    return db;
}

static int do_ls(const cache_cli *o)
{
    attnc_tools_cache *c = open_cache(o);
    if (!c)
        return EXIT_INTERNAL;
    strbuf err;
    sb_init(&err);
    totals t = {0};
    printf("kernel cache: %s\n", attnc_tools_cache_dir(c));
    long n = attnc_tools_cache_list(c, print_entry, &t, &err);
    int rc = n < 0 ? EXIT_INTERNAL : EXIT_OK;
    if (n < 0)
        fprintf(stderr, "attnc cache: %s\n", sb_cstr(&err));
    else
        printf("%ld entr%s, %llu bytes, %ld corrupt\n", t.entries, t.entries == 1 ? "y" : "ies", t.bytes, t.corrupt);
    bool failed;
    attnc_tools_tuning *db = open_tuning(o, &failed);
    if (failed)
        rc = EXIT_INTERNAL;
    if (db) {
        long corrupt = 0;
        printf("tuned schedules: %s%s\n", attnc_tools_tuning_where(db), attnc_tools_tuning_readonly(db) ? " (read-only)" : "");
        if (attnc_tools_tuning_list(db, print_tuned, NULL, &corrupt, &err) < 0) {
            fprintf(stderr, "attnc cache: %s\n", sb_cstr(&err));
            rc = EXIT_INTERNAL;
        }
        if (corrupt)
            printf("  %ld record%s failed their checksum (re-tuned on next use)\n", corrupt, corrupt == 1 ? "" : "s");
    }
    attnc_tools_tuning_close(db);
    attnc_tools_cache_close(c);
    sb_free(&err);
    return rc;
}

static int do_stats(const cache_cli *o)
{
    attnc_tools_cache *c = open_cache(o);
    if (!c)
        return EXIT_INTERNAL;
    strbuf err;
    sb_init(&err);
    totals t = {0};
    long n = attnc_tools_cache_list(c, count_entry, &t, &err);
    if (n < 0) {
        fprintf(stderr, "attnc cache: %s\n", sb_cstr(&err));
        attnc_tools_cache_close(c);
        sb_free(&err);
        return EXIT_INTERNAL;
    }
    printf("folder:    %s\nkey stamp: %s\nentries:   %ld\nbytes:     %llu\ncorrupt:   %ld\n", attnc_tools_cache_dir(c),
           attnc_tools_cache_stamp(), t.entries, t.bytes, t.corrupt);
    bool failed;
    attnc_tools_tuning *db = open_tuning(o, &failed);
    long rows = 0, corrupt = 0;
    int rc = EXIT_OK;
    if (db && attnc_tools_tuning_list(db, count_tuned, &rows, &corrupt, &err) >= 0) {
        printf("tuned:     %ld (corrupt %ld) in %s%s\n", rows, corrupt, attnc_tools_tuning_where(db),
               attnc_tools_tuning_readonly(db) ? " (read-only)" : "");
    } else if (db || failed) {
        if (db)
            fprintf(stderr, "attnc cache: %s\n", sb_cstr(&err));
        printf("tuned:     ? (the tuning database cannot be read)\n");
        rc = EXIT_INTERNAL;
    } else {
        printf("tuned:     0 (no tuning database yet)\n");
    }
    attnc_tools_tuning_close(db);
    attnc_tools_cache_close(c);
    sb_free(&err);
    return rc;
}

/* clear --all: the tuned schedules and the damaged copies moved aside. */
static int clear_tuning(const cache_cli *o)
{
    strbuf err, path;
    sb_init(&err);
    sb_init(&path);
    bool failed;
    int rc = EXIT_OK;
    attnc_tools_tuning *db = open_tuning(o, &failed);
    if (failed || (db && !attnc_tools_tuning_clear(db, &err))) {
        if (err.len)
            fprintf(stderr, "attnc cache: %s\n", sb_cstr(&err));
        rc = EXIT_INTERNAL;
    } else if (db) {
        printf("cleared tuned schedules in %s\n", attnc_tools_tuning_where(db));
    }
    attnc_tools_tuning_close(db);
    sb_clear(&err);
    long asides = tuning_path(o, &path, &err) ? attnc_tools_tuning_remove_asides(sb_cstr(&path), &err) : -1;
    if (asides < 0) {
        fprintf(stderr, "attnc cache: %s\n", sb_cstr(&err));
        rc = EXIT_INTERNAL;
    } else if (asides > 0) {
        printf("removed %ld damaged tuning database cop%s\n", asides, asides == 1 ? "y" : "ies");
    }
    sb_free(&path);
    sb_free(&err);
    return rc;
}

static int do_clear(const cache_cli *o)
{
    attnc_tools_cache *c = open_cache(o);
    if (!c)
        return EXIT_INTERNAL;
    strbuf err;
    sb_init(&err);
    long n = attnc_tools_cache_clear(c, &err);
    int rc = EXIT_OK;
    if (n < 0) {
        fprintf(stderr, "attnc cache: %s\n", sb_cstr(&err));
        rc = EXIT_INTERNAL;
    } else {
        printf("removed %ld file%s from %s\n", n, n == 1 ? "" : "s", attnc_tools_cache_dir(c));
    }
    if (o->all && clear_tuning(o) != EXIT_OK)
        rc = EXIT_INTERNAL;
    attnc_tools_cache_close(c);
    sb_free(&err);
    return rc;
}

static const cli_opt cache_table[] = {
    CLI_STR("--dir", cache_cli, dir),
    CLI_FLAG("--all", cache_cli, all),
};

static int run_cache(int argc, char **argv)
{
    static const char *const actions[] = {"ls", "clear", "stats"};
    int (*const run[])(const cache_cli *) = {do_ls, do_clear, do_stats};
    cache_cli o = {0};
    const char *ops_v[argc > 0 ? argc : 1];
    cli_operands ops = {ops_v, 0};
    cli_spec spec = {"cache", cache_table, (int)(sizeof cache_table / sizeof cache_table[0]), "action (ls, clear or stats)",
                     1, 1};
    int rc = cli_parse(&spec, argc, argv, &o, &ops);
    if (rc)
        return rc;
    for (int i = 0; i < 3; i++)
        if (!strcmp(ops_v[0], actions[i]))
            return run[i](&o);
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "unknown action '%s' (ls, clear or stats)", ops_v[0]);
    cli_did_you_mean(&sb, ops_v[0], actions, 3);
    rc = cli_usage_error("cache", "%s", sb.failed ? "unknown action" : sb_cstr(&sb));
    sb_free(&sb);
    return rc;
}

const cli_command cmd_cache = {
    "cache",
    "list, clear or summarise the kernel cache",
    "usage: attnc cache ls|clear|stats [--dir DIR] [--all]\n\n"
    "The kernel cache holds compiled PTX and cubin images keyed by a hash of the\n"
    "canonical IR, schedule, arch and the attnc/LLVM/code-generator versions.\n"
    "It lives in $ATTNC_CACHE_DIR (else $XDG_CACHE_HOME/attnc, else ~/.cache/attnc),\n"
    "in a folder per attnc/LLVM version; tuned schedules are in tuning.sqlite there.\n\n"
    "  ls      list entries (key, kind, size, date, ok/CORRUPT) and tuned schedules\n"
    "  stats   entry count, bytes, corrupt entries, tuned schedule count\n"
    "  clear   remove this version's entries (--all: also the tuned schedules and\n"
    "          damaged tuning databases moved aside)\n\n"
    "  --dir DIR   use DIR instead of the default folder\n\n"
    "Corrupt entries are never loaded: they are rebuilt on next use. A tuning database\n"
    "that cannot be written is read (ls and stats say read-only).\n"
    "exit status: 0 success, 1 bad arguments, 2 the folder could not be read or written\n",
    run_cache,
};
