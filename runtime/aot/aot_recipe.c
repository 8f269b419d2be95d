/* aot_recipe.c — `attnc compile FILE --aot`: a typed recipe, lowered under a
 * schedule and emitted as PTX by the NVPTX code generator, becomes AOT
 * output whose args struct follows the kernel parameter ABI of
 * codegen/nvptx_kernel.h:
 *   q, k, v, o, lse                          device pointers (lse may be NULL)
 *   q_stride[4] ... o_stride[4], lse_stride[3]  int64, in elements
 *   size[SZ_MAX]                             int32, by ir/expr.h size id
 *                                            (batch, heads, kv_heads, tokens,
 *                                            kv_tokens, grid0..2, extras)
 *   p_NAME per recipe param                  device pointer, or f32/i64 scalar
 * (the fields follow the kernel's role table, codegen/kernel_abi.h) and
 * grid = (query tiles, heads, batch), as nvptx_grid_x computes. The checks
 * and what the kernel gets are attnc_launch's (aot_attn, aot_gen_attn.c). */
#include "runtime/aot/aot_recipe.h"
#include "runtime/program/program.h"

#include <cuda.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/nvptx_kernel.h"
#include "frontend/forms.h"
#include "runtime/compile/compile_job.h"
#include "runtime/cuda/cuda_bwd_job.h"

enum { MAX_AOT_PARAMS = KABI_MAX_ENTRIES };

typedef struct recipe_aot {
    arena *a; /* the generated names */
    aot_param params[MAX_AOT_PARAMS];
    const char *name;
    int first_param; /* the field of the recipe's first param */
} recipe_aot;

static void add(recipe_aot *ra, int *n, aot_param p)
{
    ra->params[(*n)++] = p;
}

/* The fields of NAME_args in ABI order, one per entry of the kernel's role
 * table (their checks are aot_attn's); the tensor maps are the launcher's
 * own (aot_tma), passed after them as the table has them. */
static int abi_params(recipe_aot *ra, const recipe *r, const nvptx_kernel_info *info)
{
    kernel_abi abi;
    nvptx_kernel_abi(info, &abi);
    int n = 0;
    ra->first_param = -1;
    for (int i = 0; i < abi.n; i++) {
        const kabi_entry *e = &abi.e[i];
        const kabi_tensor_info *t = &kabi_tensors[e->which < KABI_NTENSORS ? e->which : 0];
        switch (e->role) {
        case KABI_TENSOR: add(ra, &n, (aot_param){.name = t->name, .type = AOT_PTR, .nullable = true}); break;
        case KABI_STRIDES:
            add(ra, &n, (aot_param){.name = t->stride_name, .type = AOT_I64, .min = 1, .max = 0, .count = e->count});
            break;
        case KABI_SIZES:
            add(ra, &n, (aot_param){.name = "size", .type = AOT_I32, .min = 1, .max = 0, .count = e->count});
            break;
        case KABI_PARAM:
            ra->first_param = ra->first_param < 0 ? n : ra->first_param;
            /* "p_NAME": any recipe name (int, NULL, class, ...) makes a field that compiles in C and C++ */
            add(ra, &n, (aot_param){.name = arena_printf(ra->a, "p_%s", r->params[e->which].name),
                                    .type = e->type == KABI_PTR ? AOT_PTR : e->type == KABI_F32 ? AOT_F32 : AOT_I64,
                                    .nullable = true, .min = 1, .max = 0});
            break;
        case KABI_TMAP: break;
        case KABI_WS: case KABI_DPARAM: case KABI_DSLICES: case KABI_DMODE: break; /* the backward's roles */
        }
    }
    if (ra->first_param < 0)
        ra->first_param = n;
    return n;
}

/* neighborhood() windows (api_validate.c's check_forms): each dim's span
 * window x dilation must fit its grid dim (tokens for a sequence). */
static bool collect_windows(aot_attn *t, const recipe *r, const expr *e)
{
    if (!e)
        return true;
    if (e->kind == EX_FORM && e->u.form == FORM_NEIGHBORHOOD) {
        int nd = r->grid_ndim > 0 ? r->grid_ndim : 1;
        for (int d = 0; d < nd && 2 * nd + d < e->nargs; d++) {
            if (t->nwindows == AOT_MAX_WINDOWS)
                return false;
            int64_t w = e->args[d]->u.ival, dil = e->args[nd + d]->u.ival;
            t->window_size[t->nwindows] = recipe_window_size(r, d);
            t->window_span[t->nwindows++] = w * (dil < 1 ? 1 : dil);
        }
    }
    for (int i = 0; i < e->nargs; i++)
        if (!collect_windows(t, r, e->args[i]))
            return false;
    return true;
}

/* What attnc_launch checks and passes for this recipe and kernel. */
static bool attn_contract(aot_attn *t, const recipe *r, const nvptx_kernel_info *info, int first_param)
{
    memset(t, 0, sizeof *t);
    t->enabled = true;
    t->dtype = dtype_name(info->dt);
    t->elem_size = dtype_size(info->dt);
    t->head_dim = r->head_dim;
    t->head_dim_v = r->head_dim_v;
    t->gqa = r->gqa;
    t->cross = r->cross;
    t->linear = r->family == FAMILY_LINEAR;
    for (int s = 0; s < SZ_MAX; s++) {
        int d = s - SZ_GRID0; /* a grid extent given as a number is known by its label */
        bool label = d >= 0 && d < r->grid_ndim && r->sizes[s].fixed > 0 && r->grid_names[d];
        t->size_name[s] = label ? r->grid_names[d] : r->sizes[s].name ? r->sizes[s].name : size_id_name((size_id)s);
        t->named[s] = (s >= SZ_GRID0 && s < SZ_GRID0 + r->grid_ndim) || (s >= SZ_EXTRA0 && s < r->nsizes);
        t->fixed[s] = r->sizes[s].fixed;
        t->zero_ok[s] = r->sizes[s].zero_ok;
        t->limit[s] = size_limit((size_id)s);
    }
    t->grid_ndim = r->grid_ndim;
    for (int side = 0; side < 2; side++) {
        t->global_off[side] = !r->global_coords ? -1 : side ? r->global_k_off : r->global_q_off;
        t->global_axis[side] = !r->global_coords ? -1 : side ? r->global_kv_axis : r->global_q_axis;
    }
    t->first_extra = SZ_EXTRA0;
    t->nsizes = r->nsizes;
    t->first_param = first_param;
    t->nparams = r->nparams < info->nparams ? r->nparams : info->nparams;
    for (int i = 0; i < t->nparams; i++) {
        const recipe_param *rp = &r->params[i];
        aot_attn_param *p = &t->params[i];
        p->name = rp->name;
        p->dtype = dtype_name(rp->dtype);
        p->ndim = rp->ndim;
        p->elem_size = dtype_size(rp->dtype);
        for (int d = 0; d < rp->ndim; d++) {
            p->dim_size[d] = rp->const_dims[d] > 0 ? -1 : (int)rp->dims[d];
            p->dim_const[d] = rp->const_dims[d];
        }
    }
    t->grid_x_fixed = info->grid_x_fixed;
    t->ntile_dims = info->grid_x_fixed > 0 ? 0 : info->ndims;
    for (int d = 0; d < t->ntile_dims; d++) {
        t->tile_size[d] = info->grid_ndim == 0 ? SZ_TOKENS : SZ_GRID0 + d;
        t->q_tile[d] = info->q_tile[d];
        t->dil[d] = info->dil[d] > 1 ? info->dil[d] : 1;
    }
    return collect_windows(t, r, r->mask_surface);
}

/* The C prefix: --name as given (an identifier), else recipe_arch. */
static const char *c_name(arena *a, const char *want, const recipe *r, const char *arch, strbuf *err)
{
    if (!want)
        return arena_printf(a, "%s_%s", r->name, arch);
    if (aot_is_ident(want))
        return want;
    sb_puts(err, "--name '");
    aot_put_string(err, want, false);
    sb_puts(err, "' is not a C identifier: write letters, digits and '_', not starting with a digit (it prefixes "
                 "every generated name and names the files)");
    return NULL;
}

/* The tensor maps a TMA kernel takes (as runtime/cuda/cuda_launch.c builds them). */
static aot_tma tma_spec(const nvptx_kernel_info *info)
{
    aot_tma t = {.enabled = info->tma,
                 .dtype = info->dt == DT_F16 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
                 .swizzle = CU_TENSOR_MAP_SWIZZLE_128B,
                 .l2_promotion = CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                 .o_map = info->o_tma,
                 .dims = {info->head_dim, info->head_dim, info->head_dim_v, info->head_dim_v},
                 .rows = {info->q_tile[0], info->kv_rows, info->kv_rows, 64},
                 .size_tokens = SZ_TOKENS, .size_kv_tokens = SZ_KV_TOKENS, .size_heads = SZ_HEADS,
                 .size_kv_heads = SZ_KV_HEADS, .size_batch = SZ_BATCH,
                 .grid_ndim = info->grid_ndim, .size_grid0 = SZ_GRID0};
    for (int d = 0; d < 3; d++) {
        t.box[0][d] = info->q_tile[d];
        t.box[1][d] = t.box[2][d] = info->kv_tile[d];
    }
    return t;
}

/* The backward program's part of the spec: compiled as the CUDA backend's
 * build compiles it (cuda_bwd_job.c: same schedule, variant settings and
 * PTX), described by its role table and grid rules. */
static aot_result backward_spec(arena *a, const recipe *r, const schedule *s, target_arch arch, aot_bwd *b,
                                strbuf *ptx, strbuf *sched, strbuf *err)
{
    if (r->family != FAMILY_SOFTMAX && r->family != FAMILY_LINEAR) {
        sb_puts(err, "--backward: the GPU backward handles the softmax and linear families only");
        return AOT_USER;
    }
    /* as the JIT builds it: the dK/dV kernel's TMA producer where it serves
     * (the launcher then encodes the maps of q and dout) */
    cuda_bwd_job job = {r, s ? s : !r->sched.is_auto ? &r->sched : NULL, arch, false, NULL, NULL};
    cuda_bwd_out out;
    attnc_status st = cuda_bwd_compile(a, &job, &out, err);
    if (st) {
        sb_free(&out.ptx);
        return st == ATTNC_ERR_UNSUPPORTED || st == ATTNC_ERR_RECIPE ? AOT_USER : AOT_INTERNAL;
    }
    const nvptx_bwd_info *info = &out.info;
    memset(b, 0, sizeof *b);
    b->enabled = true;
    *ptx = out.ptx;
    b->ptx = ptx->data;
    b->ptx_len = ptx->len;
    sb_puts(sched, out.sched_text);
    b->nkernels = info->nkernels;
    for (int i = 0; i < info->nkernels; i++) {
        const nvptx_bwd_kernel *k = &info->kernels[i];
        nvptx_bwd_grid g = nvptx_bwd_grid_rule(info, k->kind);
        b->k[i] = (aot_bwd_kernel){.entry = arena_printf(a, "%s", k->name), .threads = k->threads,
                                   .smem = k->smem_bytes, .x_kind = (int)g.x, .x_size = g.x_size, .x_mul = g.x_mul,
                                   .x_div = g.x_div, .y_size = g.y_size, .z_size = g.z_size,
                                   .zeroes_accumulators = k->kind == BWK_PRE};
    }
    nvptx_bwd_kernel_abi(info, &b->abi);
    b->ndims = info->ndims;
    b->grid_ndim = info->grid_ndim;
    for (int d = 0; d < 3; d++) {
        b->q_tile[d] = info->q_tile[d] > 0 ? info->q_tile[d] : 1;
        b->kv_tile[d] = info->kv_tile[d] > 0 ? info->kv_tile[d] : 1;
    }
    b->dkv_warps = info->dkv_warps;
    for (int w = 0; w < KABI_NWS; w++) {
        b->ws_row_floats[w] = nvptx_bwd_ws_row_floats(info, (kabi_ws)w);
        b->ws_rows[w] = nvptx_bwd_ws_rows(info, (kabi_ws)w) == BWR_Q_TILE_ROWS;
    }
    b->grads_atomic = info->atomics;
    b->linear = info->linear;
    b->tma = info->producer;
    b->tma_dtype = info->dt == DT_F16 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    b->tma_swizzle = CU_TENSOR_MAP_SWIZZLE_128B;
    b->tma_l2_promotion = CU_TENSOR_MAP_L2_PROMOTION_L2_256B;
    b->tma_dims[0] = info->head_dim;
    b->tma_dims[1] = info->head_dim_v;
    b->tma_rows = info->q_tile[0];
    b->ngrad = info->ngrad;
    memcpy(b->grad_param, info->grad_param, sizeof b->grad_param);
    return a->failed ? AOT_INTERNAL : AOT_OK;
}

aot_result aot_compile_recipe(const recipe *r, const schedule *s, target_arch arch, const char *name, const char *dir,
                              bool backward, strbuf *out_note, strbuf *err)
{
    const char *arch_name = arch == TARGET_SM90A ? "sm_90a" : "sm_80";
    arena a;
    arena_init(&a, NULL);
    recipe_aot *ra = calloc(1, sizeof *ra);
    compile_job j;
    compile_job_init(&j, r, arch);
    j.explicit_sched = s; /* NULL or auto: the job's schedule, as a JIT build takes it */
    j.a = &a;
    aot_result rc = AOT_INTERNAL;
    if (!ra)
        goto done;
    ra->a = &a;
    if (!(ra->name = c_name(&a, name, r, arch_name, err))) {
        rc = a.failed ? AOT_INTERNAL : AOT_USER;
        goto done;
    }
    job_status js = compile_job_run(&j);
    if (js) { /* the GPU cannot run it, or a bad schedule: the user's; the code generator's failures are ours */
        sb_puts(err, sb_cstr(&j.err));
        rc = js == JOB_NOMEM || (js == JOB_INTERNAL && j.failed == JOB_STEP_EMIT) ? AOT_INTERNAL : AOT_USER;
        goto done;
    }
    const nvptx_kernel_info info = j.info;

    strbuf sched_text, bwd_ptx, bwd_sched;
    sb_init(&sched_text);
    sb_init(&bwd_ptx);
    sb_init(&bwd_sched);
    schedule_print(&sched_text, &j.sched);
    aot_bwd bwd = {0};
    if (backward && (rc = backward_spec(&a, r, s && !s->is_auto ? s : NULL, arch, &bwd, &bwd_ptx, &bwd_sched, err))) {
        sb_free(&sched_text);
        sb_free(&bwd_ptx);
        sb_free(&bwd_sched);
        goto done;
    }
    bwd.schedule = sb_cstr(&bwd_sched);
    rc = AOT_INTERNAL;
    aot_spec spec = {.name = ra->name, .entry = info.name, .arch = arch_name, .ptx = j.ptx.data, .ptx_len = j.ptx.len,
                     .params = ra->params, .nparams = abi_params(ra, r, &info),
                     .grid = {{{-1, -1}, 1}, {{-1, -1}, 1}, {{-1, -1}, 1}}, .block = {info.threads, 1, 1},
                     .dyn_smem = info.smem_bytes, .recipe = r->name, .schedule = sb_cstr(&sched_text),
                     .tma = tma_spec(&info), .serial = info.serial, .bwd = bwd};
    if (!attn_contract(&spec.attn, r, &info, ra->first_param))
        sb_printf(err, "recipe '%s' has more than %d neighborhood window dims", r->name, AOT_MAX_WINDOWS);
    else
        rc = a.failed ? AOT_INTERNAL : aot_write_with_cubin(&spec, dir, out_note, err);
    if (rc == AOT_PTXAS) /* attnc's own PTX refused: a bug */
        rc = AOT_INTERNAL;
    sb_free(&sched_text);
    sb_free(&bwd_ptx);
    sb_free(&bwd_sched);
done:
    free(ra);
    compile_job_free(&j);
    arena_free_all(&a);
    return rc;
}
