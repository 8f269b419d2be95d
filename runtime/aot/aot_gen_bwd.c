/* aot_gen_bwd.c — the backward program of AOT output (aot.h, aot_bwd):
 * NAME_bwd_args and the launcher NAME_backward, both written by walking the
 * program's role table (codegen/kernel_abi.h): a field per user-facing
 * role, and per kernel parameter the address of its value (a field, or a
 * workspace pointer the launcher computes). The forward's checks
 * (NAME_check) run on the shared fields; then the backward's own (dO, the
 * gradients, the workspace). See docs/runtime.md, "AOT". */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ir/expr.h"
#include "runtime/aot/aot_gen_impl.h"

/* The C field of gradient j: grad_NAME. */
static void put_grad_field(strbuf *c, const aot_spec *s, int j)
{
    sb_printf(c, "grad_%s", s->attn.params[s->bwd.grad_param[j]].name);
}

/* The recipe param field (p_NAME) of param i, as the forward names it. */
static const aot_param *param_field(const aot_spec *s, int i)
{
    return &s->params[s->attn.first_param + i];
}

void aot_bwd_render_header(const aot_spec *s, strbuf *h)
{
    const aot_bwd *b = &s->bwd;
    const char *n = s->name;
    sb_printf(h, "/* The backward program (schedule \"");
    aot_put_comment(h, b->schedule ? b->schedule : "");
    sb_printf(h, "\"): the gradients of a loss L given dout = dL/do,\n"
                 " * as attnc_kernel_build_backward's CUDA program computes them (attnc.h). Fields,\n"
                 " * in the kernels' parameter order (codegen/kernel_abi.h's backward table):\n"
                 " *   q, k, v, o, lse   the forward's inputs and outputs (%s), as %s_args\n"
                 " *   dout              dL/do, shaped and typed like o (16-byte aligned rows)\n"
                 " *   dq, dk, dv        outputs shaped and typed like q, k, v (4-byte aligned, even\n"
                 " *                     strides), overwritten\n"
                 " *   *_stride, size    as %s_args (dout_stride etc. in elements)\n"
                 " *   p_NAME            the recipe's params, as %s_args\n",
              b->linear ? "lse unused: linear attention has none" : "lse required", n, n, n);
    if (b->ngrad)
        sb_puts(h, " *   grad_NAME         per param with a gradient: a contiguous device tensor shaped\n"
                   " *                     and typed like the param, overwritten\n");
    sb_printf(h, " * Kernels, launched in order on the stream: ");
    for (int i = 0; i < b->nkernels; i++)
        sb_printf(h, "%s%s", i ? ", " : "", b->k[i].entry);
    if (b->tma)
        sb_puts(h, ";\n * tensor maps (TMA) of q and dout encoded per launch (a CUDA 12+ driver)");
    if (b->linear)
        sb_puts(h, ".\n * Linear attention: kv_heads and kv_tokens must equal heads and tokens (no GQA or\n"
                   " * cross attention on the GPU), and backward launches must not overlap: the\n"
                   " * scans keep module-global slots, so issue them on one stream");
    sb_printf(h, ".\n * Workspace (%s_backward_workspace_bytes, 256-byte aligned, not zeroed, owned by\n"
                 " * the caller; one launch at a time may use it): ",
              n);
    bool any = false;
    for (int r = 0; r < KABI_NWS; r++)
        if (b->ws_row_floats[r]) {
            /* linear attention's regions (nvptx_linear_bwd.c, with a decay gradient) */
            static const char *const lin[KABI_NWS] = {
                "f32 [batch, heads, tokens, 8]: the decay gradient's row dots",
                "bf16 [batch, heads, tokens / 64, head_dim x head_dim_v]: the scans' block-boundary states"};
            const char *layout = b->linear    ? lin[r]
                                 : b->ws_rows[r] ? "f32 [batch, heads, query tiles, Tq x head_dim], the bulk dQ "
                                                   "accumulator, rows past the sequence included"
                                                 : kabi_workspaces[r].layout;
            sb_printf(h, "%s%s (%s)", any ? ", " : "", kabi_workspaces[r].name, layout);
            any = true;
        }
    if (b->ngrad && !b->linear) /* the linear gate kernel writes its gradient itself */
        sb_printf(h, ", then per gradient %s", b->grads_atomic ? "one f32 accumulator of its numel"
                                                                : "(key tiles x kv_heads x batch x warps) f32 slices");
    sb_puts(h, any ? "; each part rounded up to 256 bytes. */\ntypedef struct " : "none. */\ntypedef struct ");
    sb_printf(h, "%s_bwd_args {\n", n);
    for (int e = 0; e < b->abi.n; e++) {
        const kabi_entry *en = &b->abi.e[e];
        switch (en->role) {
        case KABI_TENSOR: sb_printf(h, "    void *%s;\n", kabi_tensors[en->which].field); break;
        case KABI_STRIDES:
            sb_printf(h, "    int64_t %s[%d];\n", kabi_tensors[en->which].stride_name, en->count);
            break;
        case KABI_SIZES: sb_printf(h, "    int32_t size[%d];\n", en->count); break;
        case KABI_PARAM: {
            const aot_param *p = param_field(s, en->which);
            sb_printf(h, "    %s%s;\n", aot_c_type(p->type), p->name);
            break;
        }
        case KABI_DPARAM:
            sb_puts(h, "    void *");
            put_grad_field(h, s, en->which);
            sb_puts(h, ";\n");
            break;
        case KABI_TMAP: case KABI_WS: case KABI_DSLICES: case KABI_DMODE: break; /* the launcher's own */
        }
    }
    sb_printf(h, "} %s_bwd_args;\n\n", n);
    sb_printf(h, "/* Bytes of workspace %s_backward needs for these sizes (0: none, or sizes out\n"
                 " * of range). */\n"
                 "uint64_t %s_backward_workspace_bytes(const %s_bwd_args *a);\n",
              n, n, n);
    sb_printf(h, "/* Validates (the forward's checks on the shared fields, then dout, the\n"
                 " * gradients and the workspace), then launches the backward's kernels in order\n"
                 " * on `stream`, asynchronously, as %s_launch does. */\n"
                 "int %s_backward(const %s_bwd_args *a, void *workspace, uint64_t workspace_bytes,\n"
                 "                struct CUstream_st *stream);\n",
              n, n, n);
}

static void put_image(const aot_spec *s, strbuf *c)
{
    const aot_bwd *b = &s->bwd;
    const char *n = s->name;
    sb_printf(c, "/* ---- the backward program ---- */\n\nenum { %s_BWD_NK = %d };\n", n, b->nkernels);
    sb_printf(c, "static const unsigned char %s_bwd_ptx", n);
    aot_put_bytes(c, (const unsigned char *)b->ptx, b->ptx_len);
    sb_printf(c, "static _Alignas(8) const unsigned char %s_bwd_cubin", n);
    aot_put_bytes(c, b->cubin ? b->cubin : (const unsigned char *)"", b->cubin ? b->cubin_len : 0);
    sb_printf(c, "static const char *const %s_bwd_entry[%s_BWD_NK] = {", n, n);
    for (int i = 0; i < b->nkernels; i++)
        sb_printf(c, "%s\"%s\"", i ? ", " : "", b->k[i].entry);
    sb_printf(c, "};\nstatic const int %s_bwd_threads[%s_BWD_NK] = {", n, n);
    for (int i = 0; i < b->nkernels; i++)
        sb_printf(c, "%s%d", i ? ", " : "", b->k[i].threads);
    sb_printf(c, "};\nstatic const int %s_bwd_smem[%s_BWD_NK] = {", n, n);
    for (int i = 0; i < b->nkernels; i++)
        sb_printf(c, "%s%d", i ? ", " : "", b->k[i].smem);
    sb_puts(c, "};\n\n");
}

static const char loader[] =
    "static struct {\n    @N@_CUcontext ctx;\n    @N@_CUfunction fn[@N@_BWD_NK];\n"
    "} @N@_bwd_loaded[@N@_MAX_CONTEXTS];\nstatic int @N@_bwd_nloaded;\n\n"
    "/* The backward's kernels in the current context, loading the image on\n"
    " * first use in that context (the cubin, else the PTX through the JIT). */\n"
    "static int @N@_bwd_functions(@N@_CUfunction fn[@N@_BWD_NK])\n{\n    @N@_CUcontext ctx = NULL;\n"
    "    @N@_CUresult r = @N@_drv.cuCtxGetCurrent(&ctx);\n    if (r == 0 && !ctx) {\n        int dev = 0;\n"
    "        r = @N@_drv.cuDeviceGet(&dev, 0);\n        if (r == 0)\n"
    "            r = @N@_drv.cuDevicePrimaryCtxRetain(&ctx, dev);\n        if (r == 0)\n"
    "            r = @N@_drv.cuCtxSetCurrent(ctx);\n    }\n    if (r != 0)\n"
    "        return @N@_cuda_fail(r, \"no CUDA context\");\n    pthread_mutex_lock(&@N@_lock);\n"
    "    for (int i = 0; i < @N@_bwd_nloaded; i++)\n        if (@N@_bwd_loaded[i].ctx == ctx) {\n"
    "            memcpy(fn, @N@_bwd_loaded[i].fn, sizeof @N@_bwd_loaded[i].fn);\n"
    "            pthread_mutex_unlock(&@N@_lock);\n            return @N@_OK;\n        }\n"
    "    int st = @N@_OK;\n    @N@_CUmodule mod = NULL;\n    r = 1;\n    if (@N@_bwd_nloaded == @N@_MAX_CONTEXTS)\n"
    "        st = @N@_fail(@N@_ERR_CUDA, \"backward loaded in too many CUDA contexts\");\n"
    "    if (st == @N@_OK && sizeof @N@_bwd_cubin > 1)\n        r = @N@_drv.cuModuleLoadData(&mod, @N@_bwd_cubin);\n"
    "    if (st == @N@_OK && r != 0)\n        r = @N@_drv.cuModuleLoadData(&mod, @N@_bwd_ptx);\n"
    "    if (st == @N@_OK && r != 0)\n        st = @N@_cuda_fail(r, \"cannot load the backward's image\");\n"
    "    for (int i = 0; st == @N@_OK && i < @N@_BWD_NK; i++) {\n"
    "        if ((r = @N@_drv.cuModuleGetFunction(&fn[i], mod, @N@_bwd_entry[i])) != 0)\n"
    "            st = @N@_cuda_fail(r, \"backward kernel not found in the image\");\n"
    "        else if (@N@_bwd_smem[i] > 48 * 1024 &&\n"
    "                 (r = @N@_drv.cuFuncSetAttribute(fn[i], 8 /* MAX_DYNAMIC_SHARED_SIZE_BYTES */, @N@_bwd_smem[i])) != 0)\n"
    "            st = @N@_cuda_fail(r, \"cannot raise the dynamic shared memory limit\");\n    }\n"
    "    if (st == @N@_OK) {\n        @N@_bwd_loaded[@N@_bwd_nloaded].ctx = ctx;\n"
    "        memcpy(@N@_bwd_loaded[@N@_bwd_nloaded++].fn, fn, sizeof @N@_bwd_loaded[0].fn);\n    }\n"
    "    pthread_mutex_unlock(&@N@_lock);\n    return st;\n}\n\n"
    "/* dq, dk, dv: present, 4-byte aligned base, unit stride in the last dim,\n"
    " * even strides (the kernels store pairs of elements). */\n"
    "static int @N@_pairs(const char *nm, const void *p, const int64_t *stride)\n{\n"
    "    if (!p)\n        return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"CUDA backward: tensor %s is NULL\", nm);\n"
    "    if ((uintptr_t)p % 4 || stride[3] != 1 || stride[0] % 2 || stride[1] % 2 || stride[2] % 2)\n"
    "        return @N@_fail(@N@_ERR_INVALID_ARGUMENT, \"CUDA backward: tensor %s needs a 4-byte aligned base, unit \"\n"
    "                        \"stride in the last dim and even strides\", nm);\n    return @N@_OK;\n}\n\n"
    "static uint64_t @N@_round256(uint64_t n)\n{\n    return n > UINT64_MAX - 255 ? UINT64_MAX : (n + 255) & ~(uint64_t)255;\n}\n\n"
    "/* a * b, saturating at UINT64_MAX (a workspace that large is refused). */\n"
    "static uint64_t @N@_mul(uint64_t a, uint64_t b)\n{\n    return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;\n}\n\n";

/* NAME_bwd_fwd: the forward's args of a backward launch (its checks run on them). */
static void put_fwd_args(const aot_spec *s, strbuf *c)
{
    const char *n = s->name;
    sb_printf(c, "static void %s_bwd_fwd(const %s_bwd_args *a, %s_args *f)\n{\n    memset(f, 0, sizeof *f);\n", n, n,
              n);
    for (int i = 0; i < s->nparams; i++) {
        const aot_param *p = &s->params[i];
        if (p->count > 1)
            sb_printf(c, "    memcpy(f->%s, a->%s, sizeof f->%s);\n", p->name, p->name, p->name);
        else
            sb_printf(c, "    f->%s = a->%s;\n", p->name, p->name);
    }
    sb_puts(c, "}\n\n");
}

/* Rows of whole query tiles (BWR_Q_TILE_ROWS): query tiles x Tq. */
static int q_tile_rows(const aot_bwd *b)
{
    int tq = 1;
    for (int d = 0; d < b->ndims; d++)
        tq *= b->q_tile[d];
    return tq;
}

/* Tiles over the query or key tokens; numel of each gradient; the layout. */
static void put_layout(const aot_spec *s, strbuf *c)
{
    const aot_bwd *b = &s->bwd;
    const char *n = s->name;
    char ext[32];
    if (b->grid_ndim == 0)
        snprintf(ext, sizeof ext, "sz[tok]");
    else
        snprintf(ext, sizeof ext, "sz[%d + d]", SZ_GRID0);
    /* what the grids and the layout count in tiles (only that is written:
     * the linear scans' fixed grids use none, and unused statics warn) */
    bool tile_rows = false; /* a region of whole query tiles' rows (bulk dQ) */
    for (int r = 0; r < KABI_NWS; r++)
        tile_rows |= b->ws_rows[r] != 0;
    bool uses_q = tile_rows, uses_kv = b->ngrad && !b->grads_atomic && !b->linear;
    for (int i = 0; i < b->nkernels; i++) {
        uses_q |= b->k[i].x_kind == 1 || b->k[i].x_kind == 4;
        uses_kv |= b->k[i].x_kind == 2;
    }
    if (uses_q || uses_kv)
        sb_printf(c, "static uint64_t %s_bwd_tiles(const int64_t *sz, const int tile[3], int tok)\n{\n"
                     "    uint64_t t = 1;\n    (void)tok;\n    for (int d = 0; d < %d; d++) {\n"
                     "        int64_t ext = %s;\n        t = %s_mul(t, (uint64_t)(ext + tile[d] - 1) / (uint64_t)tile[d]);\n"
                     "    }\n    return t;\n}\n\n",
                  n, b->ndims, ext, n);
    if (uses_q)
        sb_printf(c, "static const int %s_bwd_qtile[3] = {%d, %d, %d};\n", n, b->q_tile[0], b->q_tile[1], b->q_tile[2]);
    if (uses_kv)
        sb_printf(c, "static const int %s_bwd_kvtile[3] = {%d, %d, %d};\n", n, b->kv_tile[0], b->kv_tile[1],
                  b->kv_tile[2]);
    sb_puts(c, "\n");
    sb_printf(c, "/* Elements of gradient j. */\nstatic uint64_t %s_bwd_numel(const int64_t *sz, int j)\n{\n"
                 "    uint64_t e = 1;\n    (void)sz;\n    switch (j) {\n",
              n);
    for (int j = 0; j < b->ngrad; j++) {
        const aot_attn_param *p = &s->attn.params[b->grad_param[j]];
        sb_printf(c, "    case %d:\n", j);
        for (int d = 0; d < p->ndim; d++) {
            if (p->dim_size[d] >= 0)
                sb_printf(c, "        e = %s_mul(e, (uint64_t)sz[%d]);\n", n, p->dim_size[d]);
            else
                sb_printf(c, "        e = %s_mul(e, %" PRId64 "u);\n", n, p->dim_const[d]);
        }
        sb_puts(c, "        break;\n");
    }
    sb_puts(c, "    }\n    return e;\n}\n\n");
    sb_printf(c, "/* The workspace: each region (kabi_ws order), then each gradient's slices;\n"
                 " * returns the bytes in all (UINT64_MAX: too large). */\n"
                 "static uint64_t %s_bwd_layout(const int64_t *sz, uint64_t reg[%d], uint64_t *slices)\n{\n"
                 "    uint64_t rows = %s_mul(%s_mul((uint64_t)sz[%d], (uint64_t)sz[%d]), (uint64_t)sz[%d]), at = 0;\n",
              n, KABI_NWS, n, n, SZ_BATCH, SZ_HEADS, SZ_TOKENS);
    if (tile_rows)
        sb_printf(c, "    uint64_t qrows = %s_mul(%s_mul((uint64_t)sz[%d], (uint64_t)sz[%d]), "
                     "%s_mul(%s_bwd_tiles(sz, %s_bwd_qtile, %d), %du)); /* query tiles x Tq */\n",
                  n, n, SZ_BATCH, SZ_HEADS, n, n, n, SZ_TOKENS, q_tile_rows(b));
    for (int r = 0; r < KABI_NWS; r++)
        sb_printf(c, "    reg[%d] = at; /* %s */\n    at += %s_round256(%s_mul(%s, %" PRId64 "u * 4));\n", r,
                  kabi_workspaces[r].name, n, n, b->ws_rows[r] ? "qrows" : "rows", b->ws_row_floats[r]);
    if (b->ngrad) {
        if (b->linear) /* the gate kernel writes the gradient itself: no slices */
            sb_puts(c, "    uint64_t ns = 0;\n");
        else if (b->grads_atomic)
            sb_puts(c, "    uint64_t ns = 1;\n");
        else
            sb_printf(c, "    uint64_t ns = %s_mul(%s_mul(%s_bwd_tiles(sz, %s_bwd_kvtile, %d), (uint64_t)sz[%d] * (uint64_t)sz[%d]), "
                         "%d);\n",
                      n, n, n, n, SZ_KV_TOKENS, SZ_KV_HEADS, SZ_BATCH, b->dkv_warps);
        sb_printf(c, "    for (int j = 0; j < %d; j++) {\n        slices[j] = at;\n"
                     "        uint64_t add = %s_round256(%s_mul(%s_mul(%s_bwd_numel(sz, j), ns), 4));\n"
                     "        at = add > UINT64_MAX - at ? UINT64_MAX : at + add;\n    }\n",
                  b->ngrad, n, n, n, n);
    } else {
        sb_puts(c, "    (void)slices;\n");
    }
    sb_puts(c, "    return at > ((uint64_t)1 << 62) ? UINT64_MAX : at;\n}\n\n");
    sb_printf(c, "uint64_t %s_backward_workspace_bytes(const %s_bwd_args *a)\n{\n    %s_args f;\n    int64_t sz[16];\n"
                 "    uint64_t reg[%d], sl[%d];\n    if (!a)\n        return 0;\n    %s_bwd_fwd(a, &f);\n"
                 "    if (%s_sizes(&f, sz, 0) != %s_OK)\n        return 0;\n    uint64_t n = %s_bwd_layout(sz, reg, sl);\n"
                 "    return n == UINT64_MAX ? 0 : n;\n}\n\n",
              n, n, n, KABI_NWS, b->ngrad ? b->ngrad : 1, n, n, n, n);
}

/* The checks beyond the forward's. */
static void put_checks(const aot_spec *s, strbuf *c)
{
    const aot_bwd *b = &s->bwd;
    const char *n = s->name;
    int es = s->attn.elem_size;
    sb_printf(c, "    if (H > 65535 || B > 65535)\n        return %s_fail(%s_ERR_INVALID_ARGUMENT, \"CUDA backward: batch "
                 "and heads must be at most 65535\");\n",
              n, n);
    if (b->linear) /* no lse; GQA and cross attention are not on the GPU */
        sb_printf(c, "    if (sz[%d] != H || KT != T)\n        return %s_fail(%s_ERR_INVALID_ARGUMENT, \"CUDA backward of "
                     "linear attention: kv heads and kv tokens must equal heads and tokens (here kv_heads %%lld, "
                     "heads %%lld, kv_tokens %%lld, tokens %%lld): GQA and cross attention are not implemented on "
                     "the GPU\", (long long)sz[%d], (long long)H, (long long)KT, (long long)T);\n",
                  SZ_KV_HEADS, n, n, SZ_KV_HEADS);
    else
        sb_printf(c, "    if (T > 0 && (!a->lse || (uintptr_t)a->lse %% 4))\n        return %s_fail(%s_ERR_INVALID_ARGUMENT, "
                     "\"CUDA backward: tensor lse (the forward's, f32) is NULL or not 4-byte aligned\");\n",
                  n, n);
    sb_printf(c, "    if (T > 0 && ((st = %s_rows(\"q\", a->q, a->q_stride, %d)) || (st = %s_rows(\"o\", a->o, a->o_stride, "
                 "%d)) ||\n                  (st = %s_rows(\"do\", a->dout, a->dout_stride, %d)) || (st = %s_pairs(\"dq\", "
                 "a->dq, a->dq_stride))))\n        return st;\n",
              n, es, n, es, n, es, n);
    sb_printf(c, "    if (KT > 0 && ((st = %s_rows(\"k\", a->k, a->k_stride, %d)) || (st = %s_rows(\"v\", a->v, a->v_stride, "
                 "%d)) ||\n                   (st = %s_pairs(\"dk\", a->dk, a->dk_stride)) || (st = %s_pairs(\"dv\", a->dv, "
                 "a->dv_stride))))\n        return st;\n",
              n, es, n, es, n, n);
    for (int j = 0; j < b->ngrad; j++) {
        const aot_attn_param *p = &s->attn.params[b->grad_param[j]];
        sb_puts(c, "    if (");
        sb_printf(c, "%s_bwd_numel(sz, %d) > 0 && (!a->", n, j);
        put_grad_field(c, s, j);
        sb_puts(c, " || (uintptr_t)a->");
        put_grad_field(c, s, j);
        sb_printf(c, " %% %d))\n        return %s_fail(%s_ERR_INVALID_ARGUMENT, \"CUDA backward: tensor 'd", p->elem_size, n,
                  n);
        aot_put_string(c, p->name, true);
        sb_printf(c, "' is NULL or not aligned to its %d-byte elements\");\n", p->elem_size);
    }
}

/* The kernels' parameter array, by the role table. */
static void put_params(const aot_spec *s, strbuf *c)
{
    const aot_bwd *b = &s->bwd;
    sb_puts(c, "    /* Every kernel's parameters (the role table): the driver reads each\n"
               "     * through a pointer to it. */\n    void *params[] = {");
    int k = 0;
    for (int e = 0; e < b->abi.n; e++) {
        const kabi_entry *en = &b->abi.e[e];
        for (int i = 0; i < en->count; i++, k++) {
            sb_puts(c, k ? (k % 4 ? ", " : ",\n                      ") : "");
            switch (en->role) {
            case KABI_TENSOR: sb_printf(c, "&ptr[%d]", en->which); break;
            case KABI_STRIDES: sb_printf(c, "(void *)&a->%s[%d]", kabi_tensors[en->which].stride_name, i); break;
            case KABI_SIZES: sb_printf(c, "&size[%d]", i); break;
            case KABI_PARAM: sb_printf(c, "&pv[%d]", en->which); break;
            case KABI_WS: sb_printf(c, "&ws[%d]", en->which); break;
            case KABI_DPARAM:
                sb_puts(c, "(void *)&a->");
                put_grad_field(c, s, en->which);
                break;
            case KABI_DSLICES: sb_printf(c, "&sl[%d]", en->which); break;
            case KABI_DMODE: sb_printf(c, "&mode[%d]", en->which); break;
            case KABI_TMAP: sb_printf(c, "tmap[%d]", en->which == KABI_Q ? 0 : 1); break;
            }
        }
    }
    sb_puts(c, "};\n");
}

/* The values behind the parameters: tensors (q's address for those
 * without elements: never read), sizes, params, workspace pointers. */
static void put_values(const aot_spec *s, strbuf *c)
{
    const aot_bwd *b = &s->bwd;
    const char *n = s->name;
    sb_printf(c, "    void *ptr[%d];\n", KABI_ALL_TENSORS);
    for (int t = 0; t < KABI_ALL_TENSORS; t++)
        sb_printf(c, "    ptr[%d] = a->%s && %s > 0 ? a->%s : a->q;\n", t, kabi_tensors[t].field,
                  kabi_tensors[t].kv ? "KT" : "T", kabi_tensors[t].field);
    sb_puts(c, "    int32_t size[16];\n    for (int i = 0; i < 16; i++)\n        size[i] = (int32_t)sz[i];\n");
    sb_printf(c, "    union {\n        void *p;\n        float f;\n        int64_t i;\n    } pv[%d];\n",
              s->attn.nparams ? s->attn.nparams : 1);
    sb_puts(c, "    memset(pv, 0, sizeof pv);\n");
    for (int i = 0; i < s->attn.nparams; i++) {
        const aot_param *p = param_field(s, i);
        const char *m = p->type == AOT_PTR ? "p" : p->type == AOT_F32 ? "f" : "i";
        if (p->type == AOT_PTR)
            sb_printf(c, "    pv[%d].p = a->%s ? a->%s : a->q;\n", i, p->name, p->name);
        else
            sb_printf(c, "    pv[%d].%s = a->%s;\n", i, m, p->name);
    }
    sb_printf(c, "    uint64_t ws[%d];\n    for (int r = 0; r < %d; r++)\n        ws[r] = (uint64_t)(uintptr_t)workspace + reg[r];\n",
              KABI_NWS, KABI_NWS);
    if (b->ngrad) /* without gradients the role table has no slices or modes (unused variables otherwise) */
        sb_printf(c, "    uint64_t sl[%d];\n    int32_t mode[%d];\n    for (int j = 0; j < %d; j++) {\n"
                     "        sl[j] = (uint64_t)(uintptr_t)workspace + slices[j];\n        mode[j] = %d;\n    }\n",
                  b->ngrad, b->ngrad, b->ngrad, b->grads_atomic);
    (void)n;
}

/* The dK/dV kernel's TMA producer (b->tma): the maps of q and dout, as
 * runtime/cuda/cuda_backward.c encodes them (cuda_tma_geometry, a
 * sequence's rank 4: {dim, tokens, heads, batch}, boxes of 64 dims x the
 * query tile; an extent-1 dim takes the packed stride, which TMA accepts
 * whatever the caller's stride is). No query tile (T = 0): the producer
 * copies nothing, the maps stay zero. */
static void put_maps(const aot_spec *s, strbuf *c)
{
    const aot_bwd *b = &s->bwd;
    const char *n = s->name;
    sb_puts(c, "    _Alignas(64) unsigned char tmap[2][128];\n    memset(tmap, 0, sizeof tmap);\n    if (T > 0) {\n");
    sb_printf(c, "        if (!%s_drv.cuTensorMapEncodeTiled)\n            return %s_fail(%s_ERR_NO_DRIVER, \"the CUDA driver "
                 "lacks cuTensorMapEncodeTiled (CUDA 12+)\");\n",
              n, n, n);
    sb_puts(c, "        void *const mp[2] = {a->q, a->dout}; /* ptr is the launch's own */\n"
               "        const int64_t *const ms[2] = {a->q_stride, a->dout_stride};\n");
    sb_printf(c, "        const uint64_t dim[2] = {%d, %d};\n        const uint32_t rows[2] = {%d, %d};\n",
              b->tma_dims[0], b->tma_dims[1], b->tma_rows, b->tma_rows);
    sb_puts(c, "        for (int i = 0; i < 2; i++) {\n"
               "            uint64_t gd[4] = {dim[i], (uint64_t)T, (uint64_t)H, (uint64_t)B};\n");
    aot_put_seq_map(c, n, 12, "mp", "ms", b->tma_dtype, b->tma_swizzle, b->tma_l2_promotion);
    sb_puts(c, "        }\n    }\n");
}

static void put_grids(const aot_spec *s, strbuf *c)
{
    const aot_bwd *b = &s->bwd;
    const char *n = s->name;
    sb_printf(c, "    uint64_t maxnumel = 0;\n    for (int j = 0; j < %d; j++)\n"
                 "        maxnumel = %s_bwd_numel(sz, j) > maxnumel ? %s_bwd_numel(sz, j) : maxnumel;\n"
                 "    (void)maxnumel;\n",
              b->ngrad, n, n);
    sb_printf(c, "    uint64_t g[%s_BWD_NK][3];\n", n);
    for (int i = 0; i < b->nkernels; i++) {
        const aot_bwd_kernel *k = &b->k[i];
        sb_printf(c, "    g[%d][0] = ", i);
        switch (k->x_kind) {
        case 0: sb_printf(c, "((uint64_t)sz[%d] * %du + %du) / %du;\n", k->x_size, k->x_mul, k->x_div - 1, k->x_div); break;
        case 1: sb_printf(c, "%s_bwd_tiles(sz, %s_bwd_qtile, %d);\n", n, n, SZ_TOKENS); break;
        case 2: sb_printf(c, "%s_bwd_tiles(sz, %s_bwd_kvtile, %d);\n", n, n, SZ_KV_TOKENS); break;
        case 4: /* the rows of whole query tiles (bulk dQ's accumulator) */
            sb_printf(c, "(%s_bwd_tiles(sz, %s_bwd_qtile, %d) * %du * %du + %du) / %du;\n", n, n, SZ_TOKENS,
                      q_tile_rows(b), k->x_mul, k->x_div - 1, k->x_div);
            break;
        case 5: sb_printf(c, "%du; /* fixed: the linear scans' chain segments */\n", k->x_mul); break;
        default: sb_printf(c, "(maxnumel + %du) / %du;\n", k->x_div - 1, k->x_div); break;
        }
        if (k->zeroes_accumulators && b->grads_atomic && b->ngrad)
            sb_printf(c, "    if (g[%d][0] < 1)\n        g[%d][0] = 1; /* it zeroes the accumulators */\n", i, i);
        if (k->y_size < 0)
            sb_printf(c, "    g[%d][1] = %du;\n", i, b->ngrad);
        else
            sb_printf(c, "    g[%d][1] = (uint64_t)sz[%d];\n", i, k->y_size);
        if (k->z_size < 0)
            sb_printf(c, "    g[%d][2] = 1;\n", i);
        else
            sb_printf(c, "    g[%d][2] = (uint64_t)sz[%d];\n", i, k->z_size);
        sb_printf(c, "    if (g[%d][0] > 2147483647u)\n        return %s_fail(%s_ERR_INVALID_ARGUMENT, \"CUDA backward: "
                     "too many blocks for %s\");\n",
                  i, n, n, k->entry);
    }
}

static void put_backward(const aot_spec *s, strbuf *c)
{
    const aot_bwd *b = &s->bwd;
    const char *n = s->name;
    sb_printf(c, "int %s_backward(const %s_bwd_args *a, void *workspace, uint64_t workspace_bytes,\n"
                 "                struct CUstream_st *stream)\n{\n    if (!a)\n"
                 "        return %s_fail(%s_ERR_INVALID_ARGUMENT, \"NULL arguments\");\n"
                 "    %s_args f;\n    %s_bwd_fwd(a, &f);\n    int64_t sz[16];\n    int empty, st = %s_check(&f, sz, &empty);\n"
                 "    if (st != %s_OK)\n        return st;\n",
              n, n, n, n, n, n, n, n);
    sb_printf(c, "    const int64_t B = sz[%d], H = sz[%d], T = sz[%d], KT = sz[%d];\n", SZ_BATCH, SZ_HEADS, SZ_TOKENS,
              SZ_KV_TOKENS);
    if (!b->ngrad)
        sb_printf(c, "    if (B == 0 || H == 0 || (T == 0 && KT == 0)) { /* nothing to write */\n"
                     "        %s_msg[0] = 0;\n        return %s_OK;\n    }\n",
                  n, n);
    put_checks(s, c);
    sb_printf(c, "    uint64_t reg[%d], slices[%d];\n    uint64_t need = %s_bwd_layout(sz, reg, slices);\n", KABI_NWS,
              b->ngrad ? b->ngrad : 1, n);
    sb_printf(c, "    if (need == UINT64_MAX || need > workspace_bytes || (need && !workspace) || (uintptr_t)workspace %% 256)\n"
                 "        return %s_fail(%s_ERR_INVALID_ARGUMENT, \"CUDA backward: the workspace (%%p, %%llu bytes) must be \"\n"
                 "                        \"256-byte aligned and hold %s_backward_workspace_bytes = %%llu bytes\", workspace,\n"
                 "                        (unsigned long long)workspace_bytes, (unsigned long long)need);\n",
              n, n, n);
    put_grids(s, c);
    sb_printf(c, "    pthread_once(&%s_once, %s_load_driver);\n    if (%s_drv.status != %s_OK)\n", n, n, n, n);
    sb_printf(c, "        return %s_fail(%s_drv.status, \"%%s\", %s_drv.why);\n", n, n, n);
    sb_printf(c, "    %s_CUfunction fn[%s_BWD_NK];\n    if ((st = %s_bwd_functions(fn)) != %s_OK)\n        return st;\n", n,
              n, n, n);
    put_values(s, c);
    if (b->tma)
        put_maps(s, c);
    put_params(s, c);
    sb_printf(c, "    for (int i = 0; i < %s_BWD_NK; i++) {\n        if (!g[i][0] || !g[i][1] || !g[i][2])\n"
                 "            continue; /* an empty grid launches nothing */\n"
                 "        %s_CUresult r = %s_drv.cuLaunchKernel(fn[i], (unsigned)g[i][0], (unsigned)g[i][1], (unsigned)g[i][2],\n"
                 "                                             (unsigned)%s_bwd_threads[i], 1, 1, (unsigned)%s_bwd_smem[i],\n"
                 "                                             stream, params, NULL);\n"
                 "        if (r != 0)\n            return %s_cuda_fail(r, \"backward kernel launch failed\");\n    }\n",
              n, n, n, n, n, n);
    sb_printf(c, "    %s_msg[0] = 0;\n    return %s_OK;\n}\n", n, n);
}

void aot_bwd_render_source(const aot_spec *s, strbuf *c)
{
    sb_putc(c, '\n');
    put_image(s, c);
    aot_put_template(c, loader, s->name);
    put_fwd_args(s, c);
    put_layout(s, c);
    put_backward(s, c);
}
