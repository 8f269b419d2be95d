/* range_parts.c — a union range's parts, normalised in generated code
 * (range_parts.h). */
#include "range_parts.h"

enum { PART_EMPTY = 1 << 30 }; /* above every tile index (at most 2^30 tiles a dim) */

static LLVMValueRef smin(LLVMBuilderRef b, LLVMValueRef x, LLVMValueRef y)
{
    return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, x, y, ""), x, y, "");
}

static LLVMValueRef smax(LLVMBuilderRef b, LLVMValueRef x, LLVMValueRef y)
{
    return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, x, y, ""), x, y, "");
}

void rparts_clip(LLVMBuilderRef b, rparts *p, const LLVMValueRef *hlo, const LLVMValueRef *hhi)
{
    for (int i = 0; i < p->n; i++)
        for (int d = 0; d < p->nd; d++) {
            p->lo[i][d] = smax(b, p->lo[i][d], hlo[d]);
            p->hi[i][d] = smin(b, p->hi[i][d], hhi[d]);
        }
}

/* Part i becomes empty where `cond` holds. */
static void empty_if(LLVMBuilderRef b, LLVMTypeRef ity, rparts *p, int i, LLVMValueRef cond)
{
    p->lo[i][0] = LLVMBuildSelect(b, cond, LLVMConstInt(ity, PART_EMPTY, false), p->lo[i][0], "");
    p->hi[i][0] = LLVMBuildSelect(b, cond, LLVMConstInt(ity, PART_EMPTY - 1, false), p->hi[i][0], "");
}

/* Parts j and j + 1 swapped where j + 1 starts first in dim 0. */
static void compare_exchange(LLVMBuilderRef b, rparts *p, int j)
{
    LLVMValueRef swap = LLVMBuildICmp(b, LLVMIntSLT, p->lo[j + 1][0], p->lo[j][0], "");
    for (int d = 0; d < p->nd; d++) {
        LLVMValueRef l0 = p->lo[j][d], h0 = p->hi[j][d], l1 = p->lo[j + 1][d], h1 = p->hi[j + 1][d];
        p->lo[j][d] = LLVMBuildSelect(b, swap, l1, l0, "");
        p->hi[j][d] = LLVMBuildSelect(b, swap, h1, h0, "");
        p->lo[j + 1][d] = LLVMBuildSelect(b, swap, l0, l1, "");
        p->hi[j + 1][d] = LLVMBuildSelect(b, swap, h0, h1, "");
    }
}

void rparts_normalize(LLVMBuilderRef b, LLVMTypeRef ity, rparts *p)
{
    for (int i = 0; i < p->n; i++) {
        LLVMValueRef empty = LLVMConstInt(LLVMInt1TypeInContext(LLVMGetTypeContext(ity)), 0, false);
        for (int d = 0; d < p->nd; d++)
            empty = LLVMBuildOr(b, empty, LLVMBuildICmp(b, LLVMIntSGT, p->lo[i][d], p->hi[i][d], ""), "");
        empty_if(b, ity, p, i, empty);
    }
    for (int i = 0; i + 1 < p->n; i++)
        for (int j = 0; j + 1 < p->n - i; j++)
            compare_exchange(b, p, j);
    for (int i = 1; i < p->n; i++) {
        LLVMValueRef overlap = LLVMBuildICmp(b, LLVMIntSLE, p->lo[i][0], p->hi[i - 1][0], "");
        for (int d = 0; d < p->nd; d++) {
            p->lo[i][d] = LLVMBuildSelect(b, overlap, smin(b, p->lo[i - 1][d], p->lo[i][d]), p->lo[i][d], "");
            p->hi[i][d] = LLVMBuildSelect(b, overlap, smax(b, p->hi[i - 1][d], p->hi[i][d]), p->hi[i][d], "");
        }
        empty_if(b, ity, p, i - 1, overlap);
    }
}

LLVMValueRef rparts_count(LLVMBuilderRef b, LLVMTypeRef ity, const rparts *p, int i)
{
    LLVMValueRef n = LLVMConstInt(ity, 1, false);
    for (int d = 0; d < p->nd; d++) {
        LLVMValueRef c = LLVMBuildAdd(b, LLVMBuildSub(b, p->hi[i][d], p->lo[i][d], ""), LLVMConstInt(ity, 1, false), "");
        n = LLVMBuildMul(b, n, smax(b, c, LLVMConstInt(ity, 0, false)), "");
    }
    return n;
}
