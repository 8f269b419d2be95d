/* Unit tests for the per-shape block table of RANGE_BLOCK_TABLE kernels
 * (runtime/host/block_table.c, consumed by the CPU code generator): the table is
 * built from the mask and the launch shape (document pairs read partial:
 * the runtime ids are not read), cached per shape, and the kernel obeys
 * it — a table of all 0 yields O = 0 and LSE = -inf, all 2 drops the mask,
 * all 1 (or the built table) matches the fp64 reference of the real mask.
 * One table serves every (batch, head): a mask that reads the batch index
 * is classified over every batch (found by fuzz_diff). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "passes/mask_analysis.h"
#include "runtime/api/api_internal.h"
#include "runtime/host/block_table.h"
#include "runtime/include/attnc.h"

static const char *DOC_RECIPE = "recipe doc_small\n"
                                "input  q, k, v : f32 [batch, heads, tokens, 16]\n"
                                "param  doc : i32 [batch, tokens]\n"
                                "mask   document(doc)\n"
                                "tile   auto\n";

enum { B = 1, H = 2, T = 50, D = 16, TILE = 16, NT = (T + TILE - 1) / TILE };

typedef struct fixture {
    attnc_context *ctx;
    attnc_recipe *r;
    attnc_kernel *k;
    attnc_args *a;
    float q[B * H * T * D], kk[B * H * T * D], v[B * H * T * D], o[B * H * T * D], lse[B * H * T];
    int32_t doc[B * T];
} fixture;

static attnc_tensor tensor4(float *data, int64_t t)
{
    attnc_tensor x = {ATTNC_F32, data, 4, {B, H, t, D}, {H * T * D, T * D, D, 1}};
    return x;
}

/* Sets every tensor for a launch over the first t tokens. */
static void set_args(fixture *f, int64_t t)
{
    attnc_tensor tq = tensor4(f->q, t), tk = tensor4(f->kk, t), tv = tensor4(f->v, t), to = tensor4(f->o, t);
    attnc_tensor tl = {ATTNC_F32, f->lse, 3, {B, H, t}, {H * T, T, 1}};
    attnc_tensor td = {ATTNC_I32, f->doc, 2, {B, t}, {T, 1}};
    assert_int_equal(attnc_args_set_tensor(f->a, "q", &tq), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "k", &tk), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "v", &tv), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "o", &to), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "lse", &tl), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(f->a, "doc", &td), ATTNC_OK);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(attnc_context_create(&f->ctx, NULL), ATTNC_OK);
    assert_int_equal(attnc_recipe_from_text(&f->r, f->ctx, "doc.attn", DOC_RECIPE, strlen(DOC_RECIPE)), ATTNC_OK);
    attnc_build_options opt = ATTNC_BUILD_OPTIONS_INIT;
    opt.schedule = "q=16 kv=16";
    if (attnc_kernel_build(&f->k, f->ctx, f->r, &opt))
        fail_msg("%s", attnc_context_errmsg(f->ctx));
    assert_true(f->k->host.block_table);
    assert_int_equal(attnc_args_create(&f->a, f->k), ATTNC_OK);
    srand(12345);
    for (size_t i = 0; i < sizeof f->q / sizeof *f->q; i++) {
        f->q[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
        f->kk[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
        f->v[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
    }
    for (int t = 0; t < T; t++) /* documents of 13, 20 and 17 tokens: not tile-aligned */
        f->doc[t] = t < 13 ? 0 : t < 33 ? 1 : 2;
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

/* fp64 reference of one row; masked: same document. Returns the
 * number of kept keys. */
static int ref_row(const fixture *f, int h, int i, bool masked, double out[D])
{
    const float *qi = f->q + ((size_t)h * T + (size_t)i) * D;
    double s[T], m = -INFINITY, l = 0;
    int kept = 0;
    for (int j = 0; j < T; j++) {
        s[j] = -INFINITY;
        if (masked && f->doc[j] != f->doc[i])
            continue;
        double dot = 0;
        for (int d = 0; d < D; d++)
            dot += (double)qi[d] * f->kk[((size_t)h * T + (size_t)j) * D + (size_t)d];
        s[j] = dot / sqrt((double)D);
        m = fmax(m, s[j]);
        kept++;
    }
    memset(out, 0, sizeof(double) * D);
    for (int j = 0; j < T; j++) {
        if (s[j] == -INFINITY)
            continue;
        double p = exp(s[j] - m);
        l += p;
        for (int d = 0; d < D; d++)
            out[d] += p * f->v[((size_t)h * T + (size_t)j) * D + (size_t)d];
    }
    for (int d = 0; kept && d < D; d++)
        out[d] /= l;
    return kept;
}

static void check_output(const fixture *f, bool masked)
{
    for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++) {
            double ref[D];
            ref_row(f, h, i, masked, ref);
            for (int d = 0; d < D; d++) {
                float got = f->o[((size_t)h * T + (size_t)i) * D + (size_t)d];
                if (!(fabs((double)got - ref[d]) <= 1e-4))
                    fail_msg("h %d row %d dim %d: got %g, want %g", h, i, d, (double)got, ref[d]);
            }
            assert_true(isfinite(f->lse[h * T + i]));
        }
}

/* The cached table of the current launch shape (the kernel's own copy). */
static uint8_t *current_table(fixture *f, size_t *bytes)
{
    launch_problem p;
    assert_int_equal(launch_validate(f->k, f->a, &p), ATTNC_OK);
    attnc_status st = ATTNC_OK;
    const uint8_t *t = block_table_for(f->k, &p, bytes, &st);
    assert_int_equal(st, ATTNC_OK);
    assert_non_null(t);
    uint8_t *w;
    memcpy(&w, &t, sizeof w); /* tests rewrite the cached table in place */
    return w;
}

static void table_from_shape_and_cached(void **state)
{
    fixture *f = *state;
    set_args(f, T);
    assert_int_equal(attnc_launch(f->k, f->a, NULL), ATTNC_OK);
    check_output(f, true);
    assert_int_equal(block_table_builds(f->k), 1);
    size_t bytes = 0;
    uint8_t *t = current_table(f, &bytes);
    assert_int_equal(bytes, NT * NT);
    for (int qi = 0; qi < NT; qi++)
        for (int ki = 0; ki < NT; ki++) /* documents unknown from the shape: partial */
            assert_int_equal(t[qi * NT + ki], 1);
    assert_int_equal(attnc_launch(f->k, f->a, NULL), ATTNC_OK);
    assert_int_equal(block_table_builds(f->k), 1); /* same shape: cache hit */
    set_args(f, 40);
    assert_int_equal(attnc_launch(f->k, f->a, NULL), ATTNC_OK);
    assert_int_equal(block_table_builds(f->k), 2); /* new shape: one more */
    set_args(f, T);
    assert_int_equal(attnc_launch(f->k, f->a, NULL), ATTNC_OK);
    assert_int_equal(block_table_builds(f->k), 2);
}

static void kernel_obeys_table(void **state)
{
    fixture *f = *state;
    set_args(f, T);
    size_t bytes = 0;
    uint8_t *t = current_table(f, &bytes);
    memset(t, 0, bytes); /* skip everything: every row keeps nothing */
    for (size_t i = 0; i < sizeof f->o / sizeof *f->o; i++)
        f->o[i] = NAN;
    assert_int_equal(attnc_launch(f->k, f->a, NULL), ATTNC_OK);
    for (size_t i = 0; i < sizeof f->o / sizeof *f->o; i++)
        assert_true(f->o[i] == 0.0f);
    for (int i = 0; i < B * H * T; i++)
        assert_true(isinf(f->lse[i]) && f->lse[i] < 0);
    memset(t, 2, bytes); /* full everywhere: the per-element mask is dropped */
    assert_int_equal(attnc_launch(f->k, f->a, NULL), ATTNC_OK);
    check_output(f, false);
    memset(t, 1, bytes); /* partial everywhere: the mask decides every element */
    assert_int_equal(attnc_launch(f->k, f->a, NULL), ATTNC_OK);
    check_output(f, true);
    assert_int_equal(block_table_builds(f->k), 1);
}

/* The table of `mask` (q=16 kv=16, 50 tokens, 2 batches, 2 heads): how
 * many entries are 0, 1 and 2. */
static void table_counts(const char *mask, int counts[3])
{
    char text[512];
    snprintf(text, sizeof text,
             "recipe b\ninput q, k, v : f32 [batch, heads, tokens, 16]\nparam doc : i32 [batch, tokens]\n"
             "mask %s\ntile q(16) kv(16)\n",
             mask);
    arena a;
    arena_init(&a, NULL);
    diag_list d;
    diag_list_init(&d, &a, "b.attn", text, strlen(text));
    recipe *r = frontend_parse(&a, "b.attn", text, strlen(text), &d);
    assert_non_null(r);
    mask_info mi;
    assert_true(mask_analyze(&a, r, &r->sched, &mi));
    assert_int_equal(mi.mode, RANGE_BLOCK_TABLE);
    eval_env env;
    memset(&env, 0, sizeof env);
    env.sizes[SZ_BATCH] = 2;
    env.sizes[SZ_HEADS] = env.sizes[SZ_KV_HEADS] = 2;
    env.sizes[SZ_TOKENS] = env.sizes[SZ_KV_TOKENS] = T;
    uint8_t table[NT * NT];
    assert_true(mask_block_table_build(&mi, &env, table, sizeof table));
    counts[0] = counts[1] = counts[2] = 0;
    for (int i = 0; i < NT * NT; i++) {
        assert_true(table[i] <= 2);
        counts[table[i]]++;
    }
    arena_free_all(&a);
}

static void table_joins_batches(void **state)
{
    int c[3];
    table_counts("batch > 0 && !document(doc)", c); /* batch 1 keeps pairs: nothing skipped */
    assert_int_equal(c[0], 0);
    table_counts("batch > 5 && document(doc)", c); /* no batch keeps any pair */
    assert_int_equal(c[0], NT * NT);
    table_counts("(batch == 0 || head == 1) && document(doc)", c);
    assert_int_equal(c[0], 0);
    table_counts("batch < 7 && (k.t > 60 || document(doc))", c); /* every batch: document decides */
    assert_int_equal(c[1], NT * NT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(table_from_shape_and_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(kernel_obeys_table, setup, teardown),
        cmocka_unit_test(table_joins_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
