/* cmd_run.c — `attnc run`: compile a recipe for the CPU (or CUDA) backend,
 * run it on random inputs and, with --check, compare O and LSE with the fp64
 * reference. Uses the public API for everything but the typed recipe the
 * reference reads and, for --backend cuda, device memory (both from
 * runtime/include/attnc_tools.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "commands.h"
#include "progress.h"
#include "run_params.h"
#include "reference/ref_check.h"
#include "runtime/include/attnc_tools.h"
#include "runtime/include/attnc.h"
#include "run_grad.h"

#define RUN_USAGE                                                                                      \
    "usage: attnc run FILE [--backend cpu|cuda] [--shape K=V,...] [--check] [--grad [--no-grad P,...]]\n" \
    "                      [--seed N]\n"                                                              \
    "                      [--schedule SPEC] [--layout bhsd|bshd] [--dump PREFIX]\n"                   \
    "                      [--param NAME=VALUE|NAME=@FILE]... [--seqlens L,...] [--kv-seqlens L,...]\n\n" \
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
    "  --dump PREFIX        on a mismatch write PREFIX.o.txt / PREFIX.lse.txt\n"                       \
    "  --param NAME=VALUE   set every element of param NAME to VALUE (an integer for\n"                 \
    "                       i32/i64/u8 params, a number for f32/f16/bf16 ones); repeatable\n"           \
    "  --param NAME=@FILE   the whole param from FILE: a NumPy .npy of exactly its shape\n"             \
    "                       (np.save; ints for int params, numbers for float ones, converted)\n"        \
    "                       or raw little-endian elements of its dtype (shape product of them)\n"       \
    "                       Params not given are random (floats in [-1, 1), ints 0..2, u8 0/1).\n"    \
    "  --grad               run the backward too (random dO); with --check compare dq, dk, dv\n"     \
    "                       and every param gradient with the fp64 reference\n"        \
    "  --no-grad P,...      with --grad: hold these params constant (no gradient, not checked;\n" \
    "                       attnc_build_options.no_grad), e.g. --no-grad decay\n"          \
    "  --seqlens L,...      a varlen launch (attnc.h, cu_seqlens): sequences of these lengths\n"  \
    "                       (0 allowed) packed along the tokens, batch 1; the reference runs\n"   \
    "                       each sequence on its own (overrides batch and tokens of --shape)\n"   \
    "  --kv-seqlens L,...   cross-attention recipes: the key lengths (default: --seqlens)\n\n" \
    "Default shape (no --shape): batch=1, heads=2 (kv_heads=1 with GQA), tokens=200; grid\n"          \
    "dims 13 each for 2-D grids and 7 for 3-D (raised to window*dilation+5 when the mask\n"           \
    "needs more; fixed dims as written). These do not divide the tiles, so partial tiles\n"           \
    "are exercised.\n\n"                                                                               \
    "exit status: 0 ok, 1 mismatch or user error, 2 internal or environment error\n"

typedef struct run_opts {
    const char *file, *shape, *schedule, *dump, *seqlens, *kv_seqlens;
    const char *no_grad; /* --no-grad (with --grad) */
    int backend; /* attnc_backend: "cpu|cuda" is in its order */
    int layout;  /* 0 bhsd, 1 bshd */
    bool check, grad;
    uint64_t seed;
    run_params params; /* --param NAME=VALUE|@FILE, repeated */
} run_opts;

static bool add_param(void *o, const char *arg, strbuf *err)
{
    return run_params_add(&((run_opts *)o)->params, arg, err);
}

static const cli_opt run_table[] = {
    CLI_CHOICE("--backend", run_opts, backend, "cpu|cuda"),
    CLI_STR("--shape", run_opts, shape),
    CLI_FLAG("--check", run_opts, check),
    CLI_FLAG("--grad", run_opts, grad),
    CLI_STR("--no-grad", run_opts, no_grad),
    CLI_U64("--seed", run_opts, seed),
    CLI_STR("--schedule", run_opts, schedule),
    CLI_CHOICE("--layout", run_opts, layout, "bhsd|bshd"),
    CLI_STR("--dump", run_opts, dump),
    CLI_FUNC("--param", add_param),
    CLI_STR("--seqlens", run_opts, seqlens),
    CLI_STR("--kv-seqlens", run_opts, kv_seqlens),
};

static int parse_args(int argc, char **argv, run_opts *o)
{
    *o = (run_opts){.seed = 1};
    const char *files[argc > 0 ? argc : 1];
    cli_operands ops = {files, 0};
    cli_spec spec = {"run", run_table, (int)(sizeof run_table / sizeof run_table[0]), "recipe file", 1, 1};
    int rc = cli_parse(&spec, argc, argv, o, &ops);
    o->file = rc ? NULL : files[0];
    if (!rc && o->no_grad && !o->grad)
        return cli_usage_error("run", "--no-grad goes with --grad (it names params the backward holds constant)");
    return rc;
}

static int usage_error(const char *msg, const char *arg)
{
    return cli_usage_error("run", "%s%s%s", msg, arg ? " " : "", arg ? arg : "");
}

/* One "key=value" of --shape into the shape (a 0 recorded in sh->zero). */
static bool set_shape_key(const recipe *r, ref_shape *sh, const char *key, int64_t v)
{
    int64_t *std[] = {&sh->batch, &sh->heads, &sh->kv_heads, &sh->tokens, &sh->kv_tokens};
    static const char *names[] = {"batch", "heads", "kv_heads", "tokens", "kv_tokens"};
    int64_t *slot = NULL;
    int id = -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(key, names[i]))
            slot = std[i], id = i;
    for (int d = 0; d < r->grid_ndim; d++) /* dims the recipe fixes are not sizes */
        if (r->sizes[SZ_GRID0 + d].fixed <= 0 && r->sizes[SZ_GRID0 + d].name &&
            !strcmp(key, r->sizes[SZ_GRID0 + d].name))
            slot = &sh->grid[d], id = SZ_GRID0 + d;
    for (int s = SZ_EXTRA0; s < r->nsizes && s < SZ_MAX; s++)
        if (r->sizes[s].name && !strcmp(key, r->sizes[s].name))
            slot = &sh->extra[s - SZ_EXTRA0], id = s;
    if (!slot)
        return false;
    *slot = v;
    sh->zero = v ? sh->zero & ~(1u << id) : sh->zero | 1u << id;
    return true;
}

/* "unknown size 'heds'; did you mean 'heads'?" with the recipe's names. */
static int unknown_size(const recipe *r, const char *key)
{
    const char *names[5 + SZ_MAX] = {"batch", "heads", "kv_heads", "tokens", "kv_tokens"};
    int n = 5;
    for (int s = SZ_GRID0; s < r->nsizes && s < SZ_MAX; s++)
        if (r->sizes[s].name && r->sizes[s].fixed <= 0 && (s >= SZ_EXTRA0 || s - SZ_GRID0 < r->grid_ndim))
            names[n++] = r->sizes[s].name;
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "--shape: unknown size '%s' (", key);
    for (int i = 0; i < n; i++)
        sb_printf(&sb, "%s%s", i ? ", " : "", names[i]);
    sb_putc(&sb, ')');
    cli_did_you_mean(&sb, key, names, n);
    int rc = cli_usage_error("run", "%s", sb.failed ? "--shape: unknown size" : sb_cstr(&sb));
    sb_free(&sb);
    return rc;
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
        if (!eq || !end || *end || eq[1] == 0 || v < 0 || v > (1LL << 31) - 1)
            return usage_error("--shape wants key=integer from 0 to 2^31-1, not", kv);
        *eq = 0;
        if (!set_shape_key(r, sh, kv, v))
            return unknown_size(r, kv);
    }
    if (r->grid_ndim > 0 && sh->tokens && sh->grid[0]) {
        int64_t sz[SZ_MAX];
        ref_shape_sizes(r, sh, sz); /* the grid's product, -1 when it overflows */
        if (sz[SZ_TOKENS] != sh->tokens)
            return usage_error("--shape: tokens must equal the product of the grid dims", NULL);
    }
    return EXIT_OK;
}

/* ---- device memory for --backend cuda ---- */

static void *dev_alloc(void *user, size_t n)
{
    uint64_t p = 0;
    return attnc_tools_dev_alloc(&p, n, user) ? NULL : (void *)(uintptr_t)p;
}

static void dev_free(void *user, void *p)
{
    (void)user;
    attnc_tools_dev_free((uint64_t)(uintptr_t)p);
}

static bool dev_upload(void *user, void *dst, const void *src, size_t n)
{
    return attnc_tools_dev_upload((uint64_t)(uintptr_t)dst, src, n, user) == ATTNC_OK;
}

static bool dev_download(void *user, void *dst, const void *src, size_t n)
{
    return attnc_tools_dev_download(dst, (uint64_t)(uintptr_t)src, n, user) == ATTNC_OK;
}

static bool dev_sync(void *user)
{
    return attnc_tools_dev_sync(user) == ATTNC_OK;
}

/* A grid dim's name in shapes: its extent's size name ("H" in grid(y: H)),
 * or for a dim the recipe fixes its label. */
static const char *grid_dim_name(const recipe *r, int d)
{
    const recipe_size *sz = &r->sizes[SZ_GRID0 + d];
    return sz->fixed > 0 || !sz->name ? r->grid_names[d] : sz->name;
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
        printf(" %s=%lld", grid_dim_name(r, d), (long long)sz[SZ_GRID0 + d]);
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
    bo.backend = (attnc_backend)o->backend;
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

enum { MAX_SEQS = 4096 };

/* "5,300,1,77" into offsets cu[0..n] (cu[0] = 0); the count in *n. */
static int parse_seqlens(const char *opt, const char *text, int32_t *cu, int64_t *n)
{
    *n = 0;
    cu[0] = 0;
    for (const char *p = text; *p;) {
        char *end = NULL;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || v > (1LL << 30) || (*end && *end != ',') || *n >= MAX_SEQS ||
            cu[*n] + v > (1LL << 30))
            return cli_usage_error("run", "%s wants lengths from 0 to 2^30 separated by commas (at most %d, "
                                          "total at most 2^30), not %s",
                                   opt, MAX_SEQS, text);
        cu[*n + 1] = (int32_t)(cu[*n] + v);
        ++*n;
        p = *end ? end + 1 : end;
    }
    return *n ? EXIT_OK : cli_usage_error("run", "%s is empty", opt);
}

/* --seqlens / --kv-seqlens: the packed shape and the check's offsets. */
static int set_varlen(const recipe *r, const run_opts *o, ref_shape *sh, ref_check_opts *co, int32_t *cq, int32_t *ck)
{
    if (!o->seqlens)
        return o->kv_seqlens ? usage_error("--kv-seqlens needs --seqlens", NULL) : EXIT_OK;
    int64_t n, nk = 0;
    int rc = parse_seqlens("--seqlens", o->seqlens, cq, &n);
    if (!rc && o->kv_seqlens)
        rc = parse_seqlens("--kv-seqlens", o->kv_seqlens, ck, &nk);
    if (rc)
        return rc;
    if (o->kv_seqlens && nk != n)
        return usage_error("--kv-seqlens must give as many lengths as --seqlens", NULL);
    if (o->kv_seqlens && !r->cross)
        return usage_error("--kv-seqlens is for cross-attention recipes (k and v declared with kv_tokens)", NULL);
    sh->batch = 1;
    sh->tokens = cq[n];
    sh->kv_tokens = o->kv_seqlens ? ck[n] : cq[n];
    sh->zero = (sh->zero & ~(1u << SZ_TOKENS | 1u << SZ_KV_TOKENS)) | (sh->tokens ? 0 : 1u << SZ_TOKENS) |
               (sh->kv_tokens ? 0 : 1u << SZ_KV_TOKENS);
    co->nseq = n;
    co->cu_q = cq;
    co->cu_k = o->kv_seqlens ? ck : NULL;
    printf("varlen: %lld sequences\n", (long long)n);
    return EXIT_OK;
}

static int run_loaded(attnc_context *ctx, attnc_recipe *rc, run_opts *o)
{
    recipe r = *attnc_tools_recipe_typed(rc);
    ref_shape sh;
    ref_default_shape(&r, &sh);
    sh.bshd = o->layout == 1;
    if (o->shape) {
        int rcode = parse_shape(&r, o->shape, &sh);
        if (rcode)
            return rcode;
    }
    static int32_t cq[MAX_SEQS + 1], ck[MAX_SEQS + 1];
    ref_check_opts vl = {0};
    int vrc = set_varlen(&r, o, &sh, &vl, cq, ck);
    if (vrc)
        return vrc;
    if (vl.nseq && o->grad)
        return usage_error("--seqlens with --grad: attnc run checks varlen backward launches only in the tests so far",
                           NULL);
    int64_t sizes[SZ_MAX];
    ref_shape_sizes(&r, &sh, sizes);
    if (vl.nseq)
        sizes[SZ_BATCH] = vl.nseq; /* params with a batch dim have one row per sequence */
    int prc = run_params_load(&o->params, &r, sizes);
    if (prc)
        return prc;
    if (o->grad) { /* cli/run_grad.c */
        strbuf gerr;
        sb_init(&gerr);
        ref_mem_ops gdev = {dev_alloc, dev_free, dev_upload, dev_download, dev_sync, &gerr};
        int code = run_grad(ctx, rc, &r, &sh,
                            &(run_grad_opts){(attnc_backend)o->backend, o->schedule, o->seed, o->check, run_params_fill,
                                             &o->params, o->backend == ATTNC_BACKEND_CUDA ? &gdev : NULL,
                                             o->no_grad});
        if (gerr.len)
            fprintf(stderr, "attnc run: %s\n", sb_cstr(&gerr));
        sb_free(&gerr);
        return code;
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
    ref_check_opts co = {o->seed, o->dump, o->check, o->backend == ATTNC_BACKEND_CUDA ? &dev : NULL,
                         run_params_fill, &o->params, NULL, NULL, vl.nseq, vl.cu_q, vl.cu_k};
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
        run_params_free(&o.params);
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
