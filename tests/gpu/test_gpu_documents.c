/* test_gpu_documents.c — the CUDA backend against the fp64 reference on the
 * document masks and id layouts of tests/numeric/doc_table.h (short, long,
 * one-token, gapped, recurring, random and negative ids; documents not
 * aligned with the tiles; a union with sinks and a window): the GPU
 * forward cuts each query tile's key range to its document span in the
 * kernel (codegen/nvptx_fa2_span.c), so this checks the cut on every
 * layout, including recurring ids and tiles of more than two ids, and the
 * full tiles inside one document (no per-element id compare; long
 * documents, an empty one and a one-token one, also at 1000 tokens: tiles
 * wholly inside documents of 517 tokens). Device outputs are
 * poisoned before each launch. Without a driver: "skipped: no CUDA
 * driver". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_case.h"
#include "numeric/doc_table.h"
#include "reference/ref_check.h"
#include "runtime/api/api_typed.h"

static bool set_ids(void *user, int index, const attnc_tensor *t, void *host, char *msg, size_t cap)
{
    (void)index, (void)msg, (void)cap;
    ids_layout l = *(const ids_layout *)user;
    int64_t rows = t->ndim == 2 ? t->shape[0] : 1, n = t->shape[t->ndim - 1];
    int elem = t->dtype == ATTNC_I64 ? 8 : 4;
    for (int64_t b = 0; b < rows; b++)
        doc_fill(l, b, n, (char *)host + b * n * elem, elem);
    return true;
}

static int run_doc(attnc_context *ctx, const doc_recipe *d, ids_layout l, int64_t tokens, uint64_t seed)
{
    char text[1024];
    snprintf(text, sizeof text, "recipe %s\n%s", d->name, d->text);
    attnc_recipe *rc = NULL;
    attnc_kernel *k = NULL;
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    if (attnc_recipe_from_text(&rc, ctx, d->name, text, strlen(text)) || attnc_kernel_build(&k, ctx, rc, &o)) {
        printf("[FAIL] %s: %s\n", d->name, attnc_context_errmsg(ctx));
        attnc_recipe_destroy(rc);
        return 1;
    }
    strbuf err;
    sb_init(&err);
    ref_mem_ops dev = gpu_ref_mem(&err);
    ref_shape shape = {.batch = 2, .heads = 2, .tokens = tokens};
    ref_check_opts co = {.seed = seed, .check = true, .mem = &dev, .set_param = set_ids, .set_param_user = &l};
    ref_check_result res;
    bool ok = ref_check_kernel(k, attnc_recipe_typed(rc), &shape, &co, &res);
    printf("[%s] %s ids=%s tokens=%lld [%s]: %s%s%s\n", ok ? "PASS" : "FAIL", d->name, ids_names[l], (long long)tokens,
           attnc_kernel_schedule(k),
           res.msg, err.len ? ": " : "", sb_cstr(&err));
    sb_free(&err);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    return !ok;
}

/* Both document paths: ATTNC_DOC_FULL=0 (every tile of the cut range
 * masked per element) and 1 (full tiles inside one document); the
 * variable is part of kernel cache keys, so each gets its own kernels. */
static void documents_on_gpu(void **state)
{
    (void)state;
    int failed = 0;
    uint64_t seed = 3000;
    for (int mode = 0; mode < 2; mode++) {
        setenv("ATTNC_DOC_FULL", mode ? "1" : "0", 1);
        printf("ATTNC_DOC_FULL=%d\n", mode);
        attnc_context *ctx;
        assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
        for (size_t i = 0; i < sizeof doc_recipes / sizeof doc_recipes[0]; i++)
            for (int l = 0; l < IDS_COUNT; l++) {
                failed += run_doc(ctx, &doc_recipes[i], (ids_layout)l, 301, seed++);
                if (l == IDS_TILED || l == IDS_LONG || l == IDS_GAPS)
                    failed += run_doc(ctx, &doc_recipes[i], (ids_layout)l, 1000, seed++);
            }
        attnc_context_destroy(ctx);
    }
    unsetenv("ATTNC_DOC_FULL");
    assert_int_equal(failed, 0);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    const struct CMUnitTest tests[] = {cmocka_unit_test(documents_on_gpu)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
