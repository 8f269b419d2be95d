/* Exact kept-pair counting (mask_count.h) against brute force: every mask
 * case and random compositions of atoms (windows, sinks, congruences,
 * document ids, query-only conditions, value filters, negations) over
 * random small shapes and tiles, every field of the tally compared with a
 * pair-by-pair walk. Then the large shapes of `attnc bench` (issue 17):
 * counted in closed form, against their known totals, in seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <time.h>

#include "mask_cases.h"
#include "passes/mask_count.h"

/* Whether key box kb's tile is one the kernel visits (the range's boxes). */
static bool in_range(const mask_info *mi, const kv_boxes *b, const tok_box *kb)
{
    int64_t idx[SCHED_MAX_DIMS] = {0};
    for (int d = 0; d < mi->ndims; d++)
        idx[d] = kb->lo[d] / mi->kv_tile[d];
    return kv_boxes_hold(b, mi->ndims, idx);
}

static int64_t flat(const eval_env *env, const int64_t *c)
{
    if (env->grid_ndim == 0)
        return c[0];
    int64_t t = 0;
    for (int d = 0; d < env->grid_ndim; d++)
        t = t * env->sizes[SZ_GRID0 + d] + c[d];
    return t;
}

static int64_t brute_pairs(const mask_info *mi, const eval_env *env, const tok_box *q, const tok_box *k)
{
    eval_env e = *env;
    int64_t qc[3], kc[3], kept = 0;
    for (qc[0] = q->lo[0]; qc[0] <= q->hi[0]; qc[0]++)
        for (qc[1] = q->lo[1]; qc[1] <= q->hi[1]; qc[1]++)
            for (qc[2] = q->lo[2]; qc[2] <= q->hi[2]; qc[2]++)
                for (kc[0] = k->lo[0]; kc[0] <= k->hi[0]; kc[0]++)
                    for (kc[1] = k->lo[1]; kc[1] <= k->hi[1]; kc[1]++)
                        for (kc[2] = k->lo[2]; kc[2] <= k->hi[2]; kc[2]++) {
                            eval_env_set_point(&e, flat(env, qc), flat(env, kc));
                            int64_t v = 1;
                            assert_true(!mi->mask || expr_eval_int(mi->mask, &e, &v));
                            kept += v != 0;
                        }
    return kept;
}

static int64_t area(const mask_info *mi, const tok_box *b)
{
    int64_t n = 1;
    for (int d = 0; d < mi->ndims; d++)
        n *= b->hi[d] - b->lo[d] + 1;
    return n;
}

/* The tally by walking every tile pair and every pair in it. */
static void brute_tally(const mask_info *mi, const eval_env *env, mask_tally *t)
{
    int64_t nq[3], nk[3];
    int64_t tq = mask_tile_count(mi, env, true, nq), tk = mask_tile_count(mi, env, false, nk);
    *t = (mask_tally){0};
    for (int64_t i = 0; i < tq; i++) {
        tok_box qb, kb;
        kv_boxes boxes;
        mask_tile_box(mi, env, true, i, &qb);
        kv_boxes_eval(mi, env, &qb, &boxes);
        for (int64_t j = 0; j < tk; j++) {
            mask_tile_box(mi, env, false, j, &kb);
            int64_t n = brute_pairs(mi, env, &qb, &kb);
            t->kept_pairs += n;
            if (!in_range(mi, &boxes, &kb)) {
                t->missed_pairs += n;
                continue;
            }
            t->visited_tiles++;
            if (mask_classify_boxes(mi, env, &qb, &kb) == MASK_EMPTY) {
                t->missed_pairs += n;
                continue;
            }
            t->computed_tiles++;
            t->computed_pairs += area(mi, &qb) * area(mi, &kb);
            t->kept_tiles += n > 0;
        }
    }
}

static void print_case(const char *what, int round, const recipe *r, const eval_env *env, const schedule *s)
{
    strbuf sb;
    sb_init(&sb);
    schedule_print(&sb, s);
    sb_puts(&sb, "  ");
    expr_print(&sb, r->mask, NULL, NULL);
    fprintf(stderr, "%s round %d tokens=%lld grid=%lldx%lldx%lld head %lld: %s\n", what, round,
            (long long)env->sizes[SZ_TOKENS], (long long)env->sizes[SZ_GRID0], (long long)env->sizes[SZ_GRID1],
            (long long)env->sizes[SZ_GRID2], (long long)env->head, sb_cstr(&sb));
    sb_free(&sb);
}

static void compare(const char *what, int round, const recipe *r, const eval_env *env, const schedule *s,
                    const mask_info *mi)
{
    mask_tally got, want;
    assert_true(mask_count_slice(mi, env, &got));
    brute_tally(mi, env, &want);
    if (memcmp(&got, &want, sizeof got)) {
        print_case(what, round, r, env, s);
        fprintf(stderr, "  kept %lld/%lld range %lld/%lld visited %lld/%lld kept_tiles %lld/%lld vpairs %lld/%lld "
                        "missed %lld/%lld (got/want)\n",
                (long long)got.kept_pairs, (long long)want.kept_pairs, (long long)got.visited_tiles,
                (long long)want.visited_tiles, (long long)got.computed_tiles, (long long)want.computed_tiles,
                (long long)got.kept_tiles, (long long)want.kept_tiles, (long long)got.computed_pairs,
                (long long)want.computed_pairs, (long long)got.missed_pairs, (long long)want.missed_pairs);
    }
    assert_memory_equal(&got, &want, sizeof got);
    assert_int_equal(got.missed_pairs, 0);
}

/* Every mask case: the countable ones match brute force exactly. */
static void mask_cases_match_brute_force(void **state)
{
    static const bool countable[MC_COUNT] = {
        [MC_CAUSAL] = true, [MC_SLIDING] = true,       [MC_SLIDING_SINKS] = true, [MC_NB1D] = true,
        [MC_NB2D] = true,   [MC_NB3D] = true,          [MC_STRIDED_HEADS] = true, [MC_DOC_CAUSAL] = true,
        [MC_DOCUMENT] = true,
    };
    srand(2024);
    for (int c = 0; c < MC_COUNT; c++)
        for (int round = 0; round < 24; round++) {
            arena a;
            arena_init(&a, NULL);
            static mc_params p;
            eval_env env;
            schedule s;
            recipe *r = mc_build(&a, (mask_case)c, &env, &s, &p);
            mask_info mi;
            assert_true(mask_analyze(&a, r, &s, &mi));
            bool exact = mask_count_exact(&mi);
            if (c < MC_UNION_FIRST && exact != countable[c])
                print_case(mc_names[c], round, r, &env, &s);
            if (c < MC_UNION_FIRST) /* random unions: countable when exact (few terms) */
                assert_int_equal(exact, countable[c]);
            if (exact)
                compare(mc_names[c], round, r, &env, &s, &mi);
            arena_free_all(&a);
        }
}

/* ---- random compositions ---- */

static expr *rnd_atom_seq(arena *a, recipe *r, int64_t n)
{
    expr *q = rb_t(a, SIDE_Q), *k = rb_t(a, SIDE_K);
    switch (rand() % 10) {
    case 0: return rb_causal(a);
    case 1: return rb_sliding(a, mc_rand(0, n / 2), mc_rand(0, n / 4));
    case 2: return rb_sinks(a, mc_rand(1, 8));
    case 3: { /* congruence with the query or the head */
        int64_t m = mc_rand(1, 5);
        expr *res = rand() % 2 ? RB_B(MOD, q, RB_I(m)) : RB_B(MOD, ex_leaf(a, EX_HEAD), RB_I(m));
        return RB_B(EQ, RB_B(MOD, k, RB_I(m)), res);
    }
    case 4: return r->nparams ? rb_document(a, r) : rb_causal(a);
    case 5: return RB_B(NE, RB_B(MOD, q, RB_I(mc_rand(2, 4))), RB_I(0)); /* query only */
    case 6: return RB_B(GE, RB_B(DIV, k, RB_I(mc_rand(1, 6))), RB_B(SUB, RB_B(DIV, q, RB_I(4)), RB_I(1)));
    case 7: return RB_B(GT, k, RB_B(SUB, q, RB_I(mc_rand(0, 20))));
    case 8: /* a value filter that is not a document */
        return RB_B(EQ, RB_B(MOD, RB_B(DIV, k, RB_I(mc_rand(1, 5))), RB_I(3)), RB_B(MOD, q, RB_I(3)));
    default: /* not solvable: the set is not exact */
        return RB_B(NE, RB_B(MOD, RB_B(MUL, k, k), RB_I(7)), RB_I(3));
    }
}

static expr *rnd_atom_grid(arena *a, int gnd)
{
    int d = rand() % gnd;
    expr *q = ex_coord(a, SIDE_Q, d), *k = ex_coord(a, SIDE_K, d);
    switch (rand() % 6) {
    case 0: return RB_B(LE, RB_B(SUB, q, RB_I(mc_rand(0, 4))), k);
    case 1: return RB_B(LE, k, RB_B(ADD, q, RB_I(mc_rand(0, 4))));
    case 2: return RB_B(EQ, RB_B(MOD, k, RB_I(2)), RB_B(MOD, q, RB_I(2)));
    case 3: return RB_B(EQ, RB_B(DIV, k, RB_I(3)), RB_B(DIV, ex_coord(a, SIDE_Q, (d + 1) % gnd), RB_I(2)));
    case 4: return RB_B(EQ, RB_B(MOD, RB_B(DIV, k, RB_I(2)), RB_I(2)), RB_B(MOD, q, RB_I(2)));
    default: return RB_B(LT, k, ex_coord(a, SIDE_Q, (d + 1) % gnd)); /* another dim's query coordinate */
    }
}

static expr *rnd_mask(arena *a, recipe *r, int depth, int64_t n)
{
    int pick = depth > 0 ? rand() % 4 : 3;
    if (pick == 3)
        return r->grid_ndim ? rnd_atom_grid(a, r->grid_ndim) : rnd_atom_seq(a, r, n);
    if (pick == 2)
        return ex_unary(a, UN_NOT, rnd_mask(a, r, depth - 1, n));
    return ex_binary(a, pick ? BIN_OR : BIN_AND, rnd_mask(a, r, depth - 1, n), rnd_mask(a, r, depth - 1, n));
}

static void random_masks_match_brute_force(void **state)
{
    srand(77);
    int counted = 0, total = 0;
    for (int round = 0; round < 600; round++) {
        arena a;
        arena_init(&a, NULL);
        static mc_params p;
        eval_env env;
        schedule s;
        int gnd = round % 3 == 2 ? 2 : 0;
        recipe *r = mc_build(&a, gnd ? MC_NB2D : (round % 2 ? MC_DOC_CAUSAL : MC_CAUSAL), &env, &s, &p);
        r->mask = rnd_mask(&a, r, mc_rand(0, 3), env.sizes[SZ_TOKENS]);
        mask_info mi;
        assert_true(mask_analyze(&a, r, &s, &mi));
        total++;
        if (mask_count_exact(&mi)) {
            counted++;
            compare("random", round, r, &env, &s, &mi);
        }
        arena_free_all(&a);
    }
    fprintf(stderr, "random masks: %d of %d counted in closed form\n", counted, total);
    assert_true(counted > total / 3);
}

/* ---- the shapes of issue 17, against their known totals ---- */

typedef struct big_case {
    const char *name;
    int gnd;
    int64_t ext[3], w[3], dil[3], stride[3];
    int qt[3], kt[3];
} big_case;

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void count_big(const char *name, recipe *r, const schedule *s, const eval_env *env, int64_t want, arena *a)
{
    mask_info mi;
    assert_true(mask_analyze(a, r, s, &mi));
    assert_true(mask_count_exact(&mi));
    mask_tally t;
    double t0 = seconds();
    assert_true(mask_count_slice(&mi, env, &t));
    double dt = seconds() - t0;
    fprintf(stderr, "%-40s kept %12lld  tiles visited/kept %.3f  pairs computed/kept %.3f  %.2f s\n", name,
            (long long)t.kept_pairs, (double)t.visited_tiles / (double)t.kept_tiles,
            (double)t.computed_pairs / (double)t.kept_pairs, dt);
    assert_int_equal(t.kept_pairs, want);
    assert_int_equal(t.missed_pairs, 0);
    assert_true(t.kept_tiles <= t.computed_tiles && t.computed_tiles <= t.visited_tiles);
    assert_true(dt < 60); /* seconds on an idle core; generous for a loaded CI machine */
}

static void neighborhood_shapes(void **state)
{
    static const big_case cases[] = {
        {"FLUX 256x256 NA 80x80", 2, {256, 256}, {80, 80}, {1, 1}, {1, 1}, {16, 8}, {16, 8}},
        {"FLUX 256x256 GNA 80x80 stride 16x16", 2, {256, 256}, {80, 80}, {1, 1}, {16, 16}, {16, 8}, {16, 8}},
        {"HunyuanVideo 30x48x80 NA 18x24x24", 3, {30, 48, 80}, {18, 24, 24}, {1, 1, 1}, {1, 1, 1}, {2, 8, 8}, {2, 8, 8}},
        {"HunyuanVideo GNA stride 16x8x8", 3, {30, 48, 80}, {18, 24, 24}, {1, 1, 1}, {16, 8, 8}, {2, 8, 8}, {2, 8, 8}},
        {"192x192 9x9 dilation 3", 2, {192, 192}, {9, 9}, {3, 3}, {1, 1}, {16, 8}, {16, 8}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const big_case *c = &cases[i];
        arena a;
        arena_init(&a, NULL);
        recipe *r = rb_recipe(&a, "big", c->gnd);
        bool causal[3] = {0};
        r->mask = rb_neighborhood(&a, c->gnd, c->w, c->dil, c->stride, causal);
        schedule s = schedule_default(c->gnd, TARGET_HOST, false);
        eval_env env = {0};
        env.grid_ndim = c->gnd;
        int64_t n = 1, per_query = 1;
        for (int d = 0; d < c->gnd; d++) {
            s.q_tile[d] = c->qt[d];
            s.kv_tile[d] = c->kt[d];
            env.sizes[SZ_GRID0 + d] = c->ext[d];
            n *= c->ext[d];
            per_query *= c->w[d]; /* every query keeps a full window when it fits the grid */
        }
        env.sizes[SZ_TOKENS] = env.sizes[SZ_KV_TOKENS] = n;
        count_big(c->name, r, &s, &env, n * per_query, &a);
        arena_free_all(&a);
    }
}

static int64_t big_ids[65536];

static int64_t ids_reader(void *user, int param, const int64_t *idx, int n)
{
    (void)user;
    (void)param;
    return n == 1 && idx[0] >= 0 && idx[0] < 65536 ? big_ids[idx[0]] : -1;
}

static void sequence_shapes(void **state)
{
    arena arn;
    arena_init(&arn, NULL);
    arena *a = &arn;
    schedule s = schedule_default(1, TARGET_HOST, false);
    s.q_tile[0] = s.kv_tile[0] = 128;
    eval_env env = {0};
    /* causal && (sinks(4) || sliding_window(2047, 0)) at 32768 */
    int64_t n = 32768, want = 0;
    for (int64_t q = 0; q < n; q++) {
        int64_t lo = q - 2047 > 0 ? q - 2047 : 0;
        want += q - lo + 1 + (lo < 4 ? lo : 4);
    }
    recipe *r = rb_recipe(a, "sinks", 0);
    r->mask = RB_B(AND, rb_causal(a), RB_B(OR, rb_sinks(a, 4), rb_sliding(a, 2047, 0)));
    env.sizes[SZ_TOKENS] = env.sizes[SZ_KV_TOKENS] = n;
    count_big("causal && (sinks(4) || window(2047)) 32k", r, &s, &env, want, a);
    /* 8 packed causal documents at 65536, one of a single token */
    n = 65536;
    want = 0;
    int64_t lens[8] = {1, 4095, 20000, 3, 16384, 9000, 12000, 0};
    lens[7] = n;
    for (int i = 0; i < 7; i++)
        lens[7] -= lens[i];
    recipe *d = rb_recipe(a, "docs", 0);
    expr *doc = rb_document(a, d);
    d->mask = RB_B(AND, rb_causal(a), doc);
    for (int i = 0, t = 0; i < 8; i++) {
        want += lens[i] * (lens[i] + 1) / 2;
        for (int64_t j = 0; j < lens[i]; j++)
            big_ids[t++] = i;
    }
    env.sizes[SZ_TOKENS] = env.sizes[SZ_KV_TOKENS] = n;
    env.param = ids_reader;
    count_big("8 causal documents 64k", d, &s, &env, want, a);
    arena_free_all(&arn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mask_cases_match_brute_force),
        cmocka_unit_test(random_masks_match_brute_force),
        cmocka_unit_test(neighborhood_shapes),
        cmocka_unit_test(sequence_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
