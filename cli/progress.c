/* progress.c — the progress lines of `attnc run`; see progress.h. One
 * line on stderr, rewritten in place with \r and erased when its phase
 * ends, so the command's normal output follows as if it had never been
 * there. The launch reports through attnc_context_set_progress on the
 * launching thread; the reference comparison that follows has no hook, so
 * a small thread shows its elapsed time once the launch has said it ended. */
#include "progress.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { SHOW_AFTER_S = 1, TICK_MS = 250 };

typedef struct progress_line {
    pthread_mutex_t lock; /* the line and the fields below */
    pthread_cond_t wake;
    bool shown;           /* a line is on the terminal now */
    bool checking;        /* the launch ended; the reference comparison runs */
    bool stop;
    struct timespec check_start;
} progress_line;

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

static void erase(progress_line *l)
{
    if (l->shown)
        fputs("\r\033[K", stderr);
    l->shown = false;
    fflush(stderr);
}

static void on_progress(void *user, int64_t done, int64_t total, double seconds)
{
    progress_line *l = user;
    pthread_mutex_lock(&l->lock);
    if (done >= total) { /* the launch ended: the comparison (if any) starts */
        erase(l);
        l->checking = true;
        clock_gettime(CLOCK_MONOTONIC, &l->check_start);
    } else if (seconds >= SHOW_AFTER_S && total > 0) {
        double frac = (double)done / (double)total;
        fprintf(stderr, "\r\033[Kattnc run: running on the CPU: %3.0f%% (%lld of %lld programs, %.0f s", 100.0 * frac,
                (long long)done, (long long)total, seconds);
        if (done > 0)
            fprintf(stderr, ", about %.0f s left", seconds * (1.0 - frac) / frac);
        fputs(")", stderr);
        fflush(stderr);
        l->shown = true;
    }
    pthread_mutex_unlock(&l->lock);
}

/* Shows the comparison's elapsed time every TICK_MS until stopped. */
static void *watch_check(void *arg)
{
    progress_line *l = arg;
    long shown_s = -1; /* rewrite the line only when the seconds change */
    pthread_mutex_lock(&l->lock);
    while (!l->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += TICK_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&l->wake, &l->lock, &until);
        double s = l->checking ? seconds_since(&l->check_start) : 0;
        if (!l->stop && s >= SHOW_AFTER_S && (long)s != shown_s) {
            shown_s = (long)s;
            fprintf(stderr, "\r\033[Kattnc run: comparing with the fp64 reference (%ld s)", shown_s);
            fflush(stderr);
            l->shown = true;
        }
    }
    erase(l);
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

static bool terminal(void)
{
    const char *ci = getenv("CI"), *term = getenv("TERM");
    return isatty(STDERR_FILENO) && !(ci && *ci) && !(term && !strcmp(term, "dumb"));
}

void cli_progress_check(attnc_context *ctx, attnc_kernel *k, const recipe *r, const ref_shape *sh,
                        const ref_check_opts *o, ref_check_result *res)
{
    if (!terminal()) {
        ref_check_kernel(k, r, sh, o, res);
        return;
    }
    progress_line l = {.shown = false};
    pthread_mutex_init(&l.lock, NULL);
    pthread_cond_init(&l.wake, NULL);
    pthread_t watcher;
    bool watching = o->check && pthread_create(&watcher, NULL, watch_check, &l) == 0;
    attnc_context_set_progress(ctx, on_progress, &l);
    ref_check_kernel(k, r, sh, o, res);
    attnc_context_set_progress(ctx, NULL, NULL);
    pthread_mutex_lock(&l.lock);
    l.stop = true;
    pthread_cond_signal(&l.wake);
    if (!watching)
        erase(&l);
    pthread_mutex_unlock(&l.lock);
    if (watching)
        pthread_join(watcher, NULL);
    pthread_cond_destroy(&l.wake);
    pthread_mutex_destroy(&l.lock);
}
