/* test_cache_stress.c — 8 processes x 4 threads against one cache folder.
 *
 * Every thread asks, in its own random order and several rounds, for an
 * overlapping set of entries (24 keys x PTX/cubin, 1-48 KiB each, content
 * derived from the key) through cache_get_or_build, with a small memory
 * budget so entries keep coming back from disk. Checks:
 *  - every payload returned is exactly the expected bytes (no torn or mixed
 *    entries);
 *  - each entry is built exactly once across all processes (the per-key lock
 *    file makes later callers wait and then load it);
 *  - no file fails validation at the end, no temp files are left behind.
 * Then fault injection: some entries are truncated, emptied or bit-flipped;
 * a second wave of processes reports each one corrupt, rebuilds it exactly
 * once more and still returns correct bytes. Also hammers the tuning
 * database from every thread. Runs in a few seconds. */
#include "tmpdir.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "runtime/cache/cache.h"
#include "runtime/tune/tune_db.h"

enum { PROCS = 8, THREADS = 4, KEYS = 24, ROUNDS = 3 };

static const char *g_dir;
static char g_log[600], g_db[600];

static cache_key key_n(int i)
{
    char ir[32];
    snprintf(ir, sizeof ir, "stress kernel %d", i);
    cache_key_parts p = {ir, "q=64 kv=64", "sm_90a", NULL};
    return cache_key_make(&p);
}

/* The payload of (key i, kind): a deterministic byte stream. */
static size_t expected(int i, cache_kind kind, unsigned char *out)
{
    size_t n = 1024 + (size_t)((i * 7919 + kind * 104729) % (47 * 1024));
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) + kind;
    for (size_t j = 0; j < n; j++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        out[j] = (unsigned char)x;
    }
    return n;
}

typedef struct job {
    int key;
    cache_kind kind;
} job;

/* Builds one entry and logs "key kind" with one O_APPEND write. */
static bool build(void *user, void **data, size_t *len, strbuf *err)
{
    const job *j = user;
    unsigned char *b = malloc(48 * 1024);
    if (!b) {
        sb_puts(err, "oom");
        return false;
    }
    *len = expected(j->key, j->kind, b);
    *data = b;
    char line[32];
    int n = snprintf(line, sizeof line, "%d %d\n", j->key, (int)j->kind);
    int fd = open(g_log, O_WRONLY | O_APPEND | O_CREAT, 0600);
    bool ok = fd >= 0 && write(fd, line, (size_t)n) == n;
    if (fd >= 0)
        close(fd);
    usleep(2000); /* a compile takes a while: widen the window for duplicate work */
    return ok;
}

typedef struct worker {
    kcache *cache;
    unsigned seed, id; /* seed advances with rand_r; id stays */
    int bad, corrupt_seen;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    unsigned char want[48 * 1024];
    strbuf why;
    sb_init(&why);
    tune_db *db = tune_db_open(g_db, &why);
    if (!db) {
        fprintf(stderr, "worker %u: tune_db_open: %s\n", w->id, sb_cstr(&why));
        w->bad++;
    }
    sb_free(&why);
    for (int r = 0; r < ROUNDS; r++)
        for (int k = 0; k < 2 * KEYS; k++) {
            int pick = (int)(rand_r(&w->seed) % (2 * KEYS));
            job j = {pick / 2, (cache_kind)(pick % 2)};
            void *data = NULL;
            size_t len = 0;
            strbuf note;
            sb_init(&note);
            cache_result res = cache_get_or_build(w->cache, key_n(j.key), j.kind, build, &j, &data, &len, &note);
            size_t n = expected(j.key, j.kind, want);
            if (res == CACHE_ERROR || len != n || memcmp(data, want, n) != 0) {
                fprintf(stderr, "worker %u: key %d kind %d: %s (%s)\n", w->id, j.key, (int)j.kind,
                        res == CACHE_ERROR ? "cache error" : "wrong bytes", sb_cstr(&note));
                w->bad++;
            }
            w->corrupt_seen += res == CACHE_CORRUPT;
            free(data);
            sb_free(&note);
            if (db && k % 8 == 0) {
                char sched[32];
                snprintf(sched, sizeof sched, "s%u", w->id % 1000);
                strbuf m;
                sb_init(&m);
                if (!tune_db_record_best(db, "stress", "sm_90a", "b", sched, 1.0 + (w->id % 1000), &m)) {
                    fprintf(stderr, "worker %u: record_best: %s\n", w->id, sb_cstr(&m));
                    w->bad++;
                }
                sb_free(&m);
            }
        }
    tune_db_close(db);
    return NULL;
}

/* One process: THREADS threads sharing one cache handle. Exit status: 0 ok,
 * 1 wrong bytes; corrupt reports are counted in the exit code's high bits. */
static int child(unsigned seed)
{
    cache_options o = {.dir = g_dir, .mem_bytes = 128 * 1024};
    kcache *c = cache_open(&o, NULL);
    if (!c)
        return 1;
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){c, seed * 31 + (unsigned)i, seed * 31 + (unsigned)i, 0, 0};
        pthread_create(&t[i], NULL, run_worker, &w[i]);
    }
    int bad = 0, corrupt = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        bad += w[i].bad;
        corrupt += w[i].corrupt_seen;
    }
    cache_close(c);
    return bad ? 1 : (corrupt > 15 ? 15 : corrupt) << 1;
}

/* Runs n children; returns the total corrupt reports; fails on a bad one. */
static int run_wave(int n, unsigned seed)
{
    for (int p = 0; p < n; p++)
        if (fork() == 0)
            _exit(child(seed + (unsigned)p));
    int corrupt = 0;
    for (int p = 0; p < n; p++) {
        int st;
        wait(&st);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st) & 1, 0);
        corrupt += WEXITSTATUS(st) >> 1;
    }
    return corrupt;
}

/* Counts build-log lines per entry. */
static void read_log(int counts[KEYS][2])
{
    memset(counts, 0, sizeof(int) * KEYS * 2);
    FILE *f = fopen(g_log, "r");
    int k, kind;
    while (f && fscanf(f, "%d %d", &k, &kind) == 2)
        if (k >= 0 && k < KEYS && (kind == 0 || kind == 1))
            counts[k][kind]++;
    if (f)
        fclose(f);
}

static void entry_path(char *out, size_t cap, int key, cache_kind kind)
{
    char hex[33];
    cache_key_hex(key_n(key), hex);
    snprintf(out, cap, "%s/%s/%s.%s", g_dir, cache_version_dir(), hex, kind == CACHE_CUBIN ? "cubin" : "ptx");
}

static void check_folder_clean(void)
{
    char vdir[700];
    snprintf(vdir, sizeof vdir, "%s/%s", g_dir, cache_version_dir());
    DIR *d = opendir(vdir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));) {
        assert_true(strncmp(e->d_name, ".tmp-", 5) != 0); /* no temp file left behind */
        if (strstr(e->d_name, ".ptx") || strstr(e->d_name, ".cubin")) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", vdir, e->d_name);
            strbuf why;
            sb_init(&why);
            assert_true(cache_verify_file(p, NULL, &why));
            sb_free(&why);
            entries++;
        }
    }
    closedir(d);
    assert_int_equal(entries, 2 * KEYS);
}

static void damage(int key, cache_kind kind, int how)
{
    char p[1024];
    entry_path(p, sizeof p, key, kind);
    if (how == 0) {
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(truncate(p, st.st_size - 100), 0);
    } else if (how == 1) {
        assert_int_equal(truncate(p, 0), 0);
    } else {
        int fd = open(p, O_RDWR);
        unsigned char b;
        assert_int_equal(pread(fd, &b, 1, 500), 1);
        b ^= 1;
        assert_int_equal(pwrite(fd, &b, 1, 500), 1);
        close(fd);
    }
}

static void test_stress(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    g_dir = dir;
    snprintf(g_log, sizeof g_log, "%s/builds.log", dir);
    snprintf(g_db, sizeof g_db, "%s/tuning.sqlite", dir);
    assert_int_equal(run_wave(PROCS, 1), 0);
    int counts[KEYS][2];
    read_log(counts);
    for (int k = 0; k < KEYS; k++)
        for (int kind = 0; kind < 2; kind++)
            assert_int_equal(counts[k][kind], 1); /* built exactly once */
    check_folder_clean();

    /* Fault injection: 9 damaged entries, three of each kind of damage. */
    for (int i = 0; i < 9; i++)
        damage(i * 2, (cache_kind)(i % 2), i % 3);
    int corrupt = run_wave(4, 100);
    assert_int_equal(corrupt, 9); /* each reported once, by whoever met it first */
    read_log(counts);
    for (int k = 0; k < KEYS; k++)
        for (int kind = 0; kind < 2; kind++) {
            bool damaged = k % 2 == 0 && k / 2 < 9 && (k / 2) % 2 == kind;
            assert_int_equal(counts[k][kind], damaged ? 2 : 1);
        }
    check_folder_clean();

    /* The tuning database saw every thread's record: the fastest won. */
    tune_db *db = tune_db_open(g_db, NULL);
    tune_record r;
    assert_int_equal(tune_db_lookup(db, "stress", "sm_90a", "b", &r, NULL), TUNE_FOUND);
    unsigned best = 1000;
    for (unsigned p = 0; p < PROCS; p++)
        for (unsigned t = 0; t < THREADS; t++)
            best = ((1 + p) * 31 + t) % 1000 < best ? ((1 + p) * 31 + t) % 1000 : best;
    for (unsigned p = 0; p < 4; p++)
        for (unsigned t = 0; t < THREADS; t++)
            best = ((100 + p) * 31 + t) % 1000 < best ? ((100 + p) * 31 + t) % 1000 : best;
    assert_true(r.time_us == 1.0 + best);
    tune_db_close(db);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_stress)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
