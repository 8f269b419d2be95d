/* nvptx_fa2_overlap.c — the key loop of the wgmma kernel with a producer
 * warpgroup when the schedule asks for overlap (plan->overlap, nvptx_fa2.h).
 *
 * overlap=1 (intra-warpgroup): the products of P_{j-1} V_{j-1} wait a tile,
 * so that each iteration issues two independent products back to back,
 *
 *   S_j = Q K_j^T; O += P_{j-1} V_{j-1}     (async, one commit group each)
 *   wait_group 1 (S_j ready); score, mask, softmax of S_j -> P_j, alpha_j
 *   wait_group 0; release slot j-1; O *= alpha_j; pack P_j
 *
 * and the tensor cores work on P V while the warps exponentiate S. The
 * order of the sums changes, not their value: O_j = (O_{j-1} + P_{j-1}
 * V_{j-1}) alpha_j. The loop carries P packed (Tk/4 registers), its slot
 * and whether it is pending; with none pending (the first tile, after an
 * empty one) P is 0 and the product runs on the current tile's V (resident:
 * 0 V adds nothing, as for masked keys). The last P V runs after the loop.
 * K and V have rings of their own (nvptx_fa2_ws.c): K_j is released once
 * S_j is done, V_j after its P V a tile later, so with stages=2 the
 * producer still loads each a tile ahead.
 *
 * What ptxas needs to keep the products asynchronous (sm_90a):
 *  - no register a wgmma reads is written while it runs: P_j is packed
 *    after wait_group 0, into the registers P_{j-1} V_{j-1} read (packing
 *    it before made ptxas serialize every wgmma, C7513), and so is O
 *    rescaled; P_j rides through the wait (nv_wg_wait), so that LLVM cannot
 *    pack it earlier;
 *  - ptxas schedules a wait as early as its block allows, here above the
 *    whole softmax (the packing and the rescale depend on it): the row sums,
 *    which need every exponential, are pinned before it
 *    (nv_wg_pin_before_wait).
 *
 * overlap=2 adds ping-pong (FA3's schedule): the two computing warpgroups
 * take turns to issue their products (named barriers, nvptx_fa2_ws.c), so
 * one's products run while the other does its softmax. Both tiles (K_j and
 * the V of the product) are waited for before the turn, which is held only
 * to issue.
 *
 * Only the products and the waits are new here; score, mask and softmax are
 * nvptx_fa2.c's and nvptx_fa2_softmax.c's. */
#include <math.h>
#include <string.h>

#include "nvptx_fa2.h"

enum { OV_MAXP = 4 * NV_WG_MAXSTEPS };

typedef struct ov_state {
    LLVMValueRef j, m[FA_MAXMR][2], l[FA_MAXMR][2], acc[FA_MAXMR][FA_MAXN][4];
    LLVMValueRef pp[OV_MAXP]; /* P of the pending tile, packed */
    LLVMValueRef pj;          /* its tile index (its V: slot pj % stages) */
    LLVMValueRef pend;        /* i1: a P V is pending */
} ov_state;

static int npp(const fa2 *f)
{
    return f->p->Tk / 4;
}

/* Every loop-carried value of st, as an array walk (phis, merges). */
static int state_vals(const fa2 *f, ov_state *st, LLVMValueRef **v)
{
    const fa_plan *p = f->p;
    int n = 0;
    v[n++] = &st->j;
    for (int h = 0; h < 2; h++) {
        v[n++] = &st->m[0][h];
        v[n++] = &st->l[0][h];
    }
    for (int nb = 0; nb < p->Dv / 8; nb++)
        for (int e = 0; e < 4; e++)
            v[n++] = &st->acc[0][nb][e];
    for (int i = 0; i < npp(f); i++)
        v[n++] = &st->pp[i];
    v[n++] = &st->pj;
    v[n++] = &st->pend;
    return n;
}

enum { OV_MAXVALS = 1 + 4 + FA_MAXN * 4 + OV_MAXP + 2 };

static void init_state(fa2 *f, ov_state *st)
{
    nv_ctx *nv = &f->nv;
    LLVMValueRef *v[OV_MAXVALS];
    int n = state_vals(f, st, v);
    for (int i = 0; i < n; i++)
        *v[i] = nv_i32(nv, 0);
    for (int h = 0; h < 2; h++) {
        st->m[0][h] = nv_f32(nv, -INFINITY);
        st->l[0][h] = nv_f32(nv, 0);
    }
    for (int nb = 0; nb < f->p->Dv / 8; nb++)
        for (int e = 0; e < 4; e++)
            st->acc[0][nb][e] = nv_f32(nv, 0);
    st->pend = LLVMConstInt(nv->i1, 0, false);
}

/* to = phis of (a from fa, b from fb); hdr: the loop header's phis to make. */
static void make_phis(fa2 *f, ov_state *to, ov_state *a, LLVMBasicBlockRef fa)
{
    LLVMValueRef *dst[OV_MAXVALS], *src[OV_MAXVALS];
    int n = state_vals(f, to, dst);
    state_vals(f, a, src);
    for (int i = 0; i < n; i++)
        *dst[i] = fa2_phi(f, LLVMTypeOf(*src[i]), *src[i], fa);
}

static void add_state(fa2 *f, ov_state *phis, ov_state *b, LLVMBasicBlockRef fb)
{
    LLVMValueRef *dst[OV_MAXVALS], *src[OV_MAXVALS];
    int n = state_vals(f, phis, dst);
    state_vals(f, b, src);
    for (int i = 0; i < n; i++)
        fa2_add_in(*dst[i], *src[i], fb);
}

static LLVMValueRef vslot(fa2 *f, LLVMValueRef j)
{
    return LLVMBuildURem(f->nv.b, j, nv_i32(&f->nv, f->p->stages), "");
}

/* The pending P V, waited for, and its slot released (if one is pending). */
static void flush(fa2 *f, ov_state *st)
{
    nv_ctx *nv = &f->nv;
    LLVMBasicBlockRef from = LLVMGetInsertBlock(nv->b);
    LLVMBasicBlockRef run = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ov.flush");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ov.flushed");
    LLVMBuildCondBr(nv->b, st->pend, run, join);
    LLVMPositionBuilderAtEnd(nv->b, run);
    LLVMValueRef acc[FA_MAXMR][FA_MAXN][4];
    memcpy(acc, st->acc, sizeof acc);
    fa2_ws_wait_v(f, st->pj);
    fa2_wgmma_pv_regs(f, st->pp, vslot(f, st->pj), acc);
    fa2_ws_release_v(f, st->pj, NULL);
    LLVMBasicBlockRef from_run = LLVMGetInsertBlock(nv->b);
    LLVMBuildBr(nv->b, join);
    LLVMPositionBuilderAtEnd(nv->b, join);
    for (int nb = 0; nb < f->p->Dv / 8; nb++)
        for (int e = 0; e < 4; e++) {
            LLVMValueRef ph = fa2_phi(f, nv->f32, st->acc[0][nb][e], from);
            fa2_add_in(ph, acc[0][nb][e], from_run);
            st->acc[0][nb][e] = ph;
        }
    st->pend = LLVMConstInt(nv->i1, 0, false);
    for (int i = 0; i < npp(f); i++)
        st->pp[i] = nv_i32(nv, 0);
}

/* An empty tile j: nothing of it is computed, the pending P V is completed
 * (a later tile may need its slot) and the tile's K and V handed back (V
 * once it landed: a phase of its barrier must complete before the producer
 * may start the next on that slot). */
static void skip_tile(fa2 *f, ov_state *st, LLVMValueRef j)
{
    if (f->p->overlap == 2)
        fa2_ws_turn_pass(f);
    flush(f, st);
    fa2_ws_release_slot(f, f->slot, NULL);
    fa2_ws_wait_v(f, j);
    fa2_ws_release_v(f, j, NULL);
}

static void compute_tile(fa2 *f, ov_state *st, LLVMValueRef j)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef regs[OV_MAXP], s[FA_MAXMR][FA_MAXN][4], alpha[FA_MAXMR][2];
    memcpy(regs, st->pp, sizeof(LLVMValueRef) * (size_t)npp(f)); /* 0 when none is pending */
    LLVMValueRef vj = LLVMBuildSelect(b, st->pend, st->pj, j, ""); /* resident: the loop body waited */
    fa2_wgmma_issue(f, f->slot, s, regs, vslot(f, vj), st->acc);
    if (f->p->overlap == 2)
        fa2_ws_turn_pass(f);
    LLVMValueRef sv[FA_MAXN * 4], ov[FA_MAXN * 8];
    int ns = f->p->Tk / 2, no = f->p->Dv / 2;
    for (int i = 0; i < ns; i++)
        sv[i] = s[0][i / 4][i % 4];
    nv_wg_wait(nv, 1, sv, ns);
    for (int i = 0; i < ns; i++)
        s[0][i / 4][i % 4] = sv[i];
    fa2_ws_release_slot(f, f->slot, NULL); /* K_j: S_j is done with it */
    fa2_score_and_mask(f, s);
    fa2_softmax_alpha(f, s, st->m, st->l, alpha);
    LLVMValueRef sums[2] = {st->l[0][0], st->l[0][1]};
    nv_wg_pin_before_wait(nv, f->smem32, sums, 2);
    for (int i = 0; i < no; i++)
        ov[i] = st->acc[0][i / 4][i % 4];
    for (int i = 0; i < ns; i++)
        ov[no + i] = s[0][i / 4][i % 4];
    nv_wg_wait(nv, 0, ov, no + ns);
    for (int i = 0; i < no; i++)
        st->acc[0][i / 4][i % 4] = ov[i];
    for (int i = 0; i < ns; i++)
        s[0][i / 4][i % 4] = ov[no + i];
    fa2_ws_release_v(f, st->pj, st->pend);
    fa2_rescale(f, alpha, st->acc);
    fa2_wgmma_pack_p(f, s, st->pp);
    st->pj = j;
    st->pend = LLVMConstInt(nv->i1, 1, false);
}

void fa2_overlap_loop(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    bool pingpong = f->p->overlap == 2;
    if (pingpong)
        fa2_ws_turn_init(f);
    ov_state init, hdr, cmp, skp;
    init_state(f, &init);
    LLVMBasicBlockRef entry_end = LLVMGetInsertBlock(b);
    LLVMBasicBlockRef header = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ov.header");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ov.body");
    LLVMBasicBlockRef latch = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ov.latch");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ov.done");
    LLVMBuildBr(b, header);
    LLVMPositionBuilderAtEnd(b, header);
    make_phis(f, &hdr, &init, entry_end);
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, hdr.j, f->r_total, ""), body, done);

    LLVMPositionBuilderAtEnd(b, body);
    fa2_ws_acquire(f, hdr.j);
    /* V of the product (the pending tile's, else this one's: P = 0) */
    fa2_ws_wait_v(f, LLVMBuildSelect(b, hdr.pend, hdr.pj, hdr.j, ""));
    if (pingpong)
        fa2_ws_turn_wait(f);
    LLVMBasicBlockRef from_skip = NULL;
    skp = hdr;
    if (f->p->empty) {
        LLVMBasicBlockRef compute = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ov.compute");
        LLVMBasicBlockRef skip = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ov.skip");
        LLVMBuildCondBr(b, fa2_tile_empty(f), skip, compute);
        LLVMPositionBuilderAtEnd(b, skip);
        skip_tile(f, &skp, hdr.j);
        from_skip = LLVMGetInsertBlock(b);
        LLVMBuildBr(b, latch);
        LLVMPositionBuilderAtEnd(b, compute);
    }
    cmp = hdr;
    compute_tile(f, &cmp, hdr.j);
    LLVMBasicBlockRef from_compute = LLVMGetInsertBlock(b);
    LLVMBuildBr(b, latch);

    LLVMPositionBuilderAtEnd(b, latch);
    ov_state nx;
    if (from_skip) {
        make_phis(f, &nx, &cmp, from_compute);
        add_state(f, &nx, &skp, from_skip);
    } else {
        nx = cmp;
    }
    nx.j = LLVMBuildAdd(b, hdr.j, nv_i32(nv, 1), "");
    add_state(f, &hdr, &nx, LLVMGetInsertBlock(b));
    LLVMBuildBr(b, header);

    LLVMPositionBuilderAtEnd(b, done);
    if (pingpong)
        fa2_ws_turn_end(f);
    flush(f, &hdr);
    fa2_finalize(f, hdr.m, hdr.l, hdr.acc);
    LLVMBuildRetVoid(b);
}
