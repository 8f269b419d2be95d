/* cmd_run.c — `attnc run`: compile a recipe for the CPU (or CUDA) backend,
 * run it on random inputs and, with --check, compare O and LSE with the fp64
 * reference. Uses the public API for everything but the typed recipe the
 * reference reads (runtime/api_typed.h) and, for --backend cuda, the
 * runtime's device-memory helpers (runtime/cuda_module.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "progress.h"
#include "reference/ref_check.h"
#include "runtime/api_typed.h"
#include "runtime/cuda_module.h"
#include "runtime/include/attnc.h"

#define RUN_USAGE                                                                                      \
    "usage: attnc run FILE [--backend cpu|cuda] [--shape K=V,...] [--check] [--seed N]\n"               \
    "                      [--schedule SPEC] [--layout bhsd|bshd] [--dump PREFIX]\n\n"               \
    "Compiles FILE, runs it once on random inputs (uniform in [-2, 2), seeded) and prints\n"           \
    "the time. With --check it also computes the fp64 reference and prints the max abs\n"             \
    "and relative (L2) error of O and LSE; exit status 1 when they exceed the tolerance\n"            \
    "(bf16 1e-2, f16 2e-3, f32 1e-5) or any output is NaN.\n\n"                                       \
    "  --backend cpu|cuda   cpu (default): LLVM host JIT; cuda: NVPTX + CUDA driver\n"                 \
    "  --shape K=V,...      sizes: batch, heads, kv_heads, tokens, kv_tokens, the recipe's\n"         \
    "                       grid dims (e.g. H=56,W=56) and extra sizes (e.g. nqb=4)\n"                 \
    "  --schedule SPEC      e.g. \"q=64 kv=32\" or \"q=8x16 kv=8x8\" (default: the recipe's)\n"       \
    "  --layout bhsd|bshd   memory order of q/k/v/o (default bhsd)\n"                                  \
    "  --seed N             random seed (default 1)\n"                                                 \
    "  --dump PREFIX        on a mismatch write PREFIX.o.txt / PREFIX.lse.txt\n\n"                     \
    "Default shape (no --shape): batch=1, heads=2 (kv_heads=1 with GQA), tokens=200; grid\n"          \
    "dims 13 each for 2-D grids and 7 for 3-D (raised to window*dilation+5 when the mask\n"           \
    "needs more; fixed dims as written). These do not divide the tiles, so partial tiles\n"           \
    "are exercised.\n\n"                                                                               \
    "exit status: 0 ok, 1 mismatch or user error, 2 internal or environment error\n"

typedef struct run_opts {
    const char *file, *shape, *schedule, *dump;
    attnc_backend backend;
    bool check, bshd;
    uint64_t seed;
} run_opts;

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "attnc run: %s%s%s\n\n%s", msg, arg ? " " : "", arg ? arg : "", RUN_USAGE);
    return EXIT_USER;
}

static const char *next_value(int argc, char **argv, int *i)
{
    return *i + 1 < argc ? argv[++*i] : NULL;
}

static int parse_args(int argc, char **argv, run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--check"))
            o->check = true;
        else if (!strcmp(a, "--backend") || !strcmp(a, "--shape") || !strcmp(a, "--seed") ||
                 !strcmp(a, "--schedule") || !strcmp(a, "--layout") ||
                 !strcmp(a, "--dump")) {
            if (!(v = next_value(argc, argv, &i)))
                return usage_error("missing value after", a);
            if (!strcmp(a, "--backend")) {
                if (strcmp(v, "cpu") && strcmp(v, "cuda"))
                    return usage_error("--backend must be cpu or cuda, not", v);
                o->backend = !strcmp(v, "cuda") ? ATTNC_BACKEND_CUDA : ATTNC_BACKEND_CPU;
            } else if (!strcmp(a, "--layout")) {
                if (strcmp(v, "bhsd") && strcmp(v, "bshd"))
                    return usage_error("--layout must be bhsd or bshd, not", v);
                o->bshd = !strcmp(v, "bshd");
            } else if (!strcmp(a, "--seed")) {
                char *end;
                o->seed = strtoull(v, &end, 10);
                if (*end || !*v)
                    return usage_error("--seed needs a number, not", v);
            } else {
                *(!strcmp(a, "--shape") ? &o->shape : !strcmp(a, "--schedule") ? &o->schedule : &o->dump) = v;
            }
        } else if (a[0] == '-') {
            return usage_error("unknown option", a);
        } else if (!o->file) {
            o->file = a;
        } else {
            return usage_error("more than one recipe file:", a);
        }
    }
    return o->file ? EXIT_OK : usage_error("no recipe file given", NULL);
}

/* One "key=value" of --shape into the shape. */
static bool set_shape_key(const recipe *r, ref_shape *sh, const char *key, int64_t v)
{
    int64_t *std[] = {&sh->batch, &sh->heads, &sh->kv_heads, &sh->tokens, &sh->kv_tokens};
    static const char *names[] = {"batch", "heads", "kv_heads", "tokens", "kv_tokens"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(key, names[i])) {
            *std[i] = v;
            return true;
        }
    for (int d = 0; d < r->grid_ndim; d++)
        if (r->sizes[SZ_GRID0 + d].name && !strcmp(key, r->sizes[SZ_GRID0 + d].name)) {
            sh->grid[d] = v;
            return true;
        }
    for (int s = SZ_EXTRA0; s < r->nsizes && s < SZ_MAX; s++)
        if (r->sizes[s].name && !strcmp(key, r->sizes[s].name)) {
            sh->extra[s - SZ_EXTRA0] = v;
            return true;
        }
    return false;
}

static int parse_shape(const recipe *r, const char *text, ref_shape *sh)
{
    char buf[512];
    if (strlen(text) >= sizeof buf)
        return usage_error("--shape is too long", NULL);
    strcpy(buf, text);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '='), *end = NULL;
        long long v = eq ? strtoll(eq + 1, &end, 10) : 0;
        if (!eq || !end || *end || eq[1] == 0 || v < 1 || v > (1LL << 31) - 1)
            return usage_error("--shape wants key=positive integer, not", kv);
        *eq = 0;
        if (!set_shape_key(r, sh, kv, v))
            return usage_error("--shape: unknown size (batch, heads, kv_heads, tokens, kv_tokens, grid dims, extras):",
                               kv);
    }
    if (r->grid_ndim > 0 && sh->tokens && sh->grid[0]) {
        int64_t prod = 1;
        for (int d = 0; d < r->grid_ndim; d++)
            prod *= sh->grid[d] ? sh->grid[d] : 1;
        if (prod != sh->tokens)
            return usage_error("--shape: tokens must equal the product of the grid dims", NULL);
    }
    return EXIT_OK;
}

/* ---- device memory for --backend cuda (runtime/cuda_module.h) ---- */

static void *dev_alloc(void *user, size_t n)
{
    uint64_t p = 0;
    return cuda_mem_alloc(&p, n, user) ? NULL : (void *)(uintptr_t)p;
}

static void dev_free(void *user, void *p)
{
    (void)user;
    cuda_mem_free((uint64_t)(uintptr_t)p);
}

static bool dev_upload(void *user, void *dst, const void *src, size_t n)
{
    return cuda_memcpy_htod((uint64_t)(uintptr_t)dst, src, n, user) == ATTNC_OK;
}

static bool dev_download(void *user, void *dst, const void *src, size_t n)
{
    return cuda_memcpy_dtoh(dst, (uint64_t)(uintptr_t)src, n, user) == ATTNC_OK;
}

static bool dev_sync(void *user)
{
    return cuda_synchronize(user) == ATTNC_OK;
}

static void print_shape(const recipe *r, const ref_shape *sh, dtype dt)
{
    int64_t sz[SZ_MAX];
    ref_shape_sizes(r, sh, sz);
    printf("shape: batch=%lld heads=%lld kv_heads=%lld tokens=%lld", (long long)sz[SZ_BATCH], (long long)sz[SZ_HEADS],
           (long long)sz[SZ_KV_HEADS], (long long)sz[SZ_TOKENS]);
    if (r->cross)
        printf(" kv_tokens=%lld", (long long)sz[SZ_KV_TOKENS]);
    for (int d = 0; d < r->grid_ndim; d++)
        printf(" %s=%lld", r->sizes[SZ_GRID0 + d].name, (long long)sz[SZ_GRID0 + d]);
    for (int s = SZ_EXTRA0; s < r->nsizes && s < SZ_MAX; s++)
        printf(" %s=%lld", r->sizes[s].name, (long long)sz[s]);
    printf(" head_dim=%d dtype=%s layout=%s\n", r->head_dim, dtype_name(dt), sh->bshd ? "bshd" : "bhsd");
}

static int exit_for(attnc_status st)
{
    return st == ATTNC_ERR_RECIPE || st == ATTNC_ERR_INVALID_ARGUMENT || st == ATTNC_ERR_UNSUPPORTED ? EXIT_USER
                                                                                                    : EXIT_INTERNAL;
}

static attnc_status build(attnc_context *ctx, attnc_recipe *rc, const run_opts *o, attnc_kernel **k)
{
    attnc_build_options bo = ATTNC_BUILD_OPTIONS_INIT;
    bo.backend = o->backend;
    bo.schedule = o->schedule;
    return attnc_kernel_build(k, ctx, rc, &bo);
}

static int report(const ref_check_result *res, bool check)
{
    printf("ran in %.2f ms\n", res->launch_ms);
    if (!check)
        return EXIT_OK;
    printf("check o:   max abs %.3g, rel L2 %.3g%s\n", res->o.max_abs, res->o.rel_l2,
           res->o.nan_count ? " (NaN/inf in the output)" : "");
    if (res->has_lse)
        printf("check lse: max abs %.3g, rel L2 %.3g; %zu rows with no kept key%s\n", res->lse.max_abs,
               res->lse.rel_l2, res->lse.empty_rows, res->lse.nan_count || res->lse.bad_inf ? " (NaN or -inf mismatches)" : "");
    printf("%s (tolerance %.0e)\n", res->ok ? "OK" : "MISMATCH", res->tol);
    if (!res->ok)
        fprintf(stderr, "attnc run: %s\n", res->msg);
    return res->ok ? EXIT_OK : EXIT_USER;
}

static int run_loaded(attnc_context *ctx, attnc_recipe *rc, const run_opts *o)
{
    recipe r = *attnc_recipe_typed(rc);
    ref_shape sh;
    ref_default_shape(&r, &sh);
    sh.bshd = o->bshd;
    if (o->shape) {
        int rcode = parse_shape(&r, o->shape, &sh);
        if (rcode)
            return rcode;
    }
    attnc_kernel *k = NULL;
    attnc_status st = build(ctx, rc, o, &k);
    if (st) {
        fprintf(stderr, "%s\n", attnc_context_errmsg(ctx));
        return exit_for(st);
    }
    printf("recipe %s (%s), backend %s, schedule %s\n", r.name, o->file,
           o->backend == ATTNC_BACKEND_CUDA ? "cuda" : "cpu", attnc_kernel_schedule(k));
    print_shape(&r, &sh, r.qkv_dtype);
    strbuf err;
    sb_init(&err);
    ref_mem_ops dev = {dev_alloc, dev_free, dev_upload, dev_download, dev_sync, &err};
    ref_check_opts co = {o->seed, o->dump, o->check, o->backend == ATTNC_BACKEND_CUDA ? &dev : NULL};
    ref_check_result res;
    cli_progress_check(ctx, k, &r, &sh, &co, &res); /* ref_check_kernel, with progress on a terminal */
    int code;
    if (!res.launched) {
        fprintf(stderr, "attnc run: %s%s%s\n", res.msg, err.len ? ": " : "", sb_cstr(&err));
        code = res.status ? exit_for(res.status) : EXIT_INTERNAL;
    } else {
        printf("schedule used: %s\n", attnc_kernel_last_schedule(k));
        code = report(&res, o->check);
    }
    sb_free(&err);
    attnc_kernel_destroy(k);
    return code;
}

static int run_run(int argc, char **argv)
{
    run_opts o;
    int code = parse_args(argc, argv, &o);
    if (code)
        return code;
    attnc_context *ctx = NULL;
    attnc_recipe *rc = NULL;
    if (attnc_context_create(&ctx, NULL)) {
        fprintf(stderr, "attnc run: out of memory\n");
        return EXIT_INTERNAL;
    }
    attnc_status st = attnc_recipe_from_file(&rc, ctx, o.file);
    if (st) {
        fprintf(stderr, "%s\n", attnc_context_errmsg(ctx));
        code = st == ATTNC_ERR_IO ? EXIT_USER : exit_for(st);
    } else {
        code = run_loaded(ctx, rc, &o);
    }
    attnc_recipe_destroy(rc);
    attnc_context_destroy(ctx);
    return code;
}

const cli_command cmd_run = {
    "run",
    "run a recipe on random inputs (CPU or CUDA), optionally checked against the fp64 reference",
    RUN_USAGE,
    run_run,
};
