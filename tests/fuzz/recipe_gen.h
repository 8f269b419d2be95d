/*
 * recipe_gen.h — fuzzer bytes -> a valid recipe and a launch shape, for the
 * differential fuzzer (fuzz_diff.c).
 *
 * The bytes are read as a stream of choices (each byte picks among the
 * options of the next decision; past the end every choice is 0, the
 * simplest option), so libFuzzer's mutations move through recipe space:
 * softmax recipes with random masks (named forms — causal, sliding_window,
 * sinks, neighborhood with dilation/stride/causal per dim, radial,
 * strided_heads, document, blocks, full — combined with && || ! and integer
 * comparisons over coordinates, heads, batch and sizes), random score
 * modifications (scale, softcap, tanh, bias params, ALiBi, coordinate
 * terms), 1-3-D token grids with bound or fixed extents, GQA, cross
 * attention, bf16/f16/f32, head dims, explicit tiles or `auto`; and linear
 * recipes (feature maps, decay, normalisation, block sizes, inter modes).
 *
 * Everything generated is meant to be valid and numerically tame: integer
 * terms stay far from overflow, float terms enter the score scaled so
 * logits stay within a few tens (f32's 1e-5 tolerance), param indices are
 * clamped into range, no float is compared or floored (f32 and the f64
 * reference would round differently at the boundary). With `hostile` set,
 * one integer constant in 3 is huge (near 2^62 or INT64_MAX): the
 * overflow cases of issue #12 items 13-15, off by default.
 */
#ifndef ATTNC_TESTS_FUZZ_RECIPE_GEN_H
#define ATTNC_TESTS_FUZZ_RECIPE_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reference/ref_check.h"
#include "support/strbuf.h"

typedef struct gen_case {
    strbuf text;     /* the recipe */
    ref_shape shape; /* the launch shape (fixed grid extents left 0) */
    uint64_t seed;   /* for the random inputs */
} gen_case;

/* Fills c from the bytes (sb_free(&c->text) afterwards). */
void gen_case_make(const uint8_t *data, size_t size, bool hostile, gen_case *c);

#endif
