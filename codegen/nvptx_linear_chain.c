/* nvptx_linear_chain.c — the hand-off between CTAs of the inter=chain
 * schedule (nvptx_linear.h): which (segment, head, batch) a CTA runs, and
 * how segment s passes the state at its end to segment s+1 without any
 * runtime-provided scratch memory.
 *
 * Memory: two module globals, allocated and zeroed when the module loads
 * (no runtime change): attnc_lin_ws, LIN_CHAIN_CTAS = 128 f32 state slots
 * of D x Dv (8 MB at 128 x 128), and attnc_lin_sync, word 0 the ticket
 * counter and word 1 + slot the "slot is ready" flag. Slot = (batch x heads
 * + head) x segments + segment; emit_chain (nvptx_linear.c) picks
 * segments = clamp(128 / (batch x heads), 1, 16), so the slots always
 * suffice (more than 128 (batch, head) pairs: one segment, no hand-off).
 *
 * Forward progress: a CTA takes a ticket (atomic increment) on entry and runs the
 * (segment, bh) the ticket names, segment-major, so segment s of a head
 * always holds a later ticket than segment s-1 of that head. A CTA only waits
 * for a smaller ticket, whose CTA is already resident (it took the ticket),
 * and that one waits only on smaller tickets still: no deadlock whatever
 * order or number of CTAs the hardware runs. The last ticket wraps the
 * counter to 0 (atom.inc); a consumer clears the flag it consumed, so the
 * next launch on the stream starts from zeros. Two launches of the same
 * loaded module must not run concurrently (other streams): they would share
 * the globals.
 *
 * Ordering: producer threads store their registers, fence.acq_rel.gpu,
 * barrier, then thread 0 st.release.gpu the flag; the consumer's thread 0
 * spins on ld.acquire.gpu, clears it, barrier, fence, and every thread reads
 * with volatile loads (not L1-cached). The state travels in fragment order
 * (register r of thread t at r x threads + t): producer and consumer share
 * the thread -> fragment mapping, and each warp's access is coalesced. */
#include "nvptx_linear.h"

#include <string.h>


static int state_regs(const lin *L)
{
    return L->p->D / L->p->rgs / 16 * L->p->nob * 4;
}

static LLVMValueRef asm_call(lin *L, LLVMTypeRef ret, const char *text, const char *cons, LLVMValueRef *args,
                             int n)
{
    LLVMTypeRef at[2];
    for (int i = 0; i < n; i++)
        at[i] = LLVMTypeOf(args[i]);
    LLVMTypeRef fty = LLVMFunctionType(ret, at, (unsigned)n, false);
    LLVMValueRef fn = LLVMGetInlineAsm(fty, (char *)text, strlen(text), (char *)cons, strlen(cons), true, false,
                                       LLVMInlineAsmDialectATT, false);
    return LLVMBuildCall2(L->nv.b, fty, fn, args, (unsigned)n, "");
}

static void fence_gpu(lin *L)
{
    asm_call(L, LLVMVoidTypeInContext(L->nv.c), "fence.acq_rel.gpu;", "~{memory}", NULL, 0);
}

static LLVMValueRef addr64(lin *L, LLVMValueRef ptr)
{
    return LLVMBuildPtrToInt(L->nv.b, ptr, L->nv.i64, "");
}

static LLVMValueRef flag_ptr(lin *L, LLVMValueRef slot)
{
    nv_ctx *nv = &L->nv;
    LLVMValueRef off = LLVMBuildShl(nv->b, LLVMBuildAdd(nv->b, slot, nv_i32(nv, 1), ""), nv_i32(nv, 2), "");
    return nv_gep(nv, L->sync, off);
}

/* Address of state register r of this thread in `slot`. */
static LLVMValueRef ws_ptr(lin *L, LLVMValueRef slot, int r)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef off = LLVMBuildMul(b, slot, nv_i32(nv, 4 * L->p->D * L->p->Dv), "");
    LLVMValueRef idx = LLVMBuildAdd(b, L->tid, nv_i32(nv, r * L->threads), "");
    return nv_gep(nv, L->ws, LLVMBuildAdd(b, off, LLVMBuildShl(b, idx, nv_i32(nv, 2), ""), ""));
}

void lin_chain_globals(lin *L)
{
    nv_ctx *nv = &L->nv;
    LLVMTypeRef wt = LLVMArrayType(nv->f32, (unsigned)(LIN_CHAIN_CTAS * L->p->D * L->p->Dv));
    L->ws = LLVMAddGlobalInAddressSpace(nv->m, wt, "attnc_lin_ws", 1);
    LLVMSetInitializer(L->ws, LLVMConstNull(wt));
    LLVMSetAlignment(L->ws, 16);
    LLVMTypeRef st = LLVMArrayType(nv->i32, (unsigned)(1 + LIN_CHAIN_CTAS));
    L->sync = LLVMAddGlobalInAddressSpace(nv->m, st, "attnc_lin_sync", 1);
    LLVMSetInitializer(L->sync, LLVMConstNull(st));
    LLVMSetAlignment(L->sync, 4);
}

/* Thread 0 draws the ticket with a wrapping increment (atom.inc: the last
 * ticket of the launch puts the counter back to 0); all threads read it. */
static LLVMValueRef draw_ticket(lin *L)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef tk = lin_smem(L, nv_i32(nv, L->off_tk));
    LLVMBasicBlockRef join = lin_if(L, LLVMBuildICmp(b, LLVMIntEQ, L->tid, nv_i32(nv, 0), ""), "tk.draw");
    LLVMValueRef total = LLVMBuildMul(b, nv_sreg(nv, "nctaid.x"),
                                      LLVMBuildMul(b, nv_sreg(nv, "nctaid.y"), nv_sreg(nv, "nctaid.z"), ""), "");
    LLVMValueRef args[2] = {addr64(L, nv_gep(nv, L->sync, nv_i32(nv, 0))), LLVMBuildSub(b, total, nv_i32(nv, 1), "")};
    LLVMValueRef t = asm_call(L, nv->i32, "atom.relaxed.gpu.global.inc.u32 $0, [$1], $2;", "=r,l,r,~{memory}", args, 2);
    LLVMBuildStore(b, t, tk);
    lin_endif(L, join);
    nv_barrier(nv);
    return LLVMBuildLoad2(b, nv->i32, tk, "ticket");
}

/* Warps: column group ch = warp / rgs (Dv / 2 columns each), row group
 * (warp & (rgs - 1)), reversed for ch = 1; each (row, column) group pair
 * once. The ticket, segment-major, names (segment, batch, head). */
void lin_chain_ids(lin *L)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    const lin_plan *p = L->p;
    LLVMValueRef wid = L->warp;
    LLVMValueRef ch = LLVMBuildUDiv(b, wid, nv_i32(nv, p->rgs), "ch");
    /* Column group 1 takes the row groups in reverse: warps w and w + 4
     * (the same SM sub-partition) then pair a late row group, which has the
     * most causal score work, with an early one. */
    LLVMValueRef flip = LLVMBuildMul(b, ch, nv_i32(nv, p->rgs - 1), "");
    L->warp = LLVMBuildAnd(b, LLVMBuildXor(b, wid, flip, ""), nv_i32(nv, p->rgs - 1), "rg");
    L->col0 = LLVMBuildMul(b, ch, nv_i32(nv, p->dvs), "");
    L->wcol = LLVMBuildMul(b, ch, nv_i32(nv, 2 * p->dvs), "");
    L->slice = nv_i32(nv, 0);
    LLVMValueRef t = draw_ticket(L);
    LLVMValueRef ny = nv_sreg(nv, "nctaid.y");
    LLVMValueRef bhn = LLVMBuildMul(b, ny, nv_sreg(nv, "nctaid.z"), "");
    L->seg = LLVMBuildUDiv(b, t, bhn, "seg");
    L->bh = LLVMBuildURem(b, t, bhn, "bh");
    L->head = LLVMBuildURem(b, L->bh, ny, "head");
    L->batch = LLVMBuildUDiv(b, L->bh, ny, "batch");
}

/* Thread 0 spins until the flag of `slot` is set, then clears it. */
static void wait_flag(lin *L, LLVMValueRef slot)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    LLVMBasicBlockRef join = lin_if(L, LLVMBuildICmp(b, LLVMIntEQ, L->tid, nv_i32(nv, 0), ""), "wait");
    LLVMValueRef fp = flag_ptr(L, slot);
    LLVMBasicBlockRef spin = LLVMAppendBasicBlockInContext(nv->c, L->fn, "wait.spin");
    LLVMBasicBlockRef nap = LLVMAppendBasicBlockInContext(nv->c, L->fn, "wait.nap");
    LLVMBasicBlockRef got = LLVMAppendBasicBlockInContext(nv->c, L->fn, "wait.got");
    LLVMBuildBr(b, spin);
    LLVMPositionBuilderAtEnd(b, spin);
    LLVMValueRef a = addr64(L, fp);
    LLVMValueRef v = asm_call(L, nv->i32, "ld.acquire.gpu.global.u32 $0, [$1];", "=r,l,~{memory}", &a, 1);
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, v, nv_i32(nv, 0), ""), nap, got);
    LLVMPositionBuilderAtEnd(b, nap);
    LLVMValueRef ns = nv_i32(nv, 64);
    asm_call(L, LLVMVoidTypeInContext(nv->c), "nanosleep.u32 $0;", "r,~{memory}", &ns, 1);
    LLVMBuildBr(b, spin);
    LLVMPositionBuilderAtEnd(b, got);
    LLVMValueRef st = LLVMBuildStore(b, nv_i32(nv, 0), fp);
    LLVMSetVolatile(st, true);
    lin_endif(L, join);
}

void lin_chain_fetch(lin *L, LLVMValueRef cond, LLVMValueRef slot, LLVMValueRef P[LIN_MAXMB][LIN_MAXO][4])
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    LLVMBasicBlockRef from = LLVMGetInsertBlock(b);
    LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(nv->c, L->fn, "fetch");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(nv->c, L->fn, "fetch.join");
    LLVMBuildCondBr(b, cond, yes, join);
    LLVMPositionBuilderAtEnd(b, yes);
    wait_flag(L, slot);
    nv_barrier(nv);
    fence_gpu(L);
    LLVMValueRef got[LIN_MAXMB * LIN_MAXO * 4];
    for (int r = 0; r < state_regs(L); r++) {
        got[r] = LLVMBuildLoad2(b, nv->f32, ws_ptr(L, slot, r), "");
        LLVMSetVolatile(got[r], true);
        LLVMSetAlignment(got[r], 4);
    }
    LLVMBasicBlockRef yes_end = LLVMGetInsertBlock(b);
    LLVMBuildBr(b, join);
    LLVMPositionBuilderAtEnd(b, join);
    int nob = L->p->nob;
    for (int r = 0; r < state_regs(L); r++) {
        LLVMValueRef ph = LLVMBuildPhi(b, nv->f32, "");
        LLVMValueRef vals[2] = {nv_f32(nv, 0), got[r]};
        LLVMBasicBlockRef bbs[2] = {from, yes_end};
        LLVMAddIncoming(ph, vals, bbs, 2);
        P[r / 4 / nob][r / 4 % nob][r % 4] = ph;
    }
}

/* Stores 2^G P + S (the state at the segment's end) into `slot` and sets its
 * flag (G NULL: no decay). */
void lin_chain_publish(lin *L, LLVMValueRef cond, LLVMValueRef slot, LLVMValueRef P[LIN_MAXMB][LIN_MAXO][4],
                       LLVMValueRef S[LIN_MAXMB][LIN_MAXO][4], LLVMValueRef G)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    int nob = L->p->nob;
    LLVMBasicBlockRef join = lin_if(L, cond, "publish");
    LLVMValueRef a = G ? nv_ex2(nv, G) : NULL;
    for (int r = 0; r < state_regs(L); r++) {
        LLVMValueRef p = P[r / 4 / nob][r / 4 % nob][r % 4];
        if (a)
            p = LLVMBuildFMul(b, p, a, "");
        LLVMValueRef st = LLVMBuildStore(b, LLVMBuildFAdd(b, p, S[r / 4 / nob][r / 4 % nob][r % 4], ""),
                                         ws_ptr(L, slot, r));
        LLVMSetAlignment(st, 4);
    }
    fence_gpu(L);
    nv_barrier(nv);
    LLVMBasicBlockRef j0 = lin_if(L, LLVMBuildICmp(b, LLVMIntEQ, L->tid, nv_i32(nv, 0), ""), "release");
    LLVMValueRef args[2] = {addr64(L, flag_ptr(L, slot)), nv_i32(nv, 1)};
    asm_call(L, LLVMVoidTypeInContext(nv->c), "st.release.gpu.global.u32 [$0], $1;", "l,r,~{memory}", args, 2);
    lin_endif(L, j0);
    lin_endif(L, join);
}
