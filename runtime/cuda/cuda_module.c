/* cuda_module.c — load, keep and launch GPU kernels (cuda_module.h). PTX
 * becomes a cubin through ptxas or the driver's compiler (cuda_jit.h), kept
 * for reuse (a disk cache can load it with cuModuleLoadData and skip the
 * JIT); the compiler's log is captured into the error message. */
#include "runtime/cuda/cuda_module.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/target_info.h"
#include "runtime/compile/compile_job.h"
#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/cuda_internal.h"
#include "runtime/cuda/cuda_jit.h"

struct cuda_module {
    nvptx_kernel_info info;
    char *ptx;
    void *cubin;
    size_t cubin_size;
    CUdevice dev;
    int sms; /* the device's multiprocessors: a persistent kernel's blocks */
    CUmodule mod;
    CUfunction fn;
    double codegen_ms, jit_ms;
    const char *jit_by; /* "ptxas" or "driver" (cuda_jit.h); NULL when loaded from a cubin */
    bool from_cubin; /* loaded from a cached cubin: no JIT, ptx is "" */
    /* info.serial: launches must not overlap (module-global scratch);
     * the last launch's stream and an event recorded after it. */
    pthread_mutex_t serial_lock;
    CUstream last_stream;
    CUevent last_done;
};

/* Orders a launch of a serial kernel after the previous one when it goes to
 * another stream (cuStreamWaitEvent); call with serial_lock held, then
 * cuda_serial_done after the launch. */
attnc_status cuda_serial_begin(cuda_module *k, CUstream stream, strbuf *err)
{
    const cuda_api *a;
    attnc_status st = cuda_api_get(&a, err);
    if (st)
        return st;
    if (!k->last_done) {
        st = cuda_check(a, a->cuEventCreate(&k->last_done, CU_EVENT_DISABLE_TIMING), "cuEventCreate", err);
        k->last_stream = stream;
        return st;
    }
    if (k->last_stream == stream)
        return ATTNC_OK; /* one stream runs its launches in order */
    return cuda_check(a, a->cuStreamWaitEvent(stream, k->last_done, 0), "cuStreamWaitEvent", err);
}

attnc_status cuda_serial_done(cuda_module *k, CUstream stream, strbuf *err)
{
    const cuda_api *a;
    attnc_status st = cuda_api_get(&a, err);
    if (st)
        return st;
    k->last_stream = stream;
    return cuda_check(a, a->cuEventRecord(k->last_done, stream), "cuEventRecord", err);
}

pthread_mutex_t *cuda_serial_lock(cuda_module *k)
{
    return &k->serial_lock;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

attnc_status cuda_device_arch(target_arch *out, strbuf *err)
{
    const cuda_api *a;
    attnc_status st = cuda_api_get(&a, err);
    if (st)
        return st;
    CUdevice dev;
    int major = 0, minor = 0;
    if ((st = cuda_check(a, a->cuDeviceGet(&dev, cuda_device_ordinal()), "cuDeviceGet", err)))
        return st;
    a->cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
    a->cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
    if (major < 8) {
        sb_printf(err, "the GPU (compute capability %d.%d) is older than sm_80", major, minor);
        return ATTNC_ERR_UNSUPPORTED;
    }
    /* sm_90a PTX runs only on 9.0; sm_80 PTX is JIT-compiled for any later GPU. */
    *out = major == 9 && minor == 0 ? TARGET_SM90A : TARGET_SM80;
    return ATTNC_OK;
}

static attnc_status load_module(cuda_module *k, strbuf *err)
{
    const cuda_api *a;
    attnc_status st = cuda_api_get(&a, err);
    if (st)
        return st;
    double t0 = now_ms();
    if (k->cubin) /* a module made from a cached cubin skips the JIT */
        st = cuda_check(a, a->cuModuleLoadData(&k->mod, k->cubin), "cuModuleLoadData", err);
    else
        st = cuda_jit_load(a, k->dev, k->ptx, &k->mod, &k->cubin, &k->cubin_size, &k->jit_by, err);
    if (st)
        return st;
    if ((st = cuda_check(a, a->cuModuleGetFunction(&k->fn, k->mod, k->info.name), "cuModuleGetFunction", err)))
        return st;
    if (k->info.smem_bytes > target_info_of(k->info.arch)->smem_block_default)
        st = cuda_check(a,
                        a->cuFuncSetAttribute(k->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                              k->info.smem_bytes),
                        "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", err);
    k->jit_ms = now_ms() - t0;
    return st;
}

/* Acquires the device's context and loads k (from k->cubin when set, else
 * by compiling k->ptx: cuda_jit.h); destroys k on failure. */
static attnc_status finish_load(cuda_module **out, cuda_module *k, strbuf *err)
{
    pthread_mutex_init(&k->serial_lock, NULL);
    k->dev = -1;
    attnc_status st = cuda_context_acquire(cuda_device_ordinal(), &k->dev, err);
    if (st) {
        k->dev = -1;
    } else {
        const cuda_api *a;
        if (!cuda_api_get(&a, err) && a->cuDeviceGetAttribute(&k->sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                                                              k->dev) != CUDA_SUCCESS)
            k->sms = 0;
        st = load_module(k, err);
    }
    if (st) {
        cuda_module_destroy(k);
        return st;
    }
    *out = k;
    return ATTNC_OK;
}

attnc_status cuda_module_load(cuda_module **out, const char *ptx, size_t len, const nvptx_kernel_info *info,
                              strbuf *err)
{
    *out = NULL;
    cuda_module *k = calloc(1, sizeof *k);
    if (!k || !(k->ptx = malloc(len + 1))) {
        free(k);
        return ATTNC_ERR_NOMEM;
    }
    memcpy(k->ptx, ptx, len);
    k->ptx[len] = 0;
    k->info = *info;
    return finish_load(out, k, err);
}

attnc_status cuda_module_load_cubin(cuda_module **out, const void *cubin, size_t len, const nvptx_kernel_info *info,
                                    strbuf *err)
{
    *out = NULL;
    cuda_module *k = calloc(1, sizeof *k);
    if (!k || !len || !(k->ptx = calloc(1, 1)) || !(k->cubin = malloc(len))) {
        if (k)
            free(k->ptx);
        free(k);
        return len ? ATTNC_ERR_NOMEM : ATTNC_ERR_INVALID_ARGUMENT;
    }
    memcpy(k->cubin, cubin, len);
    k->cubin_size = len;
    k->info = *info;
    k->from_cubin = true;
    return finish_load(out, k, err);
}

attnc_status cuda_device_ident(char *out, size_t cap, strbuf *err)
{
    const cuda_api *a;
    attnc_status st = cuda_api_get(&a, err);
    CUdevice dev;
    if (!st)
        st = cuda_check(a, a->cuDeviceGet(&dev, cuda_device_ordinal()), "cuDeviceGet", err);
    if (st)
        return st;
    int major = 0, minor = 0;
    a->cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
    a->cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
    snprintf(out, cap, "cc%d.%d driver%d jit=%s", major, minor, a->driver_version, cuda_jit_compiler());
    return ATTNC_OK;
}

bool cuda_module_from_cubin(const cuda_module *k)
{
    return k->from_cubin;
}

attnc_status cuda_module_build(cuda_module **out, const tir_kernel *tk, const char *arch, strbuf *err)
{
    *out = NULL;
    target_arch ta;
    attnc_status st;
    if (arch) {
        if (!nvptx_arch_parse(arch, &ta)) {
            sb_printf(err, "unknown GPU arch '%s' (accepted: ", arch);
            nvptx_arch_list(err);
            sb_putc(err, ')');
            return ATTNC_ERR_INVALID_ARGUMENT;
        }
    } else if ((st = cuda_device_arch(&ta, err))) {
        return st;
    }
    /* a lowered kernel: the compile job's emission step, its schedule
     * resolved here when the kernel was built with `auto` */
    tir_kernel k = *tk;
    if (k.sched.is_auto)
        k.sched = nvptx_default_schedule(&k, ta);
    compile_job j;
    compile_job_init(&j, NULL, ta); /* lowered already: the job only emits */
    j.tk = &k;
    j.sched = k.sched;
    j.resolved = true;
    st = compile_job_attnc_status(compile_job_emit(&j));
    if (st)
        sb_puts(err, sb_cstr(&j.err));
    if (!st)
        st = cuda_module_load(out, sb_cstr(&j.ptx), j.ptx.len, &j.info, err);
    if (!st)
        (*out)->codegen_ms = j.codegen_ms;
    compile_job_free(&j);
    return st;
}

void cuda_module_destroy(cuda_module *k)
{
    if (!k)
        return;
    const cuda_api *a;
    if (k->mod && cuda_api_get(&a, NULL) == ATTNC_OK) {
        if (k->last_done)
            a->cuEventDestroy(k->last_done);
        a->cuModuleUnload(k->mod);
    }
    pthread_mutex_destroy(&k->serial_lock);
    if (k->dev >= 0)
        cuda_context_release(k->dev);
    free(k->cubin);
    free(k->ptx);
    free(k);
}

int cuda_module_sms(const cuda_module *k)
{
    return k->sms;
}

const nvptx_kernel_info *cuda_module_info(const cuda_module *k)
{
    return &k->info;
}

const char *cuda_module_ptx(const cuda_module *k)
{
    return k->ptx;
}

const void *cuda_module_cubin(const cuda_module *k, size_t *size)
{
    *size = k->cubin_size;
    return k->cubin;
}

double cuda_module_codegen_ms(const cuda_module *k)
{
    return k->codegen_ms;
}

const char *cuda_module_jit_by(const cuda_module *k)
{
    return k->jit_by ? k->jit_by : "cache";
}

double cuda_module_jit_ms(const cuda_module *k)
{
    return k->jit_ms;
}

CUfunction cuda_module_function(const cuda_module *k)
{
    return k->fn;
}
