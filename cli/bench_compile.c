/* bench_compile.c — compile timings of `attnc bench --compile-timings`
 * (see bench_compile.h): cold, disk-cache load and memory-cache hit, each
 * from recipe text to a launchable kernel, medians over repeats. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw; before any header */
#endif
#include "bench_compile.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "json_out.h"
#include "runtime/include/attnc_tools.h"

enum { WAY_COLD, WAY_DISK, WAY_MEM, NWAYS };

typedef struct round_times {
    double ms[NWAYS];
    bool disk_cubin; /* CUDA: the disk build loaded the cached cubin */
    char sched[128], name[64]; /* of the cold build */
} round_times;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

/* Recipe text to a kernel in ctx; the time it took, or -1 (message
 * printed). name (may be NULL): the recipe's name. */
static double timed_build(attnc_context *ctx, const char *text, size_t len, const bench_compile_opts *o,
                          attnc_kernel **k, char *name, size_t cap)
{
    attnc_build_options bo = ATTNC_BUILD_OPTIONS_INIT;
    bo.backend = o->backend;
    bo.schedule = o->schedule;
    bo.arch = o->arch;
    attnc_recipe *r = NULL;
    double t0 = now_ms();
    attnc_status st = attnc_recipe_from_text(&r, ctx, o->file, text, len);
    if (!st)
        st = attnc_kernel_build(k, ctx, r, &bo);
    double t = now_ms() - t0;
    if (st)
        fprintf(stderr, "attnc bench: %s\n", attnc_context_errmsg(ctx));
    if (name && r)
        snprintf(name, cap, "%s", attnc_recipe_name(r));
    attnc_recipe_destroy(r);
    return st ? -1 : t;
}

/* One round in a fresh temp cache folder. */
static int one_round(const char *text, size_t len, const bench_compile_opts *o, round_times *rt)
{
    char dir[] = "/tmp/attnc-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "attnc bench: cannot make a temp folder\n");
        return EXIT_INTERNAL;
    }
    setenv("ATTNC_CACHE_DIR", dir, 1);
    attnc_context *a = NULL, *b = NULL;
    attnc_kernel *k1 = NULL, *k2 = NULL, *k3 = NULL;
    int rc = EXIT_INTERNAL;
    if (attnc_context_create(&a, NULL) || attnc_context_create(&b, NULL))
        goto done;
    if ((rt->ms[WAY_COLD] = timed_build(a, text, len, o, &k1, rt->name, sizeof rt->name)) < 0 ||
        (rt->ms[WAY_MEM] = timed_build(a, text, len, o, &k2, NULL, 0)) < 0 ||
        (rt->ms[WAY_DISK] = timed_build(b, text, len, o, &k3, NULL, 0)) < 0)
        goto done;
    rt->disk_cubin = attnc_tools_kernel_from_cubin(k3);
    snprintf(rt->sched, sizeof rt->sched, "%s", attnc_kernel_schedule(k1));
    rc = EXIT_OK;
done:
    attnc_kernel_destroy(k1);
    attnc_kernel_destroy(k2);
    attnc_kernel_destroy(k3);
    attnc_context_destroy(a);
    attnc_context_destroy(b);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void report(const bench_compile_opts *o, const char *name, const char *sched, double med[NWAYS],
                   double lo[NWAYS], int cubin_rounds)
{
    const char *be = o->backend == ATTNC_BACKEND_CUDA ? "cuda" : "cpu";
    if (o->json) {
        strbuf js;
        sb_init(&js);
        json_obj j;
        json_begin(&j, &js);
        json_str(&j, "recipe", name);
        json_str(&j, "file", o->file);
        json_str(&j, "backend", be);
        json_str(&j, "schedule", sched);
        json_int(&j, "repeats", o->repeats);
        static const char *const keys[NWAYS][2] = {
            {"cold_ms", "cold_ms_min"}, {"disk_ms", "disk_ms_min"}, {"memory_ms", "memory_ms_min"}};
        for (int w = 0; w < NWAYS; w++)
            json_num(&j, keys[w][0], med[w], 3);
        for (int w = 0; w < NWAYS; w++)
            json_num(&j, keys[w][1], lo[w], 3);
        json_int(&j, "disk_cubin_rounds", cubin_rounds);
        json_bool(&j, "kernel_cache", o->backend == ATTNC_BACKEND_CUDA);
        json_end(&j);
        printf("%s\n", sb_cstr(&js));
        sb_free(&js);
        return;
    }
    static const char *what[NWAYS] = {"cold (empty cache folder, fresh context)", "disk-cache load (fresh context)",
                                      "memory-cache hit (same context)"};
    printf("compile timings: %s (%s), backend %s, schedule %s\n", name, o->file, be, sched);
    printf("recipe text -> launchable kernel, median (min) of %d rounds, ms\n", o->repeats);
    for (int w = 0; w < NWAYS; w++)
        printf("  %-44s %10.3f  (%.3f)\n", what[w], med[w], lo[w]);
    if (o->backend == ATTNC_BACKEND_CUDA)
        printf("  disk loads that took the cached cubin (no driver JIT): %d of %d\n", cubin_rounds, o->repeats);
    else
        printf("  note: the CPU backend has no kernel cache; every build runs the host JIT\n");
}

int bench_compile_timings(const bench_compile_opts *o)
{
    strbuf why;
    sb_init(&why);
    size_t len = 0;
    char *text = attnc_tools_read_file(o->file, &len, &why);
    int rc = text ? EXIT_OK : EXIT_USER;
    if (!text)
        fprintf(stderr, "attnc bench: %s: %s\n", o->file, sb_cstr(&why));
    sb_free(&why);
    if (o->backend == ATTNC_BACKEND_CUDA) {
        /* The process's CUDA context (~100 ms on the H200) is made before the
         * first round, as `attnc bench` does: a host program has it already.
         * Without a driver the first round reports the error. */
        strbuf e;
        sb_init(&e);
        attnc_tools_dev_sync(&e);
        sb_free(&e);
    }
    char *saved = getenv("ATTNC_CACHE_DIR") ? strdup(getenv("ATTNC_CACHE_DIR")) : NULL;
    int n = o->repeats > 0 ? o->repeats : 5, cubin_rounds = 0;
    double v[NWAYS][64], med[NWAYS], lo[NWAYS];
    round_times rt = {{0}, false, "", ""};
    if (n > 64)
        n = 64;
    for (int i = 0; i < n && !rc; i++) {
        rc = one_round(text, len, o, &rt);
        for (int w = 0; w < NWAYS; w++)
            v[w][i] = rt.ms[w];
        cubin_rounds += rt.disk_cubin;
    }
    if (saved)
        setenv("ATTNC_CACHE_DIR", saved, 1);
    else
        unsetenv("ATTNC_CACHE_DIR");
    free(saved);
    if (!rc) {
        for (int w = 0; w < NWAYS; w++)
            med[w] = median(v[w], n), lo[w] = v[w][0];
        bench_compile_opts shown = *o;
        shown.repeats = n;
        report(&shown, rt.name, rt.sched, med, lo, cubin_rounds);
    }
    free(text);
    return rc;
}
