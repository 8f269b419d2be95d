/* test_varlen.c — varlen (packed, cu_seqlens) launches on the CPU backend
 * (attnc.h, "Variable-length (packed) batches"): every recipe below on
 * packed sequences of awkward lengths (1, 0, lengths no tile divides)
 * against the fp64 reference run per sequence (ref_run_varlen), under
 * several tilings; then the validation of bad arrays and shapes, which
 * must fail before anything is written. Prints one line per case; exits 1
 * when any fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference/ref_check.h"
#include "reference/ref_grad_check.h"
#include "reference/reference.h"
#include "runtime/api/api_typed.h"

typedef struct vcase {
    const char *name, *text;
    int64_t heads, kv_heads;
    bool tiles; /* try the schedules below (softmax recipes) */
} vcase;

static const vcase cases[] = {
    {"causal", "input q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal\n", 2, 0, true},
    {"window", "input q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal && sliding_window(16, 0)\n", 2, 0, true},
    {"sinks_window", "input q, k, v : f16 [batch, heads, tokens, 64]\nmask causal && (sinks(4) || sliding_window(20, 0))\n",
     2, 0, true},
    {"gqa", "input q : bf16 [batch, heads, tokens, 64]\ninput k, v : bf16 [batch, kv_heads, tokens, 64]\nmask causal\n", 4,
     2, true},
    {"dense_f32", "input q, k, v : f32 [batch, heads, tokens, 32]\n", 2, 0, true},
    {"document", "input q, k, v : bf16 [batch, heads, tokens, 64]\nparam doc : i32 [batch, tokens]\n"
                 "mask causal && document(doc)\n", 2, 0, true},
    {"bias_tokens", "input q, k, v : f32 [batch, heads, tokens, 32]\nparam bias : f32 [heads, tokens]\n"
                    "score s + bias[head, k.t]\nmask causal\n", 2, 0, true},
    {"bias_full", "input q, k, v : f32 [batch, heads, tokens, 32]\nparam bias : f32 [batch, heads, tokens, tokens]\n"
                  "score s + bias[batch, head, q.t, k.t]\n", 2, 0, true},
};

/* Cross attention: kv lengths of their own; masks read kv_tokens. */
static const vcase cross_cases[] = {
    {"cross_tail", "input q : bf16 [batch, heads, tokens, 64]\ninput k, v : bf16 [batch, heads, kv_tokens, 64]\n"
                   "mask sinks(4) || k.t >= kv_tokens - 16\n", 2, 0, true},
    {"cross_causal", "input q : f32 [batch, heads, tokens, 32]\ninput k, v : f32 [batch, heads, kv_tokens, 32]\n"
                     "mask k.t <= q.t\n", 2, 0, true},
    /* FlashAttention's bottom-right causal alignment, written with each sequence's own sizes */
    {"cross_bottom_right", "input q : bf16 [batch, heads, tokens, 64]\ninput k, v : bf16 [batch, heads, kv_tokens, 64]\n"
                           "mask k.t <= q.t + kv_tokens - tokens\n", 2, 0, true},
};

static const char *const schedules[] = {NULL, "q=16 kv=16", "q=32 kv=64", "q=64 kv=16"};

typedef struct lens {
    int n;
    int32_t q[8], k[8];
} lens;

static const lens seqs[] = {
    {4, {5, 300, 1, 77}, {9, 120, 0, 200}},
    {5, {0, 64, 0, 129, 1}, {3, 64, 5, 0, 1}},
    {1, {1}, {1}},
    {3, {17, 0, 33}, {0, 40, 33}},
};

static void offsets(const int32_t *len, int n, int32_t *cu)
{
    cu[0] = 0;
    for (int i = 0; i < n; i++)
        cu[i + 1] = cu[i] + len[i];
}

static bool run_one(attnc_context *ctx, const char *name, const char *body, int64_t heads, int64_t kv_heads,
                    const char *sched, const lens *L, bool cross, uint64_t seed)
{
    char text[1024];
    snprintf(text, sizeof text, "recipe %s\n%s", name, body);
    attnc_recipe *rc = NULL;
    attnc_kernel *k = NULL;
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.schedule = sched;
    if (attnc_recipe_from_text(&rc, ctx, name, text, strlen(text)) || attnc_kernel_build(&k, ctx, rc, &o)) {
        printf("[FAIL] %s: %s\n", name, attnc_context_errmsg(ctx));
        attnc_recipe_destroy(rc);
        return false;
    }
    int32_t cq[9], ck[9];
    offsets(L->q, L->n, cq);
    offsets(cross ? L->k : L->q, L->n, ck);
    ref_shape shape = {.batch = 1, .heads = heads, .kv_heads = kv_heads, .tokens = cq[L->n], .kv_tokens = ck[L->n]};
    if (shape.kv_tokens == 0)
        shape.zero |= 1u << SZ_KV_TOKENS;
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/numeric_failures/varlen_%s", ATTNC_BINARY_DIR, name);
    ref_check_opts co = {.seed = seed, .dump_prefix = prefix, .check = true, .nseq = L->n, .cu_q = cq,
                         .cu_k = cross ? ck : NULL};
    ref_check_result res;
    bool ok = ref_check_kernel(k, attnc_recipe_typed(rc), &shape, &co, &res);
    printf("[%s] %s [%s] %d sequences, %d..%d tokens, seed %llu: %s\n", ok ? "PASS" : "FAIL", name,
           attnc_kernel_schedule(k), L->n, cq[L->n], ck[L->n], (unsigned long long)seed, res.msg);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    return ok;
}

/* Bad launches fail with the right status and a message naming the
 * problem, and write nothing (o stays poisoned). */
static bool validation(attnc_context *ctx)
{
    const char *text = "recipe v\ninput q, k, v : f32 [batch, heads, tokens, 16]\nmask causal\n";
    attnc_recipe *rc = NULL;
    attnc_kernel *k = NULL;
    if (attnc_recipe_from_text(&rc, ctx, "v", text, strlen(text)) || attnc_kernel_build(&k, ctx, rc, NULL)) {
        printf("[FAIL] validation: build: %s\n", attnc_context_errmsg(ctx));
        return false;
    }
    enum { T = 10 };
    static float q[T * 16], o[T * 16];
    for (int i = 0; i < T * 16; i++)
        q[i] = 0.01f * (float)i, o[i] = NAN;
    attnc_tensor t = {ATTNC_F32, q, 4, {1, 1, T, 16}, {T * 16, T * 16, 16, 1}}, to = t;
    to.data = o;
    struct {
        const char *what;
        int32_t cu[4];
        int64_t n;       /* elements */
        attnc_dtype dt;
        int64_t batch;   /* q's shape[0] */
        attnc_status want;
        const char *needle;
    } bad[] = {
        {"start not 0", {1, 5, T}, 3, ATTNC_I32, 1, ATTNC_ERR_INVALID_ARGUMENT, "element 0"},
        {"decreasing", {0, 6, 5, T}, 4, ATTNC_I32, 1, ATTNC_ERR_INVALID_ARGUMENT, "never decrease"},
        {"last != total", {0, 5, 9}, 3, ATTNC_I32, 1, ATTNC_ERR_INVALID_ARGUMENT, "last element"},
        {"one element", {0}, 1, ATTNC_I32, 1, ATTNC_ERR_INVALID_ARGUMENT, "sequences"},
        {"int64", {0, 5, T}, 3, ATTNC_I64, 1, ATTNC_ERR_INVALID_ARGUMENT, "int32"},
        {"batch 2", {0, 5, T}, 3, ATTNC_I32, 2, ATTNC_ERR_INVALID_ARGUMENT, "batch 1"},
    };
    int failed = 0;
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        attnc_args *a = NULL;
        attnc_args_create(&a, k);
        attnc_tensor tq = t, tov = to;
        if (bad[c].batch == 2) { /* the same buffer seen as 2 x 5 tokens */
            tq.shape[0] = tov.shape[0] = 2, tq.shape[2] = tov.shape[2] = 5;
        }
        attnc_tensor cu = {bad[c].dt, bad[c].cu, 1, {bad[c].n}, {1}};
        attnc_args_set_tensor(a, "q", &tq);
        attnc_args_set_tensor(a, "k", &tq);
        attnc_args_set_tensor(a, "v", &tq);
        attnc_args_set_tensor(a, "o", &tov);
        attnc_args_set_tensor(a, "cu_seqlens_q", &cu);
        attnc_status st = attnc_launch(k, a, NULL);
        bool untouched = true;
        for (int i = 0; i < T * 16; i++)
            untouched = untouched && isnan(o[i]);
        bool ok = st == bad[c].want && strstr(attnc_kernel_errmsg(k), bad[c].needle) && untouched;
        printf("[%s] validation: %s -> %s: %s\n", ok ? "PASS" : "FAIL", bad[c].what, attnc_status_string(st),
               attnc_kernel_errmsg(k));
        failed += !ok;
        attnc_args_destroy(a);
    }
    /* self-attention with different q and k lengths */
    {
        attnc_args *a = NULL;
        attnc_args_create(&a, k);
        int32_t cq[3] = {0, 4, T}, ck[3] = {0, 5, T};
        attnc_tensor tq = {ATTNC_I32, cq, 1, {3}, {1}}, tk = tq;
        tk.data = ck;
        attnc_args_set_tensor(a, "q", &t);
        attnc_args_set_tensor(a, "k", &t);
        attnc_args_set_tensor(a, "v", &t);
        attnc_args_set_tensor(a, "o", &to);
        attnc_args_set_tensor(a, "cu_seqlens_q", &tq);
        attnc_args_set_tensor(a, "cu_seqlens_k", &tk);
        attnc_status st = attnc_launch(k, a, NULL);
        bool ok = st == ATTNC_ERR_INVALID_ARGUMENT && strstr(attnc_kernel_errmsg(k), "not cross-attention") && isnan(o[0]);
        printf("[%s] validation: self-attention, q and k lengths differ -> %s: %s\n", ok ? "PASS" : "FAIL",
               attnc_status_string(st), attnc_kernel_errmsg(k));
        failed += !ok;
        attnc_args_destroy(a);
    }
    /* attnc_args_set_data replaces the arrays' pointers too; a huge stride is refused before any slicing */
    {
        attnc_args *a = NULL;
        attnc_args_create(&a, k);
        int32_t good[3] = {0, 4, T}, bad1[3] = {2, 4, T};
        attnc_tensor tc = {ATTNC_I32, good, 1, {3}, {1}}, th = t;
        attnc_args_set_tensor(a, "q", &t);
        attnc_args_set_tensor(a, "k", &t);
        attnc_args_set_tensor(a, "v", &t);
        attnc_args_set_tensor(a, "o", &to);
        attnc_args_set_tensor(a, "cu_seqlens_q", &tc);
        const char *names[] = {"cu_seqlens_q"};
        void *data[] = {bad1};
        attnc_status sd = attnc_args_set_data(a, 1, names, data);
        attnc_status st = attnc_launch(k, a, NULL);
        bool ok = sd == ATTNC_OK && st == ATTNC_ERR_INVALID_ARGUMENT && strstr(attnc_kernel_errmsg(k), "element 0") &&
                  isnan(o[0]);
        printf("[%s] validation: attnc_args_set_data on cu_seqlens_q -> %s: %s\n", ok ? "PASS" : "FAIL",
               attnc_status_string(st), attnc_kernel_errmsg(k));
        failed += !ok;
        data[0] = good;
        attnc_args_set_data(a, 1, names, data);
        attnc_tensor ts = to; /* an o shorter than q: refused, never sliced past its end */
        ts.shape[2] = T - 2;
        attnc_args_set_tensor(a, "o", &ts);
        st = attnc_launch(k, a, NULL);
        ok = st == ATTNC_ERR_INVALID_ARGUMENT && strstr(attnc_kernel_errmsg(k), "packed tensors share") && isnan(o[0]);
        printf("[%s] validation: o shorter than q -> %s: %s\n", ok ? "PASS" : "FAIL", attnc_status_string(st),
               attnc_kernel_errmsg(k));
        failed += !ok;
        attnc_args_set_tensor(a, "o", &to);
        th.stride[2] = (int64_t)1 << 61; /* q's span overflows */
        attnc_args_set_tensor(a, "q", &th);
        st = attnc_launch(k, a, NULL);
        ok = st == ATTNC_ERR_INVALID_ARGUMENT && isnan(o[0]);
        printf("[%s] validation: stride 2^61 -> %s: %s\n", ok ? "PASS" : "FAIL", attnc_status_string(st),
               attnc_kernel_errmsg(k));
        failed += !ok;
        attnc_args_set_tensor(a, "q", &t); /* and the good launch runs and writes */
        st = attnc_launch(k, a, NULL);
        ok = st == ATTNC_OK && !isnan(o[0]) && !isnan(o[T * 16 - 1]);
        printf("[%s] varlen launch after the failures -> %s\n", ok ? "PASS" : "FAIL", attnc_status_string(st));
        failed += !ok;
        for (int i = 0; i < T * 16; i++)
            o[i] = NAN;
        attnc_args_destroy(a);
    }
    /* a kv-split program refuses cu_seqlens instead of ignoring them */
    {
        attnc_program *pg = NULL;
        attnc_args *a = NULL;
        int32_t cq[3] = {0, 4, T};
        attnc_tensor tc = {ATTNC_I32, cq, 1, {3}, {1}};
        bool ok = !attnc_program_build_kv_split(&pg, ctx, rc, 2, NULL) && !attnc_program_args_create(&a, pg);
        attnc_status st = ATTNC_OK;
        if (ok) {
            attnc_args_set_tensor(a, "q", &t);
            attnc_args_set_tensor(a, "k", &t);
            attnc_args_set_tensor(a, "v", &t);
            attnc_args_set_tensor(a, "o", &to);
            attnc_args_set_tensor(a, "cu_seqlens_q", &tc);
            st = attnc_program_launch(pg, a, NULL);
        }
        ok = ok && st == ATTNC_ERR_UNSUPPORTED && isnan(o[0]);
        printf("[%s] validation: kv-split program with cu_seqlens -> %s: %s\n", ok ? "PASS" : "FAIL",
               attnc_status_string(st), pg ? attnc_program_errmsg(pg) : attnc_context_errmsg(ctx));
        failed += !ok;
        attnc_args_destroy(a);
        attnc_program_destroy(pg);
    }
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    /* a token grid: unsupported */
    const char *grid = "recipe g\ninput q, k, v : f32 [batch, heads, tokens, 16]\ntokens grid(y: H, x: W)\n"
                       "mask neighborhood(window: (3, 3))\n";
    if (attnc_recipe_from_text(&rc, ctx, "g", grid, strlen(grid)) || attnc_kernel_build(&k, ctx, rc, NULL)) {
        printf("[FAIL] validation: grid build: %s\n", attnc_context_errmsg(ctx));
        return false;
    }
    attnc_args *a = NULL;
    attnc_args_create(&a, k);
    int32_t cq[2] = {0, 9};
    attnc_tensor tc = {ATTNC_I32, cq, 1, {2}, {1}}, tg = t, tgo = to;
    tg.shape[2] = tgo.shape[2] = 9;
    attnc_args_set_tensor(a, "q", &tg);
    attnc_args_set_tensor(a, "k", &tg);
    attnc_args_set_tensor(a, "v", &tg);
    attnc_args_set_tensor(a, "o", &tgo);
    attnc_args_set_size(a, "H", 3);
    attnc_args_set_size(a, "W", 3);
    attnc_args_set_tensor(a, "cu_seqlens_q", &tc);
    attnc_status st = attnc_launch(k, a, NULL);
    bool ok = st == ATTNC_ERR_UNSUPPORTED && isnan(o[0]);
    printf("[%s] validation: token grid -> %s: %s\n", ok ? "PASS" : "FAIL", attnc_status_string(st),
           attnc_kernel_errmsg(k));
    failed += !ok;
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    return failed == 0;
}

/* f32 [1, h, n, d] contiguous, random in [-1, 1) */
static attnc_tensor f32_tensor(float *data, int64_t h, int64_t n, int64_t d, ref_rng *rng)
{
    for (int64_t i = 0; i < h * n * d; i++)
        data[i] = (float)(ref_rng_next(rng) % 20001) / 10000.0f - 1.0f;
    attnc_tensor t = {ATTNC_F32, data, 4, {1, h, n, d}, {h * n * d, n * d, d, 1}};
    return t;
}

static ref_view view(const attnc_tensor *t)
{
    ref_view v = {DT_F32, t->data, 4, {0}, {0}};
    memcpy(v.shape, t->shape, sizeof v.shape);
    memcpy(v.stride, t->stride, sizeof v.stride);
    return v;
}

/* Varlen forward then backward on the CPU, dq, dk, dv against the
 * reference's per-sequence gradients (ref_backward_varlen). */
static bool backward_case(attnc_context *ctx, const char *name, const char *body, int64_t H, int64_t Hk,
                          const lens *L, bool cross, uint64_t seed)
{
    char text[1024];
    snprintf(text, sizeof text, "recipe %s\n%s", name, body);
    attnc_recipe *rc = NULL;
    attnc_kernel *fk = NULL, *bk = NULL;
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.schedule = "q=16 kv=32";
    if (attnc_recipe_from_text(&rc, ctx, name, text, strlen(text)) || attnc_kernel_build(&fk, ctx, rc, &o) ||
        attnc_kernel_build_backward(&bk, ctx, rc, &o)) {
        printf("[FAIL] backward %s: %s\n", name, attnc_context_errmsg(ctx));
        attnc_kernel_destroy(fk);
        attnc_recipe_destroy(rc);
        return false;
    }
    int32_t cq[9], ck[9];
    offsets(L->q, L->n, cq);
    offsets(cross ? L->k : L->q, L->n, ck);
    int64_t T = cq[L->n], Tk = ck[L->n], D = 32;
    ref_rng rng;
    ref_rng_seed(&rng, seed);
    size_t nq = (size_t)(H * T * D), nk = (size_t)(Hk * Tk * D);
    float *q = malloc(4 * nq + 4), *kk = malloc(4 * nk + 4), *v = malloc(4 * nk + 4), *out = malloc(4 * nq + 4),
          *lse = malloc(4 * (size_t)(H * T) + 4), *dout = malloc(4 * nq + 4), *dq = malloc(4 * nq + 4),
          *dk = malloc(4 * nk + 4), *dv = malloc(4 * nk + 4);
    double *rq = malloc(8 * nq + 8), *rk = malloc(8 * nk + 8), *rv = malloc(8 * nk + 8);
    attnc_tensor tq = f32_tensor(q, H, T, D, &rng), tk = f32_tensor(kk, Hk, Tk, D, &rng), tv = f32_tensor(v, Hk, Tk, D, &rng),
                 tdo = f32_tensor(dout, H, T, D, &rng), to = tq, tdq = tq, tdk = tk, tdv = tk;
    to.data = out, tdq.data = dq, tdk.data = dk, tdv.data = dv;
    attnc_tensor tl = {ATTNC_F32, lse, 3, {1, H, T}, {H * T, T, 1}};
    attnc_tensor cuq = {ATTNC_I32, cq, 1, {L->n + 1}, {1}}, cuk = cuq;
    cuk.data = ck;
    for (size_t i = 0; i < nq; i++)
        dq[i] = NAN;
    for (size_t i = 0; i < nk; i++)
        dk[i] = dv[i] = NAN;
    attnc_args *fa = NULL, *ba = NULL;
    attnc_args_create(&fa, fk);
    attnc_args_create(&ba, bk);
    const char *fn[] = {"q", "k", "v", "o", "lse", "cu_seqlens_q", "cu_seqlens_k"};
    const attnc_tensor *ft[] = {&tq, &tk, &tv, &to, &tl, &cuq, &cuk};
    for (int i = 0; i < 7; i++) {
        attnc_args_set_tensor(fa, fn[i], ft[i]);
        attnc_args_set_tensor(ba, fn[i], ft[i]);
    }
    attnc_args_set_tensor(ba, "do", &tdo);
    attnc_args_set_tensor(ba, "dq", &tdq);
    attnc_args_set_tensor(ba, "dk", &tdk);
    attnc_args_set_tensor(ba, "dv", &tdv);
    attnc_status st = attnc_launch(fk, fa, NULL);
    if (!st)
        st = attnc_launch(bk, ba, NULL);
    bool ok = !st;
    char msg[512] = "";
    if (st) {
        snprintf(msg, sizeof msg, "%s: %s", attnc_status_string(st), attnc_kernel_errmsg(st ? bk : fk));
    } else {
        ref_problem p = {attnc_recipe_typed(rc), {0}, view(&tq), view(&tk), view(&tv), NULL};
        p.sizes[SZ_BATCH] = 1, p.sizes[SZ_HEADS] = H, p.sizes[SZ_KV_HEADS] = Hk, p.sizes[SZ_TOKENS] = T,
        p.sizes[SZ_KV_TOKENS] = Tk;
        ref_view vdo = view(&tdo);
        const char *why = "";
        ok = ref_backward_varlen(&p, L->n, cq, ck, &vdo, rq, rk, rv, &why);
        double tol = ref_grad_tolerance(DT_F32);
        ref_compare_result c[3] = {ref_compare(rq, DT_F32, dq, nq, tol), ref_compare(rk, DT_F32, dk, nk, tol),
                                   ref_compare(rv, DT_F32, dv, nk, tol)};
        ok = ok && c[0].ok && c[1].ok && c[2].ok;
        snprintf(msg, sizeof msg, "%s dq rel L2 %.3g, dk %.3g, dv %.3g (%zu+%zu+%zu non-finite/unwritten; tol %.0e)", why,
                 c[0].rel_l2, c[1].rel_l2, c[2].rel_l2, c[0].nan_count + c[0].unwritten, c[1].nan_count + c[1].unwritten,
                 c[2].nan_count + c[2].unwritten, tol);
    }
    printf("[%s] backward %s %d sequences, %lld/%lld tokens: %s\n", ok ? "PASS" : "FAIL", name, L->n, (long long)T,
           (long long)Tk, msg);
    attnc_args_destroy(fa);
    attnc_args_destroy(ba);
    free(q), free(kk), free(v), free(out), free(lse), free(dout), free(dq), free(dk), free(dv), free(rq), free(rk), free(rv);
    attnc_kernel_destroy(fk);
    attnc_kernel_destroy(bk);
    attnc_recipe_destroy(rc);
    return ok;
}

int main(void)
{
    attnc_context *ctx = NULL;
    if (attnc_context_create(&ctx, NULL))
        return 1;
    int failed = 0;
    uint64_t seed = 1;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t s = 0; s < sizeof schedules / sizeof schedules[0]; s++)
            for (size_t l = 0; l < sizeof seqs / sizeof seqs[0]; l++)
                failed += !run_one(ctx, cases[c].name, cases[c].text, cases[c].heads, cases[c].kv_heads, schedules[s],
                                   &seqs[l], false, seed++);
    for (size_t c = 0; c < sizeof cross_cases / sizeof cross_cases[0]; c++)
        for (size_t s = 0; s < sizeof schedules / sizeof schedules[0]; s++)
            for (size_t l = 0; l < sizeof seqs / sizeof seqs[0]; l++)
                failed += !run_one(ctx, cross_cases[c].name, cross_cases[c].text, cross_cases[c].heads,
                                   cross_cases[c].kv_heads, schedules[s], &seqs[l], true, seed++);
    /* neighborhoods clamp at each sequence's own borders: lengths >= the window */
    static const lens nb[] = {{4, {5, 40, 0, 77}, {0}}, {2, {9, 5}, {0}}};
    for (size_t s = 0; s < sizeof schedules / sizeof schedules[0]; s++)
        for (size_t l = 0; l < 2; l++)
            failed += !run_one(ctx, "neighborhood", "input q, k, v : bf16 [batch, heads, tokens, 64]\n"
                                                    "mask neighborhood(window: 5)\n",
                               2, 0, schedules[s], &nb[l], false, seed++);
    /* linear attention (per-sequence recurrences), recipes from the library */
    static const char *const linear[] = {"linear_elu", "gated_linear"};
    for (size_t i = 0; i < 2; i++)
        for (size_t l = 0; l < sizeof seqs / sizeof seqs[0]; l++) {
            char path[256];
            snprintf(path, sizeof path, "recipes/%s.attn", linear[i]);
            attnc_recipe *rc = NULL;
            attnc_kernel *k = NULL;
            if (attnc_recipe_from_file(&rc, ctx, path) || attnc_kernel_build(&k, ctx, rc, NULL)) {
                printf("[FAIL] %s: %s\n", path, attnc_context_errmsg(ctx));
                failed++;
                attnc_recipe_destroy(rc);
                continue;
            }
            int32_t cq[9];
            offsets(seqs[l].q, seqs[l].n, cq);
            ref_shape shape = {.batch = 1, .heads = 2, .tokens = cq[seqs[l].n]};
            ref_check_opts co = {.seed = seed++, .check = true, .nseq = seqs[l].n, .cu_q = cq};
            ref_check_result res;
            bool ok = ref_check_kernel(k, attnc_recipe_typed(rc), &shape, &co, &res);
            printf("[%s] %s %d sequences: %s\n", ok ? "PASS" : "FAIL", linear[i], seqs[l].n, res.msg);
            failed += !ok;
            attnc_kernel_destroy(k);
            attnc_recipe_destroy(rc);
        }
    /* the backward (CPU): self-attention, GQA, a window, cross attention
     * (every sequence with keys has a query: attnc.h) */
    static const lens bl[] = {{4, {5, 70, 1, 33}, {9, 40, 3, 50}}, {3, {0, 45, 17}, {0, 20, 60}}};
    for (size_t l = 0; l < 2; l++) {
        failed += !backward_case(ctx, "bcausal", "input q, k, v : f32 [batch, heads, tokens, 32]\nmask causal\n", 2, 2,
                                 &bl[l], false, seed++);
        failed += !backward_case(ctx, "bgqa",
                                 "input q : f32 [batch, heads, tokens, 32]\ninput k, v : f32 [batch, kv_heads, tokens, 32]\n"
                                 "mask causal && sliding_window(9, 0)\n",
                                 4, 2, &bl[l], false, seed++);
        failed += !backward_case(ctx, "bcross",
                                 "input q : f32 [batch, heads, tokens, 32]\ninput k, v : f32 [batch, heads, kv_tokens, 32]\n"
                                 "mask k.t <= q.t || k.t >= kv_tokens - 4\n",
                                 2, 2, &bl[l], true, seed++);
    }
    failed += !validation(ctx);
    attnc_context_destroy(ctx);
    printf("%s\n", failed ? "FAILED" : "all passed");
    return failed ? 1 : 0;
}
