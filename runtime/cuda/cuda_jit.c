/* cuda_jit.c — PTX to a loaded module through ptxas or the driver's
 * compiler (cuda_jit.h). */
#include "runtime/cuda/cuda_jit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/compile/ptxas.h"

bool cuda_jit_mode_get(cuda_jit_mode *mode)
{
    const char *s = getenv("ATTNC_JIT");
    *mode = CUDA_JIT_AUTO;
    if (!s || !*s || !strcmp(s, "auto"))
        return true;
    if (!strcmp(s, "ptxas"))
        *mode = CUDA_JIT_PTXAS;
    else if (!strcmp(s, "driver"))
        *mode = CUDA_JIT_DRIVER;
    else
        return false;
    return true;
}

const char *cuda_jit_compiler(void)
{
    cuda_jit_mode m;
    char exe[4096];
    if (!cuda_jit_mode_get(&m) || m == CUDA_JIT_DRIVER)
        return "driver";
    return m == CUDA_JIT_PTXAS || ptxas_find(exe, sizeof exe) ? "ptxas" : "driver";
}

void cuda_jit_ptxas_arch(const char *ptx, int major, int minor, char *out, size_t cap)
{
    const char *t = strstr(ptx, "\n.target ");
    char target[32] = "";
    if (t && sscanf(t, "\n.target %31[a-z0-9_]", target) == 1 && target[0] &&
        target[strlen(target) - 1] == 'a') {
        snprintf(out, cap, "%s", target); /* sm_90a code runs only on its own arch */
        return;
    }
    snprintf(out, cap, "sm_%d%d", major, minor);
}

static bool write_all(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static void *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    void *buf = NULL;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len)) != NULL &&
        fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = buf ? (size_t)len : 0;
    return buf;
}

int cuda_jit_ptxas(const char *ptx, const char *arch, void **cubin, size_t *size, strbuf *log)
{
    *cubin = NULL;
    *size = 0;
    char exe[4096];
    if (!ptxas_find(exe, sizeof exe))
        return 0;
    const char *tmp = getenv("TMPDIR");
    char dir[4096], in[4200], out[4200];
    snprintf(dir, sizeof dir, "%s/attnc-jit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        sb_printf(log, "cannot make a temporary folder for ptxas in %s", tmp && *tmp ? tmp : "/tmp");
        return -1;
    }
    snprintf(in, sizeof in, "%s/k.ptx", dir);
    snprintf(out, sizeof out, "%s/k.cubin", dir);
    int r = -1;
    if (!write_all(in, ptx, strlen(ptx)))
        sb_printf(log, "cannot write %s", in);
    else if ((r = ptxas_run(in, arch, out, log)) == 1 && !(*cubin = read_all(out, size)))
        r = -1, sb_printf(log, "cannot read the cubin ptxas wrote (%s)", out);
    unlink(in);
    unlink(out);
    rmdir(dir);
    return r;
}

/* The driver's compiler, loading the PTX directly. Not through cuLink*,
 * although that would hand back a cubin to keep: the linker compiles PTX as
 * relocatable code, and on the H200 its backward kernels ran 2.5x slower and
 * its forward spilled in the key loop (bench/RESULTS.md, 2026-12-04 05:45). */
static attnc_status driver_jit(const cuda_api *a, const char *ptx, CUmodule *mod, strbuf *err)
{
    enum { LOG = 16384 };
    char *log = calloc(1, LOG);
    if (!log)
        return ATTNC_ERR_NOMEM;
    CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *vals[] = {log, (void *)(uintptr_t)LOG};
    attnc_status st = cuda_check(a, a->cuModuleLoadDataEx(mod, ptx, 2, opts, vals), "cuModuleLoadDataEx (PTX JIT)", err);
    if (st && log[0])
        sb_printf(err, "\nJIT log:\n%s", log);
    free(log);
    return st;
}

/* ptxas for the device: 1 loaded, 0 not tried or refused under auto (the
 * driver takes over), -1 failed under ATTNC_JIT=ptxas (err says why). */
static int try_ptxas(const cuda_api *a, CUdevice dev, const char *ptx, bool required, CUmodule *mod, void **cubin,
                     size_t *size, strbuf *err)
{
    int major = 0, minor = 0;
    a->cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
    a->cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
    char arch[32];
    cuda_jit_ptxas_arch(ptx, major, minor, arch, sizeof arch);
    strbuf log;
    sb_init(&log);
    int r = cuda_jit_ptxas(ptx, arch, cubin, size, &log);
    if (r == 1) {
        CUresult lr = a->cuModuleLoadData(mod, *cubin);
        if (lr != CUDA_SUCCESS) { /* e.g. a toolkit newer than the driver */
            if (required)
                cuda_check(a, lr, "cuModuleLoadData (ptxas cubin)", err);
            free(*cubin);
            *cubin = NULL;
            r = required ? -1 : 0;
        }
    } else if (required) {
        sb_printf(err, "ATTNC_JIT=ptxas: %s", r == 0 ? "no ptxas found (set ATTNC_PTXAS or install the CUDA toolkit)"
                                                     : "ptxas failed");
        if (log.len)
            sb_printf(err, ":\n%s", sb_cstr(&log));
        r = -1;
    } else {
        r = 0;
    }
    sb_free(&log);
    return r;
}

attnc_status cuda_jit_load(const cuda_api *a, CUdevice dev, const char *ptx, CUmodule *mod, void **cubin,
                           size_t *size, const char **by, strbuf *err)
{
    *cubin = NULL;
    *size = 0;
    cuda_jit_mode m;
    if (!cuda_jit_mode_get(&m)) {
        sb_printf(err, "ATTNC_JIT='%s' is not a JIT choice (write auto, ptxas or driver)", getenv("ATTNC_JIT"));
        return ATTNC_ERR_INVALID_ARGUMENT;
    }
    if (m != CUDA_JIT_DRIVER) {
        int r = try_ptxas(a, dev, ptx, m == CUDA_JIT_PTXAS, mod, cubin, size, err);
        if (r) {
            *by = "ptxas";
            return r == 1 ? ATTNC_OK : ATTNC_ERR_CUDA;
        }
    }
    *by = "driver";
    return driver_jit(a, ptx, mod, err);
}
