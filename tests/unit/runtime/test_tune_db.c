/* test_tune_db.c — tuning database: buckets, best-of records, candidates,
 * concurrent writers, and damaged files/records (detected and rebuilt). */
#include "tmpdir.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "runtime/tune/tune_db.h"

static char *db_path(const char *dir)
{
    char *p = malloc(strlen(dir) + 32);
    sprintf(p, "%s/sub/tuning.sqlite", dir);
    return p;
}

static tune_db *open_db(const char *path, strbuf *note)
{
    tune_db *db = tune_db_open(path, note);
    assert_non_null(db);
    return db;
}

static void test_buckets(void **state)
{
    (void)state;
    char b[64];
    tune_bucket(b, sizeof b, 2, 16, 1000, 1000, 128);
    assert_string_equal(b, "bh32.q1024.k1024.d128");
    tune_bucket(b, sizeof b, 1, 1, 3, 17, 64);
    assert_string_equal(b, "bh1.q16.k32.d64");
    tune_bucket(b, sizeof b, 3, 5, 1024, 4096, 64); /* 15 -> 16, exact powers stay */
    assert_string_equal(b, "bh16.q1024.k4096.d64");
}

static void test_best_and_candidates(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), *path = db_path(dir);
    tune_db *db = open_db(path, NULL);
    tune_record r;
    assert_int_equal(tune_db_lookup(db, "rA", "sm_80", "b1", &r, NULL), TUNE_NOT_FOUND);
    assert_true(tune_db_record_best(db, "rA", "sm_80", "b1", "q=64 kv=64 stages=2 warps=4", 50.0, NULL));
    assert_true(tune_db_record_best(db, "rA", "sm_80", "b1", "q=128 kv=64 stages=2 warps=4", 70.0, NULL));
    assert_int_equal(tune_db_lookup(db, "rA", "sm_80", "b1", &r, NULL), TUNE_FOUND);
    assert_string_equal(r.schedule, "q=64 kv=64 stages=2 warps=4"); /* the slower one did not replace it */
    assert_true(r.time_us == 50.0);
    assert_true(tune_db_record_best(db, "rA", "sm_80", "b1", "q=32 kv=32 stages=1 warps=2", 40.5, NULL));
    assert_int_equal(tune_db_lookup(db, "rA", "sm_80", "b1", &r, NULL), TUNE_FOUND);
    assert_string_equal(r.schedule, "q=32 kv=32 stages=1 warps=2");
    assert_int_equal(tune_db_lookup(db, "rA", "sm_90a", "b1", &r, NULL), TUNE_NOT_FOUND);
    assert_true(tune_db_record_candidate(db, "rA", "sm_80", "b1", "q=256 kv=256", -1, "too much shared memory", NULL));
    assert_true(tune_db_record_candidate(db, "rA", "sm_80", "b1", "q=256 kv=256", -1, "again", NULL));
    tune_db_close(db);
    db = open_db(path, NULL); /* persisted */
    assert_int_equal(tune_db_lookup(db, "rA", "sm_80", "b1", &r, NULL), TUNE_FOUND);
    assert_true(r.time_us == 40.5);
    assert_true(tune_db_clear(db, NULL));
    assert_int_equal(tune_db_lookup(db, "rA", "sm_80", "b1", &r, NULL), TUNE_NOT_FOUND);
    tune_db_close(db);
    tune_db_close(NULL);
    free(path);
    tmpdir_remove(dir);
}

/* Several processes record at once; the fastest time wins. */
static void test_concurrent_writers(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), *path = db_path(dir);
    tune_db_close(open_db(path, NULL));
    enum { PROCS = 6, ROWS = 20 };
    for (int p = 0; p < PROCS; p++) {
        if (fork() == 0) {
            tune_db *db = tune_db_open(path, NULL);
            int bad = !db;
            for (int i = 0; db && i < ROWS; i++) {
                char sched[32];
                snprintf(sched, sizeof sched, "p%d i%d", p, i);
                bad |= !tune_db_record_best(db, "r", "sm_90a", "b", sched, 100.0 + p * ROWS + i, NULL);
                bad |= !tune_db_record_candidate(db, "r", "sm_90a", "b", sched, 1.0, "ok", NULL);
            }
            tune_db_close(db);
            _exit(bad);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int st;
        wait(&st);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    tune_db *db = open_db(path, NULL);
    tune_record r;
    assert_int_equal(tune_db_lookup(db, "r", "sm_90a", "b", &r, NULL), TUNE_FOUND);
    assert_string_equal(r.schedule, "p0 i0");
    tune_db_close(db);
    free(path);
    tmpdir_remove(dir);
}

static void fill(const char *path, int rows)
{
    tune_db *db = open_db(path, NULL);
    for (int i = 0; i < rows; i++) {
        char rh[32];
        snprintf(rh, sizeof rh, "recipe-%04d", i);
        assert_true(tune_db_record_best(db, rh, "sm_80", "bh1.q16.k16.d64", "q=64 kv=64 stages=2 warps=4",
                                        10.0 + i, NULL));
    }
    tune_db_close(db);
}

/* A damaged file is reported, moved aside and recreated; the db works. */
static void expect_recreated(const char *path, const char *word)
{
    strbuf note;
    sb_init(&note);
    tune_db *db = open_db(path, &note);
    assert_non_null(strstr(sb_cstr(&note), word));
    assert_true(tune_db_record_best(db, "x", "sm_80", "b", "q=16 kv=16", 1.0, NULL));
    tune_record r;
    assert_int_equal(tune_db_lookup(db, "x", "sm_80", "b", &r, NULL), TUNE_FOUND);
    tune_db_close(db);
    sb_free(&note);
}

static void test_damaged_files(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), *path = db_path(dir);
    fill(path, 400);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 8192);
    assert_int_equal(truncate(path, st.st_size / 2), 0); /* truncated */
    expect_recreated(path, "corrupt");
    fill(path, 10);
    assert_int_equal(truncate(path, 0), 0); /* zero length */
    expect_recreated(path, "empty");
    FILE *f = fopen(path, "wb"); /* garbage */
    for (int i = 0; i < 5000; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    expect_recreated(path, "corrupt");
    free(path);
    tmpdir_remove(dir);
}

static void count_row(void *user, const tune_record *r)
{
    (void)r;
    ++*(long *)user;
}

/* Flips one byte of a stored schedule inside the file: SQLite's checks pass,
 * the row checksum does not. */
static void test_bit_flipped_record(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), *path = db_path(dir);
    tune_db *db = open_db(path, NULL);
    assert_true(tune_db_record_best(db, "rF", "sm_80", "bF", "q=64 kv=64 stages=3 warps=4", 12.0, NULL));
    tune_db_close(db);
    int fd = open(path, O_RDWR);
    struct stat st;
    fstat(fd, &st);
    char *buf = malloc((size_t)st.st_size);
    assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
    char *hit = memmem(buf, (size_t)st.st_size, "stages=3", 8);
    assert_non_null(hit);
    char flipped = '3' ^ 0x04; /* '7' */
    assert_int_equal(pwrite(fd, &flipped, 1, (hit - buf) + 7), 1);
    close(fd);
    free(buf);
    strbuf msg;
    sb_init(&msg);
    db = open_db(path, NULL);
    tune_record r;
    long corrupt = 0, listed = 0;
    assert_int_equal(tune_db_list(db, count_row, &listed, &corrupt, NULL), 0);
    assert_int_equal(listed, 0);
    assert_int_equal(corrupt, 1);
    assert_int_equal(tune_db_lookup(db, "rF", "sm_80", "bF", &r, &msg), TUNE_CORRUPT);
    assert_non_null(strstr(sb_cstr(&msg), "checksum"));
    assert_int_equal(tune_db_lookup(db, "rF", "sm_80", "bF", &r, NULL), TUNE_NOT_FOUND);
    assert_true(tune_db_record_best(db, "rF", "sm_80", "bF", "q=64 kv=64 stages=3 warps=4", 99.0, NULL));
    assert_int_equal(tune_db_lookup(db, "rF", "sm_80", "bF", &r, NULL), TUNE_FOUND);
    tune_db_close(db);
    sb_free(&msg);
    free(path);
    tmpdir_remove(dir);
}

static void test_list_and_default_path(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    setenv("ATTNC_CACHE_DIR", dir, 1);
    tune_db *db = open_db(NULL, NULL);
    assert_non_null(strstr(tune_db_path(db), "/tuning.sqlite"));
    assert_true(!strncmp(tune_db_path(db), dir, strlen(dir)));
    tune_db_record_best(db, "a", "sm_80", "b", "s", 1, NULL);
    tune_db_record_best(db, "b", "sm_80", "b", "s", 1, NULL);
    long n = 0;
    assert_int_equal(tune_db_list(db, count_row, &n, NULL, NULL), 2);
    assert_int_equal(n, 2);
    tune_db_close(db);
    unsetenv("ATTNC_CACHE_DIR");
    tmpdir_remove(dir);
}

static void test_shape_and_pick(void **state)
{
    (void)state;
    const char *labels[3] = {"y", "x", NULL}, *sizes[3] = {"H", "W", NULL};
    tune_shape sh;
    strbuf err;
    sb_init(&err);
    assert_true(tune_shape_parse("heads=8,H=20,x=24", labels, sizes, 2, &sh, &err));
    assert_true(sh.batch == 1 && sh.heads == 8 && sh.tokens == 480 && sh.kv_tokens == 480 && sh.kv_heads == 8);
    assert_false(tune_shape_parse("heads=8,H=20", labels, sizes, 2, &sh, &err)); /* W missing */
    assert_true(tune_shape_parse("batch=2,heads=4,tokens=100,kv_tokens=300", NULL, NULL, 0, &sh, &err));
    assert_true(sh.tokens == 100 && sh.kv_tokens == 300);
    assert_false(tune_shape_parse("tokens=0", NULL, NULL, 0, &sh, &err));
    assert_false(tune_shape_parse("tokens=12x", NULL, NULL, 0, &sh, &err));
    assert_false(tune_shape_parse("heads=4", NULL, NULL, 0, &sh, &err));
    char h1[33], h2[33];
    tune_recipe_hash("recipe a", 8, h1);
    tune_recipe_hash("recipe b", 8, h2);
    assert_int_equal(strlen(h1), 32);
    assert_string_not_equal(h1, h2);

    char *dir = tmpdir_make(), *path = db_path(dir);
    tune_db *db = open_db(path, NULL);
    schedule s;
    assert_true(tune_shape_parse("batch=1,heads=16,tokens=1000", NULL, NULL, 0, &sh, &err));
    assert_int_equal(tune_db_pick_schedule(db, h1, TARGET_SM80, &sh, 1, 128, 2, false, &s, NULL), TUNE_NOT_FOUND);
    schedule def = schedule_default(1, TARGET_SM80, false);
    assert_int_equal(s.q_tile[0], def.q_tile[0]); /* the documented default */
    char bucket[64];
    tune_bucket(bucket, sizeof bucket, 1, 16, 1000, 1000, 128);
    assert_true(tune_db_record_best(db, h1, "sm_80", bucket, "q=64 kv=32 stages=3 warps=4", 5, NULL));
    assert_int_equal(tune_db_pick_schedule(db, h1, TARGET_SM80, &sh, 1, 128, 2, false, &s, NULL), TUNE_FOUND);
    assert_true(s.q_tile[0] == 64 && s.kv_tile[0] == 32 && s.stages == 3);
    /* A stored schedule that is illegal now falls back to the default. */
    assert_true(tune_db_record_best(db, h2, "sm_80", bucket, "q=256 kv=128 stages=4 warps=1", 5, NULL));
    assert_int_equal(tune_db_pick_schedule(db, h2, TARGET_SM80, &sh, 1, 128, 2, false, &s, &err), TUNE_CORRUPT);
    assert_int_equal(s.q_tile[0], def.q_tile[0]);
    assert_int_equal(tune_db_pick_schedule(NULL, h1, TARGET_SM80, &sh, 1, 128, 2, false, &s, NULL), TUNE_NOT_FOUND);
    tune_db_close(db);
    sb_free(&err);
    free(path);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),          cmocka_unit_test(test_best_and_candidates),
        cmocka_unit_test(test_concurrent_writers), cmocka_unit_test(test_damaged_files),
        cmocka_unit_test(test_bit_flipped_record), cmocka_unit_test(test_list_and_default_path),
        cmocka_unit_test(test_shape_and_pick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
