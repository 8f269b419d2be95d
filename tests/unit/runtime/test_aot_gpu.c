/* test_aot_gpu.c — the AOT output matches the JIT bit for bit (GPU).
 *
 * For each recipe below: `attnc compile --aot` for the device's arch into a
 * temp folder, the generated C built as a shared object with the system cc
 * and dlopen'ed (so the test needs no build-time generation), then the same
 * random bf16 inputs run through NAME_launch and through attnc_kernel_build
 * + attnc_launch on the CUDA backend; the two outputs must be identical
 * bytes (same PTX, same launch). Without a driver: "skipped: no CUDA
 * driver". Run on the GPU machine: ctest -R test_aot_gpu. */
#include "tmpdir.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/cuda/cuda_module.h"
#include "runtime/include/attnc.h"

enum { B = 1, H = 2, T = 77, D = 128 };

/* Mirrors the generated NAME_args of a recipe without params (aot_recipe.c). */
typedef struct abi_args {
    void *q, *k, *v, *o, *lse;
    int64_t q_stride[4], k_stride[4], v_stride[4], o_stride[4], lse_stride[3];
    int32_t size[SZ_MAX];
} abi_args;

typedef int (*launch_fn)(const abi_args *, void *);
typedef const char *(*errmsg_fn)(void);

static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void fill(uint16_t *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        float f = (float)((seed >> 40) * (1.0 / (1 << 24))) * 2.0f - 1.0f;
        attnc_f32_to_bf16(&f, &p[i], 1);
    }
}

static attnc_tensor dev_tensor(uint64_t p)
{
    return (attnc_tensor){ATTNC_BF16, (void *)(uintptr_t)p, 4, {B, H, T, D}, {H * T * D, T * D, D, 1}};
}

static void run_recipe(const char *name, const char *arch)
{
    char *dir = tmpdir_make(), lib[600], sym[128];
    assert_int_equal(sh("%s/bin/attnc compile %s/recipes/%s.attn --aot --arch %s --name aotk -o %s > /dev/null",
                        ATTNC_BINARY_DIR, ATTNC_SOURCE_DIR, name, arch, dir), 0);
    assert_int_equal(sh("cd %s && cc -std=c11 -O1 -fPIC -shared -pthread -o aotk.so aotk.c", dir), 0);
    snprintf(lib, sizeof lib, "%s/aotk.so", dir);
    void *so = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(so);
    launch_fn launch;
    errmsg_fn errmsg;
    snprintf(sym, sizeof sym, "aotk_launch");
    *(void **)&launch = dlsym(so, sym);
    *(void **)&errmsg = dlsym(so, "aotk_errmsg");
    assert_true(launch && errmsg);

    size_t n = (size_t)B * H * T * D, bytes = n * 2;
    uint16_t *hq = malloc(bytes), *hk = malloc(bytes), *hv = malloc(bytes), *o1 = malloc(bytes), *o2 = malloc(bytes);
    fill(hq, n, 1), fill(hk, n, 2), fill(hv, n, 3);
    uint64_t dq, dk, dv, do1, do2;
    strbuf err;
    sb_init(&err);
    assert_int_equal(cuda_mem_alloc(&dq, bytes, &err) | cuda_mem_alloc(&dk, bytes, &err) |
                         cuda_mem_alloc(&dv, bytes, &err) | cuda_mem_alloc(&do1, bytes, &err) |
                         cuda_mem_alloc(&do2, bytes, &err),
                     0);
    assert_int_equal(cuda_memcpy_htod(dq, hq, bytes, &err) | cuda_memcpy_htod(dk, hk, bytes, &err) |
                         cuda_memcpy_htod(dv, hv, bytes, &err) | cuda_memset8(do1, 0xff, bytes, &err) |
                         cuda_memset8(do2, 0xee, bytes, &err),
                     0);

    abi_args a;
    memset(&a, 0, sizeof a);
    a.q = (void *)(uintptr_t)dq, a.k = (void *)(uintptr_t)dk, a.v = (void *)(uintptr_t)dv, a.o = (void *)(uintptr_t)do1;
    int64_t st[4] = {H * T * D, T * D, D, 1};
    memcpy(a.q_stride, st, sizeof st), memcpy(a.k_stride, st, sizeof st), memcpy(a.v_stride, st, sizeof st);
    memcpy(a.o_stride, st, sizeof st);
    a.size[SZ_BATCH] = B, a.size[SZ_HEADS] = H, a.size[SZ_KV_HEADS] = H, a.size[SZ_TOKENS] = T, a.size[SZ_KV_TOKENS] = T;
    int rc = launch(&a, NULL);
    if (rc)
        fail_msg("AOT launch: %d %s", rc, errmsg());

    attnc_context *ctx;
    attnc_recipe *r;
    attnc_kernel *k;
    attnc_args *args;
    char path[600];
    snprintf(path, sizeof path, "%s/recipes/%s.attn", ATTNC_SOURCE_DIR, name);
    assert_int_equal(attnc_context_create(&ctx, NULL), 0);
    assert_int_equal(attnc_recipe_from_file(&r, ctx, path), 0);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.arch = arch;
    if (attnc_kernel_build(&k, ctx, r, &o))
        fail_msg("JIT build: %s", attnc_context_errmsg(ctx));
    assert_int_equal(attnc_args_create(&args, k), 0);
    attnc_tensor tq = dev_tensor(dq), tk = dev_tensor(dk), tv = dev_tensor(dv), to = dev_tensor(do2);
    assert_int_equal(attnc_args_set_tensor(args, "q", &tq) | attnc_args_set_tensor(args, "k", &tk) |
                         attnc_args_set_tensor(args, "v", &tv) | attnc_args_set_tensor(args, "o", &to),
                     0);
    if (attnc_launch(k, args, NULL))
        fail_msg("JIT launch: %s", attnc_kernel_errmsg(k));
    assert_int_equal(cuda_synchronize(&err), 0);
    assert_int_equal(cuda_memcpy_dtoh(o1, do1, bytes, &err) | cuda_memcpy_dtoh(o2, do2, bytes, &err), 0);
    size_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff += o1[i] != o2[i];
    printf("%s on %s: %zu of %zu outputs differ between AOT and JIT\n", name, arch, diff, n);
    assert_int_equal(diff, 0);

    attnc_args_destroy(args);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
    attnc_context_destroy(ctx);
    cuda_mem_free(dq), cuda_mem_free(dk), cuda_mem_free(dv), cuda_mem_free(do1), cuda_mem_free(do2);
    free(hq), free(hk), free(hv), free(o1), free(o2);
    sb_free(&err);
    dlclose(so);
    tmpdir_remove(dir);
}

static void test_aot_matches_jit(void **state)
{
    (void)state;
    target_arch arch;
    strbuf err;
    sb_init(&err);
    attnc_status st = cuda_device_arch(&arch, &err);
    sb_free(&err);
    if (st) {
        printf("skipped: no CUDA driver\n");
        skip();
    }
    const char *an = arch == TARGET_SM90A ? "sm_90a" : "sm_80";
    run_recipe("causal", an);
    run_recipe("dense", an);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_aot_matches_jit)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
