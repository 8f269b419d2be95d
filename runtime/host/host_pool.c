/* host_pool.c — threads for CPU launches; see host_pool.h. Threads are
 * started per launch (tens of microseconds against kernels of
 * milliseconds), so nothing outlives a launch and no state is global. */
#define _GNU_SOURCE
#include "runtime/host/host_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum { CHUNKS_PER_THREAD = 32, REPORT_NS = 100000000 };

int host_thread_count(char *why, size_t cap)
{
    const char *env = getenv("ATTNC_NUM_THREADS");
    if (env && *env) {
        long n = 0;
        for (const char *c = env; n <= HOST_MAX_THREADS && *c; c++)
            n = *c >= '0' && *c <= '9' ? n * 10 + (*c - '0') : HOST_MAX_THREADS + 1;
        if (n < 1 || n > HOST_MAX_THREADS) {
            snprintf(why, cap, "ATTNC_NUM_THREADS='%.40s' is not a whole number from 1 to %d", env, HOST_MAX_THREADS);
            return 0;
        }
        return (int)n;
    }
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > HOST_MAX_THREADS ? HOST_MAX_THREADS : (int)n;
}

typedef struct pool {
    host_chunk_fn fn;
    void *user;
    int64_t total, chunk;
    atomic_int_fast64_t next, done;
    atomic_bool failed;
    atomic_int running; /* started threads still working */
} pool;

typedef struct worker {
    pool *p;
    int index;
    pthread_t tid;
} worker;

/* Takes the next chunk; false when none is left or a chunk failed. */
static bool take(pool *p, int64_t *first, int64_t *last)
{
    if (atomic_load(&p->failed))
        return false;
    int64_t f = atomic_fetch_add(&p->next, p->chunk);
    if (f >= p->total)
        return false;
    *first = f;
    *last = p->total - f < p->chunk ? p->total : f + p->chunk;
    return true;
}

static void run_chunk(pool *p, int index, int64_t first, int64_t last)
{
    if (!p->fn(p->user, index, first, last))
        atomic_store(&p->failed, true);
    atomic_fetch_add(&p->done, last - first);
}

static void *thread_main(void *arg)
{
    worker *w = arg;
    int64_t f, l;
    while (take(w->p, &f, &l))
        run_chunk(w->p, w->index, f, l);
    atomic_fetch_sub(&w->p->running, 1);
    return NULL;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct reporter {
    attnc_progress_fn fn;
    void *user;
    int64_t start, last;
} reporter;

static void report(reporter *r, pool *p, bool force)
{
    int64_t t = now_ns();
    if (!r->fn || (!force && t - r->last < REPORT_NS))
        return;
    int64_t done = force ? p->total : atomic_load(&p->done);
    if (!force && done >= p->total)
        return; /* done == total is said once, by the final report */
    r->last = t;
    r->fn(r->user, done, p->total, (double)(t - r->start) * 1e-9);
}

bool host_pool_run(int nthreads, int64_t total, host_chunk_fn fn, void *user, attnc_progress_fn progress,
                   void *progress_user)
{
    if (total <= 0)
        return true;
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > HOST_MAX_THREADS)
        nthreads = HOST_MAX_THREADS;
    if (nthreads > total)
        nthreads = (int)total;
    pool p = {.fn = fn, .user = user, .total = total};
    /* small chunks balance the load and pace progress reports */
    p.chunk = nthreads > 1 || progress ? total / ((int64_t)nthreads * CHUNKS_PER_THREAD) : total;
    if (p.chunk < 1)
        p.chunk = 1;
    atomic_init(&p.next, 0);
    atomic_init(&p.done, 0);
    atomic_init(&p.failed, false);
    atomic_init(&p.running, 0);
    worker w[HOST_MAX_THREADS]; /* on the stack: a launch allocates only through the context */
    int started = 0;
    for (int i = 1; i < nthreads; i++) {
        w[i] = (worker){&p, i, 0};
        atomic_fetch_add(&p.running, 1);
        if (pthread_create(&w[i].tid, NULL, thread_main, &w[i]) != 0) {
            atomic_fetch_sub(&p.running, 1);
            break; /* run with the threads we have */
        }
        started = i;
    }
    reporter rep = {progress, progress_user, now_ns(), now_ns()};
    int64_t f, l;
    while (take(&p, &f, &l)) {
        run_chunk(&p, 0, f, l);
        report(&rep, &p, false);
    }
    while (progress && atomic_load(&p.running) > 0) { /* the other threads' tail */
        nanosleep(&(struct timespec){0, 10000000}, NULL);
        report(&rep, &p, false);
    }
    for (int i = 1; i <= started; i++)
        pthread_join(w[i].tid, NULL);
    bool ok = !atomic_load(&p.failed);
    if (ok)
        report(&rep, &p, true);
    return ok;
}
