/* test_gpu_persist.c — persistent blocks (schedule persist=1,
 * codegen/nvptx_fa2_persist.c) against the fp64 reference on sm_90a: one
 * block per SM looping over (query tile, head, batch) items, the producer
 * loading the next item's Q and K/V while the computing warps finish the
 * last, the rings' phases running on across items. Shapes give most blocks
 * several items (more items than SMs) and some fewer items than SMs; tile
 * counts differ between items (causal, windows, unions: items with no key
 * tile at all), on the plain and the overlapped loop, sequences and 2-D /
 * 3-D grid boxes, GQA, f16, BSHD and cross attention. Outputs poisoned
 * before each launch. persist_dynamic runs every case again with dynamic
 * items ($ATTNC_PERSIST_DYNAMIC=1: a counter hands the items out), each
 * kernel launched twice, so the second launch of a module finds the
 * counter its first left at zero. $ATTNC_TEST_CASE: only cases whose name holds it. Without an
 * sm_90a GPU: skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_case.h"
#include "numeric/union_table.h"

#define QKV(D) "input q, k, v : bf16 [batch, heads, tokens, " #D "]\n"
#define GRID2 QKV(128) "tokens grid(y: H, x: W)\n"
#define GRID3 QKV(128) "tokens grid(time: T, y: H, x: W)\n"

#define PLAIN "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws persist=1"
#define OVL "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"

typedef struct persist_case {
    const char *name;
    const char *text; /* after "recipe NAME\n" */
    ref_shape shape;
    const char *scheds[3]; /* NULL ends the list */
} persist_case;

static const persist_case cases[] = {
    /* 5 query tiles x 64 (head, batch): 320 items, two or three per block */
    {"dense_many_items", QKV(128), {.batch = 2, .heads = 32, .tokens = 520}, {PLAIN, OVL}},
    /* fewer items than SMs: one each, the rest of the grid absent */
    {"dense_few_items", QKV(128), {.batch = 1, .heads = 2, .tokens = 300}, {OVL}},
    {"causal", QKV(128) "mask causal\n", {.batch = 2, .heads = 12, .tokens = 1001},
     {"q=128 kv=128 stages=2 warps=8 mma=wgmma_ws regs=even persist=1",
      "q=128 kv=128 stages=3 warps=8 mma=wgmma_ws persist=1"}},
    {"causal_gqa_f16_bshd",
     "input q : f16 [batch, heads, tokens, 64]\ninput k, v : f16 [batch, kv_heads, tokens, 64]\nmask causal\n",
     {.batch = 2, .heads = 8, .kv_heads = 2, .tokens = 1100, .bshd = true}, {PLAIN}},
    {"cross", "input q : bf16 [batch, heads, tokens, 128]\ninput k, v : bf16 [batch, heads, kv_tokens, 128]\n",
     {.batch = 2, .heads = 4, .tokens = 1500, .kv_tokens = 700}, {PLAIN, OVL}},
    /* sinks || window: a two-part range per item */
    {"sinks_window", QKV(128) "mask causal && (sinks(4) || sliding_window(300, 0))\n",
     {.batch = 1, .heads = 8, .tokens = 2100}, {PLAIN, OVL}},
    /* query tiles from 384 on keep no key: items with an empty range */
    {"empty_items", QKV(128) "mask k.t >= q.t + 1200\n", {.batch = 1, .heads = 12, .tokens = 1500}, {PLAIN, OVL}},
    {"gna2d_boxes", GRID2 "mask neighborhood(window: (24, 40), stride: (8, 16))\n",
     {.batch = 2, .heads = 6, .grid = {37, 45}}, {"q=8x16 kv=8x16 stages=2 warps=8 overlap=1 persist=1"}},
    {"na2d", GRID2 "mask neighborhood(window: (7, 9))\n", {.batch = 2, .heads = 4, .grid = {21, 35}},
     {"q=8x16 kv=16x8 stages=2 warps=8 mma=wgmma_ws persist=1"}},
    {"gna3d_boxes", GRID3 "mask neighborhood(window: (6, 12, 12), stride: (4, 8, 8))\n",
     {.batch = 1, .heads = 2, .grid = {9, 20, 19}},
     {"q=2x8x8 kv=2x8x8 stages=3 warps=8 persist=1", "q=2x8x8 kv=2x8x8 stages=3 warps=8 persist=1 qgroup=2"}},
};

static uint64_t seed;

static void persist_cases(void **state)
{
    (void)state;
    if (!gpu_hopper("the persistent kernel"))
        skip();
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int failed = 0;
    const char *only = getenv("ATTNC_TEST_CASE"); /* a name substring (compute-sanitizer runs) */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int s = 0; s < 3 && cases[i].scheds[s] && (!only || strstr(cases[i].name, only)); s++)
            failed += gpu_check_text_line(ctx, cases[i].name, cases[i].text, &cases[i].shape, cases[i].scheds[s],
                                          seed++);
    attnc_context_destroy(ctx);
    assert_int_equal(failed, 0);
}

/* The cases under dynamic items, each kernel launched twice: the counter
 * must be back at zero after every launch (its last block resets it), or
 * the second would skip items and leave poisoned rows. */
static void persist_dynamic(void **state)
{
    (void)state;
    if (!gpu_hopper("the persistent kernel"))
        skip();
    const char *before = getenv("ATTNC_PERSIST_DYNAMIC");
    char *saved = before ? strdup(before) : NULL;
    setenv("ATTNC_PERSIST_DYNAMIC", "1", 1); /* part of kernel cache keys: new kernels */
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int failed = 0;
    const char *only = getenv("ATTNC_TEST_CASE");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int s = 0; s < 3 && cases[i].scheds[s] && (!only || strstr(cases[i].name, only)); s++)
            failed += gpu_check_text_launches(ctx, cases[i].name, cases[i].text, &cases[i].shape, cases[i].scheds[s],
                                              seed += 2, 2);
    attnc_context_destroy(ctx);
    if (saved) {
        setenv("ATTNC_PERSIST_DYNAMIC", saved, 1);
        free(saved);
    } else {
        unsetenv("ATTNC_PERSIST_DYNAMIC");
    }
    assert_int_equal(failed, 0);
}

/* The union table's sequences (head dim 64) on both loops: several parts
 * per range, rows without keys, cross attention. */
static void persist_unions(void **state)
{
    (void)state;
    if (!gpu_hopper("the persistent kernel"))
        skip();
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    static const char *const scheds[] = {"q=128 kv=64 stages=2 warps=8 mma=wgmma_ws persist=1",
                                         "q=64 kv=64 stages=3 warps=4 overlap=1 persist=1"};
    int failed = 0;
    const char *only = getenv("ATTNC_TEST_CASE");
    for (size_t i = 0; i < sizeof union_cases / sizeof union_cases[0]; i++) {
        const union_case *u = &union_cases[i];
        if (strstr(u->text, "grid(") || (only && !strstr(u->name, only)))
            continue;
        for (int s = 0; s < 2; s++)
            failed += gpu_check_text_line(ctx, u->name, u->text, &u->shape, scheds[s], seed++);
    }
    attnc_context_destroy(ctx);
    assert_int_equal(failed, 0);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    seed = gpu_test_seed("ATTNC_TEST_SEED to repeat; ATTNC_TEST_CASE=name for some cases");
    const struct CMUnitTest tests[] = {cmocka_unit_test(persist_cases), cmocka_unit_test(persist_unions),
                                       cmocka_unit_test(persist_dynamic)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
