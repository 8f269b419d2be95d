/* host_launch.c — the CPU backend's launch: fills the generated
 * function's argument list from its signature (codegen/host_codegen.h),
 * then calls it through libffi (host_call.c) for chunks of the program
 * range on the launch's threads (host_pool.c), each thread with its own
 * tile scratch block; the block table is shared read-only. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "runtime/api/api_internal.h"
#include "runtime/host/block_table.h"
#include "runtime/host/doc_spans.h"
#include "runtime/host/host_call.h"
#include "runtime/host/host_pool.h"

void attnc_context_set_progress(attnc_context *ctx, attnc_progress_fn fn, void *user)
{
    if (!ctx)
        return;
    ctx->progress = fn;
    ctx->progress_user = fn ? user : NULL;
}

static host_value arg_value(const host_arg *a, const launch_problem *p)
{
    host_value v = {.i = 0};
    const attnc_tensor *t = (a->role == HROLE_TENSOR || a->role == HROLE_STRIDE) && a->which < ARG_NFIXED
                                ? p->t[a->which]
                                : NULL;
    const attnc_tensor *pt = p->params ? &p->params[a->which] : NULL;
    switch (a->role) {
    case HROLE_TENSOR: v.p = t ? t->data : NULL; break;
    case HROLE_STRIDE: v.i = t && a->dim < t->ndim ? t->stride[a->dim] : 0; break;
    case HROLE_SIZE: v.i = a->which < SZ_MAX ? p->sizes[a->which] : 0; break;
    case HROLE_PARAM: v.p = pt ? pt->data : NULL; break;
    case HROLE_PARAM_STRIDE: v.i = pt && a->dim < pt->ndim ? pt->stride[a->dim] : 0; break;
    case HROLE_PARAM_SHAPE: v.i = pt && a->dim < pt->ndim ? pt->shape[a->dim] : 1; break;
    case HROLE_BLOCK_TABLE:     /* filled by launch_host */
    case HROLE_SPANS:
    case HROLE_SCRATCH:         /* per thread, by run_chunk */
    case HROLE_PROGRAM_FIRST:   /* per chunk, by run_chunk */
    case HROLE_PROGRAM_LAST: break;
    default: break; /* backward kernels' roles: api_backward.c launches those */
    }
    return v;
}

typedef struct host_job {
    const host_kernel *hk;
    const host_value *vals; /* every argument but the per-thread ones */
    char *scratch;          /* worker i's block at scratch + i * stride */
    size_t stride;
    _Atomic int32_t ret;    /* a nonzero return, or -1 when libffi failed */
} host_job;

static bool run_chunk(void *user, int worker, int64_t first, int64_t last)
{
    host_job *j = user;
    const host_kernel *hk = j->hk;
    host_value vals[HOST_MAX_ARGS];
    memcpy(vals, j->vals, sizeof vals[0] * (size_t)hk->nargs);
    for (int i = 0; i < hk->nargs; i++) {
        if (hk->args[i].role == HROLE_SCRATCH)
            vals[i].p = j->scratch + (size_t)worker * j->stride;
        else if (hk->args[i].role == HROLE_PROGRAM_FIRST)
            vals[i].i = first;
        else if (hk->args[i].role == HROLE_PROGRAM_LAST)
            vals[i].i = last;
    }
    int32_t ret = 0;
    if (!host_call(hk->fn, hk->args, hk->nargs, vals, &ret))
        ret = -1;
    if (ret != 0)
        atomic_store(&j->ret, ret); /* any failing thread's value will do: they all stop */
    return ret == 0;
}

attnc_status launch_host(attnc_kernel *k, const launch_problem *p)
{
    const host_kernel *hk = &k->host;
    int64_t programs = host_kernel_programs(hk, p->sizes);
    if (programs < 0)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "the launch has more programs than fit in 64 bits");
    if (programs == 0 || p->sizes[SZ_TOKENS] == 0)
        return ATTNC_OK; /* nothing to compute */
    if (hk->nargs > HOST_MAX_ARGS)
        return kernel_error(k, ATTNC_ERR_INTERNAL, "internal error: %d host kernel arguments", hk->nargs);
    char why[128];
    int threads = host_thread_count(why, sizeof why);
    if (threads == 0)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "%s", why);
    if (threads > programs)
        threads = (int)programs;
    const uint8_t *table = NULL;
    if (hk->block_table) { /* cached per shape; NULL (every tile) is also correct */
        size_t table_bytes;
        attnc_status st = ATTNC_OK;
        table = block_table_for(k, p, &table_bytes, &st);
        if (st)
            return st;
    }
    int64_t *spans = NULL; /* per launch: they depend on the ids' values */
    if (hk->span_param >= 0 && p->params) {
        int64_t q = hk->q_tile[0] > 0 ? hk->q_tile[0] : 1, nqt = (p->sizes[SZ_TOKENS] + q - 1) / q;
        spans = ctx_alloc(k->ctx, sizeof *spans * 2 * (size_t)(nqt * p->sizes[SZ_BATCH]));
        if (!spans || !doc_spans_build(k->ctx, &p->params[hk->span_param], p->sizes[SZ_BATCH], p->sizes[SZ_TOKENS], q,
                                       spans)) {
            ctx_free(k->ctx, spans);
            return kernel_error(k, ATTNC_ERR_NOMEM, "out of memory: the document spans of %lld query tiles",
                                (long long)(nqt * p->sizes[SZ_BATCH]));
        }
    }
    /* one 64-byte aligned block per thread, plus slack to align the first */
    size_t stride = (hk->scratch_bytes + 63) & ~(size_t)63;
    char *scratch = ctx_alloc(k->ctx, stride * (size_t)threads + 64);
    if (!scratch) {
        ctx_free(k->ctx, spans);
        return kernel_error(k, ATTNC_ERR_NOMEM, "out of memory: %d x %zu bytes of tile scratch for the host kernel",
                            threads, hk->scratch_bytes);
    }
    host_value vals[HOST_MAX_ARGS];
    for (int i = 0; i < hk->nargs; i++) {
        vals[i] = arg_value(&hk->args[i], p);
        if (hk->args[i].role == HROLE_BLOCK_TABLE)
            memcpy(&vals[i].p, &table, sizeof table); /* the kernel only reads it */
        if (hk->args[i].role == HROLE_SPANS)
            vals[i].p = spans;
    }
    host_job job = {hk, vals, scratch + (64 - (uintptr_t)scratch % 64) % 64, stride, 0};
    attnc_context *ctx = k->ctx;
    host_pool_run(threads, programs, run_chunk, &job, ctx->progress, ctx->progress_user);
    ctx_free(k->ctx, scratch);
    ctx_free(k->ctx, spans);
    int32_t ret = atomic_load(&job.ret);
    if (ret == -1)
        return kernel_error(k, ATTNC_ERR_INTERNAL, "internal error: libffi cannot call the host kernel (%d arguments)",
                            hk->nargs);
    if (ret != 0)
        return kernel_error(k, ATTNC_ERR_INTERNAL, "internal error: the host kernel returned %d", (int)ret);
    return ATTNC_OK;
}
