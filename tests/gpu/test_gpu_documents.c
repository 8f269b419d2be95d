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
 * poisoned before each launch.
 * The backward on the same masks and layouts (documents_backward_on_gpu):
 * dq, dk, dv against the fp64 reference gradients with the backward's
 * document cut (ATTNC_BWD_DOC_SPAN=1 unless the caller set it: the dQ
 * kernel's key ranges as the forward's, the dK/dV kernel's query ranges
 * transposed, codegen/nvptx_bwd_span.c) under mma.sync and wgmma, dQ
 * deterministic (two runs bit-identical), atomic, bulk (with and without
 * the TMA producer ring); ATTNC_BWD_DOC_SPAN=2 (set by the caller) adds
 * the dK/dV kernel's full tiles inside one document. Experimental switches
 * (documents_under_switches_on_gpu): the cut table ($ATTNC_DOC_TABLE=1).
 * ATTNC_TEST_DOC=fwd|table|bwd runs one part, ATTNC_TEST_RECIPE=NAME the backward's recipes whose name
 * holds NAME.
 * Without a driver: "skipped: no CUDA driver". */
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
#include "reference/ref_bwd_check.h"
#include "reference/ref_check.h"
#include "runtime/api/api_internal.h"
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

/* One recipe on one id layout: tokens and heads (batch 2), the recipe's
 * schedule or `spec`. */
static int run_doc_on(attnc_context *ctx, const doc_recipe *d, ids_layout l, int64_t tokens, int64_t heads,
                      const char *spec, uint64_t seed)
{
    char text[1024];
    snprintf(text, sizeof text, "recipe %s\n%s", d->name, d->text);
    attnc_recipe *rc = NULL;
    attnc_kernel *k = NULL;
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.schedule = spec;
    if (attnc_recipe_from_text(&rc, ctx, d->name, text, strlen(text)) || attnc_kernel_build(&k, ctx, rc, &o)) {
        printf("[FAIL] %s: %s\n", d->name, attnc_context_errmsg(ctx));
        attnc_recipe_destroy(rc);
        return 1;
    }
    strbuf err;
    sb_init(&err);
    ref_mem_ops dev = gpu_ref_mem(&err);
    ref_shape shape = {.batch = 2, .heads = heads, .tokens = tokens};
    ref_check_opts co = {.seed = seed, .check = true, .mem = &dev, .set_param = set_ids, .set_param_user = &l};
    ref_check_result res;
    bool ok = ref_check_kernel(k, attnc_recipe_typed(rc), &shape, &co, &res);
    printf("[%s] %s ids=%s tokens=%lld heads=%lld [%s]%s%s: %s%s%s\n", ok ? "PASS" : "FAIL", d->name, ids_names[l],
           (long long)tokens, (long long)heads, attnc_kernel_schedule(k),
           getenv("ATTNC_PERSIST_DYNAMIC") ? " dynamic items" : "", getenv("ATTNC_DOC_TABLE") ? " table" : "",
           res.msg, err.len ? ": " : "", sb_cstr(&err));
    sb_free(&err);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    return !ok;
}

static int run_doc(attnc_context *ctx, const doc_recipe *d, ids_layout l, int64_t tokens, uint64_t seed)
{
    return run_doc_on(ctx, d, l, tokens, 2, NULL, seed);
}

/* Both document paths: ATTNC_DOC_FULL=0 (every tile of the cut range
 * masked per element) and 1 (full tiles inside one document); the
 * variable is part of kernel cache keys, so each gets its own kernels. */
static bool half_wanted(const char *half)
{
    const char *e = getenv("ATTNC_TEST_DOC");
    return !e || !e[0] || !strcmp(e, half);
}

static void documents_on_gpu(void **state)
{
    (void)state;
    if (!half_wanted("fwd"))
        return;
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

/* The cut under experimental switches, each on a fresh context (they are
 * part of kernel cache keys): the table shared across heads
 * ($ATTNC_DOC_TABLE=1, codegen/nvptx_fa2_doc_table.c) on the recipes' own
 * schedules (H100 2026-12-05: 42 PASS). Every layout at 301 tokens, then
 * 2000 tokens and 8 heads (256 blocks: the later heads read entries) on
 * three layouts, each twice: one kernel's launches follow each other with
 * other ids (the table's entries of one launch must not serve the next). */
static const struct {
    const char *part, *env, *spec;
} doc_switches[] = {
    {"table", "ATTNC_DOC_TABLE", NULL},
    /* no persist=1 rows: documents take no persistent blocks (codegen/nvptx_plan.c drops it) */
};

static void documents_under_switches_on_gpu(void **state)
{
    (void)state;
    static const int recipes[] = {0, 4, 5}; /* causal_doc_batch, doc_sinks_window, causal_doc_d128 */
    static const ids_layout big[] = {IDS_TILED, IDS_RECURRING, IDS_SHORT};
    int failed = 0;
    uint64_t seed = 5000;
    for (size_t m = 0; m < sizeof doc_switches / sizeof doc_switches[0]; m++) {
        if (!half_wanted(doc_switches[m].part))
            continue;
        if (doc_switches[m].env)
            setenv(doc_switches[m].env, "1", 1);
        printf("%s%s%s\n", doc_switches[m].env ? doc_switches[m].env : "", doc_switches[m].env ? "=1 " : "",
               doc_switches[m].spec ? doc_switches[m].spec : "");
        attnc_context *ctx;
        assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
        for (size_t r = 0; r < sizeof recipes / sizeof recipes[0]; r++) {
            const doc_recipe *d = &doc_recipes[recipes[r]];
            for (int l = 0; l < IDS_COUNT; l++)
                failed += run_doc_on(ctx, d, (ids_layout)l, 301, 2, doc_switches[m].spec, seed++);
            for (int twice = 0; twice < 2; twice++)
                for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
                    failed += run_doc_on(ctx, d, big[i], 2000, 8, doc_switches[m].spec, seed++);
        }
        attnc_context_destroy(ctx);
        if (doc_switches[m].env)
            unsetenv(doc_switches[m].env);
    }
    assert_int_equal(failed, 0);
}

/* ---- the backward ---- */

/* How the backward is built: $ATTNC_BWD_MMA, $ATTNC_BWD_DQ (NULL: the
 * deterministic build, run twice), $ATTNC_BWD_PRODUCER (NULL: unset). */
typedef struct bwd_mode {
    const char *mma, *dq, *producer;
} bwd_mode;

static const bwd_mode bwd_modes[] = {{"sync", NULL, NULL},  {"wgmma", "bulk", NULL},  {"wgmma", NULL, NULL},
                                     {"sync", "atomic", NULL}, {"wgmma", "atomic", NULL}, {"wgmma", "bulk", "0"}};
enum { BWD_MODES = sizeof bwd_modes / sizeof bwd_modes[0], BWD_FIRST_MODES = 2 };

static attnc_status build_bwd(attnc_context *ctx, attnc_recipe *rc, const bwd_mode *m, attnc_kernel **fwd,
                              attnc_kernel **bwd)
{
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.flags = m->dq ? 0 : ATTNC_BUILD_DETERMINISTIC;
    setenv("ATTNC_BWD_MMA", m->mma, 1);
    if (m->dq)
        setenv("ATTNC_BWD_DQ", m->dq, 1);
    if (m->producer)
        setenv("ATTNC_BWD_PRODUCER", m->producer, 1);
    *fwd = *bwd = NULL;
    attnc_status st = attnc_kernel_build_backward(bwd, ctx, rc, &o);
    st = st ? st : attnc_kernel_build(fwd, ctx, rc, &o);
    unsetenv("ATTNC_BWD_MMA");
    unsetenv("ATTNC_BWD_DQ");
    unsetenv("ATTNC_BWD_PRODUCER");
    return st;
}

static int run_doc_bwd(attnc_context *ctx, const doc_recipe *d, ids_layout l, int64_t tokens, const bwd_mode *m,
                       uint64_t seed)
{
    char text[1024];
    snprintf(text, sizeof text, "recipe %s\n%s", d->name, d->text);
    attnc_recipe *rc = NULL;
    attnc_kernel *fwd = NULL, *bwd = NULL;
    bool det = !m->dq;
    if (attnc_recipe_from_text(&rc, ctx, d->name, text, strlen(text)) || build_bwd(ctx, rc, m, &fwd, &bwd)) {
        printf("[FAIL] %s backward %s %s: %s\n", d->name, m->mma, det ? "det" : m->dq, attnc_context_errmsg(ctx));
        attnc_kernel_destroy(fwd);
        attnc_kernel_destroy(bwd);
        attnc_recipe_destroy(rc);
        return 1;
    }
    strbuf err;
    sb_init(&err);
    ref_mem_ops dev = gpu_ref_mem(&err);
    ref_shape shape = {.batch = 2, .heads = 2, .tokens = tokens};
    ref_check_opts co = {.seed = seed, .check = true, .mem = &dev, .set_param = set_ids, .set_param_user = &l};
    ref_bwd_result res, res2;
    ref_bwd_data *d1 = NULL, *d2 = NULL;
    bool ok = ref_check_backward(fwd, bwd, rc->r, &shape, &co, &res, det ? &d1 : NULL), same = true;
    if (ok && det) {
        ok = ref_check_backward(fwd, bwd, rc->r, &shape, &co, &res2, &d2);
        same = ok && ref_bwd_data_same(d1, d2, NULL, 0);
        ok = ok && same;
    }
    printf("[%s] %s backward ids=%s tokens=%lld %s %s%s [%s]: %s%s%s%s\n", ok ? "PASS" : "FAIL", d->name, ids_names[l],
           (long long)tokens, m->mma, det ? "det" : m->dq, m->producer ? " noprod" : "", attnc_kernel_schedule(bwd),
           res.msg, det ? (same ? "; two runs bit-identical" : "; two runs DIFFER") : "", err.len ? ": " : "",
           sb_cstr(&err));
    ref_bwd_data_free(d1);
    ref_bwd_data_free(d2);
    sb_free(&err);
    attnc_kernel_destroy(fwd);
    attnc_kernel_destroy(bwd);
    attnc_recipe_destroy(rc);
    return !ok;
}

/* Every recipe and layout at 301 tokens, and at 1000 for the layouts of
 * long documents, under the first modes (sync det, wgmma bulk); the
 * batched causal recipe (D = 64) and the D = 128 one (the dK/dV producer
 * ring) at 301 tokens under every mode. */
static void documents_backward_on_gpu(void **state)
{
    (void)state;
    if (!half_wanted("bwd"))
        return;
    const char *span = getenv("ATTNC_BWD_DOC_SPAN");
    if (!span)
        setenv("ATTNC_BWD_DOC_SPAN", "1", 1);
    printf("backward, ATTNC_BWD_DOC_SPAN=%s\n", getenv("ATTNC_BWD_DOC_SPAN"));
    int failed = 0;
    uint64_t seed = 5000;
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    const char *only = getenv("ATTNC_TEST_RECIPE");
    for (size_t i = 0; i < sizeof doc_recipes / sizeof doc_recipes[0]; i++) {
        bool every = !strcmp(doc_recipes[i].name, "causal_doc_batch") || !strcmp(doc_recipes[i].name, "causal_doc_d128");
        if (only && !strstr(doc_recipes[i].name, only))
            continue;
        for (int m = 0; m < (every ? BWD_MODES : BWD_FIRST_MODES); m++)
            for (int l = 0; l < IDS_COUNT; l++) {
                failed += run_doc_bwd(ctx, &doc_recipes[i], (ids_layout)l, 301, &bwd_modes[m], seed++);
                if (m < BWD_FIRST_MODES && (l == IDS_TILED || l == IDS_LONG || l == IDS_GAPS))
                    failed += run_doc_bwd(ctx, &doc_recipes[i], (ids_layout)l, 1000, &bwd_modes[m], seed++);
            }
    }
    attnc_context_destroy(ctx);
    if (!span)
        unsetenv("ATTNC_BWD_DOC_SPAN");
    assert_int_equal(failed, 0);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    const struct CMUnitTest tests[] = {cmocka_unit_test(documents_on_gpu), cmocka_unit_test(documents_under_switches_on_gpu),
                                       cmocka_unit_test(documents_backward_on_gpu)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
