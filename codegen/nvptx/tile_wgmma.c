/* tile_wgmma.c — nt_mma's warpgroup-MMA path (tile.h): on sm_90a, a B
 * operand in the 128-byte swizzle (K-major when read transposed, MN-major
 * otherwise) and an A operand from registers (the warp's 16 rows) or a
 * swizzled K-major tile become one wgmma product (nvptx_wgmma.h: fence,
 * the k16 steps, commit, wait), into the warp's 16 x N slice of the
 * warpgroup's accumulator. Shared tiles written by ordinary stores need
 * nv_wg_proxy_fence before the barrier that publishes them. */
#include "tile.h"

#include "../nvptx_wgmma.h"

static LLVMValueRef addr32(nt *t, nt_smem s)
{
    return LLVMBuildPtrToInt(t->nv.b, nt_sptr(t, s.off), t->nv.i32, "");
}

static bool fail(nt *t, const char *why)
{
    if (!t->error)
        t->error = why;
    return false;
}

bool nt_mma_wgmma(nt *t, nt_frag *acc, nt_opnd a, nt_opnd b, dtype dt);

bool nt_mma_wgmma(nt *t, nt_frag *acc, nt_opnd a, nt_opnd b, dtype dt)
{
    int K = b.transpose ? b.smem.cols : b.smem.rows, steps = K / 16, N = acc->cols;
    if (t->arch != TARGET_SM90A)
        return fail(t, "nt_mma: swizzled tiles are wgmma operands, sm_90a only");
    if (acc->rows != 16 || steps > NV_WG_MAXSTEPS || (N != 64 && N != 128 && N != 256))
        return fail(t, "nt_mma: a wgmma accumulator is the warp's 16 x 64/128/256");
    LLVMValueRef bd[NV_WG_MAXSTEPS], ad[NV_WG_MAXSTEPS], *aregs = NULL;
    if (b.transpose)
        nv_wg_desc_kmajor(&t->nv, addr32(t, b.smem), b.smem.rows, 0, steps, bd);
    else
        nv_wg_desc_mnmajor(&t->nv, addr32(t, b.smem), b.smem.rows, steps, bd);
    if (a.frag) {
        if (a.frag->rows != 16)
            return fail(t, "nt_mma: a register A of wgmma is the warp's 16 rows");
        aregs = (LLVMValueRef *)a.frag->v;
    } else if (a.smem.layout != NT_SWIZZLE128 || a.transpose) {
        return fail(t, "nt_mma: a shared A of wgmma is a swizzled K-major tile");
    } else {
        nv_wg_desc_kmajor(&t->nv, addr32(t, a.smem), a.smem.rows, 0, steps, ad);
    }
    nv_wg_product(&t->nv, dt, N, steps, aregs ? NULL : ad, aregs, bd, true, !b.transpose, acc->v);
    return true;
}
