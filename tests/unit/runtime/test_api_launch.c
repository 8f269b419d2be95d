/* Unit tests for the public API's argument checks (runtime/api_*.c): every
 * bad build or launch returns a clear status and message, and a rejected
 * launch writes nothing. Recipes come from text through the real front end
 * and run on the CPU backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/include/attnc.h"

static const char *GRID_RECIPE = "recipe grid_rpb\n"
                                 "input  q, k, v : f32 [batch, heads, tokens, 16]\n"
                                 "tokens grid(y: H, x: W)\n"
                                 "param  rpb : f32 [heads, 5, 5]\n"
                                 "mask   neighborhood(window: (3, 3))\n"
                                 "score  s * scale + rpb[head, k.y - q.y + 2, k.x - q.x + 2]\n"
                                 "tile   auto\n";

static const char *GQA_RECIPE = "recipe gqa_small\n"
                                "input  q : f32 [batch, heads, tokens, 16]\n"
                                "input  k, v : f32 [batch, kv_heads, tokens, 16]\n"
                                "mask   causal\n"
                                "tile   auto\n";

enum { B = 1, H = 2, GY = 4, GX = 5, T = GY * GX, D = 16 };

typedef struct fixture {
    attnc_context *ctx;
    attnc_recipe *r;
    attnc_kernel *k;
    attnc_args *a;
    float q[B * H * T * D], kk[B * H * T * D], v[B * H * T * D], o[B * H * T * D], lse[B * H * T];
    float rpb[H * 5 * 5];
    attnc_tensor tq, tk, tv, to, tl, tr;
} fixture;

static attnc_tensor tensor4(float *data, int64_t b, int64_t h, int64_t t, int64_t d)
{
    attnc_tensor x = {ATTNC_F32, data, 4, {b, h, t, d}, {h * t * d, t * d, d, 1}};
    return x;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(attnc_context_create(&f->ctx, NULL), ATTNC_OK);
    assert_int_equal(attnc_recipe_from_text(&f->r, f->ctx, "grid.attn", GRID_RECIPE, strlen(GRID_RECIPE)), ATTNC_OK);
    attnc_status st = attnc_kernel_build(&f->k, f->ctx, f->r, NULL);
    if (st)
        fail_msg("%s", attnc_context_errmsg(f->ctx));
    assert_int_equal(attnc_args_create(&f->a, f->k), ATTNC_OK);
    for (size_t i = 0; i < sizeof f->q / sizeof *f->q; i++)
        f->q[i] = f->kk[i] = f->v[i] = (float)((int)(i * 37 % 101) - 50) / 50.0f;
    for (size_t i = 0; i < sizeof f->rpb / sizeof *f->rpb; i++)
        f->rpb[i] = 0.01f * (float)i;
    f->tq = tensor4(f->q, B, H, T, D);
    f->tk = tensor4(f->kk, B, H, T, D);
    f->tv = tensor4(f->v, B, H, T, D);
    f->to = tensor4(f->o, B, H, T, D);
    f->tl = (attnc_tensor){ATTNC_F32, f->lse, 3, {B, H, T}, {H * T, T, 1}};
    f->tr = (attnc_tensor){ATTNC_F32, f->rpb, 3, {H, 5, 5}, {25, 5, 1}};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    attnc_args_destroy(f->a);
    attnc_kernel_destroy(f->k);
    attnc_recipe_destroy(f->r);
    attnc_context_destroy(f->ctx);
    free(f);
    return 0;
}

/* Sets every argument correctly. */
static void set_all(fixture *f)
{
    assert_int_equal(attnc_args_set_tensor(f->a, "q", &f->tq), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "k", &f->tk), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "v", &f->tv), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "o", &f->to), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "lse", &f->tl), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "rpb", &f->tr), ATTNC_OK);
    assert_int_equal(attnc_args_set_size(f->a, "H", GY), ATTNC_OK);
    assert_int_equal(attnc_args_set_size(f->a, "W", GX), ATTNC_OK);
}

static void poison(fixture *f)
{
    for (size_t i = 0; i < sizeof f->o / sizeof *f->o; i++)
        f->o[i] = NAN;
    for (size_t i = 0; i < sizeof f->lse / sizeof *f->lse; i++)
        f->lse[i] = NAN;
}

/* The launch fails with INVALID_ARGUMENT, the message names `what`, and
 * neither output was touched. */
static void expect_rejected(fixture *f, const char *what)
{
    poison(f);
    attnc_status st = attnc_launch(f->k, f->a, NULL);
    if (st != ATTNC_ERR_INVALID_ARGUMENT)
        fail_msg("expected invalid argument for '%s', got %s (%s)", what, attnc_status_string(st),
                 attnc_kernel_errmsg(f->k));
    if (!strstr(attnc_kernel_errmsg(f->k), what))
        fail_msg("message '%s' does not mention '%s'", attnc_kernel_errmsg(f->k), what);
    for (size_t i = 0; i < sizeof f->o / sizeof *f->o; i++)
        assert_true(isnan(f->o[i]));
    for (size_t i = 0; i < sizeof f->lse / sizeof *f->lse; i++)
        assert_true(isnan(f->lse[i]));
}

static void good_launch_works(void **state)
{
    fixture *f = *state;
    set_all(f);
    poison(f);
    attnc_status st = attnc_launch(f->k, f->a, NULL);
    if (st)
        fail_msg("%s", attnc_kernel_errmsg(f->k));
    for (size_t i = 0; i < sizeof f->o / sizeof *f->o; i++)
        assert_false(isnan(f->o[i]));
    assert_string_equal(attnc_kernel_errmsg(f->k), "");
}

static void missing_tensors_and_params(void **state)
{
    fixture *f = *state;
    attnc_args_set_tensor(f->a, "k", &f->tk);
    attnc_args_set_tensor(f->a, "v", &f->tv);
    attnc_args_set_tensor(f->a, "o", &f->to);
    expect_rejected(f, "tensor 'q' is not set");
    attnc_args_set_tensor(f->a, "q", &f->tq);
    attnc_args_set_size(f->a, "H", GY);
    attnc_args_set_size(f->a, "W", GX);
    expect_rejected(f, "param 'rpb' is not set");
}

static void null_pointers(void **state)
{
    fixture *f = *state;
    set_all(f);
    attnc_tensor bad = f->tq;
    bad.data = NULL;
    attnc_args_set_tensor(f->a, "q", &bad);
    expect_rejected(f, "'q': data is NULL");
    set_all(f);
    attnc_tensor badp = f->tr;
    badp.data = NULL;
    attnc_args_set_tensor(f->a, "rpb", &badp);
    expect_rejected(f, "'rpb': data is NULL");
    assert_int_equal(attnc_launch(f->k, NULL, NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_launch(NULL, f->a, NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_args_set_tensor(f->a, "q", NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_args_set_tensor(f->a, NULL, &f->tq), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_args_set_tensor(NULL, "q", &f->tq), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_args_create(NULL, f->k), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_args_set_scalar(f->a, "rpb", 1.0), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(f->k), "not a scalar f32 param"));
    assert_int_equal(attnc_args_set_scalar(f->a, "q", 1.0), ATTNC_ERR_INVALID_ARGUMENT);
}

static void wrong_sizes(void **state)
{
    fixture *f = *state;
    set_all(f);
    attnc_tensor x = f->tq;
    x.shape[3] = 8; /* head_dim */
    attnc_args_set_tensor(f->a, "q", &x);
    expect_rejected(f, "head_dim");
    set_all(f);
    x = f->tk;
    x.shape[2] = T - 1; /* kv_tokens of a self-attention recipe */
    x.stride[1] = (T - 1) * D, x.stride[0] = H * (T - 1) * D;
    attnc_args_set_tensor(f->a, "k", &x);
    expect_rejected(f, "not cross-attention");
    set_all(f);
    x = f->tk;
    x.shape[1] = 1; /* kv_heads without GQA */
    attnc_args_set_tensor(f->a, "k", &x);
    expect_rejected(f, "kv_heads");
    set_all(f);
    x = f->to;
    x.shape[0] = 2;
    attnc_args_set_tensor(f->a, "o", &x);
    expect_rejected(f, "tensor 'o': shape[0]");
    set_all(f);
    x = f->tq;
    x.ndim = 3;
    attnc_args_set_tensor(f->a, "q", &x);
    expect_rejected(f, "ndim is 3");
    set_all(f);
    x = f->tq;
    x.dtype = ATTNC_BF16;
    attnc_args_set_tensor(f->a, "q", &x);
    expect_rejected(f, "dtype bf16, expected f32");
    set_all(f);
    attnc_tensor l = f->tl;
    l.shape[2] = T + 1;
    l.stride[1] = T + 1, l.stride[0] = H * (T + 1);
    attnc_args_set_tensor(f->a, "lse", &l);
    expect_rejected(f, "tensor 'lse': shape[2]");
    set_all(f);
    attnc_tensor p = f->tr;
    p.shape[1] = 4;
    attnc_args_set_tensor(f->a, "rpb", &p);
    expect_rejected(f, "tensor 'rpb': shape[1]");
}

static void grid_sizes(void **state)
{
    fixture *f = *state;
    set_all(f);
    attnc_args_set_size(f->a, "W", GX + 1);
    expect_rejected(f, "token grid holds 24 tokens");
    assert_int_equal(attnc_args_set_size(f->a, "Z", 3), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(f->k), "'Z' is not a grid dimension"));
    assert_int_equal(attnc_args_set_size(f->a, "H", -1), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_args_set_size(f->a, "H", 0), ATTNC_OK); /* an empty launch's grid */
    assert_int_equal(attnc_args_set_size(f->a, "batch", 2), ATTNC_ERR_INVALID_ARGUMENT);
    /* a window larger than its grid dim is refused at launch */
    set_all(f);
    enum { T2 = 2 * 10 };
    static float q2[H * T2 * D], o2[H * T2 * D], l2[H * T2];
    attnc_tensor a2 = tensor4(q2, 1, H, T2, D), b2 = tensor4(o2, 1, H, T2, D);
    attnc_tensor c2 = {ATTNC_F32, l2, 3, {1, H, T2}, {H * T2, T2, 1}};
    attnc_args_set_tensor(f->a, "q", &a2);
    attnc_args_set_tensor(f->a, "k", &a2);
    attnc_args_set_tensor(f->a, "v", &a2);
    attnc_args_set_tensor(f->a, "o", &b2);
    attnc_args_set_tensor(f->a, "lse", &c2);
    attnc_args_set_size(f->a, "H", 2);
    attnc_args_set_size(f->a, "W", 10);
    attnc_status st = attnc_launch(f->k, f->a, NULL);
    assert_int_equal(st, ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(f->k), "window 3 x dilation 1 is larger than H = 2"));
}

static void broken_strides_and_alignment(void **state)
{
    fixture *f = *state;
    set_all(f);
    attnc_tensor x = f->to;
    x.stride[2] = 0; /* every token of o at one address */
    attnc_args_set_tensor(f->a, "o", &x);
    expect_rejected(f, "overlap");
    set_all(f);
    x = f->to;
    x.stride[1] = D; /* heads overlap tokens */
    attnc_args_set_tensor(f->a, "o", &x);
    expect_rejected(f, "overlap");
    set_all(f);
    x = f->tk;
    x.stride[2] = -D;
    attnc_args_set_tensor(f->a, "k", &x);
    expect_rejected(f, "negative");
    set_all(f);
    x = f->tq;
    x.stride[3] = 2;
    attnc_args_set_tensor(f->a, "q", &x);
    expect_rejected(f, "must be contiguous");
    set_all(f);
    x = f->tv;
    x.data = (char *)f->v + 2;
    attnc_args_set_tensor(f->a, "v", &x);
    expect_rejected(f, "not aligned");
    set_all(f);
    x = f->tq;
    x.stride[0] = INT64_MAX / 2;
    x.shape[0] = 1; /* a huge stride on a size-1 dim is harmless */
    attnc_args_set_tensor(f->a, "q", &x);
    assert_int_equal(attnc_launch(f->k, f->a, NULL), ATTNC_OK);
    x = f->tk;
    x.stride[1] = INT64_MAX / 2;
    attnc_args_set_tensor(f->a, "k", &x);
    expect_rejected(f, "overflow");
}

static void lse_on_linear_and_gqa_heads(void **state)
{
    fixture *f = *state;
    static const char *lin = "recipe lin\ninput q, k, v : f32 [batch, heads, tokens, 16]\n"
                             "linear {\n  causal\n  split block 16 intra quadratic inter state\n}\ntile auto\n";
    attnc_recipe *r = NULL;
    attnc_kernel *k = NULL;
    attnc_args *a = NULL;
    if (attnc_recipe_from_text(&r, f->ctx, "lin.attn", lin, strlen(lin)))
        fail_msg("%s", attnc_context_errmsg(f->ctx));
    assert_int_equal(attnc_kernel_build(&k, f->ctx, r, NULL), ATTNC_OK);
    assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
    static float buf[2 * 8 * 16], lse[2 * 8];
    attnc_tensor t = tensor4(buf, 1, 2, 8, 16), l = {ATTNC_F32, lse, 3, {1, 2, 8}, {16, 8, 1}};
    attnc_args_set_tensor(a, "q", &t);
    attnc_args_set_tensor(a, "k", &t);
    attnc_args_set_tensor(a, "v", &t);
    static float out[2 * 8 * 16];
    attnc_tensor o = tensor4(out, 1, 2, 8, 16);
    attnc_args_set_tensor(a, "o", &o);
    attnc_args_set_tensor(a, "lse", &l);
    assert_int_equal(attnc_launch(k, a, NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(k), "no log-sum-exp"));
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);

    assert_int_equal(attnc_recipe_from_text(&r, f->ctx, "gqa.attn", GQA_RECIPE, strlen(GQA_RECIPE)), ATTNC_OK);
    assert_int_equal(attnc_kernel_build(&k, f->ctx, r, NULL), ATTNC_OK);
    assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
    static float q3[3 * 4 * 16], kv2[2 * 4 * 16], o3[3 * 4 * 16];
    attnc_tensor tq = tensor4(q3, 1, 3, 4, 16), tkv = tensor4(kv2, 1, 2, 4, 16), to = tensor4(o3, 1, 3, 4, 16);
    attnc_args_set_tensor(a, "q", &tq);
    attnc_args_set_tensor(a, "k", &tkv);
    attnc_args_set_tensor(a, "v", &tkv);
    attnc_args_set_tensor(a, "o", &to);
    assert_int_equal(attnc_launch(k, a, NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(k), "multiple of kv_heads"));
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
}

static void bad_builds(void **state)
{
    fixture *f = *state;
    attnc_kernel *k = (attnc_kernel *)f; /* must be reset to NULL on failure */
    assert_int_equal(attnc_kernel_build(&k, f->ctx, NULL, NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_null(k);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.version = 99;
    assert_int_equal(attnc_kernel_build(&k, f->ctx, f->r, &o), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_context_errmsg(f->ctx), "options version 99"));
    o = (attnc_build_options)ATTNC_BUILD_OPTIONS_INIT;
    o.schedule = "q=3x8 kv=8x8";
    assert_int_equal(attnc_kernel_build(&k, f->ctx, f->r, &o), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_context_errmsg(f->ctx), "powers of two"));
    o.schedule = "q=64";
    assert_int_equal(attnc_kernel_build(&k, f->ctx, f->r, &o), ATTNC_ERR_INVALID_ARGUMENT);
    assert_null(k);
    attnc_recipe *r = NULL;
    const char *bad = "recipe broken\ninput q, k, v : f32 [batch, heads, tokens, 8]\nmask causl\n";
    assert_int_equal(attnc_recipe_from_text(&r, f->ctx, "broken.attn", bad, strlen(bad)), ATTNC_ERR_RECIPE);
    assert_null(r);
    assert_non_null(strstr(attnc_context_errmsg(f->ctx), "broken.attn:3:"));
    assert_int_equal(attnc_recipe_from_file(&r, f->ctx, "/nonexistent/x.attn"), ATTNC_ERR_IO);
    assert_non_null(strstr(attnc_context_errmsg(f->ctx), "cannot read /nonexistent/x.attn"));
    attnc_kernel_destroy(NULL);
    attnc_recipe_destroy(NULL);
    attnc_args_destroy(NULL);
    attnc_context_destroy(NULL);
    assert_int_equal(attnc_context_create(NULL, NULL), ATTNC_ERR_INVALID_ARGUMENT);
}

static void args_of_another_kernel(void **state)
{
    fixture *f = *state;
    attnc_kernel *k2 = NULL;
    assert_int_equal(attnc_kernel_build(&k2, f->ctx, f->r, NULL), ATTNC_OK);
    set_all(f);
    assert_int_equal(attnc_launch(k2, f->a, NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(k2), "another kernel"));
    attnc_kernel_destroy(k2);
}

/* attnc_args_set_data swaps buffers of tensors set earlier: the launch
 * reads the new ones; a bad name changes nothing. */
static void set_data_swaps_buffers(void **state)
{
    fixture *f = *state;
    set_all(f);
    poison(f);
    assert_int_equal(attnc_launch(f->k, f->a, NULL), ATTNC_OK);
    float first[B * H * T * D], o2[B * H * T * D], q2[B * H * T * D];
    memcpy(first, f->o, sizeof first);
    for (size_t i = 0; i < sizeof q2 / sizeof *q2; i++) {
        q2[i] = -f->q[i] + 0.25f;
        o2[i] = NAN;
    }
    const char *names[] = {"q", "o"};
    void *data[] = {q2, o2};
    assert_int_equal(attnc_args_set_data(f->a, 2, names, data), ATTNC_OK);
    poison(f);
    assert_int_equal(attnc_launch(f->k, f->a, NULL), ATTNC_OK);
    int differ = 0;
    for (size_t i = 0; i < sizeof o2 / sizeof *o2; i++) {
        assert_false(isnan(o2[i]));
        assert_true(isnan(f->o[i])); /* the old output was not written */
        differ += o2[i] != first[i];
    }
    assert_true(differ > 0);
    /* Back to the fixture's buffers: the first result again, bit for bit. */
    void *back[] = {f->q, f->o};
    assert_int_equal(attnc_args_set_data(f->a, 2, names, back), ATTNC_OK);
    assert_int_equal(attnc_launch(f->k, f->a, NULL), ATTNC_OK);
    assert_memory_equal(f->o, first, sizeof first);
    /* A bad name anywhere in the list changes nothing. */
    const char *bad[] = {"q", "nope"};
    void *data3[] = {q2, o2};
    assert_int_equal(attnc_args_set_data(f->a, 2, bad, data3), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(f->k), "'nope'"));
    assert_int_equal(attnc_launch(f->k, f->a, NULL), ATTNC_OK);
    assert_memory_equal(f->o, first, sizeof first);
    assert_int_equal(attnc_args_set_data(f->a, -1, names, data), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_args_set_data(f->a, 1, NULL, data), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_args_set_data(NULL, 1, names, data), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_args_set_data(f->a, 0, NULL, NULL), ATTNC_OK);
    /* A tensor never set (a fresh args object) is refused. */
    attnc_args *a2 = NULL;
    assert_int_equal(attnc_args_create(&a2, f->k), ATTNC_OK);
    assert_int_equal(attnc_args_set_data(a2, 1, names, data), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(f->k), "set earlier"));
    attnc_args_destroy(a2);
}

int main(void)
{
#define T_(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T_(good_launch_works),      T_(missing_tensors_and_params),   T_(null_pointers),
        T_(wrong_sizes),            T_(grid_sizes),                   T_(broken_strides_and_alignment),
        T_(lse_on_linear_and_gqa_heads), T_(bad_builds),              T_(args_of_another_kernel),
        T_(set_data_swaps_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
