/* edge_table.h — recipes at the edges of the semantics
 * (docs/recipe-language.md §3.3, §3.10; issue #12 items 6, 14, 16, 17) and
 * what the fp64 reference must show for them. Shared by the CPU check
 * (tests/numeric/test_edges.c) and the GPU one (tests/gpu/test_gpu_edges.c,
 * which compiles them for bf16). Header-only: each test is one executable. */
#ifndef ATTNC_TESTS_EDGE_TABLE_H
#define ATTNC_TESTS_EDGE_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "reference/ref_check.h"

#define F32_QKV "input q, k, v : f32 [batch, heads, tokens, 64]\n"

#define SEQ(b, h, t) {.batch = (b), .heads = (h), .tokens = (t)}
#define GRID2(b, h, y, x) {.batch = (b), .heads = (h), .grid = {(y), (x)}}

enum { NAN_ROWS = 1, SOME_NAN = 2, EMPTY_ROWS = 4 }; /* what the reference must show */

typedef struct edge {
    const char *name;
    const char *text; /* after "recipe NAME\n" */
    ref_shape shape;
    unsigned expect;
} edge;

static const edge edges[] = {
    /* item 14: int masks whose arithmetic wraps at run time */
    {"wrap_abs", F32_QKV "mask abs(k.t - q.t - 9223372036854775807 - 1) > 0\n", SEQ(1, 2, 200), 0},
    {"wrap_sub", F32_QKV "mask k.t - q.t - 9223372036854775807 < 0\n", SEQ(1, 2, 200), 0},
    {"wrap_mul", F32_QKV "mask q.t * 4611686018427387904 > k.t\n", SEQ(1, 2, 150), EMPTY_ROWS},
    {"wrap_rows", F32_QKV "mask k.t <= q.t + 9223372036854775000\n", SEQ(1, 2, 1000), EMPTY_ROWS},
    {"wrap_grid", F32_QKV "tokens grid(y: H, x: W)\nmask (q.y - k.y) * 4611686018427387904 >= 0\n",
     GRID2(1, 2, 9, 11), 0},
    {"wrap_i64_param", F32_QKV "param pos : i64 [tokens]\nmask pos[k.t] - pos[q.t] + 9223372036854775807 > 0\n",
     SEQ(1, 2, 130), 0},
    /* an i32 scalar param read by the mask: by its dtype on every backend */
    {"int_scalar_window", F32_QKV "param w : i32\nmask causal && q.t - k.t < w + 5\n", SEQ(1, 2, 150), 0},
    {"big_divisor", F32_QKV "mask k.t / 1099511627776 >= q.t - 5\n", SEQ(1, 2, 140), 0},
    /* item 16: +inf, NaN and -inf logits */
    {"inf_logit_some_rows", F32_QKV "mask causal\nscore s * scale + 1.0 / float(q.t - k.t - 7)\n", SEQ(1, 2, 200),
     NAN_ROWS | SOME_NAN},
    {"inf_logit_every_row", F32_QKV "score s * scale + 1.0 / float(k.t - q.t)\n", SEQ(1, 2, 100), NAN_ROWS},
    {"nan_logit", F32_QKV "mask causal\nscore s * scale + log(float(k.t - q.t + 3))\n", SEQ(1, 2, 200),
     NAN_ROWS | SOME_NAN},
    {"minus_inf_drops", F32_QKV "score s * scale + log(float(k.t % 3))\n", SEQ(1, 2, 150), 0},
    {"minus_inf_rows", F32_QKV "mask causal\nscore s * scale + log(float(select(q.t % 5 == 0, 0, 1)))\n",
     SEQ(1, 2, 150), EMPTY_ROWS},
    {"inf_bf16", "input q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal\n"
                 "score s * scale + 1.0 / float(q.t - k.t - 3)\n",
     SEQ(2, 2, 90), NAN_ROWS | SOME_NAN},
    /* item 6: fixed sizes */
    {"fixed_heads", "input q : f32 [batch, 4, tokens, 64]\ninput k, v : f32 [batch, 2, tokens, 64]\n"
                    "mask causal && k.t + heads * 8 >= q.t\n",
     {.batch = 2, .heads = 4, .kv_heads = 2, .tokens = 170}, 0},
    {"fixed_tokens_window", "input q, k, v : f32 [batch, heads, 100, 64]\nmask neighborhood(window: 33)\n",
     SEQ(1, 2, 100), 0},
    {"fixed_cross", "input q : f32 [2, heads, tokens, 64]\ninput k, v : f32 [2, heads, 77, 64]\n", {.batch = 2, .heads = 2, .tokens = 60, .kv_tokens = 77},
     0},
    /* item 17: rows without keys, empty launches */
    {"no_keys", "input q : f32 [batch, heads, tokens, 64]\ninput k, v : f32 [batch, heads, kv_tokens, 64]\n",
     {.batch = 1, .heads = 2, .tokens = 50, .zero = 1u << SZ_KV_TOKENS}, EMPTY_ROWS},
    {"empty_batch", F32_QKV "mask causal\n", SEQ(0, 2, 50), 0},
    {"empty_grid", F32_QKV "tokens grid(y: H, x: W)\nmask neighborhood(window: (3, 3))\n",
     {.batch = 1, .heads = 2, .grid = {0, 7}, .zero = 1u << SZ_GRID0}, 0},
};

/* Whether a check's result (ok: within tolerance) shows what e expects;
 * why says what is missing. */
static inline bool edge_verdict(const edge *e, const ref_check_result *res, bool ok, const char **why)
{
    bool grid = e->shape.grid[0] || e->shape.grid[1];
    size_t rows = (size_t)e->shape.batch * (size_t)e->shape.heads * (size_t)(grid ? 0 : e->shape.tokens);
    if (ok && (e->expect & NAN_ROWS) && res->lse.nan_expected == 0)
        ok = false, *why = " (expected NaN rows)";
    if (ok && !(e->expect & NAN_ROWS) && (res->lse.nan_expected || res->o.nan_expected))
        ok = false, *why = " (unexpected NaN rows)";
    if (ok && (e->expect & SOME_NAN) && res->lse.nan_expected >= rows)
        ok = false, *why = " (expected finite rows too)";
    if (ok && (e->expect & EMPTY_ROWS) && res->lse.empty_rows == 0)
        ok = false, *why = " (expected rows without keys)";
    return ok;
}

#endif
