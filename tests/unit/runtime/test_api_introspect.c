/* Unit tests for the argument-list introspection (runtime/api/api_introspect.c):
 * attnc_recipe_arg_info / attnc_kernel_arg_info describe exactly the tensors
 * and sizes a launch takes, for grids, GQA, cross attention, params of every
 * shape, linear recipes, and the backward list (dq, dk, dv, d<param> for the
 * float params the score or decay reads). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/api/api_introspect.h"
#include "runtime/api/api_typed.h"
#include "runtime/include/attnc.h"

static const char *GRID = "recipe grid_rpb\n"
                          "input  q, k, v : f32 [batch, heads, tokens, 16]\n"
                          "tokens grid(y: H, x: W)\n"
                          "param  rpb : f32 [heads, 5, 5]\n"
                          "mask   neighborhood(window: (3, 3))\n"
                          "score  s * scale + rpb[head, k.y - q.y + 2, k.x - q.x + 2]\n";

static const char *GQA_CROSS = "recipe gqa_cross\n"
                               "input  q : bf16 [batch, heads, tokens, 64]\n"
                               "input  k : bf16 [batch, kv_heads, kv_tokens, 64]\n"
                               "input  v : bf16 [batch, kv_heads, kv_tokens, 32]\n"
                               "param  doc : i32 [batch, tokens]\n"
                               "param  c : f32\n"
                               "param  table : u8 [heads, nqb, nkb]\n"
                               "mask   blocks(table, bq: 64, bk: 64) && doc[batch, q.t] >= 0\n"
                               "score  s * scale * c\n";

static const char *FIXED_GRID = "recipe fixed\n"
                                "input  q, k, v : f16 [batch, heads, tokens, 32]\n"
                                "tokens grid(y: 8, x: 4)\n"
                                "mask   neighborhood(window: (3, 3))\n";

static const char *GATED = "recipe gated\n"
                           "input  q, k, v : f32 [batch, heads, tokens, 16]\n"
                           "param  gate : f32 [batch, heads, tokens]\n"
                           "linear {\n  causal\n  decay gate[batch, head, t]\n}\n";

typedef struct fixture {
    attnc_context *ctx;
    attnc_recipe *r;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(attnc_context_create(&f->ctx, NULL), ATTNC_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    attnc_recipe_destroy(f->r);
    attnc_context_destroy(f->ctx);
    free(f);
    return 0;
}

static void load(fixture *f, const char *text)
{
    attnc_status st = attnc_recipe_from_text(&f->r, f->ctx, "t.attn", text, strlen(text));
    if (st)
        fail_msg("%s", attnc_context_errmsg(f->ctx));
}

static attnc_arg_info info(const attnc_recipe *r, int i)
{
    attnc_arg_info a;
    memset(&a, 0xab, sizeof a);
    assert_int_equal(attnc_recipe_arg_info(r, i, &a), ATTNC_OK);
    return a;
}

/* dims and extents of a tensor entry; NULL name = literal dimension. */
static void expect_dims(const attnc_arg_info *a, int ndim, const char *const *names, const int64_t *extents)
{
    assert_int_equal(a->ndim, ndim);
    for (int d = 0; d < ndim; d++) {
        if (names[d])
            assert_string_equal(a->dims[d], names[d]);
        else
            assert_null(a->dims[d]);
        assert_int_equal(a->extent[d], extents[d]);
    }
}

static void grid_recipe_forward_list(void **state)
{
    fixture *f = *state;
    load(f, GRID);
    assert_int_equal(attnc_recipe_arg_count(f->r), 8);
    const char *want[8] = {"q", "k", "v", "o", "lse", "rpb", "H", "W"};
    for (int i = 0; i < 8; i++)
        assert_string_equal(info(f->r, i).name, want[i]);
    attnc_arg_info q = info(f->r, 0);
    assert_int_equal(q.role, ATTNC_ARG_INPUT);
    assert_int_equal(q.dtype, ATTNC_F32);
    expect_dims(&q, 4, (const char *[]){"batch", "heads", "tokens", "head_dim"}, (int64_t[]){0, 0, 0, 16});
    assert_int_equal(q.optional, 0);
    attnc_arg_info o = info(f->r, 3), lse = info(f->r, 4);
    assert_int_equal(o.role, ATTNC_ARG_OUTPUT);
    expect_dims(&o, 4, (const char *[]){"batch", "heads", "tokens", "head_dim_v"}, (int64_t[]){0, 0, 0, 16});
    assert_int_equal(lse.role, ATTNC_ARG_OUTPUT);
    assert_int_equal(lse.dtype, ATTNC_F32);
    assert_int_equal(lse.optional, 1);
    expect_dims(&lse, 3, (const char *[]){"batch", "heads", "tokens"}, (int64_t[]){0, 0, 0});
    attnc_arg_info rpb = info(f->r, 5);
    assert_int_equal(rpb.role, ATTNC_ARG_INPUT);
    assert_int_equal(rpb.by_value, 0);
    expect_dims(&rpb, 3, (const char *[]){"heads", NULL, NULL}, (int64_t[]){0, 5, 5});
    attnc_arg_info h = info(f->r, 6), w = info(f->r, 7);
    assert_int_equal(h.role, ATTNC_ARG_SIZE);
    assert_int_equal(h.grid_dim, 0);
    assert_int_equal(w.grid_dim, 1);
    assert_int_equal(h.value, 0);
    assert_int_equal(h.ndim, 0);
}

static void gqa_cross_params_and_extra_sizes(void **state)
{
    fixture *f = *state;
    load(f, GQA_CROSS);
    /* q k v o lse doc c table nqb nkb */
    assert_int_equal(attnc_recipe_arg_count(f->r), 10);
    attnc_arg_info k = info(f->r, 1), v = info(f->r, 2), o = info(f->r, 3);
    assert_int_equal(k.dtype, ATTNC_BF16);
    expect_dims(&k, 4, (const char *[]){"batch", "kv_heads", "kv_tokens", "head_dim"}, (int64_t[]){0, 0, 0, 64});
    expect_dims(&v, 4, (const char *[]){"batch", "kv_heads", "kv_tokens", "head_dim_v"}, (int64_t[]){0, 0, 0, 32});
    expect_dims(&o, 4, (const char *[]){"batch", "heads", "tokens", "head_dim_v"}, (int64_t[]){0, 0, 0, 32});
    attnc_arg_info doc = info(f->r, 5), c = info(f->r, 6), table = info(f->r, 7);
    assert_string_equal(doc.name, "doc");
    assert_int_equal(doc.dtype, ATTNC_I32);
    expect_dims(&doc, 2, (const char *[]){"batch", "tokens"}, (int64_t[]){0, 0});
    assert_string_equal(c.name, "c");
    assert_int_equal(c.ndim, 0);
    assert_int_equal(c.by_value, 1);
    assert_int_equal(table.dtype, ATTNC_U8);
    expect_dims(&table, 3, (const char *[]){"heads", "nqb", "nkb"}, (int64_t[]){0, 0, 0});
    attnc_arg_info nqb = info(f->r, 8), nkb = info(f->r, 9);
    assert_string_equal(nqb.name, "nqb");
    assert_string_equal(nkb.name, "nkb");
    assert_int_equal(nqb.role, ATTNC_ARG_SIZE);
    assert_int_equal(nqb.grid_dim, -1);
    assert_int_equal(nkb.dtype, ATTNC_I64);
}

static void fixed_grid_reports_values(void **state)
{
    fixture *f = *state;
    load(f, FIXED_GRID);
    assert_int_equal(attnc_recipe_arg_count(f->r), 7);
    attnc_arg_info q = info(f->r, 0), y = info(f->r, 5), x = info(f->r, 6);
    assert_int_equal(q.dtype, ATTNC_F16);
    assert_int_equal(q.extent[2], 32); /* tokens fixed by the grid: 8 * 4 */
    assert_int_equal(y.role, ATTNC_ARG_SIZE);
    assert_int_equal(y.value, 8);
    assert_int_equal(x.value, 4);
    assert_int_equal(x.grid_dim, 1);
}

static void linear_has_no_lse(void **state)
{
    fixture *f = *state;
    load(f, GATED);
    assert_int_equal(attnc_recipe_arg_count(f->r), 5); /* q k v o gate */
    attnc_arg_info gate = info(f->r, 4);
    assert_string_equal(gate.name, "gate");
    assert_int_equal(gate.by_value, 0);
    expect_dims(&gate, 3, (const char *[]){"batch", "heads", "tokens"}, (int64_t[]){0, 0, 0});
}

static void bad_calls_change_nothing(void **state)
{
    fixture *f = *state;
    load(f, GRID);
    attnc_arg_info a;
    memset(&a, 0x5a, sizeof a);
    attnc_arg_info before = a;
    assert_int_equal(attnc_recipe_arg_info(f->r, 8, &a), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_context_errmsg(f->ctx), "index 8 is not in 0..7"));
    assert_int_equal(attnc_recipe_arg_info(f->r, -1, &a), ATTNC_ERR_INVALID_ARGUMENT);
    assert_memory_equal(&a, &before, sizeof a);
    assert_int_equal(attnc_recipe_arg_info(f->r, 0, NULL), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_recipe_arg_info(NULL, 0, &a), ATTNC_ERR_INVALID_ARGUMENT);
    assert_int_equal(attnc_kernel_arg_info(NULL, 0, &a), ATTNC_ERR_INVALID_ARGUMENT);
    assert_memory_equal(&a, &before, sizeof a);
    assert_int_equal(attnc_recipe_arg_count(NULL), 0);
    assert_int_equal(attnc_kernel_arg_count(NULL), 0);
}

/* A built kernel answers exactly like its recipe, and its strings outlive
 * the recipe (the kernel holds its own copy). */
static void kernel_matches_recipe(void **state)
{
    fixture *f = *state;
    load(f, GRID);
    attnc_kernel *k = NULL;
    attnc_status st = attnc_kernel_build(&k, f->ctx, f->r, NULL);
    if (st)
        fail_msg("%s", attnc_context_errmsg(f->ctx));
    int n = attnc_recipe_arg_count(f->r);
    assert_int_equal(attnc_kernel_arg_count(k), n);
    attnc_arg_info want[8];
    char names[8][16], dims[8][4][16]; /* copies: the recipe's strings die with it */
    for (int i = 0; i < n; i++) {
        want[i] = info(f->r, i);
        snprintf(names[i], sizeof names[i], "%s", want[i].name);
        for (int d = 0; d < want[i].ndim; d++)
            snprintf(dims[i][d], sizeof dims[i][d], "%s", want[i].dims[d] ? want[i].dims[d] : "");
    }
    attnc_recipe_destroy(f->r);
    f->r = NULL;
    for (int i = 0; i < n; i++) {
        attnc_arg_info a;
        assert_int_equal(attnc_kernel_arg_info(k, i, &a), ATTNC_OK);
        assert_string_equal(a.name, names[i]);
        assert_int_equal(a.role, want[i].role);
        assert_int_equal(a.dtype, want[i].dtype);
        assert_int_equal(a.ndim, want[i].ndim);
        for (int d = 0; d < a.ndim; d++) {
            assert_int_equal(a.extent[d], want[i].extent[d]);
            assert_true((a.dims[d] == NULL) == (want[i].dims[d] == NULL));
            if (a.dims[d])
                assert_string_equal(a.dims[d], dims[i][d]);
        }
        assert_int_equal(a.grid_dim, want[i].grid_dim);
        assert_int_equal(a.optional, want[i].optional);
    }
    attnc_arg_info a;
    assert_int_equal(attnc_kernel_arg_info(k, n, &a), ATTNC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(attnc_kernel_errmsg(k), "is not in 0..7"));
    attnc_kernel_destroy(k);
}

/* Every name the forward list gives is accepted by attnc_args_set_tensor /
 * attnc_args_set_size, and nothing else is needed: a launch filled only
 * from the list runs. */
static void list_drives_a_launch(void **state)
{
    fixture *f = *state;
    load(f, GQA_CROSS);
    attnc_kernel *k = NULL;
    assert_int_equal(attnc_kernel_build(&k, f->ctx, f->r, NULL), ATTNC_OK);
    attnc_args *a = NULL;
    assert_int_equal(attnc_args_create(&a, k), ATTNC_OK);
    const char *size_name[16] = {"batch", "heads", "kv_heads", "tokens", "kv_tokens", "head_dim", "head_dim_v", "nqb", "nkb"};
    int64_t size_val[16] = {1, 4, 2, 70, 50, 64, 32, 2, 1};
    void *bufs[16] = {0};
    int nb = 0;
    for (int i = 0; i < attnc_kernel_arg_count(k); i++) {
        attnc_arg_info in;
        assert_int_equal(attnc_kernel_arg_info(k, i, &in), ATTNC_OK);
        if (in.role == ATTNC_ARG_SIZE) {
            int64_t v = 0;
            for (int s = 0; size_name[s]; s++)
                if (!strcmp(size_name[s], in.name))
                    v = size_val[s];
            assert_int_equal(attnc_args_set_size(a, in.name, v), ATTNC_OK);
            continue;
        }
        attnc_tensor t = {in.dtype, NULL, in.ndim, {0}, {0}};
        int64_t n = 1;
        for (int d = in.ndim - 1; d >= 0; d--) {
            int64_t e = in.extent[d];
            for (int s = 0; !e && size_name[s]; s++)
                if (in.dims[d] && !strcmp(size_name[s], in.dims[d]))
                    e = size_val[s];
            assert_true(e > 0);
            t.shape[d] = e;
            t.stride[d] = n;
            n *= e;
        }
        bufs[nb] = calloc((size_t)n, 8);
        if (in.dtype == ATTNC_F32 && in.ndim == 0)
            *(float *)bufs[nb] = 1.0f;
        if (in.dtype == ATTNC_U8)
            memset(bufs[nb], 1, (size_t)n);
        t.data = bufs[nb++];
        assert_int_equal(attnc_args_set_tensor(a, in.name, &t), ATTNC_OK);
    }
    attnc_status st = attnc_launch(k, a, NULL);
    if (st)
        fail_msg("%s", attnc_kernel_errmsg(k));
    for (int i = 0; i < nb; i++)
        free(bufs[i]);
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
}

/* The backward list: do in, dq/dk/dv out with q/k/v's shapes, and a
 * gradient only for float params the score (or the decay) reads. */
static void backward_list(void **state)
{
    fixture *f = *state;
    load(f, GQA_CROSS);
    const recipe *r = attnc_recipe_typed(f->r);
    assert_false(arg_param_has_grad(r, 0)); /* doc: i32, mask only */
    assert_true(arg_param_has_grad(r, 1));  /* c: f32, read by the score */
    assert_false(arg_param_has_grad(r, 2)); /* table: u8 */
    assert_false(arg_param_has_grad(r, 3)); /* out of range */
    arena a;
    arena_init(&a, NULL);
    const char **g = arg_grad_names(&a, r);
    assert_non_null(g);
    assert_null(g[0]);
    assert_string_equal(g[1], "dc");
    assert_null(g[2]);
    /* q k v o lse do doc c table dq dk dv dc nqb nkb */
    const char *want[] = {"q", "k", "v", "o", "lse", "do", "doc", "c", "table", "dq", "dk", "dv", "dc", "nqb", "nkb"};
    int n = arg_table_count(r, g);
    assert_int_equal(n, 15);
    attnc_arg_info e[15];
    for (int i = 0; i < n; i++) {
        assert_true(arg_table_entry(r, g, i, &e[i]));
        assert_string_equal(e[i].name, want[i]);
    }
    assert_false(arg_table_entry(r, g, n, &e[0]));
    assert_int_equal(e[3].role, ATTNC_ARG_INPUT);  /* o is read */
    assert_int_equal(e[4].role, ATTNC_ARG_INPUT);  /* lse is read */
    assert_int_equal(e[4].optional, 0);
    assert_int_equal(e[5].role, ATTNC_ARG_INPUT);  /* do */
    expect_dims(&e[5], 4, (const char *[]){"batch", "heads", "tokens", "head_dim_v"}, (int64_t[]){0, 0, 0, 32});
    assert_int_equal(e[10].role, ATTNC_ARG_OUTPUT); /* dk: k's shape */
    expect_dims(&e[10], 4, (const char *[]){"batch", "kv_heads", "kv_tokens", "head_dim"}, (int64_t[]){0, 0, 0, 64});
    expect_dims(&e[11], 4, (const char *[]){"batch", "kv_heads", "kv_tokens", "head_dim_v"}, (int64_t[]){0, 0, 0, 32});
    assert_int_equal(e[12].role, ATTNC_ARG_OUTPUT);
    assert_int_equal(e[12].ndim, 0);
    assert_int_equal(e[12].by_value, 0); /* an output is never set by value */
    arena_free_all(&a);
}

static void backward_linear_gate_gets_gradient(void **state)
{
    fixture *f = *state;
    load(f, GATED);
    const recipe *r = attnc_recipe_typed(f->r);
    assert_true(arg_param_has_grad(r, 0));
    arena a;
    arena_init(&a, NULL);
    const char **g = arg_grad_names(&a, r);
    const char *want[] = {"q", "k", "v", "o", "do", "gate", "dq", "dk", "dv", "dgate"};
    assert_int_equal(arg_table_count(r, g), 10);
    for (int i = 0; i < 10; i++) {
        attnc_arg_info e;
        assert_true(arg_table_entry(r, g, i, &e));
        assert_string_equal(e.name, want[i]);
    }
    arena_free_all(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(grid_recipe_forward_list, setup, teardown),
        cmocka_unit_test_setup_teardown(gqa_cross_params_and_extra_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(fixed_grid_reports_values, setup, teardown),
        cmocka_unit_test_setup_teardown(linear_has_no_lse, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_calls_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(kernel_matches_recipe, setup, teardown),
        cmocka_unit_test_setup_teardown(list_drives_a_launch, setup, teardown),
        cmocka_unit_test_setup_teardown(backward_list, setup, teardown),
        cmocka_unit_test_setup_teardown(backward_linear_gate_gets_gradient, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
