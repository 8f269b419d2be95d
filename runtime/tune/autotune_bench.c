/* autotune_bench.c — the tuner's compile-and-time hooks over the public API;
 * see autotune_bench.h. */
#include "runtime/tune/autotune_bench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/checked.h"
#include "runtime/api/api_internal.h"
#include "runtime/cuda/cuda_module.h"

#pragma weak cuda_mem_alloc /* only when the CUDA backend is linked in */
#pragma weak cuda_mem_free
#pragma weak cuda_memcpy_htod
#pragma weak cuda_timer_start
#pragma weak cuda_timer_stop
#pragma weak cuda_synchronize

enum { NSETS = 2, MAX_BUFS = 4 * NSETS + NVPTX_MAX_PARAMS + 1 };

struct tune_bench {
    attnc_context *ctx;
    const attnc_recipe *rc;
    attnc_backend backend;
    const char *arch;
    tune_shape shape;
    attnc_tensor q[NSETS], k[NSETS], v[NSETS], o;
    attnc_tensor *params; /* [nparams] */
    void *host[MAX_BUFS];
    uint64_t dev[MAX_BUFS];
    int nbufs;
    attnc_kernel *kernel; /* the prepared candidate */
    attnc_args *args[NSETS];
};

static void fill_random(void *p, attnc_dtype dt, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        float f = (float)((seed >> 40) * (1.0 / (1 << 24))) * 2.0f - 1.0f;
        if (dt == ATTNC_F32)
            ((float *)p)[i] = f;
        else
            (dt == ATTNC_F16 ? attnc_f32_to_f16 : attnc_f32_to_bf16)(&f, (uint16_t *)p + i, 1);
    }
}

/* A dense tensor; its data on the host or (CUDA) on the device. */
static attnc_status make(tune_bench *b, attnc_tensor *t, attnc_dtype dt, int ndim, const int64_t *shape, uint64_t seed,
                         strbuf *err)
{
    size_t n = 1, es = dt == ATTNC_F32 || dt == ATTNC_I32 ? 4 : dt == ATTNC_I64 ? 8 : dt == ATTNC_U8 ? 1 : 2;
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->stride[i] = (int64_t)n;
        if (shape[i] < 0 || !ck_size_mul(n, (size_t)shape[i], &n) || n > ((size_t)1 << 62) / es) {
            sb_printf(err, "a tensor of this shape needs more than 2^62 bytes");
            return ATTNC_ERR_INVALID_ARGUMENT;
        }
    }
    if (b->nbufs == MAX_BUFS)
        return ATTNC_ERR_INTERNAL;
    void *h = calloc(n ? n : 1, es);
    if (!h)
        return ATTNC_ERR_NOMEM;
    b->host[b->nbufs] = h;
    if (seed)
        fill_random(h, dt, n, seed);
    t->data = h;
    if (b->backend == ATTNC_BACKEND_CUDA) {
        uint64_t *d = &b->dev[b->nbufs];
        attnc_status st = cuda_mem_alloc(d, n * es, err);
        if (!st)
            st = cuda_memcpy_htod(*d, h, n * es, err);
        if (st)
            return st;
        t->data = (void *)(uintptr_t)*d;
    }
    b->nbufs++;
    return ATTNC_OK;
}

static attnc_status make_params(tune_bench *b, const recipe *r, strbuf *err)
{
    b->params = calloc((size_t)(r->nparams + 1), sizeof *b->params);
    if (!b->params)
        return ATTNC_ERR_NOMEM;
    for (int i = 0; i < r->nparams; i++) {
        const recipe_param *p = &r->params[i];
        int64_t shape[4];
        for (int d = 0; d < p->ndim; d++) {
            size_id s = p->dims[d];
            shape[d] = p->const_dims[d] > 0 ? p->const_dims[d]
                     : s == SZ_BATCH        ? b->shape.batch
                     : s == SZ_HEADS        ? b->shape.heads
                     : s == SZ_KV_HEADS     ? b->shape.kv_heads
                     : s == SZ_TOKENS       ? b->shape.tokens
                     : s == SZ_KV_TOKENS    ? b->shape.kv_tokens
                     : s >= SZ_GRID0 && s <= SZ_GRID2 ? b->shape.grid[s - SZ_GRID0]
                                                      : 0;
            if (shape[d] < 1) {
                sb_printf(err, "tuning recipes whose params use extra sizes ('%s') is not supported yet", p->name);
                return ATTNC_ERR_UNSUPPORTED;
            }
        }
        if (p->ndim > 0) {
            attnc_status st = make(b, &b->params[i], (attnc_dtype)p->dtype, p->ndim, shape, 0, err);
            if (st)
                return st;
        }
    }
    return ATTNC_OK;
}

static attnc_status make_inputs(tune_bench *b, strbuf *err)
{
    const recipe *r = b->rc->r;
    const tune_shape *s = &b->shape;
    attnc_dtype dt = (attnc_dtype)r->qkv_dtype;
    int64_t qs[4] = {s->batch, s->heads, s->tokens, r->head_dim}, ks[4] = {s->batch, s->kv_heads, s->kv_tokens, r->head_dim};
    int64_t vs[4] = {s->batch, s->kv_heads, s->kv_tokens, r->head_dim_v}, os[4] = {s->batch, s->heads, s->tokens, r->head_dim_v};
    attnc_status st = ATTNC_OK;
    for (int i = 0; i < NSETS && !st; i++)
        if (!(st = make(b, &b->q[i], dt, 4, qs, 11 + (uint64_t)i * 3, err)) && !(st = make(b, &b->k[i], dt, 4, ks, 12 + (uint64_t)i * 3, err)))
            st = make(b, &b->v[i], dt, 4, vs, 13 + (uint64_t)i * 3, err);
    if (!st)
        st = make(b, &b->o, dt, 4, os, 0, err);
    return st ? st : make_params(b, r, err);
}

attnc_status tune_bench_create(tune_bench **out, attnc_context *ctx, const attnc_recipe *r, attnc_backend backend,
                               const char *arch, const tune_shape *shape, strbuf *err)
{
    *out = NULL;
    if (backend == ATTNC_BACKEND_CUDA && !cuda_mem_alloc) {
        sb_puts(err, "the CUDA backend is not part of this build");
        return ATTNC_ERR_UNSUPPORTED;
    }
    tune_bench *b = calloc(1, sizeof *b);
    if (!b)
        return ATTNC_ERR_NOMEM;
    *b = (tune_bench){.ctx = ctx, .rc = r, .backend = backend, .arch = arch, .shape = *shape};
    attnc_status st = make_inputs(b, err);
    if (st) {
        if (st == ATTNC_ERR_NOMEM)
            sb_puts(err, "out of memory allocating tuning inputs");
        tune_bench_destroy(b);
        return st;
    }
    *out = b;
    return ATTNC_OK;
}

static void release(void *user, const schedule *s)
{
    (void)s;
    tune_bench *b = user;
    for (int i = 0; i < NSETS; i++) {
        attnc_args_destroy(b->args[i]);
        b->args[i] = NULL;
    }
    attnc_kernel_destroy(b->kernel);
    b->kernel = NULL;
}

void tune_bench_destroy(tune_bench *b)
{
    if (!b)
        return;
    release(b, NULL);
    for (int i = 0; i < b->nbufs; i++) {
        if (b->dev[i] && cuda_mem_free)
            cuda_mem_free(b->dev[i]);
        free(b->host[i]);
    }
    free(b->params);
    free(b);
}

/* Binds every tensor, size and scalar of input set `i`. */
static attnc_status bind(tune_bench *b, attnc_args *a, int i)
{
    const recipe *r = b->rc->r;
    attnc_status st = attnc_args_set_tensor(a, "q", &b->q[i]);
    if (!st && !(st = attnc_args_set_tensor(a, "k", &b->k[i])) && !(st = attnc_args_set_tensor(a, "v", &b->v[i])))
        st = attnc_args_set_tensor(a, "o", &b->o);
    for (int d = 0; !st && d < r->grid_ndim; d++)
        st = attnc_args_set_size(a, r->grid_names[d], b->shape.grid[d]);
    for (int p = 0; !st && p < r->nparams; p++)
        st = r->params[p].ndim ? attnc_args_set_tensor(a, r->params[p].name, &b->params[p])
                               : attnc_args_set_scalar(a, r->params[p].name, 0.5);
    return st;
}

static bool prepare(void *user, const schedule *s, strbuf *why)
{
    tune_bench *b = user;
    strbuf text;
    sb_init(&text);
    schedule_print(&text, s);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = b->backend;
    o.schedule = sb_cstr(&text);
    o.arch = b->arch;
    attnc_status st = attnc_kernel_build(&b->kernel, b->ctx, b->rc, &o);
    sb_free(&text);
    for (int i = 0; !st && i < NSETS; i++)
        if (!(st = attnc_args_create(&b->args[i], b->kernel)))
            st = bind(b, b->args[i], i);
    if (st) {
        sb_printf(why, "%s: %s", attnc_status_string(st),
                  b->kernel ? attnc_kernel_errmsg(b->kernel) : attnc_context_errmsg(b->ctx));
        release(b, s);
    }
    return !st;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static bool time_once(void *user, const schedule *s, int rep, double *us, strbuf *why)
{
    (void)s;
    tune_bench *b = user;
    attnc_args *a = b->args[(rep < 0 ? -rep : rep) % NSETS];
    attnc_status st;
    if (b->backend == ATTNC_BACKEND_CPU) {
        double t0 = now_us();
        st = attnc_launch(b->kernel, a, NULL);
        *us = now_us() - t0;
    } else {
        cuda_timer t;
        double ms = 0;
        st = cuda_timer_start(&t, why);
        if (!st) {
            attnc_status ls = attnc_launch(b->kernel, a, NULL);
            st = cuda_timer_stop(&t, &ms, why);
            st = ls ? ls : st;
        }
        *us = ms * 1000.0;
    }
    if (st && !why->len)
        sb_printf(why, "launch: %s: %s", attnc_status_string(st), attnc_kernel_errmsg(b->kernel));
    return !st;
}

tuner_hooks tune_bench_hooks(tune_bench *b)
{
    return (tuner_hooks){.user = b, .prepare = prepare, .time_once = time_once, .release = release};
}
