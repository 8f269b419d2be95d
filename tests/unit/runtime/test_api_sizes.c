/* Unit tests for the size rules of attnc_launch (runtime/api/api_validate.c,
 * attnc.h): products of sizes and strides that overflow 64 bits, the
 * ATTNC_MAX_* limits, and empty launches. Every rejected launch returns
 * ATTNC_ERR_INVALID_ARGUMENT naming the size before touching any tensor:
 * the tensors here are far smaller than their shapes claim, so a launch that
 * got past validation would crash or write out of range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/include/attnc.h"
#include "support/checked.h"

static const char *GRID3 = "recipe grid3\n"
                           "input  q, k, v : f32 [batch, heads, tokens, 16]\n"
                           "tokens grid(time: T, y: H, x: W)\n"
                           "mask   neighborhood(window: (1, 3, 3))\n";

static const char *CROSS = "recipe cross\n"
                           "input  q    : f32 [batch, heads, tokens, 16]\n"
                           "input  k, v : f32 [batch, heads, kv_tokens, 16]\n";

static const char *BLOCKS = "recipe blocks\n"
                            "input  q, k, v : f32 [batch, heads, tokens, 16]\n"
                            "param  table : u8 [nqb, nkb]\n"
                            "mask   blocks(table, bq: 16, bk: 16)\n";

static const char *FIXED = "recipe fixed\n"
                           "input  q    : f32 [2, 4, tokens, 16]\n"
                           "input  k, v : f32 [2, 2, 24, 16]\n"
                           "mask   k.t < q.t + heads\n";

enum { D = 16, NBUF = 4096 };

typedef struct fixture {
    attnc_context *ctx;
    attnc_recipe *r;
    attnc_kernel *k;
    attnc_args *a;
    float buf[5][NBUF]; /* q, k, v, o, lse */
} fixture;

/* Contiguous BHSD strides; a stride that would overflow is left 1 (the
 * shape checks come first and refuse those shapes anyway). */
static attnc_tensor t4(float *data, int64_t b, int64_t h, int64_t t)
{
    attnc_tensor x = {ATTNC_F32, data, 4, {b, h, t, D}, {1, 1, D, 1}};
    if (!ck_mul(t, D, &x.stride[1]))
        x.stride[1] = 1;
    if (!ck_mul3(h, t, D, &x.stride[0]))
        x.stride[0] = 1;
    return x;
}

static void build(fixture *f, const char *text)
{
    assert_int_equal(attnc_context_create(&f->ctx, NULL), ATTNC_OK);
    if (attnc_recipe_from_text(&f->r, f->ctx, "t.attn", text, strlen(text)) ||
        attnc_kernel_build(&f->k, f->ctx, f->r, NULL))
        fail_msg("%s", attnc_context_errmsg(f->ctx));
    assert_int_equal(attnc_args_create(&f->a, f->k), ATTNC_OK);
    for (int i = 0; i < 5; i++) /* inputs finite, outputs NaN (poison) */
        for (int j = 0; j < NBUF; j++)
            f->buf[i][j] = i < 3 ? 0.01f * (float)((i * 7 + j) % 53) - 0.25f : NAN;
}

static void destroy(fixture *f)
{
    attnc_args_destroy(f->a);
    attnc_kernel_destroy(f->k);
    attnc_recipe_destroy(f->r);
    attnc_context_destroy(f->ctx);
}

/* q, k, v, o (and lse) of one shape over the fixture's small buffers. */
static void set_qkvo(fixture *f, int64_t b, int64_t h, int64_t t, int64_t kv_t, bool lse)
{
    attnc_tensor q = t4(f->buf[0], b, h, t), k = t4(f->buf[1], b, h, kv_t), v = t4(f->buf[2], b, h, kv_t);
    attnc_tensor o = t4(f->buf[3], b, h, t);
    attnc_tensor l = {ATTNC_F32, f->buf[4], 3, {b, h, t}, {1, t, 1}};
    if (!ck_mul(h, t, &l.stride[0]))
        l.stride[0] = 1;
    assert_int_equal(attnc_args_set_tensor(f->a, "q", &q), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "k", &k), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "v", &v), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "o", &o), ATTNC_OK);
    if (lse)
        assert_int_equal(attnc_args_set_tensor(f->a, "lse", &l), ATTNC_OK);
}

static void set_grid(fixture *f, int64_t t, int64_t h, int64_t w)
{
    assert_int_equal(attnc_args_set_size(f->a, "T", t), ATTNC_OK);
    assert_int_equal(attnc_args_set_size(f->a, "H", h), ATTNC_OK);
    assert_int_equal(attnc_args_set_size(f->a, "W", w), ATTNC_OK);
}

static bool untouched(const fixture *f)
{
    for (int i = 3; i < 5; i++)
        for (int j = 0; j < NBUF; j++)
            if (!isnan(f->buf[i][j]))
                return false;
    return true;
}

static void expect_rejected(fixture *f, const char *what)
{
    attnc_status st = attnc_launch(f->k, f->a, NULL);
    if (st != ATTNC_ERR_INVALID_ARGUMENT)
        fail_msg("expected invalid argument for '%s', got %s (%s)", what, attnc_status_string(st),
                 attnc_kernel_errmsg(f->k));
    if (!strstr(attnc_kernel_errmsg(f->k), what))
        fail_msg("message '%s' does not mention '%s'", attnc_kernel_errmsg(f->k), what);
    assert_true(untouched(f));
}

static void expect_ok(fixture *f)
{
    attnc_status st = attnc_launch(f->k, f->a, NULL);
    if (st)
        fail_msg("expected success, got %s (%s)", attnc_status_string(st), attnc_kernel_errmsg(f->k));
}

/* Issue #12 item 13: 968973220 x 49477 x 384773 wraps to 4 in 64 bits. */
static void grid_product_overflow(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof *f);
    build(f, GRID3);
    set_qkvo(f, 1, 1, 9, 9, true);
    set_grid(f, 968973220, 49477, 384773);
    expect_rejected(f, "holds more than 1073741824 tokens");
    assert_non_null(strstr(attnc_kernel_errmsg(f->k), "T = 968973220 x H = 49477 x W = 384773"));
    set_grid(f, 1, 65536, 65536); /* 2^32: fits in 64 bits, over the limit */
    expect_rejected(f, "holds more than 1073741824 tokens");
    set_grid(f, 1, 3, 4);
    expect_rejected(f, "the token grid holds 12 tokens (T = 1 x H = 3 x W = 4) but q has tokens = 9");
    set_grid(f, 1, 3, 3);
    expect_ok(f);
    assert_false(untouched(f));
    destroy(f);
    free(f);
}

/* Sizes above ATTNC_MAX_* are refused before anything multiplies them. */
static void size_limits(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof *f);
    build(f, CROSS);
    struct {
        int64_t b, h, t, kv;
        const char *what;
    } cases[] = {
        {ATTNC_MAX_BATCH + 1, 1, 1, 1, "batch = 65536 (q's shape[0]) is over the limit 65535 (ATTNC_MAX_BATCH)"},
        {1, ATTNC_MAX_HEADS + 1, 1, 1, "heads = 65536 (q's shape[1]) is over the limit 65535 (ATTNC_MAX_HEADS)"},
        {1, 1, ATTNC_MAX_TOKENS + 1, 1, "tokens = 1073741825 (q's shape[2]) is over the limit 1073741824"},
        {1, 1, 1, ATTNC_MAX_TOKENS + 1, "kv_tokens = 1073741825 (k's shape[2]) is over the limit"},
        {1, 1, INT64_C(2147483647), 1, "tokens = 2147483647"},
        {1, 1, INT64_C(2147483648), 1, "shape[2] = 2147483648 is not in 0..2^31-1"},
        {INT64_C(2147483647), INT64_C(2147483647), INT64_C(2147483647), 1, "is over the limit"},
        {1, 1, -1, 1, "shape[2] = -1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set_qkvo(f, cases[i].b, cases[i].h, cases[i].t, cases[i].kv, true);
        expect_rejected(f, cases[i].what);
    }
    /* at the limits the shape checks pass; the small buffers' strides are
     * then what fails, never a size */
    set_qkvo(f, 1, 1, 2, 2, true);
    expect_ok(f);
    destroy(f);
    free(f);
}

/* Strides whose span overflows, or exceeds 2^62 bytes, are refused. */
static void stride_products(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof *f);
    build(f, CROSS);
    set_qkvo(f, 1, 2, 4, 4, true);
    attnc_tensor k = t4(f->buf[1], 1, 2, 4);
    int64_t strides[] = {INT64_MAX, INT64_MAX / 3, (INT64_C(1) << 62) / 4, INT64_C(1) << 60};
    for (size_t i = 0; i < sizeof strides / sizeof strides[0]; i++) {
        k.stride[1] = strides[i];
        assert_int_equal(attnc_args_set_tensor(f->a, "k", &k), ATTNC_OK);
        expect_rejected(f, "makes offsets overflow");
    }
    /* a tensor of 65535 x 65535 x 2^30 x 16 f32 elements spans ~2^66 bytes */
    attnc_tensor q = {ATTNC_F32, f->buf[0], 4, {ATTNC_MAX_BATCH, ATTNC_MAX_HEADS, ATTNC_MAX_TOKENS, D}, {0}};
    q.stride[3] = 1, q.stride[2] = D, q.stride[1] = ATTNC_MAX_TOKENS * D;
    q.stride[0] = ATTNC_MAX_HEADS * ATTNC_MAX_TOKENS * D;
    assert_int_equal(attnc_args_set_tensor(f->a, "q", &q), ATTNC_OK);
    expect_rejected(f, "tensor 'q': stride[0]");
    destroy(f);
    free(f);
}

static void set_size_ranges(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof *f);
    build(f, GRID3);
    assert_int_equal(attnc_args_set_size(f->a, "H", -1), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_args_set_size(f->a, "H", ATTNC_MAX_TOKENS + 1), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(f->k), "'H' = 1073741825 is not in 0..1073741824"));
    assert_int_equal(attnc_args_set_size(f->a, "H", ATTNC_MAX_TOKENS), ATTNC_OK);
    assert_int_equal(attnc_args_set_size(f->a, "H", 0), ATTNC_OK);
    destroy(f);
    free(f);
    f = calloc(1, sizeof *f);
    build(f, BLOCKS);
    assert_int_equal(attnc_args_set_size(f->a, "nqb", ATTNC_MAX_SIZE + 1), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_args_set_size(f->a, "nqb", ATTNC_MAX_SIZE), ATTNC_OK);
    destroy(f);
    free(f);
}

/* Issue #12 item 17: batch, heads or tokens 0 is a valid no-op; data may be
 * NULL there; nothing is written. */
static void empty_launches(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof *f);
    build(f, GRID3);
    int64_t shapes[][6] = {{0, 2, 4, 1, 2, 2}, {1, 0, 4, 1, 2, 2}, {0, 0, 0, 0, 1, 1}, {3, 2, 0, 7, 0, 9}};
    for (int i = 0; i < 4; i++) {
        set_qkvo(f, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][2], true);
        set_grid(f, shapes[i][3], shapes[i][4], shapes[i][5]);
        expect_ok(f);
        assert_true(untouched(f));
    }
    /* tokens 0: a zero grid dim; the window (3 x 3) is not compared with it */
    set_qkvo(f, 1, 2, 0, 0, true);
    set_grid(f, 1, 0, 5);
    expect_ok(f);
    assert_true(untouched(f));
    set_grid(f, 1, 2, 2); /* but the grid must still hold q's tokens */
    expect_rejected(f, "the token grid holds 4 tokens");
    /* NULL data is fine on a tensor with a zero extent, not otherwise */
    attnc_tensor q0 = {ATTNC_F32, NULL, 4, {0, 2, 4, D}, {8 * D, 4 * D, D, 1}};
    set_qkvo(f, 0, 2, 4, 4, true);
    set_grid(f, 1, 2, 2);
    assert_int_equal(attnc_args_set_tensor(f->a, "q", &q0), ATTNC_OK);
    expect_ok(f);
    q0.shape[0] = 1;
    set_qkvo(f, 1, 2, 4, 4, true);
    assert_int_equal(attnc_args_set_tensor(f->a, "q", &q0), ATTNC_OK);
    expect_rejected(f, "tensor 'q': data is NULL");
    destroy(f);
    free(f);
}

/* A zero extra size only in an empty launch. */
static void zero_extra_sizes(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof *f);
    build(f, BLOCKS);
    uint8_t table[4] = {1, 1, 1, 1};
    attnc_tensor t = {ATTNC_U8, table, 2, {0, 0}, {0, 1}};
    set_qkvo(f, 1, 1, 0, 0, true);
    assert_int_equal(attnc_args_set_size(f->a, "nqb", 0), ATTNC_OK);
    assert_int_equal(attnc_args_set_size(f->a, "nkb", 0), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "table", &t), ATTNC_OK);
    expect_ok(f);
    set_qkvo(f, 1, 1, 20, 20, true);
    expect_rejected(f, "size 'nqb' is 0 but the launch is not empty");
    t.shape[0] = t.shape[1] = 2;
    t.stride[0] = 2;
    assert_int_equal(attnc_args_set_tensor(f->a, "table", &t), ATTNC_OK);
    assert_int_equal(attnc_args_set_size(f->a, "nqb", 2), ATTNC_OK);
    assert_int_equal(attnc_args_set_size(f->a, "nkb", 2), ATTNC_OK);
    expect_ok(f);
    destroy(f);
    free(f);
}

/* kv_tokens 0 under cross attention: not empty; every row has no key, so
 * O = 0 and LSE = -inf. */
static void no_keys(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof *f);
    build(f, CROSS);
    for (int j = 0; j < 2 * 3 * D; j++)
        f->buf[0][j] = 0.25f * (float)(j % 7) - 0.5f;
    set_qkvo(f, 1, 2, 3, 0, true);
    attnc_tensor k0 = {ATTNC_F32, NULL, 4, {1, 2, 0, D}, {0, 0, D, 1}};
    assert_int_equal(attnc_args_set_tensor(f->a, "k", &k0), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "v", &k0), ATTNC_OK);
    expect_ok(f);
    for (int j = 0; j < 2 * 3 * D; j++)
        assert_true(f->buf[3][j] == 0.0f);
    for (int j = 0; j < 2 * 3; j++)
        assert_true(f->buf[4][j] == -INFINITY);
    assert_true(isnan(f->buf[3][2 * 3 * D])); /* nothing past o */
    destroy(f);
    free(f);
}

/* Issue #12 item 6: sizes a recipe fixes with a number are checked at
 * launch, each refusal naming the size, where it was read and the value. */
static void fixed_sizes(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof *f);
    build(f, FIXED);
    struct {
        int64_t b, h, t, kvh, kvt;
        const char *what;
    } cases[] = {
        {1, 4, 5, 2, 24, "batch = 1 (q's shape[0]) but recipe 'fixed' fixes it to 2"},
        {2, 2, 5, 2, 24, "heads = 2 (q's shape[1]) but recipe 'fixed' fixes it to 4"},
        {2, 4, 5, 1, 24, "kv_heads = 1 (k's shape[1]) but recipe 'fixed' fixes it to 2"},
        {2, 4, 5, 2, 23, "kv_tokens = 23 (k's shape[2]) but recipe 'fixed' fixes it to 24"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        attnc_tensor q = t4(f->buf[0], cases[i].b, cases[i].h, cases[i].t);
        attnc_tensor k = t4(f->buf[1], cases[i].b, cases[i].kvh, cases[i].kvt);
        attnc_tensor o = t4(f->buf[3], cases[i].b, cases[i].h, cases[i].t);
        assert_int_equal(attnc_args_set_tensor(f->a, "q", &q) | attnc_args_set_tensor(f->a, "k", &k) |
                             attnc_args_set_tensor(f->a, "v", &k) | attnc_args_set_tensor(f->a, "o", &o),
                         ATTNC_OK);
        expect_rejected(f, cases[i].what);
    }
    /* the right sizes run; tokens (not fixed) may be anything */
    for (int j = 0; j < NBUF; j++)
        f->buf[0][j] = f->buf[1][j] = f->buf[2][j] = 0.001f * (float)(j % 97);
    attnc_tensor q = t4(f->buf[0], 2, 4, 5), k = t4(f->buf[1], 2, 2, 24), v = t4(f->buf[2], 2, 2, 24);
    attnc_tensor o = t4(f->buf[3], 2, 4, 5);
    assert_int_equal(attnc_args_set_tensor(f->a, "q", &q) | attnc_args_set_tensor(f->a, "k", &k) |
                         attnc_args_set_tensor(f->a, "v", &v) | attnc_args_set_tensor(f->a, "o", &o),
                     ATTNC_OK);
    expect_ok(f);
    for (int j = 0; j < 2 * 4 * 5 * D; j++)
        assert_false(isnan(f->buf[3][j]));
    destroy(f);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grid_product_overflow), cmocka_unit_test(size_limits),
        cmocka_unit_test(stride_products),       cmocka_unit_test(set_size_ranges),
        cmocka_unit_test(empty_launches),        cmocka_unit_test(zero_extra_sizes),
        cmocka_unit_test(no_keys),               cmocka_unit_test(fixed_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
