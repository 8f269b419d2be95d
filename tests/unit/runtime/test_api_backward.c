/* The backward API (attnc_kernel_build_backward and its launches): builds
 * refused with clear statuses (CUDA, a score without a gradient, unknown
 * flags), version-1 build options still accepted, every missing or
 * misshapen backward tensor named at launch with nothing written, a
 * gradient of a mask-only param refused, outputs overwritten (never
 * accumulated), bit-identical results run to run and for any split of the
 * programs (as a thread pool would run them), GQA/cross launches, and
 * params held constant (attnc_build_options.no_grad). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/api/api_backward.h"
#include "runtime/include/attnc.h"

static const char *RPB = "recipe grid_rpb\n"
                         "input  q, k, v : f32 [batch, heads, tokens, 16]\n"
                         "tokens grid(y: H, x: W)\n"
                         "param  rpb : f32 [heads, 5, 5]\n"
                         "param  keep : u8 [heads]\n"
                         "mask   neighborhood(window: (3, 3)) && keep[head] != 0\n"
                         "score  s * scale + rpb[head, k.y - q.y + 2, k.x - q.x + 2]\n";

enum { B = 1, H = 2, GY = 4, GX = 5, T = GY * GX, D = 16, N4 = B * H * T * D };

typedef struct fixture {
    attnc_context *ctx;
    attnc_recipe *r;
    attnc_kernel *fwd, *bwd;
    float q[N4], k[N4], v[N4], o[N4], lse[B * H * T], dout[N4], dq[N4], dk[N4], dv[N4];
    float rpb[H * 25], drpb[H * 25];
    uint8_t keep[H];
} fixture;

static attnc_tensor t4(float *p)
{
    return (attnc_tensor){ATTNC_F32, p, 4, {B, H, T, D}, {H * T * D, T * D, D, 1}};
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(attnc_context_create(&f->ctx, NULL), ATTNC_OK);
    assert_int_equal(attnc_recipe_from_text(&f->r, f->ctx, "grid.attn", RPB, strlen(RPB)), ATTNC_OK);
    if (attnc_kernel_build(&f->fwd, f->ctx, f->r, NULL) || attnc_kernel_build_backward(&f->bwd, f->ctx, f->r, NULL))
        fail_msg("%s", attnc_context_errmsg(f->ctx));
    for (int i = 0; i < N4; i++) {
        f->q[i] = (float)((i * 37 % 101) - 50) / 50.0f;
        f->k[i] = (float)((i * 53 % 97) - 48) / 48.0f;
        f->v[i] = (float)((i * 29 % 89) - 44) / 44.0f;
        f->dout[i] = (float)((i * 17 % 83) - 41) / 41.0f;
    }
    for (int i = 0; i < H * 25; i++)
        f->rpb[i] = 0.02f * (float)(i % 11) - 0.1f;
    f->keep[0] = 1;
    f->keep[1] = 0; /* head 1 keeps nothing: every row masked */
    attnc_args *a;
    assert_int_equal(attnc_args_create(&a, f->fwd), ATTNC_OK);
    attnc_tensor tq = t4(f->q), tk = t4(f->k), tv = t4(f->v), to = t4(f->o);
    attnc_tensor tl = {ATTNC_F32, f->lse, 3, {B, H, T}, {H * T, T, 1}};
    attnc_tensor tr = {ATTNC_F32, f->rpb, 3, {H, 5, 5}, {25, 5, 1}}, tkp = {ATTNC_U8, f->keep, 1, {H}, {1}};
    assert_int_equal(attnc_args_set_tensor(a, "q", &tq) | attnc_args_set_tensor(a, "k", &tk) |
                         attnc_args_set_tensor(a, "v", &tv) | attnc_args_set_tensor(a, "o", &to) |
                         attnc_args_set_tensor(a, "lse", &tl) | attnc_args_set_tensor(a, "rpb", &tr) |
                         attnc_args_set_tensor(a, "keep", &tkp) | attnc_args_set_size(a, "H", GY) |
                         attnc_args_set_size(a, "W", GX),
                     ATTNC_OK);
    assert_int_equal(attnc_launch(f->fwd, a, NULL), ATTNC_OK);
    attnc_args_destroy(a);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    attnc_kernel_destroy(f->fwd);
    attnc_kernel_destroy(f->bwd);
    attnc_recipe_destroy(f->r);
    attnc_context_destroy(f->ctx);
    free(f);
    return 0;
}

/* Backward args with everything set (skip: a name to leave out). */
static attnc_args *bwd_args(fixture *f, const char *skip)
{
    attnc_args *a;
    assert_int_equal(attnc_args_create(&a, f->bwd), ATTNC_OK);
    attnc_tensor ts[9] = {t4(f->q), t4(f->k), t4(f->v), t4(f->o), {ATTNC_F32, f->lse, 3, {B, H, T}, {H * T, T, 1}},
                          t4(f->dout), t4(f->dq), t4(f->dk), t4(f->dv)};
    static const char *names[9] = {"q", "k", "v", "o", "lse", "do", "dq", "dk", "dv"};
    for (int i = 0; i < 9; i++)
        if (!skip || strcmp(skip, names[i]))
            assert_int_equal(attnc_args_set_tensor(a, names[i], &ts[i]), ATTNC_OK);
    attnc_tensor tr = {ATTNC_F32, f->rpb, 3, {H, 5, 5}, {25, 5, 1}}, tkp = {ATTNC_U8, f->keep, 1, {H}, {1}};
    attnc_tensor td = {ATTNC_F32, f->drpb, 3, {H, 5, 5}, {25, 5, 1}};
    assert_int_equal(attnc_args_set_tensor(a, "rpb", &tr) | attnc_args_set_tensor(a, "keep", &tkp) |
                         attnc_args_set_size(a, "H", GY) | attnc_args_set_size(a, "W", GX),
                     ATTNC_OK);
    if (!skip || strcmp(skip, "drpb"))
        assert_int_equal(attnc_args_set_tensor(a, "drpb", &td), ATTNC_OK);
    return a;
}

static void poison(fixture *f, float v)
{
    for (int i = 0; i < N4; i++)
        f->dq[i] = f->dk[i] = f->dv[i] = v;
    for (int i = 0; i < H * 25; i++)
        f->drpb[i] = v;
}

static void cuda_is_unsupported(void **state)
{
    fixture *f = *state;
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    attnc_kernel *k = (attnc_kernel *)0x1;
    assert_int_equal(attnc_kernel_build_backward(&k, f->ctx, f->r, &o), ATTNC_ERR_UNSUPPORTED);
    assert_null(k);
    assert_non_null(strstr(attnc_context_errmsg(f->ctx), "CPU backend"));
}

static void score_without_gradient_is_a_recipe_error(void **state)
{
    fixture *f = *state;
    const char *text = "recipe fl\ninput q, k, v : f32 [batch, heads, tokens, 16]\nscore float(floor(s))\n";
    attnc_recipe *r;
    assert_int_equal(attnc_recipe_from_text(&r, f->ctx, "fl.attn", text, strlen(text)), ATTNC_OK);
    attnc_kernel *k;
    assert_int_equal(attnc_kernel_build_backward(&k, f->ctx, r, NULL), ATTNC_ERR_RECIPE);
    assert_null(k);
    const char *msg = attnc_context_errmsg(f->ctx);
    assert_non_null(strstr(msg, "fl.attn:3:"));
    assert_non_null(strstr(msg, "no gradient"));
    assert_non_null(strstr(msg, "hint:"));
    assert_int_equal(attnc_kernel_build(&k, f->ctx, r, NULL), ATTNC_OK); /* its forward is fine */
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
}

/* A caller compiled against version 1 of the options (no flags field). */
typedef struct options_v1 {
    int version;
    attnc_backend backend;
    const char *schedule;
    const char *arch;
} options_v1;

static void options_versions_and_flags(void **state)
{
    fixture *f = *state;
    options_v1 v1 = {1, ATTNC_BACKEND_CPU, "q=2x4 kv=4x4", NULL};
    attnc_kernel *k;
    assert_int_equal(attnc_kernel_build_backward(&k, f->ctx, f->r, (const attnc_build_options *)&v1), ATTNC_OK);
    assert_string_equal(attnc_kernel_schedule(k), "q=2x4 kv=4x4 stages=2 warps=4");
    attnc_kernel_destroy(k);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.flags = 0x80;
    assert_int_equal(attnc_kernel_build_backward(&k, f->ctx, f->r, &o), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_context_errmsg(f->ctx), "unknown build flags 0x80"));
    o.flags = ATTNC_BUILD_DETERMINISTIC;
    assert_int_equal(attnc_kernel_build(&k, f->ctx, f->r, &o), ATTNC_OK);
    attnc_kernel_destroy(k);
}

static void missing_tensors_are_named(void **state)
{
    fixture *f = *state;
    static const char *must[] = {"lse", "do", "dq", "dk", "dv", "drpb", "o"};
    for (size_t i = 0; i < sizeof must / sizeof *must; i++) {
        poison(f, 7.0f);
        attnc_args *a = bwd_args(f, must[i]);
        assert_int_equal(attnc_launch(f->bwd, a, NULL), ATTNC_ERR_INVALID_ARGUMENT);
        char want[64];
        snprintf(want, sizeof want, "'%s'", must[i]);
        if (!strstr(attnc_kernel_errmsg(f->bwd), want))
            fail_msg("missing %s: %s", must[i], attnc_kernel_errmsg(f->bwd));
        assert_true(f->dq[0] == 7.0f && f->drpb[0] == 7.0f); /* nothing written */
        attnc_args_destroy(a);
    }
}

static void bad_shapes_and_names(void **state)
{
    fixture *f = *state;
    attnc_args *a = bwd_args(f, NULL);
    attnc_tensor bad = {ATTNC_F32, f->dk, 4, {B, H, T - 1, D}, {H * T * D, T * D, D, 1}};
    assert_int_equal(attnc_args_set_tensor(a, "dk", &bad), ATTNC_OK);
    assert_int_equal(attnc_launch(f->bwd, a, NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(f->bwd), "tensor 'dk': shape[2]"));
    attnc_tensor overlap = {ATTNC_F32, f->dq, 4, {B, H, T, D}, {H * T * D, 0, D, 1}};
    assert_int_equal(attnc_args_set_tensor(a, "dk", &overlap), ATTNC_OK);
    assert_int_equal(attnc_launch(f->bwd, a, NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(f->bwd), "overlap"));
    uint8_t dkeep[H];
    attnc_tensor tk = {ATTNC_U8, dkeep, 1, {H}, {1}};
    assert_int_equal(attnc_args_set_tensor(a, "dkeep", &tk), ATTNC_OK);
    attnc_args_destroy(a);
    a = bwd_args(f, NULL);
    assert_int_equal(attnc_args_set_tensor(a, "dkeep", &tk), ATTNC_OK);
    assert_int_equal(attnc_launch(f->bwd, a, NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(f->bwd), "gets no gradient"));
    assert_int_equal(attnc_args_set_tensor(a, "dnope", &tk), ATTNC_ERR_INVALID_ARGUMENT);
    attnc_args_destroy(a);
    /* a forward kernel has no backward tensors */
    assert_int_equal(attnc_args_create(&a, f->fwd), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(a, "dq", &tk), ATTNC_ERR_INVALID_ARGUMENT);
    attnc_args_destroy(a);
}

static void run(fixture *f, int64_t chunk, float poison_value)
{
    poison(f, poison_value);
    attnc_args *a = bwd_args(f, NULL);
    attnc_status st = chunk ? bwd_launch_chunked(f->bwd, a, chunk) : attnc_launch(f->bwd, a, NULL);
    if (st)
        fail_msg("%s", attnc_kernel_errmsg(f->bwd));
    attnc_args_destroy(a);
}

typedef struct grads {
    float dq[N4], dk[N4], dv[N4], drpb[H * 25];
} grads;

static void save(const fixture *f, grads *g)
{
    memcpy(g->dq, f->dq, sizeof g->dq);
    memcpy(g->dk, f->dk, sizeof g->dk);
    memcpy(g->dv, f->dv, sizeof g->dv);
    memcpy(g->drpb, f->drpb, sizeof g->drpb);
}

static void same(const fixture *f, const grads *g)
{
    assert_memory_equal(g->dq, f->dq, sizeof g->dq);
    assert_memory_equal(g->dk, f->dk, sizeof g->dk);
    assert_memory_equal(g->dv, f->dv, sizeof g->dv);
    assert_memory_equal(g->drpb, f->drpb, sizeof g->drpb);
}

static void overwritten_and_bit_identical(void **state)
{
    fixture *f = *state;
    static grads g;
    run(f, 0, NAN);
    save(f, &g);
    for (int i = 0; i < N4; i++) {
        assert_false(isnan(f->dq[i]) || isnan(f->dk[i]) || isnan(f->dv[i]));
        if (i >= T * D) /* head 1 keeps nothing: its rows and keys are exactly 0 */
            assert_true(f->dq[i] == 0.0f && f->dk[i] == 0.0f && f->dv[i] == 0.0f);
    }
    for (int i = 25; i < 50; i++)
        assert_true(f->drpb[i] == 0.0f); /* head 1's table is never read by a kept pair */
    run(f, 0, 1e30f); /* overwritten, not accumulated */
    same(f, &g);
    for (int64_t chunk = 1; chunk <= 3; chunk++) { /* any split of the programs */
        run(f, chunk, -3.0f);
        same(f, &g);
    }
}

/* attnc_build_options.no_grad: rpb held constant. The backward kernel has no
 * "drpb" (setting it is an error), its dq, dk, dv are those of the full
 * backward (within f32 roundings: without a param gradient delta comes
 * from the rounded O, not exactly), an unknown name is refused with the
 * recipe's params listed, and a version-2 options struct (no no_grad
 * field) still builds the full backward. */
static void no_grad_holds_params_constant(void **state)
{
    fixture *f = *state;
    static grads g;
    run(f, 0, NAN);
    save(f, &g);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.no_grad = "rpb";
    attnc_kernel *k = NULL;
    if (attnc_kernel_build_backward(&k, f->ctx, f->r, &o))
        fail_msg("%s", attnc_context_errmsg(f->ctx));
    for (int i = 0; i < attnc_kernel_arg_count(k); i++) {
        attnc_arg_info ai;
        assert_int_equal(attnc_kernel_arg_info(k, i, &ai), ATTNC_OK);
        assert_true(strcmp(ai.name, "drpb") != 0);
    }
    attnc_kernel *full = f->bwd;
    f->bwd = k;
    attnc_args *a = bwd_args(f, NULL); /* drpb set: refused at launch, nothing written */
    poison(f, NAN);
    assert_int_equal(attnc_launch(k, a, NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(k), "is held constant by this backward"));
    assert_true(isnan(f->dq[0]) && isnan(f->dk[0]) && isnan(f->dv[0]));
    attnc_args_destroy(a);
    a = bwd_args(f, "drpb");
    if (attnc_launch(k, a, NULL))
        fail_msg("%s", attnc_kernel_errmsg(k));
    attnc_args_destroy(a);
    f->bwd = full;
    const float *got[3] = {f->dq, f->dk, f->dv}, *want[3] = {g.dq, g.dk, g.dv};
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < N4; i++)
            if (!(fabsf(got[t][i] - want[t][i]) <= 1e-5f + 1e-4f * fabsf(want[t][i])))
                fail_msg("gradient %d element %d: %g with rpb constant, %g with its gradient", t, i, (double)got[t][i],
                         (double)want[t][i]);
    attnc_kernel_destroy(k);
    /* "keep" (u8) has no gradient anyway: naming it is allowed */
    o.no_grad = "rpb,keep";
    assert_int_equal(attnc_kernel_build_backward(&k, f->ctx, f->r, &o), ATTNC_OK);
    attnc_kernel_destroy(k);
    o.no_grad = "rpb,bias";
    assert_int_equal(attnc_kernel_build_backward(&k, f->ctx, f->r, &o), ATTNC_ERR_INVALID_ARGUMENT);
    assert_null(k);
    assert_non_null(strstr(attnc_context_errmsg(f->ctx), "has no param 'bias' (its params: rpb, keep)"));
    assert_int_equal(attnc_kernel_build(&k, f->ctx, f->r, &o), ATTNC_ERR_INVALID_ARGUMENT); /* forward: checked too */
    o.no_grad = "rpb";
    assert_int_equal(attnc_kernel_build(&k, f->ctx, f->r, &o), ATTNC_OK);
    attnc_kernel_destroy(k);
    o.version = 2; /* the field is past a version-2 struct: not read */
    o.no_grad = "not read";
    assert_int_equal(attnc_kernel_build_backward(&k, f->ctx, f->r, &o), ATTNC_OK);
    bool has_drpb = false;
    for (int i = 0; i < attnc_kernel_arg_count(k); i++) {
        attnc_arg_info ai;
        assert_int_equal(attnc_kernel_arg_info(k, i, &ai), ATTNC_OK);
        has_drpb |= !strcmp(ai.name, "drpb");
    }
    assert_true(has_drpb);
    attnc_kernel_destroy(k);
}

/* A cross-attention backward with no queries but some keys: a valid
 * launch (empty tensors may have any strides) that writes dk = dv = 0. */
static void no_queries_gives_zero_key_gradients(void **state)
{
    fixture *f = *state;
    static const char *CROSS = "recipe cross\n"
                               "input  q : f32 [batch, heads, tokens, 16]\n"
                               "input  k, v : f32 [batch, heads, kv_tokens, 16]\n";
    attnc_recipe *r;
    attnc_kernel *k;
    assert_int_equal(attnc_recipe_from_text(&r, f->ctx, "cross.attn", CROSS, strlen(CROSS)), ATTNC_OK);
    if (attnc_kernel_build_backward(&k, f->ctx, r, NULL))
        fail_msg("%s", attnc_context_errmsg(f->ctx));
    enum { TK = 7 };
    float kk[H * TK * D], vv[H * TK * D], dk[H * TK * D], dv[H * TK * D], none[1] = {0};
    for (int i = 0; i < H * TK * D; i++) {
        kk[i] = vv[i] = 0.5f;
        dk[i] = dv[i] = NAN;
    }
    attnc_tensor q0 = {ATTNC_F32, none, 4, {1, H, 0, D}, {0, 0, 0, 1}}; /* strides of an empty tensor: anything */
    attnc_tensor l0 = {ATTNC_F32, none, 3, {1, H, 0}, {0, 0, 0}};
    attnc_tensor dq0 = {ATTNC_F32, none, 4, {1, H, 0, D}, {0, 0, 0, 1}}; /* heads would overlap if it had elements */
    attnc_tensor tk = {ATTNC_F32, kk, 4, {1, H, TK, D}, {H * TK * D, TK * D, D, 1}}, tv = tk, tdk = tk, tdv = tk;
    tv.data = vv;
    tdk.data = dk;
    tdv.data = dv;
    attnc_args *a;
    assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(a, "q", &q0) | attnc_args_set_tensor(a, "k", &tk) |
                         attnc_args_set_tensor(a, "v", &tv) | attnc_args_set_tensor(a, "o", &q0) |
                         attnc_args_set_tensor(a, "lse", &l0) | attnc_args_set_tensor(a, "do", &q0) |
                         attnc_args_set_tensor(a, "dq", &dq0) | attnc_args_set_tensor(a, "dk", &tdk) |
                         attnc_args_set_tensor(a, "dv", &tdv),
                     ATTNC_OK);
    attnc_status st = attnc_launch(k, a, NULL);
    if (st)
        fail_msg("%s", attnc_kernel_errmsg(k));
    for (int i = 0; i < H * TK * D; i++)
        assert_true(dk[i] == 0.0f && dv[i] == 0.0f);
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(cuda_is_unsupported, setup, teardown),
        cmocka_unit_test_setup_teardown(score_without_gradient_is_a_recipe_error, setup, teardown),
        cmocka_unit_test_setup_teardown(options_versions_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_tensors_are_named, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_shapes_and_names, setup, teardown),
        cmocka_unit_test_setup_teardown(overwritten_and_bit_identical, setup, teardown),
        cmocka_unit_test_setup_teardown(no_queries_gives_zero_key_gradients, setup, teardown),
        cmocka_unit_test_setup_teardown(no_grad_holds_params_constant, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
