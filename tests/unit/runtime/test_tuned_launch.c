/* test_tuned_launch.c — `tile auto` launches use the tuning database (CPU
 * backend): a recorded best for the launch's bucket runs (and still matches
 * the fp64 reference), another bucket gets the default, a bit-flipped or
 * illegal record gets the default and is reported, a variant that fails to
 * build falls back to the default with a note, ATTNC_NO_TUNED=1 turns the
 * lookup off, and 4 threads (one context each, one cache folder) launching
 * at once all run the tuned schedule correctly. */
#include "tmpdir.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "passes/pipeline.h"
#include "ref_check.h"
#include "runtime/api/api_internal.h"
#include "runtime/tune/tune_db.h"

static const char SRC[] = "recipe causal_auto\n"
                          "input  q, k, v : f32 [batch, heads, tokens, 16]\n"
                          "mask   causal\n"
                          "tile   auto\n";
static const char DEFAULT[] = "q=64 kv=64 stages=2 warps=4"; /* softmax: no linear keys */
static const char TUNED[] = "q=32 kv=16 stages=1 warps=4";

typedef struct fx {
    char *dir;
    attnc_context *ctx;
    attnc_recipe *r;
    char hash[33];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->dir = tmpdir_make();
    setenv("ATTNC_CACHE_DIR", f->dir, 1);
    unsetenv("ATTNC_NO_TUNED");
    assert_int_equal(attnc_context_create(&f->ctx, NULL), ATTNC_OK);
    assert_int_equal(attnc_recipe_from_text(&f->r, f->ctx, "causal_auto.attn", SRC, strlen(SRC)), ATTNC_OK);
    tune_recipe_hash(SRC, strlen(SRC), f->hash);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    attnc_recipe_destroy(f->r);
    attnc_context_destroy(f->ctx);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void bucket_for(int64_t tokens, char out[64])
{
    tune_bucket(out, 64, 1, 2, tokens, tokens, 16);
}

/* Stores `sched` as the best for (recipe, host, bucket of `tokens`). */
static void record(const fx *f, int64_t tokens, const char *sched)
{
    char bucket[64];
    bucket_for(tokens, bucket);
    strbuf msg;
    sb_init(&msg);
    tune_db *db = tune_db_open(NULL, &msg);
    assert_non_null(db);
    if (!tune_db_record_best(db, f->hash, "host", bucket, sched, 5.0, &msg))
        fail_msg("record: %s", sb_cstr(&msg));
    tune_db_close(db);
    sb_free(&msg);
}

/* Launches k on fresh random inputs of `tokens` tokens and checks it. */
static void run_checked(attnc_kernel *k, const recipe *r, int64_t tokens, uint64_t seed)
{
    ref_shape sh = {.batch = 1, .heads = 2, .tokens = tokens};
    ref_check_opts o = {.seed = seed, .check = true};
    ref_check_result res;
    ref_check_kernel(k, r, &sh, &o, &res);
    if (!res.ok)
        fail_msg("tokens %lld: %s (%s)", (long long)tokens, res.msg, attnc_kernel_errmsg(k));
    assert_true(res.o.rel_l2 < res.tol);
}

static attnc_kernel *build(const fx *f)
{
    attnc_kernel *k = NULL;
    if (attnc_kernel_build(&k, f->ctx, f->r, NULL))
        fail_msg("build: %s", attnc_context_errmsg(f->ctx));
    assert_string_equal(attnc_kernel_schedule(k), DEFAULT);
    return k;
}

static void tuned_bucket_runs_tuned(void **state)
{
    fx *f = *state;
    record(f, 200, TUNED);
    attnc_kernel *k = build(f);
    assert_string_equal(attnc_kernel_last_schedule(k), DEFAULT); /* before any launch */
    run_checked(k, f->r->r, 200, 11);
    assert_string_equal(attnc_kernel_last_schedule(k), TUNED);
    assert_string_equal(attnc_kernel_errmsg(k), "");
    run_checked(k, f->r->r, 40, 12); /* bucket q64: no record */
    assert_string_equal(attnc_kernel_last_schedule(k), DEFAULT);
    run_checked(k, f->r->r, 150, 13); /* 150 rounds up to 256 too: same bucket, same variant */
    assert_string_equal(attnc_kernel_last_schedule(k), TUNED);
    assert_int_equal(k->ntuned, 2);
    assert_non_null(k->tuned[0].variant);
    assert_null(k->tuned[1].variant);
    attnc_kernel_destroy(k);
}

static void no_tuned_env_disables(void **state)
{
    fx *f = *state;
    record(f, 200, TUNED);
    setenv("ATTNC_NO_TUNED", "1", 1);
    attnc_kernel *k = build(f);
    unsetenv("ATTNC_NO_TUNED");
    run_checked(k, f->r->r, 200, 21);
    assert_string_equal(attnc_kernel_last_schedule(k), DEFAULT);
    attnc_kernel_destroy(k);
    /* an explicit schedule is never replaced either */
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.schedule = "q=16 kv=16";
    assert_int_equal(attnc_kernel_build(&k, f->ctx, f->r, &o), ATTNC_OK);
    run_checked(k, f->r->r, 200, 22);
    assert_string_equal(attnc_kernel_last_schedule(k), attnc_kernel_schedule(k));
    attnc_kernel_destroy(k);
}

/* Flips one byte of the stored schedule text inside the database file. */
static void flip_record(const fx *f)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/tuning.sqlite", f->dir);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char *buf = malloc((size_t)st.st_size);
    assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
    char *hit = memmem(buf, (size_t)st.st_size, "kv=16", 5);
    assert_non_null(hit);
    char flipped = '1' ^ 0x02; /* kv=36 */
    assert_int_equal(pwrite(fd, &flipped, 1, (hit - buf) + 3), 1);
    close(fd);
    free(buf);
}

static void damaged_record_gets_default(void **state)
{
    fx *f = *state;
    record(f, 200, TUNED);
    flip_record(f);
    attnc_kernel *k = build(f);
    run_checked(k, f->r->r, 200, 31);
    assert_string_equal(attnc_kernel_last_schedule(k), DEFAULT);
    const char *note = attnc_kernel_errmsg(k);
    assert_non_null(strstr(note, "unusable"));
    assert_non_null(strstr(note, "checksum"));
    attnc_kernel_destroy(k);
}

static void illegal_record_gets_default(void **state)
{
    fx *f = *state;
    record(f, 200, "q=24 kv=16 stages=1 warps=4"); /* not a power of two */
    attnc_kernel *k = build(f);
    run_checked(k, f->r->r, 200, 41);
    assert_string_equal(attnc_kernel_last_schedule(k), DEFAULT);
    assert_non_null(strstr(attnc_kernel_errmsg(k), "no longer legal"));
    attnc_kernel_destroy(k);
}

/* A lowering that refuses every schedule but the default. */
static tir_kernel *picky_lower(arena *a, const recipe *r, const schedule *s, target_arch arch, strbuf *err)
{
    if (s->q_tile[0] != 64) {
        sb_puts(err, "picky lowering refuses this schedule");
        return NULL;
    }
    return lower_recipe(a, r, s, arch, err);
}

static void failed_variant_falls_back(void **state)
{
    fx *f = *state;
    record(f, 200, TUNED);
    attnc_kernel *k = NULL;
    assert_int_equal(kernel_build_hashed(&k, f->ctx, f->r->r, f->hash, NULL, picky_lower), ATTNC_OK);
    assert_true(k->tuned_auto);
    run_checked(k, f->r->r, 200, 51);
    assert_string_equal(attnc_kernel_last_schedule(k), DEFAULT);
    assert_non_null(strstr(attnc_kernel_errmsg(k), "did not build"));
    assert_non_null(strstr(attnc_kernel_errmsg(k), "picky lowering"));
    run_checked(k, f->r->r, 200, 52); /* decided once: no second attempt, no note */
    assert_string_equal(attnc_kernel_errmsg(k), "");
    attnc_kernel_destroy(k);
}

typedef struct worker {
    const char *src;
    int id;
    int ok;
    char sched[128];
} worker;

static void *launch_thread(void *p)
{
    worker *w = p;
    attnc_context *ctx = NULL;
    attnc_recipe *r = NULL;
    attnc_kernel *k = NULL;
    if (attnc_context_create(&ctx, NULL) || attnc_recipe_from_text(&r, ctx, "t.attn", w->src, strlen(w->src)) ||
        attnc_kernel_build(&k, ctx, r, NULL))
        return NULL;
    ref_shape sh = {.batch = 1, .heads = 2, .tokens = 200};
    ref_check_opts o = {.seed = 100 + (uint64_t)w->id, .check = true};
    ref_check_result res;
    for (int i = 0; i < 3; i++) {
        ref_check_kernel(k, r->r, &sh, &o, &res);
        w->ok += res.ok;
        o.seed += 10;
    }
    snprintf(w->sched, sizeof w->sched, "%s", attnc_kernel_last_schedule(k));
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
    attnc_context_destroy(ctx);
    return NULL;
}

static void four_threads_at_once(void **state)
{
    fx *f = *state;
    record(f, 200, TUNED);
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){SRC, i, 0, ""};
        assert_int_equal(pthread_create(&t[i], NULL, launch_thread, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, 3);
        assert_string_equal(w[i].sched, TUNED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tuned_bucket_runs_tuned, setup, teardown),
        cmocka_unit_test_setup_teardown(no_tuned_env_disables, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_record_gets_default, setup, teardown),
        cmocka_unit_test_setup_teardown(illegal_record_gets_default, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_variant_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(four_threads_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
