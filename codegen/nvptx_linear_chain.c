/* nvptx_linear_chain.c — the hand-off between CTAs of the inter=chain
 * schedule (nvptx_linear.h): which (segment, head, batch) a CTA runs, and
 * how a segment learns the state at its start from the earlier segments
 * without any runtime-provided scratch memory.
 *
 * Scheme (decoupled look-back): after its local pass every segment but the
 * last publishes L_s (its own contribution, from a zero state) and G_s (the
 * log2 decay over the segment) without waiting for anyone; segment s then
 * waits for the flags of segments 0..s-1 and sums
 * P_s = Σ_{r<s} 2^(G_{r+1}+...+G_{s-1}) L_r by Horner's rule. All local
 * passes end together, so the wait is about one L2 round trip plus s slot
 * reads, not a chain of s hand-offs.
 *
 * Memory: module globals, allocated and zeroed when the module loads (no
 * runtime change): attnc_lin_ws, LIN_CHAIN_CTAS = 128 f32 state slots of
 * D x Dv (8 MB at 128 x 128), attnc_lin_g, their G, and attnc_lin_sync:
 * word 0 the ticket counter, word 1 the launch epoch, word 2 + slot the
 * slot's flag. Slot = (batch x heads + head) x segments + segment;
 * emit_chain (nvptx_linear.c) picks segments = clamp(128 / (batch x
 * heads), 1, 16), so the slots always suffice (more than 128 (batch, head)
 * pairs: one segment, no hand-off).
 *
 * Forward progress: a CTA draws a ticket (atomic increment) on entry and runs
 * the (segment, bh) the ticket names, segment-major, so the earlier
 * segments of a head always hold smaller tickets. A CTA only waits for
 * smaller tickets, whose CTAs are already resident (they drew them) and
 * publish without waiting: no deadlock whatever order or number of CTAs the
 * hardware runs.
 *
 * Launch after launch: the ticket counter wraps to 0 on the launch's last
 * ticket (atom.inc). A flag is "set" when it holds this launch's value
 * ev = epoch + 1: thread 0 reads the epoch before its acq_rel draw, and the
 * last ticket's holder bumps the epoch after its draw, so every CTA of a
 * launch reads the same epoch and the flags the previous launch left
 * (holding the current epoch) never read as set; nothing is cleared. Two
 * launches of the same loaded module must not run concurrently (other
 * streams): they would share the globals.
 *
 * Ordering: producer threads store their registers (thread 0 also G),
 * fence.acq_rel.gpu, barrier, then thread 0 st.release.gpu the flag; the
 * consumer's thread 0 spins on ld.acquire.gpu (nanosleep), barrier, fence,
 * and every thread reads with volatile loads (not L1-cached). The state
 * travels in fragment order (register r of thread t at r x threads + t):
 * producer and consumer share the thread -> fragment mapping, and each
 * warp's access is coalesced. */
#include "nvptx_linear.h"

#include <string.h>

static int state_regs(const lin *L)
{
    return L->p->D / L->p->rgs / 16 * L->p->nob * 4;
}

static void fence_gpu(lin *L)
{
    nv_asm(&L->nv, NULL, "fence.acq_rel.gpu;", "~{memory}", NULL, 0);
}

static LLVMValueRef addr64(lin *L, LLVMValueRef ptr)
{
    return LLVMBuildPtrToInt(L->nv.b, ptr, L->nv.i64, "");
}

static LLVMValueRef flag_ptr(lin *L, LLVMValueRef slot)
{
    nv_ctx *nv = &L->nv;
    LLVMValueRef off = LLVMBuildShl(nv->b, LLVMBuildAdd(nv->b, slot, nv_i32(nv, 2), ""), nv_i32(nv, 2), "");
    return nv_gep(nv, L->sync, off);
}

static LLVMValueRef g_ptr(lin *L, LLVMValueRef slot)
{
    return nv_gep(&L->nv, L->gws, LLVMBuildShl(L->nv.b, slot, nv_i32(&L->nv, 2), ""));
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

static LLVMValueRef global_array(lin *L, LLVMTypeRef elem, unsigned n, const char *name, unsigned align)
{
    LLVMTypeRef t = LLVMArrayType(elem, n);
    LLVMValueRef g = LLVMAddGlobalInAddressSpace(L->nv.m, t, name, 1);
    LLVMSetInitializer(g, LLVMConstNull(t));
    LLVMSetAlignment(g, align);
    return g;
}

void lin_chain_globals(lin *L)
{
    nv_ctx *nv = &L->nv;
    L->ws = global_array(L, nv->f32, (unsigned)(LIN_CHAIN_CTAS * L->p->D * L->p->Dv), "attnc_lin_ws", 16);
    L->gws = global_array(L, nv->f32, LIN_CHAIN_CTAS, "attnc_lin_g", 4);
    L->sync = global_array(L, nv->i32, 2 + LIN_CHAIN_CTAS, "attnc_lin_sync", 4);
}

static LLVMValueRef volatile_load(lin *L, LLVMTypeRef t, LLVMValueRef ptr)
{
    LLVMValueRef v = LLVMBuildLoad2(L->nv.b, t, ptr, "");
    LLVMSetVolatile(v, true);
    LLVMSetAlignment(v, 4);
    return v;
}

/* Thread 0 reads the epoch, then draws the ticket with a wrapping
 * increment (atom.inc, acq_rel: the last ticket of the launch puts the
 * counter back to 0 and, after every draw, so after every epoch read of the
 * launch, bumps the epoch). All threads read both; L->ev = epoch + 1 is the
 * launch's flag value (flags left by the previous launch hold epoch). */
static LLVMValueRef draw_ticket(lin *L)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef tk = lin_smem(L, nv_i32(nv, L->off_tk)), ep = lin_smem(L, nv_i32(nv, L->off_tk + 4));
    LLVMBasicBlockRef join = nv_if(&L->nv, LLVMBuildICmp(b, LLVMIntEQ, L->tid, nv_i32(nv, 0), ""), "tk.draw");
    LLVMValueRef total = LLVMBuildMul(b, nv_sreg(nv, "nctaid.x"),
                                      LLVMBuildMul(b, nv_sreg(nv, "nctaid.y"), nv_sreg(nv, "nctaid.z"), ""), "");
    LLVMValueRef e = volatile_load(L, nv->i32, nv_gep(nv, L->sync, nv_i32(nv, 4)));
    LLVMValueRef args[2] = {addr64(L, nv_gep(nv, L->sync, nv_i32(nv, 0))), LLVMBuildSub(b, total, nv_i32(nv, 1), "")};
    LLVMValueRef t =
        nv_asm(&L->nv, nv->i32, "atom.acq_rel.gpu.global.inc.u32 $0, [$1], $2;", "=r,l,r,~{memory}", args, 2);
    LLVMBuildStore(b, t, tk);
    LLVMBuildStore(b, e, ep);
    LLVMBasicBlockRef j2 = nv_if(&L->nv, LLVMBuildICmp(b, LLVMIntEQ, t, args[1], ""), "tk.epoch");
    LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpAdd, nv_gep(nv, L->sync, nv_i32(nv, 4)), nv_i32(nv, 1),
                       LLVMAtomicOrderingMonotonic, false);
    nv_endif(&L->nv, j2);
    nv_endif(&L->nv, join);
    nv_barrier(nv);
    L->ev = LLVMBuildAdd(b, LLVMBuildLoad2(b, nv->i32, ep, ""), nv_i32(nv, 1), "ev");
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

/* Stores L_s (S) and G into `slot` and sets its flag to ev (G NULL: no
 * decay, 0 stored). Waits for nothing. */
void lin_chain_publish(lin *L, LLVMValueRef cond, LLVMValueRef slot, LLVMValueRef S[LIN_MAXMB][LIN_MAXO][4],
                       LLVMValueRef G)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    int nob = L->p->nob;
    LLVMBasicBlockRef join = nv_if(&L->nv, cond, "publish");
    for (int r = 0; r < state_regs(L); r++) {
        LLVMValueRef st = LLVMBuildStore(b, S[r / 4 / nob][r / 4 % nob][r % 4], ws_ptr(L, slot, r));
        LLVMSetAlignment(st, 4);
    }
    LLVMValueRef is0 = LLVMBuildICmp(b, LLVMIntEQ, L->tid, nv_i32(nv, 0), "");
    LLVMBasicBlockRef jg = nv_if(&L->nv, is0, "publish.g");
    LLVMBuildStore(b, G ? G : nv_f32(nv, 0), g_ptr(L, slot));
    nv_endif(&L->nv, jg);
    fence_gpu(L);
    nv_barrier(nv);
    LLVMBasicBlockRef j0 = nv_if(&L->nv, is0, "release");
    LLVMValueRef args[2] = {addr64(L, flag_ptr(L, slot)), L->ev};
    nv_asm(&L->nv, NULL, "st.release.gpu.global.u32 [$0], $1;", "l,r,~{memory}", args, 2);
    nv_endif(&L->nv, j0);
    nv_endif(&L->nv, join);
}

/* Thread 0 waits until the flags of slots base .. base + n - 1 hold ev. */
static void wait_flags(lin *L, LLVMValueRef base, LLVMValueRef n)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    LLVMBasicBlockRef join = nv_if(&L->nv, LLVMBuildICmp(b, LLVMIntEQ, L->tid, nv_i32(nv, 0), ""), "wait");
    LLVMBasicBlockRef from = LLVMGetInsertBlock(b);
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(nv->c, L->fn, "wait.head");
    LLVMBasicBlockRef spin = LLVMAppendBasicBlockInContext(nv->c, L->fn, "wait.spin");
    LLVMBasicBlockRef nap = LLVMAppendBasicBlockInContext(nv->c, L->fn, "wait.nap");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(nv->c, L->fn, "wait.next");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(nv->c, L->fn, "wait.done");
    LLVMBuildBr(b, head);
    LLVMPositionBuilderAtEnd(b, head);
    LLVMValueRef r = LLVMBuildPhi(b, nv->i32, "r");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntULT, r, n, ""), spin, done);
    LLVMPositionBuilderAtEnd(b, spin);
    LLVMValueRef a = addr64(L, flag_ptr(L, LLVMBuildAdd(b, base, r, "")));
    LLVMValueRef v = nv_asm(&L->nv, nv->i32, "ld.acquire.gpu.global.u32 $0, [$1];", "=r,l,~{memory}", &a, 1);
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, v, L->ev, ""), next, nap);
    LLVMPositionBuilderAtEnd(b, nap);
    LLVMValueRef ns = nv_i32(nv, 64);
    nv_asm(&L->nv, NULL, "nanosleep.u32 $0;", "r,~{memory}", &ns, 1);
    LLVMBuildBr(b, spin);
    LLVMPositionBuilderAtEnd(b, next);
    LLVMValueRef r1 = LLVMBuildAdd(b, r, nv_i32(nv, 1), "");
    LLVMBuildBr(b, head);
    LLVMValueRef rv[2] = {nv_i32(nv, 0), r1};
    LLVMBasicBlockRef rb[2] = {from, next};
    LLVMAddIncoming(r, rv, rb, 2);
    LLVMPositionBuilderAtEnd(b, done);
    nv_endif(&L->nv, join);
}

/* P = Σ_{r < seg} 2^(G_{r+1} + ... + G_{seg-1}) L_r, the state at the start
 * of segment seg, from the slots base .. base + seg - 1 by Horner's rule
 * (P <- 2^G_r P + L_r); zeros for segment 0. */
void lin_chain_lookback(lin *L, LLVMValueRef base, bool decayed, LLVMValueRef P[LIN_MAXMB][LIN_MAXO][4])
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    int n = state_regs(L), nob = L->p->nob;
    LLVMBasicBlockRef from = LLVMGetInsertBlock(b);
    LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(nv->c, L->fn, "lb");
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(nv->c, L->fn, "lb.head");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(nv->c, L->fn, "lb.body");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(nv->c, L->fn, "lb.done");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(nv->c, L->fn, "lb.join");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntUGT, L->seg, nv_i32(nv, 0), ""), yes, join); /* CTA-uniform */
    LLVMPositionBuilderAtEnd(b, yes);
    wait_flags(L, base, L->seg);
    nv_barrier(nv);
    fence_gpu(L);
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
    LLVMBuildBr(b, head);
    LLVMPositionBuilderAtEnd(b, head);
    LLVMValueRef r = LLVMBuildPhi(b, nv->i32, "r"), acc[LIN_MAXMB * LIN_MAXO * 4];
    for (int i = 0; i < n; i++)
        acc[i] = LLVMBuildPhi(b, nv->f32, "");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntULT, r, L->seg, ""), body, done);
    LLVMPositionBuilderAtEnd(b, body);
    LLVMValueRef slot = LLVMBuildAdd(b, base, r, "");
    LLVMValueRef a = decayed ? nv_ex2(nv, volatile_load(L, nv->f32, g_ptr(L, slot))) : NULL;
    LLVMValueRef nx[LIN_MAXMB * LIN_MAXO * 4];
    for (int i = 0; i < n; i++) {
        LLVMValueRef p = a ? LLVMBuildFMul(b, acc[i], a, "") : acc[i];
        nx[i] = LLVMBuildFAdd(b, p, volatile_load(L, nv->f32, ws_ptr(L, slot, i)), "");
    }
    LLVMValueRef r1 = LLVMBuildAdd(b, r, nv_i32(nv, 1), "");
    LLVMBasicBlockRef body_end = LLVMGetInsertBlock(b);
    LLVMBuildBr(b, head);
    LLVMValueRef rv[2] = {nv_i32(nv, 0), r1};
    LLVMBasicBlockRef rb[2] = {pre, body_end};
    LLVMAddIncoming(r, rv, rb, 2);
    for (int i = 0; i < n; i++) {
        LLVMValueRef v[2] = {nv_f32(nv, 0), nx[i]};
        LLVMAddIncoming(acc[i], v, rb, 2);
    }
    LLVMPositionBuilderAtEnd(b, done);
    LLVMBuildBr(b, join);
    LLVMPositionBuilderAtEnd(b, join);
    for (int i = 0; i < n; i++) {
        LLVMValueRef ph = LLVMBuildPhi(b, nv->f32, "");
        LLVMValueRef v[2] = {nv_f32(nv, 0), acc[i]};
        LLVMBasicBlockRef bb[2] = {from, done};
        LLVMAddIncoming(ph, v, bb, 2);
        P[i / 4 / nob][i / 4 % nob][i % 4] = ph;
    }
}
