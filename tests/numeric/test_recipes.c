/* test_recipes.c — `test_numeric_recipes NAME [--slow]`: compiles
 * recipes/NAME.attn for the CPU backend under each case of its plan
 * (shapes, dtypes, schedules; numeric_plan.c), runs it on random inputs and
 * compares O and LSE with the fp64 reference. Prints one line per case and
 * exits 1 when any case fails (tensors of a failure are written to
 * build/numeric_failures/). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "numeric_plan.h"
#include "passes/pipeline.h"
#include "runtime/api/api_internal.h"

static const char *dtype_label(dtype dt)
{
    return dtype_name(dt);
}

static bool grid_is_big(const recipe *r)
{
    int64_t n = 1;
    for (int d = 0; d < r->grid_ndim; d++)
        n *= r->sizes[SZ_GRID0 + d].fixed > 0 ? r->sizes[SZ_GRID0 + d].fixed : 1;
    return n > 1024;
}

static bool run_case(attnc_context *ctx, const char *name, const recipe *base, const numeric_case *c, int idx)
{
    recipe r = *base;
    r.qkv_dtype = c->dt; /* the dtype is a compile-time choice of the recipe */
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.schedule = c->schedule;
    attnc_kernel *k = NULL;
    if (kernel_build_with(&k, ctx, &r, &o, lower_recipe)) {
        printf("[FAIL] %s case %d (%s, %s): build: %s\n", name, idx, dtype_label(c->dt),
               c->schedule ? c->schedule : "recipe schedule", attnc_context_errmsg(ctx));
        return false;
    }
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/numeric_failures/%s_case%d", ATTNC_BINARY_DIR, name, idx);
    bool ok = true;
    int seeds = idx == 0 && !grid_is_big(base) ? 2 : 1;
    for (int s = 0; s < seeds; s++) {
        ref_check_opts co = {.seed = (uint64_t)(1000 * idx + s + 1), .dump_prefix = prefix, .check = true};
        ref_check_result res;
        bool pass = ref_check_kernel(k, &r, &c->shape, &co, &res);
        const ref_shape *sh = &c->shape;
        printf("[%s] %s case %d: %s b=%lld h=%lld kvh=%lld t=%lld grid=%lldx%lldx%lld%s [%s] seed %d: %s\n",
               pass ? "PASS" : "FAIL", name, idx, dtype_label(c->dt), (long long)sh->batch, (long long)sh->heads,
               (long long)(sh->kv_heads ? sh->kv_heads : sh->heads), (long long)sh->tokens, (long long)sh->grid[0],
               (long long)sh->grid[1], (long long)sh->grid[2], sh->bshd ? " bshd" : "", attnc_kernel_schedule(k), s,
               res.msg);
        ok &= pass;
    }
    attnc_kernel_destroy(k);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_numeric_recipes NAME [--slow]\n");
        return 2;
    }
    const char *name = argv[1];
    bool slow = argc > 2 && !strcmp(argv[2], "--slow");
    char path[512];
    snprintf(path, sizeof path, "%s/recipes/%s.attn", ATTNC_SOURCE_DIR, name);
    mkdir(ATTNC_BINARY_DIR "/numeric_failures", 0777);
    attnc_context *ctx;
    attnc_recipe *rc;
    if (attnc_context_create(&ctx, NULL) || attnc_recipe_from_file(&rc, ctx, path)) {
        fprintf(stderr, "%s: %s\n", path, ctx ? attnc_context_errmsg(ctx) : "no context");
        attnc_context_destroy(ctx);
        return 1;
    }
    numeric_case cases[PLAN_MAX];
    int n = numeric_plan(name, rc->r, slow, cases);
    int failed = 0;
    for (int i = 0; i < n; i++)
        failed += !run_case(ctx, name, rc->r, &cases[i], i);
    printf("%s: %d of %d cases passed\n", name, n - failed, n);
    attnc_recipe_destroy(rc);
    attnc_context_destroy(ctx);
    return failed ? 1 : 0;
}
