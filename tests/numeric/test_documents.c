/* test_documents.c — document masks on the CPU backend: the document spans
 * of query tiles (runtime/host/doc_spans.h) against a brute-force walk, then
 * the kernels (whose key ranges are cut to those spans) against the fp64
 * reference for every recipe of doc_table.h and every ids layout, under
 * tiles that do not divide the documents. Prints one line per case; exits
 * 1 when any fails. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "numeric/doc_table.h"
#include "reference/ref_check.h"
#include "runtime/api/api_typed.h"
#include "runtime/host/doc_spans.h"

static const char *const schedules[] = {NULL, "q=16 kv=16", "q=32 kv=64", "q=64 kv=16"};

/* Every key sharing an id with a query of the tile lies in its span, and
 * the span's ends are such keys. */
static bool spans_exact(attnc_context *ctx)
{
    int failed = 0;
    for (int l = 0; l < IDS_COUNT; l++)
        for (int64_t qt = 1; qt <= 64; qt *= 4) {
            enum { N = 301, B = 2 };
            int32_t ids[B][N];
            for (int b = 0; b < B; b++)
                doc_fill((ids_layout)l, b, N, ids[b], 4);
            attnc_tensor t = {ATTNC_I32, ids, 2, {B, N}, {N, 1}};
            int64_t nqt = (N + qt - 1) / qt, spans[B * ((N + 0) + 1) * 2];
            if (!doc_spans_build(ctx, &t, B, N, qt, spans))
                return false;
            for (int b = 0; b < B; b++)
                for (int64_t i = 0; i < nqt; i++) {
                    int64_t lo = N, hi = -1;
                    for (int64_t q = i * qt; q < (i + 1) * qt && q < N; q++)
                        for (int64_t k = 0; k < N; k++)
                            if (ids[b][k] == ids[b][q])
                                lo = k < lo ? k : lo, hi = k > hi ? k : hi;
                    failed += spans[(b * nqt + i) * 2] != lo || spans[(b * nqt + i) * 2 + 1] != hi;
                }
        }
    printf("[%s] document spans against brute force\n", failed ? "FAIL" : "PASS");
    return failed == 0;
}

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

static bool run_case(attnc_context *ctx, const doc_recipe *d, ids_layout l, const char *sched, uint64_t seed)
{
    char text[1024];
    snprintf(text, sizeof text, "recipe %s\n%s", d->name, d->text);
    attnc_recipe *rc = NULL;
    attnc_kernel *k = NULL;
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.schedule = sched;
    if (attnc_recipe_from_text(&rc, ctx, d->name, text, strlen(text)) || attnc_kernel_build(&k, ctx, rc, &o)) {
        printf("[FAIL] %s: %s\n", d->name, attnc_context_errmsg(ctx));
        attnc_recipe_destroy(rc);
        return false;
    }
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/numeric_failures/doc_%s_%s", ATTNC_BINARY_DIR, d->name, ids_names[l]);
    ref_shape shape = {.batch = 2, .heads = 2, .tokens = 301};
    ref_check_opts co = {.seed = seed, .dump_prefix = prefix, .check = true, .set_param = set_ids, .set_param_user = &l};
    ref_check_result res;
    bool ok = ref_check_kernel(k, attnc_recipe_typed(rc), &shape, &co, &res);
    printf("[%s] %s ids=%s [%s] seed %llu: %s\n", ok ? "PASS" : "FAIL", d->name, ids_names[l], attnc_kernel_schedule(k),
           (unsigned long long)seed, res.msg);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    return ok;
}

int main(void)
{
    mkdir(ATTNC_BINARY_DIR "/numeric_failures", 0777);
    attnc_context *ctx;
    if (attnc_context_create(&ctx, NULL))
        return 1;
    int failed = !spans_exact(ctx);
    uint64_t seed = 1;
    for (size_t i = 0; i < sizeof doc_recipes / sizeof doc_recipes[0]; i++)
        for (int l = 0; l < IDS_COUNT; l++)
            for (int s = 0; s < 4; s++)
                failed += !run_case(ctx, &doc_recipes[i], (ids_layout)l, schedules[(s + l) % 4], seed++);
    attnc_context_destroy(ctx);
    printf("%d failed\n", failed);
    return failed ? 1 : 0;
}
