/* test_cache_cli.c — `attnc cache ls|stats|clear` on a folder filled through
 * the cache and tuning APIs: output, corrupt entries flagged, exit codes. */
#include "tmpdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "runtime/cache/cache.h"
#include "runtime/tune/tune_db.h"

/* Runs `attnc ARGS` with the output captured; returns the exit status. */
static int attnc(strbuf *out, const char *dir, const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/bin/attnc cache %s --dir %s 2>&1", ATTNC_BINARY_DIR, args, dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char buf[512];
    sb_clear(out);
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, p)) > 0)
        sb_append(out, buf, k);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    strbuf out;
    sb_init(&out);
    assert_int_equal(attnc(&out, dir, "ls"), 0);
    assert_non_null(strstr(sb_cstr(&out), "0 entries"));
    cache_options o = {.dir = dir};
    kcache *c = cache_open(&o, NULL);
    cache_key_parts p1 = {"a", "s", "sm_80", NULL}, p2 = {"b", "s", "sm_80", NULL};
    cache_key k1 = cache_key_make(&p1), k2 = cache_key_make(&p2);
    assert_true(cache_store(c, k1, CACHE_PTX, "ptx text", 8, NULL));
    assert_true(cache_store(c, k2, CACHE_CUBIN, "cubin bytes", 11, NULL));
    char hex[33], path[1024];
    cache_key_hex(k2, hex);
    snprintf(path, sizeof path, "%s/%s.cubin", cache_dir(c), hex);
    assert_int_equal(truncate(path, 70), 0);
    cache_close(c);
    snprintf(path, sizeof path, "%s/tuning.sqlite", dir);
    tune_db *db = tune_db_open(path, NULL);
    assert_true(tune_db_record_best(db, "0123456789abcdef0123", "sm_80", "bh1.q16.k16.d64", "q=64 kv=64", 3.5, NULL));
    tune_db_close(db);

    assert_int_equal(attnc(&out, dir, "ls"), 0);
    assert_non_null(strstr(sb_cstr(&out), "2 entries"));
    assert_non_null(strstr(sb_cstr(&out), "CORRUPT"));
    assert_non_null(strstr(sb_cstr(&out), "q=64 kv=64"));
    assert_int_equal(attnc(&out, dir, "stats"), 0);
    assert_non_null(strstr(sb_cstr(&out), "corrupt:   1"));
    assert_non_null(strstr(sb_cstr(&out), "tuned:     1"));
    assert_int_equal(attnc(&out, dir, "clear"), 0);
    assert_int_equal(attnc(&out, dir, "stats"), 0);
    assert_non_null(strstr(sb_cstr(&out), "entries:   0"));
    assert_non_null(strstr(sb_cstr(&out), "tuned:     1")); /* kept without --all */
    assert_int_equal(attnc(&out, dir, "clear --all"), 0);
    assert_int_equal(attnc(&out, dir, "stats"), 0);
    assert_non_null(strstr(sb_cstr(&out), "tuned:     0"));
    assert_int_equal(attnc(&out, dir, "frobnicate"), 1);
    assert_int_equal(attnc(&out, dir, "ls --bogus"), 1);
    /* A folder that cannot be created or read: exit 2. */
    assert_int_equal(attnc(&out, "/proc/version", "ls"), 2);
    sb_free(&out);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cli)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
