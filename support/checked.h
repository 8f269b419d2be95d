/*
 * checked.h — 64-bit integer arithmetic that reports overflow instead of
 * wrapping (signed overflow is undefined behaviour in C).
 *
 * Every product or sum of sizes, strides, byte counts and folded constants
 * goes through these. Each returns true when the exact result fits in
 * int64_t and stores it in *out; on overflow it returns false and leaves
 * *out unspecified. Header-only, so generated-code helpers and tests can use
 * it without linking anything.
 *
 *   int64_t bytes;
 *   if (!ck_mul3(batch, heads, tokens, &n) || !ck_mul(n, elem_size, &bytes))
 *       return error("too large");
 */
#ifndef ATTNC_SUPPORT_CHECKED_H
#define ATTNC_SUPPORT_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool ck_add(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

static inline bool ck_sub(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_sub_overflow(a, b, out);
}

static inline bool ck_mul(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* -a; fails only for INT64_MIN. */
static inline bool ck_neg(int64_t a, int64_t *out)
{
    return !__builtin_sub_overflow((int64_t)0, a, out);
}

/* |a|; fails only for INT64_MIN. */
static inline bool ck_abs(int64_t a, int64_t *out)
{
    return a < 0 ? ck_neg(a, out) : (*out = a, true);
}

/* a * b * c. */
static inline bool ck_mul3(int64_t a, int64_t b, int64_t c, int64_t *out)
{
    int64_t ab;
    return ck_mul(a, b, &ab) && ck_mul(ab, c, out);
}

/* a * b + c (an offset: index * stride + base). */
static inline bool ck_muladd(int64_t a, int64_t b, int64_t c, int64_t *out)
{
    int64_t ab;
    return ck_mul(a, b, &ab) && ck_add(ab, c, out);
}

/* The product of n values; 1 for n == 0. */
static inline bool ck_product(const int64_t *v, int n, int64_t *out)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        if (!ck_mul(p, v[i], &p))
            return false;
    *out = p;
    return true;
}

/* A non-negative int64 as a size_t (for malloc); false when negative or too
 * large for size_t. */
static inline bool ck_to_size(int64_t v, size_t *out)
{
    if (v < 0 || (uint64_t)v > (uint64_t)SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

/* a * b in size_t (allocation sizes). */
static inline bool ck_size_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

#endif
