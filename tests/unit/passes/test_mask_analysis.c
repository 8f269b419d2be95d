/* Mask analysis against brute force: for every mask recipe over many random
 * shapes and schedules (grids not divisible by the tiles, windows up to the
 * grid size, dilation, stride, causal dims), no kept pair lies in a key tile
 * outside the kv range or in a tile called empty, and no dropped pair lies
 * in a tile called full. Also: the modes chosen, the tightness of simple
 * ranges, the kernel's kv_range op agreeing with mask_analyze, and the block
 * table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "mask_cases.h"
#include "passes/pipeline.h"

enum { ROUNDS = 16 };

static void check_case(mask_case c, int round)
{
    arena a;
    arena_init(&a, NULL);
    static mc_params p;
    eval_env env;
    schedule s;
    recipe *r = mc_build(&a, c, &env, &s, &p);
    mask_info mi;
    assert_true(mask_analyze(&a, r, &s, &mi));
    mask_work w;
    assert_true(mask_work_report(&mi, &env, true, &w));
    if (w.missed_pairs || w.bad_full || w.kept_pairs < 0) {
        strbuf sb;
        sb_init(&sb);
        schedule_print(&sb, &s);
        expr_print(&sb, r->mask, NULL, NULL);
        fprintf(stderr, "%s round %d tokens=%lld grid=%lldx%lldx%lld: missed %lld, bad_full %lld\n  %s\n",
                mc_names[c], round, (long long)env.sizes[SZ_TOKENS], (long long)env.sizes[SZ_GRID0],
                (long long)env.sizes[SZ_GRID1], (long long)env.sizes[SZ_GRID2], (long long)w.missed_pairs,
                (long long)w.bad_full, sb_cstr(&sb));
        sb_free(&sb);
    }
    assert_true(w.kept_pairs >= 0);
    assert_int_equal(w.missed_pairs, 0);
    assert_int_equal(w.bad_full, 0);
    assert_true(w.visited_pairs >= w.kept_pairs);
    arena_free_all(&a);
}

static void brute_force_all_masks(void **state)
{
    srand(12345);
    for (int c = 0; c < MC_COUNT; c++)
        for (int round = 0; round < ROUNDS; round++)
            check_case((mask_case)c, round);
}

static void modes_follow_the_mask(void **state)
{
    static const tir_range_mode want[MC_COUNT] = {
        [MC_CAUSAL] = RANGE_BOUNDS,     [MC_CAUSAL_GRID2] = RANGE_BOUNDS, [MC_SLIDING] = RANGE_BOUNDS,
        [MC_SLIDING_SINKS] = RANGE_BOUNDS, [MC_NB1D] = RANGE_BOUNDS,      [MC_NB2D] = RANGE_BOUNDS,
        [MC_NB3D] = RANGE_BOUNDS,       [MC_RADIAL] = RANGE_ALL,          [MC_STRIDED_HEADS] = RANGE_BOUNDS,
        [MC_DOC_CAUSAL] = RANGE_BOUNDS, [MC_DOCUMENT] = RANGE_BLOCK_TABLE, [MC_BLOCKS] = RANGE_BLOCK_TABLE,
    };
    srand(7);
    for (int c = 0; c < MC_COUNT; c++) {
        arena a;
        arena_init(&a, NULL);
        static mc_params p;
        eval_env env;
        schedule s;
        recipe *r = mc_build(&a, (mask_case)c, &env, &s, &p);
        mask_info mi;
        assert_true(mask_analyze(&a, r, &s, &mi));
        if (mi.mode != want[c])
            fprintf(stderr, "%s: mode %d, want %d\n", mc_names[c], mi.mode, want[c]);
        assert_int_equal(mi.mode, want[c]);
        arena_free_all(&a);
    }
}

/* Causal on a sequence: the last key tile is exactly the one holding q.hi,
 * and diagonal tiles are partial, tiles below full. */
static void causal_ranges_are_tight(void **state)
{
    arena a;
    arena_init(&a, NULL);
    recipe *r = rb_recipe(&a, "causal", 0);
    r->mask = rb_causal(&a);
    schedule s = schedule_default(1, TARGET_HOST, false);
    s.q_tile[0] = 64;
    s.kv_tile[0] = 32;
    mask_info mi;
    assert_true(mask_analyze(&a, r, &s, &mi));
    eval_env env = {0};
    env.sizes[SZ_TOKENS] = env.sizes[SZ_KV_TOKENS] = 1000;
    for (int64_t q0 = 0; q0 < 1000; q0 += 64) {
        tok_box qb = {{q0}, {q0 + 63 < 999 ? q0 + 63 : 999}};
        int64_t lo[3], hi[3];
        assert_true(kv_range_eval(&mi, &env, &qb, lo, hi));
        assert_int_equal(lo[0], 0);
        assert_int_equal(hi[0], qb.hi[0] / 32);
        tok_box below = {{0}, {31}}, on_diag = {{hi[0] * 32}, {hi[0] * 32 + 31}};
        if (q0 >= 32)
            assert_int_equal(mask_classify_boxes(&mi, &env, &qb, &below), MASK_FULL);
        assert_int_equal(mask_classify_boxes(&mi, &env, &qb, &on_diag), MASK_PARTIAL);
    }
    mask_work w;
    assert_true(mask_work_report(&mi, &env, true, &w));
    assert_int_equal(w.kept_pairs, 1000 * 1001 / 2);
    assert_int_equal(w.missed_pairs, 0);
    arena_free_all(&a);
}

/* The kernel's kv_range op evaluates like mask_analyze's bounds. */
static void kernel_range_matches_analysis(void **state)
{
    srand(99);
    for (int round = 0; round < 20; round++) {
        arena a;
        arena_init(&a, NULL);
        static mc_params p;
        eval_env env;
        schedule s;
        recipe *r = mc_build(&a, MC_NB2D, &env, &s, &p);
        strbuf err;
        sb_init(&err);
        tir_kernel *k = lower_recipe(&a, r, &s, TARGET_HOST, &err);
        assert_non_null(k);
        sb_free(&err);
        tir_op *range = NULL;
        for (tir_op *op = k->body->first; op; op = op->next)
            if (op->kind == TIR_KV_RANGE)
                range = op;
        assert_non_null(range);
        mask_info mi;
        assert_true(mask_analyze(&a, r, &s, &mi));
        int64_t nq[3], tq = mask_tile_count(&mi, &env, true, nq);
        for (int64_t i = 0; i < tq; i++) {
            tok_box qb;
            int64_t lo1[3], hi1[3], lo2[3], hi2[3];
            mask_tile_box(&mi, &env, true, i, &qb);
            bool e1 = kv_range_eval(&mi, &env, &qb, lo1, hi1), e2 = kv_range_eval_op(range, k, &env, &qb, lo2, hi2);
            assert_int_equal(e1, e2);
            assert_memory_equal(lo1, lo2, sizeof lo1);
            assert_memory_equal(hi1, hi2, sizeof hi1);
        }
        arena_free_all(&a);
    }
}

/* Block table entries agree with classification, and a too small buffer is refused. */
static void block_table_classifies_every_pair(void **state)
{
    static const mask_case cases[] = {MC_DOCUMENT, MC_BLOCKS, MC_RADIAL, MC_NB2D, MC_DOC_CAUSAL};
    srand(5);
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        mask_case c = cases[ci];
        arena a;
        arena_init(&a, NULL);
        static mc_params p;
        eval_env env;
        schedule s;
        recipe *r = mc_build(&a, c, &env, &s, &p);
        mask_info mi;
        assert_true(mask_analyze(&a, r, &s, &mi));
        int64_t nq[3], nk[3];
        int64_t tq = mask_tile_count(&mi, &env, true, nq), tk = mask_tile_count(&mi, &env, false, nk);
        uint8_t *table = malloc((size_t)(tq * tk) + 1);
        assert_false(mask_block_table_build(&mi, &env, table, (size_t)(tq * tk) - 1));
        assert_true(mask_block_table_build(&mi, &env, table, (size_t)(tq * tk)));
        for (int64_t i = 0; i < tq; i++)
            for (int64_t j = 0; j < tk; j++) {
                tok_box qb, kb;
                mask_tile_box(&mi, &env, true, i, &qb);
                mask_tile_box(&mi, &env, false, j, &kb);
                mask_class cl = mask_classify_boxes(&mi, &env, &qb, &kb);
                assert_int_equal(table[i * tk + j], cl == MASK_EMPTY ? 0 : cl == MASK_FULL ? 2 : 1);
            }
        free(table);
        arena_free_all(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(brute_force_all_masks),
        cmocka_unit_test(modes_follow_the_mask),
        cmocka_unit_test(causal_ranges_are_tight),
        cmocka_unit_test(kernel_range_matches_analysis),
        cmocka_unit_test(block_table_classifies_every_pair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
