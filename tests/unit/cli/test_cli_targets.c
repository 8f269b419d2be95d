/*
 * Targets on the command line: f32 recipes are CPU-only (docs/recipe-
 * language.md §3.2) and every GPU path says so first, at q's element type,
 * not as a shared-memory problem of the `tile auto` schedule; `--arch`
 * takes one table of names (codegen/nvptx_target.c), notes on stderr which
 * code an alias gets, and lists the accepted names for any other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "run_attnc.h"

/* head_dim 128 in f32 with `tile auto`: the default GPU schedule would not fit
 * shared memory, which is what a GPU build used to report. */
static const char f32_recipe[] = "recipe f32causal\n"
                                 "input  q, k, v : f32 [batch, heads, tokens, 128]\n"
                                 "mask   causal\n"
                                 "tile   auto\n";
static char f32_path[64];

static const char f32_why[] = "f32 inputs run on the CPU backend only; use bf16 or f16 for the GPU";

static int setup(void **state)
{
    snprintf(f32_path, sizeof f32_path, "/tmp/attnc_f32_%d.attn", (int)getpid());
    FILE *f = fopen(f32_path, "wb");
    if (!f)
        return -1;
    fputs(f32_recipe, f);
    return fclose(f);
}

static int teardown(void **state)
{
    unlink(f32_path);
    return 0;
}

static void check_warns_or_fails_by_arch(void **state)
{
    char args[256], want[1024];
    run_result r;
    snprintf(args, sizeof args, "check %s", f32_path);
    run_attnc(args, &r);
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want,
             "%s:2:18: warning: %s\n"
             "    2 | input  q, k, v : f32 [batch, heads, tokens, 128]\n"
             "      |                  ^~~\n"
             "  hint: write bf16 or f16, or check with --arch host for a CPU-only recipe\n",
             f32_path, f32_why);
    assert_string_equal(r.err, want);

    snprintf(args, sizeof args, "check --werror %s", f32_path);
    run_attnc(args, &r);
    assert_int_equal(r.status, 1);

    snprintf(args, sizeof args, "check --werror --arch host %s", f32_path);
    run_attnc(args, &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");

    snprintf(args, sizeof args, "check --arch=sm_90a %s", f32_path);
    run_attnc(args, &r);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "");
    snprintf(want, sizeof want, "%s:2:18: error: %s (--arch sm_90a)\n", f32_path, f32_why);
    assert_non_null(strstr(r.err, want));

    /* bf16 recipes are fine everywhere */
    run_attnc("check --werror --arch sm_80 recipes/causal.attn", &r);
    assert_int_equal(r.status, 0);
}

static void gpu_builds_name_the_dtype_first(void **state)
{
    static const char *const cmds[][2] = {
        {"ptx", "ptx %s --arch sm_80"},
        {"ptx", "ptx %s --arch sm_90a"},
        {"compile", "compile %s --aot -o /tmp/attnc_f32_never_written"},
        {"ir", "ir %s --arch sm_80"},
        {"tune", "tune %s --shape tokens=256 --arch sm_80 --list"},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char args[256], want[512];
        snprintf(args, sizeof args, cmds[i][1], f32_path);
        snprintf(want, sizeof want, "attnc %s: %s:2:18: %s\n", cmds[i][0], f32_path, f32_why);
        expect_error(args, 1, want);
    }
    /* the CUDA backend through the API: the same words, before any driver work */
    char args[256], want[512];
    snprintf(args, sizeof args, "run %s --backend cuda", f32_path);
    snprintf(want, sizeof want, "%s:2:18: %s\n", f32_path, f32_why);
    expect_error(args, 1, want);
    /* and the CPU runs it */
    snprintf(args, sizeof args, "run %s --shape tokens=40,heads=1 --check", f32_path);
    run_result r;
    run_attnc(args, &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "dtype=f32"));
    assert_non_null(strstr(r.out, "\nOK (tolerance"));
}

static void arch_aliases_say_what_is_emitted(void **state)
{
    run_result r;
    run_attnc("ptx recipes/causal.attn --arch sm_89", &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "attnc ptx: note: --arch sm_89 emits sm_80 code (it runs on sm_89 GPUs)\n");
    assert_non_null(strstr(r.out, "// attnc: kernel attnc_causal for sm_80;"));
    assert_non_null(strstr(r.out, "\n.target sm_80\n"));
    run_attnc("ptx recipes/causal.attn --arch=sm_90", &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "attnc ptx: note: --arch sm_90 emits sm_90a code (it runs on sm_90 GPUs)\n");
    assert_non_null(strstr(r.out, "\n.target sm_90a\n"));
    run_attnc("ptx recipes/causal.attn --arch sm_80", &r); /* the name itself: no note */
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");
}

static void unknown_arch_lists_the_accepted_names(void **state)
{
    expect_error("ptx recipes/causal.attn --arch sm_75", 1,
                 "attnc ptx: unknown --arch 'sm_75': GPUs before sm_80 (Ampere) are not supported (accepted: sm_80, "
                 "sm_86, sm_87, sm_89, sm_90, sm_90a, sm_100, sm_120)\nsee attnc ptx --help\n");
    expect_error("compile recipes/causal.attn --aot -o /tmp/x --arch sm_100a", 1,
                 "attnc compile: unknown --arch 'sm_100a' (accepted: sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a, sm_100, "
                 "sm_120)\nsee attnc compile --help\n");
    expect_error("ir recipes/causal.attn --arch sm80", 1,
                 "attnc ir: unknown --arch 'sm80' (accepted: host, sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a, sm_100, "
                 "sm_120); did you mean 'sm_80'?\nsee attnc ir --help\n");
    expect_error("tune recipes/causal.attn --shape tokens=64 --arch hopper", 1,
                 "attnc tune: unknown --arch 'hopper' (accepted: sm_80, sm_86, sm_87, sm_89, sm_90, sm_90a, sm_100, "
                 "sm_120)\nsee attnc tune --help\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_warns_or_fails_by_arch),
        cmocka_unit_test(gpu_builds_name_the_dtype_first),
        cmocka_unit_test(arch_aliases_say_what_is_emitted),
        cmocka_unit_test(unknown_arch_lists_the_accepted_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
