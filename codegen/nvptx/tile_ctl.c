/* tile_ctl.c — the builder's entry, variables and control flow (tile.h).
 * Variables are entry-block allocas: loops and branches load and store
 * them, and SROA turns them into registers and phis, so kernels never
 * join values across blocks by hand. */
#include "tile.h"

#include <llvm-c/DebugInfo.h>

void nt_begin(nt *t, nv_ctx nv, LLVMValueRef fn, int threads, target_arch arch)
{
    LLVMPositionBuilderAtEnd(nv.b, LLVMAppendBasicBlockInContext(nv.c, fn, "entry"));
    LLVMValueRef smem = LLVMGetNamedGlobal(nv.m, "attnc_smem"); /* a module of several kernels shares it */
    if (!smem) {
        smem = LLVMAddGlobalInAddressSpace(nv.m, LLVMArrayType(nv.i8, 0), "attnc_smem", 3);
        LLVMSetLinkage(smem, LLVMExternalLinkage);
        LLVMSetAlignment(smem, 128);
    }
    nt_attach(t, nv, fn, smem, threads, arch);
}

void nt_attach(nt *t, nv_ctx nv, LLVMValueRef fn, LLVMValueRef smem, int threads, target_arch arch)
{
    t->nv = nv;
    t->fn = fn;
    t->threads = threads;
    t->arch = arch;
    t->error = NULL;
    t->wg_steps = false;
    t->entry = LLVMGetEntryBasicBlock(fn);
    t->smem = smem;
    LLVMBuilderRef b = nv.b;
    t->smem32 = LLVMBuildPtrToInt(b, smem, nv.i32, "smem32");
    t->tid = nv_sreg(&t->nv, "tid.x");
    t->lane = LLVMBuildAnd(b, t->tid, nv_i32(&t->nv, 31), "lane");
    t->warp = LLVMBuildLShr(b, t->tid, nv_i32(&t->nv, 5), "warp");
    t->g = LLVMBuildLShr(b, t->lane, nv_i32(&t->nv, 2), "g");
    t->t4 = LLVMBuildAnd(b, t->lane, nv_i32(&t->nv, 3), "t4");
}

void nt_uniform_warp(nt *t)
{
    t->warp = nv_shfl_idx(&t->nv, t->warp, nv_i32(&t->nv, 0));
}

static LLVMValueRef entry_alloca(nt *t, LLVMTypeRef ty, const char *name)
{
    LLVMBuilderRef b = LLVMCreateBuilderInContext(t->nv.c);
    LLVMValueRef first = LLVMGetFirstInstruction(t->entry);
    if (first)
        LLVMPositionBuilderBefore(b, first);
    else
        LLVMPositionBuilderAtEnd(b, t->entry);
    LLVMValueRef a = LLVMBuildAlloca(b, ty, name);
    LLVMDisposeBuilder(b);
    return a;
}

LLVMValueRef nt_var(nt *t, LLVMTypeRef ty, LLVMValueRef init, const char *name)
{
    LLVMValueRef a = entry_alloca(t, ty, name);
    if (init)
        LLVMBuildStore(t->nv.b, init, a);
    return a;
}

LLVMValueRef nt_get(nt *t, LLVMValueRef var)
{
    return LLVMBuildLoad2(t->nv.b, LLVMGetAllocatedType(var), var, "");
}

void nt_set(nt *t, LLVMValueRef var, LLVMValueRef v)
{
    LLVMBuildStore(t->nv.b, v, var);
}

static LLVMTypeRef elem_type(nt *t, nt_role role)
{
    return role == NT_C ? t->nv.f32 : t->nv.i32;
}

static LLVMValueRef slot(nt *t, const nt_fvar *v, int i)
{
    LLVMValueRef idx[2] = {nv_i32(&t->nv, 0), nv_i32(&t->nv, i)};
    return LLVMBuildInBoundsGEP2(t->nv.b, LLVMGetAllocatedType(v->slot), v->slot, idx, 2, "");
}

nt_fvar nt_fvar_new(nt *t, const nt_frag *init)
{
    nt_fvar v = {.role = init->role, .rows = init->rows, .cols = init->cols, .n = init->n, .dt = init->dt};
    v.slot = entry_alloca(t, LLVMArrayType(elem_type(t, init->role), (unsigned)init->n), "frag");
    nt_fvar_set(t, &v, init);
    return v;
}

void nt_fvar_get(nt *t, const nt_fvar *v, nt_frag *f)
{
    f->role = v->role;
    f->rows = v->rows;
    f->cols = v->cols;
    f->n = v->n;
    f->dt = v->dt;
    for (int i = 0; i < v->n; i++)
        f->v[i] = LLVMBuildLoad2(t->nv.b, elem_type(t, v->role), slot(t, v, i), "");
}

void nt_fvar_set(nt *t, const nt_fvar *v, const nt_frag *f)
{
    for (int i = 0; i < v->n; i++)
        LLVMBuildStore(t->nv.b, f->v[i], slot(t, v, i));
}

LLVMValueRef nt_for(nt *t, nt_loop *l, LLVMValueRef begin, LLVMValueRef end)
{
    return nt_for_step(t, l, begin, end, 1);
}

LLVMValueRef nt_for_step(nt *t, nt_loop *l, LLVMValueRef begin, LLVMValueRef end, int step)
{
    nv_ctx *nv = &t->nv;
    l->step = step;
    l->var = nt_var(t, nv->i32, begin, "i");
    l->head = LLVMAppendBasicBlockInContext(nv->c, t->fn, "for.head");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(nv->c, t->fn, "for.body");
    l->done = LLVMAppendBasicBlockInContext(nv->c, t->fn, "for.done");
    LLVMBuildBr(nv->b, l->head);
    LLVMPositionBuilderAtEnd(nv->b, l->head);
    LLVMValueRef i = nt_get(t, l->var);
    LLVMBuildCondBr(nv->b, LLVMBuildICmp(nv->b, LLVMIntSLT, i, end, ""), body, l->done);
    LLVMPositionBuilderAtEnd(nv->b, body);
    return i;
}

void nt_for_end(nt *t, nt_loop *l)
{
    nv_ctx *nv = &t->nv;
    nt_set(t, l->var, LLVMBuildAdd(nv->b, nt_get(t, l->var), nv_i32(nv, l->step), ""));
    l->back = LLVMBuildBr(nv->b, l->head);
    LLVMPositionBuilderAtEnd(nv->b, l->done);
}

void nt_loop_no_unroll(nt *t, const nt_loop *l)
{
    LLVMContextRef c = t->nv.c;
    LLVMMetadataRef tmp = LLVMTemporaryMDNode(c, NULL, 0);
    LLVMMetadataRef name = LLVMMDStringInContext2(c, "llvm.loop.unroll.disable", 24);
    LLVMMetadataRef hint = LLVMMDNodeInContext2(c, &name, 1);
    LLVMMetadataRef ops[2] = {tmp, hint};
    LLVMMetadataRef loop = LLVMMDNodeInContext2(c, ops, 2); /* distinct: its first operand is itself */
    LLVMMetadataReplaceAllUsesWith(tmp, loop);
    LLVMSetMetadata(l->back, LLVMGetMDKindIDInContext(c, "llvm.loop", 9), LLVMMetadataAsValue(c, loop));
}

LLVMBasicBlockRef nt_if(nt *t, LLVMValueRef cond)
{
    return nv_if(&t->nv, cond, "if");
}

void nt_endif(nt *t, LLVMBasicBlockRef join)
{
    nv_endif(&t->nv, join);
}

nt_branch nt_if_else(nt *t, LLVMValueRef cond)
{
    nt_branch br;
    LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(t->nv.c, t->fn, "then");
    br.other = LLVMAppendBasicBlockInContext(t->nv.c, t->fn, "else");
    br.join = LLVMAppendBasicBlockInContext(t->nv.c, t->fn, "join");
    LLVMBuildCondBr(t->nv.b, cond, yes, br.other);
    LLVMPositionBuilderAtEnd(t->nv.b, yes);
    return br;
}

void nt_else(nt *t, const nt_branch *br)
{
    LLVMBuildBr(t->nv.b, br->join);
    LLVMPositionBuilderAtEnd(t->nv.b, br->other);
}

void nt_endif_else(nt *t, const nt_branch *br)
{
    nv_endif(&t->nv, br->join);
}

void nt_return_unless(nt *t, LLVMValueRef cond)
{
    LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(t->nv.c, t->fn, "go");
    LLVMBasicBlockRef leave = LLVMAppendBasicBlockInContext(t->nv.c, t->fn, "leave");
    LLVMBuildCondBr(t->nv.b, cond, go, leave);
    LLVMPositionBuilderAtEnd(t->nv.b, leave);
    LLVMBuildRetVoid(t->nv.b);
    LLVMPositionBuilderAtEnd(t->nv.b, go);
}
