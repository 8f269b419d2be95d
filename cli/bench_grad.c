/* bench_grad.c — `attnc bench`'s timings through the public API (see
 * bench_grad.h): the forward kernel, and for --grad the backward (dO
 * random, dq/dk/dv allocated on the device); --warmup launches, then the
 * median of --iters attnc_launch calls timed with CUDA events on the
 * default stream. */
#include "bench_grad.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "commands.h"
#include "runtime/include/attnc_tools.h"
#include "runtime/include/attnc.h"

typedef struct grad_run {
    const char *cmd; /* message prefix */
    attnc_context *ctx;
    attnc_recipe *rc;
    attnc_kernel *k;
    attnc_args *a;
    uint64_t buf[4 + ATTNC_TOOLS_MAX_PARAMS]; /* do, dq, dk, dv, then d<param> by param index */
} grad_run;

static attnc_tensor t4(attnc_dtype dt, uint64_t p, int64_t b, int64_t h, int64_t n, int64_t d)
{
    attnc_tensor t = {dt, (void *)(uintptr_t)p, 4, {b, h, n, d}, {h * n * d, n * d, d, 1}};
    return t;
}

static int fail(grad_run *g, const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", g->cmd, what,
            g->k && attnc_kernel_errmsg(g->k)[0] ? attnc_kernel_errmsg(g->k) : attnc_context_errmsg(g->ctx));
    return EXIT_USER;
}

static int alloc_zero(uint64_t *p, size_t bytes)
{
    strbuf err;
    sb_init(&err);
    int rc = attnc_tools_dev_alloc(p, bytes, &err) || attnc_tools_dev_memset8(*p, 0, bytes, &err) ? EXIT_INTERNAL : EXIT_OK;
    if (rc)
        fprintf(stderr, "attnc bench --grad: %s\n", sb_cstr(&err));
    sb_free(&err);
    return rc;
}

/* The context, the recipe and the build options both timings use. */
static int open_recipe(grad_run *g, const bench_grad_in *in, attnc_build_options *o)
{
    if (attnc_context_create(&g->ctx, NULL) || attnc_recipe_from_file(&g->rc, g->ctx, in->file))
        return fail(g, "recipe");
    *o = (attnc_build_options)ATTNC_BUILD_OPTIONS_INIT;
    o->backend = ATTNC_BACKEND_CUDA;
    o->arch = in->arch;
    o->schedule = in->schedule;
    o->no_grad = in->no_grad;
    return EXIT_OK;
}

static void close_run(grad_run *g)
{
    for (int i = 0; i < 4 + ATTNC_TOOLS_MAX_PARAMS; i++)
        attnc_tools_dev_free(g->buf[i]);
    attnc_args_destroy(g->a);
    attnc_kernel_destroy(g->k);
    attnc_recipe_destroy(g->rc);
    attnc_context_destroy(g->ctx);
}

/* q, k, v, o, lse, then for a backward (ntensors 9) do, dq, dk, dv; params
 * and sizes. */
static int set_args(grad_run *g, const bench_grad_in *in, int ntensors)
{
    const attnc_tools_recipe_info *r = in->r;
    const int64_t *s = in->sizes;
    attnc_dtype dt = r->dtype;
    int64_t B = s[ATTNC_TOOLS_SZ_BATCH], H = s[ATTNC_TOOLS_SZ_HEADS], KH = s[ATTNC_TOOLS_SZ_KV_HEADS],
            N = s[ATTNC_TOOLS_SZ_TOKENS], KN = s[ATTNC_TOOLS_SZ_KV_TOKENS];
    attnc_tensor ts[9] = {t4(dt, in->dev[0], B, H, N, r->head_dim),  t4(dt, in->dev[1], B, KH, KN, r->head_dim),
                          t4(dt, in->dev[2], B, KH, KN, r->head_dim_v), t4(dt, in->dev[3], B, H, N, r->head_dim_v),
                          t4(ATTNC_F32, in->dev[4], B, H, N, 1),          t4(dt, g->buf[0], B, H, N, r->head_dim_v),
                          t4(dt, g->buf[1], B, H, N, r->head_dim),     t4(dt, g->buf[2], B, KH, KN, r->head_dim),
                          t4(dt, g->buf[3], B, KH, KN, r->head_dim_v)};
    ts[4].ndim = 3;
    ts[4].stride[0] = H * N, ts[4].stride[1] = N, ts[4].stride[2] = 1;
    static const char *const names[9] = {"q", "k", "v", "o", "lse", "do", "dq", "dk", "dv"};
    for (int i = 0; i < ntensors; i++)
        if (!(i == 4 && r->linear) && attnc_args_set_tensor(g->a, names[i], &ts[i])) /* linear: no lse */
            return fail(g, names[i]);
    for (int i = 0; i < r->nparams; i++) {
        const attnc_tools_param_host *ph = &in->params[i];
        if (r->params[i].ndim == 0) {
            if (attnc_args_set_scalar(g->a, r->params[i].name, 0.5))
                return fail(g, r->params[i].name);
            continue;
        }
        attnc_tensor t = {r->params[i].dtype, (void *)(uintptr_t)in->dparam[i], ph->ndim, {0}, {0}};
        for (int d = ph->ndim - 1; d >= 0; d--) {
            t.shape[d] = ph->shape[d];
            t.stride[d] = d == ph->ndim - 1 ? 1 : t.stride[d + 1] * t.shape[d + 1];
        }
        if (attnc_args_set_tensor(g->a, r->params[i].name, &t))
            return fail(g, r->params[i].name);
    }
    for (int i = 0; ntensors > 5 && i < r->nparams; i++) /* the param gradients the program writes */
        if (g->buf[4 + i]) {
            const attnc_tools_param_host *ph = &in->params[i];
            attnc_tensor t = {ATTNC_F32, (void *)(uintptr_t)g->buf[4 + i], ph->ndim, {0}, {0}};
            for (int d = ph->ndim - 1; d >= 0; d--) {
                t.shape[d] = ph->shape[d];
                t.stride[d] = d == ph->ndim - 1 ? 1 : t.stride[d + 1] * t.shape[d + 1];
            }
            char nm[80];
            snprintf(nm, sizeof nm, "d%s", r->params[i].name);
            if (attnc_args_set_tensor(g->a, nm, &t))
                return fail(g, nm);
        }
    if (in->nseq > 0) {
        attnc_tensor cu = {ATTNC_I32, (void *)in->cu, 1, {in->nseq + 1}, {1}};
        if (attnc_args_set_tensor(g->a, "cu_seqlens_q", &cu))
            return fail(g, "cu_seqlens_q");
    }
    for (int d = 0; d < r->grid_ndim; d++)
        if (r->sizes[ATTNC_TOOLS_SZ_GRID0 + d].fixed <= 0 &&
            attnc_args_set_size(g->a, r->sizes[ATTNC_TOOLS_SZ_GRID0 + d].name, s[ATTNC_TOOLS_SZ_GRID0 + d]))
            return fail(g, "grid size");
    for (int i = ATTNC_TOOLS_SZ_EXTRA0; i < r->nsizes; i++)
        if (r->sizes[i].name && r->sizes[i].fixed <= 0 && attnc_args_set_size(g->a, r->sizes[i].name, s[i]))
            return fail(g, r->sizes[i].name);
    return EXIT_OK;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Launches until ms milliseconds passed since t0 (checked after each
 * synchronized group of 8): an idle GPU's clocks dip for a few hundred ms
 * once work arrives (H200 2026-12-06 run80: 1635-1710 MHz for ~0.4 s,
 * then 1980), which a short kernel's whole timed loop would sit in. */
static int warm_for(grad_run *g, double t0, int ms, strbuf *err)
{
    while (ms > 0 && now_ms() - t0 < ms) {
        for (int i = 0; i < 8; i++)
            if (attnc_launch(g->k, g->a, NULL))
                return fail(g, "launch");
        if (attnc_tools_dev_sync(err))
            return EXIT_INTERNAL;
    }
    return EXIT_OK;
}

static int time_it(grad_run *g, const bench_grad_in *in, bench_grad_out *out)
{
    strbuf err;
    sb_init(&err);
    double t0 = now_ms();
    for (int i = 0; i < in->warmup; i++)
        if (attnc_launch(g->k, g->a, NULL))
            return fail(g, "launch");
    int wrc = warm_for(g, t0, in->warmup_ms, &err);
    if (wrc) {
        if (err.len)
            fprintf(stderr, "%s: %s\n", g->cmd, sb_cstr(&err));
        sb_free(&err);
        return wrc;
    }
    double *t = malloc(sizeof(double) * (size_t)in->iters);
    int rc = t && !attnc_tools_dev_sync(&err) ? EXIT_OK : EXIT_INTERNAL;
    for (int i = 0; i < in->iters && !rc; i++) {
        attnc_tools_timer tm;
        if (attnc_tools_timer_start(&tm, &err) || attnc_launch(g->k, g->a, NULL) || attnc_tools_timer_stop(&tm, &t[i], &err))
            rc = g->k && attnc_kernel_errmsg(g->k)[0] ? fail(g, "launch") : EXIT_INTERNAL;
    }
    if (!rc) {
        qsort(t, (size_t)in->iters, sizeof *t, cmp_double);
        out->median_ms = t[in->iters / 2];
        out->min_ms = t[0];
    } else if (err.len) {
        fprintf(stderr, "%s: %s\n", g->cmd, sb_cstr(&err));
    }
    free(t);
    sb_free(&err);
    return rc;
}

/* Whether backward kernel k writes "d<name>" (attnc_kernel_arg_info). */
static bool writes_grad(const attnc_kernel *k, const char *name)
{
    for (int i = 0; i < attnc_kernel_arg_count(k); i++) {
        attnc_arg_info ai;
        if (!attnc_kernel_arg_info(k, i, &ai) && ai.role == ATTNC_ARG_OUTPUT && ai.name[0] == 'd' &&
            !strcmp(ai.name + 1, name))
            return true;
    }
    return false;
}

/* f32 gradient buffers (zeroed) for the params with a gradient (a linear
 * recipe's decay, float params the score reads): the launch needs them all. */
static int alloc_param_grads(grad_run *g, const bench_grad_in *in)
{
    const attnc_tools_recipe_info *r = in->r;
    for (int i = 0; i < r->nparams && i < ATTNC_TOOLS_MAX_PARAMS; i++) {
        const attnc_tools_param_host *ph = &in->params[i];
        if (r->params[i].ndim == 0 || !writes_grad(g->k, r->params[i].name))
            continue;
        size_t n = 1;
        for (int d = 0; d < ph->ndim; d++)
            n *= (size_t)ph->shape[d];
        if (alloc_zero(&g->buf[4 + i], n * sizeof(float) + 4))
            return EXIT_INTERNAL;
    }
    return EXIT_OK;
}

static int prepare(grad_run *g, const bench_grad_in *in)
{
    const attnc_tools_recipe_info *r = in->r;
    const int64_t *s = in->sizes;
    attnc_build_options o;
    int orc = open_recipe(g, in, &o);
    if (orc)
        return orc;
    o.flags = in->deterministic ? ATTNC_BUILD_DETERMINISTIC : 0;
    if (attnc_kernel_build_backward(&g->k, g->ctx, g->rc, &o))
        return fail(g, "build");
    if (attnc_args_create(&g->a, g->k))
        return fail(g, "args");
    size_t nq = (size_t)(s[ATTNC_TOOLS_SZ_BATCH] * s[ATTNC_TOOLS_SZ_HEADS] * s[ATTNC_TOOLS_SZ_TOKENS]);
    size_t nk = (size_t)(s[ATTNC_TOOLS_SZ_BATCH] * s[ATTNC_TOOLS_SZ_KV_HEADS] * s[ATTNC_TOOLS_SZ_KV_TOKENS]);
    size_t bytes[4] = {nq * r->head_dim_v * 2, nq * r->head_dim * 2, nk * r->head_dim * 2, nk * r->head_dim_v * 2};
    for (int i = 0; i < 4; i++)
        if (alloc_zero(&g->buf[i], bytes[i]))
            return EXIT_INTERNAL;
    if (alloc_param_grads(g, in))
        return EXIT_INTERNAL;
    /* dO: the forward's O is as good a random-looking tensor as any */
    strbuf err;
    sb_init(&err);
    uint16_t *h = malloc(bytes[0]);
    int rc = h && !attnc_tools_dev_download(h, in->dev[3], bytes[0], &err) && !attnc_tools_dev_upload(g->buf[0], h, bytes[0], &err)
                 ? EXIT_OK
                 : EXIT_INTERNAL;
    free(h);
    sb_free(&err);
    return rc ? rc : set_args(g, in, 9);
}

int bench_grad(const bench_grad_in *in, bench_grad_out *out)
{
    grad_run g;
    memset(&g, 0, sizeof g);
    memset(out, 0, sizeof *out);
    g.cmd = "attnc bench --grad";
    int rc = prepare(&g, in);
    if (!rc) {
        snprintf(out->schedule, sizeof out->schedule, "%s", attnc_kernel_schedule(g.k));
        rc = time_it(&g, in, out);
    }
    close_run(&g);
    return rc;
}

int bench_forward(const bench_grad_in *in, bench_grad_out *out)
{
    grad_run g;
    memset(&g, 0, sizeof g);
    memset(out, 0, sizeof *out);
    g.cmd = "attnc bench";
    attnc_build_options o;
    int rc = open_recipe(&g, in, &o);
    if (!rc && attnc_kernel_build(&g.k, g.ctx, g.rc, &o))
        rc = fail(&g, "build");
    if (!rc && attnc_args_create(&g.a, g.k))
        rc = fail(&g, "args");
    if (!rc) /* linear attention has no lse output */
        rc = set_args(&g, in, in->r->linear ? 4 : 5);
    if (!rc)
        rc = time_it(&g, in, out);
    if (!rc)
        snprintf(out->schedule, sizeof out->schedule, "%s", attnc_kernel_last_schedule(g.k));
    close_run(&g);
    return rc;
}
