/* The backward program's lowering: every shipped recipe and every
 * hand-built mask lower to a verified program whose text round trips
 * through the parser; the kernels and their grids follow the family
 * (softmax: pre, dkv, dq [, one reduce per float param the score reads];
 * linear: dq, dkv [, gate] [, heads]); a score that cannot be
 * differentiated is a recipe error naming file:line:col. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "frontend/frontend.h"
#include "mask_cases.h"
#include "passes/lower_backward.h"
#include "source_tree.h"

static void round_trip(tir_program *p)
{
    strbuf a, b, err;
    sb_init(&a);
    sb_init(&b);
    sb_init(&err);
    tir_print_program(&a, p);
    arena ar;
    arena_init(&ar, NULL);
    tir_program p2;
    bool ok = tir_parse_program(&ar, a.data, a.len, &p2, &err);
    if (!ok)
        fprintf(stderr, "%s\n%s", sb_cstr(&err), a.data);
    assert_true(ok);
    assert_int_equal(p2.nkernels, p->nkernels);
    tir_print_program(&b, &p2);
    assert_string_equal(a.data, b.data);
    arena_free_all(&ar);
    sb_free(&a);
    sb_free(&b);
    sb_free(&err);
}

static bool lower(arena *a, const recipe *r, tir_program *p)
{
    strbuf err;
    sb_init(&err);
    bool ok = lower_backward(a, r, NULL, TARGET_HOST, p, &err);
    if (!ok)
        fprintf(stderr, "%s: %s\n", r->name, sb_cstr(&err));
    sb_free(&err);
    return ok;
}

static void every_mask_case(void **state)
{
    srand(17);
    for (int c = 0; c < MC_COUNT; c++) {
        arena a;
        arena_init(&a, NULL);
        static mc_params p;
        eval_env env;
        schedule s;
        recipe *r = mc_build(&a, (mask_case)c, &env, &s, &p);
        tir_program prog;
        assert_true(lower(&a, r, &prog));
        assert_int_equal(prog.nkernels, 3);
        assert_int_equal(prog.kernels[0]->programs, PROG_QTILES);
        assert_int_equal(prog.kernels[1]->programs, PROG_KVTILES);
        assert_int_equal(prog.kernels[2]->programs, PROG_QTILES);
        round_trip(&prog);
        arena_free_all(&a);
    }
}

static void linear_cases(void **state)
{
    for (int i = 0; i < 5; i++) {
        arena a;
        arena_init(&a, NULL);
        decay_kind dk = i == 1 || i == 4 ? DECAY_PER_HEAD : i == 2 ? DECAY_PER_TOKEN : DECAY_NONE;
        recipe *r = rb_linear(&a, "lin", i != 3, dk, i >= 2);
        if (i == 4)
            r->gqa = true;
        tir_program prog;
        assert_true(lower(&a, r, &prog));
        int want = 2 + (dk != DECAY_NONE && i != 3) + (i == 4);
        assert_int_equal(prog.nkernels, want);
        assert_int_equal(prog.kernels[0]->programs, PROG_HEADS);
        assert_int_equal(prog.kernels[1]->programs, PROG_HEADS);
        round_trip(&prog);
        arena_free_all(&a);
    }
}

static recipe *parse_text(arena *a, const char *name, const char *text)
{
    diag_list d;
    diag_list_init(&d, a, name, text, strlen(text));
    recipe *r = frontend_parse(a, name, text, strlen(text), &d);
    if (!r || d.errors) {
        strbuf sb;
        sb_init(&sb);
        diag_render(&d, &sb);
        fprintf(stderr, "%s\n", sb_cstr(&sb));
        sb_free(&sb);
    }
    return d.errors ? NULL : r;
}

static void shipped_recipes(void **state)
{
    DIR *dir = test_opendir_recipes();
    assert_non_null(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".attn"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/recipes/%s", test_source_dir(), e->d_name);
        arena a;
        arena_init(&a, NULL);
        size_t tlen;
        const char *why;
        char *text = frontend_read_file(&a, path, &tlen, &why);
        assert_non_null(text);
        recipe *r = parse_text(&a, path, text);
        assert_non_null(r);
        tir_program prog;
        assert_true(lower(&a, r, &prog));
        bool grad[64];
        int ngrad = backward_grad_params(&a, r, grad);
        if (r->family == FAMILY_SOFTMAX)
            assert_int_equal(prog.nkernels, 3 + ngrad);
        if (!strcmp(r->name, "relpos_bias2d")) { /* rpb gets a gradient through slots */
            assert_int_equal(ngrad, 1);
            assert_int_equal(prog.kernels[2]->programs, PROG_SLOTS);
            assert_int_equal(prog.kernels[3]->programs, PROG_ELEMS);
        }
        if (!strcmp(r->name, "document") || !strcmp(r->name, "block_sparse"))
            assert_int_equal(ngrad, 0); /* params read only by the mask */
        if (!strcmp(r->name, "gated_linear") || !strcmp(r->name, "lightning2"))
            assert_int_equal(ngrad, 1);
        round_trip(&prog);
        arena_free_all(&a);
        n++;
    }
    closedir(dir);
    assert_true(n >= 20);
}

static void non_differentiable_score_is_a_recipe_error(void **state)
{
    arena a;
    arena_init(&a, NULL);
    recipe *r = parse_text(&a, "floor.attn",
                           "recipe floor\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nscore float(floor(s * scale))\n");
    assert_non_null(r);
    strbuf why;
    sb_init(&why);
    assert_false(backward_check(&a, r, &why));
    assert_non_null(strstr(sb_cstr(&why), "floor.attn:3:13: error: the score has no gradient"));
    assert_non_null(strstr(sb_cstr(&why), "floor"));
    assert_non_null(strstr(sb_cstr(&why), "hint:"));
    tir_program prog;
    sb_clear(&why);
    assert_false(lower_backward(&a, r, NULL, TARGET_HOST, &prog, &why));
    sb_free(&why);
    arena_free_all(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_mask_case),
        cmocka_unit_test(linear_cases),
        cmocka_unit_test(shipped_recipes),
        cmocka_unit_test(non_differentiable_score_is_a_recipe_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
