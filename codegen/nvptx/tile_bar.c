/* tile_bar.c — mbarriers and rings of them, and named barriers (tile.h):
 * the handshakes of a producer warpgroup and the computing warps, and the
 * computing warpgroups' turns (sm_90a): each operation is
 * one PTX instruction as inline asm (LLVM 19's NVPTX has no intrinsic for
 * try_wait.parity or for the TMA transaction count), and a ring derives a
 * slot's phase parity from the tile index, so no phase bit is carried. */
#include "tile.h"

#include <stdio.h>

static LLVMValueRef c32(nt *t, long long v)
{
    return nv_i32(&t->nv, v);
}

void nt_mbar_init(nt *t, LLVMValueRef bar, int count)
{
    LLVMValueRef args[2] = {bar, c32(t, count)};
    nv_asm(&t->nv, NULL, "mbarrier.init.shared::cta.b64 [$0], $1;", "r,r,~{memory}", args, 2);
}

void nt_mbar_init_fence(nt *t)
{
    nv_asm(&t->nv, NULL, "fence.mbarrier_init.release.cluster;", "~{memory}", NULL, 0);
}

void nt_mbar_arrive(nt *t, LLVMValueRef bar)
{
    nv_asm(&t->nv, NULL, "mbarrier.arrive.shared::cta.b64 _, [$0];", "r,~{memory}", &bar, 1);
}

void nt_mbar_expect_tx(nt *t, LLVMValueRef bar, int bytes)
{
    LLVMValueRef args[2] = {bar, c32(t, bytes)};
    nv_asm(&t->nv, NULL, "mbarrier.arrive.expect_tx.shared::cta.b64 _, [$0], $1;", "r,r,~{memory}", args, 2);
}

void nt_mbar_arrive_copies(nt *t, LLVMValueRef bar)
{
    nv_asm(&t->nv, NULL, "cp.async.mbarrier.arrive.noinc.shared::cta.b64 [$0];", "r,~{memory}", &bar, 1);
}

/* A spin on try_wait (it may return before the phase completes). */
void nt_mbar_wait(nt *t, LLVMValueRef bar, LLVMValueRef parity)
{
    LLVMValueRef args[2] = {bar, parity};
    nv_asm(&t->nv, NULL,
           "{\n\t.reg .pred P1;\n\tWS_WAIT_${:uid}:\n\t"
           "mbarrier.try_wait.parity.shared::cta.b64 P1, [$0], $1;\n\t@!P1 bra WS_WAIT_${:uid};\n}",
           "r,r,~{memory}", args, 2);
}

LLVMValueRef nt_ring_slot(nt *t, const nt_ring *r, LLVMValueRef j)
{
    return LLVMBuildURem(t->nv.b, j, c32(t, r->stages), "slot");
}

LLVMValueRef nt_ring_bar(nt *t, const nt_ring *r, LLVMValueRef slot)
{
    LLVMValueRef at = LLVMBuildShl(t->nv.b, slot, c32(t, 3), "");
    return nt_saddr(t, LLVMBuildAdd(t->nv.b, c32(t, r->off), at, ""));
}

void nt_ring_wait(nt *t, const nt_ring *r, LLVMValueRef j)
{
    LLVMBuilderRef b = t->nv.b;
    LLVMValueRef parity = LLVMBuildAnd(b, LLVMBuildUDiv(b, j, c32(t, r->stages), ""), c32(t, 1), "");
    nt_mbar_wait(t, nt_ring_bar(t, r, nt_ring_slot(t, r, j)), parity);
}

void nt_ring_wait_prev(nt *t, const nt_ring *r, LLVMValueRef j)
{
    LLVMBuilderRef b = t->nv.b;
    LLVMValueRef slot = nt_ring_slot(t, r, j);
    LLVMValueRef round = LLVMBuildUDiv(b, j, c32(t, r->stages), "");
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntUGE, j, c32(t, r->stages), ""));
    LLVMValueRef parity = LLVMBuildAnd(b, LLVMBuildSub(b, round, c32(t, 1), ""), c32(t, 1), "");
    nt_mbar_wait(t, nt_ring_bar(t, r, slot), parity);
    nt_endif(t, join);
}

/* id: i32 (a value: the barrier may depend on the warpgroup). */
static void named(nt *t, const char *op, LLVMValueRef id, int threads)
{
    char text[48];
    snprintf(text, sizeof text, "%s $0, %d;", op, threads);
    nv_asm(&t->nv, NULL, text, "r,~{memory}", &id, 1);
}

void nt_bar_sync(nt *t, LLVMValueRef id, int threads)
{
    named(t, "bar.sync", id, threads);
}

void nt_bar_arrive(nt *t, LLVMValueRef id, int threads)
{
    named(t, "bar.arrive", id, threads);
}
