/* union_table.h — masks whose key sets are unions (sinks || window,
 * prefixes, several windows, causal && union, unions on a token grid) and
 * the shapes and schedules to check them on: each query tile's key range is
 * then a list of parts (docs/mask-analysis.md, "Unions"), visited in order
 * with the online softmax. Shared by the CPU check (test_unions.c) and the
 * GPU one (tests/gpu/test_gpu_unions.c). Shapes do not divide the tiles;
 * windows are small, so the parts are disjoint for most query tiles, and
 * some rows keep no key. Also Radial Attention's mask (radial(...)) on
 * small frames. Header-only. */
#ifndef ATTNC_TESTS_UNION_TABLE_H
#define ATTNC_TESTS_UNION_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "reference/ref_check.h"

#define U_QKV "input q, k, v : bf16 [batch, heads, tokens, 64]\n"
#define U_GRID2 U_QKV "tokens grid(y: H, x: W)\n"
#define U_SEQ(b, h, t) {.batch = (b), .heads = (h), .tokens = (t)}
#define U_G2(b, h, y, x) {.batch = (b), .heads = (h), .grid = {(y), (x)}}

typedef struct union_case {
    const char *name;
    const char *text; /* after "recipe NAME\n" */
    ref_shape shape;
    bool empty_rows; /* some query rows keep no key */
} union_case;

static const union_case union_cases[] = {
    {"causal_sinks_window", U_QKV "mask causal && (sinks(4) || sliding_window(20, 0))\n", U_SEQ(1, 2, 300), false},
    {"sinks_window_both_sides", U_QKV "mask sinks(5) || sliding_window(10, 7)\n", U_SEQ(2, 2, 257), false},
    {"three_parts", U_QKV "mask k.t < 20 || (k.t >= 100 && k.t < 130) || k.t > q.t + 50\n", U_SEQ(1, 2, 333), false},
    {"causal_prefix_block", U_QKV "mask causal && (sinks(3) || sliding_window(15, 0) || (k.t >= 64 && k.t < 80))\n",
     U_SEQ(1, 3, 290), false},
    {"causal_congruence", U_QKV "mask causal && (sinks(4) || k.t % 16 == 0 || sliding_window(8, 0))\n",
     U_SEQ(1, 2, 260), false},
    {"four_parts", U_QKV "mask k.t < 8 || (k.t >= 40 && k.t < 48) || (q.t - 4 <= k.t && k.t <= q.t) || k.t >= tokens - 8\n",
     U_SEQ(1, 2, 301), false},
    {"five_terms_hull",
     U_QKV "mask k.t < 8 || (k.t >= 40 && k.t < 48) || (k.t >= 90 && k.t < 96) || (q.t - 4 <= k.t && k.t <= q.t) ||\n"
           "     k.t >= tokens - 8\n",
     U_SEQ(1, 2, 301), false},
    {"rows_without_keys", U_QKV "mask (k.t < 4 && q.t >= 100) || (k.t >= q.t + 200 && k.t < q.t + 210)\n",
     U_SEQ(1, 2, 280), true},
    {"grid_window_or_corner",
     U_GRID2 "mask (q.y - 1 <= k.y && k.y <= q.y + 1 && q.x - 2 <= k.x && k.x <= q.x + 2) || (k.y < 2 && k.x < 3)\n",
     U_G2(1, 2, 13, 11), false},
    {"grid_causal_union", U_GRID2 "mask causal && (k.t < 5 || k.y >= q.y - 1)\n", U_G2(1, 2, 9, 14), false},
    {"cross_sinks_tail",
     "input q : bf16 [batch, heads, tokens, 64]\ninput k, v : bf16 [batch, heads, kv_tokens, 64]\n"
     "mask sinks(4) || k.t >= kv_tokens - 16\n",
     {.batch = 1, .heads = 2, .tokens = 70, .kv_tokens = 150}, false},
    /* Radial Attention's mask (a sink frame || split && band): small frames
     * and blocks, so bands, decay, the frame split and the sink all show */
    {"radial_small", U_QKV "mask radial(frame: 40, block: 16)\n", U_SEQ(1, 2, 700), false},
    {"radial_decay_sink", U_QKV "mask radial(frame: 50, block: 8, decay: 0.5, sink: true)\n", U_SEQ(1, 2, 900), false},
    {"radial_causal", U_QKV "mask causal && radial(frame: 24, block: 16, decay: 2)\n", U_SEQ(2, 1, 500), false},
    {"radial_token_spelling", U_QKV "mask radial(frame: 30, window: 12)\n", U_SEQ(1, 2, 400), false},
};

#endif
