/* test_gpu_edges.c — the CUDA backend against the fp64 reference on the
 * edge-case recipes of tests/numeric/edge_table.h, compiled for bf16
 * (docs/recipe-language.md §3.3, §3.10): int masks that wrap, +inf/-inf/NaN
 * logits (NaN rows exactly where the reference has them), fixed sizes, rows
 * without keys (kv_tokens 0), empty launches. Device outputs are poisoned
 * before each launch. Without a driver: "skipped: no CUDA driver". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_case.h"
#include "numeric/edge_table.h"
#include "runtime/api/api_typed.h"

/* e's text with every f32 input made bf16 (the GPU computes in bf16/f16). */
static void bf16_text(const edge *e, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "recipe %s\n", e->name);
    for (const char *p = e->text; *p && n + 5 < cap;) {
        if (!strncmp(p, " f32 [", 6)) {
            memcpy(out + n, " bf16 [", 7);
            n += 7, p += 6;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = 0;
}

static void edges_on_gpu(void **state)
{
    (void)state;
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int failed = 0;
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        const edge *e = &edges[i];
        char text[1024];
        bf16_text(e, text, sizeof text);
        attnc_recipe *rc = NULL;
        attnc_kernel *k = NULL;
        attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
        o.backend = ATTNC_BACKEND_CUDA;
        if (attnc_recipe_from_text(&rc, ctx, e->name, text, strlen(text)) || attnc_kernel_build(&k, ctx, rc, &o)) {
            printf("[FAIL] %s: %s\n", e->name, attnc_context_errmsg(ctx));
            failed++;
            attnc_recipe_destroy(rc);
            continue;
        }
        strbuf err;
        sb_init(&err);
        ref_mem_ops dev = gpu_ref_mem(&err);
        ref_check_opts co = {.seed = 1000 + i, .check = true, .mem = &dev};
        ref_check_result res;
        bool ok = ref_check_kernel(k, attnc_recipe_typed(rc), &e->shape, &co, &res);
        const char *why = "";
        ok = edge_verdict(e, &res, ok, &why);
        printf("[%s] %s [%s]: %s%s%s%s\n", ok ? "PASS" : "FAIL", e->name, attnc_kernel_schedule(k), res.msg, why,
               err.len ? ": " : "", sb_cstr(&err));
        failed += !ok;
        sb_free(&err);
        attnc_kernel_destroy(k);
        attnc_recipe_destroy(rc);
    }
    attnc_context_destroy(ctx);
    assert_int_equal(failed, 0);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    const struct CMUnitTest tests[] = {cmocka_unit_test(edges_on_gpu)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
