/* merge_kernel.c — the LSE-merge function for the host and NVPTX targets
 * (merge_kernel.h). One body: per element (row, column), a pass over the
 * partials for the NaN-propagating max of LSE, a second for the weights
 * and the weighted sum. Loop state lives in allocas; mem2reg makes phis. */
#include "merge_kernel.h"

#include <string.h>

#include "emit_convert.h"
#include "host_jit.h"
#include "nvptx_target.h"

typedef struct mgen {
    LLVMContextRef c;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMValueRef fn;
    LLVMTypeRef i32, i64, f32, ptr;
    bool gpu;
    dtype dt;
    LLVMValueRef arg[18];
} mgen;

enum { A_PO, A_PLSE, A_O, A_LSE, A_NPARTS, A_ROWS, A_DV, A_HEADS, A_TOKENS, A_OS0, A_LS0 = A_OS0 + 4,
       A_FIRST = A_LS0 + 3, A_LAST, A_COUNT };

static LLVMValueRef i64c(mgen *g, int64_t v)
{
    return LLVMConstInt(g->i64, (unsigned long long)v, true);
}

/* An intrinsic call; overloaded ones (llvm.exp2, llvm.log2) on f32. */
static LLVMValueRef call(mgen *g, const char *name, LLVMValueRef *args, int n)
{
    LLVMTypeRef over[1] = {g->f32};
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(g->m, id, over, LLVMIntrinsicIsOverloaded(id) ? 1 : 0);
    return LLVMBuildCall2(g->b, LLVMGlobalGetValueType(f), f, args, (unsigned)n, "");
}

/* 2^x and log2(x): the hardware approximations on the GPU (LLVM 19's NVPTX
 * cannot lower llvm.exp2), libm on the host. */
static LLVMValueRef exp2f_(mgen *g, LLVMValueRef x)
{
    return call(g, g->gpu ? "llvm.nvvm.ex2.approx.f" : "llvm.exp2", &x, 1);
}

static LLVMValueRef log2f_(mgen *g, LLVMValueRef x)
{
    return call(g, g->gpu ? "llvm.nvvm.lg2.approx.f" : "llvm.log2", &x, 1);
}

/* for (p = 0; p < nparts; p++) body(p): returns the body block's p. */
typedef struct mloop {
    LLVMValueRef slot, p;
    LLVMBasicBlockRef head, exit;
} mloop;

static mloop loop_begin(mgen *g, LLVMValueRef slot)
{
    mloop l = {slot, NULL, NULL, NULL};
    LLVMBuildStore(g->b, i64c(g, 0), slot);
    l.head = LLVMAppendBasicBlockInContext(g->c, g->fn, "p.head");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->c, g->fn, "p.body");
    l.exit = LLVMAppendBasicBlockInContext(g->c, g->fn, "p.exit");
    LLVMBuildBr(g->b, l.head);
    LLVMPositionBuilderAtEnd(g->b, l.head);
    l.p = LLVMBuildLoad2(g->b, g->i64, slot, "p");
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, l.p, g->arg[A_NPARTS], ""), body, l.exit);
    LLVMPositionBuilderAtEnd(g->b, body);
    return l;
}

static void loop_end(mgen *g, mloop *l)
{
    LLVMBuildStore(g->b, LLVMBuildAdd(g->b, l->p, i64c(g, 1), ""), l->slot);
    LLVMBuildBr(g->b, l->head);
    LLVMPositionBuilderAtEnd(g->b, l->exit);
}

static LLVMValueRef alloca_init(mgen *g, LLVMTypeRef ty, LLVMValueRef init)
{
    LLVMBasicBlockRef cur = LLVMGetInsertBlock(g->b);
    LLVMPositionBuilderBefore(g->b, LLVMGetFirstInstruction(LLVMGetEntryBasicBlock(g->fn)));
    LLVMValueRef s = LLVMBuildAlloca(g->b, ty, "");
    LLVMPositionBuilderAtEnd(g->b, cur);
    LLVMBuildStore(g->b, init, s);
    return s;
}

/* o and lse of element e = row * dv + col. */
static void emit_element(mgen *g, LLVMValueRef e)
{
    LLVMValueRef rows = g->arg[A_ROWS], dv = g->arg[A_DV], H = g->arg[A_HEADS], T = g->arg[A_TOKENS];
    LLVMValueRef row = LLVMBuildSDiv(g->b, e, dv, ""), col = LLVMBuildSRem(g->b, e, dv, "");
    LLVMValueRef ninf = LLVMConstReal(g->f32, -__builtin_inf());
    LLVMValueRef m = alloca_init(g, g->f32, ninf), ps = alloca_init(g, g->i64, i64c(g, 0));
    mloop l = loop_begin(g, ps); /* m = max LSE_i, NaN sticks */
    LLVMValueRef x = LLVMBuildLoad2(g->b, g->f32, LLVMBuildGEP2(g->b, g->f32, g->arg[A_PLSE],
                     (LLVMValueRef[]){LLVMBuildAdd(g->b, LLVMBuildMul(g->b, l.p, rows, ""), row, "")}, 1, ""), "");
    LLVMValueRef cur = LLVMBuildLoad2(g->b, g->f32, m, "");
    LLVMValueRef take = LLVMBuildOr(g->b, LLVMBuildFCmp(g->b, LLVMRealOGT, x, cur, ""),
                                    LLVMBuildFCmp(g->b, LLVMRealUNO, x, x, ""), "");
    LLVMBuildStore(g->b, LLVMBuildSelect(g->b, take, x, cur, ""), m);
    loop_end(g, &l);
    LLVMValueRef mv = LLVMBuildLoad2(g->b, g->f32, m, "m");
    LLVMValueRef s = alloca_init(g, g->f32, LLVMConstReal(g->f32, 0)), acc = alloca_init(g, g->f32, LLVMConstReal(g->f32, 0));
    l = loop_begin(g, ps);
    LLVMValueRef prow = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, l.p, rows, ""), row, "");
    x = LLVMBuildLoad2(g->b, g->f32, LLVMBuildGEP2(g->b, g->f32, g->arg[A_PLSE], &prow, 1, ""), "");
    LLVMValueRef w = exp2f_(g, LLVMBuildFMul(g->b, LLVMBuildFSub(g->b, x, mv, ""), LLVMConstReal(g->f32, 1.4426950408889634), ""));
    LLVMValueRef ov = cv_load_f32(g->b, g->dt, g->arg[A_PO], LLVMBuildAdd(g->b, LLVMBuildMul(g->b, prow, dv, ""), col, ""));
    LLVMBuildStore(g->b, LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, g->f32, s, ""), w, ""), s);
    LLVMValueRef wo = LLVMBuildSelect(g->b, LLVMBuildFCmp(g->b, LLVMRealOEQ, w, LLVMConstReal(g->f32, 0), ""),
                                      LLVMConstReal(g->f32, 0), LLVMBuildFMul(g->b, w, ov, ""), "");
    LLVMBuildStore(g->b, LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, g->f32, acc, ""), wo, ""), acc);
    loop_end(g, &l);
    LLVMValueRef sv = LLVMBuildLoad2(g->b, g->f32, s, "");
    LLVMValueRef none = LLVMBuildFCmp(g->b, LLVMRealOEQ, mv, ninf, ""); /* every partial empty */
    LLVMValueRef ovl = LLVMBuildSelect(g->b, none, LLVMConstReal(g->f32, 0),
                                       LLVMBuildFDiv(g->b, LLVMBuildLoad2(g->b, g->f32, acc, ""), sv, ""), "");
    LLVMValueRef lse = LLVMBuildSelect(g->b, none, ninf,
                                       LLVMBuildFAdd(g->b, mv, LLVMBuildFMul(g->b, log2f_(g, sv),
                                                     LLVMConstReal(g->f32, 0.6931471805599453), ""), ""), "");
    LLVMValueRef t = LLVMBuildSRem(g->b, row, T, ""), bh = LLVMBuildSDiv(g->b, row, T, "");
    LLVMValueRef h = LLVMBuildSRem(g->b, bh, H, ""), b = LLVMBuildSDiv(g->b, bh, H, "");
    LLVMValueRef idx[4] = {b, h, t, col}, off = i64c(g, 0);
    for (int d = 0; d < 4; d++)
        off = LLVMBuildAdd(g->b, off, LLVMBuildMul(g->b, idx[d], g->arg[A_OS0 + d], ""), "");
    cv_store_f32(g->b, g->dt, g->arg[A_O], off, ovl);
    LLVMValueRef want = LLVMBuildAnd(g->b, LLVMBuildICmp(g->b, LLVMIntEQ, col, i64c(g, 0), ""),
                                     LLVMBuildIsNotNull(g->b, g->arg[A_LSE], ""), "");
    LLVMBasicBlockRef wl = LLVMAppendBasicBlockInContext(g->c, g->fn, "lse"), done = LLVMAppendBasicBlockInContext(g->c, g->fn, "done");
    LLVMBuildCondBr(g->b, want, wl, done);
    LLVMPositionBuilderAtEnd(g->b, wl);
    LLVMValueRef loff = i64c(g, 0);
    for (int d = 0; d < 3; d++)
        loff = LLVMBuildAdd(g->b, loff, LLVMBuildMul(g->b, idx[d], g->arg[A_LS0 + d], ""), "");
    LLVMBuildStore(g->b, lse, LLVMBuildGEP2(g->b, g->f32, g->arg[A_LSE], &loff, 1, ""));
    LLVMBuildBr(g->b, done);
    LLVMPositionBuilderAtEnd(g->b, done);
}

static LLVMValueRef sreg(mgen *g, const char *name)
{
    LLVMValueRef v = call(g, name, NULL, 0);
    return LLVMBuildZExt(g->b, v, g->i64, "");
}

/* Host: a loop over [first, last). GPU: one element per thread. */
static void emit_body(mgen *g)
{
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(g->c, g->fn, "entry");
    LLVMPositionBuilderAtEnd(g->b, entry);
    LLVMValueRef es = LLVMBuildAlloca(g->b, g->i64, "e");
    LLVMBuildStore(g->b, g->arg[A_FIRST], es);
    if (g->gpu) {
        LLVMValueRef i = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, sreg(g, "llvm.nvvm.read.ptx.sreg.ctaid.x"),
                                                         i64c(g, MERGE_BLOCK), ""), sreg(g, "llvm.nvvm.read.ptx.sreg.tid.x"), "");
        LLVMBuildStore(g->b, LLVMBuildAdd(g->b, g->arg[A_FIRST], i, ""), es);
    }
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(g->c, g->fn, "e.head");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->c, g->fn, "e.body");
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(g->c, g->fn, "e.exit");
    LLVMBuildBr(g->b, head);
    LLVMPositionBuilderAtEnd(g->b, head);
    LLVMValueRef e = LLVMBuildLoad2(g->b, g->i64, es, "");
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, e, g->arg[A_LAST], ""), body, exit);
    LLVMPositionBuilderAtEnd(g->b, body);
    emit_element(g, e);
    if (g->gpu)
        LLVMBuildBr(g->b, exit);
    else {
        LLVMBuildStore(g->b, LLVMBuildAdd(g->b, e, i64c(g, 1), ""), es);
        LLVMBuildBr(g->b, head);
    }
    LLVMPositionBuilderAtEnd(g->b, exit);
    LLVMBuildRetVoid(g->b);
}

static void emit_function(LLVMContextRef c, LLVMModuleRef m, bool gpu, dtype dt)
{
    mgen g = {c, m, LLVMCreateBuilderInContext(c), NULL, LLVMInt32TypeInContext(c), LLVMInt64TypeInContext(c),
              LLVMFloatTypeInContext(c), LLVMPointerTypeInContext(c, 0), gpu, dt, {0}};
    LLVMTypeRef tys[A_COUNT];
    for (int i = 0; i < A_COUNT; i++)
        tys[i] = i <= A_LSE ? g.ptr : g.i64;
    g.fn = LLVMAddFunction(m, MERGE_SYMBOL, LLVMFunctionType(LLVMVoidTypeInContext(c), tys, A_COUNT, false));
    for (int i = 0; i < A_COUNT; i++)
        g.arg[i] = LLVMGetParam(g.fn, (unsigned)i);
    emit_body(&g);
    LLVMDisposeBuilder(g.b);
    if (gpu) {
        LLVMMetadataRef md[3] = {LLVMValueAsMetadata(g.fn), LLVMMDStringInContext2(c, "kernel", 6),
                                 LLVMValueAsMetadata(LLVMConstInt(g.i32, 1, false))};
        LLVMAddNamedMetadataOperand(m, "nvvm.annotations", LLVMMetadataAsValue(c, LLVMMDNodeInContext2(c, md, 3)));
    }
}

bool merge_host_build(dtype dt, merge_host *out, strbuf *err)
{
    host_module hm;
    out->jit = NULL;
    out->fn = NULL;
    if (!host_module_create(&hm, "attnc_merge", err))
        return false;
    emit_function(hm.ctx, hm.module, false, dt);
    if (!host_module_finish(&hm, 2, err)) {
        host_module_dispose(&hm);
        return false;
    }
    void *addr = NULL;
    if (!host_jit_create(&out->jit, &hm, MERGE_SYMBOL, &addr, err))
        return false;
    out->fn = (merge_host_fn)addr;
    return true;
}

void merge_host_release(merge_host *m)
{
    if (m && m->jit)
        host_jit_destroy(m->jit);
    if (m)
        m->jit = NULL;
}

bool merge_ptx(dtype dt, target_arch arch, strbuf *ptx, strbuf *err)
{
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = nvptx_module_create(c, "attnc_merge", arch);
    emit_function(c, m, true, dt);
    bool ok = nvptx_module_to_ptx(m, arch, ptx, err);
    LLVMDisposeModule(m);
    LLVMContextDispose(c);
    return ok;
}
