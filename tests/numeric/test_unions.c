/* test_unions.c — the CPU backend against the fp64 reference on the union
 * masks of union_table.h (key ranges made of parts), under the recipe's
 * default schedule and small tiles that split the parts over many key
 * tiles. Fresh random inputs, outputs poisoned, shapes that do not divide
 * the tiles, rows without keys. Prints one line per case; exits 1 when
 * any fails. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "numeric/union_table.h"
#include "reference/ref_check.h"
#include "runtime/api/api_typed.h"

static const char *const seq_schedules[] = {NULL, "q=16 kv=16", "q=32 kv=16", "q=16 kv=64"};
static const char *const grid_schedules[] = {NULL, "q=4x4 kv=2x4", "q=2x8 kv=4x2", "q=8x8 kv=8x8"};

static bool run_case(attnc_context *ctx, const union_case *u, const char *sched, uint64_t seed)
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
    snprintf(prefix, sizeof prefix, "%s/numeric_failures/union_%s", ATTNC_BINARY_DIR, u->name);
    ref_check_opts co = {.seed = seed, .dump_prefix = prefix, .check = true};
    ref_check_result res;
    bool ok = ref_check_kernel(k, attnc_recipe_typed(rc), &u->shape, &co, &res);
    const char *why = "";
    if (ok && u->empty_rows != (res.lse.empty_rows > 0))
        ok = false, why = u->empty_rows ? " (expected rows without keys)" : " (unexpected rows without keys)";
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
    for (size_t i = 0; i < sizeof union_cases / sizeof union_cases[0]; i++) {
        const union_case *u = &union_cases[i];
        const char *const *scheds = strstr(u->text, "grid(") ? grid_schedules : seq_schedules;
        for (int s = 0; s < 4; s++)
            failed += !run_case(ctx, u, scheds[s], 100 * i + (uint64_t)s + 1);
    }
    attnc_context_destroy(ctx);
    printf("%d failed\n", failed);
    return failed ? 1 : 0;
}
