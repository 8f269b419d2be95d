/*
 * nvptx_intrin.h — thin LLVM-C helpers for the NVVM intrinsics the GPU code
 * generators use (mma.sync, ldmatrix, cp.async, shuffles, ex2, special
 * registers, barriers). Every helper emits at the builder's position and
 * uses only intrinsics LLVM 19 + ptxas 13 accept for sm_80 and sm_90a
 * (shared/NVPTX-LLVM19.md).
 */
#ifndef ATTNC_CODEGEN_NVPTX_INTRIN_H
#define ATTNC_CODEGEN_NVPTX_INTRIN_H

#include <llvm-c/Core.h>
#include <stdbool.h>

#include "../ir/expr.h"

typedef struct nv_ctx {
    LLVMContextRef c;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMTypeRef i1, i8, i16, i32, i64, f32, f16, bf16;
    LLVMTypeRef pg; /* ptr addrspace(1) */
    LLVMTypeRef ps; /* ptr addrspace(3) */
} nv_ctx;

void nv_ctx_init(nv_ctx *nv, LLVMContextRef c, LLVMModuleRef m, LLVMBuilderRef b);

/* Calls the intrinsic `name` (overload types as LLVMGetIntrinsicDeclaration
 * wants them). Returns NULL when LLVM does not know the name. */
LLVMValueRef nv_call(nv_ctx *nv, const char *name, LLVMTypeRef *over, int nover, LLVMValueRef *args,
                     int nargs);

LLVMValueRef nv_i32(nv_ctx *nv, long long v);
LLVMValueRef nv_i64(nv_ctx *nv, long long v);
LLVMValueRef nv_f32(nv_ctx *nv, double v);

/* Special registers: "tid.x", "ctaid.y", ... */
LLVMValueRef nv_sreg(nv_ctx *nv, const char *reg);
void nv_barrier(nv_ctx *nv);

/* Inline PTX with side effects: `text` with $N operands, `cons` the LLVM
 * constraint string (outputs first; add ~{memory} where it orders memory),
 * n arguments (at most NV_ASM_MAX_ARGS). ret: the result type (a struct for
 * several outputs) or NULL for none. Returns the call. */
enum { NV_ASM_MAX_ARGS = 320 };
LLVMValueRef nv_asm(nv_ctx *nv, LLVMTypeRef ret, const char *text, const char *cons, LLVMValueRef *args, int n);

/* 16-byte cp.async global -> shared; bytes (i32) < 16 zero-fills the rest. */
void nv_cp_async16(nv_ctx *nv, LLVMValueRef dst_shared, LLVMValueRef src_global, LLVMValueRef bytes);
void nv_cp_commit(nv_ctx *nv);
void nv_cp_wait(nv_ctx *nv, int groups);

/* ldmatrix m8n8 x4 (optionally .trans) from a shared address: 4 i32. */
void nv_ldmatrix_x4(nv_ctx *nv, LLVMValueRef shared_ptr, bool trans, LLVMValueRef out[4]);

/* mma.sync m16n8k16 row.col, f32 accumulate: d = a*b + c. dt: DT_BF16 or
 * DT_F16; a: 4 x i32, b: 2 x i32, c/d: 4 x f32. */
void nv_mma_16816(nv_ctx *nv, dtype dt, LLVMValueRef a[4], LLVMValueRef b[2], LLVMValueRef c[4],
                  LLVMValueRef d[4]);

/* Packs two f32 into one i32 holding (lo, hi) in memory order, as bf16 or f16. */
LLVMValueRef nv_pack2(nv_ctx *nv, dtype dt, LLVMValueRef lo, LLVMValueRef hi);

LLVMValueRef nv_shfl_xor_f32(nv_ctx *nv, LLVMValueRef v, int lane_mask);
/* v (i32 or f32) as lane `lane` (i32) of the warp holds it, every lane
 * taking part (shfl.sync.idx, full mask). */
LLVMValueRef nv_shfl_idx(nv_ctx *nv, LLVMValueRef v, LLVMValueRef lane);
LLVMValueRef nv_ex2(nv_ctx *nv, LLVMValueRef v);
LLVMValueRef nv_lg2(nv_ctx *nv, LLVMValueRef v);
LLVMValueRef nv_rcp(nv_ctx *nv, LLVMValueRef v);
LLVMValueRef nv_fmax(nv_ctx *nv, LLVMValueRef a, LLVMValueRef b);
/* a * b + c rounded once (fma.rn.f32). */
LLVMValueRef nv_fma(nv_ctx *nv, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c);
LLVMValueRef nv_smax(nv_ctx *nv, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef nv_smin(nv_ctx *nv, LLVMValueRef a, LLVMValueRef b);
/* cond ? a : b with cond frozen: LLVM keeps a select on a frozen and/or
 * of compares whole (one predicate, one SEL in the SASS) instead of
 * splitting it into a select per term (nvptx_fa2_softmax.c, keep_frozen). */
LLVMValueRef nv_select_frozen(nv_ctx *nv, LLVMValueRef cond, LLVMValueRef a, LLVMValueRef b);

/* if (cond) { ... }: nv_if branches to a new block named `name` (in the
 * builder's current function) and returns the join block; the caller emits
 * the body, then nv_endif closes it and continues at the join. */
LLVMBasicBlockRef nv_if(nv_ctx *nv, LLVMValueRef cond, const char *name);
void nv_endif(nv_ctx *nv, LLVMBasicBlockRef join);

/* Byte offset into a shared or global pointer. */
LLVMValueRef nv_gep(nv_ctx *nv, LLVMValueRef base, LLVMValueRef byte_off);
/* The module's zero-initialised global array `name` (n elems, global
 * memory), added on first use: scratch that a kernel's blocks share across
 * launches (launches of such kernels are serial, nvptx_kernel_info). */
LLVMValueRef nv_global_array(nv_ctx *nv, LLVMTypeRef elem, unsigned n, const char *name, unsigned align);

/* Adds an nvvm.annotations entry {fn, key, i32 val}. */
void nv_annotate(nv_ctx *nv, LLVMValueRef fn, const char *key, int val);

#endif
