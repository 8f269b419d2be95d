/* The kernel header fields code generators read instead of the recipe
 * (tile_ir.h: cross, extra and fixed sizes, params' shapes, linear
 * attributes): the parser reads them, the printer writes them back byte for
 * byte, and lowering fills them from the recipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "frontend/frontend.h"
#include "ir/tile_ir.h"
#include "passes/pipeline.h"

static const char LINEAR[] =
    "kernel lin family=linear dtype=bf16 d=64 dv=64 grid=0 arch=host cross=1 extra_sizes=2 "
    "fixed=batch:2,extra1:7 schedule=\"q=64 kv=64 stages=2 warps=4 block=32 inter=chunked\"\n"
    "param g f32 [batch,heads,tokens]\n"
    "param t u8 [heads,16,extra0]\n"
    "param s f32\n"
    "linear causal=1 feature=elu1 decay=token param=g normalize=1 block=32 inter=chunked\n"
    "{\n"
    "}\n";

static void linear_header_round_trips(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    strbuf err, out;
    sb_init(&err);
    sb_init(&out);
    tir_kernel *k = tir_parse(&a, LINEAR, strlen(LINEAR), &err);
    if (!k)
        fail_msg("%s", sb_cstr(&err));
    assert_true(k->cross);
    assert_int_equal(k->nsizes, SZ_EXTRA0 + 2);
    assert_int_equal(k->size_fixed[SZ_BATCH], 2);
    assert_int_equal(k->size_fixed[SZ_EXTRA0 + 1], 7);
    assert_int_equal(k->size_fixed[SZ_TOKENS], 0);
    assert_int_equal(k->nparams, 3);
    assert_int_equal(k->params[0].ndim, 3);
    assert_int_equal(k->params[0].dims[2], SZ_TOKENS);
    assert_int_equal(k->params[1].dtype, DT_U8);
    assert_int_equal(k->params[1].const_dims[1], 16);
    assert_int_equal(k->params[1].dims[2], SZ_EXTRA0);
    assert_int_equal(k->params[2].ndim, 0);
    assert_true(k->linear.causal && k->linear.normalize);
    assert_int_equal(k->linear.feature, FEATURE_ELU1);
    assert_int_equal(k->linear.decay, DECAY_PER_TOKEN);
    assert_int_equal(k->linear.decay_param, 0);
    assert_int_equal(k->linear.block, 32);
    assert_int_equal(k->linear.inter, INTER_CHUNKED);
    tir_print(&out, k);
    assert_string_equal(sb_cstr(&out), LINEAR);
    sb_free(&err);
    sb_free(&out);
    arena_free_all(&a);
}

static void bad_headers_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "kernel k family=softmax dtype=bf16 d=64 dv=64 grid=0 arch=host fixed=nosuch:3 schedule=\"q=64\"\n{\n}\n",
        "kernel k family=softmax dtype=bf16 d=64 dv=64 grid=0 arch=host fixed=tokens:0 schedule=\"q=64\"\n{\n}\n",
        "kernel k family=softmax dtype=bf16 d=64 dv=64 grid=0 arch=host cross=2 schedule=\"q=64\"\n{\n}\n",
        "kernel k family=softmax dtype=bf16 d=64 dv=64 grid=0 arch=host schedule=\"q=64\"\n"
        "param p f32 [tokens,tokens,tokens,tokens,tokens]\n{\n}\n",
        "kernel k family=linear dtype=bf16 d=64 dv=64 grid=0 arch=host schedule=\"q=64\"\n{\n}\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        arena a;
        arena_init(&a, NULL);
        strbuf err;
        sb_init(&err);
        assert_null(tir_parse(&a, bad[i], strlen(bad[i]), &err));
        assert_true(err.len > 0);
        sb_free(&err);
        arena_free_all(&a);
    }
}

static const char RECIPE[] = "recipe cr\n"
                             "input q : bf16 [batch, heads, tokens, 64]\n"
                             "input k, v : bf16 [batch, heads, kv_tokens, 64]\n"
                             "param bias : f32 [heads, 4]\n"
                             "score s * scale + bias[head, 1]\n";

/* Lowering copies what codegen needs from the recipe onto the kernel. */
static void lowering_fills_the_header(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    diag_list diags;
    diag_list_init(&diags, &a, "cr.attn", RECIPE, strlen(RECIPE));
    recipe *r = frontend_parse(&a, "cr.attn", RECIPE, strlen(RECIPE), &diags);
    assert_non_null(r);
    assert_true(r->cross);
    strbuf err;
    sb_init(&err);
    tir_kernel *k = lower_recipe(&a, r, NULL, TARGET_HOST, &err);
    if (!k)
        fail_msg("%s", sb_cstr(&err));
    tir_kernel *sig = lower_signature(&a, r);
    assert_non_null(sig);
    for (const tir_kernel *x = k; x; x = x == k ? sig : NULL) {
        assert_true(x->cross);
        assert_int_equal(x->nparams, 1);
        assert_string_equal(x->params[0].name, "bias");
        assert_int_equal(x->params[0].ndim, 2);
        assert_int_equal(x->params[0].dims[0], SZ_HEADS);
        assert_int_equal(x->params[0].const_dims[1], 4);
    }
    sb_free(&err);
    arena_free_all(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linear_header_round_trips),
        cmocka_unit_test(bad_headers_are_refused),
        cmocka_unit_test(lowering_fills_the_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
