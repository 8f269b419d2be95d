/* ref_dtype.c — bf16/f16 conversions by bit manipulation; see ref_dtype.h. */
#include "ref_dtype.h"

#include <math.h>
#include <string.h>

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float ref_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t ref_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40); /* quiet NaN, sign kept */
    uint32_t lsb = (u >> 16) & 1u;
    u += 0x7fffu + lsb; /* round to nearest, ties to even; overflows to inf */
    return (uint16_t)(u >> 16);
}

float ref_f16_to_f32(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0)
        v = ldexpf((float)man, -24); /* zero and subnormals */
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexpf((float)(man | 0x400), exp - 25);
    return sign ? -v : v;
}

/* Rounds |f| to a multiple of 2^-24 .. 2^15 steps with ties to even, using
 * double arithmetic, which holds every f16 value and midpoint exactly. */
uint16_t ref_f32_to_f16(float f)
{
    uint16_t sign = (uint16_t)((f32_bits(f) >> 16) & 0x8000u);
    if (isnan(f))
        return (uint16_t)(sign | 0x7e00);
    double a = fabs((double)f);
    if (a >= 65520.0) /* rounds to inf (65504 + half an ulp) */
        return (uint16_t)(sign | 0x7c00);
    int e;
    frexp(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    int step_exp = (e - 11 < -24) ? -24 : e - 11; /* ulp of the f16 binade */
    double q = nearbyint(ldexp(a, -step_exp));    /* default rounding: ties to even */
    double r = ldexp(q, step_exp);
    if (r == 0)
        return sign;
    int re;
    frexp(r, &re);
    int biased = re - 1 + 15;
    if (biased <= 0) /* subnormal: r = man * 2^-24 */
        return (uint16_t)(sign | (uint16_t)ldexp(r, 24));
    uint16_t man = (uint16_t)(ldexp(r, 11 - re) - 1024.0);
    return (uint16_t)(sign | (uint16_t)(biased << 10) | man);
}
