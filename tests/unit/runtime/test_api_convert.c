/* test_api_convert.c — attnc_f32_to_bf16/f16 and back (runtime/api/api_convert.c):
 * every one of the 65536 bf16 and f16 bit patterns round trips (NaNs as
 * their quiet form), widening is exact (checked against an independent
 * formula), every rounding boundary between neighbouring finite values (the
 * tie goes to the even neighbour, one f32 ulp either side to the nearer),
 * overflow to inf, f16 subnormals and signed zeros, the result under other
 * rounding modes, and a sweep of f32 bit patterns against the fp64
 * reference's independent conversions (tests/reference/ref_dtype.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ref_dtype.h"
#include "runtime/include/attnc.h"

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

typedef struct half_fmt {
    const char *name;
    void (*narrow)(const float *, uint16_t *, size_t);
    void (*widen)(const uint16_t *, float *, size_t);
    int man_bits;     /* 7 (bf16) or 10 (f16) */
    uint16_t exp_all; /* the exponent field of inf/NaN */
} half_fmt;

static const half_fmt bf16 = {"bf16", attnc_f32_to_bf16, attnc_bf16_to_f32, 7, 0x7f80};
static const half_fmt f16 = {"f16", attnc_f32_to_f16, attnc_f16_to_f32, 10, 0x7c00};

static bool is_nan_bits(const half_fmt *f, uint16_t h)
{
    return (h & f->exp_all) == f->exp_all && (h & ((1u << f->man_bits) - 1));
}

static uint16_t narrow1(const half_fmt *f, float x)
{
    uint16_t h;
    f->narrow(&x, &h, 1);
    return h;
}

static float widen1(const half_fmt *f, uint16_t h)
{
    float x;
    f->widen(&h, &x, 1);
    return x;
}

/* The value of a bit pattern by the textbook formula, independent of the
 * code under test (NaN patterns excluded). */
static double value_of(const half_fmt *f, uint16_t h)
{
    int m = f->man_bits, ebits = 15 - m, bias = (1 << (ebits - 1)) - 1;
    int e = (h >> m) & ((1 << ebits) - 1);
    double man = h & ((1u << m) - 1), v;
    if (e == (1 << ebits) - 1)
        v = INFINITY;
    else if (e == 0)
        v = ldexp(man, 1 - bias - m);
    else
        v = ldexp(man + (double)(1u << m), e - bias - m);
    return (h & 0x8000) ? -v : v;
}

static void round_trip_all(const half_fmt *f)
{
    static uint16_t in[65536], out[65536];
    static float wide[65536];
    for (uint32_t i = 0; i < 65536; i++)
        in[i] = (uint16_t)i;
    f->widen(in, wide, 65536);
    f->narrow(wide, out, 65536);
    uint16_t quiet = (uint16_t)(1u << (f->man_bits - 1));
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        if (is_nan_bits(f, h)) {
            if (!isnan(wide[i]) || !(bits(wide[i]) & 0x00400000u) || !!signbit(wide[i]) != !!(h & 0x8000) ||
                out[i] != (h | quiet))
                fail_msg("%s 0x%04x (NaN): widened 0x%08x, back 0x%04x; want a quiet NaN, 0x%04x", f->name, h,
                         bits(wide[i]), out[i], h | quiet);
            continue;
        }
        double want = value_of(f, h);
        if ((double)wide[i] != want || !!signbit(wide[i]) != !!(h & 0x8000) || out[i] != h)
            fail_msg("%s 0x%04x: widened %.9g (want %.9g), back 0x%04x", f->name, h, (double)wide[i], want, out[i]);
    }
}

static void test_round_trip_bf16(void **state)
{
    (void)state;
    round_trip_all(&bf16);
}

static void test_round_trip_f16(void **state)
{
    (void)state;
    round_trip_all(&f16);
}

/* Between every pair of neighbouring non-negative finite values a < b (and
 * between the largest finite value and the first power of two past it,
 * where inf takes b's place): the midpoint goes to the even one, one f32
 * ulp below it to a, one above to b; likewise for the negatives. */
static void rounding_boundaries(const half_fmt *f)
{
    uint16_t inf = f->exp_all;
    long checked = 0;
    for (uint16_t a = 0; a < inf; a++) {
        uint16_t b = (uint16_t)(a + 1); /* == inf after the largest finite value */
        double va = value_of(f, a), vb = b == inf ? ldexp(1.0, f->man_bits == 7 ? 128 : 16) : value_of(f, b);
        float mid = (float)((va + vb) / 2); /* exact: one more bit than the format */
        assert_true((double)mid == (va + vb) / 2);
        uint16_t even = (a & 1) ? b : a;
        float below = nextafterf(mid, 0.0f), above = nextafterf(mid, INFINITY);
        for (int sign = 0; sign < 2; sign++) {
            float s = sign ? -1.0f : 1.0f;
            uint16_t sb = sign ? 0x8000 : 0;
            uint16_t got_mid = narrow1(f, s * mid), got_lo = narrow1(f, s * below), got_hi = narrow1(f, s * above);
            if (got_mid != (even | sb) || got_lo != (a | sb) || got_hi != (b | sb))
                fail_msg("%s between 0x%04x and 0x%04x (sign %d): mid %.9g -> 0x%04x (want 0x%04x), below -> 0x%04x, "
                         "above -> 0x%04x",
                         f->name, a, b, sign, (double)mid, got_mid, even | sb, got_lo, got_hi);
            checked++;
        }
    }
    assert_int_equal(checked, 2L * inf);
}

static void test_rounding_bf16(void **state)
{
    (void)state;
    rounding_boundaries(&bf16);
}

static void test_rounding_f16(void **state)
{
    (void)state;
    rounding_boundaries(&f16);
}

/* The special values spelled out. */
static void test_specials(void **state)
{
    (void)state;
    assert_int_equal(narrow1(&bf16, 0.0f), 0x0000);
    assert_int_equal(narrow1(&bf16, -0.0f), 0x8000);
    assert_int_equal(narrow1(&bf16, INFINITY), 0x7f80);
    assert_int_equal(narrow1(&bf16, -INFINITY), 0xff80);
    assert_int_equal(narrow1(&bf16, FLT_MAX), 0x7f80);  /* past the largest bf16 midpoint: inf */
    assert_int_equal(narrow1(&bf16, 1.0f), 0x3f80);
    assert_int_equal(narrow1(&bf16, from_bits(0x3f808000)), 0x3f80); /* tie, even below */
    assert_int_equal(narrow1(&bf16, from_bits(0x3f818000)), 0x3f82); /* tie, even above */
    assert_int_equal(narrow1(&bf16, from_bits(0x00000001)), 0x0000); /* f32 subnormal */
    assert_int_equal(narrow1(&bf16, from_bits(0x7f800001)), 0x7fc0); /* signalling NaN quietened */
    assert_int_equal(narrow1(&bf16, from_bits(0xffa00000)), 0xffe0); /* sign and payload kept */
    assert_int_equal(narrow1(&f16, 65504.0f), 0x7bff);
    assert_int_equal(narrow1(&f16, 65519.99f), 0x7bff);
    assert_int_equal(narrow1(&f16, 65520.0f), 0x7c00);
    assert_int_equal(narrow1(&f16, -1e9f), 0xfc00);
    assert_int_equal(narrow1(&f16, ldexpf(1.0f, -24)), 0x0001);    /* smallest subnormal */
    assert_int_equal(narrow1(&f16, ldexpf(1.0f, -25)), 0x0000);    /* its half: tie to even zero */
    assert_int_equal(narrow1(&f16, -ldexpf(1.0f, -25)), 0x8000);
    assert_int_equal(narrow1(&f16, ldexpf(1.5f, -25)), 0x0001);
    assert_int_equal(narrow1(&f16, ldexpf(3.0f, -25)), 0x0002);    /* 1.5 units: tie to even 2 */
    assert_int_equal(narrow1(&f16, ldexpf(1023.5f, -24)), 0x0400); /* rounds up into the normals */
    assert_int_equal(narrow1(&f16, ldexpf(1.0f, -14)), 0x0400);
    assert_int_equal(narrow1(&f16, from_bits(0x7f800001)), 0x7e00);
    assert_int_equal(narrow1(&f16, from_bits(0xff9fe000)), 0xfeff); /* quiet bit set, payload bits 21..13 kept */
    assert_true(isinf(widen1(&f16, 0x7c00)) && widen1(&f16, 0xfc00) < 0);
    assert_true(isnan(widen1(&f16, 0x7c01)) && (bits(widen1(&f16, 0x7c01)) & 0x00400000u));
    assert_true(widen1(&f16, 0x0001) == ldexpf(1.0f, -24));
    assert_true(isnan(widen1(&bf16, 0xff81)) && signbit(widen1(&bf16, 0xff81)));
    uint16_t untouched = 0xabcd;
    attnc_f32_to_f16(NULL, &untouched, 0); /* n = 0: nothing read or written */
    assert_int_equal(untouched, 0xabcd);
}

/* Bit manipulation, so the rounding mode of the caller does not matter. */
static void test_rounding_mode(void **state)
{
    (void)state;
    const int modes[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(fesetround(modes[i]), 0);
        uint16_t b = narrow1(&bf16, from_bits(0x3f808000)), h = narrow1(&f16, ldexpf(3.0f, -25));
        uint16_t h2 = narrow1(&f16, 1.0f + ldexpf(1.0f, -11)); /* tie between 1 and 1 + 2^-10 */
        fesetround(FE_TONEAREST);
        assert_int_equal(b, 0x3f80);
        assert_int_equal(h, 0x0002);
        assert_int_equal(h2, 0x3c00);
    }
}

/* Every 97th f32 bit pattern (all signs, exponents and NaN payloads in
 * steps), against the reference's own conversions: the same bits, or for
 * NaNs, NaNs of the same sign. */
static void test_against_reference(void **state)
{
    (void)state;
    enum { CHUNK = 4096 };
    static float in[CHUNK];
    static uint16_t b[CHUNK], h[CHUNK];
    long n = 0;
    uint64_t u = 0;
    while (u <= 0xffffffffu) {
        int k = 0;
        for (; k < CHUNK && u <= 0xffffffffu; k++, u += 97)
            in[k] = from_bits((uint32_t)u);
        attnc_f32_to_bf16(in, b, (size_t)k);
        attnc_f32_to_f16(in, h, (size_t)k);
        for (int i = 0; i < k; i++) {
            uint16_t rb = ref_f32_to_bf16(in[i]), rh = ref_f32_to_f16(in[i]);
            bool nan = isnan(in[i]);
            if (nan ? !(is_nan_bits(&bf16, b[i]) && (b[i] >> 15) == (rb >> 15)) : b[i] != rb)
                fail_msg("bf16 of 0x%08x: 0x%04x, reference 0x%04x", bits(in[i]), b[i], rb);
            if (nan ? !(is_nan_bits(&f16, h[i]) && (h[i] >> 15) == (rh >> 15)) : h[i] != rh)
                fail_msg("f16 of 0x%08x: 0x%04x, reference 0x%04x", bits(in[i]), h[i], rh);
        }
        n += k;
    }
    assert_true(n > 44000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_bf16),  cmocka_unit_test(test_round_trip_f16),
        cmocka_unit_test(test_rounding_bf16),    cmocka_unit_test(test_rounding_f16),
        cmocka_unit_test(test_specials),         cmocka_unit_test(test_rounding_mode),
        cmocka_unit_test(test_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
