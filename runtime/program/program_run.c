/* program_run.c — what programs of kernels share (program.h): backend
 * memory, one partial launch of a global-coordinates kernel, and the LSE
 * merge on the CPU (JIT) or the GPU (a one-kernel cuda_program, the runner
 * the CUDA backward uses too). The driver is used directly only for 2-D
 * copies. */
#include <stdio.h>
#include <string.h>

#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/cuda_module.h"
#include "runtime/cuda/cuda_program.h"
#include "runtime/program/program.h"

size_t prog_esize(attnc_dtype dt)
{
    return dt == ATTNC_F32 || dt == ATTNC_I32 ? 4 : dt == ATTNC_I64 ? 8 : dt == ATTNC_U8 ? 1 : 2;
}

attnc_tensor prog_dense(attnc_dtype dt, void *data, int ndim, const int64_t *shape)
{
    attnc_tensor t = {dt, data, ndim, {0}, {0}};
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        t.shape[d] = shape[d];
        t.stride[d] = s;
        s *= shape[d] > 0 ? shape[d] : 1;
    }
    return t;
}

void *pm_alloc(pmem *m, size_t bytes, strbuf *err)
{
    if (!m->gpu) {
        void *p = ctx_alloc(m->ctx, bytes ? bytes : 1);
        if (!p)
            sb_printf(err, "out of memory: %zu bytes of program workspace", bytes);
        return p;
    }
    uint64_t d = 0;
    return cuda_mem_alloc(&d, bytes ? bytes : 1, err) ? NULL : (void *)(uintptr_t)d;
}

void pm_free(pmem *m, void *p)
{
    if (m->gpu)
        cuda_mem_free((uint64_t)(uintptr_t)p);
    else
        ctx_free(m->ctx, p);
}

attnc_status pm_copy2d(pmem *m, void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                       size_t height, strbuf *err)
{
    if (!width || !height)
        return ATTNC_OK;
    if (!m->gpu) {
        for (size_t r = 0; r < height; r++)
            memmove((char *)dst + r * dpitch, (const char *)src + r * spitch, width);
        return ATTNC_OK;
    }
    const cuda_api *a;
    attnc_status st = cuda_api_get(&a, err);
    if (st)
        return st;
    if (!a->cuMemcpy2DAsync) {
        sb_puts(err, "the CUDA driver lacks cuMemcpy2DAsync");
        return ATTNC_ERR_NO_DRIVER;
    }
    CUDA_MEMCPY2D c = {0};
    c.srcMemoryType = c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    c.srcDevice = (CUdeviceptr)(uintptr_t)src;
    c.dstDevice = (CUdeviceptr)(uintptr_t)dst;
    c.srcPitch = spitch;
    c.dstPitch = dpitch;
    c.WidthInBytes = width;
    c.Height = height;
    return cuda_check(a, a->cuMemcpy2DAsync(&c, (CUstream)m->stream), "cuMemcpy2DAsync", err);
}

/* Sets size `name` when kernel k has it. */
static void set_size(attnc_args *a, const char *name, int64_t v)
{
    const recipe *r = a->k->r;
    for (int s = SZ_EXTRA0; s < r->nsizes; s++)
        if (r->sizes[s].name && !strcmp(r->sizes[s].name, name)) {
            a->sizes[s] = v;
            a->size_set[s] = true;
        }
}

static void set_grid0(attnc_args *a, const pblock *b)
{
    const recipe *r = a->k->r;
    if (r->grid_ndim > 0) {
        char name[96];
        snprintf(name, sizeof name, "%s_global", r->sizes[SZ_GRID0].name ? r->sizes[SZ_GRID0].name : "grid0");
        set_size(a, name, b->grid0);
    }
}

static attnc_status make_args(attnc_kernel *k, const attnc_args *base, const attnc_tensor *const views[5],
                              const pblock *b, attnc_args **out)
{
    attnc_args *a;
    attnc_status st = attnc_args_create(&a, k);
    if (st)
        return st;
    memcpy(a->tensors, base->tensors, sizeof *a->tensors * (size_t)a->ntensors);
    memcpy(a->tensor_set, base->tensor_set, sizeof *a->tensor_set * (size_t)a->ntensors);
    memcpy(a->scalar_f32, base->scalar_f32, sizeof *a->scalar_f32 * (size_t)(k->r->nparams + 1));
    for (int i = 0; i < k->r->nparams; i++) /* scalars set by value point into base's store */
        if (a->tensor_set[ARG_NFIXED + i] && a->tensors[ARG_NFIXED + i].data == &base->scalar_f32[i])
            a->tensors[ARG_NFIXED + i].data = &a->scalar_f32[i];
    memcpy(a->sizes, base->sizes, sizeof a->sizes);
    memcpy(a->size_set, base->size_set, sizeof a->size_set);
    for (int i = 0; i < 5; i++) {
        a->tensor_set[i] = views[i] != NULL;
        if (views[i])
            a->tensors[i] = *views[i];
    }
    set_size(a, "q_offset", b->q_offset);
    set_size(a, "k_offset", b->k_offset);
    set_size(a, "head_offset", b->head_offset);
    set_size(a, "tokens_global", b->tokens);
    set_size(a, "kv_tokens_global", b->kv_tokens);
    set_size(a, "heads_global", b->heads);
    set_grid0(a, b);
    if (b->rows > 0)
        a->sizes[SZ_GRID0] = b->rows;
    *out = a;
    return ATTNC_OK;
}

attnc_status prog_launch_part(attnc_kernel *k, const attnc_args *base, const attnc_tensor *const views[5],
                              const pblock *b, void *stream)
{
    attnc_args *a;
    attnc_status st = make_args(k, base, views, b, &a);
    if (!st)
        st = attnc_launch(k, a, stream);
    attnc_args_destroy(a);
    return st;
}

attnc_status prog_validate_part(attnc_kernel *k, const attnc_args *base, const attnc_tensor *const views[5],
                                const pblock *b)
{
    attnc_args *a;
    launch_problem lp;
    attnc_status st = make_args(k, base, views, b, &a);
    if (!st)
        st = launch_validate(k, a, &lp);
    attnc_args_destroy(a);
    return st;
}

/* ---- the merge ---- */

/* The merge kernel as a one-kernel cuda_program (no workspace, so its
 * launches need no begin/end). */
static attnc_status gpu_load(pmerge *m, strbuf *err)
{
    target_arch arch;
    attnc_status st = cuda_device_arch(&arch, err);
    if (st)
        return st;
    strbuf ptx;
    sb_init(&ptx);
    if (!merge_ptx(m->dt, arch, &ptx, err)) {
        sb_free(&ptx);
        return ATTNC_ERR_INTERNAL;
    }
    const cuda_program_kernel kernel = {MERGE_SYMBOL, MERGE_BLOCK, 0};
    st = cuda_program_load(&m->prog, sb_cstr(&ptx), ptx.len, &kernel, 1, err);
    sb_free(&ptx);
    return st;
}

attnc_status pmerge_init(pmerge *m, bool gpu, dtype dt, strbuf *err)
{
    memset(m, 0, sizeof *m);
    m->gpu = gpu;
    m->dt = dt;
    if (gpu)
        return gpu_load(m, err);
    return merge_host_build(dt, &m->host, err) ? ATTNC_OK : ATTNC_ERR_INTERNAL;
}

void pmerge_free(pmerge *m)
{
    cuda_program_destroy(m->prog);
    merge_host_release(&m->host);
    memset(m, 0, sizeof *m);
}

attnc_status pmerge_run(pmerge *m, const void *po, const float *plse, int64_t nparts, const int64_t bhtd[4],
                        const attnc_tensor *o, const attnc_tensor *lse, void *stream, strbuf *err)
{
    int64_t rows = bhtd[0] * bhtd[1] * bhtd[2], n = rows * bhtd[3], zero = 0;
    const int64_t *ls = lse ? lse->stride : &zero;
    int64_t a[14] = {nparts, rows, bhtd[3], bhtd[1], bhtd[2], o->stride[0], o->stride[1], o->stride[2],
                     o->stride[3], ls[0], lse ? ls[1] : 0, lse ? ls[2] : 0, 0, n};
    void *lp = lse ? lse->data : NULL;
    if (n == 0)
        return ATTNC_OK;
    if (!m->gpu) {
        m->host.fn(po, plse, o->data, lp, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11],
                   0, n);
        return ATTNC_OK;
    }
    uint64_t p[4] = {(uint64_t)(uintptr_t)po, (uint64_t)(uintptr_t)plse, (uint64_t)(uintptr_t)o->data,
                     (uint64_t)(uintptr_t)lp};
    void *params[18];
    for (int i = 0; i < 4; i++)
        params[i] = &p[i];
    for (int i = 0; i < 14; i++)
        params[4 + i] = &a[i];
    const int64_t grid[3] = {(n + MERGE_BLOCK - 1) / MERGE_BLOCK, 1, 1};
    return cuda_program_launch(m->prog, 0, grid, params, stream, err);
}
