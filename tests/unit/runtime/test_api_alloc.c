/* Allocation-failure test of the public API (runtime/api_*.c): a context
 * allocator that fails after N allocations, raised until the whole sequence
 * (context, recipe, kernel, args, launch) succeeds. Every failing step must
 * return ATTNC_ERR_NOMEM and, after cleanup, nothing may stay allocated (the
 * allocator counts live blocks; ASan checks the rest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/include/attnc.h"

typedef struct failing {
    long budget; /* allocations left before failing */
    long live;   /* blocks not yet freed */
    long total;
} failing;

static void *fail_alloc(void *user, size_t n)
{
    failing *f = user;
    if (f->budget <= 0)
        return NULL;
    f->budget--;
    void *p = malloc(n);
    if (p) {
        f->live++;
        f->total++;
    }
    return p;
}

static void fail_free(void *user, void *p)
{
    failing *f = user;
    if (p) {
        f->live--;
        free(p);
    }
}

static const char *RECIPE = "recipe alloc_test\n"
                            "input  q, k, v : f32 [batch, heads, tokens, 16]\n"
                            "param  doc : i32 [tokens]\n"
                            "mask   causal && document(doc)\n"
                            "tile   q(16) kv(16)\n";

enum { H = 2, T = 37, D = 16 };

/* Runs the whole sequence; returns the first failing status. */
static attnc_status sequence(const attnc_allocator *al)
{
    static float q[H * T * D], o[H * T * D], lse[H * T];
    static int32_t doc[T];
    for (int i = 0; i < H * T * D; i++)
        q[i] = (float)(i % 7) * 0.1f;
    for (int i = 0; i < T; i++)
        doc[i] = i / 10;
    attnc_context *ctx = NULL;
    attnc_recipe *r = NULL;
    attnc_kernel *k = NULL;
    attnc_args *a = NULL;
    attnc_status st = attnc_context_create(&ctx, al);
    if (!st)
        st = attnc_recipe_from_text(&r, ctx, "alloc.attn", RECIPE, strlen(RECIPE));
    if (!st)
        st = attnc_kernel_build(&k, ctx, r, NULL);
    if (!st)
        st = attnc_args_create(&a, k);
    attnc_tensor t = {ATTNC_F32, q, 4, {1, H, T, D}, {H * T * D, T * D, D, 1}};
    attnc_tensor to = {ATTNC_F32, o, 4, {1, H, T, D}, {H * T * D, T * D, D, 1}};
    attnc_tensor tl = {ATTNC_F32, lse, 3, {1, H, T}, {H * T, T, 1}};
    attnc_tensor td = {ATTNC_I32, doc, 1, {T}, {1}};
    const char *names[6] = {"q", "k", "v", "o", "lse", "doc"};
    const attnc_tensor *ts[6] = {&t, &t, &t, &to, &tl, &td};
    for (int i = 0; i < 6 && !st; i++)
        st = attnc_args_set_tensor(a, names[i], ts[i]);
    if (!st)
        st = attnc_launch(k, a, NULL);
    if (st && ctx)
        assert_true(strlen(attnc_context_errmsg(ctx)) > 0 || st == ATTNC_ERR_NOMEM);
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
    attnc_context_destroy(ctx);
    return st;
}

static void every_allocation_failure_is_nomem_without_leaks(void **state)
{
    failing f = {0, 0, 0};
    attnc_allocator al = {fail_alloc, fail_free, &f};
    long n;
    for (n = 0; n < 100000; n++) {
        f.budget = n;
        f.live = 0;
        attnc_status st = sequence(&al);
        if (f.live != 0)
            fail_msg("after failing allocation %ld: %ld blocks leaked", n, f.live);
        if (st == ATTNC_OK)
            break;
        if (st != ATTNC_ERR_NOMEM)
            fail_msg("allocation %ld failed, but the status was '%s'", n, attnc_status_string(st));
    }
    printf("  the sequence needs %ld allocations; each failure returned ATTNC_ERR_NOMEM\n", n);
    assert_true(n > 3 && n < 100000);
}

static void bad_allocator_is_refused(void **state)
{
    attnc_allocator al = {NULL, fail_free, NULL};
    attnc_context *ctx = (attnc_context *)&al;
    assert_int_equal(attnc_context_create(&ctx, &al), ATTNC_ERR_INVALID_ARGUMENT);
    assert_null(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_allocation_failure_is_nomem_without_leaks),
        cmocka_unit_test(bad_allocator_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
