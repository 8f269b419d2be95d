/* The pass pipeline: every hand-built recipe lowers on every target, the
 * verifier accepts the IR after every pass, printing round trips exactly,
 * and lowering reports bad schedules and pass names. Also: random
 * expressions survive expr_print -> expr_parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "ir/expr_parse.h"
#include "mask_cases.h"
#include "passes/pipeline.h"

static void round_trip(tir_kernel *k)
{
    strbuf a, b, err;
    sb_init(&a);
    sb_init(&b);
    sb_init(&err);
    tir_print(&a, k);
    arena ar;
    arena_init(&ar, NULL);
    tir_kernel *k2 = tir_parse(&ar, a.data, a.len, &err);
    if (!k2)
        fprintf(stderr, "%s\n%s", sb_cstr(&err), a.data);
    assert_non_null(k2);
    tir_print(&b, k2);
    assert_string_equal(a.data, b.data);
    arena_free_all(&ar);
    sb_free(&a);
    sb_free(&b);
    sb_free(&err);
}

static recipe *linear_case(arena *a, int i)
{
    static const char *names[] = {"lin_causal", "lin_head", "lin_token_norm", "lin_noncausal_norm"};
    recipe *r = rb_linear(a, names[i], i != 3, i == 1 ? DECAY_PER_HEAD : i == 2 ? DECAY_PER_TOKEN : DECAY_NONE, i >= 2);
    return r;
}

static void every_recipe_every_pass_every_target(void **state)
{
    srand(3);
    for (int c = 0; c < MC_COUNT + 4; c++) {
        for (int arch = TARGET_HOST; arch <= TARGET_SM90A; arch++) {
            arena a;
            arena_init(&a, NULL);
            static mc_params p;
            eval_env env;
            schedule s;
            recipe *r = c < MC_COUNT ? mc_build(&a, (mask_case)c, &env, &s, &p) : linear_case(&a, c - MC_COUNT);
            if (arch != TARGET_HOST)
                r->sched.is_auto = true; /* random host tiles are not GPU-legal */
            for (const pass_info *ps = pass_table(); ps->name; ps++) {
                strbuf err;
                sb_init(&err);
                tir_kernel *k = lower_recipe_until(&a, r, NULL, (target_arch)arch, ps->name, NULL, &err);
                if (!k)
                    fprintf(stderr, "%s after %s: %s\n", r->name, ps->name, sb_cstr(&err));
                assert_non_null(k);
                assert_true(tir_verify(k, &err));
                round_trip(k);
                sb_free(&err);
            }
            arena_free_all(&a);
        }
    }
}

static void dump_after_every_pass(void **state)
{
    arena a;
    arena_init(&a, NULL);
    recipe *r = rb_recipe(&a, "causal", 0);
    r->mask = rb_causal(&a);
    strbuf dump, err;
    sb_init(&dump);
    sb_init(&err);
    assert_non_null(lower_recipe_until(&a, r, NULL, TARGET_SM80, NULL, &dump, &err));
    for (const pass_info *p = pass_table(); p->name; p++) {
        char line[64];
        snprintf(line, sizeof line, "// after %s\n", p->name);
        assert_non_null(strstr(dump.data, line));
    }
    assert_non_null(strstr(dump.data, "mode=bounds"));
    assert_non_null(strstr(dump.data, "base2=1"));
    assert_non_null(strstr(dump.data, "mma_acc"));
    sb_free(&dump);
    sb_free(&err);
    arena_free_all(&a);
}

static void bad_schedules_and_pass_names_are_reported(void **state)
{
    arena a;
    arena_init(&a, NULL);
    recipe *r = rb_recipe(&a, "nb", 2);
    strbuf err;
    sb_init(&err);
    schedule s = schedule_default(1, TARGET_HOST, false);
    assert_null(lower_recipe(&a, r, &s, TARGET_HOST, &err));
    assert_non_null(strstr(sb_cstr(&err), "schedule has 1 tile dims but the recipe's token grid has 2"));
    sb_clear(&err);
    s = schedule_default(2, TARGET_SM80, false);
    s.q_tile[0] = 3;
    assert_null(lower_recipe(&a, r, &s, TARGET_SM80, &err));
    assert_non_null(strstr(sb_cstr(&err), "illegal schedule: tile extents must be powers of two"));
    sb_clear(&err);
    assert_null(lower_recipe_until(&a, r, NULL, TARGET_HOST, "no_such_pass", NULL, &err));
    assert_non_null(strstr(sb_cstr(&err), "unknown pass 'no_such_pass'"));
    assert_null(pass_find("no_such_pass"));
    assert_non_null(pass_find("mask_analysis"));
    assert_int_equal(pass_count(), 6);
    sb_free(&err);
    arena_free_all(&a);
}

static void fusion_folds_log2e_into_the_scale(void **state)
{
    arena a;
    arena_init(&a, NULL);
    recipe *r = rb_recipe(&a, "dense", 0);
    strbuf out, err;
    sb_init(&out);
    sb_init(&err);
    tir_kernel *k = lower_recipe_until(&a, r, NULL, TARGET_HOST, "fusion", NULL, &err);
    assert_non_null(k);
    tir_print(&out, k);
    assert_non_null(strstr(out.data, "score=(mul s 0.18033688011112042)")); /* 0.125 * log2(e) */
    assert_null(strstr(out.data, "base2=0"));
    sb_free(&out);
    sb_free(&err);
    arena_free_all(&a);
}

/* The for body's ops, in order, as a list of names ("load wait dot ..."). */
static void body_ops(const tir_kernel *k, strbuf *out)
{
    for (const tir_op *op = k->body->first; op; op = op->next)
        if (op->kind == TIR_FOR)
            for (const tir_op *o = op->body->first; o; o = o->next)
                sb_printf(out, "%s%s", tir_op_name(o->kind), o->next ? " " : "");
}

/* GPU: stages from the schedule, K/V prefetched, a wait right before each
 * tile's first use, a barrier before the yield. Host: unchanged. */
static void pipelining_marks_the_key_loop_on_gpu_only(void **state)
{
    arena a;
    arena_init(&a, NULL);
    recipe *r = rb_recipe(&a, "causal", 0);
    r->mask = rb_causal(&a);
    strbuf out, err;
    sb_init(&out);
    sb_init(&err);
    schedule s = schedule_default(1, TARGET_SM80, false);
    s.stages = 3;
    tir_kernel *k = lower_recipe(&a, r, &s, TARGET_SM80, &err);
    assert_non_null(k);
    body_ops(k, &out);
    assert_string_equal(out.data, "load wait dot tile_class score softmax_update load rescale wait dot barrier yield");
    const tir_op *loop = k->body->first;
    while (loop->kind != TIR_FOR)
        loop = loop->next;
    assert_int_equal(loop->stages, 3);
    for (const tir_op *o = loop->body->first; o; o = o->next) {
        if (o->kind == TIR_LOAD)
            assert_true(o->prefetch);
        if (o->kind == TIR_WAIT) {
            assert_int_equal(o->pending, 2);
            assert_ptr_equal(o->next->operands[1], o->operands[0]); /* dot's b operand: the K or V tile */
        }
    }
    sb_clear(&out);
    assert_non_null(lower_recipe_until(&a, r, NULL, TARGET_HOST, NULL, &out, &err));
    assert_non_null(strstr(out.data, "// after pipelining (unchanged)\n"));
    assert_null(strstr(out.data, "{ stages="));
    assert_null(strstr(out.data, "prefetch"));
    assert_null(strstr(out.data, "wait "));
    assert_null(strstr(out.data, "barrier"));
    sb_free(&out);
    sb_free(&err);
    arena_free_all(&a);
}

static expr *random_expr(arena *a, int depth)
{
    int pick = depth <= 0 ? rand() % 6 : rand() % 10;
    switch (pick) {
    case 0: return ex_int(a, (int64_t)(rand() % 2001) - 1000);
    case 1: {
        int base = (rand() % 3) * 16, d = rand() % 4 - 1;
        return ex_coord(a, rand() % 2 ? SIDE_Q : SIDE_K, d < 0 ? -1 : base + d);
    }
    case 2: return ex_size(a, (size_id)(rand() % SZ_MAX));
    case 3: return ex_leaf(a, rand() % 2 ? EX_HEAD : EX_BATCH);
    case 4: return ex_float(a, (double)(rand() % 100000) / 7.0 - 3000.0);
    case 5: return ex_bool(a, rand() % 2);
    case 6: return ex_unary(a, (expr_unop)(rand() % UN_COUNT), random_expr(a, depth - 1));
    case 7: return ex_select(a, random_expr(a, depth - 1), random_expr(a, depth - 1), random_expr(a, depth - 1));
    default: return ex_binary(a, (expr_binop)(rand() % BIN_COUNT), random_expr(a, depth - 1), random_expr(a, depth - 1));
    }
}

static void expressions_round_trip(void **state)
{
    srand(11);
    for (int i = 0; i < 2000; i++) {
        arena a;
        arena_init(&a, NULL);
        expr *e = random_expr(&a, 5);
        strbuf s1, s2, err;
        sb_init(&s1);
        sb_init(&s2);
        sb_init(&err);
        expr_print(&s1, e, NULL, NULL);
        const char *p = s1.data;
        expr *back = expr_parse(&a, &p, s1.data + s1.len, NULL, NULL, &err);
        if (!back)
            fprintf(stderr, "%s: %s\n", s1.data, sb_cstr(&err));
        assert_non_null(back);
        assert_true(p == s1.data + s1.len);
        expr_print(&s2, back, NULL, NULL);
        assert_string_equal(s1.data, s2.data);
        assert_true(expr_equal(e, back));
        sb_free(&s1);
        sb_free(&s2);
        sb_free(&err);
        arena_free_all(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_recipe_every_pass_every_target),
        cmocka_unit_test(dump_after_every_pass),
        cmocka_unit_test(bad_schedules_and_pass_names_are_reported),
        cmocka_unit_test(fusion_folds_log2e_into_the_scale),
        cmocka_unit_test(pipelining_marks_the_key_loop_on_gpu_only),
        cmocka_unit_test(expressions_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
