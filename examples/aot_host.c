/*
 * aot_host.c — a program built from `attnc compile --aot` output alone.
 *
 * It links neither libattnc nor LLVM nor libcuda: add_one.h/add_one.c (made
 * at build time from add_one.ptx by `attnc compile --from-ptx`) load the
 * driver with dlopen. For device memory this program also dlopens libcuda
 * itself. Steps: the generated dry self-check, argument validation, then —
 * with a driver — upload x, launch add_one(x, n), download, and check
 * x + 1 element by element. Without a driver it prints "skipped: no CUDA
 * driver" (and exits 0), the message CTest reports as a skip.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "add_one.h"

typedef struct driver {
    int (*cuInit)(unsigned);
    int (*cuDeviceGet)(int *, int);
    int (*cuDevicePrimaryCtxRetain)(void **, int);
    int (*cuCtxSetCurrent)(void *);
    int (*cuMemAlloc)(uint64_t *, size_t);
    int (*cuMemFree)(uint64_t);
    int (*cuMemcpyHtoD)(uint64_t, const void *, size_t);
    int (*cuMemcpyDtoH)(void *, uint64_t, size_t);
    int (*cuCtxSynchronize)(void);
} driver;

static int load(driver *d)
{
    const char *path = getenv("ATTNC_LIBCUDA");
    void *lib = dlopen(path && *path ? path : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return 0;
    const char *names[] = {"cuInit",       "cuDeviceGet",     "cuDevicePrimaryCtxRetain",
                           "cuCtxSetCurrent", "cuMemAlloc_v2", "cuMemFree_v2",
                           "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2", "cuCtxSynchronize"};
    void **slots = (void **)d; /* POSIX: function and object pointers share one representation */
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!(slots[i] = dlsym(lib, names[i])))
            return 0;
    return 1;
}

static int check_args(void)
{
    add_one_args bad = {NULL, 10};
    if (add_one_validate(&bad) != add_one_ERR_INVALID_ARGUMENT) {
        fprintf(stderr, "aot_host: a NULL pointer passed validation\n");
        return 1;
    }
    printf("validation: %s\n", add_one_errmsg());
    return 0;
}

static int run_on_gpu(driver *d)
{
    enum { N = 1000 };
    static float x[N], y[N];
    int dev = 0;
    void *ctx = NULL;
    uint64_t buf = 0;
    if (d->cuInit(0) || d->cuDeviceGet(&dev, 0) || d->cuDevicePrimaryCtxRetain(&ctx, dev) || d->cuCtxSetCurrent(ctx) ||
        d->cuMemAlloc(&buf, sizeof x)) {
        printf("skipped: no CUDA driver (no usable device)\n");
        return 0;
    }
    for (int i = 0; i < N; i++)
        x[i] = (float)i * 0.25f - 100.0f;
    add_one_args a = {(void *)(uintptr_t)buf, N};
    int st = d->cuMemcpyHtoD(buf, x, sizeof x) ? add_one_ERR_CUDA : add_one_launch(&a, NULL);
    if (st == add_one_OK && (d->cuCtxSynchronize() || d->cuMemcpyDtoH(y, buf, sizeof y)))
        st = add_one_ERR_CUDA;
    d->cuMemFree(buf);
    if (st != add_one_OK) {
        fprintf(stderr, "aot_host: %s: %s\n", add_one_status_string(st), add_one_errmsg());
        return 1;
    }
    for (int i = 0; i < N; i++)
        if (y[i] != x[i] + 1.0f) {
            fprintf(stderr, "aot_host: y[%d] = %g, want %g\n", i, y[i], x[i] + 1.0f);
            return 1;
        }
    printf("add_one on the GPU: %d values, all x + 1\n", N);
    return 0;
}

int main(void)
{
    if (add_one_self_check() != add_one_OK) {
        fprintf(stderr, "aot_host: %s\n", add_one_errmsg());
        return 1;
    }
    printf("self-check: embedded image intact\n");
    if (check_args())
        return 1;
    driver d;
    memset(&d, 0, sizeof d);
    if (!load(&d)) {
        add_one_args a = {(void *)(uintptr_t)0x1000, 1};
        int st = add_one_launch(&a, NULL);
        printf("launch: %s (%s)\nskipped: no CUDA driver\n", add_one_status_string(st), add_one_errmsg());
        return st == add_one_ERR_NO_DRIVER ? 0 : 1;
    }
    return run_on_gpu(&d);
}
