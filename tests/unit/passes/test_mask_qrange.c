/* The backward's transposed mask analysis against brute force: for every
 * mask recipe over random shapes and tiles, every query tile holding a kept
 * pair with a key tile lies inside that key tile's q range (q_range_eval)
 * and its transposed union parts (q_boxes_eval, inside the hull),
 * the modes follow the mask like the forward's, simple ranges are tight,
 * and the q_range op of the lowered backward program evaluates like the
 * analysis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "mask_cases.h"
#include "passes/lower_backward.h"
#include "passes/pipeline.h"

enum { ROUNDS = 24 };

/* Grid coordinates of flat token t (outermost first). */
static void coords(const eval_env *env, int64_t t, int64_t *c)
{
    c[0] = c[1] = c[2] = 0;
    if (env->grid_ndim == 0) {
        c[0] = t;
        return;
    }
    for (int d = env->grid_ndim - 1; d >= 0; d--) {
        c[d] = t % env->sizes[SZ_GRID0 + d];
        t /= env->sizes[SZ_GRID0 + d];
    }
}

static bool in_box(const tok_box *b, const int64_t *c, int nd)
{
    for (int d = 0; d < nd; d++)
        if (c[d] < b->lo[d] || c[d] > b->hi[d])
            return false;
    return true;
}

/* Whether any pair of the two boxes is kept (env's head). */
static bool any_kept(const mask_info *mi, const eval_env *env, const tok_box *qb, const tok_box *kb)
{
    eval_env e = *env;
    int64_t qc[3], kc[3];
    for (int64_t qt = 0; qt < env->sizes[SZ_TOKENS]; qt++) {
        coords(env, qt, qc);
        if (!in_box(qb, qc, mi->ndims))
            continue;
        for (int64_t kt = 0; kt < env->sizes[SZ_KV_TOKENS]; kt++) {
            coords(env, kt, kc);
            if (!in_box(kb, kc, mi->ndims))
                continue;
            eval_env_set_point(&e, qt, kt);
            int64_t v = 1;
            assert_true(expr_eval_int(mi->mask, &e, &v));
            if (v)
                return true;
        }
    }
    return false;
}

static bool tile_in(const mask_info *mi, const tok_box *qb, const int64_t *lo, const int64_t *hi)
{
    for (int d = 0; d < mi->ndims; d++) {
        int64_t i = qb->lo[d] / mi->q_tile[d];
        if (i < lo[d] || i > hi[d])
            return false;
    }
    return true;
}

static int with_qparts; /* cases whose q range came with parts (the union's transposed terms) */

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
    int64_t nq[3], nk[3];
    int64_t tq = mask_tile_count(&mi, &env, true, nq), tk = mask_tile_count(&mi, &env, false, nk);
    int64_t missed = 0;
    for (int64_t j = 0; j < tk; j++) {
        tok_box kb, qb;
        int64_t lo[3], hi[3];
        mask_tile_box(&mi, &env, false, j, &kb);
        bool nonempty = q_range_eval(&mi, &env, &kb, lo, hi);
        kv_boxes parts; /* the transposed parts the GPU's dK/dV kernel walks (the hull without them) */
        q_boxes_eval(&mi, &env, &kb, &parts);
        for (int64_t i = 0; i < tq; i++) {
            mask_tile_box(&mi, &env, true, i, &qb);
            int64_t qi[3] = {0};
            for (int d = 0; d < mi.ndims; d++)
                qi[d] = qb.lo[d] / mi.q_tile[d];
            bool in_parts = kv_boxes_hold(&parts, mi.ndims, qi);
            /* the parts lie inside the hull */
            assert_true(!in_parts || (nonempty && tile_in(&mi, &qb, lo, hi)));
            if (any_kept(&mi, &env, &qb, &kb) && !(nonempty && tile_in(&mi, &qb, lo, hi) && in_parts))
                missed++;
        }
    }
    with_qparts += mi.qnparts > 0;
    if (missed)
        fprintf(stderr, "%s round %d: %lld kept tile pairs outside the q range\n", mc_names[c], round, (long long)missed);
    assert_int_equal(missed, 0);
    arena_free_all(&a);
}

static void brute_force_all_masks(void **state)
{
    srand(4242);
    with_qparts = 0;
    for (int c = 0; c < MC_COUNT; c++)
        for (int round = 0; round < ROUNDS; round++)
            check_case((mask_case)c, round);
    /* causal && union draws mostly get transposed parts: the check above saw them */
    fprintf(stderr, "%d of %d cases with q parts\n", with_qparts, MC_COUNT * ROUNDS);
    assert_true(with_qparts >= ROUNDS / 2);
}

static void modes_follow_the_mask(void **state)
{
    /* neighborhoods: the window start is not solvable for the query; sinks:
     * a sink bounds no query side: the forward's bounds are inverted */
    static const tir_range_mode want[MC_COUNT] = {
        [MC_CAUSAL] = RANGE_BOUNDS,     [MC_CAUSAL_GRID2] = RANGE_BOUNDS, [MC_SLIDING] = RANGE_BOUNDS,
        [MC_SLIDING_SINKS] = RANGE_INVERSE, [MC_NB1D] = RANGE_INVERSE,     [MC_NB2D] = RANGE_INVERSE,
        [MC_NB3D] = RANGE_INVERSE,      [MC_RADIAL] = RANGE_ALL,          [MC_STRIDED_HEADS] = RANGE_BOUNDS,
        [MC_DOC_CAUSAL] = RANGE_BOUNDS, [MC_DOCUMENT] = RANGE_BLOCK_TABLE, [MC_BLOCKS] = RANGE_BLOCK_TABLE,
    };
    srand(8);
    for (int c = 0; c < MC_UNION_FIRST; c++) {
        arena a;
        arena_init(&a, NULL);
        static mc_params p;
        eval_env env;
        schedule s;
        recipe *r = mc_build(&a, (mask_case)c, &env, &s, &p);
        mask_info mi;
        assert_true(mask_analyze(&a, r, &s, &mi));
        if (mi.qmode != want[c])
            fprintf(stderr, "%s: q mode %d, want %d\n", mc_names[c], mi.qmode, want[c]);
        assert_int_equal(mi.qmode, want[c]);
        arena_free_all(&a);
    }
}

/* Causal on a sequence: key tile j is seen by the query tiles from the one
 * holding its first key to the last. */
static void causal_q_ranges_are_tight(void **state)
{
    arena a;
    arena_init(&a, NULL);
    recipe *r = rb_recipe(&a, "causal", 0);
    r->mask = rb_causal(&a);
    schedule s = schedule_default(1, TARGET_HOST, false);
    s.q_tile[0] = 32;
    s.kv_tile[0] = 64;
    mask_info mi;
    assert_true(mask_analyze(&a, r, &s, &mi));
    assert_int_equal(mi.qmode, RANGE_BOUNDS);
    eval_env env = {0};
    env.sizes[SZ_TOKENS] = env.sizes[SZ_KV_TOKENS] = 1000;
    for (int64_t k0 = 0; k0 < 1000; k0 += 64) {
        tok_box kb = {{k0}, {k0 + 63 < 999 ? k0 + 63 : 999}, {0}};
        int64_t lo[3], hi[3];
        assert_true(q_range_eval(&mi, &env, &kb, lo, hi));
        assert_int_equal(lo[0], k0 / 32);
        assert_int_equal(hi[0], 999 / 32);
    }
    arena_free_all(&a);
}

/* The backward program's q_range op evaluates like mask_analyze's bounds. */
static void program_q_range_matches_analysis(void **state)
{
    static const mask_case cases[] = {MC_NB2D, MC_SLIDING, MC_CAUSAL, MC_NB3D};
    srand(31);
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++)
        for (int round = 0; round < 8; round++) {
            arena a;
            arena_init(&a, NULL);
            static mc_params p;
            eval_env env;
            schedule s;
            recipe *r = mc_build(&a, cases[ci], &env, &s, &p);
            strbuf err;
            sb_init(&err);
            tir_program prog;
            bool ok = lower_backward(&a, r, &s, TARGET_HOST, &prog, &err);
            if (!ok)
                fprintf(stderr, "%s\n", sb_cstr(&err));
            assert_true(ok);
            sb_free(&err);
            const tir_op *range = NULL;
            for (int i = 0; i < prog.nkernels; i++)
                for (const tir_op *op = prog.kernels[i]->body->first; op; op = op->next)
                    if (op->kind == TIR_Q_RANGE)
                        range = op;
            assert_non_null(range);
            const tir_kernel *dkv = NULL;
            for (int i = 0; i < prog.nkernels; i++)
                if (prog.kernels[i]->programs == PROG_KVTILES)
                    dkv = prog.kernels[i];
            assert_non_null(dkv);
            mask_info mi;
            assert_true(mask_analyze(&a, r, &s, &mi));
            int64_t nk[3], tk = mask_tile_count(&mi, &env, false, nk);
            for (int64_t j = 0; j < tk; j++) {
                tok_box kb;
                int64_t lo1[3], hi1[3], lo2[3], hi2[3];
                mask_tile_box(&mi, &env, false, j, &kb);
                bool e1 = q_range_eval(&mi, &env, &kb, lo1, hi1), e2 = q_range_eval_op(range, dkv, &env, &kb, lo2, hi2);
                assert_int_equal(e1, e2);
                assert_memory_equal(lo1, lo2, sizeof lo1);
                assert_memory_equal(hi1, hi2, sizeof hi1);
            }
            arena_free_all(&a);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(brute_force_all_masks),
        cmocka_unit_test(modes_follow_the_mask),
        cmocka_unit_test(causal_q_ranges_are_tight),
        cmocka_unit_test(program_q_range_matches_analysis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
