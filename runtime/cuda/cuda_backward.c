/* cuda_backward.c — the backward program on the CUDA backend (the hooks of
 * api_backend.h): lower the backward under the GPU backward's schedule,
 * emit its kernels as one module (codegen/nvptx_bwd.h), load it as a
 * cuda_program, and launch validated problems: the workspace (delta, and
 * the fp32 dQ accumulator unless deterministic) is the program's, the
 * kernels run in order on the caller's stream ($ATTNC_BWD_DQ picks how
 * dQ is formed: its own kernel, atomics, or bulk reductions). Validation is the CPU's
 * (bwd_validate) plus what the kernels rely on: 16-byte rows of q, k, v,
 * o, do; even strides and 4-byte aligned dq, dk, dv; contiguous tensor
 * params and param gradients. The workspace also holds each param
 * gradient's f32 slices (one per warp of each dK/dV CTA, summed in order by
 * attnc_bwd_dparam). Backward modules are not in the kernel cache yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/nvptx_bwd.h"
#include "passes/lower_backward.h"
#include "runtime/api/api_backend.h"
#include "runtime/api/api_backward.h"
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

/* Which products the backward uses: $ATTNC_BWD_MMA (wgmma, sync, auto),
 * else auto: wgmma on sm_90a where it serves (H200, causal D=128 N=16384:
 * 8.72 ms against mma.sync's 13.80), mma.sync elsewhere. An explicit schedule's mma= is the forward's (bench and
 * tuned schedules carry mma=wgmma for it), so it does not pick these. */
static mma_kind bwd_mma(void)
{
    const char *e = getenv("ATTNC_BWD_MMA");
    if (e && !strcmp(e, "wgmma"))
        return MMA_WGMMA;
    if (e && !strcmp(e, "sync"))
        return MMA_SYNC;
    if (e && !strcmp(e, "auto"))
        return MMA_AUTO;
    return MMA_AUTO;
}

static void set_schedule(attnc_kernel *k, const attnc_build_options *o, target_arch arch)
{
    bool explicit_tiles = o->schedule || !k->r->sched.is_auto;
    const schedule *base = explicit_tiles ? &k->sched : NULL;
    k->sched = nvptx_bwd_schedule_mma(k->r, base, arch, bwd_mma());
    strbuf sb;
    sb_init(&sb);
    schedule_print_for(&sb, &k->sched, false);
    snprintf(k->sched_text, sizeof k->sched_text, "%s", sb_cstr(&sb));
    sb_free(&sb);
}

static attnc_status map_codegen(nvptx_status s)
{
    return s == NVPTX_OK ? ATTNC_OK : s == NVPTX_UNSUPPORTED ? ATTNC_ERR_UNSUPPORTED : ATTNC_ERR_INTERNAL;
}

static attnc_status load(cuda_bwd *b, const char *ptx, size_t len, strbuf *err)
{
    cuda_program_kernel ks[NVPTX_BWD_MAX_KERNELS];
    for (int i = 0; i < b->info.nkernels; i++)
        ks[i] = (cuda_program_kernel){b->info.kernels[i].name, b->info.kernels[i].threads, b->info.kernels[i].smem_bytes};
    return cuda_program_load(&b->prog, ptx, len, ks, b->info.nkernels, err);
}

/* How dQ is formed (nvptx_bwd.h): $ATTNC_BWD_DQ=kernel|atomic|bulk
 * ($ATTNC_BWD_DQ_ATOMIC=1, the older switch, means atomic when
 * ATTNC_BWD_DQ is unset), else kernel. A deterministic build always takes
 * the dQ kernel; bulk needs the wgmma schedule and falls back to the
 * kernel without it. H200, causal D=128 N=16384: the kernel 8.19 ms,
 * atomic (scalar red.global.add.f32, 64x128 per tile pair) 18.87 ms. */
static nvptx_bwd_dq dq_mode(const attnc_kernel *k)
{
    const char *e = getenv("ATTNC_BWD_DQ"), *alias = getenv("ATTNC_BWD_DQ_ATOMIC");
    nvptx_bwd_dq m = NVPTX_BWD_DQ_KERNEL;
    if (e && !strcmp(e, "bulk"))
        m = NVPTX_BWD_DQ_BULK;
    else if ((e && !strcmp(e, "atomic")) || (!e && alias && alias[0] == '1'))
        m = NVPTX_BWD_DQ_ATOMIC;
    if (k->flags & ATTNC_BUILD_DETERMINISTIC)
        return NVPTX_BWD_DQ_KERNEL;
    if (m == NVPTX_BWD_DQ_BULK && k->sched.mma != MMA_WGMMA)
        return NVPTX_BWD_DQ_KERNEL;
    return m;
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

/* How much the wgmma kernels overlap: $ATTNC_BWD_OVERLAP 0..3
 * (nvptx_bwd.h), else NVPTX_BWD_OVERLAP_DEFAULT. */
static int bwd_overlap(void)
{
    const char *e = getenv("ATTNC_BWD_OVERLAP");
    return e && e[0] >= '0' && e[0] <= '3' && !e[1] ? e[0] - '0' : NVPTX_BWD_OVERLAP_DEFAULT;
}

/* By default (or $ATTNC_BWD_DKV_KEYS=128; =64 turns it off), under the
 * wgmma schedule's 64-key 1-D tiles,
 * the dK/dV kernel takes 128-key tiles (two warpgroups share each Q/dO
 * tile: half the Q/dO traffic per product) and the dQ kernel keeps 64
 * (*wide: the dK/dV kernel's schedule). The schedule text says so. */
static bool wide_dkv(attnc_kernel *k, target_arch arch, schedule *wide)
{
    const char *e = getenv("ATTNC_BWD_DKV_KEYS"); /* unset: 128 (H200, causal D=128 N=16384: 8.06 ms vs 8.66) */
    if ((e && strcmp(e, "128")) || k->sched.mma != MMA_WGMMA || k->sched.ndims != 1 || k->sched.kv_tile[0] != 64)
        return false;
    *wide = k->sched;
    wide->kv_tile[0] = 128;
    if (!nvptx_bwd_wgmma_fits(k->r, wide, arch))
        return false;
    size_t n = strlen(k->sched_text);
    snprintf(k->sched_text + n, sizeof k->sched_text - n, " (dK/dV kv=128)");
    return true;
}

attnc_status cuda_backward_build(attnc_kernel *k, const attnc_build_options *o, strbuf *err)
{
    if (k->r->family != FAMILY_SOFTMAX) {
        sb_puts(err, "the CUDA backward handles the softmax family only for now (linear attention: build the "
                     "backward with backend ATTNC_BACKEND_CPU)");
        return ATTNC_ERR_UNSUPPORTED;
    }
    target_arch arch;
    attnc_status st = cuda_build_arch(o, &arch, err);
    if (st)
        return st;
    k->arch = arch;
    set_schedule(k, o, arch);
    if ((st = bwd_kernel_init(k)))
        return st;
    tir_program prog, dkv_prog;
    if (!lower_backward(&k->arena, k->r, &k->sched, arch, &prog, err))
        return k->arena.failed ? ATTNC_ERR_NOMEM : ATTNC_ERR_INTERNAL;
    schedule wide;
    bool split = wide_dkv(k, arch, &wide);
    if (split && !lower_backward(&k->arena, k->r, &wide, arch, &dkv_prog, err))
        return k->arena.failed ? ATTNC_ERR_NOMEM : ATTNC_ERR_INTERNAL;
    cuda_bwd *b = calloc(1, sizeof *b);
    if (!b)
        return ATTNC_ERR_NOMEM;
    nvptx_bwd_dq dq = dq_mode(k);
    if (dq == NVPTX_BWD_DQ_BULK) { /* the schedule text says so (tests and bench lines read it) */
        size_t n = strlen(k->sched_text);
        snprintf(k->sched_text + n, sizeof k->sched_text - n, " (dQ bulk)");
    }
    strbuf ptx;
    sb_init(&ptx);
    st = map_codegen(nvptx_bwd_emit(split ? &dkv_prog : &prog, split ? &prog : NULL, k->r, arch, dq, bwd_overlap(),
                                    &b->info, &ptx, err));
    if (!st)
        st = same_grads(k, &b->info, err);
    if (!st)
        st = load(b, sb_cstr(&ptx), ptx.len, err);
    sb_free(&ptx);
    if (st) {
        free(b);
        return st;
    }
    k->backend_data = b;
    return ATTNC_OK;
}

/* ---- launch ---- */

enum { NPTR = 11, NSTRIDE = 35, MAXARGS = NPTR + NSTRIDE + SZ_MAX + 4 * NVPTX_MAX_PARAMS };
#define SLICE_BYTES_CAP ((uint64_t)4 << 30) /* the param gradients' slices together */

typedef struct marshal {
    uint64_t ptr[NPTR];
    int64_t stride[NSTRIDE];
    int32_t size[SZ_MAX];
    union {
        uint64_t p;
        float f;
        int64_t i;
    } prm[NVPTX_MAX_PARAMS];
    uint64_t grad[2 * NVPTX_MAX_PARAMS]; /* per param with a gradient: d<param>, its slices */
    int32_t mode[NVPTX_MAX_PARAMS];      /* 1: one accumulator, atomic adds */
    void *args[MAXARGS];
} marshal;

static const attnc_tensor *tensor_of(const bwd_problem *bp, int i)
{
    switch (i) {
    case 0: case 1: case 2: case 3: case 4: return bp->p.t[i];
    default: return bp->t[i - 5]; /* do, dq, dk, dv */
    }
}

static attnc_status gpu_checks(attnc_kernel *k, const bwd_problem *bp)
{
    static const char *const names[] = {"q", "k", "v", "o", "lse", "do", "dq", "dk", "dv"};
    for (int i = 0; i < 9; i++) {
        const attnc_tensor *t = tensor_of(bp, i);
        if (i == 4 || !t)
            continue;
        int align = i >= 6 ? 2 : 8; /* elements: 4-byte pairs, 16-byte rows */
        bool ok = (uintptr_t)t->data % (uintptr_t)(align * 2) == 0;
        for (int d = 0; d < 3; d++)
            ok &= t->shape[d] <= 1 || t->stride[d] % align == 0;
        if (!ok)
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                "CUDA backward: tensor '%s' needs %s (strides of batch, head and token multiples of %d "
                                "elements)", names[i], i >= 6 ? "a 4-byte aligned base" : "16-byte aligned rows", align);
    }
    const int64_t *z = bp->p.sizes;
    for (int i = 0; i < SZ_MAX; i++)
        if (z[i] < 0 || z[i] > INT32_MAX)
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "CUDA backward: a size does not fit 32 bits");
    if (z[SZ_HEADS] > 65535 || z[SZ_BATCH] > 65535)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "CUDA backward: batch and heads must be at most 65535");
    return ATTNC_OK;
}

static attnc_status fill_params(attnc_kernel *k, const cuda_bwd *b, const bwd_problem *bp, marshal *m, int *n)
{
    for (int i = 0; i < b->info.nparams; i++) {
        const attnc_tensor *t = &bp->p.params[i];
        if (b->info.param_scalar[i] && b->info.param_float[i])
            m->prm[i].f = (float)launch_scalar_value(t);
        else if (b->info.param_scalar[i]) /* an int scalar: exact through double up to 2^53 */
            m->prm[i].i = (int64_t)launch_scalar_value(t);
        else if (!tensor_is_contiguous(t))
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                "CUDA backward: param '%s' must be a contiguous device tensor", k->r->params[i].name);
        else
            m->prm[i].p = (uint64_t)(uintptr_t)t->data;
        m->args[(*n)++] = &m->prm[i];
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

static void marshal_grads(const cuda_bwd *b, const bwd_problem *bp, uint64_t slices, bool atomic, marshal *m,
                          int *n)
{
    for (int j = 0; j < b->info.ngrad; j++) {
        const attnc_tensor *t = &bp->dparams[b->info.grad_param[j]];
        m->grad[2 * j] = (uint64_t)(uintptr_t)t->data;
        m->grad[2 * j + 1] = slices;
        m->mode[j] = atomic;
        slices += slice_bytes(b, bp, j, atomic);
        m->args[(*n)++] = &m->grad[2 * j];
        m->args[(*n)++] = &m->grad[2 * j + 1];
        m->args[(*n)++] = &m->mode[j];
    }
}

/* The ABI of nvptx_bwd.h; ws: delta, the dQ accumulator, then the param
 * gradients' slices. */
static attnc_status marshal_args(attnc_kernel *k, const cuda_bwd *b, const bwd_problem *bp, uint64_t ws,
                                 size_t delta_bytes, size_t acc_bytes, bool atomic, marshal *m)
{
    int n = 0, s = 0;
    for (int i = 0; i < 9; i++) {
        const attnc_tensor *t = tensor_of(bp, i);
        m->ptr[i] = t ? (uint64_t)(uintptr_t)t->data : 0;
        if (!m->ptr[i] || (t && t->ndim == 4 && t->shape[2] == 0))
            m->ptr[i] = (uint64_t)(uintptr_t)bp->p.t[0]->data; /* never read */
    }
    m->ptr[9] = ws;
    m->ptr[10] = ws + delta_bytes;
    for (int i = 0; i < NPTR; i++)
        m->args[n++] = &m->ptr[i];
    for (int i = 0; i < 9; i++) {
        const attnc_tensor *t = tensor_of(bp, i);
        for (int d = 0; d < (i == 4 ? 3 : 4); d++) {
            m->stride[s] = t && d < t->ndim ? t->stride[d] : 0;
            m->args[n++] = &m->stride[s++];
        }
    }
    for (int i = 0; i < SZ_MAX; i++) {
        m->size[i] = (int32_t)bp->p.sizes[i];
        m->args[n++] = &m->size[i];
    }
    attnc_status st = fill_params(k, b, bp, m, &n);
    if (!st)
        marshal_grads(b, bp, ws + delta_bytes + acc_bytes, atomic, m, &n);
    return st;
}

static size_t round256(size_t n)
{
    return (n + 255) & ~(size_t)255;
}

static attnc_status run(attnc_kernel *k, cuda_bwd *b, const bwd_problem *bp, void *stream, strbuf *err)
{
    const int64_t *z = bp->p.sizes;
    size_t rows = (size_t)z[SZ_BATCH] * (size_t)z[SZ_HEADS] * (size_t)z[SZ_TOKENS];
    size_t delta = round256(rows * sizeof(float));
    size_t acc = 0;
    if (b->info.atomics) /* tokens x head_dim, or whole query tiles under bulk dQ */
        acc = round256((size_t)z[SZ_BATCH] * (size_t)z[SZ_HEADS] * (size_t)nvptx_bwd_dqacc_per_head(&b->info, z) *
                       sizeof(float));
    size_t slices = 0;
    int64_t max_numel = 0;
    bool atomic = param_atomic(k, b, bp);
    for (int j = 0; j < b->info.ngrad; j++) {
        slices += slice_bytes(b, bp, j, atomic);
        int64_t n = numel_of(&bp->p.params[b->info.grad_param[j]]);
        max_numel = n > max_numel ? n : max_numel;
    }
    uint64_t ws = 0;
    attnc_status st = cuda_program_begin(b->prog, stream, delta + acc + slices, &ws, err);
    marshal m;
    memset(&m, 0, sizeof m);
    if (!st)
        st = marshal_args(k, b, bp, ws, delta, acc, atomic, &m);
    for (int i = 0; i < b->info.nkernels && !st; i++) {
        nvptx_bwd_kind kind = b->info.kernels[i].kind;
        int64_t grid[3] = {nvptx_bwd_grid_x(&b->info, kind, z), z[kind == BWK_DKV ? SZ_KV_HEADS : SZ_HEADS],
                           z[SZ_BATCH]};
        if (kind == BWK_PRE && atomic && grid[0] < 1)
            grid[0] = 1; /* it zeroes the accumulators */
        if (kind == BWK_DPARAM) { /* every element, also with no pair at all (then 0) */
            grid[0] = nvptx_bwd_dparam_grid_x(max_numel);
            grid[1] = b->info.ngrad;
            grid[2] = 1;
        }
        st = cuda_program_launch(b->prog, i, grid, m.args, stream, err);
    }
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
