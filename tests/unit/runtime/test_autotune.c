/* test_autotune.c — the search space (schedule_enumerate) and the tuner loop
 * with a fake timer: medians, skips, failures, early stop, budget, table,
 * and recording the winner in the tuning database. */
#include "tmpdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/tune/autotune.h"

static int index_of(const schedule *c, int n, const char *spec)
{
    schedule want;
    assert_true(schedule_parse(spec, 1, &want, NULL));
    for (int i = 0; i < n; i++)
        if (!memcmp(&c[i], &want, sizeof want))
            return i;
    return -1;
}

static void test_enumerate(void **state)
{
    (void)state;
    for (int arch = TARGET_HOST; arch <= TARGET_SM90A; arch++)
        for (int nd = 1; nd <= 3; nd++)
            for (int lin = 0; lin < 2; lin++) {
                int n = schedule_enumerate(nd, arch, 128, 2, lin, NULL, 0);
                assert_true(n > 0 && n < 2000);
                schedule *s = calloc((size_t)n, sizeof *s);
                assert_int_equal(schedule_enumerate(nd, arch, 128, 2, lin, s, n), n);
                strbuf a, b, why;
                sb_init(&a);
                sb_init(&b);
                sb_init(&why);
                for (int i = 0; i < n; i++) {
                    assert_false(s[i].is_auto);
                    assert_true(schedule_check(&s[i], arch, 128, 2, &why));
                    if (i + 1 < n) { /* neighbours differ: no duplicates from the odometer */
                        sb_clear(&a);
                        sb_clear(&b);
                        schedule_print(&a, &s[i]);
                        schedule_print(&b, &s[i + 1]);
                        assert_string_not_equal(sb_cstr(&a), sb_cstr(&b));
                    }
                }
                sb_free(&a);
                sb_free(&b);
                sb_free(&why);
                free(s);
            }
    /* Truncation: writes at most max, still counts all. */
    schedule few[3];
    int all = schedule_enumerate(1, TARGET_SM80, 64, 2, false, few, 3);
    assert_true(all > 3);
    /* A big head dim leaves fewer legal tiles (shared memory). */
    assert_true(schedule_enumerate(1, TARGET_SM80, 256, 4, false, NULL, 0) < all);
    /* Linear attention: GPUs also try inter=chain (64-token blocks, 8 warps); the host does not. */
    for (int gpu = 0; gpu < 2; gpu++) {
        target_arch arch = gpu ? TARGET_SM90A : TARGET_HOST;
        int n = schedule_enumerate(1, arch, 128, 2, true, NULL, 0);
        schedule *lin = calloc((size_t)n, sizeof *lin);
        assert_non_null(lin);
        schedule_enumerate(1, arch, 128, 2, true, lin, n);
        int chain = 0;
        for (int i = 0; i < n; i++)
            if (lin[i].inter == INTER_CHAIN) {
                chain++;
                assert_int_equal(lin[i].linear_block, 64);
                assert_int_equal(lin[i].warps, 8);
            }
        assert_true(gpu ? chain > 0 : chain == 0);
        free(lin);
    }
}

/* sm_90a sequences also try the overlapped key loop (overlap=1; 2 with
 * eight warps) where its accumulators fit, even registers and persistent
 * blocks at eight warps; sm_80, grids, head dims that are
 * not multiples of 64 and linear recipes do not. */
static void test_enumerate_overlap(void **state)
{
    (void)state;
    int n = schedule_enumerate(1, TARGET_SM90A, 128, 2, false, NULL, 0);
    schedule *c = calloc((size_t)n, sizeof *c);
    assert_non_null(c);
    schedule_enumerate(1, TARGET_SM90A, 128, 2, false, c, n);
    assert_true(index_of(c, n, "q=128 kv=128 stages=2 warps=8 overlap=1") >= 0);
    assert_true(index_of(c, n, "q=128 kv=64 stages=3 warps=8 overlap=2") >= 0);
    assert_true(index_of(c, n, "q=64 kv=64 stages=2 warps=4 overlap=1") >= 0);
    assert_true(index_of(c, n, "q=128 kv=128 stages=2 warps=8") >= 0);
    assert_true(index_of(c, n, "q=128 kv=128 stages=2 warps=8 regs=even") >= 0);
    assert_true(index_of(c, n, "q=128 kv=128 stages=3 warps=8 persist=1") >= 0);
    assert_int_equal(index_of(c, n, "q=64 kv=64 stages=2 warps=4 persist=1"), -1); /* 8 computing warps only */
    assert_int_equal(index_of(c, n, "q=64 kv=64 stages=2 warps=4 regs=even"), -1); /* 256 threads: nothing to gain */
    assert_int_equal(index_of(c, n, "q=64 kv=64 stages=2 warps=4 overlap=2"), -1); /* ping-pong: two warpgroups */
    assert_int_equal(index_of(c, n, "q=64 kv=64 stages=2 warps=2 overlap=1"), -1); /* no warpgroup */
    /* tiles that are not powers of two are not candidates until they have
     * run on a GPU: the tuner times candidates, it does not check them */
    assert_int_equal(index_of(c, n, "q=192 kv=128 stages=2 warps=12"), -1);
    assert_int_equal(index_of(c, n, "q=128 kv=176 stages=2 warps=8 overlap=1"), -1);
    free(c);
    struct {
        int nd;
        target_arch arch;
        int head_dim;
        bool linear;
    } none[] = {{1, TARGET_SM80, 128, false}, {2, TARGET_SM90A, 128, false}, {1, TARGET_SM90A, 96, false},
                {1, TARGET_SM90A, 128, true}};
    for (size_t t = 0; t < sizeof none / sizeof none[0]; t++) {
        n = schedule_enumerate(none[t].nd, none[t].arch, none[t].head_dim, 2, none[t].linear, NULL, 0);
        c = calloc((size_t)n, sizeof *c);
        assert_non_null(c);
        schedule_enumerate(none[t].nd, none[t].arch, none[t].head_dim, 2, none[t].linear, c, n);
        for (int i = 0; i < n; i++)
            if (c[i].overlap || c[i].even_regs || c[i].persistent || c[i].warps > 8)
                fail_msg("case %zu: candidate %d has overlap=%d regs=even %d persist %d", t, i, c[i].overlap,
                         c[i].even_regs, c[i].persistent);
        free(c);
    }
}

/* Fake backend: time = model(schedule) + jitter by rep; refuses 8 warps;
 * fails on stages == 3 && warps == 2. */
typedef struct fake {
    int prepared, released, runs;
} fake;

static double model(const schedule *s)
{
    int q = schedule_q_tokens(s), kv = schedule_kv_tokens(s);
    return 5000.0 / q + 2000.0 / kv + (s->stages == 2 ? 0 : 3) + (q == 16 ? 400 : 0);
}

static bool fake_prepare(void *user, const schedule *s, strbuf *why)
{
    ((fake *)user)->prepared++;
    if (s->warps == 8) {
        sb_puts(why, "uses 255 registers and spills 64 bytes");
        return false;
    }
    return true;
}

static bool fake_time(void *user, const schedule *s, int rep, double *us, strbuf *why)
{
    ((fake *)user)->runs++;
    if (s->stages == 3 && s->warps == 2) {
        sb_puts(why, "launch failed");
        return false;
    }
    /* Outliers on some samples: the median ignores them. */
    *us = model(s) * (rep == 1 ? 5.0 : 1.0 + 0.001 * (rep & 3));
    return true;
}

static void fake_release(void *user, const schedule *s)
{
    (void)s;
    ((fake *)user)->released++;
}

static int progress_calls;
static void fake_progress(void *user, int done, int total, const tuner_result *last)
{
    (void)user;
    (void)last;
    assert_int_equal(done, ++progress_calls);
    assert_true(done <= total);
}

static void test_tuner_loop(void **state)
{
    (void)state;
    int n = schedule_enumerate(1, TARGET_SM80, 64, 2, false, NULL, 0);
    schedule *c = calloc((size_t)n, sizeof *c);
    tuner_result *r = calloc((size_t)n, sizeof *r);
    schedule_enumerate(1, TARGET_SM80, 64, 2, false, c, n);
    for (int i = 0; i < n / 2; i++) { /* big tiles first: a good baseline early */
        schedule t = c[i];
        c[i] = c[n - 1 - i];
        c[n - 1 - i] = t;
    }
    fake f = {0};
    tuner_hooks h = {.user = &f, .prepare = fake_prepare, .time_once = fake_time, .release = fake_release, .progress = fake_progress};
    tuner_options o = {.warmup = 1, .repeats = 5};
    progress_calls = 0;
    int best = tuner_run(c, n, &o, &h, r);
    assert_int_equal(progress_calls, n);
    assert_true(best >= 0);
    /* The winner is the model's fastest among the candidates that could run. */
    double want = 1e30;
    for (int i = 0; i < n; i++)
        if (c[i].warps != 8 && !(c[i].stages == 3 && c[i].warps == 2) && model(&c[i]) < want)
            want = model(&c[i]);
    assert_true(fabs(r[best].median_us - want) < want * 0.01);
    int skipped = 0, failed = 0, slow = 0;
    for (int i = 0; i < n; i++) {
        skipped += r[i].status == TUNED_SKIPPED;
        failed += r[i].status == TUNED_FAILED;
        slow += r[i].status == TUNED_STOPPED_EARLY;
        if (r[i].status == TUNED_SKIPPED)
            assert_non_null(strstr(r[i].why, "spills"));
        if (r[i].status == TUNED_FAILED)
            assert_string_equal(r[i].why, "launch failed");
    }
    assert_true(skipped > 0 && failed > 0 && slow > 0);
    assert_int_equal(f.prepared, n);
    assert_int_equal(f.released, n - skipped);
    strbuf t;
    sb_init(&t);
    tuner_format_table(&t, r, n, best);
    assert_non_null(strstr(sb_cstr(&t), "median us"));
    assert_non_null(strstr(sb_cstr(&t), "* "));
    assert_non_null(strstr(sb_cstr(&t), r[best].text));
    sb_free(&t);

    char *dir = tmpdir_make(), path[512];
    snprintf(path, sizeof path, "%s/tuning.sqlite", dir);
    tune_db *db = tune_db_open(path, NULL);
    assert_true(tuner_record(db, "recipe", "sm_80", "bh1.q1024.k1024.d64", r, n, best, NULL));
    tune_record rec;
    assert_int_equal(tune_db_lookup(db, "recipe", "sm_80", "bh1.q1024.k1024.d64", &rec, NULL), TUNE_FOUND);
    assert_string_equal(rec.schedule, r[best].text);
    /* The stored text parses back to the winning schedule. */
    schedule back;
    strbuf err;
    sb_init(&err);
    assert_true(schedule_parse(rec.schedule, 1, &back, &err));
    assert_int_equal(back.q_tile[0], c[best].q_tile[0]);
    assert_int_equal(back.stages, c[best].stages);
    sb_free(&err);
    tune_db_close(db);
    tmpdir_remove(dir);
    free(c);
    free(r);
}

static void count_rows(void *user, const tune_record *r)
{
    (void)r;
    ++*(long *)user;
}

static bool const_time(void *user, const schedule *s, int rep, double *us, strbuf *why)
{
    (void)user;
    (void)s;
    (void)why;
    static const double v[] = {5, 1, 3, 100, 2};
    *us = v[rep % 5];
    return true;
}

static void test_median_and_budget(void **state)
{
    (void)state;
    schedule s = schedule_default(1, TARGET_HOST, false);
    tuner_result r[2];
    tuner_hooks h = {.time_once = const_time};
    tuner_options o = {.warmup = -1, .repeats = 5};
    assert_int_equal(tuner_run(&s, 1, &o, &h, r), 0);
    assert_true(r[0].median_us == 3.0);
    assert_true(r[0].min_us == 1.0);
    assert_int_equal(r[0].samples, 5);
    o.budget_s = 1e-12; /* spent before the first candidate */
    schedule two[2] = {s, s};
    assert_int_equal(tuner_run(two, 2, &o, &h, r), -1);
    assert_int_equal(r[0].status, TUNED_NOT_RUN);
    assert_non_null(strstr(r[1].why, "budget"));
}

/* `attnc tune` end to end on the CPU backend (two candidates, one run
 * each), and the clear exit 2 without a GPU. */
static void test_cli(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), cmd[2048], path[600];
    snprintf(cmd, sizeof cmd,
             "cd %s && ATTNC_CACHE_DIR=%s %s/bin/attnc tune recipes/causal.attn --backend cpu "
             "--shape batch=1,heads=1,tokens=40 --max 2 --repeats 1 --warmup 0 > %s/out.txt 2>&1",
             ATTNC_SOURCE_DIR, dir, ATTNC_BINARY_DIR, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/out.txt", dir);
    FILE *f = fopen(path, "r");
    char text[8192] = {0};
    assert_true(fread(text, 1, sizeof text - 1, f) > 0);
    fclose(f);
    assert_non_null(strstr(text, "median us"));
    assert_non_null(strstr(text, "best: q="));
    snprintf(path, sizeof path, "%s/tuning.sqlite", dir);
    tune_db *db = tune_db_open(path, NULL);
    long n = 0;
    assert_int_equal(tune_db_list(db, count_rows, &n, NULL, NULL), 1);
    tune_db_close(db);
    snprintf(cmd, sizeof cmd,
             "cd %s && ATTNC_CACHE_DIR=%s ATTNC_LIBCUDA=/nonexistent %s/bin/attnc tune recipes/causal.attn "
             "--shape tokens=64 > /dev/null 2>&1",
             ATTNC_SOURCE_DIR, dir, ATTNC_BINARY_DIR);
    assert_int_equal(system(cmd), 2 << 8);
    snprintf(cmd, sizeof cmd, "cd %s && %s/bin/attnc tune recipes/causal.attn --shape bogus=1 2>/dev/null",
             ATTNC_SOURCE_DIR, ATTNC_BINARY_DIR);
    assert_int_equal(system(cmd), 1 << 8);
    tmpdir_remove(dir);
}

/* The ranked list: the default first (added once when not enumerated),
 * nothing lost or duplicated, GPU candidates that cannot fit an SM last,
 * small query tiles behind on long sequences. */
static void test_rank(void **state)
{
    (void)state;
    int n = schedule_enumerate(1, TARGET_SM90A, 128, 2, false, NULL, 0);
    schedule *c = calloc((size_t)n + 1, sizeof *c);
    schedule_enumerate(1, TARGET_SM90A, 128, 2, false, c, n);
    schedule def;
    assert_true(schedule_parse("q=128 kv=64 stages=2 warps=8", 1, &def, NULL));
    tune_rank_ctx rc = {TARGET_SM90A, 128, 2, 8192};
    int m = tune_rank(c, n, &def, &rc);
    assert_int_equal(m, n); /* the default was among them: moved, not added */
    assert_memory_equal(&c[0], &def, sizeof def);
    for (int i = 0; i < m; i++)
        for (int j = i + 1; j < m; j++)
            assert_true(memcmp(&c[i], &c[j], sizeof c[i]) != 0);
    int big = index_of(c, m, "q=256 kv=128 stages=2 warps=8"); /* ~360 registers a thread: cannot fit */
    assert_true(big > m / 2);
    int q32 = index_of(c, m, "q=32 kv=64 stages=1 warps=2"), q128 = index_of(c, m, "q=128 kv=64 stages=3 warps=8");
    assert_true(q32 > 0 && q128 > 0 && q128 < q32);
    free(c);
    /* host: the default (2 stages) is not enumerated: added in front */
    n = schedule_enumerate(1, TARGET_HOST, 16, 4, false, NULL, 0);
    c = calloc((size_t)n + 1, sizeof *c);
    schedule_enumerate(1, TARGET_HOST, 16, 4, false, c, n);
    def = schedule_default(1, TARGET_HOST, false);
    rc = (tune_rank_ctx){TARGET_HOST, 16, 4, 200};
    m = tune_rank(c, n, &def, &rc);
    assert_int_equal(m, n + 1);
    assert_memory_equal(&c[0], &def, sizeof def);
    assert_int_equal(index_of(c, m, "q=64 kv=64 stages=1"), 1); /* nearest to the default */
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enumerate),
        cmocka_unit_test(test_enumerate_overlap),
        cmocka_unit_test(test_tuner_loop),
        cmocka_unit_test(test_median_and_budget),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_rank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
