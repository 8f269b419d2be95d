/* test_gpu_linear.c — every linear-attention recipe on the CUDA backend
 * (attnc_kernel_build + attnc_launch) against the fp64 recurrence of
 * tests/reference (one token at a time, no chunking), so the intra/inter
 * split is what is checked. Cases: random shapes whose token counts divide
 * no block (including 1), block sizes 16-128, both inter schedules (state;
 * chunked: sequence segments per CTA), decays near 0 and near 1
 * (per head and per token), and N = 65536 where naive decay powers
 * underflow. Inputs are fresh random numbers; the output is poisoned with
 * NaN before the launch; NaN never passes. The kernel computes in bf16 with
 * f32 accumulation (f16 inputs are converted), so the bound is the bf16
 * tolerance for every input dtype. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frontend/frontend.h"
#include "gpu_case.h"
#include "reference/ref_data.h"
#include "reference/reference.h"

static uint64_t seed;

typedef struct lcase {
    const char *file;
    const char *schedule; /* NULL: the recipe's own */
    int batch, heads, tokens; /* tokens 0: random, not a multiple of 16 */
    double lo, hi;            /* decay λ range (per token: gate = ln λ) */
    const char *what;
    int launches; /* 1: once; 2: again on a NaN-poisoned output (inter=chain: ticket wrap, epoch) */
    bool refused; /* the build must fail (NVPTX_UNSUPPORTED): the schedule does not take the recipe */
} lcase;

typedef struct prob {
    const recipe *r;
    int64_t sizes[SZ_MAX];
    size_t n[3], no;            /* q/k elements, v, o */
    void *h[3], *hp[NVPTX_MAX_PARAMS];
    size_t np[NVPTX_MAX_PARAMS];
    uint64_t d[4], dp[NVPTX_MAX_PARAMS];
} prob;

static int64_t extent(const prob *p, const recipe_param *rp, int i)
{
    return rp->const_dims[i] > 0 ? rp->const_dims[i] : p->sizes[rp->dims[i]];
}

static void make_inputs(prob *p, const lcase *c, ref_rng *g)
{
    const recipe *r = p->r;
    int64_t B = p->sizes[SZ_BATCH], H = p->sizes[SZ_HEADS], N = p->sizes[SZ_TOKENS];
    p->n[0] = p->n[1] = (size_t)(B * H * N * r->head_dim);
    p->n[2] = p->no = (size_t)(B * H * N * r->head_dim_v);
    size_t es = (size_t)dtype_size(r->qkv_dtype);
    for (int t = 0; t < 3; t++) {
        p->h[t] = malloc(p->n[t] * es);
        assert_non_null(p->h[t]);
        ref_fill_uniform(r->qkv_dtype, p->h[t], p->n[t], g, -1, 1);
    }
    for (int i = 0; i < r->nparams; i++) {
        const recipe_param *rp = &r->params[i];
        size_t n = 1;
        for (int d = 0; d < rp->ndim; d++)
            n *= (size_t)extent(p, rp, d);
        p->np[i] = n;
        float *v = calloc(n ? n : 1, sizeof(float));
        assert_non_null(v);
        assert_int_equal(rp->dtype, DT_F32);
        bool gate = i == r->linear.decay_param && r->linear.decay == DECAY_PER_TOKEN;
        for (size_t j = 0; j < n; j++) {
            double lam = ref_rng_uniform(g, c->lo, c->hi);
            v[j] = (float)(gate ? log(lam) : lam);
        }
        p->hp[i] = v;
    }
}

static void upload(prob *p)
{
    strbuf err;
    sb_init(&err);
    size_t es = (size_t)dtype_size(p->r->qkv_dtype);
    for (int t = 0; t < 3; t++)
        if (cuda_mem_alloc(&p->d[t], p->n[t] * es, &err) || cuda_memcpy_htod(p->d[t], p->h[t], p->n[t] * es, &err))
            fail_msg("upload: %s", sb_cstr(&err));
    if (cuda_mem_alloc(&p->d[3], p->no * es, &err) || cuda_memset8(p->d[3], 0xff, p->no * es, &err))
        fail_msg("upload: %s", sb_cstr(&err));
    for (int i = 0; i < p->r->nparams; i++)
        if (cuda_mem_alloc(&p->dp[i], p->np[i] * 4 + 4, &err) || cuda_memcpy_htod(p->dp[i], p->hp[i], p->np[i] * 4, &err))
            fail_msg("upload: %s", sb_cstr(&err));
    sb_free(&err);
}

static attnc_tensor tensor4(dtype dt, uint64_t data, int64_t b, int64_t h, int64_t n, int64_t d)
{
    attnc_tensor t = {(attnc_dtype)dt, (void *)(uintptr_t)data, 4, {b, h, n, d}, {h * n * d, n * d, d, 1}};
    return t;
}

static ref_view view4(dtype dt, const void *data, int64_t b, int64_t h, int64_t n, int64_t d)
{
    ref_view v = {dt, data, 4, {b, h, n, d}, {h * n * d, n * d, d, 1}};
    return v;
}

static void param_shape(const prob *p, int i, int64_t *shape, int64_t *stride)
{
    const recipe_param *rp = &p->r->params[i];
    int64_t st = 1;
    for (int d = rp->ndim - 1; d >= 0; d--) {
        shape[d] = extent(p, rp, d);
        stride[d] = st;
        st *= shape[d];
    }
}

static void launch(const prob *p, attnc_kernel *k)
{
    const recipe *r = p->r;
    int64_t B = p->sizes[SZ_BATCH], H = p->sizes[SZ_HEADS], N = p->sizes[SZ_TOKENS];
    attnc_args *a = NULL;
    assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
    static const char *names[4] = {"q", "k", "v", "o"};
    for (int t = 0; t < 4; t++) {
        attnc_tensor x = tensor4(r->qkv_dtype, p->d[t], B, H, N, t == 0 || t == 1 ? r->head_dim : r->head_dim_v);
        if (attnc_args_set_tensor(a, names[t], &x))
            fail_msg("set %s: %s", names[t], attnc_kernel_errmsg(k));
    }
    for (int i = 0; i < r->nparams; i++) {
        attnc_tensor x = {ATTNC_F32, (void *)(uintptr_t)p->dp[i], r->params[i].ndim, {0}, {0}};
        param_shape(p, i, x.shape, x.stride);
        if (attnc_args_set_tensor(a, r->params[i].name, &x))
            fail_msg("set %s: %s", r->params[i].name, attnc_kernel_errmsg(k));
    }
    if (attnc_launch(k, a, NULL))
        fail_msg("launch: %s", attnc_kernel_errmsg(k));
    strbuf err;
    sb_init(&err);
    if (cuda_synchronize(&err))
        fail_msg("sync: %s", sb_cstr(&err));
    sb_free(&err);
    attnc_args_destroy(a);
}

static void check(const prob *p, const lcase *c, const char *sched)
{
    const recipe *r = p->r;
    int64_t B = p->sizes[SZ_BATCH], H = p->sizes[SZ_HEADS], N = p->sizes[SZ_TOKENS];
    size_t es = (size_t)dtype_size(r->qkv_dtype);
    void *go = malloc(p->no * es);
    double *ro = malloc(p->no * sizeof(double));
    assert_true(go && ro);
    strbuf err;
    sb_init(&err);
    if (cuda_memcpy_dtoh(go, p->d[3], p->no * es, &err))
        fail_msg("download: %s", sb_cstr(&err));
    ref_view params[NVPTX_MAX_PARAMS];
    for (int i = 0; i < r->nparams; i++) {
        params[i] = (ref_view){DT_F32, p->hp[i], r->params[i].ndim, {0}, {0}};
        param_shape(p, i, params[i].shape, params[i].stride);
    }
    ref_problem rp = {.r = r, .params = params};
    memcpy(rp.sizes, p->sizes, sizeof rp.sizes);
    rp.q = view4(r->qkv_dtype, p->h[0], B, H, N, r->head_dim);
    rp.k = view4(r->qkv_dtype, p->h[1], B, H, N, r->head_dim);
    rp.v = view4(r->qkv_dtype, p->h[2], B, H, N, r->head_dim_v);
    const char *why = NULL;
    if (!ref_run(&rp, ro, NULL, &why))
        fail_msg("%s: reference: %s", c->file, why);
    ref_compare_result co = ref_compare(ro, r->qkv_dtype, go, p->no, ref_tolerance(DT_BF16));
    printf("  %-18s %-10s B=%lld H=%lld N=%-6lld %-14s o rel_l2 %.2e max_abs %.2e nan %zu %s\n", c->file,
           sched ? sched : "default", (long long)B, (long long)H, (long long)N, c->what, co.rel_l2, co.max_abs,
           co.nan_count, co.ok ? "ok" : "FAIL");
    fflush(stdout);
    if (!co.ok)
        fail_msg("%s (%s, %s): GPU result differs from the fp64 recurrence", c->file, sched ? sched : "default",
                 c->what);
    sb_free(&err);
    free(go);
    free(ro);
}

static void free_prob(prob *p)
{
    for (int t = 0; t < 4; t++)
        cuda_mem_free(p->d[t]);
    for (int t = 0; t < 3; t++)
        free(p->h[t]);
    for (int i = 0; i < NVPTX_MAX_PARAMS; i++) {
        cuda_mem_free(p->dp[i]);
        free(p->hp[i]);
    }
}

static void run_case(const lcase *c)
{
    char path[600];
    const char *root = getenv("ATTNC_SOURCE_DIR"); /* the checkout may move to the GPU machine */
    snprintf(path, sizeof path, "%s/recipes/%s", root && *root ? root : ATTNC_SOURCE_DIR, c->file);
    attnc_context *ctx = NULL;
    attnc_recipe *ar = NULL;
    attnc_kernel *k = NULL;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    if (attnc_recipe_from_file(&ar, ctx, path))
        fail_msg("%s: %s", c->file, attnc_context_errmsg(ctx));
    arena ar2;
    arena_init(&ar2, NULL);
    size_t len;
    const char *why;
    char *text = frontend_read_file(&ar2, path, &len, &why);
    assert_non_null(text);
    diag_list dl;
    diag_list_init(&dl, &ar2, path, text, len);
    prob p;
    memset(&p, 0, sizeof p);
    p.r = frontend_parse(&ar2, path, text, len, &dl);
    assert_non_null(p.r);
    assert_int_equal(p.r->family, FAMILY_LINEAR);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.schedule = c->schedule;
    int built = attnc_kernel_build(&k, ctx, ar, &o);
    if (c->refused) {
        if (!built)
            fail_msg("%s (%s): the build should have been refused", c->file, c->schedule);
        printf("  %-18s %-10s refused as expected: %s\n", c->file, c->schedule, attnc_context_errmsg(ctx));
        attnc_recipe_destroy(ar);
        attnc_context_destroy(ctx);
        arena_free_all(&ar2);
        return;
    }
    if (built)
        fail_msg("%s: build: %s", c->file, attnc_context_errmsg(ctx));
    ref_rng g;
    ref_rng_seed(&g, seed++);
    int64_t n = c->tokens;
    if (n == 0)
        n = 1 + (int64_t)(ref_rng_next(&g) % 1500);
    if (n > 16 && n % 16 == 0)
        n++;
    p.sizes[SZ_BATCH] = c->batch;
    p.sizes[SZ_HEADS] = p.sizes[SZ_KV_HEADS] = c->heads;
    p.sizes[SZ_TOKENS] = p.sizes[SZ_KV_TOKENS] = n;
    make_inputs(&p, c, &g);
    upload(&p);
    launch(&p, k);
    check(&p, c, c->schedule);
    for (int again = 1; again < c->launches; again++) {
        strbuf err;
        sb_init(&err);
        size_t es = (size_t)dtype_size(p.r->qkv_dtype);
        if (cuda_memset8(p.d[3], 0xff, p.no * es, &err))
            fail_msg("poison: %s", sb_cstr(&err));
        sb_free(&err);
        launch(&p, k);
        check(&p, c, c->schedule);
    }
    free_prob(&p);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(ar);
    attnc_context_destroy(ctx);
    arena_free_all(&ar2);
}

static const lcase cases[] = {
    {"lightning2.attn", NULL, 2, 3, 0, 0.5, 1.0, "decay 0.5..1", 1, false},
    {"lightning2.attn", NULL, 2, 3, 0, 1e-4, 0.05, "decay ~0", 1, false},
    {"lightning2.attn", NULL, 2, 3, 0, 0.999, 1.0, "decay ~1", 1, false},
    {"lightning2.attn", NULL, 1, 2, 1, 0.9, 1.0, "one token", 1, false},
    {"lightning2.attn", NULL, 1, 2, 47, 0.9, 1.0, "47 tokens", 1, false},
    {"lightning2.attn", "block=32", 2, 3, 0, 0.8, 1.0, "decay 0.8..1", 1, false},
    {"lightning2.attn", "block=128", 2, 3, 0, 0.8, 1.0, "decay 0.8..1", 1, false},
    {"lightning2.attn", "block=16", 1, 2, 0, 0.8, 1.0, "decay 0.8..1", 1, false},
    {"lightning2.attn", "block=64 inter=chunked", 2, 3, 0, 0.8, 1.0, "decay 0.8..1", 1, false},
    {"lightning2.attn", "block=32 inter=chunked", 1, 2, 100, 0.8, 1.0, "100 tokens", 1, false},
    {"lightning2.attn", "block=128 inter=chunked", 1, 2, 0, 1e-3, 0.1, "decay ~0", 1, false},
    {"lightning2.attn", "block=64 inter=chunked", 1, 2, 65536, 0.9999, 1.0, "N=64K ~1", 1, false},
    {"lightning2.attn", NULL, 1, 2, 65536, 0.9999, 1.0, "N=64K ~1", 1, false},
    {"lightning2.attn", NULL, 1, 2, 65536, 0.5, 0.99, "N=64K 0.5..0.99", 1, false},
    {"gated_linear.attn", NULL, 2, 3, 0, 0.5, 1.0, "gate 0.5..1", 1, false},
    {"gated_linear.attn", NULL, 2, 3, 0, 1e-6, 0.05, "gate ~0", 1, false},
    {"gated_linear.attn", NULL, 2, 3, 0, 0.999, 1.0, "gate ~1", 1, false},
    {"gated_linear.attn", "block=32", 2, 3, 0, 0.8, 1.0, "gate 0.8..1", 1, false},
    {"gated_linear.attn", "block=64 inter=state", 2, 3, 0, 0.8, 1.0, "gate 0.8..1", 1, false},
    {"gated_linear.attn", "block=128", 2, 3, 0, 0.8, 1.0, "gate 0.8..1", 1, false},
    {"gated_linear.attn", NULL, 1, 2, 65536, 0.9999, 1.0, "N=64K ~1", 1, false},
    {"gated_linear.attn", NULL, 1, 2, 65536, 0.3, 1.0, "N=64K 0.3..1", 1, false},
    /* inter=chain: CTAs over all of Dv, clamp(128 / (B H), 1, 16) segments
     * sharing their states through module-global slots: 16 (one head), 8
     * (16 heads), 3 (36 heads), 1 (144 heads: no hand-off). */
    {"lightning2.attn", "block=64 inter=chain", 2, 3, 0, 0.5, 1.0, "decay 0.5..1", 2, false},
    {"lightning2.attn", "block=64 inter=chain", 2, 3, 0, 1e-4, 0.05, "decay ~0", 1, false},
    {"lightning2.attn", "block=64 inter=chain", 2, 3, 0, 0.999, 1.0, "decay ~1", 1, false},
    {"lightning2.attn", "block=64 inter=chain", 1, 2, 1, 0.9, 1.0, "one token", 1, false},
    {"lightning2.attn", "block=64 inter=chain", 1, 2, 47, 0.9, 1.0, "47 tokens", 1, false},
    {"lightning2.attn", "block=64 inter=chain", 1, 3, 449, 0.9, 1.0, "449 tokens", 1, false},
    {"lightning2.attn", "block=64 inter=chain", 1, 2, 65536, 0.9999, 1.0, "N=64K ~1", 2, false},
    {"lightning2.attn", "block=64 inter=chain", 1, 2, 65536, 0.5, 0.99, "N=64K 0.5..0.99", 1, false},
    {"lightning2.attn", "block=64 inter=chain", 3, 12, 3000, 0.9, 1.0, "36 heads", 1, false},
    {"lightning2.attn", "block=64 inter=chain", 1, 1, 3000, 0.99, 1.0, "1 head: 16 segs", 2, false},
    {"lightning2.attn", "block=64 inter=chain", 1, 16, 16384, 0.99, 1.0, "bench shape", 2, false},
    {"lightning2.attn", "block=64 inter=chain", 3, 48, 700, 0.9, 1.0, "144 heads", 1, false},
    {"lightning2.attn", "block=64 inter=chain", 2, 16, 5000, 0.99, 1.0, "32 heads: chain", 2, false},
    {"gated_linear.attn", "block=64 inter=chain", 2, 3, 0, 0.5, 1.0, "gate 0.5..1", 2, false},
    {"gated_linear.attn", "block=64 inter=chain", 2, 3, 0, 1e-6, 0.05, "gate ~0", 1, false},
    {"gated_linear.attn", "block=64 inter=chain", 2, 3, 0, 0.999, 1.0, "gate ~1", 1, false},
    {"gated_linear.attn", "block=64 inter=chain", 1, 2, 65536, 0.9999, 1.0, "N=64K ~1", 1, false},
    {"gated_linear.attn", "block=64 inter=chain", 1, 2, 65536, 0.3, 1.0, "N=64K 0.3..1", 1, false},
    {"gated_linear.attn", "block=64 inter=chain", 3, 12, 2000, 0.8, 1.0, "36 heads", 1, false},
    {"gated_linear.attn", "block=64 inter=chain", 1, 1, 2000, 0.9, 1.0, "1 head: 16 segs", 1, false},
    {"lightning2.attn", "block=32 inter=chain", 1, 2, 100, 0.9, 1.0, "block 32", 1, true},
    {"linear_elu.attn", "block=64 inter=chain", 1, 2, 100, 1, 1, "noncausal", 1, true},
    {"linear_elu.attn", NULL, 2, 3, 0, 1, 1, "noncausal", 1, false},
    {"linear_elu.attn", NULL, 1, 2, 1, 1, 1, "one token", 1, false},
    {"linear_elu.attn", "block=32", 2, 3, 0, 1, 1, "noncausal", 1, false},
    {"linear_elu.attn", NULL, 1, 2, 65536, 1, 1, "N=64K", 1, false},
};

static void every_case(void **state)
{
    (void)state;
    const char *only = getenv("ATTNC_TEST_RECIPE");
    /* ATTNC_TEST_SMALL=1 (compute-sanitizer runs): no case above 5000
     * tokens; the multi-segment chain cases (3000 tokens, 16 segments) stay. */
    bool small = getenv("ATTNC_TEST_SMALL") && atoi(getenv("ATTNC_TEST_SMALL"));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (small && cases[i].tokens > 5000) {
            printf("  (small run: %s %s %s left out)\n", cases[i].file, cases[i].schedule ? cases[i].schedule : "default",
                   cases[i].what);
            continue;
        }
        if (!only || strstr(cases[i].file, only))
            run_case(&cases[i]);
    }
}

int main(void)
{
    if (!gpu_available())
        return 0;
    seed = gpu_test_seed("ATTNC_TEST_SEED to repeat; ATTNC_TEST_RECIPE=name for one recipe");
    const struct CMUnitTest tests[] = {cmocka_unit_test(every_case)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
