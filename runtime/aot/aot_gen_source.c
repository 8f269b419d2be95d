/* aot_gen_source.c — renders the generated NAME.c: the embedded image, the
 * dlopen'ed driver table, argument checks, the launch grid and the launch.
 * Fixed parts are templates with @N@ standing for the name; the parts that
 * depend on the kernel (arrays, checks, grid, parameter list) are printed. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "runtime/aot/aot_gen_impl.h"
#include "runtime/include/attnc.h"

void aot_put_template(strbuf *c, const char *tmpl, const char *name)
{
    for (const char *p = tmpl, *at; *p; p = at + 3) {
        at = strstr(p, "@N@");
        if (!at) {
            sb_puts(c, p);
            return;
        }
        sb_append(c, p, (size_t)(at - p));
        sb_puts(c, name);
    }
}

static const char prologue[] =
    "#ifndef _POSIX_C_SOURCE\n#define _POSIX_C_SOURCE 200809L /* dlopen, pthread_once */\n#endif\n"
    "#include \"@N@.h\"\n\n#include <dlfcn.h>\n#include <pthread.h>\n#include <stdarg.h>\n#include <stddef.h>\n"
    "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n"
    "/* The few driver API types and entry points used, declared here so the\n"
    " * build needs no CUDA headers (the driver ABI is stable). */\n"
    "typedef int @N@_CUresult;\ntypedef struct CUctx_st *@N@_CUcontext;\n"
    "typedef struct CUmod_st *@N@_CUmodule;\ntypedef struct CUfunc_st *@N@_CUfunction;\n\n"
    "static struct {\n    int status; /* @N@_OK once loaded */\n    char why[300];\n"
    "    @N@_CUresult (*cuInit)(unsigned);\n    @N@_CUresult (*cuDeviceGet)(int *, int);\n"
    "    @N@_CUresult (*cuDevicePrimaryCtxRetain)(@N@_CUcontext *, int);\n"
    "    @N@_CUresult (*cuCtxGetCurrent)(@N@_CUcontext *);\n    @N@_CUresult (*cuCtxSetCurrent)(@N@_CUcontext);\n"
    "    @N@_CUresult (*cuModuleLoadData)(@N@_CUmodule *, const void *);\n"
    "    @N@_CUresult (*cuModuleGetFunction)(@N@_CUfunction *, @N@_CUmodule, const char *);\n"
    "    @N@_CUresult (*cuFuncSetAttribute)(@N@_CUfunction, int, int);\n"
    "    @N@_CUresult (*cuLaunchKernel)(@N@_CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,\n"
    "                                   unsigned, unsigned, struct CUstream_st *, void **, void **);\n"
    "    @N@_CUresult (*cuGetErrorString)(@N@_CUresult, const char **);\n"
    "    /* optional: only kernels that copy with TMA */\n"
    "    @N@_CUresult (*cuTensorMapEncodeTiled)(void *, int, unsigned, void *, const uint64_t *, const uint64_t *,\n"
    "                                           const uint32_t *, const uint32_t *, int, int, int, int);\n"
    "} @N@_drv;\n\n"
    "static pthread_once_t @N@_once = PTHREAD_ONCE_INIT;\n"
    "static pthread_mutex_t @N@_lock = PTHREAD_MUTEX_INITIALIZER;\n"
    "static _Thread_local char @N@_msg[512];\n\n"
    "static int @N@_fail(int status, const char *fmt, ...)\n{\n    va_list ap;\n    va_start(ap, fmt);\n"
    "    vsnprintf(@N@_msg, sizeof @N@_msg, fmt, ap);\n    va_end(ap);\n    return status;\n}\n\n"
    "const char *@N@_errmsg(void)\n{\n    return @N@_msg;\n}\n\n"
    "const char *@N@_status_string(int s)\n{\n    switch (s) {\n    case @N@_OK: return \"ok\";\n"
    "    case @N@_ERR_INVALID_ARGUMENT: return \"invalid argument\";\n"
    "    case @N@_ERR_NO_DRIVER: return \"no CUDA driver\";\n    case @N@_ERR_CUDA: return \"CUDA driver error\";\n"
    "    case @N@_ERR_IMAGE: return \"damaged kernel image\";\n    }\n    return \"unknown status\";\n}\n\n"
    "static uint64_t @N@_fnv1a(const unsigned char *p, size_t n)\n{\n    uint64_t h = 0xcbf29ce484222325ull;\n"
    "    for (size_t i = 0; i < n; i++)\n        h = (h ^ p[i]) * 0x100000001b3ull;\n    return h;\n}\n\n"
    "/* ceil(a * b / d) for a, b >= 1; 0 flags a bad (non-positive) size. */\n"
    "static inline uint64_t @N@_ceil(int64_t a, int64_t b, int64_t d)\n{\n    if (a < 1 || b < 1)\n        return 0;\n"
    "    if (a > INT64_MAX / b)\n        return UINT64_MAX;\n    return (uint64_t)((a * b - 1) / d + 1);\n}\n\n";

static const char driver[] =
    "/* Loads libcuda once per process ($ATTNC_LIBCUDA overrides the name). */\n"
    "static void @N@_load_driver(void)\n{\n    const char *path = getenv(\"ATTNC_LIBCUDA\");\n"
    "    if (!path || !*path)\n        path = \"libcuda.so.1\";\n"
    "    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);\n    if (!lib) {\n"
    "        @N@_drv.status = @N@_ERR_NO_DRIVER;\n"
    "        snprintf(@N@_drv.why, sizeof @N@_drv.why, \"no CUDA driver: cannot load %s (%s)\", path, dlerror());\n"
    "        return;\n    }\n    const char *missing = NULL;\n"
    "#define @N@_SYM(f)                                        \\\n    do {                                                  \\\n"
    "        void *p_ = dlsym(lib, #f);                        \\\n        if (!p_)                                          \\\n"
    "            missing = #f;                                 \\\n        memcpy(&@N@_drv.f, &p_, sizeof p_);               \\\n"
    "    } while (0)\n"
    "    @N@_SYM(cuInit);\n    @N@_SYM(cuDeviceGet);\n    @N@_SYM(cuDevicePrimaryCtxRetain);\n"
    "    @N@_SYM(cuCtxGetCurrent);\n    @N@_SYM(cuCtxSetCurrent);\n    @N@_SYM(cuModuleLoadData);\n"
    "    @N@_SYM(cuModuleGetFunction);\n    @N@_SYM(cuFuncSetAttribute);\n    @N@_SYM(cuLaunchKernel);\n"
    "    @N@_SYM(cuGetErrorString);\n#undef @N@_SYM\n"
    "    {\n        void *p_ = dlsym(lib, \"cuTensorMapEncodeTiled\");\n"
    "        memcpy(&@N@_drv.cuTensorMapEncodeTiled, &p_, sizeof p_);\n    }\n"
    "    if (missing) {\n        @N@_drv.status = @N@_ERR_NO_DRIVER;\n"
    "        snprintf(@N@_drv.why, sizeof @N@_drv.why, \"no usable CUDA driver: %s lacks %s\", path, missing);\n"
    "        return;\n    }\n    @N@_CUresult r = @N@_drv.cuInit(0);\n    if (r != 0) {\n"
    "        @N@_drv.status = @N@_ERR_NO_DRIVER;\n"
    "        snprintf(@N@_drv.why, sizeof @N@_drv.why, \"no CUDA driver: cuInit failed with error %d\", r);\n"
    "    }\n}\n\n"
    "static int @N@_cuda_fail(@N@_CUresult r, const char *what)\n{\n    const char *s = NULL;\n"
    "    if (@N@_drv.cuGetErrorString(r, &s) != 0 || !s)\n        s = \"unknown error\";\n"
    "    return @N@_fail(@N@_ERR_CUDA, \"%s: CUDA error %d (%s)\", what, r, s);\n}\n\n"
    "enum { @N@_MAX_CONTEXTS = 16 };\nstatic struct {\n    @N@_CUcontext ctx;\n    @N@_CUfunction fn;\n"
    "} @N@_loaded[@N@_MAX_CONTEXTS];\nstatic int @N@_nloaded;\n\n";

static const char loader[] =
    "/* The kernel in the current context, loading the image on first use in\n"
    " * that context (the cubin, else the PTX through the driver's JIT). */\n"
    "static int @N@_function(@N@_CUfunction *fn)\n{\n    @N@_CUcontext ctx = NULL;\n"
    "    @N@_CUresult r = @N@_drv.cuCtxGetCurrent(&ctx);\n    if (r == 0 && !ctx) {\n        int dev = 0;\n"
    "        r = @N@_drv.cuDeviceGet(&dev, 0);\n        if (r == 0)\n"
    "            r = @N@_drv.cuDevicePrimaryCtxRetain(&ctx, dev);\n        if (r == 0)\n"
    "            r = @N@_drv.cuCtxSetCurrent(ctx);\n    }\n    if (r != 0)\n"
    "        return @N@_cuda_fail(r, \"no CUDA context\");\n    pthread_mutex_lock(&@N@_lock);\n"
    "    for (int i = 0; i < @N@_nloaded; i++)\n        if (@N@_loaded[i].ctx == ctx) {\n"
    "            *fn = @N@_loaded[i].fn;\n            pthread_mutex_unlock(&@N@_lock);\n            return @N@_OK;\n"
    "        }\n    int st = @N@_OK;\n    @N@_CUmodule mod = NULL;\n    r = 1;\n    if (@N@_nloaded == @N@_MAX_CONTEXTS)\n"
    "        st = @N@_fail(@N@_ERR_CUDA, \"kernel loaded in too many CUDA contexts\");\n"
    "    if (st == @N@_OK && sizeof @N@_cubin > 1)\n        r = @N@_drv.cuModuleLoadData(&mod, @N@_cubin);\n"
    "    if (st == @N@_OK && r != 0)\n        r = @N@_drv.cuModuleLoadData(&mod, @N@_ptx);\n"
    "    if (st == @N@_OK && r != 0)\n        st = @N@_cuda_fail(r, \"cannot load the kernel image\");\n"
    "    if (st == @N@_OK && (r = @N@_drv.cuModuleGetFunction(fn, mod, @N@_entry)) != 0)\n"
    "        st = @N@_cuda_fail(r, \"kernel entry not found in the image\");\n"
    "    if (st == @N@_OK && @N@_dyn_smem > 48 * 1024 &&\n"
    "        (r = @N@_drv.cuFuncSetAttribute(*fn, 8 /* MAX_DYNAMIC_SHARED_SIZE_BYTES */, @N@_dyn_smem)) != 0)\n"
    "        st = @N@_cuda_fail(r, \"cannot raise the dynamic shared memory limit\");\n    if (st == @N@_OK) {\n"
    "        @N@_loaded[@N@_nloaded].ctx = ctx;\n        @N@_loaded[@N@_nloaded++].fn = *fn;\n    }\n"
    "    pthread_mutex_unlock(&@N@_lock);\n    return st;\n}\n\n";

void aot_put_bytes(strbuf *c, const unsigned char *p, size_t n)
{
    sb_printf(c, "[%zu] = {", n + 1);
    for (size_t i = 0; i < n; i++)
        sb_printf(c, "%s0x%02x,", i % 16 ? " " : "\n    ", p[i]);
    sb_puts(c, "\n    0x00, /* PTX readers need a C string; harmless for the cubin */\n};\n");
}

static void put_image(const aot_spec *s, strbuf *c)
{
    const char *n = s->name;
    sb_printf(c, "static const unsigned char %s_ptx", n);
    aot_put_bytes(c, (const unsigned char *)s->ptx, s->ptx_len);
    sb_printf(c, "static _Alignas(8) const unsigned char %s_cubin", n);
    aot_put_bytes(c, s->cubin ? s->cubin : (const unsigned char *)"", s->cubin ? s->cubin_len : 0);
    sb_printf(c, "static const char %s_entry[] = \"%s\";\nstatic const int %s_dyn_smem = %d;\n\n", n, s->entry, n,
              s->dyn_smem);
}

static void put_self_check(const aot_spec *s, strbuf *c)
{
    const char *n = s->name;
    sb_printf(c, "int %s_self_check(void)\n{\n", n);
    sb_printf(c, "    if (%s_fnv1a(%s_ptx, %zu) != 0x%016" PRIx64 "ull || %s_ptx[%zu] != 0)\n", n, n, s->ptx_len,
              aot_fnv1a(s->ptx, s->ptx_len), n, s->ptx_len);
    sb_printf(c, "        return %s_fail(%s_ERR_IMAGE, \"embedded PTX fails its checksum\");\n", n, n);
    if (s->cubin)
        sb_printf(c, "    if (%s_fnv1a(%s_cubin, %zu) != 0x%016" PRIx64 "ull)\n        return %s_fail(%s_ERR_IMAGE, "
                     "\"embedded cubin fails its checksum\");\n",
                  n, n, s->cubin_len, aot_fnv1a(s->cubin, s->cubin_len), n, n);
    sb_printf(c, "    if (!strstr((const char *)%s_ptx, \".entry %s\"))\n", n, s->entry);
    sb_printf(c, "        return %s_fail(%s_ERR_IMAGE, \"embedded PTX lacks .entry %s\");\n", n, n, s->entry);
    sb_printf(c, "    %s_msg[0] = 0;\n    return %s_OK;\n}\n\n", n, n);
}

static void put_dim(const aot_spec *s, strbuf *c, const aot_dim *d)
{
    if (d->arg[0] < 0 && d->arg[1] < 0) {
        sb_printf(c, "%" PRId64 "u", d->div);
        return;
    }
    sb_printf(c, "%s_ceil(", s->name);
    for (int j = 0; j < 2; j++)
        if (d->arg[j] >= 0)
            sb_printf(c, "(int64_t)a->%s, ", s->params[d->arg[j]].name);
        else
            sb_puts(c, "1, ");
    sb_printf(c, "%" PRId64 ")", d->div);
}

static void put_grid(const aot_spec *s, strbuf *c)
{
    sb_printf(c, "void %s_grid(const %s_args *a, uint64_t grid[3])\n{\n", s->name, s->name);
    int uses_args = 0;
    for (int i = 0; i < 3; i++) {
        sb_printf(c, "    grid[%d] = ", i);
        put_dim(s, c, &s->grid[i]);
        sb_puts(c, ";\n");
        uses_args |= s->grid[i].arg[0] >= 0 || s->grid[i].arg[1] >= 0;
    }
    if (!uses_args)
        sb_puts(c, "    (void)a;\n");
    sb_puts(c, "}\n\n");
}

static void put_param_check(const aot_spec *s, strbuf *c, const aot_param *p)
{
    const char *n = s->name;
    if (p->type == AOT_PTR) {
        int al = p->align ? p->align : 16;
        if (!p->nullable)
            sb_printf(c, "    if (!a->%s)\n        return %s_fail(%s_ERR_INVALID_ARGUMENT, \"argument '%s' is NULL\");\n",
                      p->name, n, n, p->name);
        sb_printf(c, "    if ((uintptr_t)a->%s %% %d)\n        return %s_fail(%s_ERR_INVALID_ARGUMENT, "
                     "\"argument '%s' (%%p) is not %d-byte aligned\", a->%s);\n",
                  p->name, al, n, n, p->name, al, p->name);
    } else if ((p->type == AOT_I32 || p->type == AOT_I64) && p->min <= p->max) {
        /* Only the bounds the C type does not already imply (strict -Wtype-limits). */
        int64_t lo = p->type == AOT_I32 ? INT32_MIN : INT64_MIN, hi = p->type == AOT_I32 ? INT32_MAX : INT64_MAX;
        bool check_lo = p->min > lo, check_hi = p->max < hi, array = p->count > 1;
        if (!check_lo && !check_hi)
            return;
        strbuf fb;
        sb_init(&fb);
        sb_printf(&fb, array ? "a->%s[i]" : "a->%s", p->name);
        const char *field = sb_cstr(&fb);
        if (array)
            sb_printf(c, "    for (int i = 0; i < %d; i++)\n    ", p->count);
        sb_puts(c, "    if (");
        if (check_lo)
            sb_printf(c, "(int64_t)%s < %" PRId64 "LL%s", field, p->min, check_hi ? " || " : "");
        if (check_hi)
            sb_printf(c, "(int64_t)%s > %" PRId64 "LL", field, p->max);
        sb_puts(c, array ? ")\n    " : ")\n");
        sb_printf(c, "        return %s_fail(%s_ERR_INVALID_ARGUMENT, \"argument '%s%s' = %%lld is outside [%" PRId64
                     ", %" PRId64 "]\", %s(long long)%s);\n",
                  n, n, p->name, array ? "[%d]" : "", p->min, p->max, array ? "i, " : "", field);
        c->failed |= fb.failed;
        sb_free(&fb);
    }
}

static void put_validate(const aot_spec *s, strbuf *c)
{
    const char *n = s->name;
    sb_printf(c, "int %s_validate(const %s_args *a)\n{\n    if (!a)\n", n, n);
    sb_printf(c, "        return %s_fail(%s_ERR_INVALID_ARGUMENT, \"NULL arguments\");\n", n, n);
    for (int i = 0; i < s->nparams; i++)
        put_param_check(s, c, &s->params[i]);
    sb_printf(c, "    uint64_t g[3];\n    %s_grid(a, g);\n", n);
    sb_puts(c, "    if (g[0] < 1 || g[0] > 2147483647u || g[1] < 1 || g[1] > 65535 || g[2] < 1 || g[2] > 65535)\n");
    sb_printf(c, "        return %s_fail(%s_ERR_INVALID_ARGUMENT, \"launch grid %%llu x %%llu x %%llu is empty or over "
                 "the device limits\",\n                       (unsigned long long)g[0], (unsigned long long)g[1], "
                 "(unsigned long long)g[2]);\n",
              n, n);
    sb_printf(c, "    %s_msg[0] = 0;\n    return %s_OK;\n}\n\n", n, n);
}

/* Grid maps (rank 5), as runtime/cuda/cuda_tma.c computes them: {dim, x, y,
 * heads, batch} or {dim, x, y, z, hb} with hb = head + heads * batch. */
static void put_grid_maps(const aot_spec *s, strbuf *c)
{
    const char *n = s->name;
    const aot_tma *t = &s->tma;
    int nd = t->grid_ndim;
    sb_printf(c, "        const uint32_t bx[3][3] = {{%d, %d, %d}, {%d, %d, %d}, {%d, %d, %d}};\n", t->box[0][0],
              t->box[0][1], t->box[0][2], t->box[1][0], t->box[1][1], t->box[1][2], t->box[2][0], t->box[2][1],
              t->box[2][2]);
    sb_puts(c, "        for (int i = 0; i < 3; i++) {\n");
    sb_printf(c, "            uint64_t hd = (uint64_t)la->size[i ? %d : %d], bt = (uint64_t)la->size[%d];\n",
              t->size_kv_heads, t->size_heads, t->size_batch);
    sb_puts(c, "            uint64_t gd[5] = {dim[i]}, gs[4], span = (uint64_t)strd[i][2] * 2;\n");
    sb_puts(c, "            uint32_t box[5] = {64, 1, 1, 1, 1}, es[5] = {1, 1, 1, 1, 1};\n            gs[0] = span;\n");
    sb_printf(c, "            for (int d = 0; d < %d; d++) {\n", nd);
    sb_printf(c, "                uint64_t e = (uint64_t)la->size[%d + %d - 1 - d];\n", t->size_grid0, nd);
    sb_printf(c, "                gd[1 + d] = e ? e : 1;\n                box[1 + d] = bx[i][%d - 1 - d];\n", nd);
    sb_printf(c, "                span *= gd[1 + d];\n                if (d + 1 < %d)\n                    gs[1 + d] = span;\n"
                 "            }\n",
              nd);
    if (nd == 2) {
        sb_puts(c, "            gd[3] = hd;\n            gd[4] = bt;\n");
        sb_puts(c, "            gs[2] = hd == 1 ? span : (uint64_t)strd[i][1] * 2;\n");
        sb_puts(c, "            gs[3] = bt == 1 ? gs[2] * hd : (uint64_t)strd[i][0] * 2;\n");
    } else {
        sb_printf(c, "            if (hd * bt > 2147483647u)\n                return %s_fail(%s_ERR_INVALID_ARGUMENT, \"a 3-D "
                     "grid kernel that copies with TMA needs heads x batch below 2^31\");\n",
                  n, n);
        sb_puts(c, "            if (bt == 1) {\n                gd[4] = hd;\n"
                   "                gs[3] = hd == 1 ? span : (uint64_t)strd[i][1] * 2;\n");
        sb_puts(c, "            } else if (hd == 1) {\n                gd[4] = bt;\n                gs[3] = (uint64_t)strd[i][0] * 2;\n");
        sb_puts(c, "            } else if (strd[i][0] == (int64_t)hd * strd[i][1]) {\n                gd[4] = hd * bt;\n"
                   "                gs[3] = (uint64_t)strd[i][1] * 2;\n");
        sb_printf(c, "            } else {\n                return %s_fail(%s_ERR_INVALID_ARGUMENT, \"a 3-D grid kernel that "
                     "copies with TMA needs q, k and v with a batch stride of heads x the head stride, or batch or "
                     "heads 1\");\n            }\n",
                  n, n);
    }
    sb_printf(c, "            %s_CUresult r = %s_drv.cuTensorMapEncodeTiled(tmap[i], %d, 5, ptr[i], gd, gs, box, es, 0, "
                 "%d, %d, 0);\n",
              n, n, t->dtype, t->swizzle, t->l2_promotion);
    sb_printf(c, "            if (r != 0)\n                return %s_cuda_fail(r, \"cannot describe a tensor for TMA\");\n",
              n);
    sb_puts(c, "        }\n    }\n");
}

/* The TMA maps of q, k and v ({dim, tokens, heads, batch}, boxes of 64
 * dims x rows; grids: put_grid_maps), and o's when the kernel stores O by
 * TMA (sequences; boxes of 64 rows), as the runtime's cuda_launch.c
 * encodes them. */
static void put_tma_maps(const aot_spec *s, strbuf *c)
{
    const char *n = s->name;
    const aot_tma *t = &s->tma;
    int nm = t->o_map && !t->grid_ndim ? 4 : 3;
    sb_printf(c, "    _Alignas(64) unsigned char tmap[%d][128];\n", nm);
    sb_printf(c, "    if (!%s_drv.cuTensorMapEncodeTiled)\n        return %s_fail(%s_ERR_NO_DRIVER, \"the CUDA driver "
                 "lacks cuTensorMapEncodeTiled (CUDA 12+)\");\n",
              n, n, n);
    sb_printf(c, "    {\n        void *const ptr[%d] = {(void *)la->q, (void *)la->k, (void *)la->v%s};\n", nm,
              nm == 4 ? ", (void *)la->o" : "");
    sb_printf(c, "        const int64_t *const strd[%d] = {la->q_stride, la->k_stride, la->v_stride%s};\n", nm,
              nm == 4 ? ", la->o_stride" : "");
    if (t->grid_ndim) {
        sb_printf(c, "        const uint64_t dim[3] = {%d, %d, %d};\n", t->dims[0], t->dims[1], t->dims[2]);
        put_grid_maps(s, c);
        return;
    }
    sb_printf(c, "        const uint64_t dim[%d] = {%d, %d, %d", nm, t->dims[0], t->dims[1], t->dims[2]);
    if (nm == 4)
        sb_printf(c, ", %d", t->dims[3]);
    sb_printf(c, "};\n        const uint32_t rows[%d] = {%d, %d, %d", nm, t->rows[0], t->rows[1], t->rows[2]);
    if (nm == 4)
        sb_printf(c, ", %d", t->rows[3]);
    /* o (i = 3) has q's tokens and heads */
    sb_printf(c, "};\n        for (int i = 0; i < %d; i++) {\n            int kv = i == 1 || i == 2;\n", nm);
    sb_printf(c, "            uint64_t tok = (uint64_t)la->size[kv ? %d : %d];\n", t->size_kv_tokens, t->size_tokens);
    sb_printf(c, "            uint64_t gd[4] = {dim[i], tok ? tok : 1, (uint64_t)la->size[kv ? %d : %d], "
                 "(uint64_t)la->size[%d]};\n",
              t->size_kv_heads, t->size_heads, t->size_batch);
    aot_put_seq_map(c, n, 12, "ptr", "strd", t->dtype, t->swizzle, t->l2_promotion);
    sb_puts(c, "        }\n    }\n");
}

void aot_put_seq_map(strbuf *c, const char *n, int indent, const char *ptr, const char *strd, int map_dtype,
                     int swizzle, int l2_promotion)
{
    int w = indent;
    /* an extent-1 dim takes the packed stride (cuda_tma.c's stride_of): TMA
     * refuses a zero stride, which such a dim may have */
    sb_printf(c, "%*suint64_t gs[3];\n%*sgs[0] = gd[1] == 1 ? dim[i] * 2 : (uint64_t)%s[i][2] * 2;\n", w, "", w, "",
              strd);
    sb_printf(c, "%*sgs[1] = gd[2] == 1 ? gs[0] * gd[1] : (uint64_t)%s[i][1] * 2;\n", w, "", strd);
    sb_printf(c, "%*sgs[2] = gd[3] == 1 ? gs[1] * gd[2] : (uint64_t)%s[i][0] * 2;\n", w, "", strd);
    sb_printf(c, "%*suint32_t box[4] = {64, rows[i], 1, 1}, es[4] = {1, 1, 1, 1};\n", w, "");
    sb_printf(c, "%*s%s_CUresult r = %s_drv.cuTensorMapEncodeTiled(tmap[i], %d, 4, %s[i], gd, gs, box, es, 0, %d, %d, 0);\n",
              w, "", n, n, map_dtype, ptr, swizzle, l2_promotion);
    sb_printf(c, "%*sif (r != 0)\n%*s    return %s_cuda_fail(r, \"cannot describe a tensor for TMA\");\n", w, "", w, "", n);
}

static void put_launch(const aot_spec *s, strbuf *c)
{
    const char *n = s->name;
    sb_printf(c, "int %s_launch(const %s_args *a, struct CUstream_st *stream)\n{\n", n, n);
    if (s->attn.enabled)
        aot_attn_launch_start(s, c);
    else
        sb_printf(c, "    int st = %s_validate(a);\n    if (st != %s_OK)\n        return st;\n"
                     "    const %s_args *la = a;\n",
                  n, n, n);
    sb_printf(c, "    pthread_once(&%s_once, %s_load_driver);\n    if (%s_drv.status != %s_OK)\n", n, n, n, n);
    sb_printf(c, "        return %s_fail(%s_drv.status, \"%%s\", %s_drv.why);\n", n, n, n);
    sb_printf(c, "    %s_CUfunction fn;\n    if ((st = %s_function(&fn)) != %s_OK)\n        return st;\n", n, n, n);
    sb_printf(c, "    uint64_t g[3];\n    %s_grid(la, g);\n", n);
    if (s->tma.enabled)
        put_tma_maps(s, c);
    if (s->nparams) {
        sb_puts(c, "    /* The driver reads each parameter through a pointer to it. */\n    void *params[] = {");
        for (int i = 0; i < s->nparams; i++) {
            const aot_param *p = &s->params[i];
            for (int e = 0; e < (p->count > 1 ? p->count : 1); e++) {
                sb_puts(c, i || e ? ", " : "");
                if (p->count > 1)
                    sb_printf(c, "(void *)&la->%s[%d]", p->name, e);
                else
                    sb_printf(c, "(void *)&la->%s", p->name);
            }
        }
        if (s->tma.enabled)
            sb_puts(c, ", (void *)tmap[0], (void *)tmap[1], (void *)tmap[2]");
        if (s->tma.enabled && s->tma.o_map)
            sb_puts(c, ", (void *)tmap[3]");
        sb_puts(c, "};\n");
    } else {
        sb_puts(c, "    void **params = NULL;\n");
    }
    sb_printf(c, "    %s_CUresult r = %s_drv.cuLaunchKernel(fn, (unsigned)g[0], (unsigned)g[1], (unsigned)g[2], %d, %d, "
                 "%d,\n                                         (unsigned)%s_dyn_smem, stream, params, NULL);\n",
              n, n, s->block[0], s->block[1], s->block[2], n);
    sb_printf(c, "    if (r != 0)\n        return %s_cuda_fail(r, \"kernel launch failed\");\n", n);
    sb_printf(c, "    %s_msg[0] = 0;\n    return %s_OK;\n}\n", n, n);
}

void aot_render_source(const aot_spec *s, strbuf *c)
{
    sb_printf(c, "/* %s.c — generated by attnc %s: do not edit. See %s.h. */\n", s->name, attnc_version(), s->name);
    aot_put_template(c, prologue, s->name);
    put_image(s, c);
    aot_put_template(c, driver, s->name);
    aot_put_template(c, loader, s->name);
    put_self_check(s, c);
    if (s->attn.enabled) {
        aot_attn_render(s, c);
    } else {
        put_grid(s, c);
        put_validate(s, c);
    }
    put_launch(s, c);
    if (s->attn.enabled && s->bwd.enabled)
        aot_bwd_render_source(s, c);
}
