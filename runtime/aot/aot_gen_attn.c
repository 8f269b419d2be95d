/* aot_gen_attn.c — NAME_validate, NAME_grid and the start of NAME_launch
 * for recipe kernels (aot_spec.attn): the generated C checks what
 * attnc_launch checks for a CUDA kernel, in the same order, written out
 * without any attnc header (runtime/api/api_validate.c, then the GPU rules of
 * runtime/cuda/cuda_launch.c), with every product and sum overflow-checked by
 * division, and hands the kernel what runtime/cuda/cuda_backend.c hands it. See
 * aot.h (aot_attn) and docs/runtime.md. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "codegen/kernel_abi.h"
#include "ir/expr.h"
#include "runtime/aot/aot_gen_impl.h"

_Static_assert((int)AOT_NSIZES == (int)SZ_MAX, "aot_attn indexes sizes by ir/expr.h's size ids");

/* Helpers that depend on nothing but the name. */
static const char helpers[] =
    "/* a * b + c for a, b, c >= 0; 0 when it does not fit in int64_t. */\n"
    "static int @N@_muladd(int64_t a, int64_t b, int64_t c, int64_t *out)\n{\n"
    "    if (b != 0 && a > (INT64_MAX - c) / b)\n        return 0;\n    *out = a * b + c;\n    return 1;\n}\n\n"
    "/* One tensor, as api_validate.c's check_layout: a zero extent means no\n"
    " * element (anything goes); else data present and aligned, unit stride in\n"
    " * the last dim when asked, strides >= 0 on dims longer than 1 with the last\n"
    " * element within 2^62 bytes, and for outputs no two elements at one address. */\n"
    "static int @N@_layout(const char *nm, const void *p, const int64_t *stride, const int64_t *shape, int ndim,\n"
    "                      int esize, int unit_last, int output)\n{\n"
    "    int64_t dims[4][2], span = 0, bytes, covered = 0;\n    int n = 0;\n"
    "    for (int d = 0; d < ndim; d++)\n        if (shape[d] == 0)\n            return @N@_OK;\n"
    "    if (!p)\n        return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"tensor '%s': data is NULL\", nm);\n"
    "    if ((uintptr_t)p % (uintptr_t)esize)\n"
    "        return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"tensor '%s': data %p is not aligned to its %d-byte elements\",\n"
    "                        nm, p, esize);\n"
    "    if (unit_last && shape[ndim - 1] > 1 && stride[ndim - 1] != 1)\n"
    "        return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"tensor '%s': stride[%d] = %lld; the head dimension must be \"\n"
    "                        \"contiguous (stride 1)\", nm, ndim - 1, (long long)stride[ndim - 1]);\n"
    "    for (int d = 0; d < ndim; d++) {\n        if (shape[d] <= 1)\n            continue;\n"
    "        if (stride[d] < 0)\n            return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"tensor '%s': stride[%d] = %lld is "
    "negative\", nm, d,\n                            (long long)stride[d]);\n"
    "        if (!@N@_muladd(shape[d] - 1, stride[d], span, &span) || !@N@_muladd(span, esize, esize, &bytes) ||\n"
    "            bytes > ((int64_t)1 << 62))\n"
    "            return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"tensor '%s': stride[%d] = %lld makes offsets overflow (a \"\n"
    "                            \"tensor must span at most 2^62 bytes)\", nm, d, (long long)stride[d]);\n"
    "        dims[n][0] = stride[d];\n        dims[n][1] = shape[d];\n        n++;\n    }\n"
    "    if (!output)\n        return @N@_OK;\n"
    "    for (int i = 1; i < n; i++) /* by stride */\n"
    "        for (int j = i; j > 0 && dims[j][0] < dims[j - 1][0]; j--) {\n"
    "            int64_t s = dims[j][0], e = dims[j][1];\n"
    "            dims[j][0] = dims[j - 1][0], dims[j][1] = dims[j - 1][1], dims[j - 1][0] = s, dims[j - 1][1] = e;\n"
    "        }\n"
    "    for (int j = 0; j < n; j++) {\n        if (dims[j][0] <= covered)\n"
    "            return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"output tensor '%s': strides make elements overlap (stride \"\n"
    "                            \"%lld inside a span of %lld); outputs need a one-to-one layout\", nm,\n"
    "                            (long long)dims[j][0], (long long)covered + 1);\n"
    "        covered += (dims[j][1] - 1) * dims[j][0];\n    }\n    return @N@_OK;\n}\n\n"
    "/* The GPU's rules for q, k, v and o (cuda_launch.c): present, 16-byte\n"
    " * aligned base, unit stride in the last dim, 16-byte aligned rows. */\n"
    "static int @N@_rows(const char *nm, const void *p, const int64_t *stride, int esize)\n{\n"
    "    int64_t row = 16 / esize; /* the stride multiple that makes 16 bytes, without stride * esize */\n"
    "    if (!p)\n        return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"CUDA launch: tensor %s is NULL\", nm);\n"
    "    if ((uintptr_t)p % 16 || stride[3] != 1 || stride[0] % row || stride[1] % row || stride[2] % row)\n"
    "        return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"CUDA launch: tensor %s needs a 16-byte aligned base, unit \"\n"
    "                        \"stride in the last dim and 16-byte aligned rows\", nm);\n"
    "    return @N@_OK;\n}\n\n";

/* Only for recipes with tensor params. */
static const char param_helper[] =
    "/* A tensor param: contiguous row-major, so its layout holds when its bytes\n"
    " * (elements x element size) are within 2^62. */\n"
    "static int @N@_param(const char *nm, const void *p, const int64_t *shape, int ndim, int esize)\n{\n"
    "    int64_t n = 1;\n    for (int d = 0; d < ndim; d++)\n        if (shape[d] < 0 || shape[d] > 2147483647)\n"
    "            return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"tensor '%s': shape[%d] = %lld is not in 0..2^31-1\", nm, d,\n"
    "                            (long long)shape[d]);\n"
    "    for (int d = 0; d < ndim; d++)\n        if (shape[d] == 0)\n            return @N@_OK;\n"
    "    if (!p)\n        return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"tensor '%s': data is NULL\", nm);\n"
    "    if ((uintptr_t)p % (uintptr_t)esize)\n"
    "        return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"tensor '%s': data %p is not aligned to its %d-byte elements\",\n"
    "                        nm, p, esize);\n"
    "    for (int d = 0; d < ndim; d++)\n"
    "        if (!@N@_muladd(n, shape[d], 0, &n))\n            n = INT64_MAX;\n"
    "    if (n > ((int64_t)1 << 62) / esize)\n"
    "        return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"tensor '%s': %lld elements make offsets overflow (a tensor \"\n"
    "                        \"must span at most 2^62 bytes)\", nm, (long long)n);\n"
    "    return @N@_OK;\n}\n\n";

static void put_literal(strbuf *c, const char *text)
{
    sb_putc(c, '"');
    aot_put_string(c, text, false);
    sb_putc(c, '"');
}

/* The per-size table: how attnc_launch reads and bounds each size. */
static void put_size_table(const aot_spec *s, strbuf *c)
{
    const aot_attn *t = &s->attn;
    sb_printf(c, "/* Each size: 1 read from a tensor shape (checked), 2 set by name (0: the\n"
                 " * recipe's value when it fixes one), 0 unused (the kernel gets 0). */\n"
                 "static const struct {\n    const char *name;\n    int kind;\n    int64_t limit, fixed;\n"
                 "} %s_size_info[%d] = {\n",
              s->name, AOT_NSIZES);
    for (int i = 0; i < AOT_NSIZES; i++) {
        int kind = i <= SZ_KV_TOKENS ? 1 : t->named[i] ? 2 : 0;
        sb_puts(c, "    {");
        put_literal(c, t->size_name[i] ? t->size_name[i] : "?");
        sb_printf(c, ", %d, %" PRId64 "LL, %" PRId64 "LL},\n", kind, t->limit[i], t->fixed[i]);
    }
    sb_puts(c, "};\n\n");
}

static const char sizes_fn[] =
    "/* size[] as the kernel gets it, each size bounded as attnc_launch bounds\n"
    " * it; messages only when `report`. */\n"
    "static int @N@_sizes(const @N@_args *a, int64_t sz[16], int report)\n{\n"
    "    for (int s = 0; s < 16; s++) {\n        int64_t v = a->size[s], fixed = @N@_size_info[s].fixed;\n"
    "        const char *nm = @N@_size_info[s].name;\n        sz[s] = 0;\n"
    "        if (@N@_size_info[s].kind == 0)\n            continue;\n"
    "        if (@N@_size_info[s].kind == 2 && v == 0 && fixed > 0)\n            v = fixed;\n"
    "        if (v < 0 || v > @N@_size_info[s].limit)\n"
    "            return report ? @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"%s = %lld (size[%d]) is not in 0..%lld\", nm,\n"
    "                                     (long long)v, s, (long long)@N@_size_info[s].limit)\n"
    "                          : @N@_ERR_INVALID_ARGUMENT;\n"
    "        if (fixed > 0 && v != fixed)\n"
    "            return report ? @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"%s = %lld (size[%d]) but the recipe fixes it to \"\n"
    "                                     \"%lld\", nm, (long long)v, s, (long long)fixed)\n"
    "                          : @N@_ERR_INVALID_ARGUMENT;\n"
    "        sz[s] = v;\n    }\n    return @N@_OK;\n}\n\n";

static void put_grid_of(const aot_spec *s, strbuf *c)
{
    const aot_attn *t = &s->attn;
    sb_printf(c, "/* The launch grid for checked sizes (nvptx_grid_x, heads, batch). */\n"
                 "static void %s_grid_of(const int64_t sz[16], uint64_t grid[3])\n{\n",
              s->name);
    if (t->grid_x_fixed > 0) {
        sb_printf(c, "    grid[0] = sz[%d] > 0 ? %du : 0;\n", SZ_TOKENS, t->grid_x_fixed);
    } else {
        sb_puts(c, "    grid[0] = 1;\n");
        for (int d = 0; d < t->ntile_dims; d++) {
            int dil = t->dil[d] > 1 ? t->dil[d] : 1;
            if (dil > 1) /* dilation-group tiling: per group, group 0's length */
                sb_printf(c, "    grid[0] *= %du * ((((uint64_t)sz[%d] + %d) / %d + %d) / %d);\n", dil, t->tile_size[d],
                          dil - 1, dil, t->q_tile[d] - 1, t->q_tile[d]);
            else
                sb_printf(c, "    grid[0] *= ((uint64_t)sz[%d] + %d) / %d;\n", t->tile_size[d], t->q_tile[d] - 1,
                          t->q_tile[d]);
        }
    }
    sb_printf(c, "    grid[1] = (uint64_t)sz[%d];\n    grid[2] = (uint64_t)sz[%d];\n}\n\n", SZ_HEADS, SZ_BATCH);
    sb_printf(c, "void %s_grid(const %s_args *a, uint64_t grid[3])\n{\n    int64_t sz[16];\n"
                 "    grid[0] = grid[1] = grid[2] = 0;\n    if (a && %s_sizes(a, sz, 0) == %s_OK)\n"
                 "        %s_grid_of(sz, grid);\n}\n\n",
              s->name, s->name, s->name, s->name, s->name);
}

/* A failing return is written in three steps: open_fail, the message
 * (user text through text(), generator formats with sb_puts), close_fail
 * with the printf arguments (", x, y" or ""). */
static void open_fail(const aot_spec *s, strbuf *c, const char *indent)
{
    sb_printf(c, "%sreturn %s_fail(%s_ERR_INVALID_ARGUMENT, \"", indent, s->name, s->name);
}

static void text(strbuf *c, const char *user)
{
    aot_put_string(c, user ? user : "?", true);
}

static void close_fail(strbuf *c, const char *args)
{
    sb_printf(c, "\"%s);\n", args);
}

static void put_fail(const aot_spec *s, strbuf *c, const char *indent, const char *msg)
{
    open_fail(s, c, indent);
    text(c, msg);
    close_fail(c, "");
}

/* The tensors' layout checks, one per tensor of the kernel ABI's table
 * (codegen/kernel_abi.h): shapes three to a line, then one check a line. */
static void put_tensors(const aot_spec *s, strbuf *c)
{
    const aot_attn *t = &s->attn;
    const char *n = s->name;
    for (int i = 0; i < KABI_NTENSORS; i++) {
        const kabi_tensor_info *ti = &kabi_tensors[i];
        sb_puts(c, i % 3 == 0 ? "    const int64_t " : ", ");
        sb_printf(c, "%cs[%d] = {B, %s, %s", ti->name[0], ti->rank, ti->kv ? "KH" : "H", ti->kv ? "KT" : "T");
        if (ti->dim != KABI_DIM_NONE)
            sb_printf(c, ", %d", ti->dim == KABI_DIM_V ? t->head_dim_v : t->head_dim);
        sb_puts(c, i % 3 == 2 || i == KABI_NTENSORS - 1 ? "};\n" : "}");
    }
    for (int i = 0; i < KABI_NTENSORS; i++) {
        const kabi_tensor_info *ti = &kabi_tensors[i];
        bool rows = ti->dim != KABI_DIM_NONE; /* the recipe's dtype, unit last stride */
        sb_puts(c, i == 0 ? "    if (" : "        ");
        if (ti->optional)
            sb_printf(c, "(a->%s && ", ti->name);
        sb_printf(c, "(st = %s_layout(\"%s\", a->%s, a->%s, %cs, %d, %d, %d, %d))", n, ti->name, ti->name,
                  ti->stride_name, ti->name[0], ti->rank, rows ? t->elem_size : 4, rows, ti->output);
        sb_puts(c, ti->optional ? ")" : "");
        sb_puts(c, i == KABI_NTENSORS - 1 ? ")\n        return st;\n" : " ||\n");
    }
    if (t->linear) {
        sb_puts(c, "    if (a->lse)\n");
        put_fail(s, c, "        ", "tensor 'lse': linear attention has no log-sum-exp output");
    }
}

static void put_heads_tokens(const aot_spec *s, strbuf *c)
{
    const aot_attn *t = &s->attn;
    if (!t->gqa) {
        sb_puts(c, "    if (KH != H)\n");
        open_fail(s, c, "        ");
        sb_puts(c, "kv_heads = %lld but heads = %lld and the recipe does not declare kv_heads (GQA)");
        close_fail(c, ", (long long)KH, (long long)H");
    }
    sb_puts(c, "    if (H > 0 && (KH < 1 || H % KH))\n");
    open_fail(s, c, "        ");
    sb_puts(c, "heads = %lld must be a multiple of kv_heads = %lld");
    close_fail(c, ", (long long)H, (long long)KH");
    if (!t->cross) {
        sb_puts(c, "    if (KT != T)\n");
        open_fail(s, c, "        ");
        sb_puts(c, "kv_tokens = %lld but tokens = %lld and the recipe is not cross-attention");
        close_fail(c, ", (long long)KT, (long long)T");
    }
    if (t->grid_ndim == 0)
        return;
    sb_puts(c, "    {\n        int64_t prod = 1;\n        int over = 0;\n");
    for (int d = 0; d < t->grid_ndim; d++)
        sb_printf(c, "        over = over || !%s_muladd(prod, sz[%d], 0, &prod);\n", s->name, SZ_GRID0 + d);
    sb_printf(c, "        if (over || prod > %" PRId64 "LL)\n", t->limit[SZ_TOKENS]);
    open_fail(s, c, "            ");
    sb_printf(c, "the token grid holds more than %" PRId64 " tokens (ATTNC_MAX_TOKENS)", t->limit[SZ_TOKENS]);
    close_fail(c, "");
    sb_puts(c, "        if (prod != T)\n");
    open_fail(s, c, "            ");
    sb_puts(c, "the token grid holds %lld tokens but tokens = %lld");
    close_fail(c, ", (long long)prod, (long long)T");
    sb_puts(c, "    }\n");
}

static void put_params(const aot_spec *s, strbuf *c)
{
    const aot_attn *t = &s->attn;
    for (int i = 0; i < t->nparams; i++) {
        const aot_attn_param *p = &t->params[i];
        if (p->ndim == 0)
            continue;
        sb_puts(c, "    {\n        const int64_t ps[4] = {");
        for (int d = 0; d < p->ndim; d++) {
            if (p->dim_size[d] >= 0)
                sb_printf(c, "%ssz[%d]", d ? ", " : "", p->dim_size[d]);
            else
                sb_printf(c, "%s%" PRId64 "LL", d ? ", " : "", p->dim_const[d]);
        }
        sb_printf(c, "};\n        if ((st = %s_param(", s->name);
        put_literal(c, p->name);
        sb_printf(c, ", a->%s, ps, %d, %d)))\n            return st;\n    }\n", s->params[t->first_param + i].name,
                  p->ndim, p->elem_size);
    }
}

/* Only when the launch is not empty: extra sizes >= 1, windows within their
 * dims, then the GPU's rules (k and v take q's place when kv_tokens is 0). */
static void put_nonempty(const aot_spec *s, strbuf *c)
{
    const aot_attn *t = &s->attn;
    const char *n = s->name;
    for (int i = t->first_extra; i < t->nsizes; i++) {
        if (t->zero_ok[i])
            continue;
        sb_printf(c, "    if (sz[%d] == 0)\n", i);
        open_fail(s, c, "        ");
        sb_puts(c, "size '");
        text(c, t->size_name[i]);
        sb_puts(c, "' is 0 but the launch is not empty (only a launch with batch, heads or tokens 0 may have zero "
                   "sizes)");
        close_fail(c, "");
    }
    for (int side = 0; side < 2; side++) { /* api_validate.c's check_global */
        int off = t->global_off[side], ax = t->global_axis[side];
        if (off < 0 || ax < 0)
            continue;
        if (t->grid_ndim > 0)
            sb_printf(c, "    if (sz[%d] >= sz[%d])\n", off, ax);
        else
            sb_printf(c, "    if (sz[%d] + sz[%d] > sz[%d])\n", off, side ? SZ_KV_TOKENS : SZ_TOKENS, ax);
        open_fail(s, c, "        ");
        text(c, t->size_name[off]);
        sb_puts(c, " = %lld lies past ");
        text(c, t->size_name[ax]);
        sb_puts(c, " = %lld");
        char args[96];
        snprintf(args, sizeof args, ", (long long)sz[%d], (long long)sz[%d]", off, ax);
        close_fail(c, args);
    }
    for (int i = 0; i < t->nwindows; i++) {
        int w = t->window_size[i];
        sb_printf(c, "    if (sz[%d] < %" PRId64 "LL)\n", w, t->window_span[i]);
        open_fail(s, c, "        ");
        sb_printf(c, "neighborhood window span %" PRId64 " is larger than ", t->window_span[i]);
        text(c, t->size_name[w]);
        sb_puts(c, " = %lld");
        char args[64];
        snprintf(args, sizeof args, ", (long long)sz[%d]", w);
        close_fail(c, args);
    }
    sb_printf(c, "    {\n        int zk = KT == 0; /* k and v hold no element: the kernel gets q's */\n"
                 "        if ((st = %s_rows(\"q\", a->q, a->q_stride, %d)) ||\n"
                 "            (st = %s_rows(\"k\", zk ? a->q : a->k, zk ? a->q_stride : a->k_stride, %d)) ||\n"
                 "            (st = %s_rows(\"v\", zk ? a->q : a->v, zk ? a->q_stride : a->v_stride, %d)) ||\n"
                 "            (st = %s_rows(\"o\", a->o, a->o_stride, %d)))\n            return st;\n    }\n",
              n, t->elem_size, n, t->elem_size, n, t->elem_size, n, t->elem_size);
    sb_printf(c, "    {\n        uint64_t g[3];\n        %s_grid_of(sz, g);\n        if (g[0] > 2147483647u)\n", n);
    put_fail(s, c, "            ", "CUDA launch: too many query tiles");
    sb_puts(c, "    }\n");
}

static void put_check(const aot_spec *s, strbuf *c)
{
    const char *n = s->name;
    sb_printf(c, "/* Everything attnc_launch checks; *empty when batch, heads or tokens is 0. */\n"
                 "static int %s_check(const %s_args *a, int64_t sz[16], int *empty)\n{\n    int st;\n    *empty = 0;\n"
                 "    if (!a)\n",
              n, n);
    put_fail(s, c, "        ", "NULL arguments");
    sb_printf(c, "    if ((st = %s_sizes(a, sz, 1)) != %s_OK)\n        return st;\n", n, n);
    sb_printf(c, "    const int64_t B = sz[%d], H = sz[%d], KH = sz[%d], T = sz[%d], KT = sz[%d];\n", SZ_BATCH, SZ_HEADS,
              SZ_KV_HEADS, SZ_TOKENS, SZ_KV_TOKENS);
    put_tensors(s, c);
    put_heads_tokens(s, c);
    put_params(s, c);
    sb_printf(c, "    *empty = B == 0 || H == 0 || T == 0;\n    if (*empty)\n        return %s_OK;\n", n);
    put_nonempty(s, c);
    sb_printf(c, "    return %s_OK;\n}\n\n", n);
    sb_printf(c, "int %s_validate(const %s_args *a)\n{\n    int64_t sz[16];\n    int empty;\n"
                 "    int st = %s_check(a, sz, &empty);\n    if (st == %s_OK)\n        %s_msg[0] = 0;\n    return st;\n}\n\n",
              n, n, n, n, n);
}

void aot_attn_render(const aot_spec *s, strbuf *c)
{
    aot_put_template(c, helpers, s->name);
    bool tensor_params = false;
    for (int i = 0; i < s->attn.nparams; i++)
        tensor_params |= s->attn.params[i].ndim > 0;
    if (tensor_params)
        aot_put_template(c, param_helper, s->name);
    put_size_table(s, c);
    aot_put_template(c, sizes_fn, s->name);
    put_grid_of(s, c);
    put_check(s, c);
}

void aot_attn_launch_start(const aot_spec *s, strbuf *c)
{
    const aot_attn *t = &s->attn;
    const char *n = s->name;
    sb_printf(c, "    int64_t sz[16];\n    int empty;\n    int st = %s_check(a, sz, &empty);\n"
                 "    if (st != %s_OK)\n        return st;\n"
                 "    if (empty) { /* nothing to compute: no driver, no launch (as attnc_launch) */\n"
                 "        %s_msg[0] = 0;\n        return %s_OK;\n    }\n",
              n, n, n, n);
    sb_printf(c, "    /* What the kernel gets (cuda_backend.c): checked sizes, q's address and\n"
                 "     * strides for tensors without elements. */\n"
                 "    %s_args m = *a;\n    for (int s = 0; s < 16; s++)\n        m.size[s] = (int32_t)sz[s];\n",
              n);
    sb_printf(c, "    if (sz[%d] == 0) {\n        m.k = m.v = m.q;\n        memcpy(m.k_stride, m.q_stride, sizeof m.q_stride);\n"
                 "        memcpy(m.v_stride, m.q_stride, sizeof m.q_stride);\n    }\n"
                 "    if (!m.lse) /* not written */\n        memset(m.lse_stride, 0, sizeof m.lse_stride);\n",
              SZ_KV_TOKENS);
    for (int i = 0; i < t->nparams; i++) {
        const aot_attn_param *p = &t->params[i];
        bool any = false;
        for (int d = 0; d < p->ndim; d++)
            if (p->dim_size[d] >= 0) {
                sb_printf(c, "%ssz[%d] == 0", any ? " || " : "    if (", p->dim_size[d]);
                any = true;
            }
        if (any)
            sb_printf(c, ")\n        m.%s = m.q;\n", s->params[t->first_param + i].name);
    }
    sb_printf(c, "    const %s_args *la = &m;\n", n);
}
