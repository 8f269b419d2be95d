/* test_ptx_recipes.c — every recipe in recipes/ through the real front end
 * and lowering, then NVPTX, then ptxas for sm_80 and sm_90a. Softmax
 * and linear-attention recipes (nvptx_linear_*.c) must assemble. Spills are
 * printed (they cost speed, not correctness). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "source_tree.h"
#include "ptxas_run.h"
#include "recipe_ptx.h"


static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.attn names (strdup'ed; free them). */
static int list_recipes(char **names, int max)
{
    DIR *d = test_opendir_recipes();
    int n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < max;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".attn"))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    return n;
}

/* Returns 1 when assembled; fails otherwise. */
static int check_recipe(const char *name, target_arch arch)
{
    char path[512];
    snprintf(path, sizeof path, "%s/recipes/%s", test_source_dir(), name);
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx, log;
    sb_init(&err);
    sb_init(&ptx);
    sb_init(&log);
    nvptx_kernel_info info;
    nvptx_status st = recipe_ptx(&a, path, NULL, arch, &info, &ptx, &err);
    const char *an = arch == TARGET_SM80 ? "sm_80" : "sm_90a";
    int result = 1;
    if (st) {
        fail_msg("%s %s: %s", name, an, sb_cstr(&err));
    } else if (!ptxas_check(sb_cstr(&ptx), an, &log)) {
        fail_msg("%s: ptxas %s rejected the PTX:\n%s", name, an, sb_cstr(&log));
    } else {
        int spill = ptxas_spill_bytes(sb_cstr(&log));
        const char *regs = strstr(sb_cstr(&log), "Used ");
        printf("  %-30s %-6s ok, smem %6d, %.*s%s\n", name, an, info.smem_bytes, regs ? 18 : 0, regs ? regs : "",
               spill ? " (spills)" : "");
    }
    sb_free(&err);
    sb_free(&ptx);
    sb_free(&log);
    arena_free_all(&a);
    return result;
}

static void all_recipes(void **state)
{
    (void)state;
    char *names[256];
    int n = list_recipes(names, 256);
    assert_true(n > 0);
    int assembled = 0;
    for (int i = 0; i < n; i++)
        for (int arch = 0; arch < 2; arch++)
            assembled += check_recipe(names[i], arch ? TARGET_SM90A : TARGET_SM80);
    printf("%d recipes, %d PTX files assembled\n", n, assembled);
    for (int i = 0; i < n; i++)
        free(names[i]);
    assert_true(assembled > 0);
}

/* recipes/document.attn with ATTNC_DOC_FULL=0 (every tile of the cut range
 * partial): assembles on both arches and is another kernel than the
 * default's (full tiles inside one document, nvptx_fa2_span.c). */
static void documents_full_tiles(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/recipes/document.attn", test_source_dir());
    for (int arch = 0; arch < 2; arch++) {
        target_arch ta = arch ? TARGET_SM90A : TARGET_SM80;
        arena a;
        arena_init(&a, NULL);
        strbuf err, def, full;
        sb_init(&err);
        sb_init(&def);
        sb_init(&full);
        unsetenv("ATTNC_DOC_FULL");
        assert_int_equal(recipe_ptx(&a, path, NULL, ta, NULL, &def, &err), NVPTX_OK);
        setenv("ATTNC_DOC_FULL", "0", 1);
        assert_int_equal(recipe_ptx(&a, path, NULL, ta, NULL, &full, &err), NVPTX_OK);
        unsetenv("ATTNC_DOC_FULL");
        assert_true(strcmp(sb_cstr(&def), sb_cstr(&full)) != 0);
        sb_free(&err);
        sb_free(&def);
        sb_free(&full);
        arena_free_all(&a);
        setenv("ATTNC_DOC_FULL", "0", 1);
        check_recipe("document.attn", ta);
        unsetenv("ATTNC_DOC_FULL");
    }
}

/* Spill bytes of recipe `name`'s kernel for arch as ptxas reports them
 * (the PTX into *ptx); fails when it does not assemble. */
static int spills_of(const char *name, target_arch ta, strbuf *ptx)
{
    char path[512];
    snprintf(path, sizeof path, "%s/recipes/%s", test_source_dir(), name);
    arena a;
    arena_init(&a, NULL);
    strbuf err, log;
    sb_init(&err);
    sb_init(&log);
    assert_int_equal(recipe_ptx(&a, path, NULL, ta, NULL, ptx, &err), NVPTX_OK);
    if (!ptxas_check(sb_cstr(ptx), ta == TARGET_SM80 ? "sm_80" : "sm_90a", &log))
        fail_msg("%s: ptxas rejected the PTX:\n%s", name, sb_cstr(&log));
    int spill = ptxas_spill_bytes(sb_cstr(&log));
    sb_free(&err);
    sb_free(&log);
    arena_free_all(&a);
    return spill;
}

/* The radial recipes with ATTNC_MASK_FRAMES=1 (the default: the mask's
 * key-frame subtrees hoisted per tile, nvptx_fa2_frames.c): another kernel
 * than =0's that assembles on both arches; on sm_90a radial_attention's
 * kernel no longer spills (196 + 200 bytes per thread without it). */
static void radial_frames(void **state)
{
    (void)state;
    const char *names[] = {"radial_attention.attn", "radial.attn"};
    for (int i = 0; i < 2; i++)
        for (int arch = 0; arch < 2; arch++) {
            target_arch ta = arch ? TARGET_SM90A : TARGET_SM80;
            strbuf def, hoisted;
            sb_init(&def);
            sb_init(&hoisted);
            setenv("ATTNC_MASK_FRAMES", "0", 1);
            int s0 = spills_of(names[i], ta, &def);
            setenv("ATTNC_MASK_FRAMES", "1", 1);
            int s1 = spills_of(names[i], ta, &hoisted);
            unsetenv("ATTNC_MASK_FRAMES");
            printf("  %-24s %-6s spill bytes %d, hoisted %d\n", names[i], arch ? "sm_90a" : "sm_80", s0, s1);
            assert_true(strcmp(sb_cstr(&def), sb_cstr(&hoisted)) != 0);
            if (i == 0 && ta == TARGET_SM90A)
                assert_int_equal(s1, 0);
            sb_free(&def);
            sb_free(&hoisted);
        }
}

int main(void)
{
    if (!ptxas_available()) {
        printf("skipped: no ptxas\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(all_recipes), cmocka_unit_test(documents_full_tiles),
                                       cmocka_unit_test(radial_frames)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
