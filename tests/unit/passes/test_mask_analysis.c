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
#include "passes/mask_count.h"
#include "passes/pipeline.h"

enum { ROUNDS = 16 };

/* Checks every pair under contiguous tiles and, when the mask is dilated,
 * under the forward kernel's dilation-group tiling (strided boxes of one
 * group; key tiles of other groups must hold no kept pair). q_tile > 0
 * (sequences): that query tile and key tile kv_tile instead of the drawn
 * ones. */
static void check_case(mask_case c, int round, int q_tile, int kv_tile)
{
    arena a;
    arena_init(&a, NULL);
    static mc_params p;
    eval_env env;
    schedule s;
    recipe *r = mc_build(&a, c, &env, &s, &p);
    if (q_tile > 0) { /* and up to five such tiles of tokens (the params read any token) */
        s.q_tile[0] = q_tile;
        s.kv_tile[0] = kv_tile;
        r->sched = s;
        env.sizes[SZ_TOKENS] = env.sizes[SZ_KV_TOKENS] = mc_rand(1, 5 * q_tile);
    }
    int dil[SCHED_MAX_DIMS];
    assert_true(mask_group_dilation(&a, r, &s, dil));
    for (int grouped = 0; grouped < 2; grouped++) {
    mask_info mi;
    if (grouped && dil[0] == 1 && dil[1] == 1 && dil[2] == 1)
        break;
    assert_true(mask_analyze_dil(&a, r, &s, grouped ? dil : NULL, &mi));
    mask_work w;
    assert_true(mask_work_report(&mi, &env, true, &w));
    if (w.missed_pairs || w.bad_full || w.kept_pairs < 0) {
        strbuf sb;
        sb_init(&sb);
        schedule_print(&sb, &s);
        expr_print(&sb, r->mask, NULL, NULL);
        fprintf(stderr, "%s%s round %d tokens=%lld grid=%lldx%lldx%lld: missed %lld, bad_full %lld\n  %s\n",
                mc_names[c], grouped ? " (dilation groups)" : "", round, (long long)env.sizes[SZ_TOKENS], (long long)env.sizes[SZ_GRID0],
                (long long)env.sizes[SZ_GRID1], (long long)env.sizes[SZ_GRID2], (long long)w.missed_pairs,
                (long long)w.bad_full, sb_cstr(&sb));
        sb_free(&sb);
    }
    assert_true(w.kept_pairs >= 0);
    assert_int_equal(w.missed_pairs, 0);
    assert_int_equal(w.bad_full, 0);
    assert_true(w.visited_pairs >= w.kept_pairs);
    }
    arena_free_all(&a);
}

static void brute_force_all_masks(void **state)
{
    srand(12345);
    for (int c = 0; c < MC_COUNT; c++)
        for (int round = 0; round < ROUNDS; round++)
            check_case((mask_case)c, round, 0, 0);
}

/* Tiles that are not powers of two (ir/schedule.c: the three-warpgroup
 * kernel's 192-row query tile, sm_90a's key tiles of any multiple of 16,
 * FA3's 176): every sequence mask, as above. */
static void brute_force_odd_tiles(void **state)
{
    (void)state;
    srand(192);
    static const int tiles[][2] = {{192, 128}, {192, 64}, {128, 176}, {64, 144}, {192, 80}};
    static const mask_case seq[] = {MC_CAUSAL,      MC_SLIDING,      MC_SLIDING_SINKS, MC_NB1D,
                                    MC_RADIAL,      MC_STRIDED_HEADS, MC_DOC_CAUSAL,    MC_DOCUMENT,
                                    MC_BLOCKS,      MC_UNION_SEQ,    MC_CAUSAL_UNION};
    for (size_t c = 0; c < sizeof seq / sizeof seq[0]; c++)
        for (int round = 0; round < ROUNDS; round++) {
            const int *t = tiles[(size_t)round % (sizeof tiles / sizeof tiles[0])];
            check_case(seq[c], round, t[0], t[1]);
        }
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
    for (int c = 0; c < MC_UNION_FIRST; c++) {
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
        tok_box qb = {{q0}, {q0 + 63 < 999 ? q0 + 63 : 999}, {0}};
        int64_t lo[3], hi[3];
        assert_true(kv_range_eval(&mi, &env, &qb, lo, hi));
        assert_int_equal(lo[0], 0);
        assert_int_equal(hi[0], qb.hi[0] / 32);
        tok_box below = {{0}, {31}, {0}}, on_diag = {{hi[0] * 32}, {hi[0] * 32 + 31}, {0}};
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
        int dil[SCHED_MAX_DIMS]; /* the kernel's dilation-group tiling */
        assert_true(mask_group_dilation(&a, r, &s, dil) && mask_analyze_dil(&a, r, &s, dil, &mi));
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

/* ---- unions: key ranges made of parts ---- */

static int parts_of(arena *a, expr *mask, int gnd)
{
    recipe *r = rb_recipe(a, "u", gnd);
    r->mask = mask;
    schedule s = schedule_default(gnd ? gnd : 1, TARGET_HOST, false);
    mask_info mi;
    assert_true(mask_analyze(a, r, &s, &mi));
    return mi.mode == RANGE_BOUNDS ? mi.nparts : -1;
}

/* Which masks get parts: one per term of the union, none when a term
 * covers the others or is unbounded. */
static void unions_get_parts(void **state)
{
    arena a;
    arena_init(&a, NULL);
    expr *k = rb_t(&a, SIDE_K);
    expr *block = ex_binary(&a, BIN_AND, ex_binary(&a, BIN_GE, k, ex_int(&a, 640)),
                            ex_binary(&a, BIN_LT, k, ex_int(&a, 700)));
    expr *sw = ex_binary(&a, BIN_OR, rb_sinks(&a, 4), rb_sliding(&a, 1023, 0));
    assert_int_equal(parts_of(&a, ex_binary(&a, BIN_AND, rb_causal(&a), sw), 0), 2);
    assert_int_equal(parts_of(&a, ex_binary(&a, BIN_OR, sw, block), 0), 3);
    assert_int_equal(parts_of(&a, ex_binary(&a, BIN_OR, rb_sinks(&a, 4), block), 0), 2); /* hull: everything */
    assert_int_equal(parts_of(&a, rb_strided_heads(&a, 4, 64), 0), 0);                   /* causal covers the window */
    assert_int_equal(parts_of(&a, rb_causal(&a), 0), 0);
    expr *cong = ex_binary(&a, BIN_EQ, ex_binary(&a, BIN_MOD, k, ex_int(&a, 16)), ex_int(&a, 0));
    assert_int_equal(parts_of(&a, ex_binary(&a, BIN_OR, rb_sinks(&a, 4), cong), 0), -1); /* unbounded term */
    arena_free_all(&a);
}

/* kv_parts_normalize: every tile of the raw boxes lands in exactly one
 * normalised box, the boxes are disjoint and sorted, and in 1-D they hold
 * nothing else. */
static void normalize_covers_once(void **state)
{
    srand(31);
    for (int round = 0; round < 4000; round++) {
        int nd = 1 + rand() % 2;
        kv_boxes raw = {0}, b;
        raw.n = 1 + rand() % TIR_MAX_PARTS;
        for (int p = 0; p < raw.n; p++)
            for (int d = 0; d < nd; d++) {
                raw.lo[p][d] = mc_rand(0, 12);
                raw.hi[p][d] = raw.lo[p][d] + mc_rand(-2, 6);
            }
        b = raw;
        kv_parts_normalize(&b, nd);
        for (int p = 1; p < b.n; p++)
            assert_true(b.lo[p][0] > b.hi[p - 1][0]);
        int64_t idx[SCHED_MAX_DIMS] = {0};
        for (idx[0] = 0; idx[0] < 20; idx[0]++)
            for (idx[1] = 0; idx[1] < (nd > 1 ? 20 : 1); idx[1]++) {
                int hits = 0;
                for (int p = 0; p < b.n; p++) {
                    kv_boxes one = {0};
                    one.n = 1;
                    memcpy(one.lo[0], b.lo[p], sizeof one.lo[0]);
                    memcpy(one.hi[0], b.hi[p], sizeof one.hi[0]);
                    hits += kv_boxes_hold(&one, nd, idx);
                }
                bool in_raw = kv_boxes_hold(&raw, nd, idx);
                assert_true(hits <= 1);
                if (in_raw)
                    assert_int_equal(hits, 1);
                if (nd == 1)
                    assert_int_equal(hits, in_raw);
            }
    }
}

/* causal && (sinks || window) on a sequence: the tiles visited are exactly
 * the tiles holding a kept pair (visited/kept = 1), and the kernel's op
 * evaluates like the analysis. */
static void sinks_window_visits_kept_tiles_only(void **state)
{
    srand(77);
    for (int round = 0; round < 60; round++) {
        arena a;
        arena_init(&a, NULL);
        recipe *r = rb_recipe(&a, "sw", 0);
        int64_t n = mc_rand(1, 900);
        expr *u = ex_binary(&a, BIN_OR, rb_sinks(&a, mc_rand(1, 8)), rb_sliding(&a, mc_rand(0, n / 3), 0));
        r->mask = ex_binary(&a, BIN_AND, rb_causal(&a), u);
        schedule s = schedule_default(1, TARGET_HOST, false);
        s.q_tile[0] = mc_pow2(6);
        s.kv_tile[0] = mc_pow2(6);
        r->sched = s;
        mask_info mi;
        assert_true(mask_analyze(&a, r, &s, &mi));
        eval_env env = {0};
        env.sizes[SZ_TOKENS] = env.sizes[SZ_KV_TOKENS] = n;
        env.sizes[SZ_BATCH] = env.sizes[SZ_HEADS] = env.sizes[SZ_KV_HEADS] = 1;
        mask_tally t;
        assert_true(mask_count_slice(&mi, &env, &t));
        assert_int_equal(t.missed_pairs, 0);
        assert_int_equal(t.visited_tiles, t.kept_tiles);
        strbuf err;
        sb_init(&err);
        tir_kernel *k = lower_recipe(&a, r, &s, TARGET_HOST, &err);
        assert_non_null(k);
        sb_free(&err);
        const tir_op *range = NULL;
        for (tir_op *op = k->body->first; op; op = op->next)
            if (op->kind == TIR_KV_RANGE)
                range = op;
        int64_t nq[3], tq = mask_tile_count(&mi, &env, true, nq);
        for (int64_t i = 0; i < tq; i++) {
            tok_box qb;
            kv_boxes b1, b2;
            mask_tile_box(&mi, &env, true, i, &qb);
            assert_int_equal(kv_boxes_eval(&mi, &env, &qb, &b1), kv_boxes_eval_op(range, k, &env, &qb, &b2));
            assert_memory_equal(&b1, &b2, sizeof b1);
        }
        arena_free_all(&a);
    }
}

static int64_t ids_all_zero(void *user, int param, const int64_t *idx, int n)
{
    (void)user, (void)param, (void)idx, (void)n;
    return 0;
}

/* A recipe with a document param and mask m of four: causal && document,
 * document alone, document with a reach of 40 keys ahead, and causal
 * documents intersected with sinks || a window of 24. */
static recipe *doc_recipe(arena *a, int m)
{
    recipe *r = rb_recipe(a, "docs", 0);
    expr *doc = rb_document(a, r), *causal = rb_causal(a);
    expr *masks[4] = {RB_B(AND, causal, doc), doc, RB_B(AND, doc, RB_B(LE, rb_t(a, SIDE_K), RB_B(ADD, rb_t(a, SIDE_Q), RB_I(40)))),
                      RB_B(AND, RB_B(AND, causal, doc), RB_B(OR, RB_B(LT, rb_t(a, SIDE_K), RB_I(4)), rb_sliding(a, 24, 0)))};
    r->mask = masks[m];
    return r;
}

/* mask_span_full (the GPU's full test of tiles inside one document): on
 * random boxes, wherever it holds, every pair of two same-id tokens is kept;
 * causal && document gets a test that holds below the diagonal. */
static void span_full_is_sound(void **state)
{
    (void)state;
    srand(17);
    arena arn;
    arena_init(&arn, NULL);
    arena *a = &arn;
    for (int m = 0; m < 4; m++) {
        recipe *r = doc_recipe(a, m);
        const expr *full = mask_span_full(a, r, 0);
        if (m <= 2)
            assert_non_null(full);
        if (!full)
            continue;
        eval_env env = {0};
        env.sizes[SZ_TOKENS] = env.sizes[SZ_KV_TOKENS] = 300;
        env.param = ids_all_zero;
        int proven = 0;
        for (int round = 0; round < 400; round++) {
            int64_t tq = mc_rand(1, 64), tk = mc_rand(1, 64), q0 = mc_rand(0, 299), k0 = mc_rand(0, 299);
            env.qlo[0] = q0, env.qhi[0] = q0 + tq - 1 < 299 ? q0 + tq - 1 : 299;
            env.klo[0] = k0, env.khi[0] = k0 + tk - 1 < 299 ? k0 + tk - 1 : 299;
            int64_t v = 0;
            assert_true(expr_eval_int(full, &env, &v));
            if (!v)
                continue;
            proven++;
            for (int64_t q = env.qlo[0]; q <= env.qhi[0]; q++)
                for (int64_t k = env.klo[0]; k <= env.khi[0]; k++) {
                    int64_t keep = 0;
                    eval_env_set_point(&env, q, k);
                    assert_true(expr_eval_int(r->mask, &env, &keep));
                    assert_true(keep);
                }
        }
        assert_true(proven > 0 || m == 3); /* 3: a union with a window of 24 seldom covers a random box */
        if (m == 0) { /* strictly below the diagonal: full */
            env.qlo[0] = 64, env.qhi[0] = 127, env.klo[0] = 0, env.khi[0] = 63;
            int64_t v = 0;
            assert_true(expr_eval_int(full, &env, &v) && v);
        }
    }
    arena_free_all(a);
}

/* Documents of 97 tokens (longer than mask 2's reach of 40): ids[t] = t / 97. */
static int64_t ids_of_97(void *user, int param, const int64_t *idx, int n)
{
    (void)user, (void)param;
    return idx[n - 1] / 97;
}

/* mask_span_elem (the element mask the GPU forward's partial tiles inside
 * one document take): it reads no param and, on every pair of two tokens
 * of one document, keeps exactly what the mask keeps; where the mask has
 * no span_full test there is none either. */
static void span_mask_is_exact(void **state)
{
    (void)state;
    arena arn;
    arena_init(&arn, NULL);
    arena *a = &arn;
    for (int m = 0; m < 4; m++) {
        recipe *r = doc_recipe(a, m);
        const expr *elem = mask_span_elem(a, r, 0);
        assert_true((elem != NULL) == (mask_span_full(a, r, 0) != NULL));
        if (m <= 2)
            assert_non_null(elem);
        if (!elem)
            continue;
        assert_false(expr_uses_kind(elem, EX_PARAM));
        eval_env env = {0};
        env.sizes[SZ_TOKENS] = env.sizes[SZ_KV_TOKENS] = 300;
        env.param = ids_of_97;
        int same = 0;
        for (int64_t q = 0; q < 300; q++)
            for (int64_t k = 0; k < 300; k++) {
                if (q / 97 != k / 97)
                    continue;
                int64_t keep = 0, keep_elem = 0;
                eval_env_set_point(&env, q, k);
                assert_true(expr_eval_int(r->mask, &env, &keep));
                assert_true(expr_eval_int(elem, &env, &keep_elem));
                if (keep != keep_elem)
                    fail_msg("mask %d, q %ld k %ld: the mask %s, span_mask %s", m, (long)q, (long)k,
                             keep ? "keeps" : "drops", keep_elem ? "keeps" : "drops");
                same++;
            }
        assert_true(same > 0);
    }
    arena_free_all(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(brute_force_all_masks),
        cmocka_unit_test(brute_force_odd_tiles),
        cmocka_unit_test(modes_follow_the_mask),
        cmocka_unit_test(causal_ranges_are_tight),
        cmocka_unit_test(kernel_range_matches_analysis),
        cmocka_unit_test(block_table_classifies_every_pair),
        cmocka_unit_test(unions_get_parts),
        cmocka_unit_test(normalize_covers_once),
        cmocka_unit_test(sinks_window_visits_kept_tiles_only),
        cmocka_unit_test(span_full_is_sound),
        cmocka_unit_test(span_mask_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
