/* Unit tests for support/checked.h: every helper at and just past the edges
 * of int64_t. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/checked.h"

static void add_sub_report_overflow_at_the_edges(void **state)
{
    (void)state;
    int64_t r;
    assert_true(ck_add(INT64_MAX - 1, 1, &r));
    assert_true(r == INT64_MAX);
    assert_false(ck_add(INT64_MAX, 1, &r));
    assert_false(ck_add(INT64_MIN, -1, &r));
    assert_true(ck_add(INT64_MIN, INT64_MAX, &r));
    assert_true(r == -1);
    assert_true(ck_sub(0, INT64_MAX, &r));
    assert_true(r == -INT64_MAX);
    assert_false(ck_sub(-2, INT64_MAX, &r));
    assert_false(ck_sub(0, INT64_MIN, &r));
}

static void mul_neg_abs_report_overflow(void **state)
{
    (void)state;
    int64_t r;
    assert_true(ck_mul((int64_t)1 << 31, (int64_t)1 << 31, &r));
    assert_true(r == (int64_t)1 << 62);
    assert_false(ck_mul((int64_t)1 << 32, (int64_t)1 << 31, &r));
    assert_false(ck_mul(INT64_MIN, -1, &r));
    assert_true(ck_mul(-1, INT64_MAX, &r));
    assert_true(r == -INT64_MAX);
    assert_false(ck_neg(INT64_MIN, &r));
    assert_true(ck_neg(INT64_MAX, &r));
    assert_true(r == -INT64_MAX);
    assert_false(ck_abs(INT64_MIN, &r));
    assert_true(ck_abs(-5, &r));
    assert_int_equal(r, 5);
}

static void products_and_sizes(void **state)
{
    (void)state;
    int64_t r;
    /* the grid of issue #12 item 13: the product wraps to 4 in 64 bits */
    int64_t grid[3] = {968973220, 49477, 384773};
    assert_false(ck_product(grid, 3, &r));
    assert_false(ck_mul3(968973220, 49477, 384773, &r));
    int64_t ok[3] = {4, 8, 16};
    assert_true(ck_product(ok, 3, &r));
    assert_int_equal(r, 512);
    assert_true(ck_product(ok, 0, &r));
    assert_int_equal(r, 1);
    assert_true(ck_muladd(3, 4, 5, &r));
    assert_int_equal(r, 17);
    assert_false(ck_muladd(INT64_MAX / 2, 2, 2, &r));
    size_t s;
    assert_false(ck_to_size(-1, &s));
    assert_true(ck_to_size(12, &s));
    assert_int_equal(s, 12);
    assert_false(ck_size_mul(SIZE_MAX / 2 + 1, 2, &s));
    assert_true(ck_size_mul(6, 7, &s));
    assert_int_equal(s, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_sub_report_overflow_at_the_edges),
        cmocka_unit_test(mul_neg_abs_report_overflow),
        cmocka_unit_test(products_and_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
