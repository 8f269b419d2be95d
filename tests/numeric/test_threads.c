/* test_threads.c — `test_numeric_threads NAME`: the CPU backend gives
 * bit-identical O and LSE whatever the number of threads. recipes/NAME.attn
 * is built under two cases of its numeric plan (the BSHD shape with the
 * recipe's schedule, and the smallest tiles, so there are many programs),
 * run on the same random inputs with ATTNC_NUM_THREADS 1, 3 and 8, and the
 * outputs compared byte for byte; the 3-thread run is also compared with
 * the fp64 reference. Also checks the progress callback's contract and
 * that a malformed ATTNC_NUM_THREADS fails the launch before it writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numeric_plan.h"
#include "passes/pipeline.h"
#include "reference/ref_capture.h"
#include "runtime/api/api_internal.h"

typedef struct progress_log {
    int calls;
    int64_t last_done, total;
    bool monotone, ended;
} progress_log;

static void on_progress(void *user, int64_t done, int64_t total, double seconds)
{
    progress_log *l = user;
    l->monotone &= done >= l->last_done && done <= total && seconds >= 0 && !l->ended;
    l->ended = done == total;
    l->last_done = done;
    l->total = total;
    l->calls++;
}

static bool run_threads(attnc_kernel *k, const recipe *r, const numeric_case *c, const char *threads, bool check,
                        ref_capture *cap, char *msg, size_t cap_msg)
{
    setenv("ATTNC_NUM_THREADS", threads, 1);
    ref_mem_ops mem = ref_capture_ops(cap);
    ref_check_opts co = {.seed = 7, .check = check, .mem = &mem};
    ref_check_result res;
    bool ok = ref_check_kernel(k, r, &c->shape, &co, &res);
    snprintf(msg, cap_msg, "%s", res.msg);
    return ok && cap->n == 2; /* o and lse came back */
}

static bool run_case(attnc_context *ctx, const char *name, const recipe *base, const numeric_case *c, int idx)
{
    recipe r = *base;
    r.qkv_dtype = c->dt;
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.schedule = c->schedule;
    attnc_kernel *k = NULL;
    if (kernel_build_with(&k, ctx, &r, &o, lower_recipe)) {
        printf("[FAIL] %s case %d: build: %s\n", name, idx, attnc_context_errmsg(ctx));
        return false;
    }
    static const char *counts[3] = {"1", "3", "8"};
    ref_capture cap[3] = {0};
    char msg[1024];
    bool ok = true;
    progress_log log = {0, 0, 0, true, false};
    for (int i = 0; i < 3 && ok; i++) {
        attnc_context_set_progress(ctx, i == 1 ? on_progress : NULL, &log);
        ok = run_threads(k, &r, c, counts[i], i == 1, &cap[i], msg, sizeof msg);
        printf("[%s] %s case %d [%s] %s threads: %s\n", ok ? "PASS" : "FAIL", name, idx, attnc_kernel_schedule(k),
               counts[i], msg);
    }
    attnc_context_set_progress(ctx, NULL, NULL);
    if (ok && !(ref_capture_same(&cap[0], &cap[1]) && ref_capture_same(&cap[0], &cap[2]))) {
        printf("[FAIL] %s case %d: outputs differ between 1, 3 and 8 threads\n", name, idx);
        ok = false;
    }
    if (ok && !(log.calls >= 1 && log.monotone && log.ended && log.total > 0)) {
        printf("[FAIL] %s case %d: progress: %d calls, monotone %d, ended %d, total %lld\n", name, idx, log.calls,
               log.monotone, log.ended, (long long)log.total);
        ok = false;
    }
    for (int i = 0; i < 3; i++)
        ref_capture_clear(&cap[i]);
    attnc_kernel_destroy(k);
    return ok;
}

/* A malformed thread count fails the launch before the output is touched
 * (ref_check poisons o with NaN; a write would make it finite). */
static bool bad_thread_count(attnc_context *ctx, const recipe *r, const numeric_case *c)
{
    attnc_kernel *k = NULL;
    if (kernel_build_with(&k, ctx, r, NULL, lower_recipe))
        return false;
    static const char *bad[] = {"0", "-2", "abc", "4x", "", "100000", " 3"};
    bool ok = true;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ref_capture cap = {0};
        char msg[1024];
        bool ran = run_threads(k, r, c, bad[i], false, &cap, msg, sizeof msg);
        bool empty = bad[i][0] == 0; /* unset-like: the default count */
        if (ran != empty || (!empty && !strstr(msg, "ATTNC_NUM_THREADS"))) {
            printf("[FAIL] ATTNC_NUM_THREADS='%s': %s\n", bad[i], msg);
            ok = false;
        }
        ref_capture_clear(&cap);
    }
    unsetenv("ATTNC_NUM_THREADS");
    attnc_kernel_destroy(k);
    printf("[%s] malformed ATTNC_NUM_THREADS values are rejected\n", ok ? "PASS" : "FAIL");
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_numeric_threads NAME\n");
        return 2;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/recipes/%s.attn", ATTNC_SOURCE_DIR, argv[1]);
    attnc_context *ctx;
    attnc_recipe *rc;
    if (attnc_context_create(&ctx, NULL) || attnc_recipe_from_file(&rc, ctx, path)) {
        fprintf(stderr, "%s: %s\n", path, ctx ? attnc_context_errmsg(ctx) : "no context");
        attnc_context_destroy(ctx);
        return 1;
    }
    numeric_case cases[PLAN_MAX];
    int n = numeric_plan(argv[1], rc->r, false, cases);
    /* case 1: BSHD, recipe schedule; and the first other schedule (the
     * smallest query tiles, so the most programs) */
    int picks[2] = {1, n - 1};
    for (int i = n - 1; i >= 0; i--)
        if (cases[i].schedule)
            picks[1] = i;
    bool ok = true;
    for (int i = 0; i < 2; i++)
        ok &= run_case(ctx, argv[1], rc->r, &cases[picks[i]], picks[i]);
    ok &= bad_thread_count(ctx, rc->r, &cases[0]);
    attnc_recipe_destroy(rc);
    attnc_context_destroy(ctx);
    return ok ? 0 : 1;
}
