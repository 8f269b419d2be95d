/* test_gpu_merge.c — programs of kernels on the GPU against the fp64
 * reference: attention over K/V split into ranges plus the LSE-merge
 * kernel (attnc_program_build_kv_split), and context parallelism with
 * simulated ranks on one device (attnc_cp_*). bf16 and f16, masks at
 * global key positions, rows without keys, shapes that do not divide the
 * tiles; device outputs poisoned before each launch (ref_check_kernel).
 * Without a driver: "skipped: no CUDA driver". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cp_loopback.h"
#include "gpu_case.h"
#include "reference/ref_check.h"
#include "runtime/api/api_typed.h"

typedef struct gcase {
    const char *name, *text;
    ref_shape shape;
} gcase;

static const gcase seq_cases[] = {
    {"causal", "input q, k, v : bf16 [batch, heads, tokens, 128]\nmask causal\n", {.batch = 2, .heads = 3, .tokens = 333}},
    {"window", "input q, k, v : f16 [batch, heads, tokens, 64]\nmask sliding_window(100, 0)\n",
     {.batch = 1, .heads = 2, .tokens = 517, .bshd = true}},
    {"document", "input q, k, v : bf16 [batch, heads, tokens, 128]\nparam doc : i32 [batch, tokens]\n"
                 "mask causal && document(doc)\n", {.batch = 2, .heads = 2, .tokens = 300}},
    {"no_keys", "input q, k, v : bf16 [batch, heads, tokens, 64]\nmask k.t >= q.t + 70\n",
     {.batch = 1, .heads = 2, .tokens = 201}},
    {"dense", "input q, k, v : bf16 [batch, heads, tokens, 64]\n", {.batch = 1, .heads = 1, .tokens = 3}},
};

typedef struct runner {
    attnc_program *p;
    attnc_cp_plan *cp;
    bool per_rank; /* cp: attnc_cp_launch's per-rank ring over a loopback transport */
} runner;

static attnc_status run_launch(void *user, attnc_kernel *k, attnc_args *a)
{
    runner *r = user;
    (void)k;
    if (r->p)
        return attnc_program_launch(r->p, a, NULL);
    return r->per_rank ? cp_loopback_launch(r->cp, a) : attnc_cp_launch_simulated(r->cp, a, NULL);
}

static bool check(const char *what, attnc_kernel *k, const recipe *r, const ref_shape *sh, runner *run, uint64_t seed)
{
    strbuf err;
    sb_init(&err);
    ref_mem_ops dev = gpu_ref_mem(&err);
    ref_check_opts co = {.seed = seed, .check = true, .mem = &dev, .launch = run_launch, .launch_user = run};
    ref_check_result res;
    bool ok = ref_check_kernel(k, r, sh, &co, &res);
    printf("[%s] %s: %s %s %s\n", ok ? "PASS" : "FAIL", what, res.msg, sb_cstr(&err),
           ok ? "" : run->p ? attnc_program_errmsg(run->p) : attnc_cp_errmsg(run->cp));
    sb_free(&err);
    return ok;
}

static void kv_split_on_gpu(void **state)
{
    (void)state;
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int failed = 0;
    for (size_t i = 0; i < sizeof seq_cases / sizeof seq_cases[0]; i++)
        for (int splits = 2; splits <= 3; splits++) {
            const gcase *c = &seq_cases[i];
            char text[1024], what[128];
            snprintf(text, sizeof text, "recipe %s\n%s", c->name, c->text);
            attnc_recipe *rc = NULL;
            attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
            o.backend = ATTNC_BACKEND_CUDA;
            runner run = {0};
            if (attnc_recipe_from_text(&rc, ctx, c->name, text, strlen(text)) ||
                attnc_program_build_kv_split(&run.p, ctx, rc, splits, &o)) {
                printf("[FAIL] %s: %s\n", c->name, attnc_context_errmsg(ctx));
                failed++;
            } else {
                snprintf(what, sizeof what, "kv split %s x%d", c->name, splits);
                failed += !check(what, (attnc_kernel *)attnc_program_kernel(run.p), attnc_recipe_typed(rc), &c->shape,
                                 &run, 100 * i + (uint64_t)splits);
            }
            attnc_program_destroy(run.p);
            attnc_recipe_destroy(rc);
        }
    attnc_context_destroy(ctx);
    assert_int_equal(failed, 0);
}

static const gcase cp_cases[] = {
    {"dense", "input q, k, v : bf16 [batch, heads, tokens, 128]\n", {.batch = 2, .heads = 8, .tokens = 301}},
    {"causal", "input q, k, v : bf16 [batch, heads, tokens, 128]\nmask causal\n",
     {.batch = 1, .heads = 8, .tokens = 1000, .bshd = true}},
    {"window", "input q, k, v : f16 [batch, heads, tokens, 64]\nmask sliding_window(127, 0)\n",
     {.batch = 1, .heads = 8, .tokens = 777}},
    {"document", "input q, k, v : bf16 [batch, heads, tokens, 128]\nparam doc : i32 [batch, tokens]\n"
                 "mask causal && document(doc)\n", {.batch = 2, .heads = 8, .tokens = 400}},
    {"nbh3d", "input q, k, v : bf16 [batch, heads, tokens, 128]\ntokens grid(time: T, y: H, x: W)\n"
              "mask neighborhood(window: (3, 7, 7), causal: (true, false, false))\n",
     {.batch = 1, .heads = 8, .grid = {13, 12, 17}}},
};

/* The same recipes on shapes whose tokens (grid: outer rows) split into 16 equal segments. */
static const gcase even_cases[] = {
    {"dense", "input q, k, v : bf16 [batch, heads, tokens, 128]\n", {.batch = 2, .heads = 8, .tokens = 320}},
    {"causal", "input q, k, v : bf16 [batch, heads, tokens, 128]\nmask causal\n",
     {.batch = 1, .heads = 8, .tokens = 1024, .bshd = true}},
    {"window", "input q, k, v : f16 [batch, heads, tokens, 64]\nmask sliding_window(127, 0)\n",
     {.batch = 1, .heads = 8, .tokens = 800}},
    {"document", "input q, k, v : bf16 [batch, heads, tokens, 128]\nparam doc : i32 [batch, tokens]\n"
                 "mask causal && document(doc)\n", {.batch = 2, .heads = 8, .tokens = 400}},
    {"nbh3d", "input q, k, v : bf16 [batch, heads, tokens, 128]\ntokens grid(time: T, y: H, x: W)\n"
              "mask neighborhood(window: (3, 7, 7), causal: (true, false, false))\n",
     {.batch = 1, .heads = 8, .grid = {16, 12, 17}}},
};

/* Simulated ranks on this one GPU: ring, zigzag and Ulysses over 2, 4, 8
 * ranks; then the per-rank ring of attnc_cp_launch (the NCCL path's code:
 * transfers on their own stream, ordered by events) over a loopback
 * transport (ring, zigzag, and Ulysses' all-to-all), on shapes that split
 * evenly. */
static void cp_on_gpu_kinds(bool per_rank)
{
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    static const char *const kinds[] = {"ring", "zigzag", "ulysses"};
    int failed = 0;
    for (size_t i = 0; i < sizeof cp_cases / sizeof cp_cases[0]; i++)
        for (int kind = 0; kind < 3; kind++)
            for (int R = 2; R <= 8; R *= 2) {
                const gcase *c = per_rank ? &even_cases[i] : &cp_cases[i];
                char text[1024], what[128];
                snprintf(text, sizeof text, "recipe %s\n%s", c->name, c->text);
                attnc_recipe *rc = NULL;
                attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
                o.backend = ATTNC_BACKEND_CUDA;
                attnc_cp_options co = ATTNC_CP_OPTIONS_INIT;
                co.kind = (attnc_cp_kind)kind;
                co.ranks = R;
                runner run = {.per_rank = per_rank};
                if (attnc_recipe_from_text(&rc, ctx, c->name, text, strlen(text)) ||
                    attnc_cp_plan_create(&run.cp, ctx, rc, &o, &co)) {
                    printf("[FAIL] %s: %s\n", c->name, attnc_context_errmsg(ctx));
                    failed++;
                } else {
                    int64_t computed, skipped;
                    snprintf(what, sizeof what, "cp%s %s %s R=%d", per_rank ? " per rank" : "", c->name, kinds[kind], R);
                    failed += !check(what, (attnc_kernel *)attnc_cp_kernel(run.cp), attnc_recipe_typed(rc), &c->shape,
                                     &run, 1000 + 100 * i + 10 * (uint64_t)kind + (uint64_t)R);
                    attnc_cp_last_stats(run.cp, &computed, &skipped);
                    printf("       blocks computed %lld skipped %lld\n", (long long)computed, (long long)skipped);
                }
                attnc_cp_plan_destroy(run.cp);
                attnc_recipe_destroy(rc);
            }
    attnc_context_destroy(ctx);
    assert_int_equal(failed, 0);
}

static void cp_on_gpu(void **state)
{
    (void)state;
    cp_on_gpu_kinds(false);
}

static void cp_per_rank_on_gpu(void **state)
{
    (void)state;
    cp_on_gpu_kinds(true);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    const struct CMUnitTest tests[] = {cmocka_unit_test(kv_split_on_gpu), cmocka_unit_test(cp_on_gpu),
                                       cmocka_unit_test(cp_per_rank_on_gpu)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
