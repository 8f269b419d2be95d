/* gpu_case.c — see gpu_case.h. */
#include "gpu_case.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/api/api_typed.h"
#include "runtime/include/attnc.h"

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

bool gpu_available(void)
{
    /* Line-buffered even into a pipe or file: a run cut by a time cap keeps
     * every case it printed (fully buffered output died with the process). */
    setvbuf(stdout, NULL, _IOLBF, 0);
    strbuf err;
    sb_init(&err);
    target_arch arch;
    attnc_status st = cuda_device_arch(&arch, &err);
    if (st == ATTNC_ERR_NO_DRIVER)
        printf("skipped: no CUDA driver (%s)\n", sb_cstr(&err));
    else if (st)
        printf("skipped: no CUDA driver (GPU unusable: %s)\n", sb_cstr(&err));
    sb_free(&err);
    return st == ATTNC_OK;
}

uint64_t gpu_test_seed(const char *how)
{
    const char *env = getenv("ATTNC_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("seed %llu (%s)\n", (unsigned long long)seed, how);
    return seed;
}

bool gpu_hopper(const char *what)
{
    strbuf err;
    sb_init(&err);
    target_arch arch = TARGET_SM80;
    bool ok = cuda_device_arch(&arch, &err) == ATTNC_OK && arch == TARGET_SM90A;
    sb_free(&err);
    if (!ok)
        printf("  skipped: %s needs an sm_90a GPU\n", what);
    return ok;
}

typedef struct host_case {
    const hand_cfg *cfg;
    const gpu_shape *sh;
    int D, N;
    int64_t sizes[SZ_MAX];
    int64_t stride[4];    /* q/k/v/o: same layout, kv heads for k/v */
    int64_t kv_stride[4];
    float *q, *k, *v;     /* rounded inputs */
    uint16_t *hq, *hk, *hv;
} host_case;

static void layout(const gpu_shape *sh, int heads, int D, int64_t *st)
{
    if (sh->bshd) {
        st[0] = (int64_t)sh->tokens * heads * D;
        st[1] = D;
        st[2] = (int64_t)heads * D;
    } else {
        st[0] = (int64_t)heads * sh->tokens * D;
        st[1] = (int64_t)sh->tokens * D;
        st[2] = D;
    }
    st[3] = 1;
}

static void fill_random(float *f, uint16_t *h, size_t n, dtype dt, uint64_t *seed)
{
    for (size_t i = 0; i < n; i++) {
        float x = (float)rng_unit(seed);
        (dt == DT_F16 ? attnc_f32_to_f16 : attnc_f32_to_bf16)(&x, &h[i], 1);
        (dt == DT_F16 ? attnc_f16_to_f32 : attnc_bf16_to_f32)(&h[i], &f[i], 1);
    }
}

static void coords(const host_case *hc, int64_t t, int64_t c[3])
{
    const gpu_shape *sh = hc->sh;
    if (hc->cfg->grid_ndim == 2) {
        c[0] = t / sh->grid[1];
        c[1] = t % sh->grid[1];
    } else {
        c[0] = t;
        c[1] = 0;
    }
    c[2] = 0;
}

/* fp64 reference for one (b, h, i): o[D] and lse; returns false when no key is kept. */
static bool reference_row(const host_case *hc, const tir_kernel *k, int b, int h, int i, double *o, double *lse,
                          double *logit)
{
    bool base2;
    const expr *score = hand_score(k, &base2), *mask = hand_mask_of(k);
    int group = hc->sh->heads / hc->sh->kv_heads, kvh = h / group, D = hc->D, N = hc->N;
    const float *q = hc->q + b * hc->stride[0] + h * hc->stride[1] + i * hc->stride[2];
    hand_point pt = {.qt = i, .head = h, .kv_head = kvh, .batch = b, .sizes = hc->sizes};
    coords(hc, i, pt.qc);
    double mx = -INFINITY;
    for (int j = 0; j < N; j++) {
        const float *kr = hc->k + b * hc->kv_stride[0] + kvh * hc->kv_stride[1] + j * hc->kv_stride[2];
        double s = 0;
        for (int d = 0; d < D; d++)
            s += (double)q[d] * kr[d];
        pt.kt = j;
        pt.s = s;
        coords(hc, j, pt.kc);
        bool keep = !mask || hand_eval(mask, &pt) != 0;
        double t = hand_eval(score, &pt);
        logit[j] = keep ? (base2 ? t * M_LN2 : t) : -INFINITY;
        if (logit[j] > mx)
            mx = logit[j];
    }
    memset(o, 0, sizeof(double) * (size_t)D);
    if (mx == -INFINITY) {
        *lse = -INFINITY;
        return false;
    }
    double sum = 0;
    for (int j = 0; j < N; j++) {
        if (logit[j] == -INFINITY)
            continue;
        double p = exp(logit[j] - mx);
        sum += p;
        const float *vr = hc->v + b * hc->kv_stride[0] + kvh * hc->kv_stride[1] + j * hc->kv_stride[2];
        for (int d = 0; d < D; d++)
            o[d] += p * vr[d];
    }
    for (int d = 0; d < D; d++)
        o[d] /= sum;
    *lse = mx + log(sum);
    return true;
}

static void compare(const host_case *hc, const tir_kernel *k, const uint16_t *go, const float *glse,
                    gpu_result *res)
{
    const gpu_shape *sh = hc->sh;
    int D = hc->D;
    double *o = malloc(sizeof(double) * (size_t)D), *logit = malloc(sizeof(double) * (size_t)hc->N);
    double num = 0, den = 0;
    for (int b = 0; b < sh->batch; b++)
        for (int h = 0; h < sh->heads; h++)
            for (int i = 0; i < hc->N; i++) {
                double lse;
                bool live = reference_row(hc, k, b, h, i, o, &lse, logit);
                res->dead_rows += !live;
                int64_t base = b * hc->stride[0] + h * hc->stride[1] + i * hc->stride[2];
                for (int d = 0; d < D; d++) {
                    float gf;
                    (hc->cfg->dt == DT_F16 ? attnc_f16_to_f32 : attnc_bf16_to_f32)(&go[base + d], &gf, 1);
                    double g = gf;
                    if (!isfinite(g)) {
                        res->bad++;
                        continue;
                    }
                    num += (g - o[d]) * (g - o[d]);
                    den += o[d] * o[d];
                    if (fabs(g - o[d]) > res->o_max_abs)
                        res->o_max_abs = fabs(g - o[d]);
                }
                float gl = glse[((int64_t)b * sh->heads + h) * hc->N + i];
                if (!live) {
                    res->bad += !(isinf(gl) && gl < 0);
                } else if (!isfinite(gl)) {
                    res->bad++;
                } else if (fabs(gl - lse) > res->lse_max_abs) {
                    res->lse_max_abs = fabs(gl - lse);
                }
            }
    res->o_rel_l2 = den > 0 ? sqrt(num / den) : sqrt(num);
    free(o);
    free(logit);
}

static void init_case(host_case *hc, const hand_cfg *cfg, const gpu_shape *sh)
{
    memset(hc, 0, sizeof *hc);
    hc->cfg = cfg;
    hc->sh = sh;
    hc->D = cfg->head_dim;
    hc->N = sh->tokens;
    hc->sizes[SZ_BATCH] = sh->batch;
    hc->sizes[SZ_HEADS] = sh->heads;
    hc->sizes[SZ_KV_HEADS] = sh->kv_heads;
    hc->sizes[SZ_TOKENS] = hc->sizes[SZ_KV_TOKENS] = sh->tokens;
    for (int d = 0; d < 3; d++)
        hc->sizes[SZ_GRID0 + d] = sh->grid[d];
    layout(sh, sh->heads, hc->D, hc->stride);
    layout(sh, sh->kv_heads, hc->D, hc->kv_stride);
}

typedef struct dev_bufs {
    uint64_t q, k, v, o, lse;
} dev_bufs;

static attnc_status upload(const host_case *hc, dev_bufs *d, size_t nq, size_t nkv, strbuf *err)
{
    attnc_status st;
    size_t nl = (size_t)hc->sh->batch * hc->sh->heads * hc->N;
    if ((st = cuda_mem_alloc(&d->q, nq * 2, err)) || (st = cuda_mem_alloc(&d->k, nkv * 2, err)) ||
        (st = cuda_mem_alloc(&d->v, nkv * 2, err)) || (st = cuda_mem_alloc(&d->o, nq * 2, err)) ||
        (st = cuda_mem_alloc(&d->lse, nl * 4, err)))
        return st;
    if ((st = cuda_memcpy_htod(d->q, hc->hq, nq * 2, err)) || (st = cuda_memcpy_htod(d->k, hc->hk, nkv * 2, err)) ||
        (st = cuda_memcpy_htod(d->v, hc->hv, nkv * 2, err)))
        return st;
    /* Poison: 0xff.. is NaN in bf16, f16 and f32. */
    if ((st = cuda_memset8(d->o, 0xff, nq * 2, err)))
        return st;
    return cuda_memset8(d->lse, 0xff, nl * 4, err);
}

static void launch_args(const host_case *hc, const dev_bufs *d, cuda_launch *a)
{
    memset(a, 0, sizeof *a);
    uint64_t p[5] = {d->q, d->k, d->v, d->o, d->lse};
    memcpy(a->ptr, p, sizeof p);
    for (int i = 0; i < 4; i++) {
        a->stride[0][i] = a->stride[3][i] = hc->stride[i];
        a->stride[1][i] = a->stride[2][i] = hc->kv_stride[i];
    }
    a->stride[4][0] = (int64_t)hc->sh->heads * hc->N;
    a->stride[4][1] = hc->N;
    a->stride[4][2] = 1;
    memcpy(a->size, hc->sizes, sizeof a->size);
}

attnc_status gpu_run_case(const hand_cfg *cfg, const gpu_shape *sh, uint64_t seed, gpu_result *res, strbuf *err)
{
    memset(res, 0, sizeof *res);
    host_case hc;
    init_case(&hc, cfg, sh);
    size_t nq = (size_t)sh->batch * sh->heads * hc.N * hc.D, nkv = (size_t)sh->batch * sh->kv_heads * hc.N * hc.D;
    size_t nl = (size_t)sh->batch * sh->heads * hc.N;
    hc.q = malloc(nq * 4), hc.k = malloc(nkv * 4), hc.v = malloc(nkv * 4);
    hc.hq = malloc(nq * 2), hc.hk = malloc(nkv * 2), hc.hv = malloc(nkv * 2);
    uint16_t *go = malloc(nq * 2);
    float *glse = malloc(nl * 4);
    seed |= 1;
    fill_random(hc.q, hc.hq, nq, cfg->dt, &seed);
    fill_random(hc.k, hc.hk, nkv, cfg->dt, &seed);
    fill_random(hc.v, hc.hv, nkv, cfg->dt, &seed);
    arena a;
    arena_init(&a, NULL);
    tir_kernel *k = hand_kernel(&a, cfg);
    cuda_module *ck = NULL;
    dev_bufs d = {0};
    attnc_status st = k ? cuda_module_build(&ck, k, NULL, err) : ATTNC_ERR_NOMEM;
    if (!st)
        st = upload(&hc, &d, nq, nkv, err);
    cuda_launch la;
    launch_args(&hc, &d, &la);
    if (!st)
        st = cuda_module_launch(ck, &la, NULL, err);
    if (!st)
        st = cuda_synchronize(err);
    if (!st)
        st = cuda_memcpy_dtoh(go, d.o, nq * 2, err);
    if (!st)
        st = cuda_memcpy_dtoh(glse, d.lse, nl * 4, err);
    if (!st)
        compare(&hc, k, go, glse, res);
    uint64_t bufs[5] = {d.q, d.k, d.v, d.o, d.lse};
    for (int i = 0; i < 5; i++)
        cuda_mem_free(bufs[i]);
    cuda_module_destroy(ck);
    arena_free_all(&a);
    free(hc.q), free(hc.k), free(hc.v), free(hc.hq), free(hc.hk), free(hc.hv), free(go), free(glse);
    return st;
}

/* ---- ref_check_kernel on the device ---- */

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

ref_mem_ops gpu_ref_mem(strbuf *err)
{
    ref_mem_ops m = {dev_alloc, dev_free, dev_upload, dev_download, dev_sync, err};
    return m;
}

/* gpu_check_text with `launches` checks of the one kernel (seeds seed,
 * seed + 1, ...), each printing its line when print; the last run in out;
 * -1 on a build failure, 0 skipped, else the failed checks + 1. */
static int check_text(attnc_context *ctx, const char *name, const char *body, const ref_shape *shape, const char *sched,
                      uint64_t seed, int launches, bool print, gpu_text_run *out)
{
    char text[1024];
    snprintf(text, sizeof text, "recipe %s\n%s", name, body);
    attnc_recipe *rc = NULL;
    attnc_kernel *k = NULL;
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.schedule = sched;
    if (attnc_recipe_from_text(&rc, ctx, name, text, strlen(text))) {
        printf("[FAIL] %s: %s\n", name, attnc_context_errmsg(ctx));
        return -1;
    }
    attnc_status st = attnc_kernel_build(&k, ctx, rc, &o);
    if (st == ATTNC_ERR_UNSUPPORTED && sched) {
        printf("[SKIP] %s [%s]: %s\n", name, sched, attnc_context_errmsg(ctx));
        attnc_recipe_destroy(rc);
        return 0;
    }
    if (st) {
        printf("[FAIL] %s [%s]: %s\n", name, sched ? sched : "auto", attnc_context_errmsg(ctx));
        attnc_recipe_destroy(rc);
        return -1;
    }
    int failed = 0;
    for (int i = 0; i < launches; i++) {
        strbuf err;
        sb_init(&err);
        ref_mem_ops dev = gpu_ref_mem(&err);
        ref_check_opts co = {.seed = seed + (uint64_t)i, .check = true, .mem = &dev};
        out->ok = ref_check_kernel(k, attnc_recipe_typed(rc), shape, &co, &out->res);
        snprintf(out->sched, sizeof out->sched, "%s", attnc_kernel_schedule(k));
        snprintf(out->extra, sizeof out->extra, "%s%s", err.len ? ": " : "", sb_cstr(&err));
        sb_free(&err);
        failed += !out->ok;
        if (print && launches > 1)
            printf("[%s] %s [%s] launch %d of %d: %s%s\n", out->ok ? "PASS" : "FAIL", name, out->sched, i + 1, launches,
                   out->res.msg, out->extra);
        else if (print)
            printf("[%s] %s [%s]: %s%s\n", out->ok ? "PASS" : "FAIL", name, out->sched, out->res.msg, out->extra);
    }
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    return 1 + failed;
}

int gpu_check_text(attnc_context *ctx, const char *name, const char *body, const ref_shape *shape, const char *sched,
                   uint64_t seed, gpu_text_run *out)
{
    int r = check_text(ctx, name, body, shape, sched, seed, 1, false, out);
    return r > 0 ? 1 : r;
}

int gpu_check_text_launches(attnc_context *ctx, const char *name, const char *body, const ref_shape *shape,
                            const char *sched, uint64_t seed, int launches)
{
    gpu_text_run r;
    int ran = check_text(ctx, name, body, shape, sched, seed, launches, true, &r);
    return ran <= 0 ? ran < 0 : ran - 1;
}

int gpu_check_text_line(attnc_context *ctx, const char *name, const char *body, const ref_shape *shape,
                        const char *sched, uint64_t seed)
{
    gpu_text_run r;
    int ran = gpu_check_text(ctx, name, body, shape, sched, seed, &r);
    if (ran <= 0)
        return ran < 0;
    printf("[%s] %s [%s]: %s%s\n", r.ok ? "PASS" : "FAIL", name, r.sched, r.res.msg, r.extra);
    return !r.ok;
}
