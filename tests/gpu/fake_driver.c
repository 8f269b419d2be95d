/* fake_driver.c — the host side of the CUDA path on a machine without a GPU:
 * libcuda is replaced by tests/gpu/fake_cuda.c ($ATTNC_LIBCUDA), so module
 * loading, the API backend hook, argument checks and the launch ABI
 * (grid, block, shared memory, every kernel argument) are checked here, and
 * the cubin entries of the kernel cache (a fresh context loads the cubin
 * without a JIT; a damaged cubin entry is reported and rebuilt) and the
 * tuned variant of a `tile auto` kernel; the backward program's launches
 * (marshalled by its role table) and its PTX entries in the kernel cache.
 * Label unit: it runs everywhere; numbers come from the gpu-labelled tests. */
#include "unit/runtime/tmpdir.h" /* first: it sets _GNU_SOURCE */

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gpu_case.h"
#include "runtime/api/api_internal.h"
#include "runtime/cache/cache.h"
#include "runtime/tune/tune_db.h"

/* As tests/gpu/fake_cuda.c has them. */
typedef struct fake_map {
    uint32_t magic, rank;
    uint64_t addr, dim[5], stride[4];
    uint32_t box[5];
    int32_t dtype, swizzle, l2;
} fake_map;

typedef struct fake_launch {
    unsigned grid[3], block[3], smem;
    int count;
    uint64_t ptr[5];
    int64_t stride[19];
    int32_t size[SZ_MAX];
    int nparams, nmaps;
    fake_map maps[4];
} fake_launch;

static const fake_launch *(*last_launch)(void);
static int (*link_count)(void);
static int (*stream_waits)(void);
static void *(*launch_stream)(int count); /* the stream launch number count went to */
static char ptxas_runs[PATH_MAX]; /* the fake ptxas appends a line per run */
/* The tests' kernel cache when a test sets none: never the user's, where
 * another build's fake cubins would be found */
static char own_cache[PATH_MAX];

/* PTX compiled so far: by the fake driver or by the fake ptxas. */
static int jit_count(void)
{
    int n = link_count();
    FILE *f = fopen(ptxas_runs, "r");
    for (int c; f && (c = fgetc(f)) != EOF;)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}
static size_t (*last_alloc)(void);
static char fake_path[PATH_MAX];

static void locate_fake(void)
{
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    snprintf(fake_path, sizeof fake_path, "%s/libattnc_fake_cuda.so", exe);
}

static void hand_kernel_launch(void **state)
{
    (void)state;
    hand_cfg c = {.mask = HM_CAUSAL, .dt = DT_BF16, .head_dim = 128};
    arena a;
    arena_init(&a, NULL);
    tir_kernel *k = hand_kernel(&a, &c);
    strbuf err;
    sb_init(&err);
    cuda_module *m = NULL;
    attnc_status st = cuda_module_build(&m, k, NULL, &err);
    if (st)
        fail_msg("build: %s", sb_cstr(&err));
    const nvptx_kernel_info *info = cuda_module_info(m);
    assert_int_equal(info->arch, TARGET_SM90A); /* the fake reports 9.0 */
    size_t cubin_size;
    assert_non_null(cuda_module_cubin(m, &cubin_size));
    uint64_t buf;
    assert_int_equal(cuda_mem_alloc(&buf, 1 << 20, &err), ATTNC_OK);
    cuda_launch l = {.ptr = {buf, buf, buf, buf, 0}};
    int64_t st4[4] = {3 * 300 * 128, 300 * 128, 128, 1};
    for (int t = 0; t < 4; t++)
        memcpy(l.stride[t], st4, sizeof st4);
    l.size[SZ_BATCH] = 2, l.size[SZ_HEADS] = 3, l.size[SZ_KV_HEADS] = 3, l.size[SZ_TOKENS] = 300,
    l.size[SZ_KV_TOKENS] = 300;
    assert_int_equal(cuda_module_launch(m, &l, NULL, &err), ATTNC_OK);
    const fake_launch *f = last_launch();
    assert_int_equal(f->grid[0], (300 + 127) / 128);
    assert_int_equal(f->grid[1], 3);
    assert_int_equal(f->grid[2], 2);
    assert_int_equal(f->block[0], info->threads);
    assert_int_equal(f->smem, info->smem_bytes);
    assert_true(f->ptr[0] == buf && f->ptr[4] == 0);
    assert_int_equal(f->stride[2], 128);
    assert_int_equal(f->size[SZ_TOKENS], 300);
    /* A misaligned row is refused before anything is launched. */
    int before = f->count;
    l.stride[0][2] = 100;
    assert_int_equal(cuda_module_launch(m, &l, NULL, &err), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(last_launch()->count, before);
    cuda_mem_free(buf);
    cuda_module_destroy(m);
    sb_free(&err);
    arena_free_all(&a);
}

/* The JIT choices (runtime/cuda/cuda_jit.h): one that is not is refused
 * with a message naming the variable before anything is compiled; the
 * driver keeps no cubin; a failing ptxas is an error only when asked for. */
static void jit_choices(void **state)
{
    (void)state;
    hand_cfg c = {.mask = HM_CAUSAL, .dt = DT_BF16, .head_dim = 128};
    arena a;
    arena_init(&a, NULL);
    tir_kernel *k = hand_kernel(&a, &c);
    strbuf err;
    sb_init(&err);
    cuda_module *m = NULL;
    int links = jit_count();
    setenv("ATTNC_JIT", "nvcc", 1);
    assert_int_equal(cuda_module_build(&m, k, NULL, &err), ATTNC_ERR_INVALID_ARGUMENT);
    assert_null(m);
    assert_non_null(strstr(sb_cstr(&err), "ATTNC_JIT='nvcc'"));
    assert_int_equal(jit_count(), links);
    /* the driver's compiler: one JIT, a module, no cubin to keep */
    setenv("ATTNC_JIT", "driver", 1);
    sb_clear(&err);
    if (cuda_module_build(&m, k, NULL, &err))
        fail_msg("build: %s", sb_cstr(&err));
    assert_int_equal(jit_count(), links + 1);
    size_t n = 1;
    assert_null(cuda_module_cubin(m, &n));
    assert_int_equal(n, 0);
    assert_string_equal(cuda_module_jit_by(m), "driver");
    cuda_module_destroy(m);
    /* ptxas that fails: an error under ATTNC_JIT=ptxas, the driver under auto */
    char bad[PATH_MAX];
    snprintf(bad, sizeof bad, "%s", getenv("ATTNC_PTXAS"));
    setenv("ATTNC_PTXAS", "/bin/false", 1);
    setenv("ATTNC_JIT", "ptxas", 1);
    sb_clear(&err);
    assert_int_equal(cuda_module_build(&m, k, NULL, &err), ATTNC_ERR_CUDA);
    assert_non_null(strstr(sb_cstr(&err), "ptxas failed"));
    setenv("ATTNC_JIT", "auto", 1);
    if (cuda_module_build(&m, k, NULL, &err))
        fail_msg("build: %s", sb_cstr(&err));
    assert_string_equal(cuda_module_jit_by(m), "driver");
    cuda_module_destroy(m);
    setenv("ATTNC_PTXAS", bad, 1);
    setenv("ATTNC_JIT", "ptxas", 1);
    sb_free(&err);
    arena_free_all(&a);
}

static attnc_tensor t4(void *p, int64_t b, int64_t h, int64_t n, int64_t d)
{
    attnc_tensor t = {ATTNC_BF16, p, 4, {b, h, n, d}, {h * n * d, n * d, d, 1}};
    return t;
}

/* The public API on the CUDA backend: build, validate, launch. */
static void api_launch(void **state)
{
    (void)state;
    attnc_context *ctx;
    attnc_recipe *r;
    attnc_kernel *k;
    attnc_args *a;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    assert_int_equal(attnc_recipe_from_file(&r, ctx, ATTNC_SOURCE_DIR "/recipes/gqa.attn"), ATTNC_OK);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.arch = "sm_70";
    assert_int_equal(attnc_kernel_build(&k, ctx, r, &o), ATTNC_ERR_INVALID_ARGUMENT);
    o.arch = NULL;
    if (attnc_kernel_build(&k, ctx, r, &o))
        fail_msg("%s", attnc_context_errmsg(ctx));
    printf("  schedule: %s\n", attnc_kernel_schedule(k));
    size_t nq = 2 * 8 * 200 * 128, nk = 2 * 2 * 200 * 128;
    uint64_t q, kk, v, out, lse;
    strbuf err;
    sb_init(&err);
    assert_int_equal(cuda_mem_alloc(&q, nq * 2, &err) | cuda_mem_alloc(&kk, nk * 2, &err) |
                         cuda_mem_alloc(&v, nk * 2, &err) | cuda_mem_alloc(&out, nq * 2, &err) |
                         cuda_mem_alloc(&lse, 2 * 8 * 200 * 4, &err),
                     ATTNC_OK);
    attnc_tensor tq = t4((void *)(uintptr_t)q, 2, 8, 200, 128), tk = t4((void *)(uintptr_t)kk, 2, 2, 200, 128);
    attnc_tensor tv = t4((void *)(uintptr_t)v, 2, 2, 200, 128), to = t4((void *)(uintptr_t)out, 2, 8, 200, 128);
    attnc_tensor tl = {ATTNC_F32, (void *)(uintptr_t)lse, 3, {2, 8, 200}, {1600, 200, 1}};
    assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(a, "q", &tq) | attnc_args_set_tensor(a, "k", &tk) |
                         attnc_args_set_tensor(a, "v", &tv) | attnc_args_set_tensor(a, "o", &to) |
                         attnc_args_set_tensor(a, "lse", &tl),
                     ATTNC_OK);
    if (attnc_launch(k, a, NULL))
        fail_msg("launch: %s", attnc_kernel_errmsg(k));
    const fake_launch *f = last_launch();
    assert_int_equal(f->grid[1], 8);
    assert_int_equal(f->grid[2], 2);
    assert_int_equal(f->size[SZ_KV_HEADS], 2);
    assert_true(f->ptr[4] == lse);
    assert_int_equal(f->stride[4 * 4 + 1], 200); /* lse head stride */
    /* an empty launch (batch 0, data NULL) succeeds without a kernel launch;
     * one over the size limits is refused before it */
    int count = f->count;
    attnc_tensor e[4] = {t4(NULL, 0, 8, 200, 128), t4(NULL, 0, 2, 200, 128), t4(NULL, 0, 2, 200, 128),
                         t4(NULL, 0, 8, 200, 128)};
    attnc_tensor el = {ATTNC_F32, NULL, 3, {0, 8, 200}, {1600, 200, 1}};
    assert_int_equal(attnc_args_set_tensor(a, "q", &e[0]) | attnc_args_set_tensor(a, "k", &e[1]) |
                         attnc_args_set_tensor(a, "v", &e[2]) | attnc_args_set_tensor(a, "o", &e[3]) |
                         attnc_args_set_tensor(a, "lse", &el),
                     ATTNC_OK);
    if (attnc_launch(k, a, NULL))
        fail_msg("empty launch: %s", attnc_kernel_errmsg(k));
    assert_int_equal(last_launch()->count, count);
    tq.shape[0] = tk.shape[0] = tv.shape[0] = to.shape[0] = ATTNC_MAX_BATCH + 1;
    assert_int_equal(attnc_args_set_tensor(a, "q", &tq) | attnc_args_set_tensor(a, "k", &tk) |
                         attnc_args_set_tensor(a, "v", &tv) | attnc_args_set_tensor(a, "o", &to),
                     ATTNC_OK);
    assert_int_equal(attnc_launch(k, a, NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(k), "ATTNC_MAX_BATCH"));
    assert_int_equal(last_launch()->count, count);
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
    attnc_context_destroy(ctx);
    uint64_t bufs[5] = {q, kk, v, out, lse};
    for (int i = 0; i < 5; i++)
        cuda_mem_free(bufs[i]);
    sb_free(&err);
}

/* A varlen launch (cu_seqlens) on the CUDA backend: one kernel launch per
 * non-empty sequence, each on its slice (q, o and lse offset by the
 * sequence's first token, tokens = its length, batch 1); a bad array
 * launches nothing. */
static void varlen_launch(void **state)
{
    (void)state;
    attnc_context *ctx;
    attnc_recipe *r;
    attnc_kernel *k;
    attnc_args *a;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    assert_int_equal(attnc_recipe_from_file(&r, ctx, ATTNC_SOURCE_DIR "/recipes/causal.attn"), ATTNC_OK);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    if (attnc_kernel_build(&k, ctx, r, &o))
        fail_msg("%s", attnc_context_errmsg(ctx));
    enum { H = 2, T = 382 };
    uint64_t q, out, lse;
    strbuf err;
    sb_init(&err);
    assert_int_equal(cuda_mem_alloc(&q, H * T * 128 * 2, &err) | cuda_mem_alloc(&out, H * T * 128 * 2, &err) |
                         cuda_mem_alloc(&lse, H * T * 4, &err),
                     ATTNC_OK);
    attnc_tensor tq = t4((void *)(uintptr_t)q, 1, H, T, 128), to = t4((void *)(uintptr_t)out, 1, H, T, 128);
    attnc_tensor tl = {ATTNC_F32, (void *)(uintptr_t)lse, 3, {1, H, T}, {H * T, T, 1}};
    int32_t cu[5] = {0, 5, 5, 305, T};
    attnc_tensor tc = {ATTNC_I32, cu, 1, {5}, {1}};
    assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(a, "q", &tq) | attnc_args_set_tensor(a, "k", &tq) |
                         attnc_args_set_tensor(a, "v", &tq) | attnc_args_set_tensor(a, "o", &to) |
                         attnc_args_set_tensor(a, "lse", &tl) | attnc_args_set_tensor(a, "cu_seqlens_q", &tc),
                     ATTNC_OK);
    int count = last_launch()->count, waits = stream_waits();
    unsetenv("ATTNC_VARLEN_STREAMS");
    if (attnc_launch(k, a, NULL))
        fail_msg("launch: %s", attnc_kernel_errmsg(k));
    const fake_launch *f = last_launch();
    assert_int_equal(f->count, count + 3); /* sequences of 5, 300 and 77 tokens; the empty one launches nothing */
    /* the default: each on its own side stream (sequence b on side stream b mod 4: 0, 2, 3), the
     * four side streams waiting for the caller's stream and it for them (runtime/cuda/cuda_fanout.c) */
    void *s1 = launch_stream(count + 1), *s2 = launch_stream(count + 2), *s3 = launch_stream(count + 3);
    assert_true(s1 && s2 && s3 && s1 != s2 && s2 != s3 && s1 != s3);
    assert_int_equal(stream_waits() - waits, 8);
    setenv("ATTNC_VARLEN_STREAMS", "0", 1); /* in turn on the caller's stream */
    waits = stream_waits();
    if (attnc_launch(k, a, (void *)0x3000))
        fail_msg("launch: %s", attnc_kernel_errmsg(k));
    assert_int_equal(last_launch()->count, count + 6);
    for (int i = 4; i <= 6; i++)
        assert_ptr_equal(launch_stream(count + i), (void *)0x3000);
    assert_int_equal(stream_waits() - waits, 0);
    unsetenv("ATTNC_VARLEN_STREAMS");
    count += 3;
    f = last_launch();
    assert_int_equal(f->size[SZ_TOKENS], 77);
    assert_int_equal(f->size[SZ_KV_TOKENS], 77);
    assert_int_equal(f->size[SZ_BATCH], 1);
    assert_true(f->ptr[0] == q + 305 * 128 * 2 && f->ptr[1] == q + 305 * 128 * 2);
    assert_true(f->ptr[3] == out + 305 * 128 * 2);
    assert_true(f->ptr[4] == lse + 305 * 4);
    assert_int_equal(f->stride[4 * 4 + 1], T); /* the packed head stride stays */
    cu[1] = 6; /* decreasing: refused before any launch */
    cu[2] = 5;
    assert_int_equal(attnc_launch(k, a, NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(k), "never decrease"));
    assert_int_equal(last_launch()->count, count + 3);
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
    attnc_context_destroy(ctx);
    cuda_mem_free(q);
    cuda_mem_free(out);
    cuda_mem_free(lse);
    sb_free(&err);
}

/* Cross attention with kv_tokens 0 on the CUDA backend: a real launch
 * (rows without keys) in which k and v, NULL here, are given q's address. */
static void no_keys_launch(void **state)
{
    (void)state;
    static const char *text = "recipe cross\ninput q : bf16 [batch, heads, tokens, 64]\n"
                              "input k, v : bf16 [batch, heads, kv_tokens, 64]\n";
    attnc_context *ctx;
    attnc_recipe *r;
    attnc_kernel *k;
    attnc_args *a;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    assert_int_equal(attnc_recipe_from_text(&r, ctx, "cross.attn", text, strlen(text)), ATTNC_OK);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    if (attnc_kernel_build(&k, ctx, r, &o))
        fail_msg("%s", attnc_context_errmsg(ctx));
    uint64_t q, out;
    strbuf err;
    sb_init(&err);
    assert_int_equal(cuda_mem_alloc(&q, 2 * 50 * 64 * 2, &err) | cuda_mem_alloc(&out, 2 * 50 * 64 * 2, &err), ATTNC_OK);
    attnc_tensor tq = t4((void *)(uintptr_t)q, 1, 2, 50, 64), to = t4((void *)(uintptr_t)out, 1, 2, 50, 64);
    attnc_tensor tk = t4(NULL, 1, 2, 0, 64);
    assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(a, "q", &tq) | attnc_args_set_tensor(a, "k", &tk) |
                         attnc_args_set_tensor(a, "v", &tk) | attnc_args_set_tensor(a, "o", &to),
                     ATTNC_OK);
    int count = last_launch()->count;
    if (attnc_launch(k, a, NULL))
        fail_msg("launch: %s", attnc_kernel_errmsg(k));
    assert_int_equal(last_launch()->count, count + 1);
    assert_int_equal(last_launch()->size[SZ_KV_TOKENS], 0);
    assert_true(last_launch()->ptr[1] == q && last_launch()->ptr[2] == q);
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
    attnc_context_destroy(ctx);
    cuda_mem_free(q);
    cuda_mem_free(out);
    sb_free(&err);
}

/* Builds recipes/causal.attn on the CUDA backend in a fresh context and
 * launches it once; returns the number of JIT links that took and the
 * kernel's note in note. */
static int build_and_launch(char *note, size_t cap)
{
    attnc_context *ctx;
    attnc_recipe *r;
    attnc_kernel *k;
    attnc_args *a;
    int links0 = jit_count();
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    assert_int_equal(attnc_recipe_from_file(&r, ctx, ATTNC_SOURCE_DIR "/recipes/causal.attn"), ATTNC_OK);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    if (attnc_kernel_build(&k, ctx, r, &o))
        fail_msg("%s", attnc_context_errmsg(ctx));
    snprintf(note, cap, "%s", attnc_kernel_errmsg(k));
    int links = jit_count() - links0;
    size_t n = 1 * 2 * 100 * 128;
    uint64_t buf[4];
    strbuf err;
    sb_init(&err);
    for (int i = 0; i < 4; i++)
        assert_int_equal(cuda_mem_alloc(&buf[i], n * 2, &err), ATTNC_OK);
    attnc_tensor t[4];
    for (int i = 0; i < 4; i++)
        t[i] = t4((void *)(uintptr_t)buf[i], 1, 2, 100, 128);
    assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
    assert_int_equal(attnc_args_set_tensor(a, "q", &t[0]) | attnc_args_set_tensor(a, "k", &t[1]) |
                         attnc_args_set_tensor(a, "v", &t[2]) | attnc_args_set_tensor(a, "o", &t[3]),
                     ATTNC_OK);
    int before = last_launch()->count;
    if (attnc_launch(k, a, NULL))
        fail_msg("launch: %s", attnc_kernel_errmsg(k));
    assert_int_equal(last_launch()->count, before + 1);
    assert_int_equal(last_launch()->grid[0], 1); /* 100 tokens, q tile 128 */
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
    attnc_context_destroy(ctx);
    for (int i = 0; i < 4; i++)
        cuda_mem_free(buf[i]);
    sb_free(&err);
    return links;
}

/* The only *.cubin entry under dir (recursively one level). */
static void find_cubin(const char *dir, char *out, size_t cap)
{
    char sub[2048]; /* + "/" + a 255-byte name fits in out (PATH_MAX) */
    snprintf(sub, sizeof sub, "%s/%s", dir, cache_version_dir());
    DIR *d = opendir(sub);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 6 && !strcmp(e->d_name + len - 6, ".cubin")) {
            snprintf(out, cap, "%s/%s", sub, e->d_name);
            n++;
        }
    }
    closedir(d);
    assert_int_equal(n, 1);
}

static void cubin_cache(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    setenv("ATTNC_CACHE_DIR", dir, 1);
    char note[1024], path[PATH_MAX];
    assert_int_equal(build_and_launch(note, sizeof note), 1); /* cold: PTX generated, JIT-linked, both stored */
    assert_string_equal(note, "");
    assert_int_equal(build_and_launch(note, sizeof note), 0); /* fresh context: the cubin, no JIT */
    assert_string_equal(note, "");
    find_cubin(dir, path, sizeof path);
    cache_entry_info info;
    assert_true(cache_verify_file(path, &info, NULL));
    assert_int_equal(info.kind, CACHE_CUBIN);
    /* flip one payload byte: detected, reported, rebuilt through the JIT */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, -2, SEEK_END), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, -2, SEEK_END), 0);
    fputc(c ^ 0x10, f);
    fclose(f);
    assert_false(cache_verify_file(path, &info, NULL));
    assert_int_equal(build_and_launch(note, sizeof note), 1);
    assert_non_null(strstr(note, "cubin entry rebuilt"));
    assert_true(cache_verify_file(path, &info, NULL));
    assert_int_equal(build_and_launch(note, sizeof note), 0); /* and served again */
    /* truncated to zero: the same */
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(build_and_launch(note, sizeof note), 1);
    assert_non_null(strstr(note, "cubin entry rebuilt"));
    setenv("ATTNC_CACHE_DIR", own_cache, 1);
    tmpdir_remove(dir);
}

/* A `tile auto` kernel on the CUDA backend launches the tuned variant of
 * its bucket (arch key sm_90a: the fake is a 9.0 device) and the default
 * elsewhere; the launch configuration shows which one ran. */
static void tuned_cuda_launch(void **state)
{
    (void)state;
    static const char src[] = "recipe causal_auto\n"
                              "input  q, k, v : bf16 [batch, heads, tokens, 128]\n"
                              "mask   causal\n"
                              "tile   auto\n";
    static const char tuned[] = "q=64 kv=64 stages=2 warps=4"; /* softmax: no linear keys */
    char *dir = tmpdir_make();
    setenv("ATTNC_CACHE_DIR", dir, 1);
    char hash[33], bucket[64];
    tune_recipe_hash(src, strlen(src), hash);
    tune_bucket(bucket, sizeof bucket, 1, 2, 300, 300, 128);
    tune_db *db = tune_db_open(NULL, NULL);
    assert_non_null(db);
    assert_true(tune_db_record_best(db, hash, "sm_90a", bucket, tuned, 3.0, NULL));
    tune_db_close(db);
    attnc_context *ctx;
    attnc_recipe *r;
    attnc_kernel *k;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    assert_int_equal(attnc_recipe_from_text(&r, ctx, "causal_auto.attn", src, strlen(src)), ATTNC_OK);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    if (attnc_kernel_build(&k, ctx, r, &o))
        fail_msg("%s", attnc_context_errmsg(ctx));
    assert_string_not_equal(attnc_kernel_schedule(k), tuned);
    strbuf err;
    sb_init(&err);
    uint64_t buf[4];
    size_t n = 1 * 2 * 1000 * 128;
    for (int i = 0; i < 4; i++)
        assert_int_equal(cuda_mem_alloc(&buf[i], n * 2, &err), ATTNC_OK);
    int64_t lens[2] = {300, 1000};
    for (int round = 0; round < 2; round++) {
        attnc_tensor t[4];
        for (int i = 0; i < 4; i++)
            t[i] = t4((void *)(uintptr_t)buf[i], 1, 2, lens[round], 128);
        attnc_args *a;
        assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
        assert_int_equal(attnc_args_set_tensor(a, "q", &t[0]) | attnc_args_set_tensor(a, "k", &t[1]) |
                             attnc_args_set_tensor(a, "v", &t[2]) | attnc_args_set_tensor(a, "o", &t[3]),
                         ATTNC_OK);
        if (attnc_launch(k, a, NULL))
            fail_msg("launch: %s", attnc_kernel_errmsg(k));
        const fake_launch *f = last_launch();
        if (round == 0) { /* bucket of 300 tokens: the tuned q=64 tile, 4 warps */
            assert_string_equal(attnc_kernel_last_schedule(k), tuned);
            assert_int_equal(f->grid[0], (300 + 63) / 64);
            assert_int_equal(f->block[0], 4 * 32 + 128); /* 4 computing warps + the sm_90a TMA producer warpgroup */
        } else { /* 1000 tokens: another bucket, no record: the default */
            assert_string_equal(attnc_kernel_last_schedule(k), attnc_kernel_schedule(k));
            assert_int_not_equal(f->grid[0], (1000 + 63) / 64);
        }
        attnc_args_destroy(a);
    }
    for (int i = 0; i < 4; i++)
        cuda_mem_free(buf[i]);
    sb_free(&err);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
    attnc_context_destroy(ctx);
    setenv("ATTNC_CACHE_DIR", own_cache, 1);
    tmpdir_remove(dir);
}


/* A kernel with module-global scratch (linear inter=chain) is launched on
 * stream A, A again, then B: only the switch to B waits for the previous
 * launch (cuStreamWaitEvent); a kernel without scratch never waits. */
static void serial_launches(void **state)
{
    (void)state;
    static const char *const files[] = {"lightning2.attn", "gqa.attn"};
    for (int f = 0; f < 2; f++) {
        attnc_context *ctx;
        attnc_recipe *r;
        attnc_kernel *k;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/recipes/%s", ATTNC_SOURCE_DIR, files[f]);
        assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
        assert_int_equal(attnc_recipe_from_file(&r, ctx, path), ATTNC_OK);
        attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
        o.backend = ATTNC_BACKEND_CUDA;
        if (attnc_kernel_build(&k, ctx, r, &o))
            fail_msg("%s: %s", files[f], attnc_context_errmsg(ctx));
        bool chain = strstr(attnc_kernel_schedule(k), "inter=chain") != NULL;
        assert_true(f == 0 ? chain : !chain);
        strbuf err;
        sb_init(&err);
        uint64_t buf[5];
        size_t n = 1 * 2 * 256 * 128;
        for (int i = 0; i < 5; i++)
            assert_int_equal(cuda_mem_alloc(&buf[i], n * 2, &err), ATTNC_OK);
        attnc_args *a;
        assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
        static const char *const names[] = {"q", "k", "v", "o"};
        for (int i = 0; i < 4; i++) {
            attnc_tensor t = t4((void *)(uintptr_t)buf[i], 1, 2, 256, 128);
            assert_int_equal(attnc_args_set_tensor(a, names[i], &t), ATTNC_OK);
        }
        if (f == 0) {
            attnc_tensor decay = {ATTNC_F32, (void *)(uintptr_t)buf[4], 1, {2}, {1}};
            assert_int_equal(attnc_args_set_tensor(a, "decay", &decay), ATTNC_OK);
        }
        int before = stream_waits();
        void *streams[3] = {(void *)0x1000, (void *)0x1000, (void *)0x2000};
        for (int i = 0; i < 3; i++)
            if (attnc_launch(k, a, streams[i]))
                fail_msg("%s: launch: %s", files[f], attnc_kernel_errmsg(k));
        assert_int_equal(stream_waits() - before, f == 0 ? 1 : 0);
        for (int i = 0; i < 5; i++)
            cuda_mem_free(buf[i]);
        sb_free(&err);
        attnc_args_destroy(a);
        attnc_kernel_destroy(k);
        attnc_recipe_destroy(r);
        attnc_context_destroy(ctx);
    }
}

/* The causal recipe the backward tests build (head dim 128: the wgmma
 * backward and its TMA producer take it on sm_90a). */
static const char CAUSAL128[] = "recipe causal\n"
                                "input  q, k, v : bf16 [batch, heads, tokens, 128]\n"
                                "mask   causal\n";

/* The backward program on the fake: its three kernels launch in order with
 * the role table's leading arguments (q, k, v, o, lse and q's strides);
 * a fresh context's build takes the PTX from the disk cache. */
static void backward_cache_launch(void **state)
{
    (void)state;
    const char *src = CAUSAL128;
    char *dir = tmpdir_make();
    setenv("ATTNC_CACHE_DIR", dir, 1);
    for (int pass = 0; pass < 2; pass++) {
        attnc_context *ctx;
        attnc_recipe *r;
        attnc_kernel *k;
        attnc_args *a;
        assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
        assert_int_equal(attnc_recipe_from_text(&r, ctx, "causal.attn", src, strlen(src)), ATTNC_OK);
        attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
        o.backend = ATTNC_BACKEND_CUDA;
        o.arch = "sm_80";
        if (attnc_kernel_build_backward(&k, ctx, r, &o))
            fail_msg("%s", attnc_context_errmsg(ctx));
        cache_stats cs = cache_get_stats(ctx->cache);
        assert_int_equal(cs.builds, pass ? 0 : 1);
        assert_int_equal(cs.disk_hits, pass ? 1 : 0);
        enum { T = 100, NB = 9 };
        size_t n = 1 * 2 * T * 128;
        uint64_t buf[NB];
        strbuf err;
        sb_init(&err);
        for (int i = 0; i < NB; i++)
            assert_int_equal(cuda_mem_alloc(&buf[i], n * 2, &err), ATTNC_OK);
        static const char *const names[NB] = {"q", "k", "v", "o", "lse", "do", "dq", "dk", "dv"};
        assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
        for (int i = 0; i < NB; i++) {
            attnc_tensor t = i == 4 ? (attnc_tensor){ATTNC_F32, (void *)(uintptr_t)buf[i], 3, {1, 2, T}, {2 * T, T, 1}}
                                    : t4((void *)(uintptr_t)buf[i], 1, 2, T, 128);
            assert_int_equal(attnc_args_set_tensor(a, names[i], &t), ATTNC_OK);
        }
        int before = last_launch()->count;
        if (attnc_launch(k, a, NULL))
            fail_msg("launch: %s", attnc_kernel_errmsg(k));
        const fake_launch *l = last_launch();
        assert_int_equal(l->count, before + 3); /* pre, dkv, dq */
        assert_int_equal(l->grid[0], 2);         /* dq: 100 tokens over 64-token query tiles */
        assert_int_equal(l->grid[1], 2);
        /* the fake records 5 pointers then 19 i64: here do, dq, dk, dv, delta,
         * dqacc, then q's strides */
        for (int i = 0; i < 5; i++)
            assert_int_equal(l->ptr[i], buf[i]);
        for (int i = 0; i < 4; i++)
            assert_int_equal(l->stride[i], buf[5 + i]);
        assert_int_equal(l->stride[6], 2 * T * 128);
        assert_int_equal(l->stride[9], 1);
        attnc_args_destroy(a);
        attnc_kernel_destroy(k);
        attnc_recipe_destroy(r);
        attnc_context_destroy(ctx);
        for (int i = 0; i < NB; i++)
            cuda_mem_free(buf[i]);
        sb_free(&err);
    }
    setenv("ATTNC_CACHE_DIR", own_cache, 1);
    tmpdir_remove(dir);
}

/* The bulk dQ (ATTNC_BWD_DQ=bulk, sm_90a, wgmma) on the fake: the
 * workspace holds delta and the tile-contiguous accumulator of whole query
 * tiles, and attnc_bwd_dq_cvt's grid covers every row of them (100 tokens
 * in 64-row query tiles: 128 rows a head), as nvptx_bwd.h's rules say. */
static void backward_bulk_launch(void **state)
{
    (void)state;
    const char *src = CAUSAL128;
    char *dir = tmpdir_make();
    setenv("ATTNC_CACHE_DIR", dir, 1);
    setenv("ATTNC_BWD_DQ", "bulk", 1);
    setenv("ATTNC_BWD_MMA", "wgmma", 1);
    attnc_context *ctx;
    attnc_recipe *r;
    attnc_kernel *k;
    attnc_args *a;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    assert_int_equal(attnc_recipe_from_text(&r, ctx, "causal.attn", src, strlen(src)), ATTNC_OK);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.arch = "sm_90a";
    if (attnc_kernel_build_backward(&k, ctx, r, &o))
        fail_msg("%s", attnc_context_errmsg(ctx));
    if (!strstr(attnc_kernel_schedule(k), "mma=wgmma") || !strstr(attnc_kernel_schedule(k), "(dQ bulk)"))
        fail_msg("schedule \"%s\" is not the bulk dQ's", attnc_kernel_schedule(k));
    enum { T = 100, NB = 9, H = 2 };
    size_t n = 1 * H * T * 128;
    uint64_t buf[NB];
    strbuf err;
    sb_init(&err);
    for (int i = 0; i < NB; i++)
        assert_int_equal(cuda_mem_alloc(&buf[i], n * 2, &err), ATTNC_OK);
    static const char *const names[NB] = {"q", "k", "v", "o", "lse", "do", "dq", "dk", "dv"};
    assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
    for (int i = 0; i < NB; i++) {
        attnc_tensor t = i == 4 ? (attnc_tensor){ATTNC_F32, (void *)(uintptr_t)buf[i], 3, {1, H, T}, {H * T, T, 1}}
                                : t4((void *)(uintptr_t)buf[i], 1, H, T, 128);
        assert_int_equal(attnc_args_set_tensor(a, names[i], &t), ATTNC_OK);
    }
    int before = last_launch()->count;
    if (attnc_launch(k, a, NULL))
        fail_msg("launch: %s", attnc_kernel_errmsg(k));
    const fake_launch *l = last_launch();
    assert_int_equal(l->count, before + 3); /* pre, dkv, dq_cvt */
    assert_int_equal(l->grid[0], (2 * 64 * 64 + 255) / 256); /* a thread per column pair of 2 tiles x 64 rows */
    assert_int_equal(l->grid[1], H);
    /* delta (800 bytes, rounded to 1024), then 2 heads x 2 tiles x 64 rows x 128 f32 */
    assert_int_equal(last_alloc(), 1024 + H * 2 * 64 * 128 * 4);
    assert_int_equal(l->stride[5] - l->stride[4], 1024); /* dqacc after delta */
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
    attnc_context_destroy(ctx);
    for (int i = 0; i < NB; i++)
        cuda_mem_free(buf[i]);
    sb_free(&err);
    unsetenv("ATTNC_BWD_DQ");
    unsetenv("ATTNC_BWD_MMA");
    setenv("ATTNC_CACHE_DIR", own_cache, 1);
    tmpdir_remove(dir);
}

/* ---- the AOT backward's tensor maps ---- */

/* NAME_backward over arrays, so the test needs no copy of ab_bwd_args:
 * with `need` it only sizes the workspace. */
static const char aot_glue[] =
    "#include <string.h>\n#include \"ab.h\"\n"
    "int glue(void *const p[9], const int64_t st[9][4], const int32_t sz[16], void *ws, uint64_t bytes, uint64_t *need)\n"
    "{\n    ab_bwd_args a;\n    memset(&a, 0, sizeof a);\n"
    "    a.q = p[0]; a.k = p[1]; a.v = p[2]; a.o = p[3]; a.lse = p[4]; a.dout = p[5]; a.dq = p[6]; a.dk = p[7]; a.dv = p[8];\n"
    "    memcpy(a.q_stride, st[0], 32); memcpy(a.k_stride, st[1], 32); memcpy(a.v_stride, st[2], 32);\n"
    "    memcpy(a.o_stride, st[3], 32); memcpy(a.lse_stride, st[4], 24); memcpy(a.dout_stride, st[5], 32);\n"
    "    memcpy(a.dq_stride, st[6], 32); memcpy(a.dk_stride, st[7], 32); memcpy(a.dv_stride, st[8], 32);\n"
    "    memcpy(a.size, sz, sizeof a.size);\n"
    "    if (need) {\n        *need = ab_backward_workspace_bytes(&a);\n        return 0;\n    }\n"
    "    return ab_backward(&a, ws, bytes, NULL);\n}\n"
    "int glue_fwd(void *const p[9], const int64_t st[9][4], const int32_t sz[16])\n{\n    ab_args a;\n"
    "    memset(&a, 0, sizeof a);\n    a.q = p[0]; a.k = p[1]; a.v = p[2]; a.o = p[3]; a.lse = p[4];\n"
    "    memcpy(a.q_stride, st[0], 32); memcpy(a.k_stride, st[1], 32); memcpy(a.v_stride, st[2], 32);\n"
    "    memcpy(a.o_stride, st[3], 32); memcpy(a.lse_stride, st[4], 24);\n"
    "    memcpy(a.size, sz, sizeof a.size);\n    return ab_launch(&a, NULL);\n}\n";

typedef int (*glue_fn)(void *const[9], const int64_t[9][4], const int32_t[16], void *, uint64_t, uint64_t *);
typedef int (*glue_fwd_fn)(void *const[9], const int64_t[9][4], const int32_t[16]);

/* One backward launch's tensors: B x H x T x 128, q and dout with rows of
 * `row` elements, the others contiguous; extent-1 dims get stride 0. */
typedef struct bwd_bufs {
    int64_t B, H, T, row;
    uint64_t p[9];
    int64_t st[9][4];
} bwd_bufs;

static void bufs_make(bwd_bufs *b, int64_t B, int64_t H, int64_t T, int64_t row)
{
    strbuf err;
    sb_init(&err);
    *b = (bwd_bufs){.B = B, .H = H, .T = T, .row = row};
    for (int i = 0; i < 9; i++) {
        int64_t r = i == 0 || i == 5 ? row : 128;
        int64_t s[4] = {H * T * r, T * r, r, 1};
        if (i == 4)
            s[0] = H * T, s[1] = T, s[2] = 1;
        if (B == 1)
            s[0] = 0;
        if (H == 1)
            s[1] = 0;
        memcpy(b->st[i], s, sizeof s);
        assert_int_equal(cuda_mem_alloc(&b->p[i], (size_t)(B * H * T * (i == 4 ? 4 : r * 2)), &err), ATTNC_OK);
    }
    sb_free(&err);
}

/* The glue's sizes and pointers for b's launch. */
static void glue_args(const bwd_bufs *b, int32_t sz[16], void *p[9])
{
    memset(sz, 0, 16 * sizeof *sz);
    sz[SZ_BATCH] = (int32_t)b->B, sz[SZ_HEADS] = sz[SZ_KV_HEADS] = (int32_t)b->H;
    sz[SZ_TOKENS] = sz[SZ_KV_TOKENS] = (int32_t)b->T;
    for (int i = 0; i < 9; i++)
        p[i] = (void *)(uintptr_t)b->p[i];
}

static void bufs_free(bwd_bufs *b)
{
    for (int i = 0; i < 9; i++)
        cuda_mem_free(b->p[i]);
}

/* The library's backward (or forward) of `src` on sm_90a: the maps its
 * last launch passed (q and dout; the forward's q, k and v, and o's under
 * ATTNC_O_TMA=1), nmaps of them. */
static void jit_maps(const char *src, const bwd_bufs *b, bool backward, fake_map *out, int nmaps)
{
    attnc_context *ctx;
    attnc_recipe *r;
    attnc_kernel *k;
    attnc_args *a;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    assert_int_equal(attnc_recipe_from_text(&r, ctx, "causal.attn", src, strlen(src)), ATTNC_OK);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.arch = "sm_90a";
    if (backward ? attnc_kernel_build_backward(&k, ctx, r, &o) : attnc_kernel_build(&k, ctx, r, &o))
        fail_msg("%s", attnc_context_errmsg(ctx));
    if (backward && !strstr(attnc_kernel_schedule(k), "(TMA producer)"))
        fail_msg("schedule \"%s\" has no TMA producer", attnc_kernel_schedule(k));
    static const char *const names[9] = {"q", "k", "v", "o", "lse", "do", "dq", "dk", "dv"};
    assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
    for (int i = 0; i < (backward ? 9 : 5); i++) {
        attnc_tensor t = {i == 4 ? ATTNC_F32 : ATTNC_BF16, (void *)(uintptr_t)b->p[i], i == 4 ? 3 : 4,
                          {b->B, b->H, b->T, 128}, {b->st[i][0], b->st[i][1], b->st[i][2], b->st[i][3]}};
        assert_int_equal(attnc_args_set_tensor(a, names[i], &t), ATTNC_OK);
    }
    if (attnc_launch(k, a, NULL))
        fail_msg("launch: %s", attnc_kernel_errmsg(k));
    const fake_launch *l = last_launch();
    assert_int_equal(l->nmaps, nmaps);
    memcpy(out, l->maps, (size_t)l->nmaps * sizeof *out);
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
    attnc_context_destroy(ctx);
}

/* The AOT backward on sm_90a (`attnc compile --aot --backward`) builds the
 * dK/dV kernel's TMA producer as the library does, and NAME_backward
 * passes every kernel the maps of q and dout, encoded exactly as the
 * runtime's launch encodes them (cuda_backward.c): same addresses, dims,
 * strides (extent-1 dims packed, whatever their stride), boxes, swizzle.
 * The forward's launcher (NAME_launch: q, k, v) likewise. */
/* `src` compiled AOT with its backward (`attnc compile --aot --backward`,
 * name ab) in a new directory *dir, whose ab.h must hold `expect`, built
 * with aot_glue into ab.so and opened. The directory is the kernel cache
 * until the caller removes it. */
static void *aot_open(const char *src, const char *expect, char **dir)
{
    char path[PATH_MAX];
    *dir = tmpdir_make();
    setenv("ATTNC_CACHE_DIR", *dir, 1);
    const char *names[2] = {"causal.attn", "glue.c"}, *texts[2] = {src, aot_glue};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", *dir, names[i]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(texts[i], f);
        fclose(f);
    }
    assert_int_equal(test_sh("ATTNC_PTXAS=/nonexistent %s/bin/attnc compile %s/causal.attn --aot --backward --arch "
                             "sm_90a --name ab -o %s > /dev/null && grep -q '%s' %s/ab.h && cd %s && cc "
                             "-std=c11 -fPIC -shared -pthread -o ab.so ab.c glue.c",
                             ATTNC_BINARY_DIR, *dir, *dir, expect, *dir, *dir),
                     0);
    snprintf(path, sizeof path, "%s/ab.so", *dir);
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(so);
    return so;
}

static void aot_backward_maps(void **state)
{
    (void)state;
    const char *src = CAUSAL128;
    char *dir;
    void *so = aot_open(src, "(TMA producer)", &dir);
    glue_fn glue;
    glue_fwd_fn glue_fwd;
    *(void **)&glue = dlsym(so, "glue");
    *(void **)&glue_fwd = dlsym(so, "glue_fwd");
    assert_true(glue && glue_fwd);
    static const int64_t shapes[3][4] = {{2, 3, 100, 136}, {1, 1, 1, 128}, {1, 4, 65, 128}}; /* B, H, T, row */
    for (int c = 0; c < 3; c++) {
        bwd_bufs b;
        bufs_make(&b, shapes[c][0], shapes[c][1], shapes[c][2], shapes[c][3]);
        fake_map jit[4], aot[4];
        jit_maps(src, &b, true, jit, 2);
        int32_t sz[16];
        void *p[9];
        glue_args(&b, sz, p);
        uint64_t need = 0, ws = 0;
        strbuf err;
        sb_init(&err);
        assert_int_equal(glue(p, (const int64_t(*)[4])b.st, sz, NULL, 0, &need), 0);
        assert_int_equal(cuda_mem_alloc(&ws, (size_t)need, &err), ATTNC_OK);
        int rc = glue(p, (const int64_t(*)[4])b.st, sz, (void *)(uintptr_t)ws, need, NULL);
        assert_int_equal(rc, 0);
        const fake_launch *l = last_launch();
        assert_int_equal(l->nmaps, 2);
        memcpy(aot, l->maps, sizeof aot);
        for (int m = 0; m < 2; m++) {
            assert_int_equal(aot[m].magic, 0x7a4d4150);
            assert_int_equal(aot[m].addr, b.p[m ? 5 : 0]); /* q, dout */
            assert_int_equal(aot[m].rank, 4);
            assert_int_equal(aot[m].dim[0], 128);
            assert_int_equal(aot[m].dim[1], (uint64_t)b.T);
            assert_int_equal(aot[m].dim[2], (uint64_t)b.H);
            assert_int_equal(aot[m].dim[3], (uint64_t)b.B);
            assert_int_equal(aot[m].stride[0], (uint64_t)b.row * 2);
            assert_int_equal(aot[m].box[0], 64);
            assert_int_equal(aot[m].box[1], 64);
            if (memcmp(&aot[m], &jit[m], sizeof aot[m]))
                fail_msg("case %d: the AOT's map %d differs from the library's", c, m);
        }
        jit_maps(src, &b, false, jit, 3);
        assert_int_equal(glue_fwd(p, (const int64_t(*)[4])b.st, sz), 0);
        assert_int_equal(last_launch()->nmaps, 3);
        memcpy(aot, last_launch()->maps, 3 * sizeof *aot);
        for (int m = 0; m < 3; m++) {
            assert_int_equal(aot[m].addr, b.p[m]);
            if (memcmp(&aot[m], &jit[m], sizeof aot[m]))
                fail_msg("case %d: the AOT forward's map %d differs from the library's", c, m);
        }
        cuda_mem_free(ws);
        bufs_free(&b);
        sb_free(&err);
    }
    dlclose(so);
    setenv("ATTNC_CACHE_DIR", own_cache, 1);
    tmpdir_remove(dir);
}

/* Under ATTNC_O_TMA=1 the forward stores O by TMA: the library's launch
 * and the AOT launcher (`attnc compile --aot` with the switch set) both
 * pass a fourth map, o's (q's tokens and heads, boxes of 64 rows), encoded
 * alike. */
static void aot_o_tma_maps(void **state)
{
    (void)state;
    const char *src = CAUSAL128;
    char *dir;
    setenv("ATTNC_O_TMA", "1", 1);
    void *so = aot_open(src, "tensor maps (TMA) of q, k, v and o", &dir);
    glue_fwd_fn glue_fwd;
    *(void **)&glue_fwd = dlsym(so, "glue_fwd");
    assert_non_null(glue_fwd);
    static const int64_t shapes[2][4] = {{2, 3, 100, 136}, {1, 4, 65, 128}}; /* B, H, T, row */
    for (int c = 0; c < 2; c++) {
        bwd_bufs b;
        bufs_make(&b, shapes[c][0], shapes[c][1], shapes[c][2], shapes[c][3]);
        fake_map jit[4], aot[4];
        jit_maps(src, &b, false, jit, 4);
        int32_t sz[16];
        void *p[9];
        glue_args(&b, sz, p);
        assert_int_equal(glue_fwd(p, (const int64_t(*)[4])b.st, sz), 0);
        assert_int_equal(last_launch()->nmaps, 4);
        memcpy(aot, last_launch()->maps, sizeof aot);
        assert_int_equal(aot[3].addr, b.p[3]); /* o */
        assert_int_equal(aot[3].rank, 4);
        assert_int_equal(aot[3].dim[0], 128);
        assert_int_equal(aot[3].dim[1], (uint64_t)b.T);
        assert_int_equal(aot[3].dim[2], (uint64_t)b.H);
        assert_int_equal(aot[3].box[0], 64);
        assert_int_equal(aot[3].box[1], 64);
        for (int m = 0; m < 4; m++)
            if (memcmp(&aot[m], &jit[m], sizeof aot[m]))
                fail_msg("case %d: the AOT forward's map %d differs from the library's", c, m);
        bufs_free(&b);
    }
    dlclose(so);
    unsetenv("ATTNC_O_TMA");
    setenv("ATTNC_CACHE_DIR", own_cache, 1);
    tmpdir_remove(dir);
}

int main(void)
{
    locate_fake();
    setenv("ATTNC_LIBCUDA", fake_path, 1);
    /* ptxas is a script that copies the PTX: the fake driver's modules are
     * PTX text, and the cubin cache gets a "cubin" to keep */
    char *jit_dir = tmpdir_make(), script[PATH_MAX];
    snprintf(script, sizeof script, "%s/ptxas", jit_dir);
    snprintf(ptxas_runs, sizeof ptxas_runs, "%s/runs", jit_dir);
    FILE *f = fopen(script, "w");
    if (!f)
        return 1;
    /* the copy ends in a NUL: the fake driver reads its "cubin" as a string */
    fprintf(f, "#!/bin/sh\n# -arch=A -o OUT IN\necho run >> '%s'\n{ cat \"$4\"; printf '\\000'; } > \"$3\"\n",
            ptxas_runs);
    fclose(f);
    chmod(script, 0755);
    setenv("ATTNC_PTXAS", script, 1);
    setenv("ATTNC_JIT", "ptxas", 1);
    snprintf(own_cache, sizeof own_cache, "%s/cache", jit_dir);
    setenv("ATTNC_CACHE_DIR", own_cache, 1);
    void *h = dlopen(fake_path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("fake driver missing (%s): nothing to test\n", fake_path);
        return 1;
    }
    last_launch = (const fake_launch *(*)(void))dlsym(h, "fake_cuda_last_launch");
    link_count = (int (*)(void))dlsym(h, "fake_cuda_link_count");
    last_alloc = (size_t(*)(void))dlsym(h, "fake_cuda_last_alloc");
    stream_waits = (int (*)(void))dlsym(h, "fake_cuda_stream_waits");
    launch_stream = (void *(*)(int))dlsym(h, "fake_cuda_launch_stream");
    const struct CMUnitTest tests[] = {cmocka_unit_test(hand_kernel_launch), cmocka_unit_test(api_launch),
                                       cmocka_unit_test(no_keys_launch), cmocka_unit_test(varlen_launch),
                                       cmocka_unit_test(cubin_cache), cmocka_unit_test(tuned_cuda_launch),
                                       cmocka_unit_test(serial_launches), cmocka_unit_test(backward_cache_launch),
                                       cmocka_unit_test(backward_bulk_launch), cmocka_unit_test(aot_backward_maps),
                                       cmocka_unit_test(aot_o_tma_maps),
                                       cmocka_unit_test(jit_choices)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dlclose(h);
    tmpdir_remove(jit_dir); /* the stand-in ptxas, its log and the tests' cache */
    return rc;
}
