/*
 * emit_expr.h — scalar expression IR (ir/expr.h) -> LLVM IR, for both targets.
 *
 * The caller supplies an environment that says how to produce the leaves
 * (coordinates, sizes, head/batch indices, the score value, param loads) at
 * the current program point; emit_expr() builds the arithmetic with the
 * exact semantics of ir/expr.h (floor division/modulo, zero divisor -> 0,
 * non-short-circuit logic, ilog2/ipow2, int->float conversion in mixed
 * comparisons). Ints are emitted in env->int_ty (i32 on GPUs where the
 * ranges are proven to fit, i64 on the host); floats in f32.
 *
 * Transcendentals: on NVPTX exp/log/tanh/sqrt use NVVM approximations
 * (ex2.approx with a log2(e) factor, lg2.approx, tanh via ex2, sqrt.approx);
 * on the host the llvm.* intrinsics.
 */
#ifndef ATTNC_CODEGEN_EMIT_EXPR_H
#define ATTNC_CODEGEN_EMIT_EXPR_H

#include <llvm-c/Core.h>
#include <stdbool.h>

#include "../ir/expr.h"

typedef struct expr_env {
    LLVMContextRef ctx;
    LLVMModuleRef module;
    LLVMBuilderRef builder;
    LLVMTypeRef int_ty; /* i32 or i64 */
    bool nvptx;         /* true: NVVM intrinsics for math */

    /* Leaves. Each returns a value of int_ty (float for score). Callbacks
     * may be NULL when the expression cannot contain that leaf. */
    LLVMValueRef (*coord)(void *user, coord_side side, int dim); /* dim -1: t; 0..2 grid;
                                                                    TIR_BOX_LO/HI+d: box corners */
    LLVMValueRef (*size)(void *user, size_id id);
    LLVMValueRef (*leaf)(void *user, expr_kind kind);             /* HEAD, KV_HEAD, BATCH, SCORE */
    /* A param element: indices already emitted (int_ty) and clamped by the
     * callee into the param's extents; returns int_ty or f32 per elem type. */
    LLVMValueRef (*param)(void *user, int param, LLVMValueRef *indices, int nindices);
    void *user;
    /* Optional (NULL: none): a value for node e the caller computed
     * elsewhere (i1 for bools, int_ty for ints, f32 for floats), or NULL to
     * emit e as usual. Lets a caller hoist subtrees out of a per-element
     * expression (codegen/nvptx_fa2_frames.c). */
    LLVMValueRef (*node)(void *user, const expr *e);
} expr_env;

/* Emits e at the builder's position. Bool results are i1, ints int_ty,
 * floats f32. Never returns NULL for a well-typed tree without EX_FORM. */
LLVMValueRef emit_expr(expr_env *env, const expr *e);

#endif
