/* test_ptx_merge.c — the GPU side of programs of kernels through ptxas for
 * sm_80 and sm_90a: the LSE-merge kernel (bf16, f16) and forward kernels
 * at global coordinates (ATTNC_BUILD_GLOBAL_COORDS: offsets in the mask,
 * global sizes, the padded-slab test of token grids). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "codegen/nvptx_kernel.h"
#include "frontend/frontend.h"
#include "passes/pipeline.h"
#include "ptxas_run.h"
#include "runtime/program/program.h"

static const target_arch archs[2] = {TARGET_SM80, TARGET_SM90A};

static void assemble(const char *what, const char *ptx, target_arch arch)
{
    strbuf log;
    sb_init(&log);
    if (!ptxas_check(ptx, nvptx_arch_name(arch), &log))
        fail_msg("%s (%s): ptxas: %s", what, nvptx_arch_name(arch), sb_cstr(&log));
    sb_free(&log);
}

static void merge_kernels(void **state)
{
    (void)state;
    if (!ptxas_available()) {
        printf("skipped: no ptxas\n");
        return;
    }
    static const dtype dts[2] = {DT_BF16, DT_F16};
    for (int a = 0; a < 2; a++)
        for (int d = 0; d < 2; d++) {
            strbuf ptx, err;
            sb_init(&ptx);
            sb_init(&err);
            if (!merge_ptx(dts[d], archs[a], &ptx, &err))
                fail_msg("merge_ptx: %s", sb_cstr(&err));
            assert_non_null(strstr(sb_cstr(&ptx), ".entry attnc_merge"));
            assert_non_null(strstr(sb_cstr(&ptx), "ex2.approx"));
            assemble("merge", sb_cstr(&ptx), archs[a]);
            sb_free(&ptx);
            sb_free(&err);
        }
}

static void global_kernel(const char *file, target_arch arch)
{
    arena a;
    arena_init(&a, NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/recipes/%s", ATTNC_SOURCE_DIR, file);
    size_t len;
    const char *why = NULL;
    char *text = frontend_read_file(&a, path, &len, &why);
    assert_non_null(text);
    diag_list diags;
    diag_list_init(&diags, &a, path, text, len);
    recipe *r = frontend_parse(&a, path, text, len, &diags);
    assert_non_null(r);
    strbuf ptx, err;
    sb_init(&ptx);
    sb_init(&err);
    if (recipe_globalize(&a, r, &err))
        fail_msg("%s: globalize: %s", file, sb_cstr(&err));
    schedule s = nvptx_default_schedule(lower_signature(&a, r), arch);
    tir_kernel *k = lower_recipe(&a, r, &s, arch, &err);
    if (!k)
        fail_msg("%s: lower: %s", file, sb_cstr(&err));
    nvptx_kernel_info info;
    if (nvptx_emit_kernel(k, arch, &info, &ptx, &err))
        fail_msg("%s: emit: %s", file, sb_cstr(&err));
    assemble(file, sb_cstr(&ptx), arch);
    sb_free(&ptx);
    sb_free(&err);
    arena_free_all(&a);
}

static void global_kernels(void **state)
{
    (void)state;
    if (!ptxas_available()) {
        printf("skipped: no ptxas\n");
        return;
    }
    static const char *const files[] = {"dense.attn", "causal.attn", "sliding_window.attn", "document.attn",
                                        "alibi.attn", "neighborhood3d.attn", "neighborhood2d.attn"};
    for (int a = 0; a < 2; a++)
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
            global_kernel(files[i], archs[a]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merge_kernels),
        cmocka_unit_test(global_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
