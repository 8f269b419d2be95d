/* nvptx_kernel.c — tile IR -> PTX: picks the strategy, owns the LLVM
 * context of one compilation (created and disposed here, so compilations
 * on distinct threads share nothing), and fills the launch description. */
#include "nvptx_kernel.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "nvptx_abi.h"
#include "nvptx_fa2.h"
#include "nvptx_linear.h"
#include "nvptx_target.h"
#include "../ir/target_info.h"

static void kernel_name(char *out, size_t n, const char *recipe_name)
{
    snprintf(out, n, "attnc_%s", recipe_name ? recipe_name : "kernel");
    for (char *c = out; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_')
            *c = '_';
}

static void describe(const fa_plan *p, target_arch arch, nvptx_kernel_info *info)
{
    info->arch = arch;
    info->strategy = NVPTX_STRATEGY_FA2;
    info->ndims = p->ndims;
    for (int d = 0; d < 3; d++) {
        info->q_tile[d] = p->q_ext[d];
        info->dil[d] = p->dil[d] > 1 ? p->dil[d] : 0;
        info->kv_tile[d] = p->kv_ext[d];
    }
    info->grid_ndim = p->grid_ndim;
    info->tma = p->tma;
    info->o_tma = p->o_tma;
    info->persistent = p->persist;
    /* dynamic items keep their counter in a module global (nvptx_fa2_persist.c) */
    info->serial = p->persist && nvptx_persist_dynamic_mode() == 1;
    info->kv_rows = p->Tk;
    info->cross = p->k ? p->k->cross : false;
    info->dt = p->dt;
    info->head_dim = p->D;
    info->head_dim_v = p->Dv;
    nvptx_abi_describe_params(p->k, info);
}

nvptx_status nvptx_emit_kernel(const tir_kernel *k, target_arch arch, nvptx_kernel_info *info, strbuf *ptx,
                               strbuf *err)
{
    memset(info, 0, sizeof *info);
    if (!nvptx_arch_name(arch)) {
        sb_puts(err, "GPU code generation needs an sm_80 or sm_90a target");
        return NVPTX_UNSUPPORTED;
    }
    if (k->family == FAMILY_LINEAR)
        return nvptx_linear_emit(k, arch, info, ptx, err);
    fa_plan plan;
    nvptx_status st = fa_plan_from_tir(k, arch, &plan, err);
    if (st)
        return st;
    if (plan.grid_ndim > 0 && plan.grid_ndim != plan.ndims) {
        sb_printf(err, "GPU: the schedule has %d tile dims but the token grid %d", plan.ndims, plan.grid_ndim);
        return NVPTX_UNSUPPORTED;
    }
    kernel_name(info->name, sizeof info->name, k->name);
    describe(&plan, arch, info);
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = nvptx_module_create(c, info->name, arch);
    st = fa2_build(m, &plan, info, err);
    return nvptx_module_finish(m, NULL, arch, st, ptx, err);
}

int64_t nvptx_tiles_over(int ndims, int grid_ndim, const int *tile, const int *dil, const int64_t *sizes, int tok_id)
{
    int64_t n = 1;
    for (int d = 0; d < ndims; d++) {
        int64_t ext = grid_ndim == 0 ? sizes[tok_id] : sizes[SZ_GRID0 + d];
        int64_t dl = dil && dil[d] > 1 ? dil[d] : 1, len = (ext + dl - 1) / dl; /* group 0's length */
        n *= dl * ((len + tile[d] - 1) / tile[d]);
    }
    return n;
}

int64_t nvptx_grid_x(const nvptx_kernel_info *info, const int64_t *sizes)
{
    if (info->grid_x_fixed > 0)
        return sizes[SZ_TOKENS] > 0 ? info->grid_x_fixed : 0;
    return nvptx_tiles_over(info->ndims, info->grid_ndim, info->q_tile, info->dil, sizes, SZ_TOKENS);
}

void nvptx_kernel_abi(const nvptx_kernel_info *info, kernel_abi *out)
{
    kabi_type types[NVPTX_MAX_PARAMS];
    kabi_param_types(info->nparams, info->param_scalar, info->param_float, types);
    kernel_abi_forward(out, info->nparams, types, info->tma, info->o_tma);
}

schedule nvptx_default_schedule(const tir_kernel *k, target_arch arch)
{
    int nd = k && k->grid_ndim > 0 ? k->grid_ndim : 1;
    if (k && !k->sched.is_auto && k->sched.ndims == nd)
        return k->sched;
    int D = k ? (k->head_dim > k->head_dim_v ? k->head_dim : k->head_dim_v) : 128;
    schedule s = schedule_default(nd, arch, k && k->family == FAMILY_LINEAR);
    s.is_auto = false;
    if (k && k->family == FAMILY_LINEAR) { /* the recipe's `split` section */
        if (k->linear.block > 0)
            s.linear_block = k->linear.block;
        s.inter = k->linear.inter;
        /* A running state (`inter state`) is carried faster by the chain of
         * segments (H200, B=1 H=16 N=16384 D=128: 0.190 ms against 0.411). */
        if (s.inter == INTER_STATE && nvptx_linear_chain_fits(k, s.linear_block))
            s.inter = INTER_CHAIN;
    }
    s.stages = 2;
    s.warps = schedule_q_tokens(&s) / 16; /* one 16-row MMA block per warp */
    if (s.warps > 8)
        s.warps = 8;
    if (nd == 1 && D <= 64)
        s.warps = 4; /* two blocks per warp: Q still fits in registers */
    if (nd == 1 && D > 128) {
        s.q_tile[0] = 64;
        s.kv_tile[0] = 32;
        s.warps = 4;
    }
    /* sm_90a (wgmma products): one 64-row warpgroup tile per 4 warps and
     * 128-key tiles were fastest on the H200 (bench/RESULTS.md, 2026-11-29:
     * dense D=128 511 TFLOP/s against 427 with 64-key tiles). */
    if (nd == 1 && (target_info_of(arch)->mma & TARGET_MMA_WGMMA) && D <= 128 && !(k && k->family == FAMILY_LINEAR)) {
        s.q_tile[0] = 128;
        s.kv_tile[0] = 128;
        s.warps = 8;
    }
    /* 3-D grids on sm_90a (TMA boxes): a 4x8x4 query box over 4x4x4 key
     * boxes beat 4x4x8 over 4x4x4 on every 3-D neighborhood measured (H200,
     * 2026-12-03: HunyuanVideo NA 243 TFLOP/s against 231, its GNA 375
     * against 367, 7x13x13 on 16x32x32 108.5 against 106.9). */
    if (nd == 3 && (target_info_of(arch)->mma & TARGET_MMA_WGMMA) && D <= 128 && !(k && k->family == FAMILY_LINEAR)) {
        static const int q3[] = {4, 8, 4};
        for (int d = 0; d < 3; d++)
            s.q_tile[d] = q3[d];
    }
    return s;
}
