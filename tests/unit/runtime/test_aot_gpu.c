/* test_aot_gpu.c — the AOT output matches the JIT bit for bit (GPU).
 *
 * For each recipe below: `attnc compile --aot` for the device's arch into a
 * temp folder, the generated C built as a shared object with the system cc
 * and dlopen'ed (so the test needs no build-time generation), then the same
 * random bf16 inputs run through NAME_launch and through attnc_kernel_build
 * + attnc_launch on the CUDA backend; the two outputs must be identical
 * bytes (same PTX, same launch). The backward (`--backward`): NAME_backward
 * on a workspace of NAME_backward_workspace_bytes against
 * attnc_kernel_build_backward + attnc_launch, dq, dk, dv (and the bias
 * table's gradient) identical bytes, none NaN (the deterministic default
 * program). Without a driver: "skipped: no CUDA driver". Run on the GPU
 * machine: ctest -R test_aot_gpu. */
#include "tmpdir.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/cuda/cuda_module.h"
#include "runtime/include/attnc.h"

enum { B = 1, H = 2, T = 77, D = 128 };

/* Mirrors the generated NAME_args of a recipe without params (aot_recipe.c). */
typedef struct abi_args {
    void *q, *k, *v, *o, *lse;
    int64_t q_stride[4], k_stride[4], v_stride[4], o_stride[4], lse_stride[3];
    int32_t size[SZ_MAX];
} abi_args;

typedef int (*launch_fn)(const abi_args *, void *);
typedef const char *(*errmsg_fn)(void);


static void fill(uint16_t *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        float f = (float)((seed >> 40) * (1.0 / (1 << 24))) * 2.0f - 1.0f;
        attnc_f32_to_bf16(&f, &p[i], 1);
    }
}

static attnc_tensor dev_tensor(uint64_t p)
{
    return (attnc_tensor){ATTNC_BF16, (void *)(uintptr_t)p, 4, {B, H, T, D}, {H * T * D, T * D, D, 1}};
}

static void run_recipe(const char *name, const char *arch)
{
    char *dir = tmpdir_make(), lib[600], sym[128];
    assert_int_equal(test_sh("%s/bin/attnc compile %s/recipes/%s.attn --aot --arch %s --name aotk -o %s > /dev/null",
                        ATTNC_BINARY_DIR, ATTNC_SOURCE_DIR, name, arch, dir), 0);
    assert_int_equal(test_sh("cd %s && cc -std=c11 -O1 -fPIC -shared -pthread -o aotk.so aotk.c", dir), 0);
    snprintf(lib, sizeof lib, "%s/aotk.so", dir);
    void *so = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(so);
    launch_fn launch;
    errmsg_fn errmsg;
    snprintf(sym, sizeof sym, "aotk_launch");
    *(void **)&launch = dlsym(so, sym);
    *(void **)&errmsg = dlsym(so, "aotk_errmsg");
    assert_true(launch && errmsg);

    size_t n = (size_t)B * H * T * D, bytes = n * 2;
    uint16_t *hq = malloc(bytes), *hk = malloc(bytes), *hv = malloc(bytes), *o1 = malloc(bytes), *o2 = malloc(bytes);
    fill(hq, n, 1), fill(hk, n, 2), fill(hv, n, 3);
    uint64_t dq, dk, dv, do1, do2;
    strbuf err;
    sb_init(&err);
    assert_int_equal(cuda_mem_alloc(&dq, bytes, &err) | cuda_mem_alloc(&dk, bytes, &err) |
                         cuda_mem_alloc(&dv, bytes, &err) | cuda_mem_alloc(&do1, bytes, &err) |
                         cuda_mem_alloc(&do2, bytes, &err),
                     0);
    assert_int_equal(cuda_memcpy_htod(dq, hq, bytes, &err) | cuda_memcpy_htod(dk, hk, bytes, &err) |
                         cuda_memcpy_htod(dv, hv, bytes, &err) | cuda_memset8(do1, 0xff, bytes, &err) |
                         cuda_memset8(do2, 0xee, bytes, &err),
                     0);

    abi_args a;
    memset(&a, 0, sizeof a);
    a.q = (void *)(uintptr_t)dq, a.k = (void *)(uintptr_t)dk, a.v = (void *)(uintptr_t)dv, a.o = (void *)(uintptr_t)do1;
    int64_t st[4] = {H * T * D, T * D, D, 1};
    memcpy(a.q_stride, st, sizeof st), memcpy(a.k_stride, st, sizeof st), memcpy(a.v_stride, st, sizeof st);
    memcpy(a.o_stride, st, sizeof st);
    a.size[SZ_BATCH] = B, a.size[SZ_HEADS] = H, a.size[SZ_KV_HEADS] = H, a.size[SZ_TOKENS] = T, a.size[SZ_KV_TOKENS] = T;
    int rc = launch(&a, NULL);
    if (rc)
        fail_msg("AOT launch: %d %s", rc, errmsg());

    attnc_context *ctx;
    attnc_recipe *r;
    attnc_kernel *k;
    attnc_args *args;
    char path[600];
    snprintf(path, sizeof path, "%s/recipes/%s.attn", ATTNC_SOURCE_DIR, name);
    assert_int_equal(attnc_context_create(&ctx, NULL), 0);
    assert_int_equal(attnc_recipe_from_file(&r, ctx, path), 0);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.arch = arch;
    if (attnc_kernel_build(&k, ctx, r, &o))
        fail_msg("JIT build: %s", attnc_context_errmsg(ctx));
    assert_int_equal(attnc_args_create(&args, k), 0);
    attnc_tensor tq = dev_tensor(dq), tk = dev_tensor(dk), tv = dev_tensor(dv), to = dev_tensor(do2);
    assert_int_equal(attnc_args_set_tensor(args, "q", &tq) | attnc_args_set_tensor(args, "k", &tk) |
                         attnc_args_set_tensor(args, "v", &tv) | attnc_args_set_tensor(args, "o", &to),
                     0);
    if (attnc_launch(k, args, NULL))
        fail_msg("JIT launch: %s", attnc_kernel_errmsg(k));
    assert_int_equal(cuda_synchronize(&err), 0);
    assert_int_equal(cuda_memcpy_dtoh(o1, do1, bytes, &err) | cuda_memcpy_dtoh(o2, do2, bytes, &err), 0);
    size_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff += o1[i] != o2[i];
    printf("%s on %s: %zu of %zu outputs differ between AOT and JIT\n", name, arch, diff, n);
    assert_int_equal(diff, 0);

    attnc_args_destroy(args);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
    attnc_context_destroy(ctx);
    cuda_mem_free(dq), cuda_mem_free(dk), cuda_mem_free(dv), cuda_mem_free(do1), cuda_mem_free(do2);
    free(hq), free(hk), free(hv), free(o1), free(o2);
    sb_free(&err);
    dlclose(so);
    tmpdir_remove(dir);
}

/* ---- the backward ---- */

/* Mirrors the generated NAME_bwd_args (the backward role table's order,
 * aot_gen_bwd.c), with one tensor param and its gradient when `param`. */
typedef struct bwd_args {
    void *q, *k, *v, *o, *lse, *dout, *dq, *dk, *dv;
    int64_t q_stride[4], k_stride[4], v_stride[4], o_stride[4], lse_stride[3], dout_stride[4], dq_stride[4],
        dk_stride[4], dv_stride[4];
    int32_t size[SZ_MAX];
    void *p, *grad; /* p_NAME, grad_NAME (absent without params) */
} bwd_args;

typedef int (*backward_fn)(const bwd_args *, void *, uint64_t, void *);
typedef uint64_t (*ws_fn)(const bwd_args *);

enum { REL = 64 }; /* relbias.attn's table: f32 [heads, 64] */

static uint64_t dev_bytes(size_t n, strbuf *err)
{
    uint64_t p = 0;
    assert_int_equal(cuda_mem_alloc(&p, n, err), 0);
    return p;
}

static attnc_tensor lse_tensor(uint64_t p)
{
    return (attnc_tensor){ATTNC_F32, (void *)(uintptr_t)p, 3, {B, H, T}, {H * T, T, 1}};
}

static attnc_tensor rel_tensor(uint64_t p)
{
    return (attnc_tensor){ATTNC_F32, (void *)(uintptr_t)p, 2, {H, REL}, {REL, 1}};
}

static size_t count_diff(const void *a, const void *b, size_t n2)
{
    const uint16_t *x = a, *y = b;
    size_t d = 0;
    for (size_t i = 0; i < n2; i++)
        d += x[i] != y[i];
    return d;
}

static bool has_nan_bf16(const uint16_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((p[i] & 0x7f80) == 0x7f80 && (p[i] & 0x7f))
            return true;
    return false;
}

/* Bulk dQ adds tiles in the order they finish: dq within a rounding or two
 * of bf16 (relative to the tensor's largest element). */
static size_t count_far_bf16(const uint16_t *a, const uint16_t *b, size_t n)
{
    float fa[256], fb[256], big = 0;
    size_t far = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i += 256) {
            size_t m = n - i < 256 ? n - i : 256;
            attnc_bf16_to_f32(a + i, fa, m);
            attnc_bf16_to_f32(b + i, fb, m);
            for (size_t j = 0; j < m; j++) {
                if (!pass)
                    big = fabsf(fb[j]) > big ? fabsf(fb[j]) : big;
                else
                    far += !(fabsf(fa[j] - fb[j]) <= 1.6e-2f * fabsf(fb[j]) + 1e-3f * big);
            }
        }
    return far;
}

/* dq, dk, dv of the AOT run (grads[0]) against the library's (grads[1]),
 * through the host buffers r1, r2 of n elements: no NaN, and bit for bit
 * except dq under bulk_dq (within bf16 roundings). what: the line's start. */
static void same_qkv_grads(uint64_t grads[2][3], uint16_t *r1, uint16_t *r2, size_t n, bool bulk_dq, const char *what)
{
    static const char *const names[3] = {"dq", "dk", "dv"};
    strbuf err;
    sb_init(&err);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cuda_memcpy_dtoh(r1, grads[0][i], n * 2, &err) | cuda_memcpy_dtoh(r2, grads[1][i], n * 2, &err),
                         0);
        size_t diff = count_diff(r1, r2, n), far = bulk_dq && i == 0 ? count_far_bf16(r1, r2, n) : diff;
        printf("%s: %s: %zu of %zu differ between AOT and JIT (%zu beyond rounding)\n", what, names[i], diff, n, far);
        assert_false(has_nan_bf16(r1, n));
        assert_int_equal(far, 0);
    }
    sb_free(&err);
}

/* The AOT backward of rpath for arch (extra: more `attnc compile` options)
 * built into dir/aotb.so and loaded: its three entry points. */
typedef struct aot_bwd_so {
    void *so;
    backward_fn backward;
    ws_fn ws_bytes;
    errmsg_fn errmsg;
} aot_bwd_so;

static aot_bwd_so load_aot_backward(const char *dir, const char *rpath, const char *arch, const char *extra)
{
    char lib[600];
    assert_int_equal(test_sh("%s/bin/attnc compile %s --aot --backward --arch %s --name aotb %s -o %s > /dev/null",
                             ATTNC_BINARY_DIR, rpath, arch, extra, dir),
                     0);
    assert_int_equal(test_sh("cd %s && cc -std=c11 -O1 -fPIC -shared -pthread -o aotb.so aotb.c", dir), 0);
    snprintf(lib, sizeof lib, "%s/aotb.so", dir);
    aot_bwd_so s = {dlopen(lib, RTLD_NOW | RTLD_LOCAL), NULL, NULL, NULL};
    assert_non_null(s.so);
    *(void **)&s.backward = dlsym(s.so, "aotb_backward");
    *(void **)&s.ws_bytes = dlsym(s.so, "aotb_backward_workspace_bytes");
    *(void **)&s.errmsg = dlsym(s.so, "aotb_errmsg");
    assert_true(s.backward && s.ws_bytes && s.errmsg);
    return s;
}

/* rpath: a recipe file; param: relbias.attn's "rel" with its gradient;
 * bulk: the default dQ (sm_90a: bulk, with the dK/dV kernel's TMA
 * producer, whose maps NAME_backward encodes), else the dQ kernel. */
static void run_backward(const char *rpath, bool param, const char *arch, bool bulk)
{
    /* bit for bit needs the deterministic dQ kernel: bulk dQ (the sm_90a
     * default) adds tiles in the order they finish, so under it dq is
     * compared within roundings (dk and dv, summed in registers, still bit
     * for bit). Set for both builds (the attnc subprocess inherits it). */
    if (bulk)
        unsetenv("ATTNC_BWD_DQ");
    else
        setenv("ATTNC_BWD_DQ", "kernel", 1);
    char *dir = tmpdir_make();
    aot_bwd_so aot = load_aot_backward(dir, rpath, arch, "");
    if (bulk) /* the producer's maps are what this case checks */
        assert_int_equal(test_sh("grep -q '(TMA producer)' %s/aotb.h", dir), 0);
    backward_fn backward = aot.backward;
    ws_fn ws_bytes = aot.ws_bytes;
    errmsg_fn errmsg = aot.errmsg;
    void *so = aot.so;

    strbuf err;
    sb_init(&err);
    size_t n = (size_t)B * H * T * D, bytes = n * 2, lse_bytes = (size_t)B * H * T * 4, rel_bytes = H * REL * 4;
    uint16_t *host = malloc(bytes), *r1 = malloc(bytes), *r2 = malloc(bytes);
    float *hrel = malloc(rel_bytes), *g1 = malloc(rel_bytes), *g2 = malloc(rel_bytes);
    for (int i = 0; i < H * REL; i++)
        hrel[i] = 0.01f * (float)(i % 17) - 0.05f;
    uint64_t in[5], grads[2][3], lse = dev_bytes(lse_bytes, &err), rel = dev_bytes(rel_bytes, &err);
    uint64_t drel[2] = {dev_bytes(rel_bytes, &err), dev_bytes(rel_bytes, &err)};
    for (int i = 0; i < 5; i++) { /* q, k, v, do; [4] o from the forward */
        in[i] = dev_bytes(bytes, &err);
        fill(host, n, 11 + (uint64_t)i);
        assert_int_equal(cuda_memcpy_htod(in[i], host, bytes, &err), 0);
    }
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 3; i++) {
            grads[r][i] = dev_bytes(bytes, &err);
            assert_int_equal(cuda_memset8(grads[r][i], r ? 0xee : 0xff, bytes, &err), 0); /* poison */
        }
    assert_int_equal(cuda_memcpy_htod(rel, hrel, rel_bytes, &err), 0);
    assert_int_equal(cuda_memset8(drel[0], 0xff, rel_bytes, &err) | cuda_memset8(drel[1], 0xee, rel_bytes, &err), 0);

    /* the forward on the library: o into in[4], lse */
    attnc_context *ctx;
    attnc_recipe *rc;
    attnc_kernel *fwd, *bwd;
    attnc_args *fa, *ba;
    assert_int_equal(attnc_context_create(&ctx, NULL), 0);
    assert_int_equal(attnc_recipe_from_file(&rc, ctx, rpath), 0);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.arch = arch;
    if (attnc_kernel_build(&fwd, ctx, rc, &o) || attnc_kernel_build_backward(&bwd, ctx, rc, &o))
        fail_msg("JIT build: %s", attnc_context_errmsg(ctx));
    attnc_tensor tq = dev_tensor(in[0]), tk = dev_tensor(in[1]), tv = dev_tensor(in[2]), tdo = dev_tensor(in[3]),
                 to = dev_tensor(in[4]), tl = lse_tensor(lse), tr = rel_tensor(rel);
    assert_int_equal(attnc_args_create(&fa, fwd), 0);
    assert_int_equal(attnc_args_set_tensor(fa, "q", &tq) | attnc_args_set_tensor(fa, "k", &tk) |
                         attnc_args_set_tensor(fa, "v", &tv) | attnc_args_set_tensor(fa, "o", &to) |
                         attnc_args_set_tensor(fa, "lse", &tl) | (param ? attnc_args_set_tensor(fa, "rel", &tr) : 0),
                     0);
    if (attnc_launch(fwd, fa, NULL))
        fail_msg("JIT forward: %s", attnc_kernel_errmsg(fwd));

    /* the library's backward into grads[1] */
    attnc_tensor tdq = dev_tensor(grads[1][0]), tdk = dev_tensor(grads[1][1]), tdv = dev_tensor(grads[1][2]),
                 tdr = rel_tensor(drel[1]);
    assert_int_equal(attnc_args_create(&ba, bwd), 0);
    assert_int_equal(attnc_args_set_tensor(ba, "q", &tq) | attnc_args_set_tensor(ba, "k", &tk) |
                         attnc_args_set_tensor(ba, "v", &tv) | attnc_args_set_tensor(ba, "o", &to) |
                         attnc_args_set_tensor(ba, "lse", &tl) | attnc_args_set_tensor(ba, "do", &tdo) |
                         attnc_args_set_tensor(ba, "dq", &tdq) | attnc_args_set_tensor(ba, "dk", &tdk) |
                         attnc_args_set_tensor(ba, "dv", &tdv) |
                         (param ? attnc_args_set_tensor(ba, "rel", &tr) | attnc_args_set_tensor(ba, "drel", &tdr) : 0),
                     0);
    if (attnc_launch(bwd, ba, NULL))
        fail_msg("JIT backward: %s", attnc_kernel_errmsg(bwd));

    /* the AOT backward into grads[0] */
    bwd_args a;
    memset(&a, 0, sizeof a);
    int64_t st[4] = {H * T * D, T * D, D, 1}, lst[3] = {H * T, T, 1};
    void **ptrs[9] = {&a.q, &a.k, &a.v, &a.o, &a.lse, &a.dout, &a.dq, &a.dk, &a.dv};
    uint64_t vals[9] = {in[0], in[1], in[2], in[4], lse, in[3], grads[0][0], grads[0][1], grads[0][2]};
    int64_t *strides[9] = {a.q_stride, a.k_stride, a.v_stride, a.o_stride, a.lse_stride,
                           a.dout_stride, a.dq_stride, a.dk_stride, a.dv_stride};
    for (int i = 0; i < 9; i++) {
        *ptrs[i] = (void *)(uintptr_t)vals[i];
        memcpy(strides[i], i == 4 ? lst : st, i == 4 ? sizeof lst : sizeof st);
    }
    a.size[SZ_BATCH] = B, a.size[SZ_HEADS] = H, a.size[SZ_KV_HEADS] = H, a.size[SZ_TOKENS] = T,
    a.size[SZ_KV_TOKENS] = T;
    a.p = (void *)(uintptr_t)rel, a.grad = (void *)(uintptr_t)drel[0];
    if (!param) /* no p_NAME/grad_NAME fields: the struct ends at size[] */
        a.p = a.grad = NULL;
    uint64_t need = ws_bytes(&a);
    assert_true(need > 0);
    uint64_t ws = dev_bytes((size_t)need, &err);
    int rc2 = backward(&a, (void *)(uintptr_t)ws, need, NULL);
    if (rc2)
        fail_msg("AOT backward: %d %s", rc2, errmsg());
    assert_int_equal(cuda_synchronize(&err), 0);

    char what[700];
    snprintf(what, sizeof what, "%s backward on %s%s", rpath, arch, bulk ? " (bulk dQ, TMA producer)" : "");
    same_qkv_grads(grads, r1, r2, n, bulk, what);
    if (param) {
        assert_int_equal(cuda_memcpy_dtoh(g1, drel[0], rel_bytes, &err) | cuda_memcpy_dtoh(g2, drel[1], rel_bytes, &err),
                         0);
        size_t diff = count_diff(g1, g2, rel_bytes / 2);
        printf("%s backward on %s: drel: %zu of %d differ\n", rpath, arch, diff, H * REL);
        assert_int_equal(diff, 0);
    }

    attnc_args_destroy(fa);
    attnc_args_destroy(ba);
    attnc_kernel_destroy(fwd);
    attnc_kernel_destroy(bwd);
    attnc_recipe_destroy(rc);
    attnc_context_destroy(ctx);
    for (int i = 0; i < 5; i++)
        cuda_mem_free(in[i]);
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 3; i++)
            cuda_mem_free(grads[r][i]);
    cuda_mem_free(lse), cuda_mem_free(rel), cuda_mem_free(drel[0]), cuda_mem_free(drel[1]), cuda_mem_free(ws);
    free(host), free(r1), free(r2), free(hrel), free(g1), free(g2);
    sb_free(&err);
    dlclose(so);
    tmpdir_remove(dir);
    unsetenv("ATTNC_BWD_DQ");
}

/* Linear attention (recipes/lightning2.attn: chained scans and the decay's
 * gate kernel, deterministic): NAME_backward against the library's, dq, dk,
 * dv and ddecay bit for bit; with no_grad "decay" (the three scans alone,
 * no workspace) dq, dk, dv too. o is read by neither (random bytes). */
static void run_linear_backward(const char *arch, bool frozen)
{
    char *dir = tmpdir_make(), path[600];
    snprintf(path, sizeof path, "%s/recipes/lightning2.attn", ATTNC_SOURCE_DIR);
    aot_bwd_so aot = load_aot_backward(dir, path, arch, frozen ? "--no-grad decay" : "");
    backward_fn backward = aot.backward;
    ws_fn ws_bytes = aot.ws_bytes;
    errmsg_fn errmsg = aot.errmsg;
    void *so = aot.so;
    strbuf err;
    sb_init(&err);
    size_t n = (size_t)B * H * T * D, bytes = n * 2;
    uint16_t *host = malloc(bytes), *r1 = malloc(bytes), *r2 = malloc(bytes);
    float decay[H] = {0.97f, 0.995f}, g1[H], g2[H];
    uint64_t in[5], grads[2][3], dec = dev_bytes(sizeof decay, &err), ddec[2] = {dev_bytes(sizeof decay, &err),
                                                                                  dev_bytes(sizeof decay, &err)};
    for (int i = 0; i < 5; i++) { /* q, k, v, do, o */
        in[i] = dev_bytes(bytes, &err);
        fill(host, n, 31 + (uint64_t)i);
        assert_int_equal(cuda_memcpy_htod(in[i], host, bytes, &err), 0);
    }
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 3; i++) {
            grads[r][i] = dev_bytes(bytes, &err);
            assert_int_equal(cuda_memset8(grads[r][i], r ? 0xee : 0xff, bytes, &err), 0); /* poison */
        }
    assert_int_equal(cuda_memcpy_htod(dec, decay, sizeof decay, &err), 0);
    assert_int_equal(cuda_memset8(ddec[0], 0xff, sizeof decay, &err) | cuda_memset8(ddec[1], 0xee, sizeof decay, &err),
                     0);
    attnc_context *ctx;
    attnc_recipe *rc;
    attnc_kernel *bwd;
    attnc_args *ba;
    assert_int_equal(attnc_context_create(&ctx, NULL), 0);
    assert_int_equal(attnc_recipe_from_file(&rc, ctx, path), 0);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.arch = arch;
    o.no_grad = frozen ? "decay" : NULL;
    if (attnc_kernel_build_backward(&bwd, ctx, rc, &o))
        fail_msg("JIT build: %s", attnc_context_errmsg(ctx));
    attnc_tensor tq = dev_tensor(in[0]), tk = dev_tensor(in[1]), tv = dev_tensor(in[2]), tdo = dev_tensor(in[3]),
                 to = dev_tensor(in[4]);
    attnc_tensor td = {ATTNC_F32, (void *)(uintptr_t)dec, 1, {H}, {1}}, tdd = {ATTNC_F32, (void *)(uintptr_t)ddec[1], 1, {H}, {1}};
    attnc_tensor tdq = dev_tensor(grads[1][0]), tdk = dev_tensor(grads[1][1]), tdv = dev_tensor(grads[1][2]);
    assert_int_equal(attnc_args_create(&ba, bwd), 0);
    assert_int_equal(attnc_args_set_tensor(ba, "q", &tq) | attnc_args_set_tensor(ba, "k", &tk) |
                         attnc_args_set_tensor(ba, "v", &tv) | attnc_args_set_tensor(ba, "o", &to) |
                         attnc_args_set_tensor(ba, "do", &tdo) | attnc_args_set_tensor(ba, "dq", &tdq) |
                         attnc_args_set_tensor(ba, "dk", &tdk) | attnc_args_set_tensor(ba, "dv", &tdv) |
                         attnc_args_set_tensor(ba, "decay", &td) | (frozen ? 0 : attnc_args_set_tensor(ba, "ddecay", &tdd)),
                     0);
    if (attnc_launch(bwd, ba, NULL))
        fail_msg("JIT backward: %s", attnc_kernel_errmsg(bwd));
    bwd_args a;
    memset(&a, 0, sizeof a);
    int64_t st[4] = {H * T * D, T * D, D, 1};
    void **ptrs[8] = {&a.q, &a.k, &a.v, &a.o, &a.dout, &a.dq, &a.dk, &a.dv};
    uint64_t vals[8] = {in[0], in[1], in[2], in[4], in[3], grads[0][0], grads[0][1], grads[0][2]};
    int64_t *strides[8] = {a.q_stride, a.k_stride, a.v_stride, a.o_stride, a.dout_stride, a.dq_stride, a.dk_stride,
                           a.dv_stride};
    for (int i = 0; i < 8; i++) {
        *ptrs[i] = (void *)(uintptr_t)vals[i];
        memcpy(strides[i], st, sizeof st);
    }
    a.size[SZ_BATCH] = B, a.size[SZ_HEADS] = H, a.size[SZ_KV_HEADS] = H, a.size[SZ_TOKENS] = T,
    a.size[SZ_KV_TOKENS] = T;
    a.p = (void *)(uintptr_t)dec, a.grad = frozen ? NULL : (void *)(uintptr_t)ddec[0]; /* p_decay, grad_decay */
    uint64_t need = ws_bytes(&a);
    assert_true(frozen ? need == 0 : need > 0);
    uint64_t ws = need ? dev_bytes((size_t)need, &err) : 0;
    int rc2 = backward(&a, (void *)(uintptr_t)ws, need, NULL);
    if (rc2)
        fail_msg("AOT backward: %d %s", rc2, errmsg());
    assert_int_equal(cuda_synchronize(&err), 0);
    char what[128];
    snprintf(what, sizeof what, "lightning2 backward on %s%s", arch, frozen ? " (decay constant)" : "");
    same_qkv_grads(grads, r1, r2, n, false, what);
    if (!frozen) {
        assert_int_equal(cuda_memcpy_dtoh(g1, ddec[0], sizeof g1, &err) | cuda_memcpy_dtoh(g2, ddec[1], sizeof g2, &err),
                         0);
        assert_memory_equal(g1, g2, sizeof g1);
    }
    attnc_args_destroy(ba);
    attnc_kernel_destroy(bwd);
    attnc_recipe_destroy(rc);
    attnc_context_destroy(ctx);
    for (int i = 0; i < 5; i++)
        cuda_mem_free(in[i]);
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 3; i++)
            cuda_mem_free(grads[r][i]);
    cuda_mem_free(dec), cuda_mem_free(ddec[0]), cuda_mem_free(ddec[1]);
    if (ws)
        cuda_mem_free(ws);
    free(host), free(r1), free(r2);
    sb_free(&err);
    dlclose(so);
    tmpdir_remove(dir);
}

/* The device's arch name; skips the test without a driver. */
static const char *device_arch_or_skip(void)
{
    target_arch arch;
    strbuf err;
    sb_init(&err);
    attnc_status st = cuda_device_arch(&arch, &err);
    sb_free(&err);
    if (st) {
        printf("skipped: no CUDA driver\n");
        skip();
    }
    return arch == TARGET_SM90A ? "sm_90a" : "sm_80";
}

static void test_aot_backward_matches_jit(void **state)
{
    (void)state;
    const char *an = device_arch_or_skip();
    char path[600];
    snprintf(path, sizeof path, "%s/recipes/causal.attn", ATTNC_SOURCE_DIR);
    run_backward(path, false, an, false);
    if (!strcmp(an, "sm_90a"))
        run_backward(path, false, an, true);
    snprintf(path, sizeof path, "%s/tests/gpu/aot/relbias.attn", ATTNC_SOURCE_DIR);
    run_backward(path, true, an, false);
    run_linear_backward(an, false);
    run_linear_backward(an, true);
}

static void test_aot_matches_jit(void **state)
{
    (void)state;
    const char *an = device_arch_or_skip();
    run_recipe("causal", an);
    run_recipe("dense", an);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_aot_matches_jit),
                                       cmocka_unit_test(test_aot_backward_matches_jit)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
