/* test_gpu_recipes.c — every softmax recipe in recipes/ through the public
 * API on the CUDA backend (attnc_kernel_build + attnc_launch), against the
 * fp64 reference (tests/reference) on fresh random inputs: token counts and
 * grids that divide no tile, GQA where the recipe declares it, random
 * runtime params (block tables leave some rows with no kept key: O = 0,
 * LSE = -inf), outputs poisoned with NaN before the launch. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "source_tree.h"
#include "frontend/forms.h"
#include "frontend/frontend.h"
#include "gpu_case.h"
#include "reference/ref_data.h"
#include "reference/reference.h"


static uint64_t seed;

typedef struct problem {
    const recipe *r;
    int64_t sizes[SZ_MAX];
    size_t nq, nkv, no, nl;
    void *hq, *hk, *hv;
    void *hp[NVPTX_MAX_PARAMS];
    size_t np[NVPTX_MAX_PARAMS];
    uint64_t dq, dk, dv, doo, dl, dp[NVPTX_MAX_PARAMS];
} problem;

static int64_t extent(const problem *p, const recipe_param *rp, int i)
{
    return rp->const_dims[i] > 0 ? rp->const_dims[i] : p->sizes[rp->dims[i]];
}

/* Extra sizes: a block table's [.., nqb, nkb] from the form's bq/bk; 8 otherwise. */
static void bind_extras(problem *p, const expr *e)
{
    if (!e)
        return;
    if (e->kind == EX_FORM && e->u.form == FORM_BLOCKS && e->nargs >= 3) {
        const recipe_param *rp = &p->r->params[e->args[0]->u.ival];
        int64_t bq = e->args[1]->u.ival, bk = e->args[2]->u.ival;
        if (rp->ndim >= 2 && rp->const_dims[rp->ndim - 2] == 0)
            p->sizes[rp->dims[rp->ndim - 2]] = (p->sizes[SZ_TOKENS] + bq - 1) / bq;
        if (rp->ndim >= 2 && rp->const_dims[rp->ndim - 1] == 0)
            p->sizes[rp->dims[rp->ndim - 1]] = (p->sizes[SZ_KV_TOKENS] + bk - 1) / bk;
    }
    for (int i = 0; i < e->nargs; i++)
        bind_extras(p, e->args[i]);
}

static void bind_sizes(problem *p)
{
    const recipe *r = p->r;
    static const int64_t g2[] = {21, 35}, g3[] = {5, 13, 22}, g2s[] = {18, 23}, g3s[] = {4, 9, 11};
    /* ATTNC_TEST_SMALL=1 (compute-sanitizer runs): fewer heads and tokens. */
    bool small = getenv("ATTNC_TEST_SMALL") && atoi(getenv("ATTNC_TEST_SMALL"));
    p->sizes[SZ_BATCH] = small ? 1 : 2;
    p->sizes[SZ_HEADS] = small ? 2 : 4;
    p->sizes[SZ_KV_HEADS] = r->gqa ? p->sizes[SZ_HEADS] / 2 : p->sizes[SZ_HEADS];
    int64_t n = small ? 300 : 1100;
    if (r->grid_ndim) {
        n = 1;
        for (int d = 0; d < r->grid_ndim; d++) {
            int64_t fixed = r->sizes[SZ_GRID0 + d].fixed;
            int64_t pick = r->grid_ndim == 2 ? (small ? g2s : g2)[d] : (small ? g3s : g3)[d];
            p->sizes[SZ_GRID0 + d] = fixed > 0 ? fixed : pick;
            n *= p->sizes[SZ_GRID0 + d];
        }
    }
    p->sizes[SZ_TOKENS] = p->sizes[SZ_KV_TOKENS] = n;
    for (int s = SZ_EXTRA0; s < r->nsizes && s < SZ_MAX; s++)
        p->sizes[s] = r->sizes[s].fixed > 0 ? r->sizes[s].fixed : 8;
    bind_extras(p, r->mask_surface);
}

static void fill_param(problem *p, int i, ref_rng *g)
{
    const recipe_param *rp = &p->r->params[i];
    size_t n = 1;
    for (int d = 0; d < rp->ndim; d++)
        n *= (size_t)extent(p, rp, d);
    p->np[i] = n;
    p->hp[i] = calloc(n ? n : 1, (size_t)dtype_size(rp->dtype));
    for (size_t j = 0; j < n; j++) {
        uint64_t x = ref_rng_next(g);
        switch (rp->dtype) {
        case DT_U8: ((uint8_t *)p->hp[i])[j] = (uint8_t)(x % 4 != 0); break; /* 3/4 of blocks kept */
        case DT_I32: ((int32_t *)p->hp[i])[j] = (int32_t)(x % 3); break;
        case DT_I64: ((int64_t *)p->hp[i])[j] = (int64_t)(x % 3); break;
        default: ref_fill_uniform(rp->dtype, (char *)p->hp[i] + j * (size_t)dtype_size(rp->dtype), 1, g, -1, 1);
        }
    }
}

static void make_inputs(problem *p)
{
    const recipe *r = p->r;
    int64_t B = p->sizes[SZ_BATCH], H = p->sizes[SZ_HEADS], KH = p->sizes[SZ_KV_HEADS], N = p->sizes[SZ_TOKENS];
    p->nq = (size_t)(B * H * N * r->head_dim);
    p->nkv = (size_t)(B * KH * N * r->head_dim);
    p->no = (size_t)(B * H * N * r->head_dim_v);
    p->nl = (size_t)(B * H * N);
    int es = dtype_size(r->qkv_dtype);
    p->hq = malloc(p->nq * (size_t)es);
    p->hk = malloc(p->nkv * (size_t)es);
    p->hv = malloc((size_t)(B * KH * N * r->head_dim_v) * (size_t)es);
    ref_rng g;
    ref_rng_seed(&g, seed++);
    ref_fill_uniform(r->qkv_dtype, p->hq, p->nq, &g, -1, 1);
    ref_fill_uniform(r->qkv_dtype, p->hk, p->nkv, &g, -1, 1);
    ref_fill_uniform(r->qkv_dtype, p->hv, (size_t)(B * KH * N * r->head_dim_v), &g, -1, 1);
    for (int i = 0; i < r->nparams; i++)
        fill_param(p, i, &g);
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

static attnc_tensor param_tensor(const problem *p, int i, bool device)
{
    const recipe_param *rp = &p->r->params[i];
    attnc_tensor t = {(attnc_dtype)rp->dtype, device ? (void *)(uintptr_t)p->dp[i] : p->hp[i], rp->ndim, {0}, {0}};
    int64_t st = 1;
    for (int d = rp->ndim - 1; d >= 0; d--) {
        t.shape[d] = extent(p, rp, d);
        t.stride[d] = st;
        st *= t.shape[d];
    }
    return t;
}

static attnc_status upload(problem *p, strbuf *err)
{
    const recipe *r = p->r;
    int es = dtype_size(r->qkv_dtype);
    size_t nv = p->nkv / (size_t)r->head_dim * (size_t)r->head_dim_v;
    attnc_status st;
    if ((st = cuda_mem_alloc(&p->dq, p->nq * es, err)) || (st = cuda_mem_alloc(&p->dk, p->nkv * es, err)) ||
        (st = cuda_mem_alloc(&p->dv, nv * es, err)) || (st = cuda_mem_alloc(&p->doo, p->no * es, err)) ||
        (st = cuda_mem_alloc(&p->dl, p->nl * 4, err)))
        return st;
    if ((st = cuda_memcpy_htod(p->dq, p->hq, p->nq * es, err)) || (st = cuda_memcpy_htod(p->dk, p->hk, p->nkv * es, err)) ||
        (st = cuda_memcpy_htod(p->dv, p->hv, nv * es, err)) || (st = cuda_memset8(p->doo, 0xff, p->no * es, err)) ||
        (st = cuda_memset8(p->dl, 0xff, p->nl * 4, err)))
        return st;
    for (int i = 0; i < r->nparams; i++) {
        size_t bytes = p->np[i] * (size_t)dtype_size(r->params[i].dtype);
        if ((st = cuda_mem_alloc(&p->dp[i], bytes, err)) || (st = cuda_memcpy_htod(p->dp[i], p->hp[i], bytes, err)))
            return st;
    }
    return ATTNC_OK;
}

static attnc_status set_args(const problem *p, attnc_args *a)
{
    const recipe *r = p->r;
    int64_t B = p->sizes[SZ_BATCH], H = p->sizes[SZ_HEADS], KH = p->sizes[SZ_KV_HEADS], N = p->sizes[SZ_TOKENS];
    attnc_tensor q = tensor4(r->qkv_dtype, p->dq, B, H, N, r->head_dim);
    attnc_tensor k = tensor4(r->qkv_dtype, p->dk, B, KH, N, r->head_dim);
    attnc_tensor v = tensor4(r->qkv_dtype, p->dv, B, KH, N, r->head_dim_v);
    attnc_tensor o = tensor4(r->qkv_dtype, p->doo, B, H, N, r->head_dim_v);
    attnc_tensor l = {ATTNC_F32, (void *)(uintptr_t)p->dl, 3, {B, H, N}, {H * N, N, 1}};
    attnc_status st;
    if ((st = attnc_args_set_tensor(a, "q", &q)) || (st = attnc_args_set_tensor(a, "k", &k)) ||
        (st = attnc_args_set_tensor(a, "v", &v)) || (st = attnc_args_set_tensor(a, "o", &o)) ||
        (st = attnc_args_set_tensor(a, "lse", &l)))
        return st;
    for (int i = 0; i < r->nparams; i++) {
        attnc_tensor t = param_tensor(p, i, true);
        if ((st = attnc_args_set_tensor(a, r->params[i].name, &t)))
            return st;
    }
    for (int d = 0; d < r->grid_ndim; d++) { /* by extent name: grid(y: H) sets H */
        const char *extent = r->sizes[SZ_GRID0 + d].name;
        if (extent && r->sizes[SZ_GRID0 + d].fixed <= 0 &&
            (st = attnc_args_set_size(a, extent, p->sizes[SZ_GRID0 + d])))
            return st;
    }
    for (int s = SZ_EXTRA0; s < r->nsizes && s < SZ_MAX; s++)
        if (r->sizes[s].fixed <= 0 && (st = attnc_args_set_size(a, r->sizes[s].name, p->sizes[s])))
            return st;
    return ATTNC_OK;
}

static void check_against_reference(const problem *p, const char *name)
{
    const recipe *r = p->r;
    int es = dtype_size(r->qkv_dtype);
    void *go = malloc(p->no * (size_t)es);
    float *gl = malloc(p->nl * 4);
    double *ro = malloc(p->no * sizeof(double)), *rl = malloc(p->nl * sizeof(double));
    strbuf err;
    sb_init(&err);
    if (cuda_memcpy_dtoh(go, p->doo, p->no * es, &err) || cuda_memcpy_dtoh(gl, p->dl, p->nl * 4, &err))
        fail_msg("%s: %s", name, sb_cstr(&err));
    int64_t B = p->sizes[SZ_BATCH], H = p->sizes[SZ_HEADS], KH = p->sizes[SZ_KV_HEADS], N = p->sizes[SZ_TOKENS];
    ref_view params[NVPTX_MAX_PARAMS];
    for (int i = 0; i < r->nparams; i++) {
        attnc_tensor t = param_tensor(p, i, false);
        params[i] = (ref_view){r->params[i].dtype, t.data, t.ndim, {0}, {0}};
        memcpy(params[i].shape, t.shape, sizeof t.shape);
        memcpy(params[i].stride, t.stride, sizeof t.stride);
    }
    ref_problem rp = {.r = r, .params = params};
    memcpy(rp.sizes, p->sizes, sizeof rp.sizes);
    rp.q = view4(r->qkv_dtype, p->hq, B, H, N, r->head_dim);
    rp.k = view4(r->qkv_dtype, p->hk, B, KH, N, r->head_dim);
    rp.v = view4(r->qkv_dtype, p->hv, B, KH, N, r->head_dim_v);
    const char *why = NULL;
    if (!ref_run(&rp, ro, rl, &why))
        fail_msg("%s: reference: %s", name, why);
    long dead = 0;
    for (size_t i = 0; i < p->nl; i++)
        dead += rl[i] == -INFINITY;
    ref_compare_result co = ref_compare(ro, r->qkv_dtype, go, p->no, ref_tolerance(r->qkv_dtype));
    ref_compare_result cl = ref_compare_lse(rl, gl, p->nl, 1e-3);
    printf("  %-28s o rel_l2 %.2e max_abs %.2e nan %zu | lse rel_l2 %.2e bad_inf %zu | rows without keys %ld\n",
           name, co.rel_l2, co.max_abs, co.nan_count, cl.rel_l2, cl.bad_inf, dead);
    if (!co.ok || !cl.ok)
        fail_msg("%s: GPU result differs from the fp64 reference", name);
    sb_free(&err);
    free(go), free(gl), free(ro), free(rl);
}

static void free_problem(problem *p)
{
    uint64_t d[5] = {p->dq, p->dk, p->dv, p->doo, p->dl};
    for (int i = 0; i < 5; i++)
        cuda_mem_free(d[i]);
    for (int i = 0; i < NVPTX_MAX_PARAMS; i++) {
        cuda_mem_free(p->dp[i]);
        free(p->hp[i]);
    }
    free(p->hq), free(p->hk), free(p->hv);
}

/* Builds the recipe for CUDA; with mma set, the default schedule again
 * with that product kind (e.g. "sync" to test mma.sync where the default
 * on this GPU is wgmma), without its overlap= unless it is wgmma_ws. */
static attnc_status build(attnc_kernel **k, attnc_context *ctx, attnc_recipe *ar, const char *mma)
{
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    if (mma && strchr(mma, '=')) { /* a whole schedule */
        o.schedule = mma;
        return attnc_kernel_build(k, ctx, ar, &o);
    }
    attnc_status st = attnc_kernel_build(k, ctx, ar, &o);
    if (st || !mma)
        return st;
    char sched[512];
    /* the overlapped loop (overlap=N, the default of unmasked sequences on
     * sm_90a) is the producer kernel's: other products run the plain loop
     * (a later field overrides an earlier one) */
    snprintf(sched, sizeof sched, "%s mma=%s%s", attnc_kernel_schedule(*k), mma,
             strcmp(mma, "wgmma_ws") ? " overlap=0" : "");
    attnc_kernel_destroy(*k);
    *k = NULL;
    o.schedule = sched;
    return attnc_kernel_build(k, ctx, ar, &o);
}

static void run_recipe(const char *file, const char *mma)
{
    char path[600];
    snprintf(path, sizeof path, "%s/recipes/%s", test_source_dir(), file);
    attnc_context *ctx = NULL;
    attnc_recipe *ar = NULL;
    attnc_kernel *k = NULL;
    attnc_args *a = NULL;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    if (attnc_recipe_from_file(&ar, ctx, path))
        fail_msg("%s: %s", file, attnc_context_errmsg(ctx));
    arena ar2;
    arena_init(&ar2, NULL);
    size_t len;
    const char *why;
    char *text = frontend_read_file(&ar2, path, &len, &why);
    diag_list dl;
    diag_list_init(&dl, &ar2, path, text, len);
    problem p = {.r = frontend_parse(&ar2, path, text, len, &dl)};
    assert_non_null(p.r);
    attnc_status st = build(&k, ctx, ar, p.r->family == FAMILY_LINEAR ? NULL : mma);
    if (k)
        printf("  %-28s %s\n", file, attnc_kernel_schedule(k));
    if (p.r->family == FAMILY_LINEAR) { /* decays/gates need valid ranges: test_gpu_linear.c */
        printf("  %-28s skipped: linear recipes are checked by test_gpu_linear\n", file);
    } else if (st) {
        fail_msg("%s: build: %s", file, attnc_context_errmsg(ctx));
    } else {
        bind_sizes(&p);
        make_inputs(&p);
        strbuf err;
        sb_init(&err);
        if (upload(&p, &err))
            fail_msg("%s: %s", file, sb_cstr(&err));
        assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
        if (set_args(&p, a) || attnc_launch(k, a, NULL))
            fail_msg("%s: launch: %s", file, attnc_kernel_errmsg(k));
        if (cuda_synchronize(&err))
            fail_msg("%s: %s", file, sb_cstr(&err));
        check_against_reference(&p, file);
        sb_free(&err);
        free_problem(&p);
    }
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(ar);
    attnc_context_destroy(ctx);
    arena_free_all(&ar2);
}

static void every_recipe(void **state)
{
    (void)state;
    DIR *d = test_opendir_recipes();
    assert_non_null(d);
    char *names[256];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < 256;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".attn"))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    for (int i = 0; i < n; i++) {
        const char *only = getenv("ATTNC_TEST_RECIPE");
        if (!only || strstr(names[i], only)) {
            run_recipe(names[i], NULL);  /* the GPU's default (wgmma on sm_90a where the tile allows) */
            run_recipe(names[i], "sync"); /* mma.sync, the sm_80 path */
        }
        free(names[i]);
    }
}

/* On sm_90a, grid recipes under mma=wgmma_ws: the producer copies tile
 * boxes with TMA (2-D: {dim, x, y, heads, batch}; 3-D: {dim, x, y, z,
 * head + heads*batch}, runtime/cuda/cuda_tma.h), on grids that divide no
 * box (21x35, 5x13x22: TMA fills edge boxes with zeros), batch 2, GQA
 * where declared; key boxes of 64 and 128 tokens. */
static void grid_tma(void **state)
{
    (void)state;
    if (!gpu_hopper("TMA"))
        return;
    static const struct {
        const char *file, *schedule;
    } cases[] = {
        {"neighborhood2d.attn", "q=8x16 kv=8x8 stages=2 warps=8 mma=wgmma_ws"},
        {"neighborhood2d.attn", "q=8x16 kv=8x16 stages=2 warps=8 mma=wgmma_ws"},
        {"neighborhood2d.attn", "q=8x16 kv=16x8 stages=2 warps=8 mma=wgmma_ws"},
        {"neighborhood2d_strided.attn", "q=8x16 kv=8x16 stages=2 warps=8 mma=wgmma_ws"},
        {"neighborhood2d_dilated.attn", "q=8x16 kv=8x8 stages=2 warps=8 mma=wgmma_ws"},
        {"relpos_bias2d.attn", "q=8x16 kv=8x16 stages=2 warps=8 mma=wgmma_ws"},
        {"blocked2d.attn", "q=8x8 kv=8x8 stages=2 warps=4 mma=wgmma_ws"},
        {"neighborhood3d.attn", "q=1x8x16 kv=1x8x8 stages=2 warps=8 mma=wgmma_ws"},
        {"neighborhood3d.attn", "q=4x4x8 kv=2x8x8 stages=2 warps=8 mma=wgmma_ws"},
        {"neighborhood3d.attn", "q=2x8x8 kv=2x8x8 stages=2 warps=8 mma=wgmma_ws"},
    };
    const char *only = getenv("ATTNC_TEST_RECIPE");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!only || strstr(cases[i].file, only))
            run_recipe(cases[i].file, cases[i].schedule);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    seed = gpu_test_seed("ATTNC_TEST_SEED to repeat; ATTNC_TEST_RECIPE=name for one recipe");
    const struct CMUnitTest tests[] = {cmocka_unit_test(every_recipe), cmocka_unit_test(grid_tma)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
