/* The NVPTX FA2 plan reader and the pipelining pass's markers: the plan
 * accepts `wait` and `barrier` in the key loop and takes its stage count from
 * the `for`'s `stages` when present, from the schedule otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "codegen/nvptx_plan.h"
#include "passes/pipeline.h"
#include "unit/passes/recipe_builders.h"

static tir_op *key_loop(tir_kernel *k)
{
    tir_op *op = k->body->first;
    while (op && op->kind != TIR_FOR)
        op = op->next;
    assert_non_null(op);
    return op;
}

static void plan_takes_stages_from_the_loop(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    recipe *r = rb_recipe(&a, "causal", 0);
    r->mask = rb_causal(&a);
    strbuf err;
    sb_init(&err);
    schedule s = schedule_default(1, TARGET_SM80, false);
    s.stages = 2;
    tir_kernel *k = lower_recipe(&a, r, &s, TARGET_SM80, &err);
    assert_non_null(k);
    tir_op *loop = key_loop(k);
    assert_int_equal(loop->stages, 2);
    fa_plan p;
    assert_int_equal(fa_plan_from_tir(k, TARGET_SM80, &p, &err), NVPTX_OK);
    assert_int_equal(p.stages, 2);
    loop->stages = 3; /* the marker wins over the schedule's 2 */
    assert_int_equal(fa_plan_from_tir(k, TARGET_SM80, &p, &err), NVPTX_OK);
    assert_int_equal(p.stages, 3);
    loop->stages = 0; /* no marker: the schedule's */
    assert_int_equal(fa_plan_from_tir(k, TARGET_SM80, &p, &err), NVPTX_OK);
    assert_int_equal(p.stages, 2);
    sb_free(&err);
    arena_free_all(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plan_takes_stages_from_the_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
