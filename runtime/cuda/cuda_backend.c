/* cuda_backend.c — the CUDA backend behind attnc_kernel_build and
 * attnc_launch (the hook of api_backend.h): lower the kernel's recipe for
 * the GPU, build a cuda_module, and launch validated problems on it.
 *
 * GPU specifics beyond launch_validate: tensor params must be contiguous
 * device arrays; scalar params are read on the host (set them with
 * attnc_args_set_scalar). Tensors with a zero extent (k and v when
 * kv_tokens is 0, params over kv_tokens) are never read, and may be NULL;
 * the kernel gets q's address and strides in their place, which satisfy
 * every check of cuda_launch.c. Empty launches never get here
 * (attnc_launch). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pipeline.h"
#include "runtime/api/api_backend.h"
#include "runtime/api/api_kcache.h"
#include "runtime/compile/compile_job.h"
#include "runtime/cuda/cuda_fanout.h"
#include "runtime/cuda/cuda_module.h"
#include "runtime/cuda/cuda_tma.h"

static void cuda_destroy(attnc_kernel *k)
{
    cuda_module_destroy(k->backend_data);
    k->backend_data = NULL;
}

static bool has_zero_extent(const attnc_tensor *t)
{
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] == 0)
            return true;
    return false;
}

static attnc_status fill_params(attnc_kernel *k, const launch_problem *p, cuda_launch *a)
{
    for (int i = 0; i < k->r->nparams && i < NVPTX_MAX_PARAMS; i++) {
        const attnc_tensor *t = &p->params[i];
        if (k->r->params[i].ndim == 0) {
            a->param_scalar[i] = launch_scalar_value(t); /* host memory, by its dtype */
            continue;
        }
        if (has_zero_extent(t)) { /* never read */
            a->param_ptr[i] = a->ptr[ARG_Q];
            continue;
        }
        if (!tensor_is_contiguous(t))
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                "CUDA launch: param '%s' must be a contiguous device tensor", k->r->params[i].name);
        a->param_ptr[i] = (uint64_t)(uintptr_t)t->data;
    }
    return ATTNC_OK;
}

/* A 3-D grid TMA kernel whose q/k/v layout its maps cannot fold
 * (cuda_tma.h): one launch per batch entry, each with batch 1 and every
 * batch-indexed tensor moved to that entry. All launches go to `stream` in
 * order, so the call stays asynchronous. */
static attnc_status launch_per_batch(attnc_kernel *k, const launch_problem *p, const cuda_launch *a, void *stream,
                                     strbuf *err)
{
    attnc_status st = ATTNC_OK;
    for (int64_t b = 0; b < a->size[SZ_BATCH] && !st; b++) {
        cuda_launch one = *a;
        one.size[SZ_BATCH] = 1;
        for (int t = 0; t < ARG_NFIXED; t++)
            if (p->t[t] && p->t[t]->data)
                one.ptr[t] += (uint64_t)(b * a->stride[t][0] * tensor_elem_size(p->t[t]->dtype));
        for (int i = 0; i < k->r->nparams && i < NVPTX_MAX_PARAMS; i++) {
            const recipe_param *rp = &k->r->params[i];
            const attnc_tensor *t = &p->params[i];
            if (rp->ndim > 0 && rp->dims[0] == SZ_BATCH && !rp->const_dims[0] && t->data && t->shape[0] > 1)
                one.param_ptr[i] += (uint64_t)(b * t->stride[0] * tensor_elem_size(t->dtype)); /* contiguous */
        }
        st = cuda_module_launch(k->backend_data, &one, stream, err);
    }
    return st;
}

static attnc_status cuda_launch_problem(attnc_kernel *k, const launch_problem *p, void *stream)
{
    cuda_launch a;
    memset(&a, 0, sizeof a);
    for (int t = 0; t < ARG_NFIXED; t++) {
        const attnc_tensor *x = p->t[t];
        if (!x)
            continue;
        if (has_zero_extent(x)) /* k, v with kv_tokens 0: never read */
            x = p->t[ARG_Q];
        a.ptr[t] = (uint64_t)(uintptr_t)x->data;
        for (int d = 0; d < x->ndim && d < 4; d++)
            a.stride[t][d] = x->stride[d];
    }
    memcpy(a.size, p->sizes, sizeof a.size);
    attnc_status st = fill_params(k, p, &a);
    if (st)
        return st;
    strbuf err;
    sb_init(&err);
    if (cuda_tma_splits_batch(cuda_module_info(k->backend_data), a.size, (const int64_t(*)[4])a.stride))
        st = launch_per_batch(k, p, &a, stream, &err);
    else
        st = cuda_module_launch(k->backend_data, &a, stream, &err);
    if (st)
        kernel_error(k, st, "%s", err.failed ? "out of memory" : sb_cstr(&err));
    sb_free(&err);
    return st;
}

attnc_status cuda_build_arch(const attnc_build_options *o, target_arch *arch, strbuf *err)
{
    if (!o->arch)
        return cuda_device_arch(arch, err);
    if (nvptx_arch_parse(o->arch, arch))
        return ATTNC_OK;
    sb_printf(err, "unknown CUDA arch '%s' (accepted: ", o->arch);
    nvptx_arch_list(err);
    sb_putc(err, ')');
    return ATTNC_ERR_INVALID_ARGUMENT;
}

/* The arch api_kernel.c resolves the schedule for (a device that cannot
 * be asked: sm_80, and cuda_build reports why). */
static target_arch schedule_arch(const attnc_build_options *o)
{
    strbuf why;
    sb_init(&why);
    target_arch arch;
    if (cuda_build_arch(o, &arch, &why))
        arch = TARGET_SM80;
    sb_free(&why);
    return arch;
}

/* PTX through the context's kernel cache, then the driver's JIT. A damaged
 * PTX entry (rebuilt) is noted in `note`. */
static attnc_status load_from_ptx(attnc_kernel *k, compile_job *j, cuda_module **m, strbuf *note, strbuf *err)
{
    strbuf why;
    sb_init(&why);
    cache_result how = CACHE_MISS;
    attnc_status st = kernel_ptx_cached(k->ctx, j, &how, &why, err);
    if (!st)
        st = cuda_module_load(m, sb_cstr(&j->ptx), j->ptx.len, &j->info, err);
    if (!st && how == CACHE_CORRUPT)
        sb_printf(note, "kernel cache: %s (PTX entry rebuilt)", sb_cstr(&why));
    sb_free(&why);
    return st;
}

/* The cubin entry's key: the PTX entry's key, the arch, and what the driver
 * linked it for (compute capability, driver version). */
static bool cubin_key(attnc_kernel *k, compile_job *j, cache_key *out)
{
    cache_key ptx_key;
    char hex[33], ident[64];
    target_arch arch = j->arch;
    if (!cache_key_for_kernel(j->tk, &j->sched, nvptx_arch_name(arch), &ptx_key) ||
        cuda_device_ident(ident, sizeof ident, NULL))
        return false;
    cache_key_hex(ptx_key, hex);
    cache_key_parts parts = {hex, "cubin", nvptx_arch_name(arch), ident};
    *out = cache_key_make(&parts);
    return true;
}

typedef struct cubin_job {
    attnc_kernel *k;
    compile_job *j;
    cuda_module *m;  /* JIT-loaded by the build (a miss) */
    attnc_status st; /* the PTX/JIT failure, if any */
    strbuf *note, *err;
} cubin_job;

/* cache_build_fn for a cubin entry: payload = launch info, then the cubin
 * the driver linked from the (cached) PTX. The module is kept for use. */
static bool build_cubin(void *user, void **data, size_t *len, strbuf *err)
{
    cubin_job *j = user;
    j->st = load_from_ptx(j->k, j->j, &j->m, j->note, j->err);
    size_t n = 0;
    const void *cubin = j->st ? NULL : cuda_module_cubin(j->m, &n);
    const nvptx_kernel_info *info = j->m ? cuda_module_info(j->m) : NULL;
    unsigned char *buf = cubin && n ? malloc(sizeof *info + n) : NULL;
    if (!buf) {
        sb_puts(err, j->st ? "PTX JIT failed" : "no cubin to store");
        return false;
    }
    memcpy(buf, info, sizeof *info);
    memcpy(buf + sizeof *info, cubin, n);
    *data = buf;
    *len = sizeof *info + n;
    return true;
}

/* A cached cubin entry to a module; false when it is not usable. */
static bool load_cubin_entry(const void *data, size_t len, target_arch arch, cuda_module **m)
{
    nvptx_kernel_info info;
    if (len <= sizeof info)
        return false;
    memcpy(&info, data, sizeof info);
    strbuf err;
    sb_init(&err);
    bool ok = info.arch == arch &&
              !cuda_module_load_cubin(m, (const char *)data + sizeof info, len - sizeof info, &info, &err);
    sb_free(&err);
    return ok;
}

/* The module for tk: a cached cubin (no JIT) when the cache has one for
 * this device and driver, else PTX (cached too) through the JIT, whose cubin
 * is then stored. A damaged entry is reported in the kernel's message and
 * rebuilt, never loaded. */
static attnc_status load_cached(attnc_kernel *k, compile_job *cj, cuda_module **m, strbuf *err)
{
    target_arch arch = cj->arch;
    strbuf note, why;
    sb_init(&note);
    sb_init(&why);
    kcache *c = k->recipe_hash[0] ? ctx_kernel_cache(k->ctx) : NULL;
    cache_key key;
    attnc_status st = ATTNC_OK;
    if (!c || !cubin_key(k, cj, &key)) {
        st = load_from_ptx(k, cj, m, &note, err);
    } else {
        cubin_job j = {k, cj, NULL, ATTNC_OK, &note, err};
        void *data = NULL;
        size_t len = 0;
        cache_result res = cache_get_or_build(c, key, CACHE_CUBIN, build_cubin, &j, &data, &len, &why);
        if (j.m) /* built here (a store failure does not matter) */
            *m = j.m;
        else if (j.st)
            st = j.st;
        else if ((res != CACHE_HIT_MEMORY && res != CACHE_HIT_DISK) || !load_cubin_entry(data, len, arch, m))
            st = load_from_ptx(k, cj, m, &note, err); /* the driver refused it, or no cache: JIT */
        if (!st && res == CACHE_CORRUPT)
            sb_printf(&note, "%skernel cache: %s (cubin entry rebuilt)", note.len ? "; " : "", sb_cstr(&why));
        free(data);
    }
    if (!st && note.len)
        snprintf(k->errmsg, sizeof k->errmsg, "%s", sb_cstr(&note));
    sb_free(&note);
    sb_free(&why);
    return st;
}

/* k's compile job (initialised) for arch, lowered into k's arena: the
 * schedule is the one api_kernel.c resolved for this arch. */
static attnc_status lower_job(attnc_kernel *k, const attnc_build_options *o, kernel_lower_fn lower, target_arch arch,
                              compile_job *j, strbuf *err)
{
    j->arch = arch;
    j->lower = lower;
    j->a = &k->arena;
    if (arch == k->arch) {
        j->sched = k->sched;
        j->source = (sched_source)k->sched_source;
        j->resolved = true;
    } else { /* the device answered only now: resolve for it */
        j->schedule_text = o->schedule;
    }
    attnc_status st = compile_job_attnc_status(compile_job_lower(j));
    if (st) {
        sb_puts(err, sb_cstr(&j->err));
        return st;
    }
    if (arch != k->arch) {
        k->arch = arch;
        k->sched = j->sched;
        k->sched_source = (int)j->source;
        kernel_set_schedule_text(k);
    }
    return ATTNC_OK;
}

/* The forward: one module, through the kernel cache. The error message is
 * kept on k (the caller copies it to the context). */
static attnc_status cuda_build(attnc_kernel *k, const attnc_build_options *o, kernel_lower_fn lower, strbuf *unused)
{
    (void)unused;
    strbuf err;
    sb_init(&err);
    target_arch arch;
    compile_job j;
    compile_job_init(&j, k->r, TARGET_SM80);
    attnc_status st = cuda_build_arch(o, &arch, &err);
    if (!st)
        st = lower_job(k, o, lower, arch, &j, &err);
    cuda_module *m = NULL;
    if (!st)
        st = load_cached(k, &j, &m, &err);
    compile_job_free(&j);
    if (st) {
        kernel_error(k, st, "%s", err.failed ? "out of memory" : sb_cstr(&err));
    } else {
        k->backend_data = m;
    }
    sb_free(&err);
    return st;
}

static void cuda_destroy_any(attnc_kernel *k)
{
    if (k->bwd)
        cuda_backward_destroy(k);
    else
        cuda_destroy(k);
}

const backend_ops cuda_backend_ops = {ATTNC_BACKEND_CUDA, "cuda", cuda_build, cuda_backward_build, cuda_launch_problem,
                                      cuda_backward_launch, cuda_destroy_any, schedule_arch, cuda_fanout_run};
