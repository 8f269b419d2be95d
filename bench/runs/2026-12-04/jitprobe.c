/* jitprobe.c — JIT one PTX file through the driver (cuLink, as runtime/cuda/cuda_module.c
 * does) with chosen options and write the cubin, to compare the driver's JIT with ptxas.
 * usage: jitprobe PTX OUT.cubin OPT_LEVEL [MAX_REGISTERS]   (device-side scratch tool)
 *        jitprobe PTX KERNEL ex|link: load through cuModuleLoadDataEx or cuLink and print the
 *        kernel's registers and local memory (spills) as the driver reports them */
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return 2;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *ptx = calloc(1, n + 1);
    if (fread(ptx, 1, n, f) != (size_t)n)
        return 2;
    fclose(f);
    CUdevice dev;
    CUcontext ctx;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) || cuCtxSetCurrent(ctx))
        return 3;
    static char info[1 << 16], err[1 << 16];
    if (argc == 4 && (!strcmp(argv[3], "ex") || !strcmp(argv[3], "link"))) {
        CUmodule mod;
        CUresult r;
        if (argv[3][0] == 'e') {
            r = cuModuleLoadDataEx(&mod, ptx, 0, NULL, NULL);
        } else {
            CUlinkState l;
            void *cubin;
            size_t size;
            r = cuLinkCreate(0, NULL, NULL, &l);
            if (!r)
                r = cuLinkAddData(l, CU_JIT_INPUT_PTX, ptx, n + 1, "k", 0, NULL, NULL);
            if (!r)
                r = cuLinkComplete(l, &cubin, &size);
            if (!r)
                r = cuModuleLoadData(&mod, cubin);
        }
        CUfunction fn;
        int regs = -1, local = -1;
        if (!r)
            r = cuModuleGetFunction(&fn, mod, argv[2]);
        if (!r) {
            cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, fn);
            cuFuncGetAttribute(&local, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, fn);
        }
        printf("%s %s: rc %d registers %d local bytes %d\n", argv[3], argv[2], (int)r, regs, local);
        return r != 0;
    }
    CUjit_option o[8] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
                         CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_LOG_VERBOSE, CU_JIT_OPTIMIZATION_LEVEL};
    void *v[8] = {info, (void *)(uintptr_t)sizeof info, err, (void *)(uintptr_t)sizeof err, (void *)(uintptr_t)1,
                  (void *)(uintptr_t)atoi(argv[3])};
    unsigned no = 6;
    if (argc > 4) {
        o[no] = CU_JIT_MAX_REGISTERS;
        v[no++] = (void *)(uintptr_t)atoi(argv[4]);
    }
    CUlinkState l;
    void *cubin;
    size_t size;
    CUresult r = cuLinkCreate(no, o, v, &l);
    if (!r)
        r = cuLinkAddData(l, CU_JIT_INPUT_PTX, ptx, n + 1, "k", 0, NULL, NULL);
    if (!r)
        r = cuLinkComplete(l, &cubin, &size);
    printf("rc %d\n%s\n%s\n", (int)r, info, err);
    if (r)
        return 1;
    f = fopen(argv[2], "wb");
    fwrite(cubin, 1, size, f);
    fclose(f);
    return 0;
}
