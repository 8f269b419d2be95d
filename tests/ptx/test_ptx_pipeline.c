/* test_ptx_pipeline.c — the NVPTX pass pipeline (codegen/nvptx_pipeline.c)
 * is default<O3> less passes that do not change attnc's kernels: for every
 * recipe in recipes/ and bench/recipes/, both architectures, and schedule
 * variants (each mma kind, each linear inter schedule), the PTX must be
 * byte-identical to what default<O3> gives. When an LLVM upgrade makes a
 * removed pass matter, this fails and names the first differing line. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "source_tree.h"
#include "recipe_ptx.h"

/* PTX of the recipe at path (spec: a schedule, or NULL for the GPU default)
 * under the given pipeline (NULL: attnc's own). Returns a malloc'ed string. */
static char *emit(const char *path, target_arch arch, const char *spec, const char *pipeline)
{
    if (pipeline)
        setenv("ATTNC_NVPTX_PIPELINE", pipeline, 1);
    else
        unsetenv("ATTNC_NVPTX_PIPELINE");
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx;
    sb_init(&err);
    sb_init(&ptx);
    if (recipe_ptx(&a, path, spec, arch, NULL, &ptx, &err))
        fail_msg("%s: %s", path, sb_cstr(&err));
    char *out = sb_take(&ptx);
    sb_free(&err);
    arena_free_all(&a);
    unsetenv("ATTNC_NVPTX_PIPELINE");
    return out;
}

/* 1-based number of the first line where a and b differ. */
static int first_diff_line(const char *a, const char *b)
{
    int line = 1;
    for (; *a && *a == *b; a++, b++)
        line += *a == '\n';
    return line;
}

static int compared;

static void same_as_o3(const char *rel, target_arch arch, const char *spec)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", test_source_dir(), rel);
    char *ours = emit(path, arch, spec, NULL);
    char *o3 = emit(path, arch, spec, "default<O3>");
    const char *an = arch == TARGET_SM80 ? "sm_80" : "sm_90a";
    if (strcmp(ours, o3))
        fail_msg("%s %s%s%s: PTX differs from default<O3>'s at line %d (a pass removed in "
                 "codegen/nvptx_pipeline.c matters again: put it back)",
                 rel, an, spec ? " " : "", spec ? spec : "", first_diff_line(ours, o3));
    free(ours);
    free(o3);
    compared++;
}

static void every_recipe_in(const char *folder)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", test_source_dir(), folder);
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".attn"))
            continue;
        char rel[512];
        snprintf(rel, sizeof rel, "%s/%s", folder, e->d_name);
        same_as_o3(rel, TARGET_SM80, NULL);
        same_as_o3(rel, TARGET_SM90A, NULL);
    }
    closedir(d);
}

static void recipes_default_schedules(void **state)
{
    (void)state;
    compared = 0;
    every_recipe_in("recipes");
    every_recipe_in("bench/recipes");
    printf("%d kernels: PTX identical to default<O3>'s\n", compared);
    assert_true(compared >= 40);
}

static void schedule_variants(void **state)
{
    (void)state;
    static const char *mma[] = {"sync", "wgmma", "wgmma_ws"};
    char spec[128];
    for (int i = 0; i < 3; i++) {
        snprintf(spec, sizeof spec, "q=128 kv=128 stages=2 warps=8 mma=%s", mma[i]);
        same_as_o3("bench/recipes/causal_d128.attn", TARGET_SM90A, spec);
        snprintf(spec, sizeof spec, "q=8x16 kv=8x8 stages=2 warps=8 mma=%s", mma[i]);
        same_as_o3("bench/recipes/na2d_k17.attn", TARGET_SM90A, spec);
    }
    static const char *inter[] = {"state", "chunked", "chain"};
    for (int i = 0; i < 3; i++) {
        snprintf(spec, sizeof spec, "block=64 inter=%s", inter[i]);
        same_as_o3("recipes/lightning2.attn", TARGET_SM90A, spec);
        same_as_o3("recipes/gated_linear.attn", TARGET_SM80, spec);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(recipes_default_schedules),
                                       cmocka_unit_test(schedule_variants)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
