/* api_convert.c — f32 <-> bf16 / f16 element conversions of attnc.h, by
 * bit manipulation: no compiler half-precision type, no floating-point
 * environment dependence (the rounding is always to nearest, ties to even,
 * whatever fesetround says). */
#include <string.h>

#include "runtime/include/attnc.h"

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

static uint16_t one_f32_to_bf16(uint32_t u)
{
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u); /* NaN: sign and top payload kept, quiet bit set */
    /* Adding 0x7fff plus the kept lsb rounds to nearest, ties to even; a
     * carry out of the mantissa bumps the exponent, up to inf. */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static uint32_t one_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    if ((u & 0x7fffffffu) > 0x7f800000u)
        u |= 0x00400000u; /* quiet */
    return u;
}

/* |value| below 2^-14: an f16 subnormal (or zero), in units of 2^-24. */
static uint16_t f16_subnormal(uint32_t a)
{
    if (a < 0x33000000u) /* below 2^-25, half the smallest subnormal: rounds to zero */
        return 0;
    uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e; /* 14..24: value = m >> shift units */
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    q += rem > half || (rem == half && (q & 1u));
    return (uint16_t)q; /* 0x400 after a carry: the smallest normal, also right */
}

static uint16_t one_f32_to_f16(uint32_t u)
{
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x1ffu)); /* quiet NaN, top payload kept */
    if (a >= 0x477ff000u) /* 65520 = 65504 + half an ulp, and above: ties to even go up to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) /* below 2^-14 */
        return (uint16_t)(sign | f16_subnormal(a));
    uint32_t r = a - 0x38000000u; /* exponent bias 127 -> 15 */
    r += 0xfffu + ((r >> 13) & 1u);
    return (uint16_t)(sign | (r >> 13));
}

static uint32_t one_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 31)
        return sign | 0x7f800000u | (m << 13) | (m ? 0x00400000u : 0); /* inf, or a quiet NaN */
    if (e != 0)
        return sign | ((e + 112) << 23) | (m << 13);
    if (m == 0)
        return sign;
    int k = 9; /* the highest set bit of the subnormal mantissa: value = m * 2^-24 */
    while (!(m >> k))
        k--;
    return sign | ((uint32_t)(k + 103) << 23) | ((m << (23 - k)) & 0x7fffffu);
}

void attnc_f32_to_bf16(const float *src, uint16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = one_f32_to_bf16(f32_bits(src[i]));
}

void attnc_bf16_to_f32(const uint16_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = bits_f32(one_bf16_to_f32(src[i]));
}

void attnc_f32_to_f16(const float *src, uint16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = one_f32_to_f16(f32_bits(src[i]));
}

void attnc_f16_to_f32(const uint16_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = bits_f32(one_f16_to_f32(src[i]));
}
