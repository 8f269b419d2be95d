/* test_gpu_varlen.c — varlen (packed, cu_seqlens) launches on the CUDA
 * backend against the fp64 reference run per sequence (ref_run_varlen):
 * causal, windowed, sinks + window, GQA, cross attention with its own key
 * lengths, documents and a neighborhood, on sequences of length 1, 0 and
 * lengths no tile divides, with the device's default schedule (wgmma + TMA
 * on sm_90a, whose tensor maps are encoded per sequence) and a pinned
 * sm_80-style one. Device outputs are poisoned before each launch. Without
 * a driver: "skipped: no CUDA driver". */
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
#include "runtime/api_typed.h"

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

static const char *const schedules[] = {NULL, "q=64 kv=64 stages=2 warps=4"};

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
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t s = 0; s < sizeof schedules / sizeof schedules[0]; s++)
            for (size_t l = 0; l < sizeof seqs / sizeof seqs[0]; l++)
                failed += run_one(ctx, &cases[c], schedules[s], &seqs[l], seed++);
    attnc_context_destroy(ctx);
    assert_int_equal(failed, 0);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    const struct CMUnitTest tests[] = {cmocka_unit_test(varlen_on_gpu)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
