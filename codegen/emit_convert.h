/*
 * emit_convert.h — element conversions shared by the code generators (host
 * ops, the LSE-merge kernel on both targets): bf16/f16/f32 elements
 * widened to f32 exactly, and f32 narrowed with round to nearest even
 * (bf16 by bit arithmetic, NaN kept quiet with its sign and leading payload;
 * f16 by fptrunc, which rounds to nearest even). Plain LLVM IR, no target
 * intrinsics.
 */
#ifndef ATTNC_CODEGEN_EMIT_CONVERT_H
#define ATTNC_CODEGEN_EMIT_CONVERT_H

#include <llvm-c/Core.h>

#include "../ir/expr.h"

/* Element `off` of a dt buffer at base, as f32. */
LLVMValueRef cv_load_f32(LLVMBuilderRef b, dtype dt, LLVMValueRef base, LLVMValueRef off);
/* Stores f32 x rounded to dt at element `off` of base. */
void cv_store_f32(LLVMBuilderRef b, dtype dt, LLVMValueRef base, LLVMValueRef off, LLVMValueRef x);
/* f32 -> the bits of the nearest bf16 (i16). */
LLVMValueRef cv_f32_to_bf16(LLVMBuilderRef b, LLVMValueRef x);

#endif
