/* attnc bench's pair counting (runtime/tools_pairs.c)
 * against brute force over batch and heads: masks that read the head
 * (strided heads) or per-batch document ids, counted in closed form; radial
 * and a block table, counted pair by pair; no mask. Kept pairs and the
 * tile figures must match a walk over every pair. The backward's dK/dV
 * loop count (tools_count_bwd_tiles) computes every tile pair holding a
 * kept pair, on sequences and 2-D/3-D neighborhoods, and under the
 * backward's document cut (ATTNC_BWD_DOC_SPAN=1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/tools/tools_pairs.h"
#include "codegen/nvptx_kernel.h"
#include "passes/mask_analysis.h"
#include "passes/mask_frames.h"
#include "passes/mask_count.h"
#include "unit/passes/recipe_builders.h"

enum { B = 2, H = 3, MAXN = 200 };

static int32_t ids[B][MAXN];
static uint8_t table[MAXN][MAXN];

static int64_t reader(void *user, int param, const int64_t *idx, int n)
{
    const recipe *r = user;
    if (r->params[param].dtype == DT_I32)
        return ids[idx[0]][idx[n - 1]];
    return table[idx[n - 2]][idx[n - 1]];
}

/* doc[batch, q.t] == doc[batch, k.t] on param 0 (with_param's DT_I32). */
static expr *doc_filter(arena *a)
{
    expr *qi[2] = {ex_leaf(a, EX_BATCH), rb_t(a, SIDE_Q)}, *ki[2] = {ex_leaf(a, EX_BATCH), rb_t(a, SIDE_K)};
    return RB_B(EQ, ex_param(a, 0, TY_INT, 2, qi), ex_param(a, 0, TY_INT, 2, ki));
}

/* The sizes of a launch over n tokens (B batches, H heads). */
static void seq_sizes(int64_t sizes[SZ_MAX], int64_t n)
{
    memset(sizes, 0, sizeof(int64_t) * SZ_MAX);
    sizes[SZ_BATCH] = B;
    sizes[SZ_HEADS] = sizes[SZ_KV_HEADS] = H;
    sizes[SZ_TOKENS] = sizes[SZ_KV_TOKENS] = n;
}

/* ids' first n tokens per batch packed row-major (bench's host copy; the
 * reader above indexes the static array). */
static attnc_tools_param_host packed_ids(int64_t n)
{
    static int32_t packed[B * MAXN];
    for (int b = 0; b < B; b++)
        for (int64_t t = 0; t < n; t++)
            packed[b * n + t] = ids[b][t];
    return (attnc_tools_param_host){packed, 2, {B, n}};
}

/* Kept pairs and tile figures by brute force over every slice. */
static void brute(const recipe *r, const schedule *s, const int64_t *sizes, attnc_tools_pairs *out)
{
    arena a;
    arena_init(&a, NULL);
    mask_info mi;
    assert_true(mask_analyze(&a, r, s, &mi));
    eval_env env = {0};
    memcpy(env.sizes, sizes, sizeof env.sizes);
    env.param = reader;
    env.param_user = (void *)r;
    *out = (attnc_tools_pairs){0};
    /* the GPU forward's tile classes: by key frames under ATTNC_MASK_FRAMES
     * (the default) for a mask read by frames, by the hull otherwise */
    int64_t frames = nvptx_mask_frames_mode() == 1 ? mask_key_period(mi.mask, r->grid_ndim, s->kv_tile[0]) : 0;
    int64_t n = sizes[SZ_TOKENS], nq[3], nk[3];
    for (env.batch = 0; env.batch < B; env.batch++)
        for (env.head = 0; env.head < H; env.head++) {
            env.kv_head = env.head;
            int64_t tq = mask_tile_count(&mi, &env, true, nq), tk = mask_tile_count(&mi, &env, false, nk);
            for (int64_t i = 0; i < tq; i++) {
                tok_box qb, kb;
                kv_boxes boxes; /* the kernel's ranges, document cuts included */
                mask_tile_box(&mi, &env, true, i, &qb);
                kv_boxes_eval(&mi, &env, &qb, &boxes);
                for (int64_t j = 0; j < tk; j++) {
                    mask_tile_box(&mi, &env, false, j, &kb);
                    int64_t kept = 0;
                    for (int64_t q = qb.lo[0]; q <= qb.hi[0]; q++)
                        for (int64_t k = kb.lo[0]; k <= kb.hi[0]; k++) {
                            eval_env_set_point(&env, q, k);
                            int64_t v = 1;
                            assert_true(!r->mask || expr_eval_int(r->mask, &env, &v));
                            kept += v != 0;
                        }
                    out->kept += kept;
                    int64_t idx[3] = {kb.lo[0] / s->kv_tile[0], 0, 0};
                    if (!kv_boxes_hold(&boxes, 1, idx)) {
                        assert_int_equal(kept, 0); /* no kept pair outside the visited tiles */
                        continue;
                    }
                    out->visited_tiles++;
                    if (mask_classify_frames(&mi, &env, &qb, &kb, frames) == MASK_EMPTY)
                        continue;
                    out->computed_tiles++;
                    out->kept_tiles += kept > 0;
                    out->computed_pairs += (qb.hi[0] - qb.lo[0] + 1) * (kb.hi[0] - kb.lo[0] + 1);
                }
            }
        }
    out->dense = B * H * n * n;
    arena_free_all(&a);
}

static void check_tiles(const recipe *r, int64_t n, bool closed_form, int q_tile, int kv_tile)
{
    schedule s = schedule_default(1, TARGET_HOST, false);
    s.q_tile[0] = q_tile;
    s.kv_tile[0] = kv_tile;
    int64_t sizes[SZ_MAX];
    seq_sizes(sizes, n);
    attnc_tools_param_host params[1] = {packed_ids(n)};
    if (r->nparams && r->params[0].dtype == DT_U8) { /* the reader above indexes the static table */
        static uint8_t packed_t[MAXN * MAXN];
        memcpy(packed_t, table, sizeof table);
        params[0] = (attnc_tools_param_host){packed_t, 2, {MAXN, MAXN}};
    }
    attnc_tools_pairs got, want;
    strbuf err;
    sb_init(&err);
    assert_true(tools_count_pairs(r, &s, sizes, params, &got, &err));
    sb_free(&err);
    brute(r, &s, sizes, &want);
    if (got.kept != want.kept || got.kept_tiles != want.kept_tiles)
        fprintf(stderr, "%s n=%lld tiles %d/%d: kept %lld want %lld, kept tiles %lld want %lld\n", r->name,
                (long long)n, s.q_tile[0], s.kv_tile[0], (long long)got.kept, (long long)want.kept,
                (long long)got.kept_tiles, (long long)want.kept_tiles);
    assert_int_equal(got.closed_form, closed_form);
    assert_int_equal(got.kept, want.kept);
    assert_int_equal(got.dense, want.dense);
    assert_int_equal(got.visited_tiles, want.visited_tiles);
    assert_int_equal(got.computed_tiles, want.computed_tiles);
    assert_int_equal(got.kept_tiles, want.kept_tiles);
    assert_int_equal(got.computed_pairs, want.computed_pairs);
}

/* check_tiles on random tiles, with the key-frame tile classes off and on
 * ($ATTNC_MASK_FRAMES: the count follows the GPU forward's setting). */
static void check(const recipe *r, int64_t n, bool closed_form)
{
    int q_tile = 1 << (rand() % 6), kv_tile = 1 << (rand() % 6);
    for (int frames = 0; frames < 2; frames++) {
        setenv("ATTNC_MASK_FRAMES", frames ? "1" : "0", 1);
        check_tiles(r, n, closed_form, q_tile, kv_tile);
    }
    unsetenv("ATTNC_MASK_FRAMES");
}

static recipe *with_param(arena *a, recipe *r, dtype dt)
{
    recipe_param *p = ARENA_NEW(a, recipe_param);
    p->name = dt == DT_U8 ? "table" : "doc";
    p->dtype = dt;
    p->ndim = 2;
    if (dt == DT_U8) {
        p->const_dims[0] = p->const_dims[1] = MAXN;
    } else {
        p->dims[0] = SZ_BATCH;
        p->dims[1] = SZ_TOKENS;
    }
    r->params = p;
    r->nparams = 1;
    return r;
}

static void counts_match_brute_force(void **state)
{
    srand(31);
    for (int round = 0; round < 40; round++) {
        arena arn;
        arena_init(&arn, NULL);
        arena *a = &arn;
        int64_t n = 1 + rand() % 150;
        for (int b = 0; b < B; b++)
            for (int64_t t = 0, doc = 0; t < n; t++) {
                doc += rand() % 9 == 0;
                ids[b][t] = (int32_t)doc;
            }
        for (int i = 0; i < MAXN; i++)
            for (int j = 0; j < MAXN; j++)
                table[i][j] = rand() % 3 == 0;
        recipe *r = rb_recipe(a, "strided_heads", 0);
        r->mask = rb_strided_heads(a, 1 + rand() % 4, 1 + rand() % 30);
        check(r, n, true);
        r = with_param(a, rb_recipe(a, "document", 0), DT_I32);
        r->mask = RB_B(AND, rb_causal(a), doc_filter(a));
        check(r, n, true);
        r = with_param(a, rb_recipe(a, "document_alone", 0), DT_I32); /* a block table cut by documents */
        r->mask = doc_filter(a);
        check(r, n, true);
        r = rb_recipe(a, "radial", 0);
        r->mask = rb_radial(a, 1 + rand() % 20, 1 + rand() % 12);
        check(r, n, false);
        r = with_param(a, rb_recipe(a, "blocks", 0), DT_U8);
        expr *bi[2] = {RB_B(DIV, rb_t(a, SIDE_Q), RB_I(4)), RB_B(DIV, rb_t(a, SIDE_K), RB_I(8))};
        r->mask = RB_B(NE, ex_param(a, 0, TY_INT, 2, bi), RB_I(0));
        check(r, n, false);
        r = rb_recipe(a, "dense", 0);
        check(r, n, true);
        arena_free_all(&arn);
    }
}

/* A document mask alone (a block table with a document span): with
 * documents aligned to the tiles the GPU's cut visits exactly the kept
 * tiles (4 documents of 32 tokens, 32-token tiles: 4 per batch and head),
 * where the table alone visited every tile (16). */
static void document_alone_visits_its_documents(void **state)
{
    (void)state;
    arena arn;
    arena_init(&arn, NULL);
    arena *a = &arn;
    enum { N = 128, T = 32 };
    for (int b = 0; b < B; b++)
        for (int t = 0; t < N; t++)
            ids[b][t] = t / T;
    recipe *r = with_param(a, rb_recipe(a, "document_alone", 0), DT_I32);
    r->mask = doc_filter(a);
    check_tiles(r, N, true, T, T);
    schedule s = schedule_default(1, TARGET_HOST, false);
    s.q_tile[0] = s.kv_tile[0] = T;
    int64_t sizes[SZ_MAX];
    seq_sizes(sizes, N);
    attnc_tools_param_host params[1] = {packed_ids(N)};
    attnc_tools_pairs got;
    strbuf err;
    sb_init(&err);
    assert_true(tools_count_pairs(r, &s, sizes, params, &got, &err));
    sb_free(&err);
    assert_int_equal(got.kept_tiles, B * H * (N / T));
    assert_int_equal(got.visited_tiles, got.kept_tiles);
    arena_free_all(&arn);
}

static attnc_tools_pairs count_grid(const recipe *r, const schedule *s, int64_t y, int64_t x, int64_t heads)
{
    int64_t sizes[SZ_MAX] = {0};
    sizes[SZ_BATCH] = 1;
    sizes[SZ_HEADS] = sizes[SZ_KV_HEADS] = heads;
    sizes[SZ_GRID0] = y;
    sizes[SZ_GRID1] = x;
    sizes[SZ_TOKENS] = sizes[SZ_KV_TOKENS] = y * x;
    attnc_tools_pairs got;
    strbuf err;
    sb_init(&err);
    assert_true(tools_count_pairs(r, s, sizes, NULL, &got, &err));
    sb_free(&err);
    return got;
}

/* Dilated 2-D neighborhoods are counted on the forward's dilation-group
 * tiles (strided boxes of one group): the closed-form counts match the
 * tile-by-tile walk of mask_work_report on small grids whose extents the
 * dilation and the tiles do not divide. */
static void dilated_counts_match_walk(void **state)
{
    (void)state;
    srand(77);
    for (int round = 0; round < 40; round++) {
        arena a;
        arena_init(&a, NULL);
        int64_t dil[2] = {1 + rand() % 4, 2 + rand() % 3}, w[2], ext[2];
        for (int d = 0; d < 2; d++) {
            w[d] = 1 + rand() % 5;
            ext[d] = w[d] * dil[d] + rand() % 9;
        }
        recipe *r = rb_recipe(&a, "dilated", 2);
        r->mask = rb_neighborhood(&a, 2, w, dil, (int64_t[]){1 + rand() % 2, 1}, (bool[]){rand() % 2, 0});
        schedule s = schedule_default(2, TARGET_HOST, false);
        for (int d = 0; d < 2; d++) {
            s.q_tile[d] = 1 << (rand() % 3);
            s.kv_tile[d] = 1 << (rand() % 3);
        }
        attnc_tools_pairs got = count_grid(r, &s, ext[0], ext[1], 1);
        int gdil[SCHED_MAX_DIMS];
        mask_info mi;
        assert_true(mask_group_dilation(&a, r, &s, gdil) && mask_analyze_dil(&a, r, &s, gdil, &mi));
        assert_true(gdil[1] > 1);
        eval_env env = {0};
        env.grid_ndim = 2;
        env.sizes[SZ_BATCH] = env.sizes[SZ_HEADS] = env.sizes[SZ_KV_HEADS] = 1;
        env.sizes[SZ_GRID0] = ext[0];
        env.sizes[SZ_GRID1] = ext[1];
        env.sizes[SZ_TOKENS] = env.sizes[SZ_KV_TOKENS] = ext[0] * ext[1];
        mask_work wk;
        assert_true(mask_work_report(&mi, &env, true, &wk));
        assert_true(got.closed_form);
        assert_int_equal(wk.missed_pairs, 0);
        assert_int_equal(got.kept, wk.kept_pairs);
        assert_int_equal(got.computed_tiles, wk.visited_tiles);
        assert_int_equal(got.computed_pairs, wk.visited_pairs);
        arena_free_all(&a);
    }
}

/* Issue 17's case: a 9x9 window with dilation 3 on 192x192 tokens visits
 * about the tiles it keeps, as its undilated twin does (printed: the
 * contiguous tiles it visited before, the dilation-group tiles now). */
static void dilated_grid_visits_like_its_twin(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    recipe *dl = rb_recipe(&a, "na2d_k9_dil3", 2), *un = rb_recipe(&a, "na2d_k9", 2);
    dl->mask = rb_neighborhood(&a, 2, (int64_t[]){9, 9}, (int64_t[]){3, 3}, (int64_t[]){1, 1}, (bool[]){0, 0});
    un->mask = rb_neighborhood(&a, 2, (int64_t[]){9, 9}, (int64_t[]){1, 1}, (int64_t[]){1, 1}, (bool[]){0, 0});
    schedule s = schedule_default(2, TARGET_HOST, false);
    s.q_tile[0] = 8, s.q_tile[1] = 16, s.kv_tile[0] = 8, s.kv_tile[1] = 8;
    attnc_tools_pairs d = count_grid(dl, &s, 192, 192, 16), u = count_grid(un, &s, 192, 192, 16);
    /* the contiguous tiles of before: mask_analyze without groups, one slice */
    mask_info mi;
    assert_true(mask_analyze(&a, dl, &s, &mi));
    eval_env env = {0};
    env.grid_ndim = 2;
    env.sizes[SZ_BATCH] = env.sizes[SZ_HEADS] = env.sizes[SZ_KV_HEADS] = 1;
    env.sizes[SZ_GRID0] = env.sizes[SZ_GRID1] = 192;
    env.sizes[SZ_TOKENS] = env.sizes[SZ_KV_TOKENS] = 192 * 192;
    mask_tally old;
    assert_true(mask_count_slice(&mi, &env, &old));
    double rd = (double)d.visited_tiles / (double)d.kept_tiles, ru = (double)u.visited_tiles / (double)u.kept_tiles;
    printf("192x192 9x9 q=8x16 kv=8x8, 16 heads: dilated (groups) visited %lld kept %lld tiles (%.3f), "
           "pairs %.3f; undilated visited %lld kept %lld tiles (%.3f), pairs %.3f; dilated before (contiguous "
           "tiles) visited %lld kept %lld tiles, pairs %.3f\n",
           (long long)d.visited_tiles, (long long)d.kept_tiles, rd, (double)d.computed_pairs / (double)d.kept,
           (long long)u.visited_tiles, (long long)u.kept_tiles, ru, (double)u.computed_pairs / (double)u.kept,
           (long long)old.visited_tiles * 16, (long long)old.kept_tiles * 16, (double)old.computed_pairs / (double)old.kept_pairs);
    assert_int_equal(d.kept, u.kept);
    assert_true(d.closed_form && u.closed_form);
    assert_true(rd <= 1.05 * ru);
    assert_true((double)d.computed_pairs <= 1.05 * (double)u.computed_pairs);
    arena_free_all(&a);
}

/* Flat token of grid coordinates c (nd dims; 0: a sequence). */
static int64_t flat_of(const int64_t *sizes, int nd, const int64_t *c)
{
    int64_t t = 0;
    for (int d = 0; d < (nd ? nd : 1); d++)
        t = t * (nd ? sizes[SZ_GRID0 + d] : sizes[SZ_TOKENS]) + c[d];
    return t;
}

/* Kept pairs of a tile pair and whether all are (pair by pair). */
static int64_t kept_in(const recipe *r, eval_env *env, int nd, const tok_box *qb, const tok_box *kb, bool *all)
{
    int64_t n = 0, total = 0, q[3] = {0}, k[3] = {0};
    for (q[0] = qb->lo[0]; q[0] <= qb->hi[0]; q[0]++)
        for (q[1] = qb->lo[1]; q[1] <= qb->hi[1]; q[1]++)
            for (q[2] = qb->lo[2]; q[2] <= qb->hi[2]; q[2]++)
                for (k[0] = kb->lo[0]; k[0] <= kb->hi[0]; k[0]++)
                    for (k[1] = kb->lo[1]; k[1] <= kb->hi[1]; k[1]++)
                        for (k[2] = kb->lo[2]; k[2] <= kb->hi[2]; k[2]++) {
                            eval_env_set_point(env, flat_of(env->sizes, nd, q), flat_of(env->sizes, nd, k));
                            int64_t v = 0;
                            assert_true(expr_eval_int(r->mask, env, &v));
                            n += v != 0;
                            total++;
                        }
    *all = n == total && total > 0;
    return n;
}

/* The backward's dK/dV loop count (tools_count_bwd_tiles) against brute
 * force on sequences and 2-D/3-D grids the tiles do not divide: every tile
 * pair holding a kept pair is computed (a skipped one would lose
 * gradient), full tiles hold only kept pairs, visited >= computed. */
static void bwd_tiles_match_brute_force(void **state)
{
    (void)state;
    srand(53);
    for (int round = 0; round < 60; round++) {
        arena a;
        arena_init(&a, NULL);
        int nd = round % 3 == 0 ? 0 : 2 + round % 2;
        recipe *r = rb_recipe(&a, "bwd", nd);
        int64_t sizes[SZ_MAX] = {0}, n = 1;
        sizes[SZ_BATCH] = sizes[SZ_HEADS] = sizes[SZ_KV_HEADS] = 1;
        schedule s = schedule_default(nd ? nd : 1, TARGET_HOST, false);
        if (nd == 0) {
            n = 1 + rand() % 200;
            r->mask = rand() % 2 ? rb_causal(&a) : rb_sliding(&a, rand() % 40, rand() % 3 ? 0 : rand() % 20);
            s.q_tile[0] = 1 << (rand() % 6);
            s.kv_tile[0] = 1 << (rand() % 7);
        } else {
            int64_t w[3], dil[3] = {1, 1, 1}, st[3] = {1, 1, 1};
            bool causal[3] = {false, false, false};
            for (int d = 0; d < nd; d++) {
                w[d] = 1 + 2 * (rand() % 3);
                sizes[SZ_GRID0 + d] = w[d] + rand() % (nd == 2 ? 14 : 6);
                n *= sizes[SZ_GRID0 + d];
                s.q_tile[d] = 1 << (rand() % 3);
                s.kv_tile[d] = 1 << (rand() % 4);
            }
            causal[0] = nd == 3 && rand() % 2;
            r->mask = rb_neighborhood(&a, nd, w, dil, st, causal);
        }
        sizes[SZ_TOKENS] = sizes[SZ_KV_TOKENS] = n;
        attnc_tools_bwd_tiles got;
        strbuf err;
        sb_init(&err);
        assert_true(tools_count_bwd_tiles(r, &s, sizes, NULL, &got, &err));
        sb_free(&err);
        assert_true(got.counted);
        mask_info mi;
        assert_true(mask_analyze(&a, r, &s, &mi));
        eval_env env = {0};
        memcpy(env.sizes, sizes, sizeof env.sizes);
        env.grid_ndim = nd;
        int64_t nq[3], nk[3], kept_tiles = 0, all_tiles = 0;
        int64_t tq = mask_tile_count(&mi, &env, true, nq), tk = mask_tile_count(&mi, &env, false, nk);
        for (int64_t i = 0; i < tq; i++)
            for (int64_t j = 0; j < tk; j++) {
                tok_box qb, kb;
                mask_tile_box(&mi, &env, true, i, &qb);
                mask_tile_box(&mi, &env, false, j, &kb);
                for (int d = mi.ndims; d < 3; d++)
                    qb.lo[d] = qb.hi[d] = kb.lo[d] = kb.hi[d] = 0;
                bool all;
                kept_tiles += kept_in(r, &env, nd, &qb, &kb, &all) > 0;
                all_tiles += all;
            }
        if (got.kept_tiles != kept_tiles)
            fprintf(stderr, "round %d nd %d: kept tiles %lld, brute force %lld\n", round, nd,
                    (long long)got.kept_tiles, (long long)kept_tiles);
        assert_int_equal(got.kept_tiles, kept_tiles);
        assert_true(got.full_tiles <= all_tiles);
        assert_true(got.computed_tiles >= got.kept_tiles && got.visited_tiles >= got.computed_tiles);
        arena_free_all(&a);
    }
}

/* The backward's document cut ($ATTNC_BWD_DOC_SPAN=1, q_span_cut, as
 * codegen/nvptx_bwd_span.c cuts the dK/dV kernel's query ranges) on causal
 * documents over random tiles: contiguous documents (1 to 30 tokens),
 * few random ids (not contiguous) and recurring ids. Every (query tile,
 * key tile) pair holding a kept pair lies in the cut range, and the count
 * visits those ranges: kept tiles <= visited <= the uncut count. */
static void bwd_document_cut_is_sound(void **state)
{
    (void)state;
    srand(71);
    for (int round = 0; round < 60; round++) {
        arena arn;
        arena_init(&arn, NULL);
        arena *a = &arn;
        int64_t n = 1 + rand() % 200;
        for (int b = 0; b < B; b++)
            for (int64_t t = 0, doc = 0; t < n; t++) {
                doc += rand() % (1 + round % 30) == 0;
                ids[b][t] = round % 3 == 0 ? (int32_t)doc : round % 3 == 1 ? rand() % 3 : (int32_t)((t / 5) % 3);
            }
        recipe *r = with_param(a, rb_recipe(a, "document", 0), DT_I32);
        r->mask = RB_B(AND, rb_causal(a), doc_filter(a));
        schedule s = schedule_default(1, TARGET_HOST, false);
        s.q_tile[0] = 1 << (rand() % 6);
        s.kv_tile[0] = 1 << (rand() % 7);
        int64_t sizes[SZ_MAX];
        seq_sizes(sizes, n);
        attnc_tools_param_host params[1] = {packed_ids(n)};
        attnc_tools_bwd_tiles cut, uncut;
        strbuf err;
        sb_init(&err);
        setenv("ATTNC_BWD_DOC_SPAN", "0", 1);
        assert_true(tools_count_bwd_tiles(r, &s, sizes, params, &uncut, &err));
        setenv("ATTNC_BWD_DOC_SPAN", "1", 1);
        assert_true(tools_count_bwd_tiles(r, &s, sizes, params, &cut, &err));
        sb_free(&err);
        mask_info mi;
        assert_true(mask_analyze(a, r, &s, &mi));
        assert_true(mi.span_param == 0);
        eval_env env = {0};
        memcpy(env.sizes, sizes, sizeof env.sizes);
        env.param = reader;
        env.param_user = r;
        int64_t nq[3], nk[3], visited = 0, kept_tiles = 0;
        for (env.batch = 0; env.batch < B; env.batch++) {
            int64_t tq = mask_tile_count(&mi, &env, true, nq), tk = mask_tile_count(&mi, &env, false, nk);
            for (int64_t j = 0; j < tk; j++) {
                tok_box kb, qb;
                int64_t lo[SCHED_MAX_DIMS] = {0}, hi[SCHED_MAX_DIMS] = {-1};
                mask_tile_box(&mi, &env, false, j, &kb);
                if (q_range_eval(&mi, &env, &kb, lo, hi))
                    q_span_cut(&mi, &env, &kb, lo, hi); /* causal: bounds without the head */
                visited += hi[0] >= lo[0] ? hi[0] - lo[0] + 1 : 0;
                for (int64_t i = 0; i < tq; i++) {
                    mask_tile_box(&mi, &env, true, i, &qb);
                    bool all;
                    if (kept_in(r, &env, 0, &qb, &kb, &all) == 0)
                        continue;
                    kept_tiles++;
                    if (i < lo[0] || i > hi[0])
                        fail_msg("round %d n %lld q=%d kv=%d: query tile %lld holds kept pairs with key tile %lld, "
                                 "outside the cut %lld..%lld", round, (long long)n, s.q_tile[0], s.kv_tile[0],
                                 (long long)i, (long long)j, (long long)lo[0], (long long)hi[0]);
                }
            }
        }
        assert_int_equal(cut.visited_tiles, visited * H);
        assert_true(kept_tiles * H <= cut.visited_tiles && cut.visited_tiles <= uncut.visited_tiles);
        assert_int_equal(cut.kept_tiles, uncut.kept_tiles);
        arena_free_all(&arn);
    }
    unsetenv("ATTNC_BWD_DOC_SPAN");
}

/* ATTNC_BWD_PARTS=1 on causal && (sinks || window): the dK/dV loop over the
 * transposed parts still computes every tile pair holding a kept pair
 * (brute force), visits no more than the hull's loop and computes no more;
 * the dQ loop over the forward's parts likewise. */
static void bwd_parts_match_brute_force(void **state)
{
    (void)state;
    srand(71);
    int fewer = 0;
    for (int round = 0; round < 40; round++) {
        arena a;
        arena_init(&a, NULL);
        recipe *r = rb_recipe(&a, "bwdparts", 0);
        int64_t sizes[SZ_MAX] = {0}, n = 1 + rand() % 300;
        sizes[SZ_BATCH] = sizes[SZ_HEADS] = sizes[SZ_KV_HEADS] = 1;
        sizes[SZ_TOKENS] = sizes[SZ_KV_TOKENS] = n;
        schedule s = schedule_default(1, TARGET_HOST, false);
        s.q_tile[0] = 1 << (1 + rand() % 6);
        s.kv_tile[0] = 1 << (1 + rand() % 6);
        r->mask = ex_binary(&a, BIN_AND, rb_causal(&a),
                            ex_binary(&a, BIN_OR, rb_sinks(&a, 1 + rand() % 70), rb_sliding(&a, rand() % 40, 0)));
        attnc_tools_bwd_tiles hull, parts;
        strbuf err;
        sb_init(&err);
        setenv("ATTNC_BWD_PARTS", "0", 1);
        assert_true(tools_count_bwd_tiles(r, &s, sizes, NULL, &hull, &err));
        assert_true(tools_count_bwd_dq_tiles(r, &s, sizes, NULL, &hull, &err));
        setenv("ATTNC_BWD_PARTS", "1", 1);
        assert_true(tools_count_bwd_tiles(r, &s, sizes, NULL, &parts, &err));
        assert_true(tools_count_bwd_dq_tiles(r, &s, sizes, NULL, &parts, &err));
        unsetenv("ATTNC_BWD_PARTS");
        sb_free(&err);
        mask_info mi;
        assert_true(mask_analyze(&a, r, &s, &mi));
        eval_env env = {0};
        memcpy(env.sizes, sizes, sizeof env.sizes);
        int64_t nq[3], nk[3], kept_tiles = 0;
        int64_t tq = mask_tile_count(&mi, &env, true, nq), tk = mask_tile_count(&mi, &env, false, nk);
        for (int64_t i = 0; i < tq; i++)
            for (int64_t j = 0; j < tk; j++) {
                tok_box qb, kb;
                mask_tile_box(&mi, &env, true, i, &qb);
                mask_tile_box(&mi, &env, false, j, &kb);
                for (int d = 1; d < 3; d++)
                    qb.lo[d] = qb.hi[d] = kb.lo[d] = kb.hi[d] = 0;
                bool all;
                kept_tiles += kept_in(r, &env, 0, &qb, &kb, &all) > 0;
            }
        if (parts.computed_tiles < kept_tiles || parts.dq_computed_tiles < kept_tiles)
            fprintf(stderr, "round %d: kept tiles %lld, computed dK/dV %lld dQ %lld\n", round, (long long)kept_tiles,
                    (long long)parts.computed_tiles, (long long)parts.dq_computed_tiles);
        assert_true(parts.computed_tiles >= kept_tiles && parts.dq_computed_tiles >= kept_tiles);
        assert_true(parts.visited_tiles <= hull.visited_tiles && parts.computed_tiles <= hull.computed_tiles);
        assert_true(parts.dq_visited_tiles <= hull.dq_visited_tiles);
        assert_true(parts.dq_computed_tiles <= hull.dq_computed_tiles);
        assert_true(hull.dq_computed_tiles >= kept_tiles);
        fewer += parts.visited_tiles < hull.visited_tiles && parts.dq_visited_tiles < hull.dq_visited_tiles;
        arena_free_all(&a);
    }
    assert_true(fewer >= 10); /* the parts were walked */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_match_brute_force),
        cmocka_unit_test(document_alone_visits_its_documents),
        cmocka_unit_test(dilated_counts_match_walk),
        cmocka_unit_test(dilated_grid_visits_like_its_twin),
        cmocka_unit_test(bwd_tiles_match_brute_force),
        cmocka_unit_test(bwd_document_cut_is_sound),
        cmocka_unit_test(bwd_parts_match_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
