/* test_cache_errors.c — the cache, the tuning database and AOT output when
 * the disk says no (item 21 of issue #12): `attnc cache clear` on a folder
 * it cannot write reports the error and exits 2; a tuning database that
 * cannot be written is opened read-only (lookups, listing and tuned
 * launches work; recording and clearing fail with a message; ls/stats say
 * read-only); damaged databases moved aside never pile up and clear --all
 * removes them; `attnc compile --aot` reports user errors (-o naming a
 * file) with exit 1 and I/O errors (a read-only folder, a file size limit
 * standing in for a full disk) with exit 2 and the system's reason, and
 * leaves no partial or temporary file, and older output untouched.
 * Read-only folders: readonly.h (root is dropped to nobody in a child). */
#include "tmpdir.h"
#include "readonly.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/cache/cache.h"
#include "runtime/tune/tune_db.h"

static const char SRC[] = "recipe causal_auto\n"
                          "input  q, k, v : f32 [batch, heads, tokens, 16]\n"
                          "mask   causal\n"
                          "tile   auto\n";
static const char TUNED[] = "q=32 kv=16 stages=1 warps=4 block=64 inter=state";
/* How attnc run shows it: softmax schedules print without the linear-only keys. */
static const char TUNED_SHOWN[] = "q=32 kv=16 stages=1 warps=4";

static void write_text(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    strbuf b;
    sb_init(&b);
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        sb_append(&b, buf, k);
    fclose(f);
    *n = b.len;
    return sb_take(&b);
}

/* Runs a shell command as is (root stays root), output into *out. */
static int run_sh(strbuf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_sh(strbuf *out, const char *fmt, ...)
{
    char cmd[4096], full[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    sb_clear(out);
    char buf[1024];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, p)) > 0)
        sb_append(out, buf, k);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ro_sh with printf arguments; fails the test when root cannot be dropped. */
static int ro_run(strbuf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ro_run(strbuf *out, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[4400];
    snprintf(full, sizeof full, "[ -x %s/bin/attnc ] || { echo 'cannot run %s/bin/attnc as uid %d'; exit 125; }; %s",
             ATTNC_BINARY_DIR, ATTNC_BINARY_DIR, geteuid() == 0 ? 65534 : (int)geteuid(), cmd);
    int rc = ro_sh(out, full);
    if (rc == 254)
        fail_msg("cannot drop root to uid 65534 for a read-only test");
    if (rc == 125)
        fail_msg("%s: the build folder must be readable and searchable by all users for the read-only tests",
                 sb_cstr(out));
    return rc;
}

static int count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += !strncmp(e->d_name, prefix, strlen(prefix));
    closedir(d);
    return n;
}

/* A cache folder with two entries and a tuning database with one best row
 * for SRC's bucket bh1.q64.k64.d16 on the host. */
static char *make_cache(void)
{
    char *dir = tmpdir_make(), path[1024];
    cache_options o = {.dir = dir};
    kcache *c = cache_open(&o, NULL);
    assert_non_null(c);
    cache_key_parts p1 = {"a", "s", "sm_80", NULL}, p2 = {"b", "s", "sm_80", NULL};
    assert_true(cache_store(c, cache_key_make(&p1), CACHE_PTX, "ptx text", 8, NULL));
    assert_true(cache_store(c, cache_key_make(&p2), CACHE_CUBIN, "cubin", 5, NULL));
    cache_close(c);
    char hash[33];
    tune_recipe_hash(SRC, strlen(SRC), hash);
    snprintf(path, sizeof path, "%s/tuning.sqlite", dir);
    tune_db *db = tune_db_open(path, NULL);
    assert_non_null(db);
    assert_true(tune_db_record_best(db, hash, "host", "bh1.q64.k64.d16", TUNED, 3.5, NULL));
    tune_db_close(db);
    snprintf(path, sizeof path, "%s/causal_auto.attn", dir);
    write_text(path, SRC, strlen(SRC));
    return dir;
}

static void test_clear_readonly_folder(void **state)
{
    (void)state;
    char *dir = make_cache();
    strbuf out;
    sb_init(&out);
    assert_true(ro_tree(dir));
    int rc = ro_run(&out, "%s/bin/attnc cache clear --dir %s", ATTNC_BINARY_DIR, dir);
    if (rc != 2 || !strstr(sb_cstr(&out), "(0 removed)") || !strstr(sb_cstr(&out), "Permission denied") ||
        strstr(sb_cstr(&out), "removed 0"))
        fail_msg("cache clear on a read-only folder: exit %d\n%s", rc, sb_cstr(&out));
    rc = ro_run(&out, "%s/bin/attnc cache clear --all --dir %s", ATTNC_BINARY_DIR, dir);
    if (rc != 2 || !strstr(sb_cstr(&out), "read-only"))
        fail_msg("cache clear --all on a read-only folder: exit %d\n%s", rc, sb_cstr(&out));
    assert_true(rw_tree(dir));
    /* Nothing was lost. */
    assert_int_equal(run_sh(&out, "%s/bin/attnc cache stats --dir %s", ATTNC_BINARY_DIR, dir), 0);
    assert_non_null(strstr(sb_cstr(&out), "entries:   2"));
    assert_non_null(strstr(sb_cstr(&out), "tuned:     1"));
    sb_free(&out);
    tmpdir_remove(dir);
}

static void count_row(void *user, const tune_record *r)
{
    (void)r;
    ++*(long *)user;
}

/* As a user who cannot write the folder: the database opens read-only. */
static int readonly_api(void *arg)
{
    const char *dir = arg;
    char path[1024], hash[33];
    snprintf(path, sizeof path, "%s/tuning.sqlite", dir);
    tune_recipe_hash(SRC, strlen(SRC), hash);
    strbuf note, msg;
    sb_init(&note);
    sb_init(&msg);
    tune_db *db = tune_db_open(path, &note);
    if (!db || !tune_db_readonly(db) || !strstr(sb_cstr(&note), "opened read-only"))
        return 1;
    tune_record r;
    if (tune_db_lookup(db, hash, "host", "bh1.q64.k64.d16", &r, &msg) != TUNE_FOUND || strcmp(r.schedule, TUNED))
        return 2;
    long rows = 0, corrupt = -1;
    if (tune_db_list(db, count_row, &rows, &corrupt, &msg) != 1 || rows != 1 || corrupt != 0)
        return 5;
    if (tune_db_record_best(db, hash, "host", "bh1.q64.k64.d16", "q=16 kv=16", 1.0, &msg) ||
        !strstr(sb_cstr(&msg), "read-only"))
        return 3;
    sb_clear(&msg);
    if (tune_db_clear(db, &msg) || !strstr(sb_cstr(&msg), "read-only"))
        return 4;
    tune_db_close(db);
    sb_free(&note);
    sb_free(&msg);
    return 0;
}

static void test_readonly_tuning_db(void **state)
{
    (void)state;
    char *dir = make_cache();
    strbuf out;
    sb_init(&out);
    assert_true(ro_tree(dir));
    int rc = ro_call(readonly_api, dir);
    if (rc != 0)
        fail_msg("read-only database through the API: check %d failed", rc);
    rc = ro_run(&out, "%s/bin/attnc cache stats --dir %s", ATTNC_BINARY_DIR, dir);
    if (rc != 0 || !strstr(sb_cstr(&out), "tuned:     1 (corrupt 0)") || !strstr(sb_cstr(&out), "(read-only)"))
        fail_msg("cache stats: exit %d\n%s", rc, sb_cstr(&out));
    rc = ro_run(&out, "%s/bin/attnc cache ls --dir %s", ATTNC_BINARY_DIR, dir);
    if (rc != 0 || !strstr(sb_cstr(&out), TUNED) || !strstr(sb_cstr(&out), "(read-only)"))
        fail_msg("cache ls: exit %d\n%s", rc, sb_cstr(&out));
    /* A tuned `tile auto` launch still finds its schedule. */
    rc = ro_run(&out, "ATTNC_CACHE_DIR=%s %s/bin/attnc run %s/causal_auto.attn --backend cpu "
                      "--shape batch=1,heads=1,tokens=64",
                dir, ATTNC_BINARY_DIR, dir);
    char want[200];
    snprintf(want, sizeof want, "schedule used: %s", TUNED_SHOWN);
    if (rc != 0 || !strstr(sb_cstr(&out), want))
        fail_msg("attnc run with a read-only tuning database: exit %d\n%s", rc, sb_cstr(&out));
    assert_true(rw_tree(dir));
    /* Only the file read-only, its folder writable: read-only as well. */
    char path[1024];
    snprintf(path, sizeof path, "%s/tuning.sqlite", dir);
    assert_int_equal(chmod(path, 0444), 0);
    rc = ro_run(&out, "%s/bin/attnc cache stats --dir %s", ATTNC_BINARY_DIR, dir);
    if (rc != 0 || !strstr(sb_cstr(&out), "tuned:     1 (corrupt 0)") || !strstr(sb_cstr(&out), "(read-only)"))
        fail_msg("cache stats, read-only file: exit %d\n%s", rc, sb_cstr(&out));
    sb_free(&out);
    tmpdir_remove(dir);
}

/* Damaged databases: one copy moved aside at most, clear --all removes it. */
static void test_asides(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), path[1024], old[1100];
    snprintf(path, sizeof path, "%s/tuning.sqlite", dir);
    snprintf(old, sizeof old, "%s.corrupt-1", path); /* left by an earlier repair */
    write_text(old, "old", 3);
    strbuf note, out;
    sb_init(&note);
    sb_init(&out);
    for (int round = 0; round < 3; round++) {
        write_text(path, "this is not a database, it is garbage text of some length", 58);
        sb_clear(&note);
        tune_db *db = tune_db_open(path, &note);
        assert_non_null(db);
        assert_non_null(strstr(sb_cstr(&note), "corrupt"));
        tune_db_close(db);
        assert_int_equal(count_prefix(dir, "tuning.sqlite.corrupt-"), 1);
    }
    assert_int_not_equal(access(old, F_OK), 0);
    assert_non_null(strstr(sb_cstr(&note), "moved to"));
    assert_int_equal(run_sh(&out, "%s/bin/attnc cache clear --all --dir %s", ATTNC_BINARY_DIR, dir), 0);
    assert_non_null(strstr(sb_cstr(&out), "removed 1 damaged tuning database copy"));
    assert_int_equal(count_prefix(dir, "tuning.sqlite.corrupt-"), 0);
    assert_int_equal(tune_db_remove_asides(path, NULL), 0);
    /* A path whose folder is a file: an error, not "0 removed". */
    snprintf(path, sizeof path, "%s/tuning.sqlite/x/tuning.sqlite", dir);
    assert_int_equal(tune_db_remove_asides(path, &note), -1);
    sb_free(&note);
    sb_free(&out);
    tmpdir_remove(dir);
}

/* The AOT files of a folder (name -> bytes), to compare before and after. */
static char *snapshot(const char *dir)
{
    static const char *const ext[] = {"ptx", "cubin", "h", "c"};
    strbuf all;
    sb_init(&all);
    for (int i = 0; i < 4; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/causal_sm_80.%s", dir, ext[i]);
        size_t n = 0;
        char *b = read_file(path, &n);
        sb_printf(&all, "[%s %zu]", ext[i], b ? n : (size_t)-1);
        if (b)
            sb_append(&all, b, n);
        free(b);
    }
    return sb_take(&all);
}

static void test_compile_errors(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), out_dir[1024], file[1200];
    strbuf out;
    sb_init(&out);
    const char *attnc = ATTNC_BINARY_DIR "/bin/attnc", *recipe = ATTNC_SOURCE_DIR "/recipes/causal.attn";
    /* -o a regular file, or a folder below one: user errors. */
    snprintf(file, sizeof file, "%s/plain", dir);
    write_text(file, "x", 1);
    assert_int_equal(run_sh(&out, "%s compile %s --aot -o %s", attnc, recipe, file), 1);
    assert_non_null(strstr(sb_cstr(&out), "is not a folder"));
    assert_null(strstr(sb_cstr(&out), "internal error"));
    assert_int_equal(run_sh(&out, "%s compile %s --aot -o %s/sub", attnc, recipe, file), 1);
    assert_non_null(strstr(sb_cstr(&out), "Not a directory"));
    assert_int_equal(run_sh(&out, "%s compile --from-ptx %s/examples/add_one.ptx --entry add_one --signature "
                                  "'x:ptr/4, n:i32>=1' --grid 'n/256,1,1' --block 256 -o %s",
                            attnc, ATTNC_SOURCE_DIR, file),
                     1);
    assert_non_null(strstr(sb_cstr(&out), "is not a folder"));
    /* A good run, then failing ones that must leave it as it was. */
    snprintf(out_dir, sizeof out_dir, "%s/aot", dir);
    assert_int_equal(run_sh(&out, "%s compile %s --aot -o %s", attnc, recipe, out_dir), 0);
    char *before = snapshot(out_dir);
    size_t ptx_len = 0;
    snprintf(file, sizeof file, "%s/causal_sm_80.ptx", out_dir);
    free(read_file(file, &ptx_len));
    assert_true(ptx_len > 16384);
    /* A file size limit (in 1 KiB blocks here, 512-byte ones in some shells:
     * both under the PTX) stands in for a full disk: writes fail with EFBIG. */
    const long limits[] = {4, (long)(ptx_len / 512) + 8}; /* the PTX fails; the PTX fits, the .c does not */
    for (int i = 0; i < 2; i++) {
        int rc = run_sh(&out, "trap '' XFSZ; ulimit -f %ld && %s compile %s --aot -o %s", limits[i], attnc, recipe,
                        out_dir);
        if (rc != 2 || !strstr(sb_cstr(&out), "File too large") || strstr(sb_cstr(&out), "internal error"))
            fail_msg("file size limit %ld: exit %d\n%s", limits[i], rc, sb_cstr(&out));
        char *after = snapshot(out_dir);
        assert_true(!strcmp(before, after)); /* no truncated file, older output intact */
        free(after);
        assert_int_equal(count_prefix(out_dir, ".causal_sm_80."), 0); /* no temp file left */
    }
    /* A read-only folder: exit 2 with the reason, nothing changed. */
    assert_true(ro_tree(out_dir));
    int rc = ro_run(&out, "%s compile %s --aot -o %s", attnc, recipe, out_dir);
    if (rc != 2 || !strstr(sb_cstr(&out), "Permission denied") || strstr(sb_cstr(&out), "internal error"))
        fail_msg("read-only output folder: exit %d\n%s", rc, sb_cstr(&out));
    assert_true(rw_tree(out_dir));
    char *after = snapshot(out_dir);
    assert_true(!strcmp(before, after));
    free(after);
    free(before);
    sb_free(&out);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clear_readonly_folder),
        cmocka_unit_test(test_readonly_tuning_db),
        cmocka_unit_test(test_asides),
        cmocka_unit_test(test_compile_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
