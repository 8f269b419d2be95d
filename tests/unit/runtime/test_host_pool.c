/* Unit tests for the CPU launch's thread pool (runtime/host/host_pool.c): every
 * program index runs exactly once for any thread count, a failing chunk
 * stops the loop, progress reports are monotone and end once with
 * done == total, and ATTNC_NUM_THREADS is parsed strictly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/host/host_pool.h"

enum { MAX_TOTAL = 5000 };

typedef struct visits {
    atomic_int count[MAX_TOTAL];
    atomic_int bad_worker;
    int nthreads;
    int64_t fail_at; /* a chunk containing this index fails; -1: none */
} visits;

static bool visit(void *user, int worker, int64_t first, int64_t last)
{
    visits *v = user;
    if (worker < 0 || worker >= v->nthreads)
        atomic_fetch_add(&v->bad_worker, 1);
    for (int64_t i = first; i < last; i++)
        atomic_fetch_add(&v->count[i], 1);
    return !(v->fail_at >= first && v->fail_at < last);
}

static void every_index_once(void **state)
{
    static const int threads[] = {1, 2, 3, 8, 64};
    static const int64_t totals[] = {1, 2, 7, 100, 4999};
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++)
        for (size_t n = 0; n < sizeof totals / sizeof *totals; n++) {
            visits *v = calloc(1, sizeof *v);
            v->nthreads = threads[t];
            v->fail_at = -1;
            assert_true(host_pool_run(threads[t], totals[n], visit, v, NULL, NULL));
            for (int64_t i = 0; i < MAX_TOTAL; i++)
                assert_int_equal(atomic_load(&v->count[i]), i < totals[n] ? 1 : 0);
            assert_int_equal(atomic_load(&v->bad_worker), 0);
            free(v);
        }
    assert_true(host_pool_run(4, 0, visit, NULL, NULL, NULL)); /* nothing to do, fn never called */
}

static void failure_stops(void **state)
{
    visits *v = calloc(1, sizeof *v);
    v->nthreads = 1;
    v->fail_at = 10;
    assert_false(host_pool_run(1, 1000, visit, v, NULL, NULL)); /* one chunk, which fails */
    memset(v, 0, sizeof *v);
    v->nthreads = 4;
    v->fail_at = 0;
    assert_false(host_pool_run(4, 4000, visit, v, NULL, NULL));
    int done = 0;
    for (int i = 0; i < 4000; i++)
        done += atomic_load(&v->count[i]);
    assert_true(done < 4000); /* chunks after the failure were skipped */
    free(v);
}

typedef struct plog {
    int calls, finals;
    int64_t last;
    bool ok;
} plog;

static void on_progress(void *user, int64_t done, int64_t total, double seconds)
{
    plog *l = user;
    l->ok &= done >= l->last && done <= total && total == 3000 && seconds >= 0 && l->finals == 0;
    l->finals += done == total;
    l->last = done;
    l->calls++;
}

static bool slow_visit(void *user, int worker, int64_t first, int64_t last)
{
    (void)user;
    (void)worker;
    volatile double x = 0;
    for (int64_t i = first; i < last; i++)
        for (int j = 0; j < 20000; j++)
            x += j;
    return true;
}

static void progress_reports(void **state)
{
    plog l = {0, 0, 0, true};
    assert_true(host_pool_run(3, 3000, slow_visit, NULL, on_progress, &l));
    assert_true(l.ok);
    assert_int_equal(l.finals, 1);
    assert_true(l.calls >= 1);
    l = (plog){0, 0, 0, true};
    assert_true(host_pool_run(1, 3000, slow_visit, NULL, on_progress, &l));
    assert_true(l.ok);
    assert_int_equal(l.finals, 1);
}

static void thread_count_env(void **state)
{
    char why[128];
    setenv("ATTNC_NUM_THREADS", "5", 1);
    assert_int_equal(host_thread_count(why, sizeof why), 5);
    setenv("ATTNC_NUM_THREADS", "1024", 1);
    assert_int_equal(host_thread_count(why, sizeof why), 1024);
    static const char *bad[] = {"0", "1025", "-1", "+2", " 2", "2 ", "two", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv("ATTNC_NUM_THREADS", bad[i], 1);
        why[0] = 0;
        assert_int_equal(host_thread_count(why, sizeof why), 0);
        assert_non_null(strstr(why, "ATTNC_NUM_THREADS"));
    }
    unsetenv("ATTNC_NUM_THREADS");
    int n = host_thread_count(why, sizeof why);
    assert_true(n >= 1 && n <= HOST_MAX_THREADS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_index_once),
        cmocka_unit_test(failure_stops),
        cmocka_unit_test(progress_reports),
        cmocka_unit_test(thread_count_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
