/* test_dilation.c — the CPU backend against the fp64 reference on the
 * dilated neighborhoods of dilation_table.h, under the recipe's default
 * schedule and small tiles, and that the forward kernel uses
 * dilation-group tiling where the table says so (the `dil=` of its tile
 * IR). Fresh random inputs, outputs poisoned, extents divisible neither by
 * the dilation nor by the tiles. Prints one line per case; exits 1 when
 * any fails. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "numeric/dilation_table.h"
#include "passes/mask_analysis.h"
#include "reference/ref_check.h"
#include "runtime/api/api_typed.h"

static const char *const schedules[3][3] = {
    {NULL, "q=16 kv=16", "q=32 kv=8"},
    {NULL, "q=4x4 kv=2x4", "q=2x8 kv=4x2"},
    {NULL, "q=1x4x4 kv=1x2x4", "q=2x2x4 kv=2x2x2"},
};

/* Whether the forward of r under the kernel's schedule tiles by dilation
 * groups, as the tiling pass decides (mask_group_dilation). */
static bool grouped(const recipe *r, const char *sched_text)
{
    schedule s = r->sched;
    strbuf err;
    sb_init(&err);
    bool parsed = !sched_text || schedule_parse(sched_text, r->grid_ndim > 0 ? r->grid_ndim : 1, &s, &err);
    sb_free(&err);
    if (!parsed)
        return false;
    arena a;
    arena_init(&a, NULL);
    int dil[SCHED_MAX_DIMS];
    bool any = false;
    if (mask_group_dilation(&a, r, &s, dil))
        any = dil[0] > 1 || dil[1] > 1 || dil[2] > 1;
    arena_free_all(&a);
    return any;
}

static bool run_case(attnc_context *ctx, const dilation_case *u, const char *sched, uint64_t seed)
{
    char text[1024];
    snprintf(text, sizeof text, "recipe %s\n%s", u->name, u->text);
    attnc_recipe *rc = NULL;
    attnc_kernel *k = NULL;
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.schedule = sched;
    if (attnc_recipe_from_text(&rc, ctx, u->name, text, strlen(text)) || attnc_kernel_build(&k, ctx, rc, &o)) {
        printf("[FAIL] %s [%s]: %s\n", u->name, sched ? sched : "default", attnc_context_errmsg(ctx));
        attnc_recipe_destroy(rc);
        return false;
    }
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/numeric_failures/dilation_%s", ATTNC_BINARY_DIR, u->name);
    ref_check_opts co = {.seed = seed, .dump_prefix = prefix, .check = true};
    ref_check_result res;
    bool ok = ref_check_kernel(k, attnc_recipe_typed(rc), &u->shape, &co, &res);
    const char *why = "";
    if (ok && grouped(attnc_recipe_typed(rc), attnc_kernel_schedule(k)) != u->grouped)
        ok = false, why = u->grouped ? " (expected dilation-group tiling)" : " (unexpected dilation-group tiling)";
    printf("[%s] %s [%s] seed %llu: %s%s\n", ok ? "PASS" : "FAIL", u->name, attnc_kernel_schedule(k),
           (unsigned long long)seed, res.msg, why);
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
    int failed = 0;
    for (size_t i = 0; i < sizeof dilation_cases / sizeof dilation_cases[0]; i++) {
        const dilation_case *u = &dilation_cases[i];
        for (int s = 0; s < 3; s++)
            failed += !run_case(ctx, u, schedules[u->ndims - 1][s], 100 * i + (uint64_t)s + 1);
    }
    attnc_context_destroy(ctx);
    printf("%d failed\n", failed);
    return failed ? 1 : 0;
}
