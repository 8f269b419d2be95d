/*
 * The CUDA backend's choice of compiler (runtime/cuda/cuda_jit.h), without a
 * GPU: $ATTNC_JIT's values, the -arch given to ptxas for a PTX target and a
 * device, and ptxas itself turning PTX into a cubin (skipped where no ptxas
 * is installed) or failing with its log.
 */
#include "tmpdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <string.h>

#include "runtime/compile/ptxas.h"
#include "runtime/cuda/cuda_jit.h"

static void jit_mode_from_env(void **state)
{
    (void)state;
    cuda_jit_mode m;
    unsetenv("ATTNC_JIT");
    assert_true(cuda_jit_mode_get(&m));
    assert_int_equal(m, CUDA_JIT_AUTO);
    setenv("ATTNC_JIT", "ptxas", 1);
    assert_true(cuda_jit_mode_get(&m));
    assert_int_equal(m, CUDA_JIT_PTXAS);
    assert_string_equal(cuda_jit_compiler(), "ptxas");
    setenv("ATTNC_JIT", "driver", 1);
    assert_true(cuda_jit_mode_get(&m));
    assert_int_equal(m, CUDA_JIT_DRIVER);
    assert_string_equal(cuda_jit_compiler(), "driver");
    setenv("ATTNC_JIT", "nvcc", 1);
    assert_false(cuda_jit_mode_get(&m));
    assert_string_equal(cuda_jit_compiler(), "driver");
    /* auto with no ptxas to find: the driver */
    setenv("ATTNC_JIT", "auto", 1);
    setenv("ATTNC_PTXAS", "/nonexistent/ptxas", 1);
    assert_string_equal(cuda_jit_compiler(), "driver");
    unsetenv("ATTNC_PTXAS");
    unsetenv("ATTNC_JIT");
}

static void ptxas_arch_for_device(void **state)
{
    (void)state;
    char arch[32];
    cuda_jit_ptxas_arch("//\n.version 8.5\n.target sm_90a\n.address_size 64\n", 9, 0, arch, sizeof arch);
    assert_string_equal(arch, "sm_90a");
    cuda_jit_ptxas_arch("//\n.version 8.5\n.target sm_80\n.address_size 64\n", 9, 0, arch, sizeof arch);
    assert_string_equal(arch, "sm_90"); /* sm_80 PTX compiled for the device it runs on */
    cuda_jit_ptxas_arch("//\n.version 8.5\n.target sm_80\n", 12, 0, arch, sizeof arch);
    assert_string_equal(arch, "sm_120");
    cuda_jit_ptxas_arch("no target line", 8, 6, arch, sizeof arch);
    assert_string_equal(arch, "sm_86");
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static void ptxas_makes_a_cubin(void **state)
{
    (void)state;
    char exe[4096];
    if (!ptxas_find(exe, sizeof exe)) {
        printf("skipped: no ptxas installed\n");
        return;
    }
    void *cubin = NULL;
    size_t size = 0;
    strbuf log;
    sb_init(&log);
    int r = cuda_jit_ptxas(read_text(ATTNC_SOURCE_DIR "/examples/add_one.ptx"), "sm_80", &cubin, &size, &log);
    if (r != 1)
        fail_msg("ptxas: %s", sb_cstr(&log));
    assert_true(size > 64);
    assert_memory_equal(cubin, "\177ELF", 4);
    free(cubin);
    /* PTX ptxas refuses: -1, nothing returned, its complaint in the log */
    sb_clear(&log);
    r = cuda_jit_ptxas(".version 8.5\n.target sm_80\n.address_size 64\n.visible .entry k() { bogus; }\n", "sm_80",
                       &cubin, &size, &log);
    assert_int_equal(r, -1);
    assert_null(cubin);
    assert_int_equal(size, 0);
    assert_true(log.len > 0);
    /* no ptxas: 0 and nothing done */
    setenv("ATTNC_PTXAS", "/nonexistent/ptxas", 1);
    assert_int_equal(cuda_jit_ptxas(".version 8.5\n", "sm_80", &cubin, &size, &log), 0);
    unsetenv("ATTNC_PTXAS");
    sb_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(jit_mode_from_env), cmocka_unit_test(ptxas_arch_for_device),
                                       cmocka_unit_test(ptxas_makes_a_cubin)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
