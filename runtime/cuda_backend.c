/* cuda_backend.c — the CUDA backend behind attnc_kernel_build and
 * attnc_launch (the hook of api_backend.h): lower the kernel's recipe for
 * the GPU, build a cuda_module, and launch validated problems on it.
 *
 * GPU specifics beyond launch_validate: tensor params must be contiguous
 * device arrays; scalar params are read on the host (set them with
 * attnc_args_set_scalar). */
#include <stdio.h>
#include <string.h>

#include "../passes/pipeline.h"
#include "api_backend.h"
#include "api_kcache.h"
#include "cuda_module.h"

static void cuda_destroy(attnc_kernel *k)
{
    cuda_module_destroy(k->backend_data);
    k->backend_data = NULL;
}

static bool contiguous(const attnc_tensor *t)
{
    int64_t want = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] > 1 && t->stride[d] != want)
            return false;
        want *= t->shape[d];
    }
    return true;
}

static attnc_status fill_params(attnc_kernel *k, const launch_problem *p, cuda_launch *a)
{
    for (int i = 0; i < k->r->nparams && i < NVPTX_MAX_PARAMS; i++) {
        const attnc_tensor *t = &p->params[i];
        if (k->r->params[i].ndim == 0) {
            a->param_scalar[i] = t->data ? *(const float *)t->data : 0.0;
            continue;
        }
        if (!contiguous(t))
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                "CUDA launch: param '%s' must be a contiguous device tensor", k->r->params[i].name);
        a->param_ptr[i] = (uint64_t)(uintptr_t)t->data;
    }
    return ATTNC_OK;
}

static attnc_status cuda_launch_problem(attnc_kernel *k, const launch_problem *p, void *stream)
{
    cuda_launch a;
    memset(&a, 0, sizeof a);
    for (int t = 0; t < ARG_NFIXED; t++) {
        const attnc_tensor *x = p->t[t];
        if (!x)
            continue;
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
    st = cuda_module_launch(k->backend_data, &a, stream, &err);
    if (st)
        kernel_error(k, st, "%s", err.failed ? "out of memory" : sb_cstr(&err));
    sb_free(&err);
    return st;
}

static const kernel_backend_ops cuda_ops = {"cuda", cuda_destroy, cuda_launch_problem};

static attnc_status pick_arch(const attnc_build_options *o, target_arch *arch, strbuf *err)
{
    if (!o->arch)
        return cuda_device_arch(arch, err);
    if (nvptx_arch_parse(o->arch, arch))
        return ATTNC_OK;
    sb_printf(err, "unknown CUDA arch '%s' (sm_80 or sm_90a)", o->arch);
    return ATTNC_ERR_INVALID_ARGUMENT;
}

/* `tile auto` without an explicit schedule: the GPU's own default. */
static void gpu_schedule(attnc_kernel *k, const attnc_build_options *o, target_arch arch)
{
    if (o->schedule || !k->r->sched.is_auto)
        return;
    k->sched = nvptx_default_schedule(k->r, arch);
    strbuf sb;
    sb_init(&sb);
    schedule_print(&sb, &k->sched);
    snprintf(k->sched_text, sizeof k->sched_text, "%s", sb_cstr(&sb));
    sb_free(&sb);
}

/* PTX through the context's kernel cache, then the driver. A damaged cache
 * entry (rebuilt) is noted in the kernel's message. */
static attnc_status load_cached(attnc_kernel *k, tir_kernel *tk, target_arch arch, cuda_module **m, strbuf *err)
{
    strbuf ptx, note;
    sb_init(&ptx);
    sb_init(&note);
    nvptx_kernel_info info;
    memset(&info, 0, sizeof info);
    cache_result how = CACHE_MISS;
    attnc_status st =
        kernel_ptx_cached(k->ctx, tk, k->r, &k->sched, arch, k->recipe_hash, &ptx, &info, &how, &note, err);
    if (!st)
        st = cuda_module_load(m, sb_cstr(&ptx), ptx.len, &info, err);
    if (!st && how == CACHE_CORRUPT)
        snprintf(k->errmsg, sizeof k->errmsg, "kernel cache: %s (entry rebuilt)", sb_cstr(&note));
    sb_free(&ptx);
    sb_free(&note);
    return st;
}

attnc_status cuda_kernel_build(attnc_kernel *k, const attnc_build_options *o)
{
    strbuf err;
    sb_init(&err);
    target_arch arch;
    attnc_status st = pick_arch(o, &arch, &err);
    tir_kernel *tk = NULL;
    if (!st) {
        k->arch = arch;
        gpu_schedule(k, o, arch);
        tk = lower_recipe(&k->arena, k->r, &k->sched, arch, &err);
        if (!tk)
            st = k->arena.failed ? ATTNC_ERR_NOMEM : ATTNC_ERR_INTERNAL;
    }
    cuda_module *m = NULL;
    if (!st)
        st = load_cached(k, tk, arch, &m, &err);
    if (st) {
        kernel_error(k, st, "%s", err.failed ? "out of memory" : sb_cstr(&err));
    } else {
        k->backend_data = m;
        k->ops = &cuda_ops;
    }
    sb_free(&err);
    return st;
}
