/* Radial Attention's masks (radial, radial_token) counted in closed form
 * (passes/mask_radial.h) by attnc bench's pair count (tools_pairs.c):
 * kept pairs, tiles holding kept pairs and the backward's kept tiles must
 * equal a brute-force walk over every pair through the fp64 reference's
 * mask (tests/reference: the form's own definition, in floating point) on
 * small odd shapes — tokens not a multiple of the frame, frames not a
 * multiple of the block, blocks wider than the frame, decays below and
 * above 1, sink on and off, tiles from 1 to 64 tokens. Issue 17's shape
 * (31200 tokens of 1560-token frames, 16 heads) counts in closed form,
 * forward and backward; the seconds it took are printed, not asserted (a
 * sanitizer build runs it several times slower; speed belongs to a
 * benchmark, not to a unit test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/nvptx_kernel.h"
#include "frontend/frontend.h"
#include "passes/mask_analysis.h"
#include "passes/mask_frames.h"
#include "passes/mask_radial.h"
#include "reference/ref_expr.h"
#include "runtime/tools/tools_pairs.h"

enum { B = 1, H = 2 };

typedef struct parsed {
    arena a;
    diag_list d;
    recipe *r;
} parsed;

static recipe *parse(parsed *p, const char *mask)
{
    char src[512];
    snprintf(src, sizeof src, "recipe t\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nmask %s\n", mask);
    arena_init(&p->a, NULL);
    size_t n = strlen(src);
    char *text = arena_alloc(&p->a, n + 1);
    memcpy(text, src, n + 1);
    diag_list_init(&p->d, &p->a, "t.attn", text, n);
    p->r = frontend_parse(&p->a, "t.attn", text, n, &p->d);
    if (!p->r || p->d.errors)
        fail_msg("does not parse: %s", src);
    return p->r;
}

/* The reference's verdict on pair (q, k). */
static bool ref_keeps(const recipe *r, const int64_t *sizes, int64_t q, int64_t k)
{
    ref_point p = {0};
    p.q_t = q;
    p.k_t = k;
    p.sizes = sizes;
    return ref_eval_bool(&p, r->mask_surface);
}

static int64_t ref_box(const recipe *r, const int64_t *sizes, const tok_box *qb, const tok_box *kb)
{
    int64_t n = 0;
    for (int64_t q = qb->lo[0]; q <= qb->hi[0]; q++)
        for (int64_t k = kb->lo[0]; k <= kb->hi[0]; k++)
            n += ref_keeps(r, sizes, q, k);
    return n;
}

static void sizes_of(int64_t *sizes, int64_t nq, int64_t nk)
{
    memset(sizes, 0, sizeof(int64_t) * SZ_MAX);
    sizes[SZ_BATCH] = B;
    sizes[SZ_HEADS] = sizes[SZ_KV_HEADS] = H;
    sizes[SZ_TOKENS] = nq;
    sizes[SZ_KV_TOKENS] = nk;
}

/* Tile pairs the interval classification proved empty, over all checks;
 * those only its frame split (mask_classify_frames) settles. */
static int64_t empty_tiles, split_settled;

/* mask_classify_frames at the rule's frame: sound, and settles whatever
 * the hull's classification settles. */
static void check_split(const mask_info *mi, const eval_env *env, const radial_rule *rr, const tok_box *qb,
                        const tok_box *kb, mask_class hull, int64_t kept)
{
    mask_class cl = mask_classify_frames(mi, env, qb, kb, rr->frame);
    if (cl == MASK_EMPTY)
        assert_int_equal(kept, 0);
    if (cl == MASK_FULL)
        assert_int_equal(kept, tok_box_len(qb, 0) * tok_box_len(kb, 0));
    if (hull != MASK_PARTIAL)
        assert_int_equal(cl, hull);
    split_settled += hull == MASK_PARTIAL && cl != MASK_PARTIAL;
}

/* tools_count_pairs and tools_count_bwd_tiles against the reference, tile
 * pair by tile pair (the kernels visit every tile: RANGE_ALL); the tile
 * class is sound (no kept pair in an empty tile, no dropped one in a full
 * tile). */
static void check(const char *mask, const recipe *r, int64_t nq, int64_t nk, int qt, int kt)
{
    schedule s = schedule_default(1, TARGET_HOST, false);
    s.q_tile[0] = qt;
    s.kv_tile[0] = kt;
    int64_t sizes[SZ_MAX];
    sizes_of(sizes, nq, nk);
    attnc_tools_pairs got;
    attnc_tools_bwd_tiles bwd;
    strbuf err;
    sb_init(&err);
    assert_true(tools_count_pairs(r, &s, sizes, NULL, &got, &err));
    assert_true(tools_count_bwd_tiles(r, &s, sizes, NULL, &bwd, &err));
    sb_free(&err);
    arena a;
    arena_init(&a, NULL);
    mask_info mi;
    assert_true(mask_analyze(&a, r, &s, &mi));
    eval_env env = {0};
    memcpy(env.sizes, sizes, sizeof env.sizes);
    /* the GPU forward's tile classes: split at key frames under
     * ATTNC_MASK_FRAMES (the default), the hull's otherwise */
    int64_t frames = nvptx_mask_frames_mode() == 1 ? mask_key_period(mi.mask, r->grid_ndim, kt) : 0;
    int64_t n[3], kept = 0, kept_tiles = 0, visited = 0, computed = 0, computed_pairs = 0;
    int64_t tq = mask_tile_count(&mi, &env, true, n), tk = mask_tile_count(&mi, &env, false, n);
    for (int64_t i = 0; i < tq; i++)
        for (int64_t j = 0; j < tk; j++) {
            tok_box qb, kb;
            mask_tile_box(&mi, &env, true, i, &qb);
            mask_tile_box(&mi, &env, false, j, &kb);
            int64_t k = ref_box(r, sizes, &qb, &kb);
            kept += k;
            kept_tiles += k > 0;
            visited++;
            mask_class hull = mask_classify_boxes(&mi, &env, &qb, &kb);
            radial_rule rr;
            if (mask_radial_rule(r, &rr))
                check_split(&mi, &env, &rr, &qb, &kb, hull, k);
            /* F = 0 would give hull's class again, classified a second time */
            mask_class cl = frames > 0 ? mask_classify_frames(&mi, &env, &qb, &kb, frames) : hull;
            empty_tiles += hull == MASK_EMPTY;
            if (cl == MASK_EMPTY) {
                assert_int_equal(k, 0); /* the kernel skips no kept pair */
                continue;
            }
            if (cl == MASK_FULL) /* nor keeps a dropped one unmasked */
                assert_int_equal(k, tok_box_len(&qb, 0) * tok_box_len(&kb, 0));
            computed++;
            computed_pairs += tok_box_len(&qb, 0) * tok_box_len(&kb, 0);
        }
    kept *= B * H, kept_tiles *= B * H, visited *= B * H, computed *= B * H, computed_pairs *= B * H;
    if (got.kept != kept || got.kept_tiles != kept_tiles || bwd.kept_tiles != kept_tiles)
        fprintf(stderr, "%s: nq %lld nk %lld q=%d kv=%d: kept %lld want %lld, kept tiles %lld (bwd %lld) want %lld\n",
                mask, (long long)nq, (long long)nk, qt, kt, (long long)got.kept, (long long)kept,
                (long long)got.kept_tiles, (long long)bwd.kept_tiles, (long long)kept_tiles);
    assert_true(got.closed_form);
    assert_int_equal(got.kept, kept);
    assert_int_equal(got.dense, nq * nk * B * H);
    assert_int_equal(got.kept_tiles, kept_tiles);
    assert_int_equal(got.visited_tiles, visited);
    assert_int_equal(got.computed_tiles, computed);
    assert_int_equal(got.computed_pairs, computed_pairs);
    assert_true(bwd.counted);
    assert_int_equal(bwd.kept_tiles, kept_tiles);
    assert_true(bwd.computed_tiles >= bwd.kept_tiles && bwd.visited_tiles >= bwd.computed_tiles);
    arena_free_all(&a);
}

/* A random radial mask: frames of 1 to 40 tokens, blocks 1 to 64 (often
 * wider than the frame: the split then thins adjacent frames too), decays
 * 1/4 to 3, sink on or off; every fourth one the token form. */
static const char *random_mask(char *buf, size_t cap, int round)
{
    static const char *decays[] = {"1", "0.5", "0.25", "2", "1.5", "0.75", "3", "0.375"};
    int64_t F = 1 + rand() % 40;
    if (round % 4 == 3)
        snprintf(buf, cap, "radial_token(frame: %lld, window: %d)", (long long)F, 1 + rand() % 50);
    else
        snprintf(buf, cap, "radial(frame: %lld, block: %d, decay: %s, sink: %s)", (long long)F, 1 + rand() % 64,
                 decays[rand() % 8], rand() % 2 ? "true" : "false");
    return buf;
}

static void radial_counts_match_reference(void **state)
{
    (void)state;
    srand(1717);
    for (int round = 0; round < 160; round++) {
        char mask[128];
        parsed p;
        recipe *r = parse(&p, random_mask(mask, sizeof mask, round));
        radial_rule rr;
        assert_true(mask_radial_rule(r, &rr));
        int64_t nq = 1 + rand() % 230, nk = rand() % 3 ? nq : 1 + rand() % 230;
        int qt = 1 << (rand() % 7), kt = 1 << (rand() % 7);
        for (int frames = 0; frames < 2; frames++) { /* the forward's tile classes off and on */
            setenv("ATTNC_MASK_FRAMES", frames ? "1" : "0", 1);
            check(mask, r, nq, nk, qt, kt);
        }
        unsetenv("ATTNC_MASK_FRAMES");
        arena_free_all(&p.a);
    }
    printf("%lld tile pairs proven empty, %lld more settled split at frames\n", (long long)empty_tiles,
           (long long)split_settled);
    assert_true(empty_tiles > 0);
    assert_true(split_settled > 0);
}

/* mask_radial_count on random token ranges (many frames each, partial
 * frames at both ends, single tokens) against the reference. */
static void radial_ranges_match_reference(void **state)
{
    (void)state;
    srand(99);
    int64_t sizes[SZ_MAX];
    sizes_of(sizes, 400, 400);
    for (int round = 0; round < 400; round++) {
        char mask[128];
        parsed p;
        recipe *r = parse(&p, random_mask(mask, sizeof mask, round));
        radial_rule rr;
        assert_true(mask_radial_rule(r, &rr));
        int64_t q0 = rand() % 300, k0 = rand() % 300;
        int64_t q1 = q0 - 1 + rand() % 100, k1 = k0 - 1 + rand() % 100;
        tok_box qb = {{q0}, {q1}, {0}}, kb = {{k0}, {k1}, {0}};
        int64_t want = q1 < q0 || k1 < k0 ? 0 : ref_box(r, sizes, &qb, &kb);
        int64_t got = mask_radial_count(&rr, q0, q1, k0, k1);
        if (got != want)
            fprintf(stderr, "%s: q [%lld, %lld] k [%lld, %lld]: %lld want %lld\n", mask, (long long)q0,
                    (long long)q1, (long long)k0, (long long)k1, (long long)got, (long long)want);
        assert_int_equal(got, want);
        arena_free_all(&p.a);
    }
}

/* Radial forms inside && or ||, or on a token grid: not this closed form. */
static void only_lone_radial_forms(void **state)
{
    (void)state;
    parsed a, b;
    radial_rule rr;
    assert_false(mask_radial_rule(parse(&a, "causal && radial(frame: 16, block: 4)"), &rr));
    assert_false(mask_radial_rule(parse(&b, "causal"), &rr));
    arena_free_all(&a.a);
    arena_free_all(&b.a);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Kept pairs row by row: per query token and key frame, the keys of the
 * band (independent of the range splitting in mask_radial_count). */
static int64_t rows_count(const radial_rule *rr, int64_t n)
{
    int64_t F = rr->frame, kept = 0;
    for (int64_t q = 0; q < n; q++)
        for (int64_t fj = 0; fj * F < n; fj++) {
            int64_t len = n - fj * F < F ? n - fj * F : F, si = q % F;
            int64_t d = q / F > fj ? q / F - fj : fj - q / F, w = mask_radial_width(rr, d);
            if (rr->video && rr->sink && fj == 0)
                kept += len;
            else if (w >= 0) {
                int64_t lo = si - w > 0 ? si - w : 0, hi = si + w < len - 1 ? si + w : len - 1;
                kept += hi >= lo ? hi - lo + 1 : 0;
            }
        }
    return kept;
}

/* Issue 17: recipes/radial_attention.attn at 31200 tokens, 16 heads, the
 * H200's tiles (q=128 kv=128; the backward's dK/dV q=64 kv=128), each count
 * in well under a second (pair by pair it took minutes); Wan's decay 0.5
 * too. */
static void radial_attention_counts_closed_form(void **state)
{
    (void)state;
    const char *masks[] = {"radial(frame: 1560, block: 128, decay: 1, sink: true)",
                           "radial(frame: 1560, block: 128, decay: 0.5, sink: false)",
                           "radial_token(frame: 1560, window: 1024)"};
    for (int m = 0; m < 3; m++) {
        parsed p;
        recipe *r = parse(&p, masks[m]);
        radial_rule rr;
        assert_true(mask_radial_rule(r, &rr));
        schedule s = schedule_default(1, TARGET_SM90A, false);
        s.q_tile[0] = s.kv_tile[0] = 128;
        int64_t sizes[SZ_MAX];
        sizes_of(sizes, 31200, 31200);
        sizes[SZ_HEADS] = sizes[SZ_KV_HEADS] = 16;
        attnc_tools_pairs got;
        attnc_tools_bwd_tiles bwd;
        strbuf err;
        sb_init(&err);
        double t0 = now_s();
        assert_true(tools_count_pairs(r, &s, sizes, NULL, &got, &err));
        double t1 = now_s();
        s.q_tile[0] = 64;
        assert_true(tools_count_bwd_tiles(r, &s, sizes, NULL, &bwd, &err));
        double t2 = now_s();
        sb_free(&err);
        int64_t rows = rows_count(&rr, 31200);
        printf("%s, 31200 tokens, 16 heads: %lld kept pairs (density %.4f) in %.3f s; backward tiles (q=64 "
               "kv=128): %lld visited, %lld computed, %lld kept in %.3f s\n",
               masks[m], (long long)got.kept, (double)got.kept / got.dense, t1 - t0, (long long)bwd.visited_tiles,
               (long long)bwd.computed_tiles, (long long)bwd.kept_tiles, t2 - t1);
        assert_true(got.closed_form);
        assert_int_equal(got.kept, 16 * rows);
        assert_int_equal(got.kept, 16 * mask_radial_count(&rr, 0, 31199, 0, 31199));
        arena_free_all(&p.a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(radial_counts_match_reference),
        cmocka_unit_test(radial_ranges_match_reference),
        cmocka_unit_test(only_lone_radial_forms),
        cmocka_unit_test(radial_attention_counts_closed_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
