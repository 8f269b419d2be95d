/* aot_recipe.c — `attnc compile FILE --aot`: a typed recipe, lowered under a
 * schedule and emitted as PTX by the NVPTX code generator, becomes AOT
 * output whose args struct follows the kernel parameter ABI of
 * codegen/nvptx_kernel.h:
 *   q, k, v, o, lse                          device pointers (lse may be NULL)
 *   q_stride[4] ... o_stride[4], lse_stride[3]  int64, in elements
 *   size[SZ_MAX]                             int32, by ir/expr.h size id
 *                                            (batch, heads, kv_heads, tokens,
 *                                            kv_tokens, grid0..2, extras)
 *   one field per recipe param               device pointer, or f32/i64 scalar
 * grid = (query tiles, heads, batch), as nvptx_grid_x computes. */
#include "aot_recipe.h"

#include <cuda.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codegen/nvptx_kernel.h"
#include "../passes/pipeline.h"

enum { MAX_AOT_PARAMS = 5 + 5 + 1 + NVPTX_MAX_PARAMS };

enum { MAX_CHECKS = 16 };

typedef struct recipe_aot {
    arena *a; /* the generated names and expressions */
    aot_param params[MAX_AOT_PARAMS];
    const char *grid_x;
    char heads[64], batch[64];
    const char *name;
    char check_text[MAX_CHECKS][160], msg_text[MAX_CHECKS][160];
    const char *checks[MAX_CHECKS], *msgs[MAX_CHECKS];
    int nchecks;
} recipe_aot;

static void check(recipe_aot *ra, const char *msg, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(recipe_aot *ra, const char *msg, const char *fmt, ...)
{
    if (ra->nchecks == MAX_CHECKS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ra->check_text[ra->nchecks], sizeof ra->check_text[0], fmt, ap);
    va_end(ap);
    snprintf(ra->msg_text[ra->nchecks], sizeof ra->msg_text[0], "%s", msg);
    ra->checks[ra->nchecks] = ra->check_text[ra->nchecks];
    ra->msgs[ra->nchecks] = ra->msg_text[ra->nchecks];
    ra->nchecks++;
}

/* What the kernel ABI requires beyond types (codegen/nvptx_kernel.h), as
 * attnc_launch checks it: sizes present, heads a multiple of kv_heads,
 * contiguous last dims, 16-byte aligned rows; grid extents per dim. */
static void abi_checks(recipe_aot *ra, const recipe *r, const nvptx_kernel_info *info)
{
    static const char *t[] = {"q", "k", "v", "o"};
    int es = dtype_size(info->dt);
    check(ra, "sizes batch, heads, kv_heads, tokens and kv_tokens must be >= 1",
          "a->size[%d] >= 1 && a->size[%d] >= 1 && a->size[%d] >= 1 && a->size[%d] >= 1 && a->size[%d] >= 1", SZ_BATCH,
          SZ_HEADS, SZ_KV_HEADS, SZ_TOKENS, SZ_KV_TOKENS);
    check(ra, "heads must be a multiple of kv_heads", "a->size[%d] %% a->size[%d] == 0", SZ_HEADS, SZ_KV_HEADS);
    if (!r->gqa)
        check(ra, "kv_heads must equal heads (the recipe does not declare GQA)", "a->size[%d] == a->size[%d]",
              SZ_KV_HEADS, SZ_HEADS);
    if (!r->cross)
        check(ra, "kv_tokens must equal tokens (the recipe is not cross attention)", "a->size[%d] == a->size[%d]",
              SZ_KV_TOKENS, SZ_TOKENS);
    for (int i = 0; i < 4; i++) {
        char msg[120];
        snprintf(msg, sizeof msg, "%s: the last dim must have stride 1 and rows must start 16-byte aligned", t[i]);
        check(ra, msg, "a->%s_stride[3] == 1 && (a->%s_stride[2] * %d) %% 16 == 0", t[i], t[i], es);
    }
    if (r->grid_ndim > 0) { /* extents >= 1 whose product is tokens */
        char cond[160] = "", prod[80] = "";
        size_t cl = 0, pl = 0;
        for (int d = 0; d < r->grid_ndim; d++) {
            cl += (size_t)snprintf(cond + cl, sizeof cond - cl, "a->size[%d] >= 1 && ", SZ_GRID0 + d);
            pl += (size_t)snprintf(prod + pl, sizeof prod - pl, "%s(int64_t)a->size[%d]", d ? " * " : "", SZ_GRID0 + d);
        }
        check(ra, "token-grid extents must be >= 1 with their product equal to tokens", "%s%s == a->size[%d]", cond,
              prod, SZ_TOKENS);
    }
}

static void add(recipe_aot *ra, int *n, aot_param p)
{
    ra->params[(*n)++] = p;
}

/* Parameters in ABI order. */
static int abi_params(recipe_aot *ra, const recipe *r, const nvptx_kernel_info *info)
{
    static const char *ptrs[] = {"q", "k", "v", "o", "lse"};
    static const char *strides[] = {"q_stride", "k_stride", "v_stride", "o_stride", "lse_stride"};
    int n = 0;
    for (int i = 0; i < 5; i++)
        add(ra, &n, (aot_param){.name = ptrs[i], .type = AOT_PTR, .align = i < 4 ? 16 : 4, .nullable = i == 4});
    for (int i = 0; i < 5; i++)
        add(ra, &n, (aot_param){.name = strides[i], .type = AOT_I64, .min = 1, .max = 0, .count = i < 4 ? 4 : 3});
    add(ra, &n, (aot_param){.name = "size", .type = AOT_I32, .min = 0, .max = 2147483647, .count = SZ_MAX});
    for (int i = 0; i < r->nparams && i < info->nparams; i++) {
        aot_type t = !info->param_scalar[i] ? AOT_PTR : info->param_float[i] ? AOT_F32 : AOT_I64;
        /* "p_NAME": any recipe name (int, NULL, class, ...) makes a field that compiles in C and C++ */
        add(ra, &n, (aot_param){.name = arena_printf(ra->a, "p_%s", r->params[i].name), .type = t, .align = 4,
                                .min = 1, .max = 0});
    }
    return n;
}

/* grid.x = product over tile dims of ceil(extent / q_tile). */
static void grid_exprs(recipe_aot *ra, const nvptx_kernel_info *info)
{
    strbuf g;
    sb_init(&g);
    int ndims = info->grid_x_fixed > 0 ? 0 : info->ndims;
    if (!ndims) /* linear attention: a fixed number of Dv slices */
        sb_printf(&g, "(a->size[%d] > 0 ? %d : 0)", SZ_TOKENS, info->grid_x_fixed);
    for (int d = 0; d < ndims; d++) {
        int sz = info->grid_ndim == 0 ? SZ_TOKENS : SZ_GRID0 + d;
        sb_printf(&g, "%s%s_ceil(a->size[%d], 1, %d)", d ? " * " : "", ra->name, sz, info->q_tile[d]);
    }
    ra->grid_x = g.failed ? NULL : arena_strdup(ra->a, sb_cstr(&g));
    sb_free(&g);
    snprintf(ra->heads, sizeof ra->heads, "a->size[%d]", SZ_HEADS);
    snprintf(ra->batch, sizeof ra->batch, "a->size[%d]", SZ_BATCH);
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

/* The tensor maps a TMA kernel takes (as runtime/cuda_launch.c builds them). */
static aot_tma tma_spec(const nvptx_kernel_info *info)
{
    aot_tma t = {.enabled = info->tma,
                 .dtype = info->dt == DT_F16 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
                 .swizzle = CU_TENSOR_MAP_SWIZZLE_128B,
                 .l2_promotion = CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                 .dims = {info->head_dim, info->head_dim, info->head_dim_v},
                 .rows = {info->q_tile[0], info->kv_rows, info->kv_rows},
                 .size_tokens = SZ_TOKENS, .size_kv_tokens = SZ_KV_TOKENS, .size_heads = SZ_HEADS,
                 .size_kv_heads = SZ_KV_HEADS, .size_batch = SZ_BATCH};
    return t;
}

aot_result aot_compile_recipe(const recipe *r, const schedule *s, target_arch arch, const char *name, const char *dir,
                              strbuf *out_note, strbuf *err)
{
    const char *arch_name = arch == TARGET_SM90A ? "sm_90a" : "sm_80";
    arena a;
    arena_init(&a, NULL);
    strbuf ptx;
    sb_init(&ptx);
    recipe_aot *ra = calloc(1, sizeof *ra);
    nvptx_kernel_info info;
    memset(&info, 0, sizeof info);
    aot_result rc = AOT_INTERNAL;
    schedule gpu_default;
    if (!ra)
        goto done;
    ra->a = &a;
    if (!(ra->name = c_name(&a, name, r, arch_name, err))) {
        rc = a.failed ? AOT_INTERNAL : AOT_USER;
        goto done;
    }
    if (!s && r->sched.is_auto) { /* `tile auto`: the GPU default, as a JIT build takes it (cuda_backend.c) */
        gpu_default = nvptx_default_schedule(r, arch);
        s = &gpu_default;
    }
    tir_kernel *tk = lower_recipe(&a, r, s, arch, err);
    if (!tk) {
        rc = !a.failed ? AOT_USER : AOT_INTERNAL;
        goto done;
    }
    nvptx_status ns = nvptx_emit_kernel(tk, r, arch, &info, &ptx, err);
    if (ns != NVPTX_OK || ptx.failed) {
        rc = ns == NVPTX_UNSUPPORTED ? AOT_USER : AOT_INTERNAL;
        goto done;
    }

    grid_exprs(ra, &info);
    abi_checks(ra, r, &info);
    strbuf sched_text;
    sb_init(&sched_text);
    schedule sched = pipeline_schedule(r, s, arch);
    schedule_print(&sched_text, &sched);
    aot_spec spec = {.name = ra->name, .entry = info.name, .arch = arch_name, .ptx = ptx.data, .ptx_len = ptx.len,
                     .params = ra->params, .nparams = abi_params(ra, r, &info),
                     .grid = {{{-1, -1}, 1}, {{-1, -1}, 1}, {{-1, -1}, 1}},
                     .grid_c = {ra->grid_x, ra->heads, ra->batch}, .block = {info.threads, 1, 1},
                     .check_c = ra->checks, .check_msg = ra->msgs,
                     .nchecks = ra->nchecks, .dyn_smem = info.smem_bytes, .recipe = r->name, .schedule = sb_cstr(&sched_text),
                     .tma = tma_spec(&info), .serial = info.serial};
    rc = a.failed || !ra->grid_x ? AOT_INTERNAL : aot_write_with_cubin(&spec, dir, out_note, err);
    if (rc == AOT_PTXAS) /* attnc's own PTX refused: a bug */
        rc = AOT_INTERNAL;
    sb_free(&sched_text);
done:
    free(ra);
    sb_free(&ptx);
    arena_free_all(&a);
    return rc;
}
