/* nvptx_intrin.c — NVVM intrinsic helpers (see nvptx_intrin.h). Intrinsics
 * are looked up by name so a misspelt one fails loudly (NULL) instead of
 * becoming an external function that ptxas later rejects. */
#include "nvptx_intrin.h"

#include <stdio.h>
#include <string.h>

void nv_ctx_init(nv_ctx *nv, LLVMContextRef c, LLVMModuleRef m, LLVMBuilderRef b)
{
    nv->c = c;
    nv->m = m;
    nv->b = b;
    nv->i1 = LLVMInt1TypeInContext(c);
    nv->i8 = LLVMInt8TypeInContext(c);
    nv->i16 = LLVMInt16TypeInContext(c);
    nv->i32 = LLVMInt32TypeInContext(c);
    nv->i64 = LLVMInt64TypeInContext(c);
    nv->f32 = LLVMFloatTypeInContext(c);
    nv->f16 = LLVMHalfTypeInContext(c);
    nv->bf16 = LLVMBFloatTypeInContext(c);
    nv->pg = LLVMPointerTypeInContext(c, 1);
    nv->ps = LLVMPointerTypeInContext(c, 3);
}

LLVMValueRef nv_call(nv_ctx *nv, const char *name, LLVMTypeRef *over, int nover, LLVMValueRef *args,
                     int nargs)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    if (!id)
        return NULL;
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(nv->m, id, over, (size_t)nover);
    LLVMTypeRef ty = LLVMIntrinsicGetType(nv->c, id, over, (size_t)nover);
    return LLVMBuildCall2(nv->b, ty, fn, args, (unsigned)nargs, "");
}

LLVMValueRef nv_i32(nv_ctx *nv, long long v)
{
    return LLVMConstInt(nv->i32, (unsigned long long)v, true);
}

LLVMValueRef nv_i64(nv_ctx *nv, long long v)
{
    return LLVMConstInt(nv->i64, (unsigned long long)v, true);
}

LLVMValueRef nv_f32(nv_ctx *nv, double v)
{
    return LLVMConstReal(nv->f32, v);
}

LLVMValueRef nv_sreg(nv_ctx *nv, const char *reg)
{
    char name[64];
    snprintf(name, sizeof name, "llvm.nvvm.read.ptx.sreg.%s", reg);
    return nv_call(nv, name, NULL, 0, NULL, 0);
}

void nv_barrier(nv_ctx *nv)
{
    nv_call(nv, "llvm.nvvm.barrier0", NULL, 0, NULL, 0);
}

/* Inline PTX: LLVM 19 cannot select the cp.async intrinsics with 32-bit
 * shared pointers (--nvptx-short-ptr), and 32-bit addresses save registers. */
LLVMValueRef nv_asm(nv_ctx *nv, LLVMTypeRef ret, const char *text, const char *cons, LLVMValueRef *args, int n)
{
    LLVMTypeRef tys[NV_ASM_MAX_ARGS];
    if (n < 0 || n > NV_ASM_MAX_ARGS)
        return NULL;
    for (int i = 0; i < n; i++)
        tys[i] = LLVMTypeOf(args[i]);
    LLVMTypeRef fty = LLVMFunctionType(ret ? ret : LLVMVoidTypeInContext(nv->c), tys, (unsigned)n, false);
    LLVMValueRef fn = LLVMGetInlineAsm(fty, (char *)text, strlen(text), (char *)cons, strlen(cons), true, false,
                                       LLVMInlineAsmDialectATT, false);
    return LLVMBuildCall2(nv->b, fty, fn, args, (unsigned)n, "");
}

void nv_cp_async16(nv_ctx *nv, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef bytes)
{
    LLVMValueRef args[3] = {LLVMBuildPtrToInt(nv->b, dst, nv->i32, ""), src, bytes};
    nv_asm(nv, NULL, "cp.async.cg.shared.global [$0], [$1], 16, $2;", "r,l,r,~{memory}", args, 3);
}

void nv_cp_commit(nv_ctx *nv)
{
    nv_call(nv, "llvm.nvvm.cp.async.commit.group", NULL, 0, NULL, 0);
}

void nv_cp_wait(nv_ctx *nv, int groups)
{
    LLVMValueRef n = nv_i32(nv, groups);
    nv_call(nv, "llvm.nvvm.cp.async.wait.group", NULL, 0, &n, 1);
}

void nv_ldmatrix_x4(nv_ctx *nv, LLVMValueRef p, bool trans, LLVMValueRef out[4])
{
    const char *name = trans ? "llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.trans.b16"
                             : "llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.b16";
    LLVMTypeRef over = nv->ps;
    LLVMValueRef r = nv_call(nv, name, &over, 1, &p, 1);
    for (unsigned i = 0; i < 4; i++)
        out[i] = LLVMBuildExtractValue(nv->b, r, i, "");
}

void nv_mma_16816(nv_ctx *nv, dtype dt, LLVMValueRef a[4], LLVMValueRef b[2], LLVMValueRef c[4],
                  LLVMValueRef d[4])
{
    LLVMValueRef args[10];
    bool half = dt == DT_F16;
    LLVMTypeRef h2 = LLVMVectorType(nv->f16, 2);
    for (int i = 0; i < 4; i++)
        args[i] = half ? LLVMBuildBitCast(nv->b, a[i], h2, "") : a[i];
    for (int i = 0; i < 2; i++)
        args[4 + i] = half ? LLVMBuildBitCast(nv->b, b[i], h2, "") : b[i];
    for (int i = 0; i < 4; i++)
        args[6 + i] = c[i];
    const char *name = half ? "llvm.nvvm.mma.m16n8k16.row.col.f32.f32" : "llvm.nvvm.mma.m16n8k16.row.col.bf16";
    LLVMValueRef r = nv_call(nv, name, NULL, 0, args, 10);
    for (unsigned i = 0; i < 4; i++)
        d[i] = LLVMBuildExtractValue(nv->b, r, i, "");
}

LLVMValueRef nv_pack2(nv_ctx *nv, dtype dt, LLVMValueRef lo, LLVMValueRef hi)
{
    /* cvt.rn.{bf16,f16}x2.f32 puts its first operand in the high half. */
    LLVMValueRef args[2] = {hi, lo};
    const char *name = dt == DT_F16 ? "llvm.nvvm.ff2f16x2.rn" : "llvm.nvvm.ff2bf16x2.rn";
    LLVMValueRef v = nv_call(nv, name, NULL, 0, args, 2);
    return LLVMBuildBitCast(nv->b, v, nv->i32, "");
}

LLVMValueRef nv_shfl_xor_f32(nv_ctx *nv, LLVMValueRef v, int lane_mask)
{
    LLVMValueRef args[4] = {nv_i32(nv, -1), v, nv_i32(nv, lane_mask), nv_i32(nv, 31)};
    return nv_call(nv, "llvm.nvvm.shfl.sync.bfly.f32", NULL, 0, args, 4);
}

LLVMValueRef nv_shfl_idx(nv_ctx *nv, LLVMValueRef v, LLVMValueRef lane)
{
    LLVMValueRef args[4] = {nv_i32(nv, -1), v, lane, nv_i32(nv, 31)};
    bool fl = LLVMTypeOf(v) == nv->f32;
    return nv_call(nv, fl ? "llvm.nvvm.shfl.sync.idx.f32" : "llvm.nvvm.shfl.sync.idx.i32", NULL, 0, args, 4);
}

LLVMValueRef nv_ex2(nv_ctx *nv, LLVMValueRef v)
{
    return nv_call(nv, "llvm.nvvm.ex2.approx.ftz.f", NULL, 0, &v, 1);
}

LLVMValueRef nv_lg2(nv_ctx *nv, LLVMValueRef v)
{
    return nv_call(nv, "llvm.nvvm.lg2.approx.f", NULL, 0, &v, 1);
}

LLVMValueRef nv_rcp(nv_ctx *nv, LLVMValueRef v)
{
    return nv_call(nv, "llvm.nvvm.rcp.approx.ftz.f", NULL, 0, &v, 1);
}

LLVMValueRef nv_fmax(nv_ctx *nv, LLVMValueRef a, LLVMValueRef b)
{
    LLVMValueRef args[2] = {a, b};
    return nv_call(nv, "llvm.nvvm.fmax.f", NULL, 0, args, 2);
}

LLVMValueRef nv_fma(nv_ctx *nv, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
    LLVMValueRef args[3] = {a, b, c};
    return nv_call(nv, "llvm.nvvm.fma.rn.f", NULL, 0, args, 3);
}

LLVMValueRef nv_select_frozen(nv_ctx *nv, LLVMValueRef cond, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(nv->b, LLVMBuildFreeze(nv->b, cond, ""), a, b, "");
}

LLVMValueRef nv_smax(nv_ctx *nv, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(nv->b, LLVMBuildICmp(nv->b, LLVMIntSGT, a, b, ""), a, b, "");
}

LLVMValueRef nv_smin(nv_ctx *nv, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(nv->b, LLVMBuildICmp(nv->b, LLVMIntSLT, a, b, ""), a, b, "");
}

LLVMBasicBlockRef nv_if(nv_ctx *nv, LLVMValueRef cond, const char *name)
{
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(nv->b));
    LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(nv->c, fn, name);
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(nv->c, fn, "join");
    LLVMBuildCondBr(nv->b, cond, yes, join);
    LLVMPositionBuilderAtEnd(nv->b, yes);
    return join;
}

void nv_endif(nv_ctx *nv, LLVMBasicBlockRef join)
{
    LLVMBuildBr(nv->b, join);
    LLVMPositionBuilderAtEnd(nv->b, join);
}

LLVMValueRef nv_gep(nv_ctx *nv, LLVMValueRef base, LLVMValueRef off)
{
    return LLVMBuildGEP2(nv->b, nv->i8, base, &off, 1, "");
}

LLVMValueRef nv_global_array(nv_ctx *nv, LLVMTypeRef elem, unsigned n, const char *name, unsigned align)
{
    LLVMValueRef old = LLVMGetNamedGlobal(nv->m, name);
    if (old)
        return old;
    LLVMTypeRef ty = LLVMArrayType(elem, n);
    LLVMValueRef g = LLVMAddGlobalInAddressSpace(nv->m, ty, name, 1);
    LLVMSetInitializer(g, LLVMConstNull(ty));
    LLVMSetAlignment(g, align);
    return g;
}

void nv_annotate(nv_ctx *nv, LLVMValueRef fn, const char *key, int val)
{
    LLVMMetadataRef md[3] = {
        LLVMValueAsMetadata(fn),
        LLVMMDStringInContext2(nv->c, key, strlen(key)),
        LLVMValueAsMetadata(nv_i32(nv, val)),
    };
    LLVMValueRef node = LLVMMetadataAsValue(nv->c, LLVMMDNodeInContext2(nv->c, md, 3));
    LLVMAddNamedMetadataOperand(nv->m, "nvvm.annotations", node);
}
