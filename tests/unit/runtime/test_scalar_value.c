/* launch_scalar_value (runtime/api/api_validate.c): a 0-dim param is read from
 * host memory as its own dtype. Backends that pass scalars by value (the
 * CUDA forward and backward) go through it; they used to read every scalar
 * as f32, so an i32 param `P = 5` reached the kernel as 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/api/api_internal.h"

static attnc_tensor scalar(attnc_dtype dt, void *p)
{
    return (attnc_tensor){dt, p, 0, {0}, {0}};
}

static void every_dtype(void **state)
{
    (void)state;
    float f = -2.5f;
    int32_t i = 5, neg = -7;
    int64_t l = (int64_t)1 << 40;
    uint8_t u = 200;
    uint16_t b, h;
    attnc_f32_to_bf16(&f, &b, 1);
    attnc_f32_to_f16(&f, &h, 1);
    attnc_tensor t;
    t = scalar(ATTNC_F32, &f), assert_true(launch_scalar_value(&t) == -2.5);
    t = scalar(ATTNC_I32, &i), assert_true(launch_scalar_value(&t) == 5.0);
    t = scalar(ATTNC_I32, &neg), assert_true(launch_scalar_value(&t) == -7.0);
    t = scalar(ATTNC_I64, &l), assert_true(launch_scalar_value(&t) == 1099511627776.0);
    t = scalar(ATTNC_U8, &u), assert_true(launch_scalar_value(&t) == 200.0);
    t = scalar(ATTNC_BF16, &b), assert_true(launch_scalar_value(&t) == -2.5);
    t = scalar(ATTNC_F16, &h), assert_true(launch_scalar_value(&t) == -2.5);
    t = scalar(ATTNC_I32, NULL), assert_true(launch_scalar_value(&t) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(every_dtype)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
