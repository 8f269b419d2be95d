/*
 * The recipe library (every .attn file under recipes/): every shipped recipe is accepted
 * with no diagnostic at all, and the typed recipe holds what its header
 * says (family, dtype, grid, GQA, params, linear settings, schedule).
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

#include "frontend/forms.h"
#include "frontend/frontend.h"

typedef struct loaded {
    arena a;
    diag_list d;
    recipe *r;
} loaded;

static recipe *load(loaded *l, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/recipes/%s", ATTNC_SOURCE_DIR, name);
    arena_init(&l->a, NULL);
    size_t len = 0;
    const char *err = NULL;
    char *text = frontend_read_file(&l->a, path, &len, &err);
    if (!text)
        fail_msg("%s: %s", path, err);
    diag_list_init(&l->d, &l->a, path, text, len);
    l->r = frontend_parse(&l->a, path, text, len, &l->d);
    strbuf sb;
    sb_init(&sb);
    diag_render(&l->d, &sb);
    if (l->d.first)
        print_error("%s", sb_cstr(&sb));
    sb_free(&sb);
    assert_non_null(l->r);
    assert_int_equal(l->d.errors, 0);
    assert_int_equal(l->d.warnings, 0);
    return l->r;
}

static void library_every_recipe_is_accepted(void **state)
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
        loaded l;
        recipe *r = load(&l, de->d_name);
        char stem[256];
        snprintf(stem, sizeof stem, "%.*s", (int)(len - 5), de->d_name);
        assert_string_equal(r->name, stem); /* the recipe is named after its file */
        n++;
        arena_free_all(&l.a);
    }
    closedir(dp);
    assert_true(n >= 21);
}

static void library_neighborhood2d_is_the_readme_example(void **state)
{
    loaded l;
    recipe *r = load(&l, "neighborhood2d.attn");
    assert_int_equal(r->family, FAMILY_SOFTMAX);
    assert_int_equal(r->qkv_dtype, DT_BF16);
    assert_int_equal(r->head_dim, 128);
    assert_int_equal(r->grid_ndim, 2);
    assert_string_equal(r->grid_names[0], "y");
    assert_string_equal(r->sizes[SZ_GRID0].name, "H");
    assert_string_equal(r->sizes[SZ_GRID1].name, "W");
    assert_int_equal(r->sizes[SZ_GRID1].fixed, 0);
    assert_int_equal(r->mask_surface->u.form, FORM_NEIGHBORHOOD);
    assert_int_equal(r->mask_surface->nargs, 8);
    assert_false(expr_uses_kind(r->mask, EX_FORM));
    assert_true(r->sched.is_auto);
    assert_int_equal(r->sched.ndims, 2);
    arena_free_all(&l.a);
}

static void library_gqa_and_tiles(void **state)
{
    loaded a, b, c;
    recipe *g = load(&a, "gqa.attn");
    assert_true(g->gqa);
    assert_true(g->sizes[SZ_KV_HEADS].used);
    recipe *bs = load(&b, "block_sparse.attn");
    assert_false(bs->gqa);
    assert_false(bs->sched.is_auto);
    assert_int_equal(bs->sched.q_tile[0], 128);
    assert_int_equal(bs->sched.kv_tile[0], 128);
    assert_int_equal(bs->sched.stages, 2);
    assert_int_equal(bs->sched.warps, 8);
    recipe *n3 = load(&c, "neighborhood3d.attn");
    assert_int_equal(n3->grid_ndim, 3);
    assert_int_equal(n3->sched.q_tile[0], 1);
    assert_int_equal(n3->sched.q_tile[2], 16);
    assert_int_equal(n3->sched.kv_tile[2], 8);
    arena_free_all(&a.a);
    arena_free_all(&b.a);
    arena_free_all(&c.a);
}

static void library_linear_recipes(void **state)
{
    loaded a, b, c;
    recipe *l2 = load(&a, "lightning2.attn");
    assert_int_equal(l2->family, FAMILY_LINEAR);
    assert_true(l2->linear.causal);
    assert_int_equal(l2->linear.decay, DECAY_PER_HEAD);
    assert_string_equal(l2->params[l2->linear.decay_param].name, "decay");
    assert_int_equal(l2->linear.block, 64);
    assert_int_equal(l2->linear.inter, INTER_STATE);
    assert_int_equal(l2->sched.linear_block, 64);
    assert_null(l2->mask);
    recipe *el = load(&b, "linear_elu.attn");
    assert_false(el->linear.causal);
    assert_int_equal(el->linear.feature, FEATURE_ELU1);
    assert_true(el->linear.normalize);
    assert_int_equal(el->linear.decay, DECAY_NONE);
    recipe *gl = load(&c, "gated_linear.attn");
    assert_int_equal(gl->linear.decay, DECAY_PER_TOKEN);
    assert_int_equal(gl->linear.inter, INTER_CHUNKED);
    assert_int_equal(gl->sched.inter, INTER_CHUNKED);
    arena_free_all(&a.a);
    arena_free_all(&b.a);
    arena_free_all(&c.a);
}

static void library_param_recipes(void **state)
{
    loaded a, b;
    recipe *d = load(&a, "document.attn");
    assert_int_equal(d->nparams, 1);
    assert_int_equal(d->params[0].dtype, DT_I32);
    assert_int_equal(d->params[0].ndim, 2);
    assert_int_equal(d->params[0].dims[0], SZ_BATCH);
    assert_int_equal(d->params[0].dims[1], SZ_TOKENS);
    recipe *bs = load(&b, "block_sparse.attn");
    assert_int_equal(bs->params[0].dtype, DT_U8);
    assert_int_equal(bs->params[0].dims[1], SZ_EXTRA0);
    assert_int_equal(bs->mask_surface->u.form, FORM_BLOCKS);
    assert_int_equal(bs->mask_surface->args[1]->u.ival, 128);
    arena_free_all(&a.a);
    arena_free_all(&b.a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(library_every_recipe_is_accepted),
        cmocka_unit_test(library_neighborhood2d_is_the_readme_example),
        cmocka_unit_test(library_gqa_and_tiles),
        cmocka_unit_test(library_linear_recipes),
        cmocka_unit_test(library_param_recipes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
