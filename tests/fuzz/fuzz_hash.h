/*
 * fuzz_hash.h — FNV-1a of an input's bytes, for harnesses that pick the
 * costlier checks for some inputs only: the choice follows the bytes, so a
 * replayed input is checked exactly as it was when found.
 */
#ifndef ATTNC_FUZZ_HASH_H
#define ATTNC_FUZZ_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t fuzz_hash_bytes(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

#endif
