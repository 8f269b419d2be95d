/* autotune.c — the tuner loop, its result table and its database record;
 * see autotune.h for the contract. */
#include "runtime/tune/autotune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_REPEATS = 64 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static tuner_options defaults(const tuner_options *o)
{
    tuner_options d = o ? *o : (tuner_options){0};
    d.warmup = d.warmup > 0 ? d.warmup : d.warmup < 0 ? 0 : 2;
    d.repeats = d.repeats > 0 ? (d.repeats > MAX_REPEATS ? MAX_REPEATS : d.repeats) : 7;
    d.early_stop_after = d.early_stop_after > 0 ? d.early_stop_after : 3;
    d.early_stop_factor = d.early_stop_factor > 1.0 ? d.early_stop_factor : 3.0;
    return d;
}

static void set_why(tuner_result *r, strbuf *why)
{
    snprintf(r->why, sizeof r->why, "%s", sb_cstr(why));
}

/* Every sample so far is slower than factor x best: stop timing. */
static bool clearly_slower(const double *v, int n, const tuner_options *o, double best)
{
    if (best <= 0 || n < o->early_stop_after)
        return false;
    for (int i = 0; i < n; i++)
        if (v[i] <= o->early_stop_factor * best)
            return false;
    return true;
}

/* Warm-ups, then samples; fills r. */
static void time_candidate(const tuner_options *o, const tuner_hooks *h, tuner_result *r, double best, strbuf *why)
{
    double v[MAX_REPEATS], us = 0;
    int n = 0;
    for (int w = 0; w < o->warmup; w++)
        if (!h->time_once(h->user, &r->sched, -1 - w, &us, why)) {
            r->status = TUNED_FAILED;
            return;
        }
    r->status = TUNED_OK;
    while (n < o->repeats) {
        if (!h->time_once(h->user, &r->sched, n, &us, why) || !isfinite(us) || us < 0) {
            r->status = TUNED_FAILED;
            if (!why->len)
                sb_puts(why, "the timer returned no valid time");
            return;
        }
        v[n++] = us;
        if (clearly_slower(v, n, o, best)) {
            r->status = TUNED_STOPPED_EARLY;
            sb_printf(why, "over %.1fx the best after %d runs", o->early_stop_factor, n);
            break;
        }
    }
    r->samples = n;
    r->min_us = v[0];
    for (int i = 1; i < n; i++)
        r->min_us = v[i] < r->min_us ? v[i] : r->min_us;
    r->median_us = median(v, n);
}

static void init_result(tuner_result *r, const schedule *s, bool linear)
{
    memset(r, 0, sizeof *r);
    r->sched = *s;
    r->status = TUNED_NOT_RUN;
    r->median_us = r->min_us = -1;
    strbuf t;
    sb_init(&t);
    schedule_print_for(&t, s, linear);
    snprintf(r->text, sizeof r->text, "%s", sb_cstr(&t));
    sb_free(&t);
}

int tuner_run(const schedule *cands, int n, const tuner_options *opts, const tuner_hooks *h, tuner_result *results)
{
    tuner_options o = defaults(opts);
    double start = now_s(), best_us = -1;
    int best = -1;
    strbuf why;
    sb_init(&why);
    for (int i = 0; i < n; i++) {
        tuner_result *r = &results[i];
        init_result(r, &cands[i], o.linear);
        if (o.budget_s > 0 && now_s() - start > o.budget_s) {
            sb_printf(&why, "time budget of %g s spent", o.budget_s);
        } else if (!h->prepare || h->prepare(h->user, &cands[i], &why)) {
            time_candidate(&o, h, r, best_us, &why);
            if (h->release)
                h->release(h->user, &cands[i]);
        } else {
            r->status = TUNED_SKIPPED;
        }
        set_why(r, &why);
        sb_clear(&why);
        if (r->status == TUNED_OK && (best < 0 || r->median_us < best_us)) {
            best = i;
            best_us = r->median_us;
        }
        if (h->progress)
            h->progress(h->progress_user ? h->progress_user : h->user, i + 1, n, r);
    }
    sb_free(&why);
    return best;
}

const char *tuned_status_name(tuned_status s)
{
    switch (s) {
    case TUNED_OK: return "ok";
    case TUNED_SKIPPED: return "skipped";
    case TUNED_FAILED: return "failed";
    case TUNED_STOPPED_EARLY: return "slow";
    case TUNED_NOT_RUN: return "not run";
    }
    return "?";
}

/* Timed first (fastest first), then the rest in their original order. */
static int cmp_rows(const void *a, const void *b)
{
    const tuner_result *x = *(const tuner_result *const *)a, *y = *(const tuner_result *const *)b;
    bool tx = x->median_us >= 0, ty = y->median_us >= 0;
    if (tx != ty)
        return tx ? -1 : 1;
    if (tx && x->median_us != y->median_us)
        return x->median_us < y->median_us ? -1 : 1;
    return (x > y) - (x < y);
}

void tuner_format_table(strbuf *out, const tuner_result *results, int n, int best)
{
    const tuner_result **rows = malloc(sizeof *rows * (size_t)(n > 0 ? n : 1));
    if (!rows) {
        out->failed = true;
        return;
    }
    for (int i = 0; i < n; i++)
        rows[i] = &results[i];
    qsort(rows, (size_t)n, sizeof *rows, cmp_rows);
    sb_printf(out, "  %-52s %-8s %12s %12s %4s  %s\n", "schedule", "status", "median us", "min us", "runs", "note");
    for (int i = 0; i < n; i++) {
        const tuner_result *r = rows[i];
        sb_printf(out, "%c %-52s %-8s ", r == &results[best >= 0 ? best : 0] && best >= 0 ? '*' : ' ', r->text,
                  tuned_status_name(r->status));
        if (r->median_us >= 0)
            sb_printf(out, "%12.2f %12.2f %4d", r->median_us, r->min_us, r->samples);
        else
            sb_printf(out, "%12s %12s %4s", "-", "-", "-");
        sb_printf(out, "  %s\n", r->why);
    }
    free(rows);
}

bool tuner_record(tune_db *db, const char *recipe_hash, const char *arch, const char *bucket,
                  const tuner_result *results, int n, int best, strbuf *msg)
{
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        const tuner_result *r = &results[i];
        if (r->status == TUNED_NOT_RUN)
            continue;
        ok = tune_db_record_candidate(db, recipe_hash, arch, bucket, r->text, r->median_us,
                                      r->status == TUNED_OK ? "ok" : r->why[0] ? r->why : tuned_status_name(r->status),
                                      msg);
    }
    if (ok && best >= 0)
        ok = tune_db_record_best(db, recipe_hash, arch, bucket, results[best].text, results[best].median_us, msg);
    return ok;
}
