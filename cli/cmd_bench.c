/* cmd_bench.c — `attnc bench FILE --shape ...`: compile cold (recipe text to
 * loaded module, timed: attnc_tools_cold_compile), run on random inputs,
 * time with CUDA events (warm-up, then the median of --iters attnc_launch
 * calls of the kernel attnc_kernel_build makes with the same schedule:
 * bench_grad.c), and report TFLOP/s counted on the pairs the mask keeps:
 * 2*(head_dim + head_dim_v) flops per kept pair (4*head_dim when they are
 * equal), exactly counted on the host (attnc_tools_count_pairs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_compile.h"
#include "bench_grad.h"
#include "cli_arch.h"
#include "cli_opts.h"
#include "commands.h"
#include "json_out.h"
#include "runtime/include/attnc_tools.h"
#include "support/checked.h"

/* The size slots and the most params a kernel takes, as attnc_tools.h
 * numbers them. */
enum {
    SZ_BATCH = ATTNC_TOOLS_SZ_BATCH,
    SZ_HEADS = ATTNC_TOOLS_SZ_HEADS,
    SZ_KV_HEADS = ATTNC_TOOLS_SZ_KV_HEADS,
    SZ_TOKENS = ATTNC_TOOLS_SZ_TOKENS,
    SZ_KV_TOKENS = ATTNC_TOOLS_SZ_KV_TOKENS,
    SZ_GRID0 = ATTNC_TOOLS_SZ_GRID0,
    SZ_EXTRA0 = ATTNC_TOOLS_SZ_EXTRA0,
    SZ_MAX = ATTNC_TOOLS_SZ_MAX,
    MAX_PARAMS = ATTNC_TOOLS_MAX_PARAMS
};

typedef struct bench_opts {
    const char *file, *shape, *schedule, *arch, *seqlens;
    const char *bwd_schedule; /* --pairs-only: the backward's schedule text to count */
    const char *no_grad;      /* --grad: params held constant (attnc_build_options.no_grad) */
    bool json, compile_timings, grad, deterministic, pairs_only;
    int backend; /* attnc_backend: "cpu|cuda" is in its order */
    int warmup, warmup_ms, iters, repeats;
    int docs; /* i32 params: this many equal documents */
} bench_opts;

typedef struct bench_run {
    attnc_tools_recipe *rec;
    attnc_tools_recipe_info r;
    attnc_tools_compiled *c; /* the cold compile: its kernel's schedule */
    attnc_tools_cold cold;
    int64_t sizes[SZ_MAX];
    uint64_t dev[5], dparam[MAX_PARAMS];
    void *hparam[MAX_PARAMS];
    attnc_tools_param_host params[MAX_PARAMS];
    double median_ms, min_ms;
    attnc_tools_pairs pairs;
    int64_t kept;
    const char *source; /* of the schedule: "explicit", "recipe", "tuned", "default" */
    bench_grad_out bwd; /* --grad */
    attnc_tools_bwd_tiles bwd_tiles; /* --grad: the dK/dV kernel's loop */
    int64_t nseq;       /* --seqlens: a varlen launch of nseq sequences, offsets cu */
    int32_t *cu;
    int docs;
} bench_run;

static const cli_opt bench_table[] = {
    CLI_STR("--shape", bench_opts, shape),
    CLI_STR("--schedule", bench_opts, schedule),
    CLI_STR("--arch", bench_opts, arch),
    CLI_CHOICE("--backend", bench_opts, backend, "cpu|cuda"),
    CLI_FLAG("--json", bench_opts, json),
    CLI_FLAG("--compile-timings", bench_opts, compile_timings),
    CLI_FLAG("--grad", bench_opts, grad),
    CLI_FLAG("--deterministic", bench_opts, deterministic),
    CLI_STR("--no-grad", bench_opts, no_grad),
    CLI_FLAG("--pairs-only", bench_opts, pairs_only),
    CLI_STR("--bwd-schedule", bench_opts, bwd_schedule),
    CLI_INT("--warmup", bench_opts, warmup, 0, 1000000),
    CLI_INT("--warmup-ms", bench_opts, warmup_ms, 0, 600000),
    CLI_INT("--iters", bench_opts, iters, 1, 1000000),
    CLI_INT("--repeats", bench_opts, repeats, 1, 1000000),
    CLI_STR("--seqlens", bench_opts, seqlens),
    CLI_INT("--docs", bench_opts, docs, 1, 1 << 20),
};

static int parse_args(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){.warmup = 10, .iters = 50, .repeats = 5, .backend = ATTNC_BACKEND_CUDA, .docs = 8};
    const char *files[argc > 0 ? argc : 1];
    cli_operands ops = {files, 0};
    cli_spec spec = {"bench", bench_table, (int)(sizeof bench_table / sizeof bench_table[0]), "recipe file", 1, 1};
    int rc = cli_parse(&spec, argc, argv, o, &ops);
    if (rc)
        return rc;
    o->file = files[0];
    if (!o->shape && !o->compile_timings)
        return cli_usage_error("bench", "--shape is needed (e.g. --shape batch=2,heads=16,tokens=4096)");
    if (o->no_grad && !o->grad)
        return cli_usage_error("bench", "--no-grad goes with --grad (it names params the backward holds constant)");
    if (o->bwd_schedule && !o->pairs_only)
        return cli_usage_error("bench", "--bwd-schedule goes with --pairs-only (--grad counts the backward it times)");
    return EXIT_OK;
}

/* "batch=2,heads=16,tokens=8192" and grid/extra names ("H=128,W=128"). */
static int size_slot(const attnc_tools_recipe_info *r, const char *name)
{
    static const char *std[] = {"batch", "heads", "kv_heads", "tokens", "kv_tokens"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(name, std[i]))
            return i;
    for (int d = 0; d < r->grid_ndim; d++) {
        const char *extent = r->sizes[SZ_GRID0 + d].fixed > 0 ? NULL : r->sizes[SZ_GRID0 + d].name; /* y: H -> H */
        if ((r->grid_names[d] && !strcmp(name, r->grid_names[d])) || (extent && !strcmp(name, extent)))
            return SZ_GRID0 + d;
    }
    for (int s = SZ_EXTRA0; s < r->nsizes; s++)
        if (r->sizes[s].name && !strcmp(name, r->sizes[s].name))
            return s;
    return -1;
}

static int bind_sizes(bench_run *b, const char *spec)
{
    const attnc_tools_recipe_info *r = &b->r;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    for (int i = 0; i < SZ_MAX; i++)
        b->sizes[i] = i < r->nsizes && r->sizes[i].fixed > 0 ? r->sizes[i].fixed : -1;
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        char *eq = strchr(t, '=');
        int slot = eq ? (*eq = 0, size_slot(r, t)) : -1;
        long long v = eq ? strtoll(eq + 1, NULL, 10) : 0;
        if (slot < 0 || v < 1 || v > ((1LL << 31) - 1))
            return cli_usage_error("bench", "--shape: '%s' is not name=positive-number for a size of recipe %s", t,
                                   r->name);
        if (r->sizes[slot].fixed > 0 && v != r->sizes[slot].fixed)
            return cli_usage_error("bench", "--shape: %s is fixed to %lld by recipe %s", t,
                                   (long long)r->sizes[slot].fixed, r->name);
        b->sizes[slot] = v;
    }
    int64_t *s = b->sizes;
    if (s[SZ_BATCH] < 0)
        s[SZ_BATCH] = 1;
    if (s[SZ_HEADS] < 0)
        s[SZ_HEADS] = 16;
    if (s[SZ_KV_HEADS] < 0)
        s[SZ_KV_HEADS] = s[SZ_HEADS];
    if (r->grid_ndim) {
        s[SZ_TOKENS] = 1;
        for (int d = 0; d < r->grid_ndim; d++) {
            if (s[SZ_GRID0 + d] < 0)
                return cli_usage_error("bench", "--shape needs %s=N (a token grid dim)",
                                       attnc_tools_grid_dim_name(b->rec, d));
            if (!ck_mul(s[SZ_TOKENS], s[SZ_GRID0 + d], &s[SZ_TOKENS]) || s[SZ_TOKENS] > ATTNC_MAX_TOKENS)
                return cli_usage_error("bench", "--shape: the token grid holds more than %lld tokens (ATTNC_MAX_TOKENS)",
                                       (long long)ATTNC_MAX_TOKENS);
        }
    }
    if (s[SZ_TOKENS] < 0)
        return cli_usage_error("bench", "--shape needs tokens=N");
    if (s[SZ_KV_TOKENS] < 0)
        s[SZ_KV_TOKENS] = s[SZ_TOKENS];
    for (int i = SZ_EXTRA0; i < r->nsizes; i++)
        if (s[i] < 0)
            return cli_usage_error("bench", "--shape needs %s=N", r->sizes[i].name);
    for (int i = 0; i < SZ_MAX; i++)
        if (s[i] < 0)
            s[i] = 1;
    int64_t nq, nk;
    int dmax = r->head_dim > r->head_dim_v ? r->head_dim : r->head_dim_v;
    for (int i = 0; i <= SZ_KV_TOKENS; i++)
        if (s[i] > r->sizes[i].limit) {
            fprintf(stderr, "attnc bench: --shape: %s = %lld is over the limit %lld\n", r->sizes[i].slot,
                    (long long)s[i], (long long)r->sizes[i].limit);
            return EXIT_USER;
        }
    if (!ck_mul3(s[SZ_BATCH], s[SZ_HEADS], s[SZ_TOKENS], &nq) || !ck_mul3(nq, dmax, 8, &nq) ||
        !ck_mul3(s[SZ_BATCH], s[SZ_KV_HEADS], s[SZ_KV_TOKENS], &nk) || !ck_mul3(nk, dmax, 8, &nk)) {
        fprintf(stderr, "attnc bench: --shape: the tensors of this shape need more than 2^63 bytes\n");
        return EXIT_USER;
    }
    return EXIT_OK;
}

static uint64_t rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Random bf16/f16 in [-1, 1): a uniform mantissa with exponents 2^-1..2^-4. */
static void *random_halves(size_t n, attnc_dtype dt, uint64_t *seed)
{
    uint16_t *h = malloc(n * 2 + 2);
    for (size_t i = 0; h && i < n; i++) {
        uint64_t x = rng(seed);
        uint16_t sign = (uint16_t)((x & 1) << 15);
        if (dt == ATTNC_F16)
            h[i] = sign | (uint16_t)((11 + (x >> 1) % 4) << 10) | (uint16_t)((x >> 8) & 0x3ff);
        else
            h[i] = sign | (uint16_t)((123 + (x >> 1) % 4) << 7) | (uint16_t)((x >> 8) & 0x7f);
    }
    return h;
}

static int upload(bench_run *b, size_t bytes, int idx, const void *host, strbuf *err)
{
    if (attnc_tools_dev_alloc(&b->dev[idx], bytes, err) ||
        (host && attnc_tools_dev_upload(b->dev[idx], host, bytes, err)))
        return EXIT_INTERNAL;
    return EXIT_OK;
}

static int make_tensors(bench_run *b, strbuf *err)
{
    const attnc_tools_recipe_info *r = &b->r;
    int64_t *s = b->sizes;
    size_t nq = (size_t)(s[SZ_BATCH] * s[SZ_HEADS] * s[SZ_TOKENS]);
    size_t nk = (size_t)(s[SZ_BATCH] * s[SZ_KV_HEADS] * s[SZ_KV_TOKENS]);
    size_t rows[4] = {nq * r->head_dim, nk * r->head_dim, nk * r->head_dim_v, nq * r->head_dim_v};
    uint64_t seed = (uint64_t)time(NULL) | 1;
    for (int t = 0; t < 4; t++) {
        void *h = t < 3 ? random_halves(rows[t], r->dtype, &seed) : NULL;
        int rc = (t < 3 && !h) ? EXIT_INTERNAL : upload(b, rows[t] * 2, t, h, err);
        free(h);
        if (rc)
            return rc;
    }
    return upload(b, nq * 4, 4, NULL, err);
}

/* The params' host copies (ids: --docs equal documents; tables: 3 in 4
 * kept), uploaded too when device is set. */
static int make_params(bench_run *b, bool device, strbuf *err)
{
    const attnc_tools_recipe_info *r = &b->r;
    uint64_t seed = 12345;
    for (int i = 0; i < r->nparams; i++) {
        const attnc_tools_param_info *rp = &r->params[i];
        attnc_tools_param_host *ph = &b->params[i];
        size_t n = 1, es = (size_t)attnc_tools_dtype_size(rp->dtype);
        ph->ndim = rp->ndim;
        for (int d = 0; d < rp->ndim; d++) {
            ph->shape[d] = rp->const_dims[d] > 0 ? rp->const_dims[d] : b->sizes[rp->dims[d]];
            n *= (size_t)ph->shape[d];
        }
        unsigned char *h = calloc(n ? n : 1, es);
        if (!h)
            return EXIT_INTERNAL;
        for (size_t j = 0; j < n; j++) {
            uint64_t x = rng(&seed);
            if (rp->dtype == ATTNC_U8)
                h[j] = (unsigned char)(x % 4 != 0);
            else if (rp->dtype == ATTNC_I32)
                ((int32_t *)h)[j] = (int32_t)(j * (size_t)b->docs / (n ? n : 1)); /* --docs equal documents */
            else if (rp->dtype == ATTNC_F32)
                ((float *)h)[j] = (float)((double)(x % 2000) / 1000.0 - 1.0);
        }
        b->hparam[i] = h;
        ph->data = h;
        if (device && rp->ndim > 0 &&
            (attnc_tools_dev_alloc(&b->dparam[i], n * es, err) || attnc_tools_dev_upload(b->dparam[i], h, n * es, err)))
            return EXIT_INTERNAL;
    }
    return EXIT_OK;
}

/* attnc_launch of the kernel attnc_kernel_build makes with the schedule
 * the cold compile used (bench_grad.c), on the same device tensors. */
static int time_kernel(bench_run *b, const bench_opts *o, const char *sched)
{
    bench_grad_in in = {o->file, o->arch, sched, false, &b->r, b->sizes, b->dev, b->dparam, b->params, o->warmup,
                        o->iters, b->nseq, b->cu, o->no_grad, o->warmup_ms};
    bench_grad_out out;
    int rc = bench_forward(&in, &out);
    b->median_ms = out.median_ms;
    b->min_ms = out.min_ms;
    return rc;
}

/* --seqlens "8192x8" or "5,300,1,77" (both forms may mix: "8192x4,100"):
 * batch 1, tokens = their sum, offsets in b->cu. */
static int bind_seqlens(bench_run *b, const char *spec)
{
    if (!spec)
        return EXIT_OK;
    const attnc_tools_recipe_info *r = &b->r;
    if (r->nparams > 0 || r->grid_ndim > 0)
        return cli_usage_error("bench", "--seqlens: recipe %s has params or a token grid; varlen benchmarks take "
                                        "self-attention token sequences without params",
                               r->name);
    int64_t n = 0, total = 0;
    b->cu = calloc(ATTNC_MAX_BATCH + 1, sizeof *b->cu);
    if (!b->cu)
        return EXIT_INTERNAL;
    for (const char *p = spec; *p;) {
        char *end = NULL;
        long long len = strtoll(p, &end, 10), rep = 1;
        if (end != p && *end == 'x')
            rep = strtoll(end + 1, &end, 10);
        if (end == p || len < 0 || rep < 1 || (*end && *end != ',') || n + rep > ATTNC_MAX_BATCH ||
            total + len * rep > ATTNC_MAX_TOKENS)
            return cli_usage_error("bench", "--seqlens wants lengths LEN or LENxCOUNT separated by commas (at most "
                                            "%lld sequences of %lld tokens in all), not %s",
                                   (long long)ATTNC_MAX_BATCH, (long long)ATTNC_MAX_TOKENS, spec);
        for (long long i = 0; i < rep; i++, n++) {
            total += len;
            b->cu[n + 1] = (int32_t)total;
        }
        p = *end ? end + 1 : end;
    }
    if (n == 0)
        return cli_usage_error("bench", "--seqlens is empty");
    if (b->sizes[SZ_BATCH] != 1 || b->sizes[SZ_TOKENS] != total)
        return cli_usage_error("bench", "--seqlens: --shape must say batch=1,tokens=%lld (the packed tokens)",
                               (long long)total);
    b->nseq = n;
    return EXIT_OK;
}

/* The pairs and tiles of the launch: for varlen, each sequence's at its own
 * length, summed. */
static bool count_pairs(bench_run *b, strbuf *err)
{
    if (!b->nseq)
        return attnc_tools_count_pairs(b->c, b->sizes, b->params, &b->pairs, err);
    memset(&b->pairs, 0, sizeof b->pairs);
    int64_t sz[SZ_MAX];
    attnc_tools_pairs one = {0};
    int64_t last = -1;
    for (int64_t i = 0; i < b->nseq; i++) {
        int64_t len = b->cu[i + 1] - b->cu[i];
        if (len == 0)
            continue; /* an empty sequence: no pair, no tile */
        memcpy(sz, b->sizes, sizeof sz);
        sz[SZ_TOKENS] = sz[SZ_KV_TOKENS] = len;
        if (len != last && !attnc_tools_count_pairs(b->c, sz, b->params, &one, err))
            return false; /* equal lengths count the same: reuse */
        last = len;
        b->pairs.kept += one.kept, b->pairs.dense += one.dense, b->pairs.visited_tiles += one.visited_tiles;
        b->pairs.computed_tiles += one.computed_tiles, b->pairs.kept_tiles += one.kept_tiles;
        b->pairs.computed_pairs += one.computed_pairs;
        b->pairs.closed_form = one.closed_form;
    }
    return true;
}

static double ratio(int64_t a, int64_t b)
{
    return b > 0 ? (double)a / (double)b : 0;
}

/* The tiling overhead: tile pairs the key loop visits against those holding
 * a kept pair, pairs inside computed (not proven empty) tiles against kept
 * pairs; 1.0 is no waste. */
static void json_tiles(json_obj *j, const attnc_tools_pairs *p)
{
    json_int(j, "visited_tiles", p->visited_tiles);
    json_int(j, "computed_tiles", p->computed_tiles);
    json_int(j, "kept_tiles", p->kept_tiles);
    json_num(j, "tile_ratio", ratio(p->visited_tiles, p->kept_tiles), 4);
    json_int(j, "computed_pairs", p->computed_pairs);
    json_num(j, "pair_ratio", ratio(p->computed_pairs, p->kept), 4);
    json_str(j, "pair_count", p->closed_form ? "closed form" : "pairwise");
}

static void print_tiles(const attnc_tools_pairs *p)
{
    printf("  tiles: %lld visited, %lld computed, %lld hold kept pairs: visited/kept %.3f; "
           "pairs in computed tiles/kept %.3f (counted %s)\n",
           (long long)p->visited_tiles, (long long)p->computed_tiles, (long long)p->kept_tiles,
           ratio(p->visited_tiles, p->kept_tiles), ratio(p->computed_pairs, p->kept),
           p->closed_form ? "closed form" : "pairwise");
}

/* The dK/dV kernel's (query tile, key tile) iterations: computed (not
 * skipped), full (no per-element mask), holding kept pairs; kept pairs
 * against the pairs of computed tiles. */
static void print_bwd_tiles(const attnc_tools_bwd_tiles *t, int64_t kept)
{
    printf("  backward tiles: %lld visited, %lld computed (%lld full), %lld hold kept pairs: visited/kept %.3f; "
           "pairs in computed tiles/kept %.3f\n",
           (long long)t->visited_tiles, (long long)t->computed_tiles, (long long)t->full_tiles,
           (long long)t->kept_tiles, ratio(t->visited_tiles, t->kept_tiles), ratio(t->computed_pairs, kept));
    if (t->dq_visited_tiles)
        printf("  backward dQ kernel tiles (deterministic builds): %lld visited, %lld computed\n",
               (long long)t->dq_visited_tiles, (long long)t->dq_computed_tiles);
}

/* Linear recipes: no FLOP count fits them (kept pairs count the quadratic
 * form they never compute); their rate is the tensor traffic at one pass:
 * q, k, v read and o written (forward), q, k, v, dO read and dq, dk, dv
 * written (backward), in GB/s. */
static void linear_rates(const bench_run *b, double *fwd, double *bwd)
{
    const attnc_tools_recipe_info *r = &b->r;
    const int64_t *s = b->sizes;
    double rows = (double)s[SZ_BATCH] * s[SZ_HEADS] * s[SZ_TOKENS], es = attnc_tools_dtype_size(r->dtype);
    double fb = rows * es * (2.0 * r->head_dim + 2.0 * r->head_dim_v);
    double bb = rows * es * (4.0 * r->head_dim + 3.0 * r->head_dim_v);
    *fwd = b->median_ms > 0 ? fb / (b->median_ms * 1e-3) / 1e9 : 0;
    *bwd = b->bwd.median_ms > 0 ? bb / (b->bwd.median_ms * 1e-3) / 1e9 : 0;
}

/* The fields every JSON line starts with: what ran, on what, at which sizes. */
static void json_shape_header(json_obj *j, const bench_run *b, const bench_opts *o)
{
    const int64_t *s = b->sizes;
    json_str(j, "recipe", b->r.name);
    json_str(j, "file", o->file);
    json_str(j, "arch", attnc_tools_arch_name(b->cold.arch));
    json_int(j, "batch", s[SZ_BATCH]);
    json_int(j, "heads", s[SZ_HEADS]);
    json_int(j, "kv_heads", s[SZ_KV_HEADS]);
    json_int(j, "tokens", s[SZ_TOKENS]);
    json_int(j, "kv_tokens", s[SZ_KV_TOKENS]);
    if (b->nseq)
        json_int(j, "varlen_sequences", b->nseq); /* --seqlens: tokens are the packed count */
}

static void report(const bench_run *b, const bench_opts *o)
{
    const attnc_tools_recipe_info *r = &b->r;
    const attnc_tools_cold *c = &b->cold;
    const int64_t *s = b->sizes;
    double flops = 2.0 * (r->head_dim + r->head_dim_v) * (double)b->kept;
    double tflops = b->median_ms > 0 ? flops / (b->median_ms * 1e-3) / 1e12 : 0;
    double dense = (double)s[SZ_BATCH] * s[SZ_HEADS] * s[SZ_TOKENS] * s[SZ_KV_TOKENS];
    /* the backward's five products count 2.5x the forward's two */
    double bwd_tflops = b->bwd.median_ms > 0 ? 2.5 * flops / (b->bwd.median_ms * 1e-3) / 1e12 : 0;
    double fb_ms = b->median_ms + b->bwd.median_ms;
    double fb_tflops = fb_ms > 0 ? 3.5 * flops / (fb_ms * 1e-3) / 1e12 : 0;
    double gbs = 0, bwd_gbs = 0;
    if (r->linear)
        linear_rates(b, &gbs, &bwd_gbs);
    if (o->json) {
        strbuf js;
        sb_init(&js);
        json_obj j;
        json_begin(&j, &js);
        json_shape_header(&j, b, o);
        json_int(&j, "head_dim", r->head_dim);
        json_str(&j, "schedule", c->schedule);
        json_num(&j, "time_ms", b->median_ms, 4);
        json_num(&j, "time_ms_min", b->min_ms, 4);
        if (r->linear)
            json_num(&j, "gb_per_s", gbs, 1);
        else
            json_num(&j, "tflops", tflops, 2);
        json_int(&j, "kept_pairs", b->kept);
        json_num(&j, "density", b->kept / dense, 5);
        json_num(&j, "compile_ms", c->total_ms, 1);
        json_num(&j, "jit_ms", c->jit_ms, 1);
        json_str(&j, "jit_by", c->jit_by);
        json_num(&j, "codegen_ms", c->codegen_ms, 1);
        json_num(&j, "lower_ms", c->lower_ms, 1);
        json_num(&j, "parse_ms", c->parse_ms, 1);
        json_str(&j, "schedule_source", b->source);
        json_tiles(&j, &b->pairs);
        if (o->grad) {
            json_str(&j, "bwd_schedule", b->bwd.schedule);
            if (o->no_grad) /* params held constant: no gradient timed for them */
                json_str(&j, "no_grad", o->no_grad);
            json_num(&j, "bwd_time_ms", b->bwd.median_ms, 4);
            if (r->linear)
                json_num(&j, "bwd_gb_per_s", bwd_gbs, 1);
            else
                json_num(&j, "bwd_tflops", bwd_tflops, 2);
            json_num(&j, "fwd_bwd_time_ms", b->median_ms + b->bwd.median_ms, 4);
            if (!r->linear)
                json_num(&j, "fwd_bwd_tflops", fb_tflops, 2);
            if (b->bwd_tiles.counted) {
                json_int(&j, "bwd_visited_tiles", b->bwd_tiles.visited_tiles);
                json_int(&j, "bwd_computed_tiles", b->bwd_tiles.computed_tiles);
                json_int(&j, "bwd_full_tiles", b->bwd_tiles.full_tiles);
                json_int(&j, "bwd_kept_tiles", b->bwd_tiles.kept_tiles);
                json_num(&j, "bwd_pair_ratio", ratio(b->bwd_tiles.computed_pairs, b->kept), 4);
                json_int(&j, "bwd_dq_visited_tiles", b->bwd_tiles.dq_visited_tiles);
                json_int(&j, "bwd_dq_computed_tiles", b->bwd_tiles.dq_computed_tiles);
            }
        }
        json_end(&j);
        printf("%s\n", sb_cstr(&js));
        sb_free(&js);
    } else {
        printf("%s (%s) batch %lld heads %lld tokens %lld head_dim %d [%s] (%s schedule)\n", r->name,
               attnc_tools_arch_name(c->arch), (long long)s[SZ_BATCH], (long long)s[SZ_HEADS],
               (long long)s[SZ_TOKENS], r->head_dim, c->schedule, b->source);
        if (r->linear)
            printf("  time %.3f ms (median of %d, min %.3f)  %.1f GB/s (q, k, v read and o written once)\n",
                   b->median_ms, o->iters, b->min_ms, gbs);
        else
            printf("  time %.3f ms (median of %d, min %.3f)  %.1f TFLOP/s on %lld kept pairs (density %.4f)\n",
                   b->median_ms, o->iters, b->min_ms, tflops, (long long)b->kept, b->kept / dense);
        printf("  cold compile %.1f ms (parse %.1f, lower %.1f, codegen %.1f, %s JIT + load %.1f)\n", c->total_ms,
               c->parse_ms, c->lower_ms, c->codegen_ms, c->jit_by[0] ? c->jit_by : "driver", c->jit_ms);
        print_tiles(&b->pairs);
        if (o->grad && r->linear)
            printf("  backward [%s]%s%s%s: time %.3f ms (median of %d, min %.3f)  %.1f GB/s (q, k, v, dO read and dq, "
                   "dk, dv written once); forward + backward %.3f ms\n",
                   b->bwd.schedule, o->deterministic ? " deterministic" : "", o->no_grad ? " constant " : "",
                   o->no_grad ? o->no_grad : "", b->bwd.median_ms, o->iters, b->bwd.min_ms, bwd_gbs, fb_ms);
        else if (o->grad)
            printf("  backward [%s]%s%s%s: time %.3f ms (median of %d, min %.3f)  %.1f TFLOP/s (2.5x the forward's "
                   "flops); forward + backward %.3f ms, %.1f TFLOP/s\n",
                   b->bwd.schedule, o->deterministic ? " deterministic" : "", o->no_grad ? " constant " : "",
                   o->no_grad ? o->no_grad : "", b->bwd.median_ms, o->iters, b->bwd.min_ms, bwd_tflops, fb_ms,
                   fb_tflops);
        if (o->grad && b->bwd_tiles.counted)
            print_bwd_tiles(&b->bwd_tiles, b->kept);
    }
}

static void release(bench_run *b)
{
    for (int i = 0; i < 5; i++)
        attnc_tools_dev_free(b->dev[i]);
    for (int i = 0; i < MAX_PARAMS; i++) {
        attnc_tools_dev_free(b->dparam[i]);
        free(b->hparam[i]);
    }
    attnc_tools_compiled_free(b->c);
    attnc_tools_recipe_free(b->rec);
    free(b->cu);
}

static int read_recipe(bench_run *b, const char *path)
{
    strbuf msg;
    sb_init(&msg);
    attnc_tools_result res = attnc_tools_recipe_read(path, &b->rec, &msg);
    if (res == ATTNC_TOOLS_UNREADABLE)
        fprintf(stderr, "attnc bench: cannot read '%s': %s\n", path, sb_cstr(&msg));
    else if (res == ATTNC_TOOLS_USER)
        fputs(sb_cstr(&msg), stderr);
    sb_free(&msg);
    if (res)
        return res == ATTNC_TOOLS_INTERNAL ? EXIT_INTERNAL : EXIT_USER;
    attnc_tools_recipe_describe(b->rec, &b->r);
    return EXIT_OK;
}

/* As a launch of a `tile auto` kernel does (api_tuned.c): the tuning
 * database's best for this recipe, arch and shape bucket, if one is stored
 * and ATTNC_NO_TUNED is unset; out stays "" otherwise. */
static void tuned_schedule(const bench_opts *o, bench_run *b, char *out, size_t cap)
{
    const char *off = getenv("ATTNC_NO_TUNED");
    b->source = o->schedule ? "explicit" : !b->r.tile_auto ? "recipe" : "default";
    if (o->schedule || !b->r.tile_auto || (off && off[0] && strcmp(off, "0")))
        return;
    strbuf msg;
    sb_init(&msg);
    attnc_tools_arch arch = ATTNC_TOOLS_SM80;
    if (o->arch ? attnc_tools_arch_parse(o->arch, &arch) : attnc_tools_device_arch(&arch, &msg) == ATTNC_OK) {
        if (attnc_tools_tuned_pick(b->rec, arch, b->sizes, out, cap, &msg))
            b->source = "tuned";
        if (msg.len)
            fprintf(stderr, "attnc bench: tuning database: %s (using the default)\n", sb_cstr(&msg));
    }
    sb_free(&msg);
}

static int cold_compile(bench_run *b, const bench_opts *o, const char *sched)
{
    attnc_tools_arch arch;
    int rc = o->arch ? cli_arch("bench", o->arch, false, &arch) : EXIT_OK;
    if (rc)
        return rc;
    strbuf err;
    sb_init(&err);
    attnc_tools_result res = attnc_tools_cold_compile(o->file, o->arch, sched, &b->c, &b->cold, &err);
    if (res && err.len && sb_cstr(&err)[err.len - 1] == '\n')
        fputs(sb_cstr(&err), stderr); /* rendered diagnostics */
    else if (res)
        fprintf(stderr, "attnc bench: %s\n", sb_cstr(&err));
    sb_free(&err);
    return !res ? EXIT_OK : res == ATTNC_TOOLS_INTERNAL ? EXIT_INTERNAL : EXIT_USER;
}

static int bench(bench_run *b, const bench_opts *o, strbuf *err)
{
    char tuned[256] = "";
    int rc = read_recipe(b, o->file);
    if (rc || (rc = bind_sizes(b, o->shape)) || (rc = bind_seqlens(b, o->seqlens)))
        return rc;
    b->docs = o->docs;
    tuned_schedule(o, b, tuned, sizeof tuned);
    const char *sched = tuned[0] ? tuned : o->schedule;
    /* The CUDA context (about 100 ms on the H200) is a once-per-process cost
     * a host program has paid already: made before the clock starts. */
    if (attnc_tools_dev_sync(err))
        return EXIT_INTERNAL;
    if ((rc = cold_compile(b, o, sched)) || (rc = make_tensors(b, err)) || (rc = make_params(b, true, err)) ||
        (rc = time_kernel(b, o, sched)))
        return rc;
    if (o->grad) {
        bench_grad_in gi = {o->file, o->arch, o->schedule, o->deterministic, &b->r, b->sizes, b->dev, b->dparam,
                            b->params, o->warmup, o->iters, b->nseq, b->cu, o->no_grad, o->warmup_ms};
        if ((rc = bench_grad(&gi, &b->bwd)))
            return rc;
    }
    if (!count_pairs(b, err))
        return EXIT_INTERNAL;
    strbuf why; /* the backward's tiles are a note: not counted is no failure */
    sb_init(&why);
    /* linear attention's backward is scans over blocks, not a tile walk: nothing to count */
    if (o->grad && !b->nseq && !b->r.linear &&
        !attnc_tools_count_bwd_tiles(b->c, b->bwd.schedule, b->sizes, b->params, &b->bwd_tiles, &why))
        fprintf(stderr, "attnc bench: backward tiles not counted: %s\n", sb_cstr(&why));
    sb_free(&why);
    b->kept = b->pairs.kept;
    report(b, o);
    return EXIT_OK;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void report_pairs_only(const bench_run *b, const bench_opts *o, double count_ms, double bwd_ms)
{
    const attnc_tools_recipe_info *r = &b->r;
    const int64_t *s = b->sizes;
    double dense = (double)s[SZ_BATCH] * s[SZ_HEADS] * s[SZ_TOKENS] * s[SZ_KV_TOKENS];
    if (o->json) {
        strbuf js;
        sb_init(&js);
        json_obj j;
        json_begin(&j, &js);
        json_shape_header(&j, b, o);
        json_str(&j, "schedule", b->cold.schedule);
        json_str(&j, "schedule_source", b->source);
        json_int(&j, "kept_pairs", b->pairs.kept);
        json_num(&j, "density", b->pairs.kept / dense, 5);
        json_num(&j, "count_ms", count_ms, 1);
        json_tiles(&j, &b->pairs);
        if (b->bwd_tiles.counted) {
            json_str(&j, "bwd_schedule", o->bwd_schedule);
            json_num(&j, "bwd_count_ms", bwd_ms, 1);
            json_int(&j, "bwd_visited_tiles", b->bwd_tiles.visited_tiles);
            json_int(&j, "bwd_computed_tiles", b->bwd_tiles.computed_tiles);
            json_int(&j, "bwd_full_tiles", b->bwd_tiles.full_tiles);
            json_int(&j, "bwd_kept_tiles", b->bwd_tiles.kept_tiles);
            json_num(&j, "bwd_pair_ratio", ratio(b->bwd_tiles.computed_pairs, b->pairs.kept), 4);
            json_int(&j, "bwd_dq_visited_tiles", b->bwd_tiles.dq_visited_tiles);
            json_int(&j, "bwd_dq_computed_tiles", b->bwd_tiles.dq_computed_tiles);
        }
        json_end(&j);
        printf("%s\n", sb_cstr(&js));
        sb_free(&js);
        return;
    }
    printf("%s (%s) batch %lld heads %lld tokens %lld [%s] (%s schedule)\n", r->name,
           attnc_tools_arch_name(b->cold.arch), (long long)s[SZ_BATCH], (long long)s[SZ_HEADS],
           (long long)s[SZ_TOKENS], b->cold.schedule, b->source);
    printf("  %lld kept pairs (density %.4f), counted in %.1f ms\n", (long long)b->pairs.kept, b->pairs.kept / dense,
           count_ms);
    print_tiles(&b->pairs);
    if (b->bwd_tiles.counted) {
        print_bwd_tiles(&b->bwd_tiles, b->pairs.kept);
        printf("  backward tiles [%s] counted in %.1f ms\n", o->bwd_schedule, bwd_ms);
    }
}

/* --pairs-only: the kernel's schedule as the timed run would take it
 * (tuned pick, recipe or default; lowered to the tile IR, no PTX) and the
 * host's exact pair count, timed. No driver needed: the arch is --arch,
 * else the GPU's, else sm_90a. */
static int pairs_only(bench_run *b, const bench_opts *o, strbuf *err)
{
    char tuned[256] = "";
    int rc = read_recipe(b, o->file);
    if (rc || (rc = bind_sizes(b, o->shape)) || (rc = bind_seqlens(b, o->seqlens)))
        return rc;
    b->docs = o->docs;
    bench_opts ao = *o;
    attnc_tools_arch arch;
    strbuf msg;
    sb_init(&msg);
    if (!ao.arch)
        ao.arch = attnc_tools_arch_name(attnc_tools_device_arch(&arch, &msg) == ATTNC_OK ? arch : ATTNC_TOOLS_SM90A);
    sb_free(&msg);
    if ((rc = cli_arch("bench", ao.arch, false, &arch)))
        return rc;
    tuned_schedule(&ao, b, tuned, sizeof tuned);
    const char *sched = tuned[0] ? tuned : o->schedule;
    attnc_tools_result res = attnc_tools_plan(o->file, ao.arch, sched, &b->c, &b->cold, err);
    if (res)
        return res == ATTNC_TOOLS_INTERNAL ? EXIT_INTERNAL : EXIT_USER;
    if ((rc = make_params(b, false, err)))
        return rc;
    double t0 = now_ms();
    if (!count_pairs(b, err))
        return EXIT_INTERNAL;
    double t1 = now_ms();
    if (o->bwd_schedule && !b->nseq &&
        !attnc_tools_count_bwd_tiles(b->c, o->bwd_schedule, b->sizes, b->params, &b->bwd_tiles, err))
        return EXIT_USER;
    report_pairs_only(b, o, t1 - t0, now_ms() - t1);
    return EXIT_OK;
}

static int run_bench(int argc, char **argv)
{
    bench_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    /* Cold means cold: without this the driver's own JIT cache
     * (~/.nv/ComputeCache) answers a PTX it has seen before in ~2 ms. Read
     * when the driver initialises, so set before the first CUDA call; a
     * value the user set wins. */
    setenv("CUDA_CACHE_DISABLE", "1", 0);
    if (o.compile_timings) { /* no launch: works on the CPU backend too */
        bench_compile_opts co = {o.file, o.schedule, o.arch, (attnc_backend)o.backend, o.repeats, o.json};
        return bench_compile_timings(&co);
    }
    strbuf err;
    sb_init(&err);
    if (o.pairs_only) {
        bench_run *b = calloc(1, sizeof *b);
        rc = b ? pairs_only(b, &o, &err) : EXIT_INTERNAL;
        if (rc && err.len && sb_cstr(&err)[err.len - 1] == '\n')
            fputs(sb_cstr(&err), stderr); /* rendered diagnostics */
        else if (rc && err.len)
            fprintf(stderr, "attnc bench: %s\n", sb_cstr(&err));
        if (b)
            release(b);
        free(b);
        sb_free(&err);
        return rc;
    }
    attnc_tools_arch arch;
    if (attnc_tools_device_arch(&arch, &err) == ATTNC_ERR_NO_DRIVER) {
        fprintf(stderr, "skipped: no CUDA driver\n");
        sb_free(&err);
        return EXIT_INTERNAL;
    }
    sb_clear(&err);
    bench_run *b = calloc(1, sizeof *b);
    rc = b ? bench(b, &o, &err) : EXIT_INTERNAL;
    if (rc && err.len)
        fprintf(stderr, "attnc bench: %s\n", sb_cstr(&err));
    if (b)
        release(b);
    free(b);
    sb_free(&err);
    return rc;
}

const cli_command cmd_bench = {
    "bench",
    "time a recipe on the GPU",
    "usage: attnc bench FILE --shape batch=B,heads=H,tokens=N[,kv_heads=..][,GRIDDIM=..]\n"
    "                   [--schedule SPEC] [--arch sm_80|sm_90a] [--json] [--warmup N] [--iters N]\n"
    "                   [--warmup-ms MS] [--grad [--deterministic] [--no-grad P,...]]\n"
    "                   [--seqlens LEN[xCOUNT],...] [--docs N]\n\n"
    "Compiles FILE cold (recipe text to a loaded module: timed, the process's CUDA\n"
    "context made before the clock starts), runs it on random\n"
    "bf16/f16 inputs ([batch, heads, tokens, dim] layout) and prints the median time\n"
    "of --iters attnc_launch calls of the kernel attnc_kernel_build makes with the\n"
    "same schedule (CUDA events; default 10 warm-up, 50 timed; --warmup-ms MS keeps\n"
    "warming up until MS ms passed: an idle GPU's clocks dip for a few hundred ms\n"
    "once work arrives, which a short kernel's timed loop would sit in), TFLOP/s counted\n"
    "on the pairs the mask keeps (4*head_dim flops per kept pair, counted exactly on\n"
    "the host: in closed form per query row where the mask allows, else pair by pair),\n"
    "the tiling overhead (tile pairs the key loop visits / tile pairs holding a kept\n"
    "pair; pairs in computed tiles / kept pairs) and the cold compile time (the\n"
    "driver's JIT cache is off for the process: CUDA_CACHE_DISABLE=1 unless set).\n"
    "A `tile auto` recipe without --schedule runs the tuning database's best for\n"
    "its shape bucket, as attnc_launch does (ATTNC_NO_TUNED=1: the default); the\n"
    "schedule line says which (explicit, recipe, tuned or default). Grid recipes take their dims by name\n"
    "(H=128,W=128); batch defaults to 1, heads to 16. --json prints one JSON object\n"
    "(strings escaped, valid UTF-8). --arch (default: the GPU's) takes the names attnc\n"
    "ptx --help lists. --grad also times the backward program (attnc_kernel_build_backward on\n"
    "the forward's inputs and outputs, dO = O; --deterministic: the deterministic build) and\n"
    "prints its TFLOP/s counting 2.5x the forward's flops, and forward + backward together;\n"
    "--no-grad P,... holds those params constant (no gradient: attnc_build_options.no_grad).\n"
    "Linear recipes print GB/s instead (q, k, v read and o written once; backward: q, k, v,\n"
    "dO read and dq, dk, dv written once): no flop count fits their chunked form.\n"
    "--seqlens (e.g. 8192x8 or 5,300,1,77): a varlen launch (attnc.h, cu_seqlens) of\n"
    "sequences of these lengths packed along the tokens (--shape batch=1,tokens=SUM;\n"
    "self-attention recipes without params), timed through attnc_launch, pairs counted\n"
    "per sequence. --docs N: int32 params (document ids) hold N equal documents (default 8).\n\n"
    "Without a CUDA driver: \"skipped: no CUDA driver\" and exit status 2.\n\n"
    "attnc bench FILE --shape ... --pairs-only [--schedule S] [--arch A] [--seqlens ..]\n"
    "                 [--docs N] [--bwd-schedule TEXT] [--json]\n"
    "needs no GPU: takes the kernel's schedule as the timed run would (tuned pick,\n"
    "recipe or default for --arch, else the GPU's, else sm_90a; lowered, no PTX),\n"
    "counts its kept pairs and tiles exactly on the host as above and prints them\n"
    "with the count's time. --bwd-schedule (as --grad prints it, e.g. \"q=64 kv=64\n"
    "(dK/dV kv=128)\") also counts the backward's dK/dV tiles under it.\n\n"
    "attnc bench FILE --compile-timings [--backend cpu|cuda] [--repeats N] [--schedule S]\n"
    "                 [--arch A] [--json]\n"
    "times the three ways a kernel is obtained through the API (recipe text to a\n"
    "launchable kernel): cold (fresh context, empty cache folder: a new temp folder\n"
    "each round), disk-cache load (fresh context, same folder; on CUDA the cached\n"
    "cubin, no driver JIT) and memory-cache hit (same context, build again); medians\n"
    "of N rounds (default 5); the CUDA context is made before the first round. No\n"
    "--shape needed. The CPU backend has no kernel cache.\n",
    run_bench,
};
