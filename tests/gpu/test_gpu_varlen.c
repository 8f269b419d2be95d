/* test_gpu_varlen.c — varlen (packed, cu_seqlens) launches on the CUDA
 * backend against the fp64 reference run per sequence (ref_run_varlen):
 * causal, windowed, sinks + window, GQA, cross attention with its own key
 * lengths, documents and a neighborhood, on sequences of length 1, 0 and
 * lengths no tile divides, with the device's default schedule (wgmma + TMA
 * on sm_90a, whose tensor maps are encoded per sequence), a pinned
 * sm_80-style one and, on sm_90a, the overlapped key loop (overlap=1).
 * Device outputs are poisoned before each launch. Then
 * the varlen backward on CUDA against the CPU's (checked against the fp64
 * reference by tests/numeric/test_varlen.c). Without a driver: "skipped:
 * no CUDA driver". */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_case.h"
#include "reference/ref_check.h"
#include "runtime/api/api_typed.h"

typedef struct vcase {
    const char *name, *text;
    int64_t heads, kv_heads;
    bool cross;
} vcase;

static const vcase cases[] = {
    {"causal", "input q, k, v : bf16 [batch, heads, tokens, 128]\nmask causal\n", 2, 0, false},
    {"window", "input q, k, v : bf16 [batch, heads, tokens, 128]\nmask causal && sliding_window(100, 0)\n", 2, 0, false},
    {"sinks_window", "input q, k, v : f16 [batch, heads, tokens, 64]\nmask causal && (sinks(4) || sliding_window(50, 0))\n",
     2, 0, false},
    {"gqa", "input q : bf16 [batch, heads, tokens, 128]\ninput k, v : bf16 [batch, kv_heads, tokens, 128]\nmask causal\n",
     4, 2, false},
    {"document", "input q, k, v : bf16 [batch, heads, tokens, 64]\nparam doc : i32 [batch, tokens]\n"
                 "mask causal && document(doc)\n", 2, 0, false},
    {"neighborhood", "input q, k, v : f16 [batch, heads, tokens, 64]\nmask neighborhood(window: 5)\n", 2, 0, false},
    {"cross_tail", "input q : bf16 [batch, heads, tokens, 64]\ninput k, v : bf16 [batch, heads, kv_tokens, 64]\n"
                   "mask sinks(4) || k.t >= kv_tokens - 16\n", 2, 0, true},
};

typedef struct lens {
    int n;
    int32_t q[8], k[8];
} lens;

/* neighborhood(window: 5) needs every non-empty sequence at least 5 long */
static const lens seqs[] = {
    {4, {5, 300, 0, 77}, {9, 120, 0, 200}},
    {5, {1000, 64, 0, 129, 7}, {3, 64, 5, 0, 1000}},
    {3, {2049, 0, 333}, {0, 40, 333}},
};

/* The default, a pinned sm_80-style schedule and, on Hopper, the
 * overlapped key loop (causal's default there) spelled out. */
static const char *const schedules[] = {NULL, "q=64 kv=64 stages=2 warps=4", "q=128 kv=128 stages=2 warps=8 overlap=1"};
enum { NSCHED_ANY = 2 };

static void offsets(const int32_t *len, int n, int32_t *cu)
{
    cu[0] = 0;
    for (int i = 0; i < n; i++)
        cu[i + 1] = cu[i] + len[i];
}

static int run_one(attnc_context *ctx, const vcase *c, const char *sched, const lens *L, uint64_t seed)
{
    char text[1024];
    snprintf(text, sizeof text, "recipe %s\n%s", c->name, c->text);
    attnc_recipe *rc = NULL;
    attnc_kernel *k = NULL;
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.schedule = sched;
    if (attnc_recipe_from_text(&rc, ctx, c->name, text, strlen(text)) || attnc_kernel_build(&k, ctx, rc, &o)) {
        printf("[FAIL] %s: %s\n", c->name, attnc_context_errmsg(ctx));
        attnc_recipe_destroy(rc);
        return 1;
    }
    int32_t cq[9], ck[9];
    offsets(L->q, L->n, cq);
    offsets(c->cross ? L->k : L->q, L->n, ck);
    strbuf err;
    sb_init(&err);
    ref_mem_ops dev = gpu_ref_mem(&err);
    ref_shape shape = {.batch = 1, .heads = c->heads, .kv_heads = c->kv_heads, .tokens = cq[L->n], .kv_tokens = ck[L->n]};
    ref_check_opts co = {.seed = seed, .check = true, .mem = &dev, .nseq = L->n, .cu_q = cq, .cu_k = c->cross ? ck : NULL};
    ref_check_result res;
    bool ok = ref_check_kernel(k, attnc_recipe_typed(rc), &shape, &co, &res);
    printf("[%s] %s [%s, ran %s] %d sequences, %d/%d tokens: %s%s%s\n", ok ? "PASS" : "FAIL", c->name,
           attnc_kernel_schedule(k), attnc_kernel_last_schedule(k), L->n, cq[L->n], ck[L->n], res.msg,
           err.len ? ": " : "", sb_cstr(&err));
    sb_free(&err);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    return !ok;
}

static void varlen_on_gpu(void **state)
{
    (void)state;
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int failed = 0;
    uint64_t seed = 5000;
    size_t nsched = gpu_hopper("the overlapped key loop on varlen") ? sizeof schedules / sizeof schedules[0] : NSCHED_ANY;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t s = 0; s < nsched; s++)
            for (size_t l = 0; l < sizeof seqs / sizeof seqs[0]; l++)
                failed += run_one(ctx, &cases[c], schedules[s], &seqs[l], seed++);
    attnc_context_destroy(ctx);
    assert_int_equal(failed, 0);
}

/* ---- the backward: CUDA varlen gradients against the CPU's (which
 * tests/numeric/test_varlen.c checks against the fp64 reference) ---- */

enum { BT = 5 + 130 + 1 + 77, BH = 2, BD = 64 };
static const int32_t bcu[5] = {0, 5, 135, 136, BT};

typedef struct bufs {
    uint16_t *t[9]; /* q, k, v, o, do, dq, dk, dv (bf16), lse (f32 bits) */
} bufs;

static const char *const bnames[9] = {"q", "k", "v", "o", "do", "dq", "dk", "dv", "lse"};

static attnc_tensor bt(int i, void *data)
{
    if (i == 8) {
        attnc_tensor t = {ATTNC_F32, data, 3, {1, BH, BT}, {BH * BT, BT, 1}};
        return t;
    }
    attnc_tensor t = {ATTNC_BF16, data, 4, {1, BH, BT, BD}, {BH * BT * BD, BT * BD, BD, 1}};
    return t;
}

/* Forward then backward of k/bk with the tensors at ptr[] (host or device). */
static bool run_fb(attnc_kernel *fk, attnc_kernel *bk, void *const ptr[9], void *stream)
{
    attnc_tensor cu = {ATTNC_I32, (void *)bcu, 1, {5}, {1}};
    attnc_args *fa = NULL, *ba = NULL;
    bool ok = !attnc_args_create(&fa, fk) && !attnc_args_create(&ba, bk);
    for (int i = 0; ok && i < 9; i++) {
        attnc_tensor t = bt(i, ptr[i]);
        if (i <= 3 || i == 8)
            ok = !attnc_args_set_tensor(fa, bnames[i], &t);
        ok = ok && !attnc_args_set_tensor(ba, bnames[i], &t);
    }
    ok = ok && !attnc_args_set_tensor(fa, "cu_seqlens_q", &cu) && !attnc_args_set_tensor(ba, "cu_seqlens_q", &cu);
    if (ok && attnc_launch(fk, fa, stream))
        ok = false, printf("[FAIL] forward: %s\n", attnc_kernel_errmsg(fk));
    if (ok && attnc_launch(bk, ba, stream))
        ok = false, printf("[FAIL] backward: %s\n", attnc_kernel_errmsg(bk));
    attnc_args_destroy(fa);
    attnc_args_destroy(ba);
    return ok;
}

static bool build_pair(attnc_context *ctx, attnc_recipe *rc, attnc_backend be, attnc_kernel **fk, attnc_kernel **bk)
{
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = be;
    if (attnc_kernel_build(fk, ctx, rc, &o) || attnc_kernel_build_backward(bk, ctx, rc, &o)) {
        printf("[FAIL] build: %s\n", attnc_context_errmsg(ctx));
        return false;
    }
    return true;
}

static void varlen_backward_on_gpu(void **state)
{
    (void)state;
    static const char *text = "recipe bcausal\ninput q, k, v : bf16 [batch, heads, tokens, 64]\n"
                              "mask causal && sliding_window(60, 0)\n";
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    attnc_recipe *rc = NULL;
    assert_int_equal(attnc_recipe_from_text(&rc, ctx, "bcausal", text, strlen(text)), ATTNC_OK);
    attnc_kernel *cf = NULL, *cb = NULL, *gf = NULL, *gb = NULL;
    assert_true(build_pair(ctx, rc, ATTNC_BACKEND_CPU, &cf, &cb) && build_pair(ctx, rc, ATTNC_BACKEND_CUDA, &gf, &gb));
    size_t n = (size_t)BH * BT * BD, bytes[9];
    void *host[9], *gpu_host[9], *dev[9];
    strbuf err;
    sb_init(&err);
    ref_mem_ops m = gpu_ref_mem(&err);
    uint64_t seed = 77;
    for (int i = 0; i < 9; i++) {
        bytes[i] = i == 8 ? (size_t)BH * BT * 4 : n * 2;
        host[i] = malloc(bytes[i]);
        gpu_host[i] = malloc(bytes[i]);
        dev[i] = m.alloc(m.user, bytes[i]);
        assert_non_null(host[i]);
        assert_non_null(gpu_host[i]);
        assert_non_null(dev[i]);
        if (i == 0 || i == 1 || i == 2 || i == 4) { /* q, k, v, do: random in [-1, 1) */
            float *f = malloc(n * 4);
            for (size_t j = 0; j < n; j++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                f[j] = (float)((seed >> 33) % 20000) / 10000.0f - 1.0f;
            }
            attnc_f32_to_bf16(f, host[i], n);
            free(f);
        } else {
            memset(host[i], 0xff, bytes[i]); /* NaN poison (bf16 and f32) */
        }
        assert_true(m.upload(m.user, dev[i], host[i], bytes[i]));
    }
    assert_true(run_fb(cf, cb, host, NULL));
    assert_true(run_fb(gf, gb, dev, NULL));
    assert_true(m.sync(m.user));
    int failed = 0;
    for (int i = 5; i < 8; i++) {
        assert_true(m.download(m.user, gpu_host[i], dev[i], bytes[i]));
        float *a = malloc(n * 4), *b = malloc(n * 4);
        attnc_bf16_to_f32(host[i], a, n);
        attnc_bf16_to_f32(gpu_host[i], b, n);
        double num = 0, den = 0;
        size_t bad = 0;
        for (size_t j = 0; j < n; j++) {
            bad += !(b[j] == b[j]) || !(a[j] == a[j]);
            num += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
            den += (double)a[j] * a[j];
        }
        double rel = den > 0 ? sqrt(num / den) : sqrt(num);
        bool ok = bad == 0 && rel < 2e-2;
        printf("[%s] varlen backward %s: CUDA vs CPU rel L2 %.3g, %zu NaN%s%s\n", ok ? "PASS" : "FAIL", bnames[i], rel,
               bad, err.len ? ": " : "", sb_cstr(&err));
        failed += !ok;
        free(a);
        free(b);
    }
    for (int i = 0; i < 9; i++) {
        free(host[i]);
        free(gpu_host[i]);
        m.free(m.user, dev[i]);
    }
    sb_free(&err);
    attnc_kernel_destroy(cf);
    attnc_kernel_destroy(cb);
    attnc_kernel_destroy(gf);
    attnc_kernel_destroy(gb);
    attnc_recipe_destroy(rc);
    attnc_context_destroy(ctx);
    assert_int_equal(failed, 0);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    const struct CMUnitTest tests[] = {cmocka_unit_test(varlen_on_gpu), cmocka_unit_test(varlen_backward_on_gpu)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
