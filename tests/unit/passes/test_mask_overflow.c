/*
 * Integer overflow and the mask analysis (issue #12 item 14): static ranges
 * (ir/expr_range.c), exact-only folding (passes/mask_sym_fold.c), the
 * wrap-around evaluator (ir/expr_eval.c), and mask_analyze making no claim
 * from a mask or a derived bound that could wrap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "frontend/frontend.h"
#include "ir/expr_eval.h"
#include "ir/expr_range.h"
#include "passes/mask_analysis.h"
#include "passes/mask_sym.h"

#define B(op, l, r) ex_binary(a, BIN_##op, (l), (r))
#define I(v) ex_int(a, (v))

static void static_ranges(void **state)
{
    (void)state;
    arena ar;
    arena_init(&ar, NULL);
    arena *a = &ar;
    range_env env;
    range_env_init(&env, 0, NULL);
    expr *qt = ex_coord(a, SIDE_Q, -1), *kt = ex_coord(a, SIDE_K, -1);
    int_range r = expr_int_range(B(SUB, qt, kt), &env);
    assert_true(r.fits);
    assert_true(r.lo < -((int64_t)1 << 30) + 1 && r.hi > ((int64_t)1 << 30) - 2);
    assert_true(expr_int_range(B(MUL, qt, I((int64_t)1 << 32)), &env).fits);
    assert_false(expr_int_range(B(MUL, qt, I((int64_t)1 << 40)), &env).fits);
    assert_false(expr_int_range(B(SUB, B(SUB, kt, qt), I(INT64_MAX)), &env).fits);
    assert_false(expr_int_range(B(ADD, I(INT64_MAX), I(1)), &env).fits);
    assert_true(expr_int_range(B(ADD, I(INT64_MAX - 1), I(1)), &env).fits);
    assert_false(expr_int_range(B(DIV, I(INT64_MIN), I(-1)), &env).fits);
    assert_false(expr_int_range(ex_unary(a, UN_ABS, I(INT64_MIN)), &env).fits);
    assert_false(expr_int_range(ex_unary(a, UN_NEG, B(SUB, I(INT64_MIN + 1), qt)), &env).fits);
    /* params: an i64 element can be anything, an i32 or u8 cannot wrap */
    expr *idx[1] = {qt};
    expr *p = ex_param(a, 0, TY_INT, 1, idx);
    assert_false(expr_int_range(B(ADD, p, I(1)), &env).fits);
    env.param_dtype[0] = DT_I32;
    env.nparams = 1;
    assert_true(expr_int_range(B(SUB, p, I((int64_t)1 << 40)), &env).fits);
    /* floor of a float saturates (no wrap); arithmetic on it may */
    expr *fl = ex_unary(a, UN_FLOOR, ex_float(a, 1e30));
    assert_true(expr_int_range(fl, &env).fits);
    assert_false(expr_int_range(B(ADD, fl, I(1)), &env).fits);
    /* fixed sizes narrow the ranges; division by a positive constant too */
    int64_t fixed[SZ_MAX] = {0};
    fixed[SZ_TOKENS] = fixed[SZ_KV_TOKENS] = 100;
    range_env_init(&env, 0, fixed);
    r = expr_int_range(B(DIV, qt, I(1000)), &env);
    assert_true(r.fits && r.lo >= -2 && r.hi <= 2);
    r = expr_int_range(B(MOD, kt, I(7)), &env);
    assert_true(r.fits && r.lo == 0 && r.hi == 6);
    arena_free_all(&ar);
}

static void folding_is_exact(void **state)
{
    (void)state;
    arena ar;
    arena_init(&ar, NULL);
    arena *a = &ar;
    expr *qt = ex_coord(a, SIDE_Q, -1);
    expr *e = s_bin(a, BIN_ADD, s_int(a, INT64_MAX), s_int(a, 1));
    assert_int_equal(e->kind, EX_BINARY); /* not folded to a wrapped or saturated constant */
    e = s_bin(a, BIN_ADD, s_int(a, 40), s_int(a, 2));
    assert_true(s_is_int(e, 42));
    e = s_bin(a, BIN_SUB, s_bin(a, BIN_SUB, qt, s_int(a, INT64_MAX)), s_int(a, 1));
    assert_int_equal(e->kind, EX_BINARY); /* (q.t - MAX) - 1 stays: MAX + 1 does not fit */
    assert_true(e->args[0]->kind == EX_BINARY && s_is_int(e->args[1], 1));
    e = s_bin(a, BIN_ADD, s_bin(a, BIN_ADD, qt, s_int(a, 5)), s_int(a, -7));
    assert_true(e->kind == EX_BINARY && e->u.binop == BIN_SUB && s_is_int(e->args[1], 2));
    e = s_bin(a, BIN_ADD, qt, s_int(a, INT64_MIN));
    assert_true(e->kind == EX_BINARY && e->u.binop == BIN_ADD && s_is_int(e->args[1], INT64_MIN));
    e = s_bin(a, BIN_DIV, s_int(a, INT64_MIN), s_int(a, -1));
    assert_int_equal(e->kind, EX_BINARY);
    /* the evaluator wraps like generated code */
    eval_env env = {0};
    int64_t v;
    assert_true(expr_eval_int(B(ADD, I(INT64_MAX), I(1)), &env, &v));
    assert_true(v == INT64_MIN);
    assert_true(expr_eval_int(ex_unary(a, UN_ABS, I(INT64_MIN)), &env, &v));
    assert_true(v == INT64_MIN);
    assert_true(expr_eval_int(B(MUL, I((int64_t)1 << 62), I(4)), &env, &v));
    assert_true(v == 0);
    arena_free_all(&ar);
}

/* mask_analyze on recipe text: mode and whether full/empty are trivial. */
static void analyze(const char *mask, tir_range_mode *mode, bool *trivial)
{
    char src[512];
    snprintf(src, sizeof src, "recipe t\ninput q, k, v : f32 [batch, heads, tokens, 64]\nmask %s\n", mask);
    arena a;
    arena_init(&a, NULL);
    diag_list d;
    diag_list_init(&d, &a, "t.attn", src, strlen(src));
    recipe *r = frontend_parse(&a, "t.attn", src, strlen(src), &d);
    assert_non_null(r);
    schedule s = {0};
    s.ndims = 1;
    s.q_tile[0] = s.kv_tile[0] = 64;
    mask_info mi;
    assert_true(mask_analyze(&a, r, &s, &mi));
    *mode = mi.mode;
    *trivial = s_is_bool(mi.full, false) && s_is_bool(mi.empty, false);
    arena_free_all(&a);
}

static void analysis_makes_no_claim_from_wrapping(void **state)
{
    (void)state;
    static const struct {
        const char *mask;
        bool claims;
    } rows[] = {
        {"k.t <= q.t", true},
        {"q.t - k.t < 1000 && k.t <= q.t", true},
        {"abs(k.t - q.t - 9223372036854775807 - 1) > 0", false}, /* the mask */
        {"k.t - q.t - 9223372036854775807 < 0", false},
        {"q.t * 4611686018427387904 > k.t", false},
        {"k.t + 9223372036854775807 > q.t", false},
        {"k.t <= q.t + 9223372034707292159", true}, /* fits: 2^30 + 512 + 2^63 - 1 - 2^31 */
        {"k.t <= q.t + 9223372036854775000", false}, /* q.t + that can pass 2^63 - 1 */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        tir_range_mode mode;
        bool trivial;
        analyze(rows[i].mask, &mode, &trivial);
        if (rows[i].claims == trivial)
            fail_msg("mask '%s': %s", rows[i].mask, trivial ? "no claim" : "a claim from wrapping arithmetic");
        if (!rows[i].claims)
            assert_int_equal(mode, RANGE_ALL);
    }
    /* the mask fits but its key bound (q.t - 5) * 2^40 would not: no range */
    tir_range_mode mode;
    bool trivial;
    analyze("k.t / 1099511627776 >= q.t - 5", &mode, &trivial);
    assert_int_equal(mode, RANGE_ALL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(static_ranges),
        cmocka_unit_test(folding_is_exact),
        cmocka_unit_test(analysis_makes_no_claim_from_wrapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
