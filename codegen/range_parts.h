/*
 * range_parts.h — the parts of a union kv_range (tile_ir.h, TIR_MAX_PARTS)
 * as the kernels visit them, emitted with any LLVM-C builder and int type
 * (the host's i64, the GPU's i32).
 *
 * rparts_clip intersects each part with the hull; rparts_normalize then
 * emits the steps of kv_parts_normalize (passes/mask_analysis.h) as
 * branch-free selects: parts empty in some dim get dim-0 bounds
 * [EMPTY, EMPTY - 1], a bubble network sorts them by dim-0 start, and a
 * sweep merges a part overlapping the previous one in dim 0 into their hull
 * (the previous one becomes empty). The nonempty parts are then disjoint and
 * in order; empty ones stay in place with no tile in dim 0 (no compaction,
 * so a consumer checks hi >= lo or counts tiles).
 */
#ifndef ATTNC_CODEGEN_RANGE_PARTS_H
#define ATTNC_CODEGEN_RANGE_PARTS_H

#include <llvm-c/Core.h>

#include "../ir/tile_ir.h"

typedef struct rparts {
    int n, nd;
    LLVMValueRef lo[TIR_MAX_PARTS][SCHED_MAX_DIMS], hi[TIR_MAX_PARTS][SCHED_MAX_DIMS];
} rparts;

/* lo = max(lo, hlo[d]), hi = min(hi, hhi[d]) for every part and dim. */
void rparts_clip(LLVMBuilderRef b, rparts *p, const LLVMValueRef *hlo, const LLVMValueRef *hhi);
/* In place, values of type ity (i32 or i64). */
void rparts_normalize(LLVMBuilderRef b, LLVMTypeRef ity, rparts *p);
/* Tiles of part i: the product over dims of max(hi - lo + 1, 0). */
LLVMValueRef rparts_count(LLVMBuilderRef b, LLVMTypeRef ity, const rparts *p, int i);

#endif
