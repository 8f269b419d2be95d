/*
 * recipe_check_differentiable (frontend/differentiable.h): a score without a
 * gradient is a recipe error located at the written subexpression to blame,
 * with a hint; differentiable scores (every shipped recipe, piecewise
 * selects, learned caps and bias tables) pass without a diagnostic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/differentiable.h"
#include "frontend/frontend.h"

#define HDR "recipe t\ninput q, k, v : bf16 [batch, heads, tokens, 64]\n"

/* Parses src (which must be a valid recipe) and runs the check; returns the
 * brief diagnostics ("" when it passed) in a static buffer. */
static const char *check(const char *src, bool *ok)
{
    static char out[2048];
    arena a;
    arena_init(&a, NULL);
    diag_list d;
    diag_list_init(&d, &a, "t.attn", src, strlen(src));
    recipe *r = frontend_parse(&a, "t.attn", src, strlen(src), &d);
    if (!r) {
        strbuf sb;
        sb_init(&sb);
        diag_render_brief(&d, &sb);
        fail_msg("not a valid recipe: %s", sb_cstr(&sb));
    }
    *ok = recipe_check_differentiable(r, &d);
    strbuf sb;
    sb_init(&sb);
    diag_render(&d, &sb);
    snprintf(out, sizeof out, "%s", sb_cstr(&sb));
    sb_free(&sb);
    assert_int_equal(d.errors, *ok ? 0 : 1);
    arena_free_all(&a);
    return out;
}

static void expect_error(const char *src, const char *first_line, const char *hint_part)
{
    bool ok;
    const char *out = check(src, &ok);
    assert_false(ok);
    if (strncmp(out, first_line, strlen(first_line)) || !strstr(out, hint_part))
        fail_msg("got:\n%s\nwant first line: %s\nand a hint with: %s", out, first_line, hint_part);
}

static void expect_ok(const char *src)
{
    bool ok;
    const char *out = check(src, &ok);
    if (!ok || *out)
        fail_msg("expected a differentiable score, got:\n%s", out);
}

static void differentiable_floor_of_s_is_located(void **state)
{
    expect_error(HDR "score  float(floor(s * 4.0)) * 0.25\n",
                 "t.attn:3:14: error: the score has no gradient for the backward pass: floor() of an "
                 "expression of s has no derivative",
                 "select(s > 0.0, s, 0.1 * s)");
    /* the caret underlines the call */
    bool ok;
    const char *out = check(HDR "score  s * scale + floor(s)\n", &ok);
    assert_false(ok);
    assert_non_null(strstr(out, "3:20: error"));
    assert_non_null(strstr(out, "^~~~~~~~"));
}

static void differentiable_index_computed_from_s(void **state)
{
    expect_error(HDR "param  bias : f32 [heads, 16]\nscore  s + bias[head, floor(s)]\n",
                 "t.attn:4:23: error: the score has no gradient for the backward pass: floor()", "keep s out of floor()");
}

static void differentiable_piecewise_and_learned_scores_pass(void **state)
{
    expect_ok(HDR "score  select(s > 0.0, s, 0.1 * s)\n");
    expect_ok(HDR "score  clamp(s * scale, -5.0, 5.0) + abs(s) - min(s, 1.0)\n");
    expect_ok(HDR "param  cap : f32 [heads]\nscore  softcap(s * scale, cap[head])\n");
    expect_ok(HDR "param  bias : f32 [heads, 64]\nscore  s * scale + bias[head, floor(bias[head, 0])] * bias[head, 1]\n");
    expect_ok(HDR "score  s * scale + float(floor(2.5))\n");
    expect_ok(HDR "score  select(floor(s) > 2, s, 0.0)\n"); /* only a condition reads floor(s) */
    expect_ok(HDR "mask   causal\n"); /* the default score */
}

static void differentiable_every_shipped_recipe(void **state)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/recipes", ATTNC_SOURCE_DIR);
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".attn"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        arena a;
        arena_init(&a, NULL);
        size_t tlen;
        const char *err;
        char *text = frontend_read_file(&a, path, &tlen, &err);
        assert_non_null(text);
        diag_list d;
        diag_list_init(&d, &a, path, text, tlen);
        recipe *r = frontend_parse(&a, path, text, tlen, &d);
        assert_non_null(r);
        if (!recipe_check_differentiable(r, &d))
            fail_msg("%s is not differentiable", de->d_name);
        assert_int_equal(d.errors + d.warnings, 0);
        n++;
        arena_free_all(&a);
    }
    closedir(dp);
    assert_true(n >= 21);
}

/* Spans of written score nodes; synthesised ones fall back to the section. */
static void differentiable_score_spans(void **state)
{
    const char *src = HDR "score  softcap(s * scale, 30.0)\n";
    arena a;
    arena_init(&a, NULL);
    diag_list d;
    diag_list_init(&d, &a, "t.attn", src, strlen(src));
    recipe *r = frontend_parse(&a, "t.attn", src, strlen(src), &d);
    assert_non_null(r);
    assert_true(r->nscore_origins > 0);
    src_loc whole = recipe_score_span(r, r->score);
    assert_int_equal(whole.line, 3);
    assert_int_equal(whole.col, 8);
    /* s * scale sits inside softcap's expansion: c * tanh(x / c) */
    const expr *x = r->score->args[1]->args[0]->args[0];
    src_loc sx = recipe_score_span(r, x);
    assert_int_equal(sx.col, 16);
    assert_int_equal(sx.len, 9);
    src_loc none = recipe_score_span(r, NULL);
    assert_int_equal(none.line, r->score_loc.line);
    arena_free_all(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(differentiable_floor_of_s_is_located),
        cmocka_unit_test(differentiable_index_computed_from_s),
        cmocka_unit_test(differentiable_piecewise_and_learned_scores_pass),
        cmocka_unit_test(differentiable_every_shipped_recipe),
        cmocka_unit_test(differentiable_score_spans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
