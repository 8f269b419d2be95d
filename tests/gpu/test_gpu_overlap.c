/* test_gpu_overlap.c — the overlapped key loop of mma=wgmma_ws (schedule
 * overlap=1: S_{j+1} issued before the softmax of S_j; overlap=2: that and
 * ping-pong of the two computing warpgroups; codegen/nvptx_fa2_overlap.c)
 * against the fp64 reference on sm_90a: dense, causal, GQA, f16, BSHD,
 * softcap windows, token counts that divide no tile, the union ranges of
 * tests/numeric/union_table.h (sinks + window, several parts, rows without
 * keys) and document masks (tests/numeric/doc_table.h: empty tiles inside
 * the range, skipped while a P V is pending). Fresh random inputs, outputs
 * poisoned before each launch. Without an sm_90a GPU: skipped.
 * odd_tiles: the same cases on tiles that are not powers of two: a 192-row
 * query tile over three computing warpgroups (q=192 warps=12) and 176- and
 * 144-key tiles (both loops, persistent blocks).
 * wide_rows_d64: head dim 64's default for unmasked sequences (q=192 warps=12
 * overlap=1) on head-dim-64 cases.
 * $ATTNC_TEST_PART runs one group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_case.h"
#include "numeric/doc_table.h"
#include "numeric/union_table.h"
#include "reference/ref_check.h"
#include "runtime/api/api_typed.h"

static uint64_t seed;

/* Tile shapes x the two overlap modes (2: warps=8 only). */
static const char *const seq_schedules[] = {
    "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1", "q=128 kv=128 stages=3 warps=8 mma=wgmma_ws overlap=1",
    "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=2", "q=128 kv=128 stages=3 warps=8 mma=wgmma_ws overlap=2",
    "q=128 kv=64 stages=2 warps=8 mma=wgmma_ws overlap=2",  "q=64 kv=64 stages=3 warps=4 mma=wgmma_ws overlap=1",
};
enum { NSEQ = sizeof seq_schedules / sizeof seq_schedules[0] };

/* Tiles that are not powers of two (schedule_check): three computing
 * warpgroups (q=192 warps=12; the overlapped loop with 64-key tiles, which
 * fit its 160 registers at head dim 128) and wide key tiles. */
static const char *const odd_schedules[] = {
    "q=192 kv=128 stages=2 warps=12 mma=wgmma_ws",           "q=192 kv=64 stages=2 warps=12 mma=wgmma_ws overlap=1",
    "q=192 kv=64 stages=3 warps=12 mma=wgmma_ws",            "q=192 kv=64 stages=3 warps=12 mma=wgmma_ws overlap=1",
    "q=192 kv=128 stages=2 warps=12 mma=wgmma_ws persist=1", "q=128 kv=176 stages=2 warps=8 mma=wgmma_ws overlap=1",
    "q=128 kv=176 stages=2 warps=8 mma=wgmma_ws",            "q=128 kv=144 stages=2 warps=8 mma=wgmma_ws persist=1",
};
enum { NODD = sizeof odd_schedules / sizeof odd_schedules[0] };

static void run_hand(hand_cfg c, const gpu_shape *sh, double tol, const char *const *scheds, int n)
{
    for (int i = 0; i < n; i++) {
        c.schedule = scheds[i];
        strbuf err;
        sb_init(&err);
        gpu_result r;
        attnc_status st = gpu_run_case(&c, sh, seed++, &r, &err);
        if (st)
            fail_msg("%s: GPU case failed (%s): %s", c.schedule, attnc_status_string(st), sb_cstr(&err));
        printf("  %-56s rel_l2 %.2e  lse_max_abs %.2e  bad %ld  dead rows %ld\n", c.schedule, r.o_rel_l2,
               r.lse_max_abs, r.bad, r.dead_rows);
        assert_int_equal(r.bad, 0);
        assert_true(r.o_rel_l2 <= tol);
        assert_true(r.lse_max_abs <= 2e-2);
        sb_free(&err);
    }
}

/* $ATTNC_TEST_PART=hand_cases|unions|documents|odd_tiles|odd_tiles_hand|wide_rows_d64: only that group (the
 * others skip), to fit a capped device call or a sanitizer. */
static bool part_wanted(const char *part)
{
    const char *e = getenv("ATTNC_TEST_PART");
    return !e || !e[0] || !strcmp(e, part);
}

/* The hand-written cases under each of n schedules. */
static void hand_all(const char *const *scheds, int n)
{
    hand_cfg dense = {.mask = HM_DENSE, .dt = DT_BF16, .head_dim = 128};
    gpu_shape odd = {.batch = 2, .heads = 3, .kv_heads = 3, .tokens = 300};
    run_hand(dense, &odd, 1e-2, scheds, n);
    gpu_shape one_tile = {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 77}; /* one partial key tile */
    run_hand(dense, &one_tile, 1e-2, scheds, n);
    gpu_shape one_token = {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 1};
    run_hand(dense, &one_token, 1e-2, scheds, n);
    hand_cfg causal = {.mask = HM_CAUSAL, .dt = DT_BF16, .head_dim = 128};
    gpu_shape c517 = {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 517};
    run_hand(causal, &c517, 1e-2, scheds, n);
    hand_cfg gqa = {.mask = HM_CAUSAL, .dt = DT_F16, .head_dim = 64};
    gpu_shape bshd = {.batch = 2, .heads = 4, .kv_heads = 2, .tokens = 289, .bshd = true};
    run_hand(gqa, &bshd, 5e-3, scheds, n);
    hand_cfg window = {.mask = HM_WINDOW, .window = 100, .dt = DT_BF16, .head_dim = 64, .softcap = true};
    gpu_shape w = {.batch = 1, .heads = 2, .kv_heads = 1, .tokens = 1000};
    run_hand(window, &w, 1e-2, scheds, n);
}

static void hand_cases(void **s)
{
    (void)s;
    if (!gpu_hopper("wgmma") || !part_wanted("hand_cases"))
        skip();
    hand_all(seq_schedules, NSEQ);
}

/* Every sequence case of union_table.h under scheds[0..n). */
static int unions_under(const char *const *scheds, int n)
{
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int failed = 0;
    for (size_t i = 0; i < sizeof union_cases / sizeof union_cases[0]; i++) {
        const union_case *u = &union_cases[i];
        if (strstr(u->text, "grid("))
            continue;
        for (int k = 0; k < n; k++) {
            gpu_text_run r;
            int ran = gpu_check_text(ctx, u->name, u->text, &u->shape, scheds[k], seed++, &r);
            if (ran <= 0) {
                failed += ran < 0;
                continue;
            }
            bool ok = r.ok && u->empty_rows == (r.res.lse.empty_rows > 0);
            printf("[%s] %s [%s]: %s%s\n", ok ? "PASS" : "FAIL", u->name, r.sched, r.res.msg, r.extra);
            failed += !ok;
        }
    }
    attnc_context_destroy(ctx);
    return failed;
}

static void unions(void **s)
{
    (void)s;
    if (!gpu_hopper("wgmma") || !part_wanted("unions"))
        skip();
    assert_int_equal(unions_under(seq_schedules + 2, 3), 0);
}

static bool set_ids(void *user, int index, const attnc_tensor *t, void *host, char *msg, size_t cap)
{
    (void)index, (void)msg, (void)cap;
    ids_layout l = *(const ids_layout *)user;
    int64_t rows = t->ndim == 2 ? t->shape[0] : 1, n = t->shape[t->ndim - 1];
    int elem = t->dtype == ATTNC_I64 ? 8 : 4;
    for (int64_t b = 0; b < rows; b++)
        doc_fill(l, b, n, (char *)host + b * n * elem, elem);
    return true;
}

static int run_doc(attnc_context *ctx, const doc_recipe *d, ids_layout l, const char *sched)
{
    char text[1024];
    snprintf(text, sizeof text, "recipe %s\n%s", d->name, d->text);
    attnc_recipe *rc = NULL;
    attnc_kernel *k = NULL;
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.schedule = sched;
    if (attnc_recipe_from_text(&rc, ctx, d->name, text, strlen(text)) || attnc_kernel_build(&k, ctx, rc, &o)) {
        printf("[FAIL] %s [%s]: %s\n", d->name, sched, attnc_context_errmsg(ctx));
        attnc_recipe_destroy(rc);
        return 1;
    }
    strbuf err;
    sb_init(&err);
    ref_mem_ops dev = gpu_ref_mem(&err);
    ref_shape shape = {.batch = 2, .heads = 2, .tokens = 901};
    ref_check_opts co = {.seed = seed++, .check = true, .mem = &dev, .set_param = set_ids, .set_param_user = &l};
    ref_check_result res;
    bool ok = ref_check_kernel(k, attnc_recipe_typed(rc), &shape, &co, &res);
    printf("[%s] %s ids=%s [%s]: %s%s%s\n", ok ? "PASS" : "FAIL", d->name, ids_names[l], attnc_kernel_schedule(k),
           res.msg, err.len ? ": " : "", sb_cstr(&err));
    sb_free(&err);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    return !ok;
}

/* Every document recipe and ids layout under the two schedules. */
static int documents_under(const char *a, const char *b)
{
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int failed = 0;
    for (size_t i = 0; i < sizeof doc_recipes / sizeof doc_recipes[0]; i++)
        for (int l = 0; l < IDS_COUNT; l++) {
            failed += run_doc(ctx, &doc_recipes[i], (ids_layout)l, a);
            failed += run_doc(ctx, &doc_recipes[i], (ids_layout)l, b);
        }
    attnc_context_destroy(ctx);
    return failed;
}

static void documents(void **s)
{
    (void)s;
    if (!gpu_hopper("wgmma") || !part_wanted("documents"))
        skip();
    assert_int_equal(documents_under(seq_schedules[1], seq_schedules[4]), 0);
}

/* The odd tiles: hand cases on every schedule, unions on both loops of
 * each shape, documents (their per-tile spans) on the plain 192-row loop
 * and the overlapped 176-key one. */
static void odd_tiles(void **s)
{
    (void)s;
    const char *part = getenv("ATTNC_TEST_PART");
    bool hand_only = part && !strcmp(part, "odd_tiles_hand"); /* for a sanitizer's time */
    if (!gpu_hopper("wgmma") || !(part_wanted("odd_tiles") || hand_only))
        skip();
    hand_all(odd_schedules, NODD);
    if (hand_only)
        return;
    int failed = unions_under(odd_schedules, 2);
    failed += unions_under(odd_schedules + 5, 2);
    failed += documents_under(odd_schedules[0], odd_schedules[5]);
    assert_int_equal(failed, 0);
}

/* The default of unmasked token sequences at head dim 64 (compile_job.c
 * unmasked_overlap): 192 query rows on the overlapped loop with 128-key
 * tiles, which head dim 128 cannot hold (S, P and O in registers). Head
 * dim 64 cases only: dense with remainders and one token, GQA in f16 over
 * BSHD, a softcapped window (the loop's masked tiles). */
static void wide_rows_d64(void **s)
{
    (void)s;
    if (!gpu_hopper("wgmma") || !part_wanted("wide_rows_d64"))
        skip();
    static const char *const sched[] = {"q=192 kv=128 stages=2 warps=12 mma=wgmma_ws overlap=1",
                                        "q=192 kv=128 stages=3 warps=12 mma=wgmma_ws overlap=1"};
    hand_cfg dense = {.mask = HM_DENSE, .dt = DT_BF16, .head_dim = 64};
    gpu_shape odd = {.batch = 2, .heads = 3, .kv_heads = 3, .tokens = 300};
    run_hand(dense, &odd, 1e-2, sched, 2);
    gpu_shape one_tile = {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 191}; /* one query tile less a row */
    run_hand(dense, &one_tile, 1e-2, sched, 2);
    gpu_shape one_token = {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 1};
    run_hand(dense, &one_token, 1e-2, sched, 2);
    hand_cfg gqa = {.mask = HM_DENSE, .dt = DT_F16, .head_dim = 64};
    gpu_shape bshd = {.batch = 2, .heads = 4, .kv_heads = 2, .tokens = 577, .bshd = true};
    run_hand(gqa, &bshd, 5e-3, sched, 2);
    hand_cfg causal = {.mask = HM_CAUSAL, .dt = DT_BF16, .head_dim = 64};
    gpu_shape c517 = {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 517};
    run_hand(causal, &c517, 1e-2, sched, 2);
    hand_cfg window = {.mask = HM_WINDOW, .window = 100, .dt = DT_BF16, .head_dim = 64, .softcap = true};
    gpu_shape w = {.batch = 1, .heads = 2, .kv_heads = 1, .tokens = 1000};
    run_hand(window, &w, 1e-2, sched, 2);
    hand_cfg none = {.mask = HM_NONE_KEPT, .dt = DT_BF16, .head_dim = 64};
    gpu_shape n = {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 400};
    run_hand(none, &n, 0, sched, 2);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    seed = gpu_test_seed("ATTNC_TEST_SEED to repeat");
    const struct CMUnitTest tests[] = {cmocka_unit_test(hand_cases), cmocka_unit_test(unions),
                                       cmocka_unit_test(documents), cmocka_unit_test(odd_tiles),
                                       cmocka_unit_test(wide_rows_d64)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
