/* test_edges.c — the CPU backend against the fp64 reference on recipes at
 * the edges of the semantics (docs/recipe-language.md §3.3, §3.10; issue
 * #12 items 6, 14, 16, 17): int masks that wrap around, +inf, -inf and NaN
 * logits, fixed sizes, rows without keys and empty launches. Fresh random
 * inputs, outputs poisoned before each run, shapes that do not divide the
 * tiles, two schedules. Prints one line per case; exits 1 when any fails. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "numeric/edge_table.h"
#include "reference/ref_check.h"
#include "runtime/api/api_typed.h"

static const char *const schedules[] = {NULL, "q=16 kv=32"};

static bool run_edge(attnc_context *ctx, const edge *e, const char *sched, uint64_t seed)
{
    char text[1024];
    snprintf(text, sizeof text, "recipe %s\n%s", e->name, e->text);
    attnc_recipe *rc = NULL;
    attnc_kernel *k = NULL;
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    const recipe *r = NULL;
    bool grid = strstr(e->text, "grid(") != NULL;
    o.schedule = sched && !grid ? sched : NULL;
    if (attnc_recipe_from_text(&rc, ctx, e->name, text, strlen(text)) || attnc_kernel_build(&k, ctx, rc, &o)) {
        printf("[FAIL] %s: %s\n", e->name, attnc_context_errmsg(ctx));
        attnc_recipe_destroy(rc);
        return false;
    }
    r = attnc_recipe_typed(rc);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/numeric_failures/edge_%s", ATTNC_BINARY_DIR, e->name);
    ref_check_opts co = {.seed = seed, .dump_prefix = prefix, .check = true};
    ref_check_result res;
    bool ok = ref_check_kernel(k, r, &e->shape, &co, &res);
    const char *why = "";
    ok = edge_verdict(e, &res, ok, &why);
    printf("[%s] %s [%s] seed %llu: %s%s\n", ok ? "PASS" : "FAIL", e->name, attnc_kernel_schedule(k),
           (unsigned long long)seed, res.msg, why);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    return ok;
}

/* The comparison itself: NaN passes only where the reference is NaN; a
 * poisoned (unwritten) element never passes. */
static bool compare_rules(void)
{
    double ref[4] = {1.0, NAN, 2.0, NAN};
    float out[4] = {1.0f, NAN, 2.0f, NAN};
    bool ok = ref_compare(ref, DT_F32, out, 4, 1e-5).ok;
    out[1] = 0.0f; /* a number where NaN is required */
    ok = ok && !ref_compare(ref, DT_F32, out, 4, 1e-5).ok;
    out[1] = NAN, out[2] = NAN; /* NaN where a number is required */
    ok = ok && !ref_compare(ref, DT_F32, out, 4, 1e-5).ok;
    out[2] = 2.0f;
    ref_poison(DT_F32, out + 3, 1); /* never written */
    ref_compare_result r = ref_compare(ref, DT_F32, out, 4, 1e-5);
    ok = ok && !r.ok && r.unwritten == 1;
    ok = ok && !ref_compare_lse(ref, out, 4, 1e-5).ok;
    uint16_t h[2];
    ref_poison(DT_BF16, h, 2);
    ok = ok && isnan(ref_get(DT_BF16, h, 0)) && ref_is_poison(DT_BF16, h, 1);
    printf("[%s] compare rules\n", ok ? "PASS" : "FAIL");
    return ok;
}

int main(void)
{
    mkdir(ATTNC_BINARY_DIR "/numeric_failures", 0777);
    attnc_context *ctx;
    if (attnc_context_create(&ctx, NULL))
        return 1;
    int failed = !compare_rules();
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        for (int s = 0; s < 2; s++)
            failed += !run_edge(ctx, &edges[i], schedules[s], 100 * i + (uint64_t)s + 1);
    attnc_context_destroy(ctx);
    printf("%d failed\n", failed);
    return failed ? 1 : 0;
}
