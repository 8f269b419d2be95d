/* nvptx_linear.c — entry of the linear-attention GPU strategy
 * (nvptx_linear.h): the plan read off the tile IR kernel (header, schedule), its
 * refusals (one rule for inter=chain, shared with nvptx_default_schedule),
 * the kernel's description for the launch, and the module: the kernel
 * itself is written on the tile builder (nvptx_linear_tile.h). */
#include "nvptx_abi.h"
#include "nvptx_linear_tile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvptx_target.h"
#include "../ir/target_info.h"

enum { CHUNKED_SEGMENTS = 4 };

static nvptx_status refuse(strbuf *err, const char *what, int v)
{
    sb_printf(err, "GPU linear attention: ");
    sb_printf(err, what, v);
    return NVPTX_UNSUPPORTED;
}

/* Why inter=chain cannot take kernel k with `block`-token blocks (a printf
 * format with one int, *val), or NULL when it can. One rule for the
 * refusal below and for nvptx_default_schedule's choice. */
static const char *chain_misfit(const tir_kernel *k, int block, int *val)
{
    *val = 0;
    if (!k->linear.causal)
        return "inter=chain takes causal recipes only (non-causal: inter=state)%.0d";
    if (k->linear.normalize)
        return "inter=chain does not normalise (use inter=state)%.0d";
    if ((*val = block) != 64)
        return "inter=chain takes block=64, not %d";
    if ((*val = k->head_dim) % 64 || k->head_dim > 128)
        return "inter=chain needs head_dim 64 or 128, not %d";
    if ((*val = k->head_dim_v) % 32 || k->head_dim_v > 128)
        return "inter=chain needs head_dim_v a multiple of 32, at most 128, not %d";
    if (k->nparams > (*val = NVPTX_MAX_PARAMS))
        return "at most %d params";
    return NULL;
}

bool nvptx_linear_chain_fits(const tir_kernel *k, int block)
{
    int v;
    return k->family == FAMILY_LINEAR && (k->qkv_dtype == DT_BF16 || k->qkv_dtype == DT_F16) &&
           !chain_misfit(k, block, &v);
}

/* inter=chain: 8 warps (4 row groups x 2 column groups) with D/4 x Dv/2 of
 * the f32 state each, so D x Dv <= 128 x 128 keeps it at 64 registers. */
static nvptx_status check_chain(const lin_plan *p, strbuf *err)
{
    int v;
    const char *why = chain_misfit(p->k, p->C, &v);
    return why ? refuse(err, why, v) : NVPTX_OK;
}

nvptx_status lk_make_plan(const tir_kernel *k, lin_plan *p, strbuf *err)
{
    memset(p, 0, sizeof *p);
    p->k = k;
    p->dt = k->qkv_dtype;
    p->D = k->head_dim;
    p->Dv = k->head_dim_v;
    p->C = k->sched.linear_block > 0 ? k->sched.linear_block : k->linear.block > 0 ? k->linear.block : 64;
    p->rgs = p->C / 16;
    p->wide = k->sched.inter == INTER_CHAIN;
    p->warps = p->wide ? 2 * p->rgs : p->rgs;
    p->causal = k->linear.causal;
    p->normalize = k->linear.normalize;
    p->feature = k->linear.feature;
    p->decay = k->linear.causal ? k->linear.decay : DECAY_NONE;
    p->decay_param = k->linear.decay_param;
    if (p->decay != DECAY_NONE && (p->decay_param < 0 || p->decay_param >= k->nparams))
        p->decay = DECAY_NONE;
    p->transform = p->feature != FEATURE_IDENTITY || p->dt == DT_F16;
    p->segments = p->wide ? LIN_CHAIN_SEGS : p->causal && k->sched.inter == INTER_CHUNKED ? CHUNKED_SEGMENTS : 1;
    /* Segments already multiply the CTAs: wider slices halve the recomputed
     * scores and the re-read Q/K, when the state registers allow it. */
    p->dvs = p->segments > 1 && p->Dv % 32 == 0 && p->warps >= 2 && p->warps <= 4 ? 32 : 16;
    if (p->wide)
        p->dvs = p->Dv / 2; /* two column groups of warps */
    p->vt = p->wide ? p->Dv : p->dvs;
    if (p->dt != DT_BF16 && p->dt != DT_F16)
        return refuse(err, "q/k/v must be bf16 or f16%.0d", 0);
    if (p->C < 16 || p->C > 128 || p->C % 16)
        return refuse(err, "block %d: the GPU kernel takes blocks of 16 to 128 tokens", p->C);
    if (p->wide)
        return check_chain(p, err);
    if (p->D % (16 * p->rgs) || p->D / (16 * p->rgs) > LIN_MAXMB || p->D > 256)
        return refuse(err, "head_dim %d must be a multiple of 16 x (block / 16), at most 256", p->D);
    if (p->Dv % 16)
        return refuse(err, "head_dim_v %d must be a multiple of 16", p->Dv);
    if (k->nparams > NVPTX_MAX_PARAMS)
        return refuse(err, "at most %d params", NVPTX_MAX_PARAMS);
    return NVPTX_OK;
}

static void describe(const lin_plan *p, int threads, int smem, target_arch arch, nvptx_kernel_info *info)
{
    info->arch = arch;
    info->strategy = NVPTX_STRATEGY_LINEAR;
    info->threads = threads;
    info->serial = p->wide; /* the chain's slots and tickets are module globals */
    info->smem_bytes = smem;
    info->ndims = 1;
    info->q_tile[0] = p->C;
    info->grid_x_fixed = p->Dv / p->vt * p->segments;
    info->dt = p->dt;
    info->head_dim = p->D;
    info->head_dim_v = p->Dv;
    nvptx_abi_describe_params(p->k, info);
}

static void kernel_name(char *out, size_t n, const char *recipe_name)
{
    snprintf(out, n, "attnc_%s", recipe_name ? recipe_name : "linear");
    for (char *c = out; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
            *c = '_';
}

/* The kernel on the tile builder into module m. */
static nvptx_status build_tile(lk *L, nv_ctx nv, const char *name, target_arch arch, strbuf *err)
{
    nvptx_abi_args abi;
    nvptx_abi_declare(&nv, L->p->k, name, &abi);
    memcpy(L->tens, abi.tens, sizeof L->tens); /* q, k, v, o: the kernel writes no lse */
    for (int t = 0; t < 4; t++)
        memcpy(L->stride[t], abi.stride[t], sizeof L->stride[t]);
    memcpy(L->size, abi.size, sizeof L->size);
    memcpy(L->param, abi.param, sizeof L->param);
    nt_begin(&L->t, nv, abi.fn, L->p->warps * 32, arch);
    if (L->p->wide)
        lk_chain_globals(L);
    lk_emit_kernel(L);
    nv_annotate(&L->t.nv, abi.fn, "kernel", 1);
    nv_annotate(&L->t.nv, abi.fn, "maxntidx", L->t.threads);
    nv_annotate(&L->t.nv, abi.fn, "minctasm", 1);
    if (!L->t.error)
        return NVPTX_OK;
    sb_printf(err, "GPU linear attention: %s", L->t.error);
    return NVPTX_INTERNAL;
}

static nvptx_status emit_tile(const lin_plan *p, target_arch arch, nvptx_kernel_info *info, strbuf *ptx, strbuf *err)
{
    lk *L = calloc(1, sizeof *L);
    if (!L) {
        sb_puts(err, "out of memory");
        return NVPTX_INTERNAL;
    }
    L->p = p;
    lk_plan_smem(L);
    int total = L->total;
    if (total > target_info_of(arch)->smem_block_optin) {
        free(L);
        return refuse(err, "the block needs %d bytes of shared memory: use a smaller block", total);
    }
    describe(p, p->warps * 32, total, arch, info);
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = nvptx_module_create(c, info->name, arch);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
    nv_ctx nv;
    nv_ctx_init(&nv, c, m, b);
    nvptx_status st = build_tile(L, nv, info->name, arch, err);
    st = nvptx_module_finish(m, b, arch, st, ptx, err);
    free(L);
    return st;
}

nvptx_status nvptx_linear_emit(const tir_kernel *k, target_arch arch, nvptx_kernel_info *info,
                               strbuf *ptx, strbuf *err)
{
    memset(info, 0, sizeof *info);
    lin_plan p;
    nvptx_status st = lk_make_plan(k, &p, err);
    if (st)
        return st;
    kernel_name(info->name, sizeof info->name, k->name);
    return emit_tile(&p, arch, info, ptx, err);
}
