/* nvptx_fa2.c — the FA2 kernel skeleton (nvptx_fa2.h): parameters, program
 * ids, the shared-memory plan, the cp.async prologue and the key loop:
 *
 *   prologue: Q and key tiles 0..S-2 in flight (one commit group each)
 *   for j in range:   wait for tile j; barrier (tile j visible, slot of
 *                     tile j-1 free); issue tile j+S-1; S = Q K^T; score;
 *                     if partial tile: mask; online softmax; O += P V
 *   finalize: O = acc / l, LSE, stored once
 *
 * The loop carries m, l and the O accumulator in phis, so they stay in
 * registers; masking is a branch taken only by partial tiles. */
#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nvptx_abi.h"
#include "nvptx_fa2.h"
#include "nvptx_target.h"
#include "../ir/target_info.h"

/* Shared memory: S stages of [K tile | V tile], then Q. When Q lives in
 * registers its staging area aliases the last stage: Q is read into
 * registers before the loop, and that stage is first overwritten in
 * iteration 0, after a barrier every warp passes only once done with Q. */
static void plan_smem(fa2 *f)
{
    const fa_plan *p = f->p;
    f->threads = p->warps * 32 + (p->ws ? 128 : 0);
    f->load_threads = p->ws ? 128 : f->threads;
    if (p->wgmma) { /* swizzled, unpadded; Q stays in shared memory (the A operand of S) */
        f->pitch_q = f->pitch_k = f->pitch_v = 0;
        f->slot_k = f->slot_v = p->Tk * 2 * (p->D + p->Dv);
        f->off_k = 0;
        f->off_v = p->Tk * 2 * p->D;
        f->q_in_regs = false;
        f->off_q = p->stages * f->slot_k;
        f->off_bar = f->off_q + p->Tq * 2 * p->D;
        return;
    }
    f->pitch_q = p->D * 2 + 16;
    f->pitch_k = p->D * 2 + 16;
    f->pitch_v = p->Dv * 2 + 16;
    int stage = p->Tk * (f->pitch_k + f->pitch_v);
    f->slot_k = f->slot_v = stage;
    f->off_k = 0;
    f->off_v = p->Tk * f->pitch_k;
    /* Q stays in registers when its fragments are few enough to leave room
     * for S and O; otherwise it is re-read from shared memory per tile. */
    f->q_in_regs = p->MR * p->D <= 128;
    f->off_q = f->q_in_regs ? (p->stages - 1) * stage : p->stages * stage;
}

static int smem_total(const fa2 *f)
{
    if (f->p->wgmma) /* + the ws barriers (overlap: V has a ring of its own) + the alignment slack */
        return f->off_bar + (f->p->ws ? 8 * ((f->p->overlap ? 4 : 2) * f->p->stages + 1) : 0) + 1024;
    int kv = f->p->stages * f->slot_k, q = f->off_q + f->p->Tq * f->pitch_q;
    return kv > q ? kv : q;
}

/* wgmma's swizzle is anchored at 1024-byte boundaries of the shared window:
 * round the dynamic base up (the launch reserves 1024 bytes of slack). */
static void smem_base(fa2 *f, LLVMValueRef global)
{
    nv_ctx *nv = &f->nv;
    f->smem = global;
    if (f->p->wgmma)
        nv_wg_smem_base(nv, global, &f->smem, &f->smem32);
}

static LLVMValueRef make_function(fa2 *f, const char *name)
{
    nvptx_abi_args abi = {0};
    if (f->p->tma)
        nvptx_abi_declare_tma(&f->nv, f->p->k, name, &abi);
    else
        nvptx_abi_declare(&f->nv, f->p->k, name, &abi);
    memcpy(f->tmap, abi.tmap, sizeof f->tmap);
    memcpy(f->tens, abi.tens, sizeof f->tens);
    memcpy(f->stride, abi.stride, sizeof f->stride);
    memcpy(f->size, abi.size, sizeof f->size);
    memcpy(f->param, abi.param, sizeof f->param);
    return abi.fn;
}

static void program_ids(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    fa2_thread_ids(f);
    f->load_tid = f->p->ws ? LLVMBuildSub(b, f->tid, nv_i32(nv, f->p->warps * 32), "load_tid") : f->tid;
    f->head = nv_sreg(nv, "ctaid.y");
    f->batch = nv_sreg(nv, "ctaid.z");
    LLVMValueRef group = LLVMBuildSDiv(b, f->size[SZ_HEADS], f->size[SZ_KV_HEADS], "");
    group = nv_smax(nv, group, nv_i32(nv, 1));
    f->kv_head = LLVMBuildUDiv(b, f->head, group, "kv_head");
}

/* Per-lane byte offsets of the rows each lane hands to ldmatrix x4. */
static void lane_offsets(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef l7 = LLVMBuildAnd(b, f->lane, nv_i32(nv, 7), "");
    LLVMValueRef b3 = LLVMBuildAnd(b, LLVMBuildLShr(b, f->lane, nv_i32(nv, 3), ""), nv_i32(nv, 1), "");
    LLVMValueRef b4 = LLVMBuildAnd(b, LLVMBuildLShr(b, f->lane, nv_i32(nv, 4), ""), nv_i32(nv, 1), "");
    LLVMValueRef l15 = LLVMBuildAnd(b, f->lane, nv_i32(nv, 15), "");
    /* Q (A operand): rows lane&15, column half lane>>4. */
    f->lane_q = LLVMBuildAdd(b, LLVMBuildMul(b, l15, nv_i32(nv, f->pitch_q), ""),
                             LLVMBuildMul(b, b4, nv_i32(nv, 16), ""), "");
    /* K (B operand, key rows): key = 8*b4 + l7, dim half b3. */
    LLVMValueRef krow = LLVMBuildAdd(b, LLVMBuildMul(b, b4, nv_i32(nv, 8), ""), l7, "");
    f->lane_k = LLVMBuildAdd(b, LLVMBuildMul(b, krow, nv_i32(nv, f->pitch_k), ""),
                             LLVMBuildMul(b, b3, nv_i32(nv, 16), ""), "");
    /* V (B operand via .trans): key = 8*b3 + l7, column half b4. */
    LLVMValueRef vrow = LLVMBuildAdd(b, LLVMBuildMul(b, b3, nv_i32(nv, 8), ""), l7, "");
    f->lane_v = LLVMBuildAdd(b, LLVMBuildMul(b, vrow, nv_i32(nv, f->pitch_v), ""),
                             LLVMBuildMul(b, b4, nv_i32(nv, 16), ""), "");
}

static void load_kv(fa2 *f, LLVMValueRef j, LLVMValueRef slot)
{
    nv_ctx *nv = &f->nv;
    LLVMValueRef org[3];
    fa2_kv_tile_origin(f, j, org);
    LLVMValueRef valid = LLVMBuildICmp(nv->b, LLVMIntSLT, j, f->r_total, "");
    LLVMValueRef ko = LLVMBuildAdd(nv->b, nv_i32(nv, f->off_k), LLVMBuildMul(nv->b, slot, nv_i32(nv, f->slot_k), ""), "");
    LLVMValueRef vo = LLVMBuildAdd(nv->b, nv_i32(nv, f->off_v), LLVMBuildMul(nv->b, slot, nv_i32(nv, f->slot_v), ""), "");
    fa2_load_tile(f, T_K, org, ko, valid);
    fa2_load_tile(f, T_V, org, vo, valid);
}

static void prologue(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    int S = f->p->stages;
    fa2_load_tile(f, T_Q, f->q_org, nv_i32(nv, f->off_q), NULL);
    for (int s = 0; s + 1 < S; s++) {
        load_kv(f, nv_i32(nv, s), nv_i32(nv, s));
        nv_cp_commit(nv);
    }
    if (S == 1)
        nv_cp_commit(nv);
    nv_cp_wait(nv, S >= 2 ? S - 2 : 0);
    nv_barrier(nv);
    if (f->q_in_regs)
        fa2_load_q_frags(f);
}

/* Top of iteration j: make tile j resident and start the next one. */
static void pipeline_step(fa2 *f, LLVMValueRef j)
{
    nv_ctx *nv = &f->nv;
    int S = f->p->stages;
    if (S == 1) {
        nv_barrier(nv);
        load_kv(f, j, nv_i32(nv, 0));
        nv_cp_commit(nv);
        nv_cp_wait(nv, 0);
        if (f->p->wgmma)
            nv_wg_proxy_fence(&f->nv);
        nv_barrier(nv);
        f->slot = nv_i32(nv, 0);
    } else {
        nv_cp_wait(nv, S - 2);
        if (f->p->wgmma)
            nv_wg_proxy_fence(&f->nv);
        nv_barrier(nv);
        LLVMValueRef jn = LLVMBuildAdd(nv->b, j, nv_i32(nv, S - 1), "");
        load_kv(f, jn, LLVMBuildURem(nv->b, jn, nv_i32(nv, S), ""));
        nv_cp_commit(nv);
        f->slot = LLVMBuildURem(nv->b, j, nv_i32(nv, S), "slot");
    }
    fa2_kv_tile_origin(f, j, f->k_org);
}

typedef struct loop_state {
    LLVMValueRef j, m[FA_MAXMR][2], l[FA_MAXMR][2], acc[FA_MAXMR][FA_MAXN][4];
} loop_state;

LLVMValueRef fa2_phi(fa2 *f, LLVMTypeRef ty, LLVMValueRef init, LLVMBasicBlockRef from)
{
    LLVMValueRef v = LLVMBuildPhi(f->nv.b, ty, "");
    LLVMAddIncoming(v, &init, &from, 1);
    return v;
}

void fa2_add_in(LLVMValueRef ph, LLVMValueRef v, LLVMBasicBlockRef from)
{
    LLVMAddIncoming(ph, &v, &from, 1);
}

static void loop_header(fa2 *f, loop_state *st, LLVMBasicBlockRef from)
{
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    st->j = fa2_phi(f, nv->i32, nv_i32(nv, 0), from);
    for (int mi = 0; mi < p->MR; mi++) {
        for (int h = 0; h < 2; h++) {
            st->m[mi][h] = fa2_phi(f, nv->f32, nv_f32(nv, -INFINITY), from);
            st->l[mi][h] = fa2_phi(f, nv->f32, nv_f32(nv, 0), from);
        }
        for (int nb = 0; nb < p->Dv / 8; nb++)
            for (int e = 0; e < 4; e++)
                st->acc[mi][nb][e] = fa2_phi(f, nv->f32, nv_f32(nv, 0), from);
    }
}

static void loop_latch(fa2 *f, loop_state *hdr, loop_state *nx, LLVMBasicBlockRef from)
{
    const fa_plan *p = f->p;
    fa2_add_in(hdr->j, nx->j, from);
    for (int mi = 0; mi < p->MR; mi++) {
        for (int h = 0; h < 2; h++) {
            fa2_add_in(hdr->m[mi][h], nx->m[mi][h], from);
            fa2_add_in(hdr->l[mi][h], nx->l[mi][h], from);
        }
        for (int nb = 0; nb < p->Dv / 8; nb++)
            for (int e = 0; e < 4; e++)
                fa2_add_in(hdr->acc[mi][nb][e], nx->acc[mi][nb][e], from);
    }
}

/* Score, branch to the mask for partial tiles, join with phis. */
void fa2_score_and_mask(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4])
{
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    fa2_score(f, s);
    LLVMValueRef partial = fa2_tile_partial(f);
    LLVMBasicBlockRef masked = LLVMAppendBasicBlockInContext(nv->c, f->fn, "tile.partial");
    LLVMBasicBlockRef soft = LLVMAppendBasicBlockInContext(nv->c, f->fn, "tile.softmax");
    LLVMBasicBlockRef from_full = LLVMGetInsertBlock(nv->b);
    LLVMBuildCondBr(nv->b, partial, masked, soft);
    LLVMPositionBuilderAtEnd(nv->b, masked);
    LLVMValueRef sm[FA_MAXMR][FA_MAXN][4];
    memcpy(sm, s, sizeof sm);
    fa2_mask(f, sm);
    LLVMBasicBlockRef from_mask = LLVMGetInsertBlock(nv->b);
    LLVMBuildBr(nv->b, soft);
    LLVMPositionBuilderAtEnd(nv->b, soft);
    for (int mi = 0; mi < p->MR; mi++)
        for (int nb = 0; nb < p->Tk / 8; nb++)
            for (int e = 0; e < 4; e++) {
                LLVMValueRef ph = fa2_phi(f, nv->f32, s[mi][nb][e], from_full);
                fa2_add_in(ph, sm[mi][nb][e], from_mask);
                s[mi][nb][e] = ph;
            }
}

/* body: S, then score and mask. */
static void loop_body(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4])
{
    if (f->p->wgmma)
        fa2_wgmma_qk(f, s);
    else
        fa2_qk(f, s);
    fa2_score_and_mask(f, s);
}

/* Tiles in the range that the class proves empty (no kept pair) skip all
 * arithmetic: only their pipeline step (loads, barrier) runs. */
static void merge_skipped(fa2 *f, loop_state *nx, const loop_state *hdr, LLVMBasicBlockRef from_compute,
                          LLVMBasicBlockRef from_skip)
{
    const fa_plan *p = f->p;
    LLVMTypeRef f32 = f->nv.f32;
    for (int mi = 0; mi < p->MR; mi++) {
        for (int h = 0; h < 2; h++) {
            nx->m[mi][h] = fa2_phi(f, f32, nx->m[mi][h], from_compute);
            fa2_add_in(nx->m[mi][h], hdr->m[mi][h], from_skip);
            nx->l[mi][h] = fa2_phi(f, f32, nx->l[mi][h], from_compute);
            fa2_add_in(nx->l[mi][h], hdr->l[mi][h], from_skip);
        }
        for (int nb = 0; nb < p->Dv / 8; nb++)
            for (int e = 0; e < 4; e++) {
                nx->acc[mi][nb][e] = fa2_phi(f, f32, nx->acc[mi][nb][e], from_compute);
                fa2_add_in(nx->acc[mi][nb][e], hdr->acc[mi][nb][e], from_skip);
            }
    }
}

static void emit_loop(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    if (f->p->overlap) {
        fa2_overlap_loop(f);
        return;
    }
    LLVMBasicBlockRef entry_end = LLVMGetInsertBlock(nv->b);
    LLVMBasicBlockRef header = LLVMAppendBasicBlockInContext(nv->c, f->fn, "kv.header");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(nv->c, f->fn, "kv.body");
    LLVMBasicBlockRef latch = LLVMAppendBasicBlockInContext(nv->c, f->fn, "kv.latch");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(nv->c, f->fn, "kv.done");
    LLVMBuildBr(nv->b, header);
    LLVMPositionBuilderAtEnd(nv->b, header);
    loop_state hdr, nx;
    LLVMValueRef s[FA_MAXMR][FA_MAXN][4];
    loop_header(f, &hdr, entry_end);
    LLVMBuildCondBr(nv->b, LLVMBuildICmp(nv->b, LLVMIntSLT, hdr.j, f->r_total, ""), body, done);
    LLVMPositionBuilderAtEnd(nv->b, body);
    if (f->p->ws)
        fa2_ws_acquire(f, hdr.j);
    else
        pipeline_step(f, hdr.j);
    LLVMBasicBlockRef from_skip = NULL;
    if (f->p->empty) {
        LLVMBasicBlockRef compute = LLVMAppendBasicBlockInContext(nv->c, f->fn, "kv.compute");
        LLVMValueRef empty = fa2_tile_empty(f);
        from_skip = LLVMGetInsertBlock(nv->b);
        LLVMBuildCondBr(nv->b, empty, latch, compute);
        LLVMPositionBuilderAtEnd(nv->b, compute);
    }
    nx = hdr;
    loop_body(f, s);
    fa2_softmax(f, s, nx.m, nx.l, nx.acc);
    if (f->p->wgmma)
        fa2_wgmma_pv(f, s, nx.acc);
    else
        fa2_pv(f, s, nx.acc);
    LLVMBasicBlockRef from_compute = LLVMGetInsertBlock(nv->b);
    LLVMBuildBr(nv->b, latch);
    LLVMPositionBuilderAtEnd(nv->b, latch);
    if (from_skip)
        merge_skipped(f, &nx, &hdr, from_compute, from_skip);
    if (f->p->ws)
        fa2_ws_release(f);
    nx.j = LLVMBuildAdd(nv->b, hdr.j, nv_i32(nv, 1), "");
    loop_latch(f, &hdr, &nx, LLVMGetInsertBlock(nv->b));
    LLVMBuildBr(nv->b, header);
    LLVMPositionBuilderAtEnd(nv->b, done);
    if (!f->p->ws)
        nv_cp_wait(nv, 0); /* prefetches past the range (zero fills) end here */
    fa2_finalize(f, hdr.m, hdr.l, hdr.acc);
    LLVMBuildRetVoid(nv->b);
}

/* Warp specialisation: the producer warpgroup (the last four warps)
 * branches off and returns; the computing warps continue to the key loop. */
static void split_roles(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    fa2_ws_init_barriers(f);
    LLVMBasicBlockRef prod = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ws.producer");
    LLVMBasicBlockRef cons = LLVMAppendBasicBlockInContext(nv->c, f->fn, "ws.consumer");
    LLVMValueRef is_prod = LLVMBuildICmp(nv->b, LLVMIntUGE, f->warp, nv_i32(nv, f->p->warps), "");
    LLVMBuildCondBr(nv->b, is_prod, prod, cons);
    LLVMPositionBuilderAtEnd(nv->b, prod);
    fa2_ws_producer(f);
    LLVMPositionBuilderAtEnd(nv->b, cons);
    fa2_ws_consumer_start(f);
}

nvptx_status fa2_build(LLVMModuleRef m, const fa_plan *p, nvptx_kernel_info *info, strbuf *err)
{
    fa2 *f = calloc(1, sizeof *f);
    if (!f) {
        sb_puts(err, "out of memory");
        return NVPTX_INTERNAL;
    }
    LLVMContextRef c = LLVMGetModuleContext(m);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
    nv_ctx_init(&f->nv, c, m, b);
    f->p = p;
    plan_smem(f);
    f->fn = make_function(f, info->name);
    LLVMValueRef smem = LLVMAddGlobalInAddressSpace(m, LLVMArrayType(f->nv.i8, 0), "attnc_smem", 3);
    LLVMSetLinkage(smem, LLVMExternalLinkage);
    LLVMSetAlignment(smem, p->wgmma ? 1024 : 128);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(c, f->fn, "entry"));
    smem_base(f, smem);
    program_ids(f);
    fa2_coords_init(f);
    fa2_range(f);
    lane_offsets(f);
    if (p->ws)
        split_roles(f);
    else
        prologue(f);
    emit_loop(f);
    nv_annotate(&f->nv, f->fn, "kernel", 1);
    nv_annotate(&f->nv, f->fn, "maxntidx", f->threads);
    nv_annotate(&f->nv, f->fn, "minctasm", 1);
    info->threads = f->threads;
    info->smem_bytes = smem_total(f);
    bool failed = f->failed;
    int limit = target_info_of(info->arch)->smem_block_optin;
    if (!failed && info->smem_bytes > limit) {
        sb_printf(err, "GPU: the schedule needs %d bytes of shared memory (limit %d): use smaller tiles or fewer stages",
                  info->smem_bytes, limit);
        LLVMDisposeBuilder(b);
        free(f);
        return NVPTX_UNSUPPORTED;
    }
    LLVMDisposeBuilder(b);
    free(f);
    if (failed) {
        sb_puts(err, "internal error: a mask/score expression uses a value the GPU kernel cannot provide");
        return NVPTX_INTERNAL;
    }
    return NVPTX_OK;
}
