/* cuda_backward.c — the backward program on the CUDA backend (the hooks of
 * api_backend.h): lower the backward under the GPU backward's schedule,
 * emit its kernels as one module (codegen/nvptx_bwd.h), load it as a
 * cuda_program, and launch validated problems: the workspace (delta, and
 * the fp32 dQ accumulator unless deterministic) is the program's, the
 * kernels run in order on the caller's stream (cuda_bwd_job.c's
 * $ATTNC_BWD_DQ picks how dQ is formed: its own kernel, atomics, or bulk
 * reductions; nvptx_bwd.h's rules size the workspace and the grids for
 * each). Validation is the CPU's
 * (bwd_validate) plus what the kernels rely on: 16-byte rows of q, k, v,
 * o, do; even strides and 4-byte aligned dq, dk, dv; contiguous tensor
 * params and param gradients. The workspace also holds each param
 * gradient's f32 slices (one per warp of each dK/dV CTA, summed in order by
 * attnc_bwd_dparam). The program is compiled by cuda_bwd_job.c (the
 * variant settings, through the kernel cache); the arguments are
 * marshalled by the program's role table (codegen/kernel_abi.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/nvptx_bwd.h"
#include "runtime/api/api_backend.h"
#include "runtime/api/api_backward.h"
#include "runtime/cuda/cuda_bwd_job.h"
#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/cuda_module.h"
#include "runtime/cuda/cuda_program.h"

typedef struct cuda_bwd {
    cuda_program *prog;
    nvptx_bwd_info info;
} cuda_bwd;

void cuda_backward_destroy(attnc_kernel *k)
{
    cuda_bwd *b = k->backend_data;
    if (b)
        cuda_program_destroy(b->prog);
    free(b);
    k->backend_data = NULL;
}

static attnc_status load(cuda_bwd *b, const char *ptx, size_t len, strbuf *err)
{
    cuda_program_kernel ks[NVPTX_BWD_MAX_KERNELS];
    for (int i = 0; i < b->info.nkernels; i++)
        ks[i] = (cuda_program_kernel){b->info.kernels[i].name, b->info.kernels[i].threads, b->info.kernels[i].smem_bytes};
    return cuda_program_load(&b->prog, ptx, len, ks, b->info.nkernels, err);
}

/* The module writes exactly the "d<param>" outputs the API validates. */
static attnc_status same_grads(const attnc_kernel *k, const nvptx_bwd_info *info, strbuf *err)
{
    int n = 0;
    for (int p = 0; p < k->r->nparams; p++) {
        bool in = false;
        for (int j = 0; j < info->ngrad; j++)
            in |= info->grad_param[j] == p;
        n += in;
        if (in != k->bwd->grad[p]) {
            sb_printf(err, "internal error: CUDA backward: param '%s' %s a gradient in the program but not in the "
                           "kernel's outputs", k->r->params[p].name, in ? "has" : "lacks");
            return ATTNC_ERR_INTERNAL;
        }
    }
    return n == info->ngrad ? ATTNC_OK : ATTNC_ERR_INTERNAL;
}

/* The linear family's GPU backward (codegen/nvptx_linear_bwd.c), on by
 * default since the H200 checked every gradient; $ATTNC_BWD_LINEAR=0
 * turns it off (the build then refuses, as before). */
static bool linear_enabled(void)
{
    const char *e = getenv("ATTNC_BWD_LINEAR");
    return !(e && e[0] == '0' && !e[1]);
}

attnc_status cuda_backward_build(attnc_kernel *k, const attnc_build_options *o, strbuf *err)
{
    if (k->r->family == FAMILY_LINEAR && !linear_enabled()) {
        sb_puts(err, "the CUDA backward of linear attention is turned off (ATTNC_BWD_LINEAR=0; unset it, or build "
                     "the backward with backend ATTNC_BACKEND_CPU)");
        return ATTNC_ERR_UNSUPPORTED;
    }
    if (k->r->family != FAMILY_SOFTMAX && k->r->family != FAMILY_LINEAR) {
        sb_puts(err, "the CUDA backward handles the softmax and linear families only");
        return ATTNC_ERR_UNSUPPORTED;
    }
    target_arch arch;
    attnc_status st = cuda_build_arch(o, &arch, err);
    if (st)
        return st;
    k->arch = arch;
    /* An explicit schedule's mma= is the forward's (bench and tuned
     * schedules carry mma=wgmma for it): $ATTNC_BWD_MMA picks the products. */
    bool explicit_tiles = o->schedule || !k->r->sched.is_auto;
    cuda_bwd_job job = {k->r, explicit_tiles ? &k->sched : NULL, arch, (k->flags & ATTNC_BUILD_DETERMINISTIC) != 0,
                        k->ctx, k->recipe_hash};
    cuda_bwd_out out;
    st = cuda_bwd_compile(&k->arena, &job, &out, err);
    if (!st) {
        k->sched = out.sched;
        snprintf(k->sched_text, sizeof k->sched_text, "%s", out.sched_text);
        snprintf(k->errmsg, sizeof k->errmsg, "%s", out.note); /* a note after a successful build */
        st = bwd_kernel_init(k);
    }
    cuda_bwd *b = st ? NULL : calloc(1, sizeof *b);
    if (!st && !b)
        st = ATTNC_ERR_NOMEM;
    if (!st) {
        b->info = out.info;
        st = same_grads(k, &b->info, err);
    }
    if (!st)
        st = load(b, sb_cstr(&out.ptx), out.ptx.len, err);
    sb_free(&out.ptx);
    if (st) {
        free(b);
        return st;
    }
    k->backend_data = b;
    return ATTNC_OK;
}

/* ---- launch ---- */

#define SLICE_BYTES_CAP ((uint64_t)4 << 30) /* the param gradients' slices together */

/* A launch's arguments: the values by role, marshalled by the program's
 * role table (codegen/kernel_abi.h) into one slot per kernel parameter. */
typedef struct marshal {
    kabi_values v;
    kabi_slot slot[KABI_MAX_ARGS];
    void *args[KABI_MAX_ARGS];
    CUtensorMap tmap[2]; /* info.producer: the q and do maps */
} marshal;

/* info.producer: the q and do maps of the dK/dV kernel's TMA producer
 * (nvptx_bwd_ring.c): sequences' boxes of 64 dims x the query tile's rows. */
static attnc_status encode_maps(const cuda_bwd *b, marshal *m, strbuf *err)
{
    const cuda_api *api;
    attnc_status st = cuda_api_get(&api, err);
    nvptx_kernel_info ki;
    memset(&ki, 0, sizeof ki);
    ki.dt = b->info.dt;
    ki.q_tile[0] = b->info.q_tile[0];
    const int t[2] = {KABI_Q, KABI_DO};
    if (!m->v.size[SZ_TOKENS]) /* no query tile: the producer copies nothing */
        return st;
    for (int i = 0; i < 2 && !st; i++) {
        ki.head_dim = i ? b->info.head_dim_v : b->info.head_dim;
        st = cuda_tma_encode(api, &m->tmap[i], &ki, 0, m->v.size, m->v.stride[t[i]], m->v.ptr[t[i]], err);
    }
    return st;
}

/* The role table's tensor t (kabi_tensor order: q, k, v, o, lse, do, dq, dk, dv). */
static const attnc_tensor *tensor_of(const bwd_problem *bp, int t)
{
    return t < KABI_NTENSORS ? bp->p.t[t] : bp->t[t - KABI_NTENSORS];
}

static attnc_status gpu_checks(attnc_kernel *k, const bwd_problem *bp)
{
    for (int i = 0; i < KABI_ALL_TENSORS; i++) {
        const attnc_tensor *t = tensor_of(bp, i);
        if (kabi_tensors[i].dim == KABI_DIM_NONE || !t)
            continue;
        bool grad = kabi_tensors[i].output && i >= KABI_NTENSORS;
        int align = grad ? 2 : 8; /* elements: 4-byte pairs, 16-byte rows */
        bool ok = (uintptr_t)t->data % (uintptr_t)(align * 2) == 0;
        for (int d = 0; d < 3; d++)
            ok &= t->shape[d] <= 1 || t->stride[d] % align == 0;
        if (!ok)
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                "CUDA backward: tensor '%s' needs %s (strides of batch, head and token multiples of %d "
                                "elements)", kabi_tensors[i].name, grad ? "a 4-byte aligned base" : "16-byte aligned rows",
                                align);
    }
    const int64_t *z = bp->p.sizes;
    for (int i = 0; i < SZ_MAX; i++)
        if (z[i] < 0 || z[i] > INT32_MAX)
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "CUDA backward: a size does not fit 32 bits");
    if (z[SZ_HEADS] > 65535 || z[SZ_BATCH] > 65535)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "CUDA backward: batch and heads must be at most 65535");
    if (k->r->family == FAMILY_LINEAR && (z[SZ_KV_HEADS] != z[SZ_HEADS] || z[SZ_KV_TOKENS] != z[SZ_TOKENS]))
        return kernel_error(k, ATTNC_ERR_UNSUPPORTED,
                            "CUDA backward of linear attention: kv heads and kv tokens must equal heads and tokens "
                            "(here kv_heads %lld, heads %lld, kv_tokens %lld, tokens %lld): GQA and cross attention "
                            "are not implemented on the GPU; build the backward with backend ATTNC_BACKEND_CPU",
                            (long long)z[SZ_KV_HEADS], (long long)z[SZ_HEADS], (long long)z[SZ_KV_TOKENS],
                            (long long)z[SZ_TOKENS]);
    return ATTNC_OK;
}

static attnc_status fill_params(attnc_kernel *k, const cuda_bwd *b, const bwd_problem *bp, kabi_values *v)
{
    for (int i = 0; i < b->info.nparams; i++) {
        const attnc_tensor *t = &bp->p.params[i];
        if (b->info.param_scalar[i]) /* an int scalar: exact through double up to 2^53 */
            v->param_scalar[i] = launch_scalar_value(t);
        else if (!tensor_is_contiguous(t))
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                "CUDA backward: param '%s' must be a contiguous device tensor", k->r->params[i].name);
        else
            v->param_ptr[i] = (uint64_t)(uintptr_t)t->data;
    }
    return ATTNC_OK;
}

static int64_t numel_of(const attnc_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= t->shape[d];
    return n;
}

/* Bytes of param gradient j's slices (0 when it has no elements), or of
 * its one accumulator when atomic. */
static size_t slice_bytes(const cuda_bwd *b, const bwd_problem *bp, int j, bool atomic)
{
    uint64_t n = (uint64_t)numel_of(&bp->p.params[b->info.grad_param[j]]);
    uint64_t s = atomic ? 1 : (uint64_t)nvptx_bwd_param_slices(&b->info, bp->p.sizes);
    return (size_t)((n * s * sizeof(float) + 255) & ~(uint64_t)255);
}

static uint64_t all_slices(const cuda_bwd *b, const bwd_problem *bp)
{
    uint64_t total = 0;
    for (int j = 0; j < b->info.ngrad; j++)
        total += slice_bytes(b, bp, j, false);
    return total;
}

/* Param gradients by red.global.add into one accumulator each (not
 * deterministic): with the atomic dQ, or where the slices would pass the
 * cap in a build without ATTNC_BUILD_DETERMINISTIC. Needs heads and batch
 * (attnc_bwd_pre, which zeroes the accumulators, then has a grid). */
static bool param_atomic(const attnc_kernel *k, const cuda_bwd *b, const bwd_problem *bp)
{
    const int64_t *z = bp->p.sizes;
    if (!b->info.ngrad || z[SZ_HEADS] < 1 || z[SZ_BATCH] < 1)
        return false;
    return b->info.atomics || (!(k->flags & ATTNC_BUILD_DETERMINISTIC) && all_slices(b, bp) > SLICE_BYTES_CAP);
}

static attnc_status grad_checks(attnc_kernel *k, const cuda_bwd *b, const bwd_problem *bp)
{
    for (int j = 0; j < b->info.ngrad; j++) {
        int p = b->info.grad_param[j];
        const attnc_tensor *t = &bp->dparams[p];
        if (!tensor_is_contiguous(t) || numel_of(t) > INT32_MAX)
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                "CUDA backward: tensor 'd%s' must be a contiguous device tensor of under 2^31 elements",
                                k->r->params[p].name);
    }
    uint64_t total = all_slices(b, bp);
    if (total > SLICE_BYTES_CAP && !param_atomic(k, b, bp))
        return kernel_error(k, ATTNC_ERR_UNSUPPORTED,
                            "CUDA backward: the param gradients' per-warp slices would take %llu MB of workspace "
                            "(limit %llu MB) and the build is deterministic: build this backward without "
                            "ATTNC_BUILD_DETERMINISTIC (atomic adds) or with backend ATTNC_BACKEND_CPU",
                            (unsigned long long)(total >> 20), (unsigned long long)(SLICE_BYTES_CAP >> 20));
    return ATTNC_OK;
}

static void fill_grads(const cuda_bwd *b, const bwd_problem *bp, uint64_t slices, bool atomic, kabi_values *v)
{
    for (int j = 0; j < b->info.ngrad; j++) {
        v->dparam[j] = (uint64_t)(uintptr_t)bp->dparams[b->info.grad_param[j]].data;
        v->dslices[j] = slices;
        v->dmode[j] = atomic;
        slices += slice_bytes(b, bp, j, atomic);
    }
}

/* The values of every role (kernel_abi_backward) into m, marshalled by the
 * program's table; ws: the workspace regions (ws_off[r] bytes in), then
 * the param gradients' slices at ws + grads_off. Tensors without data or
 * without tokens get q's address (never read). */
static attnc_status marshal_args(attnc_kernel *k, const cuda_bwd *b, const bwd_problem *bp, uint64_t ws,
                                 const size_t ws_off[KABI_NWS], size_t grads_off, bool atomic, marshal *m,
                                 strbuf *err)
{
    kabi_values *v = &m->v;
    for (int i = 0; i < KABI_ALL_TENSORS; i++) {
        const attnc_tensor *t = tensor_of(bp, i);
        v->ptr[i] = t ? (uint64_t)(uintptr_t)t->data : 0;
        if (!v->ptr[i] || (t && t->ndim == 4 && t->shape[2] == 0))
            v->ptr[i] = (uint64_t)(uintptr_t)bp->p.t[0]->data; /* never read */
        for (int d = 0; d < kabi_tensors[i].rank; d++)
            v->stride[i][d] = t && d < t->ndim ? t->stride[d] : 0;
    }
    for (int r = 0; r < KABI_NWS; r++)
        v->ws[r] = ws + ws_off[r];
    memcpy(v->size, bp->p.sizes, sizeof v->size);
    attnc_status st = fill_params(k, b, bp, v);
    if (st)
        return st;
    fill_grads(b, bp, ws + grads_off, atomic, v);
    void *maps[2] = {&m->tmap[0], &m->tmap[1]};
    if (b->info.producer && (st = encode_maps(b, m, err)))
        return st;
    kernel_abi abi;
    nvptx_bwd_kernel_abi(&b->info, &abi);
    kernel_abi_marshal(&abi, v, m->slot, m->args, maps);
    return ATTNC_OK;
}

static attnc_status run(attnc_kernel *k, cuda_bwd *b, const bwd_problem *bp, void *stream, strbuf *err)
{
    const int64_t *z = bp->p.sizes;
    size_t ws_off[KABI_NWS], regions = 0; /* the regions in kabi_ws order, then the slices */
    for (int r = 0; r < KABI_NWS; r++) {
        ws_off[r] = regions;
        regions += (size_t)nvptx_bwd_ws_bytes(&b->info, (kabi_ws)r, z); /* rounded up to 256 bytes */
    }
    size_t slices = 0;
    int64_t max_numel = 0;
    bool atomic = param_atomic(k, b, bp);
    for (int j = 0; j < b->info.ngrad; j++) {
        slices += slice_bytes(b, bp, j, atomic);
        int64_t n = numel_of(&bp->p.params[b->info.grad_param[j]]);
        max_numel = n > max_numel ? n : max_numel;
    }
    uint64_t ws = 0;
    attnc_status st = cuda_program_begin(b->prog, stream, regions + slices, &ws, err);
    marshal *m = calloc(1, sizeof *m);
    if (!st && !m)
        st = ATTNC_ERR_NOMEM;
    if (!st)
        st = marshal_args(k, b, bp, ws, ws_off, regions, atomic, m, err);
    for (int i = 0; i < b->info.nkernels && !st; i++) {
        nvptx_bwd_kind kind = b->info.kernels[i].kind;
        nvptx_bwd_grid rule = nvptx_bwd_grid_rule(&b->info, kind);
        int64_t grid[3] = {rule.x == BWG_PARAM_ELEMS ? nvptx_bwd_dparam_grid_x(max_numel)
                                                     : nvptx_bwd_grid_x(&b->info, kind, z),
                           rule.y_size < 0 ? b->info.ngrad : z[rule.y_size], rule.z_size < 0 ? 1 : z[rule.z_size]};
        if (kind == BWK_PRE && atomic && grid[0] < 1)
            grid[0] = 1; /* it zeroes the accumulators */
        st = cuda_program_launch(b->prog, i, grid, m->args, stream, err);
    }
    free(m);
    attnc_status end = cuda_program_end(b->prog, stream, err);
    return st ? st : end;
}

attnc_status cuda_backward_launch(attnc_kernel *k, const attnc_args *a, void *stream)
{
    bwd_problem bp;
    attnc_status st = bwd_validate(k, a, &bp);
    if (st)
        return st;
    cuda_bwd *b = k->backend_data;
    if (!b)
        return kernel_error(k, ATTNC_ERR_INTERNAL, "internal error: a CUDA backward kernel without its program");
    if ((st = gpu_checks(k, &bp)) || (st = grad_checks(k, b, &bp)))
        return st;
    const int64_t *z = bp.p.sizes;
    if (!b->info.ngrad && (z[SZ_BATCH] == 0 || z[SZ_HEADS] == 0 || (z[SZ_TOKENS] == 0 && z[SZ_KV_TOKENS] == 0)))
        return ATTNC_OK; /* nothing to write (no queries but keys: run() writes dK, dV as 0) */
    strbuf err;
    sb_init(&err);
    st = run(k, b, &bp, stream, &err);
    if (st)
        kernel_error(k, st, "%s", err.failed ? "out of memory" : sb_cstr(&err));
    sb_free(&err);
    return st;
}
