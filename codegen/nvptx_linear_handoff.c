/* nvptx_linear_handoff.c — the hand-off between CTAs of the inter=chain
 * schedule (nvptx_linear_tile.h): which (segment, head, batch) a CTA runs,
 * and how a segment learns the state at its start from the earlier
 * segments without any runtime-provided scratch memory.
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
 * runtime change): attnc_lin_ws, chain_slots = 128 f32 state slots of
 * D x Dv (8 MB at 128 x 128), attnc_lin_g, their G, and attnc_lin_sync:
 * word 0 the ticket counter, word 1 the launch epoch, word 2 + slot the
 * slot's flag (inclusive look-back: also attnc_lin_wsi, 128 inclusive
 * states, and their flags at word 2 + 128 + slot). Slot = (batch x heads
 * + head) x segs + segment; emit_chain picks segs = clamp(128 / (batch x
 * heads), 1, segments) (16, or $ATTNC_LIN_SEGMENTS up to 64), so
 * segs x batch x heads <= 128 whenever segs > 1 and the slots always
 * suffice (more than 128 (batch, head) pairs: one segment, no hand-off).
 * Grid x is `segments`; the CTAs past segs draw a ticket and do nothing
 * else.

 * Forward progress: a CTA draws a ticket (atomic increment) on entry and runs
 * the (segment, bh) the ticket names, segment-major, so the earlier
 * segments of a head always hold smaller tickets. A CTA only waits for
 * smaller tickets, whose CTAs are already resident (they drew them) and
 * publish without waiting: no deadlock whatever order or number of CTAs the
 * hardware runs — so also when segs x batch x heads CTAs exceed what the
 * GPU holds at once (more segments): a waiting CTA only takes an SM slot
 * after every CTA it waits for has taken one.
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
#include "nvptx_linear_tile.h"

static LLVMValueRef c32(lk *L, long long v)
{
    return nv_i32(&L->t.nv, v);
}

static void fence_gpu(lk *L)
{
    nv_asm(&L->t.nv, NULL, "fence.acq_rel.gpu;", "~{memory}", NULL, 0);
}

static LLVMValueRef addr64(lk *L, LLVMValueRef ptr)
{
    return LLVMBuildPtrToInt(L->t.nv.b, ptr, L->t.nv.i64, "");
}

static LLVMValueRef word(lk *L, LLVMValueRef arr, LLVMValueRef idx)
{
    return nv_gep(&L->t.nv, arr, LLVMBuildShl(L->t.nv.b, idx, c32(L, 2), ""));
}

static LLVMValueRef flag_ptr(lk *L, LLVMValueRef slot)
{
    return word(L, L->sync, LLVMBuildAdd(L->t.nv.b, slot, c32(L, 2), ""));
}

/* Address of state register r of this thread in `slot` of arr (ws or wsi):
 * the thread's i64 base plus a constant, so the D·Dv / threads accesses of
 * one slot share one address and fold their offsets into the instruction
 * (an i32 index shifted per register would be sign-extended per access). */
static LLVMValueRef slot_ptr(lk *L, LLVMValueRef arr, LLVMValueRef slot, int r)
{
    nv_ctx *nv = &L->t.nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef first = LLVMBuildNUWMul(b, slot, c32(L, L->p->D * L->p->Dv), "");
    LLVMValueRef idx = LLVMBuildZExt(b, LLVMBuildNUWAdd(b, first, L->t.tid, ""), nv->i64, "");
    LLVMValueRef base = nv_gep(nv, arr, LLVMBuildShl(b, idx, nv_i64(nv, 2), ""));
    return nv_gep(nv, base, nv_i64(nv, 4LL * r * L->t.threads));
}

static LLVMValueRef ws_ptr(lk *L, LLVMValueRef slot, int r)
{
    return slot_ptr(L, L->ws, slot, r);
}

/* The inclusive flag of `slot` (inclusive look-back: after the slots' flags). */
static LLVMValueRef inc_flag_ptr(lk *L, LLVMValueRef slot)
{
    return word(L, L->sync, LLVMBuildAdd(L->t.nv.b, slot, c32(L, 2 + L->p->chain_slots), ""));
}

/* The module's arrays (nv_global_array: the backward's kernels share one
 * set, they run one after the other on a stream). */
void lk_chain_globals(lk *L)
{
    nv_ctx *nv = &L->t.nv;
    unsigned n = (unsigned)L->p->chain_slots;
    L->ws = nv_global_array(nv, nv->f32, n * (unsigned)(L->p->D * L->p->Dv), "attnc_lin_ws", 16);
    L->gws = nv_global_array(nv, nv->f32, n, "attnc_lin_g", 4);
    bool inc = L->p->chain_inclusive;
    L->sync = nv_global_array(nv, nv->i32, 2 + (inc ? 2 : 1) * n, "attnc_lin_sync", 4);
    if (inc)
        L->wsi = nv_global_array(nv, nv->f32, n * (unsigned)(L->p->D * L->p->Dv), "attnc_lin_wsi", 16);
}

static LLVMValueRef volatile_load(lk *L, LLVMTypeRef ty, LLVMValueRef ptr)
{
    LLVMValueRef v = LLVMBuildLoad2(L->t.nv.b, ty, ptr, "");
    LLVMSetVolatile(v, true);
    LLVMSetAlignment(v, 4);
    return v;
}

static LLVMValueRef is_thread0(lk *L)
{
    return LLVMBuildICmp(L->t.nv.b, LLVMIntEQ, L->t.tid, c32(L, 0), "");
}

/* Thread 0 reads the epoch, then draws the ticket with a wrapping
 * increment (atom.inc, acq_rel: the last ticket of the launch puts the
 * counter back to 0 and, after every draw, so after every epoch read of the
 * launch, bumps the epoch). All threads read both; L->ev = epoch + 1 is the
 * launch's flag value (flags left by the previous launch hold epoch). */
static LLVMValueRef draw_ticket(lk *L)
{
    nt *t = &L->t;
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef tk = nt_sptr(t, c32(L, L->off_tk)), ep = nt_sptr(t, c32(L, L->off_tk + 4));
    LLVMValueRef epoch = word(L, L->sync, c32(L, 1));
    LLVMBasicBlockRef join = nt_if(t, is_thread0(L));
    LLVMValueRef total = LLVMBuildMul(b, nv_sreg(nv, "nctaid.x"),
                                      LLVMBuildMul(b, nv_sreg(nv, "nctaid.y"), nv_sreg(nv, "nctaid.z"), ""), "");
    LLVMValueRef e = volatile_load(L, nv->i32, epoch);
    LLVMValueRef args[2] = {addr64(L, word(L, L->sync, c32(L, 0))), LLVMBuildSub(b, total, c32(L, 1), "")};
    LLVMValueRef tick = nv_asm(nv, nv->i32, "atom.acq_rel.gpu.global.inc.u32 $0, [$1], $2;", "=r,l,r,~{memory}", args, 2);
    LLVMBuildStore(b, tick, tk);
    LLVMBuildStore(b, e, ep);
    LLVMBasicBlockRef last = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, tick, args[1], ""));
    LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpAdd, epoch, c32(L, 1), LLVMAtomicOrderingMonotonic, false);
    nt_endif(t, last);
    nt_endif(t, join);
    nt_barrier(t);
    L->ev = LLVMBuildAdd(b, LLVMBuildLoad2(b, nv->i32, ep, ""), c32(L, 1), "ev");
    return LLVMBuildLoad2(b, nv->i32, tk, "ticket");
}

/* Warps: column group ch = warp / rgs (Dv / 2 columns each), row group
 * (warp & (rgs - 1)), reversed for ch = 1; each (row, column) group pair
 * once. The ticket, segment-major, names (segment, batch, head). */
void lk_chain_ids(lk *L)
{
    nv_ctx *nv = &L->t.nv;
    LLVMBuilderRef b = nv->b;
    const lin_plan *p = L->p;
    LLVMValueRef ch = LLVMBuildUDiv(b, L->t.warp, c32(L, p->rgs), "ch");
    /* Column group 1 takes the row groups in reverse: warps w and w + 4
     * (the same SM sub-partition) then pair a late row group, which has the
     * most causal score work, with an early one. */
    LLVMValueRef flip = LLVMBuildMul(b, ch, c32(L, p->rgs - 1), "");
    L->rg = LLVMBuildAnd(b, LLVMBuildXor(b, L->t.warp, flip, ""), c32(L, p->rgs - 1), "rg");
    L->col0 = L->wcol = LLVMBuildMul(b, ch, c32(L, p->dvs), "");
    L->slice = c32(L, 0);
    LLVMValueRef tick = draw_ticket(L);
    LLVMValueRef ny = nv_sreg(nv, "nctaid.y");
    LLVMValueRef bhn = LLVMBuildMul(b, ny, nv_sreg(nv, "nctaid.z"), "");
    L->seg = LLVMBuildUDiv(b, tick, bhn, "seg");
    L->bh = LLVMBuildURem(b, tick, bhn, "bh");
    L->head = LLVMBuildURem(b, L->bh, ny, "head");
    L->batch = LLVMBuildUDiv(b, L->bh, ny, "batch");
}

/* When cond: stores L_s (the state) and G into `slot` and sets its flag to
 * ev (G NULL: no decay, 0 stored). Waits for nothing. */
void lk_chain_publish(lk *L, LLVMValueRef cond, LLVMValueRef slot, LLVMValueRef G)
{
    nt *t = &L->t;
    LLVMBuilderRef b = t->nv.b;
    LLVMBasicBlockRef join = nt_if(t, cond);
    nt_frag S;
    nt_fvar_get(t, &L->S, &S);
    for (int r = 0; r < S.n; r++)
        LLVMSetAlignment(LLVMBuildStore(b, S.v[r], ws_ptr(L, slot, r)), 4);
    LLVMBasicBlockRef j0 = nt_if(t, is_thread0(L));
    LLVMBuildStore(b, G ? G : nv_f32(&t->nv, 0), word(L, L->gws, slot));
    nt_endif(t, j0);
    fence_gpu(L);
    nt_barrier(t);
    j0 = nt_if(t, is_thread0(L));
    LLVMValueRef args[2] = {addr64(L, flag_ptr(L, slot)), L->ev};
    nv_asm(&t->nv, NULL, "st.release.gpu.global.u32 [$0], $1;", "l,r,~{memory}", args, 2);
    nt_endif(t, j0);
    nt_endif(t, join);
}

/* Thread 0 waits until the flags of slots base .. base + n - 1 hold ev. */
static void wait_flags(lk *L, LLVMValueRef base, LLVMValueRef n)
{
    nt *t = &L->t;
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    LLVMBasicBlockRef join = nt_if(t, is_thread0(L));
    nt_loop loop;
    LLVMValueRef r = nt_for(t, &loop, c32(L, 0), n);
    LLVMBasicBlockRef spin = LLVMAppendBasicBlockInContext(nv->c, t->fn, "wait.spin");
    LLVMBasicBlockRef nap = LLVMAppendBasicBlockInContext(nv->c, t->fn, "wait.nap");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(nv->c, t->fn, "wait.next");
    LLVMValueRef a = addr64(L, flag_ptr(L, LLVMBuildAdd(b, base, r, "")));
    LLVMBuildBr(b, spin);
    LLVMPositionBuilderAtEnd(b, spin);
    LLVMValueRef v = nv_asm(nv, nv->i32, "ld.acquire.gpu.global.u32 $0, [$1];", "=r,l,~{memory}", &a, 1);
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, v, L->ev, ""), next, nap);
    LLVMPositionBuilderAtEnd(b, nap);
    LLVMValueRef ns = c32(L, 64);
    nv_asm(nv, NULL, "nanosleep.u32 $0;", "r,~{memory}", &ns, 1);
    LLVMBuildBr(b, spin);
    LLVMPositionBuilderAtEnd(b, next);
    nt_for_end(t, &loop);
    nt_endif(t, join);
}

/* The state becomes P = Σ_{r < seg} 2^(G_{r+1} + ... + G_{seg-1}) L_r, the
 * state at the start of segment seg, from the slots base .. base + seg - 1
 * by Horner's rule (P <- 2^G_r P + L_r); zeros for segment 0. */
void lk_chain_lookback(lk *L, LLVMValueRef base, bool decayed)
{
    nt *t = &L->t;
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    nt_frag P;
    nt_zero(t, &P, L->S.rows, L->S.cols);
    nt_fvar_set(t, &L->S, &P);
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntUGT, L->seg, c32(L, 0), "")); /* CTA-uniform */
    wait_flags(L, base, L->seg);
    nt_barrier(t);
    fence_gpu(L);
    nt_loop loop;
    LLVMValueRef slot = LLVMBuildAdd(b, base, nt_for(t, &loop, c32(L, 0), L->seg), "");
    LLVMValueRef a = decayed ? nv_ex2(nv, volatile_load(L, nv->f32, word(L, L->gws, slot))) : NULL;
    nt_fvar_get(t, &L->S, &P);
    for (int i = 0; i < P.n; i++) {
        LLVMValueRef x = a ? LLVMBuildFMul(b, P.v[i], a, "") : P.v[i];
        P.v[i] = LLVMBuildFAdd(b, x, volatile_load(L, nv->f32, ws_ptr(L, slot, i)), "");
    }
    nt_fvar_set(t, &L->S, &P);
    nt_for_end(t, &loop);
    nt_endif(t, join);
}

/* Inclusive look-back (plan chain_inclusive; more than 16 segments, where
 * segment s would read s slots): walking r = seg-1, seg-2, .., the state
 * becomes P = Σ 2^(G_{r+1} + ... + G_{seg-1}) X_r, X_r segment r's
 * inclusive end state (wsi) where its inclusive flag is already set, and
 * the walk stops there, else its own contribution L_r, and the walk goes
 * on. Only the slot flags are waited for (set without waiting, so the
 * forward-progress argument above holds); an inclusive flag is only
 * looked at. Then, unless the last segment, this segment publishes its
 * inclusive end state 2^G_s P + L_s (L_s re-read from its own slot, which
 * this thread wrote) and sets its inclusive flag. Segments of later waves
 * find their predecessors' inclusive states: one slot read instead of s. */
void lk_chain_lookback_inclusive(lk *L, LLVMValueRef base, LLVMValueRef has_next, LLVMValueRef G)
{
    nt *t = &L->t;
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    nt_frag P;
    nt_zero(t, &P, L->S.rows, L->S.cols);
    nt_fvar_set(t, &L->S, &P);
    LLVMValueRef done = nt_var(t, nv->i32, c32(L, 0), "lb.done");
    LLVMValueRef dec = nt_var(t, nv->f32, nv_f32(nv, 0), "lb.dec");
    LLVMValueRef incw = nt_sptr(t, c32(L, L->off_tk + 8));
    nt_loop loop;
    LLVMValueRef k = nt_for(t, &loop, c32(L, 0), L->seg);
    LLVMBasicBlockRef live = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, nt_get(t, done), c32(L, 0), "")); /* CTA-uniform */
    LLVMValueRef slot = LLVMBuildSub(b, LLVMBuildAdd(b, base, L->seg, ""), LLVMBuildAdd(b, k, c32(L, 1), ""), "lb.slot");
    wait_flags(L, slot, c32(L, 1));
    LLVMBasicBlockRef j0 = nt_if(t, is_thread0(L));
    LLVMValueRef fa = addr64(L, inc_flag_ptr(L, slot));
    LLVMValueRef fv = nv_asm(nv, nv->i32, "ld.acquire.gpu.global.u32 $0, [$1];", "=r,l,~{memory}", &fa, 1);
    LLVMBuildStore(b, LLVMBuildZExt(b, LLVMBuildICmp(b, LLVMIntEQ, fv, L->ev, ""), nv->i32, ""), incw);
    nt_endif(t, j0);
    nt_barrier(t);
    fence_gpu(L);
    LLVMValueRef incv = LLVMBuildLoad2(b, nv->i32, incw, "");
    LLVMValueRef inc = LLVMBuildICmp(b, LLVMIntNE, incv, c32(L, 0), "lb.inc");
    LLVMValueRef a = G ? nv_ex2(nv, nt_get(t, dec)) : NULL;
    LLVMValueRef arr = LLVMBuildSelect(b, inc, L->wsi, L->ws, "lb.arr"); /* one base: no per-element select */
    nt_fvar_get(t, &L->S, &P);
    for (int i = 0; i < P.n; i++) {
        LLVMValueRef x = volatile_load(L, nv->f32, slot_ptr(L, arr, slot, i));
        P.v[i] = LLVMBuildFAdd(b, P.v[i], a ? LLVMBuildFMul(b, x, a, "") : x, "");
    }
    nt_fvar_set(t, &L->S, &P);
    nt_set(t, done, incv);
    if (G) {
        LLVMValueRef g = volatile_load(L, nv->f32, word(L, L->gws, slot));
        nt_set(t, dec, LLVMBuildFAdd(b, nt_get(t, dec), g, ""));
    }
    nt_barrier(t); /* incw is rewritten by the next step */
    nt_endif(t, live);
    nt_for_end(t, &loop);

    LLVMBasicBlockRef pub = nt_if(t, has_next); /* CTA-uniform */
    LLVMValueRef own = LLVMBuildAdd(b, base, L->seg, "");
    LLVMValueRef ag = G ? nv_ex2(nv, G) : NULL;
    nt_fvar_get(t, &L->S, &P);
    for (int i = 0; i < P.n; i++) {
        LLVMValueRef x = ag ? LLVMBuildFMul(b, P.v[i], ag, "") : P.v[i];
        x = LLVMBuildFAdd(b, x, volatile_load(L, nv->f32, ws_ptr(L, own, i)), "");
        LLVMSetAlignment(LLVMBuildStore(b, x, slot_ptr(L, L->wsi, own, i)), 4);
    }
    fence_gpu(L);
    nt_barrier(t);
    j0 = nt_if(t, is_thread0(L));
    LLVMValueRef args[2] = {addr64(L, inc_flag_ptr(L, own)), L->ev};
    nv_asm(nv, NULL, "st.release.gpu.global.u32 [$0], $1;", "l,r,~{memory}", args, 2);
    nt_endif(t, j0);
    nt_endif(t, pub);
}
