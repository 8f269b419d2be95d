/*
 * attnc_kernel_build and the target: a recipe with f32 q/k/v builds for the
 * CPU backend and is refused for CUDA with ATTNC_ERR_UNSUPPORTED and the
 * recipe location of the element type — before any schedule check or
 * driver work, so the answer is the same with or without a GPU; an unknown
 * build_options.arch lists the accepted names (also before the driver).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "runtime/include/attnc.h"

static const char f32_text[] = "recipe f32causal\n"
                               "input  q, k, v : f32 [batch, heads, tokens, 128]\n"
                               "mask   causal\n"
                               "tile   auto\n";

static attnc_status build(const char *text, attnc_backend be, const char *arch, char *msg, size_t cap)
{
    attnc_context *ctx = NULL;
    attnc_recipe *r = NULL;
    attnc_kernel *k = NULL;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    assert_int_equal(attnc_recipe_from_text(&r, ctx, "f32.attn", text, strlen(text)), ATTNC_OK);
    attnc_build_options bo = ATTNC_BUILD_OPTIONS_INIT;
    bo.backend = be;
    bo.arch = arch;
    attnc_status st = attnc_kernel_build(&k, ctx, r, &bo);
    snprintf(msg, cap, "%s", attnc_context_errmsg(ctx));
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
    attnc_context_destroy(ctx);
    return st;
}

static void f32_is_cpu_only(void **state)
{
    char msg[512];
    assert_int_equal(build(f32_text, ATTNC_BACKEND_CPU, NULL, msg, sizeof msg), ATTNC_OK);
    const char *arches[] = {NULL, "sm_80", "sm_90a"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(build(f32_text, ATTNC_BACKEND_CUDA, arches[i], msg, sizeof msg), ATTNC_ERR_UNSUPPORTED);
        assert_non_null(strstr(msg, "f32.attn:2:18: f32 inputs run on the CPU backend only; use bf16 or f16 for the GPU"));
    }
}

static void unknown_arch_lists_names(void **state)
{
    static const char bf16[] = "recipe c\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal\n";
    char msg[512];
    attnc_status st = build(bf16, ATTNC_BACKEND_CUDA, "sm_75", msg, sizeof msg);
    /* the arch is parsed before the driver is asked for anything */
    assert_int_equal(st, ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "unknown CUDA arch 'sm_75' (accepted: sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a, "
                                "sm_100, sm_120)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(f32_is_cpu_only),
        cmocka_unit_test(unknown_arch_lists_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
