/* emit_convert.c — element conversions in LLVM IR (emit_convert.h). */
#include "emit_convert.h"

static LLVMContextRef ctx_of(LLVMBuilderRef b)
{
    return LLVMGetModuleContext(LLVMGetGlobalParent(LLVMGetBasicBlockParent(LLVMGetInsertBlock(b))));
}

LLVMValueRef cv_load_f32(LLVMBuilderRef b, dtype dt, LLVMValueRef base, LLVMValueRef off)
{
    LLVMContextRef c = ctx_of(b);
    LLVMTypeRef f32 = LLVMFloatTypeInContext(c), i16 = LLVMInt16TypeInContext(c), i32 = LLVMInt32TypeInContext(c);
    LLVMTypeRef et = dt == DT_F32 ? f32 : i16;
    LLVMValueRef v = LLVMBuildLoad2(b, et, LLVMBuildGEP2(b, et, base, &off, 1, ""), "");
    if (dt == DT_F32)
        return v;
    if (dt == DT_F16)
        return LLVMBuildFPExt(b, LLVMBuildBitCast(b, v, LLVMHalfTypeInContext(c), ""), f32, "");
    LLVMValueRef w = LLVMBuildShl(b, LLVMBuildZExt(b, v, i32, ""), LLVMConstInt(i32, 16, false), "");
    return LLVMBuildBitCast(b, w, f32, "");
}

LLVMValueRef cv_f32_to_bf16(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMContextRef c = ctx_of(b);
    LLVMTypeRef i32 = LLVMInt32TypeInContext(c);
    LLVMValueRef bits = LLVMBuildBitCast(b, x, i32, ""), c16 = LLVMConstInt(i32, 16, false);
    LLVMValueRef hi = LLVMBuildLShr(b, bits, c16, "");
    LLVMValueRef bias = LLVMBuildAdd(b, LLVMConstInt(i32, 0x7fff, false), LLVMBuildAnd(b, hi, LLVMConstInt(i32, 1, false), ""), "");
    LLVMValueRef rounded = LLVMBuildLShr(b, LLVMBuildAdd(b, bits, bias, ""), c16, "");
    LLVMValueRef quiet = LLVMBuildOr(b, hi, LLVMConstInt(i32, 0x40, false), "");
    LLVMValueRef nan = LLVMBuildFCmp(b, LLVMRealUNO, x, x, "");
    return LLVMBuildTrunc(b, LLVMBuildSelect(b, nan, quiet, rounded, ""), LLVMInt16TypeInContext(c), "");
}

void cv_store_f32(LLVMBuilderRef b, dtype dt, LLVMValueRef base, LLVMValueRef off, LLVMValueRef x)
{
    LLVMContextRef c = ctx_of(b);
    LLVMTypeRef et = dt == DT_F32 ? LLVMFloatTypeInContext(c) : LLVMInt16TypeInContext(c);
    LLVMValueRef v = x;
    if (dt == DT_BF16)
        v = cv_f32_to_bf16(b, x);
    else if (dt == DT_F16)
        v = LLVMBuildBitCast(b, LLVMBuildFPTrunc(b, x, LLVMHalfTypeInContext(c), ""), LLVMInt16TypeInContext(c), "");
    LLVMBuildStore(b, v, LLVMBuildGEP2(b, et, base, &off, 1, ""));
}
