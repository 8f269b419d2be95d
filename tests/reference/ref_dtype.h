/*
 * ref_dtype.h — exact bf16/f16 <-> float conversions for the reference and
 * the numeric tests (round-to-nearest-even, NaN/inf preserved, f16
 * subnormals handled). Independent of the code generator's conversions and of
 * attnc.h's attnc_f32_to_bf16 & co., which test_api_convert checks against these.
 */
#ifndef ATTNC_TESTS_REF_DTYPE_H
#define ATTNC_TESTS_REF_DTYPE_H

#include <stdint.h>

float ref_bf16_to_f32(uint16_t h);
uint16_t ref_f32_to_bf16(float f);
float ref_f16_to_f32(uint16_t h);
uint16_t ref_f32_to_f16(float f);

#endif
