/* api_backward.c — backward kernels: attnc_kernel_build_backward, the CPU
 * build of the program's phases (passes/lower_backward.h, one JIT-compiled
 * host function per phase, codegen/host_backward.c), their argument names,
 * and the launch: validate, allocate the workspace (zeroed), then run the
 * phases in order, each over all its programs. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "frontend/differentiable.h"
#include "passes/lower_backward.h"
#include "passes/pipeline.h"
#include "runtime/api/api_backward.h"
#include "runtime/host/block_table.h"
#include "runtime/host/host_call.h"

/* ---- build ---- */

static void mark_uses(tir_op *op, void *user)
{
    struct bwd_kernel *b = user;
    if ((op->kind == TIR_LOAD || op->kind == TIR_STORE) && op->tensor >= TENSOR_DELTA && op->tensor < TENSOR_COUNT)
        b->uses[op->tensor] = true;
    if (op->kind == TIR_GATE_GRAD)
        b->uses[TENSOR_QDQ] = b->uses[TENSOR_KDK] = true;
    if (op->kind == TIR_HEAD_SUM)
        b->uses[op->tensor == TENSOR_DK ? TENSOR_DKH : TENSOR_DVH] = true;
    if ((op->kind == TIR_KV_RANGE || op->kind == TIR_Q_RANGE) && op->range_mode == RANGE_BLOCK_TABLE)
        b->needs_table = true;
}

static bool grad_params(attnc_kernel *k, struct bwd_kernel *b)
{
    const recipe *r = k->r;
    int np = r->nparams > 0 ? r->nparams : 1;
    b->grad = ARENA_ARRAY(&k->arena, bool, np);
    b->grad_names = ARENA_ARRAY(&k->arena, const char *, np);
    if (!b->grad || !b->grad_names)
        return false;
    backward_grad_params(&k->arena, r, b->grad);
    for (int p = 0; p < r->nparams; p++) {
        if (!b->grad[p])
            continue;
        size_t n = strlen(r->params[p].name) + 2;
        char *s = arena_alloc(&k->arena, n);
        if (!s)
            return false;
        snprintf(s, n, "d%s", r->params[p].name);
        b->grad_names[p] = s;
    }
    return true;
}

attnc_status bwd_kernel_init(attnc_kernel *k)
{
    struct bwd_kernel *b = ARENA_NEW(&k->arena, struct bwd_kernel);
    if (!b || !grad_params(k, b))
        return ATTNC_ERR_NOMEM;
    k->bwd = b;
    return ATTNC_OK;
}

attnc_status bwd_build_host(attnc_kernel *k, strbuf *err)
{
    attnc_status init = bwd_kernel_init(k);
    if (init)
        return init;
    struct bwd_kernel *b = k->bwd;
    tir_program prog;
    if (!lower_backward(&k->arena, k->r, &k->sched, TARGET_HOST, &prog, err))
        return k->arena.failed ? ATTNC_ERR_NOMEM : ATTNC_ERR_INTERNAL;
    for (int i = 0; i < prog.nkernels; i++) {
        tir_kernel *tk = prog.kernels[i];
        tir_walk(tk->body, mark_uses, b);
        b->slots |= tk->programs == PROG_SLOTS;
        bwd_phase *ph = &b->phase[b->nphases];
        ph->name = tk->name;
        if (!host_codegen_build(&k->arena, tk, 2, &ph->hk, err))
            return k->arena.failed ? ATTNC_ERR_NOMEM : ATTNC_ERR_INTERNAL;
        b->nphases++;
        if (ph->hk.scratch_bytes > b->scratch_bytes)
            b->scratch_bytes = ph->hk.scratch_bytes;
    }
    return ATTNC_OK;
}

void bwd_kernel_free(attnc_kernel *k)
{
    if (!k || !k->bwd)
        return;
    for (int i = 0; i < k->bwd->nphases; i++)
        host_kernel_release(&k->bwd->phase[i].hk);
    k->bwd = NULL; /* the rest lives in the kernel's arena */
}

attnc_status attnc_kernel_build_backward(attnc_kernel **out, attnc_context *ctx, const attnc_recipe *r,
                                         const attnc_build_options *options)
{
    if (out)
        *out = NULL;
    if (!ctx)
        return ATTNC_ERR_INVALID_ARGUMENT;
    if (r && r->ctx != ctx)
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT,
                         "attnc_kernel_build_backward: the recipe belongs to another context");
    if (r && out) { /* a located diagnostic while the recipe still knows its spans */
        arena a;
        arena_init(&a, &ctx->heap);
        diag_list d;
        diag_list_init(&d, &a, r->r->file ? r->r->file : "<recipe>", NULL, 0);
        bool ok = recipe_check_differentiable(r->r, &d);
        strbuf sb;
        sb_init(&sb);
        if (!ok)
            diag_render(&d, &sb);
        attnc_status st = ok ? ATTNC_OK
                             : ctx_error(ctx, ATTNC_ERR_RECIPE, "%s", sb.len ? sb_cstr(&sb) : "the score has no gradient");
        sb_free(&sb);
        arena_free_all(&a);
        if (st)
            return st;
    }
    return kernel_build_kind(out, ctx, r ? r->r : NULL, r ? r->text_hash : NULL, options, lower_recipe, true);
}

/* ---- args ---- */

int kernel_arg_tensors(const attnc_kernel *k)
{
    int np = k->r->nparams;
    return ARG_NFIXED + np + (k->bwd ? BWD_NFIXED + np : 0);
}

int bwd_tensor_index(const attnc_kernel *k, const char *name)
{
    static const char *const fixed[BWD_NFIXED] = {"do", "dq", "dk", "dv"};
    int base = ARG_NFIXED + k->r->nparams;
    for (int i = 0; i < BWD_NFIXED; i++)
        if (!strcmp(name, fixed[i]))
            return base + i;
    for (int p = 0; p < k->r->nparams; p++)
        if (name[0] == 'd' && k->r->params[p].name && !strcmp(name + 1, k->r->params[p].name))
            return base + BWD_NFIXED + p;
    return -1;
}

const char *const *kernel_bwd_grad_names(const attnc_kernel *k)
{
    return k && k->bwd ? k->bwd->grad_names : NULL;
}

/* ---- launch ---- */

enum { MAX_SLOTS = 64 };
#define SLOT_BYTES_CAP ((uint64_t)256 << 20) /* the slots of every param gradient together */

typedef struct bwd_launch {
    attnc_kernel *k;
    const bwd_problem *bp;
    int64_t numel[64];
    int64_t nslots;
    void *ws[TENSOR_COUNT];
    void **slots; /* [nparams] */
    const uint8_t *table;
    char *block;  /* the workspace allocation */
} bwd_launch;

/* Query-tile programs of the launch (the grid the slots share out). */
static int64_t qtile_programs(const attnc_kernel *k, const int64_t *z)
{
    int nd = k->r->grid_ndim > 0 ? k->r->grid_ndim : 1;
    int64_t n = z[SZ_BATCH] * z[SZ_HEADS];
    for (int d = 0; d < nd; d++) {
        int64_t ext = k->r->grid_ndim > 0 ? z[SZ_GRID0 + d] : z[SZ_TOKENS];
        int t = k->sched.q_tile[d] > 0 ? k->sched.q_tile[d] : 1;
        n *= (ext + t - 1) / t;
    }
    return n;
}

/* Slots: a fixed number (never the thread count), so the sum over them,
 * and every param gradient, is the same on every run and machine. */
static int64_t slot_count(const bwd_launch *L)
{
    const attnc_kernel *k = L->k;
    if (!k->bwd->slots)
        return 0;
    uint64_t per = 0;
    for (int p = 0; p < k->r->nparams; p++)
        if (k->bwd->grad[p])
            per += (uint64_t)L->numel[p] * sizeof(float);
    int64_t n = qtile_programs(k, L->bp->p.sizes), s = n < MAX_SLOTS ? n : MAX_SLOTS;
    while (s > 1 && per * (uint64_t)s > SLOT_BYTES_CAP)
        s /= 2;
    return s < 1 ? 1 : s;
}

/* Bytes of each workspace buffer; slots of param p at index TENSOR_COUNT + p. */
static size_t ws_bytes(const bwd_launch *L, int which)
{
    const recipe *r = L->k->r;
    const int64_t *z = L->bp->p.sizes;
    uint64_t bh = (uint64_t)z[SZ_BATCH] * (uint64_t)z[SZ_HEADS];
    if (which >= TENSOR_COUNT) {
        int p = which - TENSOR_COUNT;
        if (!L->k->bwd->grad[p])
            return 0;
        if (r->family == FAMILY_LINEAR) /* gate_grad's f64 accumulator */
            return (size_t)L->numel[p] * sizeof(double);
        return (size_t)((uint64_t)L->numel[p] * (uint64_t)L->nslots * sizeof(float));
    }
    if (!L->k->bwd->uses[which])
        return 0;
    switch (which) {
    case TENSOR_DELTA:
    case TENSOR_QDQ:
    case TENSOR_KDK: return (size_t)(bh * (uint64_t)z[SZ_TOKENS] * sizeof(float));
    case TENSOR_DOX: return (size_t)(bh * (uint64_t)z[SZ_TOKENS] * (uint64_t)(r->head_dim_v + 1) * sizeof(float));
    case TENSOR_DKH: return (size_t)(bh * (uint64_t)z[SZ_KV_TOKENS] * (uint64_t)r->head_dim * sizeof(float));
    case TENSOR_DVH: return (size_t)(bh * (uint64_t)z[SZ_KV_TOKENS] * (uint64_t)r->head_dim_v * sizeof(float));
    default: return 0;
    }
}

static size_t round64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* One zeroed block, cut into 64-byte aligned buffers. */
static attnc_status alloc_workspace(bwd_launch *L)
{
    int np = L->k->r->nparams, n = TENSOR_COUNT + np;
    size_t total = 64;
    for (int i = 0; i < n; i++)
        total += round64(ws_bytes(L, i));
    L->slots = ctx_calloc(L->k->ctx, sizeof(void *) * (size_t)(np > 0 ? np : 1));
    L->block = ctx_calloc(L->k->ctx, total);
    if (!L->slots || !L->block)
        return kernel_error(L->k, ATTNC_ERR_NOMEM, "out of memory: %zu bytes of workspace for the backward", total);
    char *at = L->block + (64 - (uintptr_t)L->block % 64) % 64;
    for (int i = 0; i < n; i++) {
        size_t b = ws_bytes(L, i);
        if (!b)
            continue;
        if (i < TENSOR_COUNT)
            L->ws[i] = at;
        else
            L->slots[i - TENSOR_COUNT] = at;
        at += round64(b);
    }
    return ATTNC_OK;
}

static host_value arg_of(const bwd_launch *L, const host_arg *a, void *scratch, int64_t first, int64_t last)
{
    const bwd_problem *bp = L->bp;
    host_value v = {.i = 0};
    const attnc_tensor *t = NULL;
    if (a->role == HROLE_TENSOR || a->role == HROLE_STRIDE)
        t = a->which < ARG_NFIXED ? bp->p.t[a->which] : bp->t[a->which - HT_DO];
    const attnc_tensor *pt = (a->role == HROLE_PARAM || a->role == HROLE_PARAM_STRIDE || a->role == HROLE_PARAM_SHAPE)
                                 ? &bp->p.params[a->which]
                                 : (a->role == HROLE_DPARAM || a->role == HROLE_DPARAM_STRIDE) ? &bp->dparams[a->which]
                                                                                               : NULL;
    bool grad = (a->role == HROLE_DPARAM || a->role == HROLE_DPARAM_STRIDE) && L->k->bwd->grad[a->which];
    switch (a->role) {
    case HROLE_TENSOR: v.p = t ? t->data : NULL; break;
    case HROLE_STRIDE: v.i = t && a->dim < t->ndim ? t->stride[a->dim] : 0; break;
    case HROLE_SIZE: v.i = a->which < SZ_MAX ? bp->p.sizes[a->which] : 0; break;
    case HROLE_PARAM: v.p = pt->data; break;
    case HROLE_PARAM_STRIDE: v.i = a->dim < pt->ndim ? pt->stride[a->dim] : 0; break;
    case HROLE_PARAM_SHAPE: v.i = a->dim < pt->ndim ? pt->shape[a->dim] : 1; break;
    case HROLE_DPARAM: v.p = grad ? pt->data : NULL; break;
    case HROLE_DPARAM_STRIDE: v.i = grad && a->dim < pt->ndim ? pt->stride[a->dim] : 0; break;
    case HROLE_BLOCK_TABLE: memcpy(&v.p, &L->table, sizeof L->table); break; /* only read */
    case HROLE_WS: v.p = a->which == TENSOR_SLOTS ? L->slots[a->dim] : L->ws[a->which]; break;
    case HROLE_NSLOTS: v.i = L->nslots; break;
    case HROLE_SCRATCH: v.p = scratch; break;
    case HROLE_PROGRAM_FIRST: v.i = first; break;
    case HROLE_PROGRAM_LAST: v.i = last; break;
    case HROLE_SPANS: v.p = NULL; break; /* forward kernels only */
    }
    return v;
}

/* Runs programs [first, last) of one phase. */
static attnc_status run_range(const bwd_launch *L, const bwd_phase *ph, void *scratch, int64_t first, int64_t last)
{
    const host_kernel *hk = &ph->hk;
    host_value vals[HOST_MAX_ARGS];
    for (int i = 0; i < hk->nargs && i < HOST_MAX_ARGS; i++)
        vals[i] = arg_of(L, &hk->args[i], scratch, first, last);
    int32_t ret = 0;
    if (!host_call(hk->fn, hk->args, hk->nargs, vals, &ret))
        return kernel_error(L->k, ATTNC_ERR_INTERNAL, "internal error: libffi cannot call the host kernel %s", ph->name);
    if (ret != 0)
        return kernel_error(L->k, ATTNC_ERR_INTERNAL, "internal error: the host kernel %s returned %d", ph->name, (int)ret);
    return ATTNC_OK;
}

/* Every phase in order; with chunk > 0 each phase's programs run in
 * chunks of that many, last chunk first (results must not change). */
static attnc_status run_phases(bwd_launch *L, int64_t chunk)
{
    struct bwd_kernel *b = L->k->bwd;
    char *scratch = ctx_alloc(L->k->ctx, b->scratch_bytes + 64);
    if (!scratch)
        return kernel_error(L->k, ATTNC_ERR_NOMEM, "out of memory: %zu bytes of tile scratch for the backward",
                            b->scratch_bytes);
    void *aligned = scratch + (64 - (uintptr_t)scratch % 64) % 64;
    attnc_status st = ATTNC_OK;
    for (int i = 0; i < b->nphases && !st; i++) {
        int64_t n = host_bwd_programs(&b->phase[i].hk, L->bp->p.sizes, L->nslots, L->numel);
        if (n < 0)
            st = kernel_error(L->k, ATTNC_ERR_INVALID_ARGUMENT, "the launch has too many programs (int64 overflow)");
        for (int64_t hi = n; !st && hi > 0;) {
            int64_t lo = chunk > 0 && hi > chunk ? hi - chunk : 0;
            st = run_range(L, &b->phase[i], aligned, lo, hi);
            hi = lo;
        }
    }
    ctx_free(L->k->ctx, scratch);
    return st;
}

attnc_status launch_backward(attnc_kernel *k, const attnc_args *a)
{
    return bwd_launch_chunked(k, a, 0);
}

attnc_status bwd_launch_chunked(attnc_kernel *k, const attnc_args *a, int64_t chunk)
{
    bwd_problem bp;
    attnc_status st = bwd_validate(k, a, &bp);
    if (st)
        return st;
    bwd_launch L = {.k = k, .bp = &bp};
    for (int p = 0; p < k->r->nparams && p < 64; p++) {
        L.numel[p] = 1;
        for (int d = 0; d < bp.p.params[p].ndim; d++)
            L.numel[p] *= bp.p.params[p].shape[d];
    }
    if (k->r->nparams > 64)
        return kernel_error(k, ATTNC_ERR_UNSUPPORTED, "the backward handles recipes of at most 64 params");
    L.nslots = slot_count(&L);
    if (k->bwd->needs_table) { /* cached per shape; NULL (every tile) is also correct */
        size_t bytes;
        L.table = block_table_for(k, &bp.p, &bytes, &st);
        if (st)
            return st;
    }
    st = alloc_workspace(&L);
    if (!st)
        st = run_phases(&L, chunk);
    ctx_free(k->ctx, L.block);
    ctx_free(k->ctx, L.slots);
    return st;
}
