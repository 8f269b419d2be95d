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
 * iteration 0, after a barrier every warp passes only once done with Q.
 * Staged O (wgmma) takes Q's bytes, or, in persistent blocks, whose
 * producer refills Q's bytes for the next item while O is stored, bytes
 * of its own after Q's (fa_plan_o_stage counts them). */
static void plan_smem(fa2 *f)
{
    const fa_plan *p = f->p;
    f->threads = p->warps * 32 + (p->ws ? 128 : 0);
    f->slot_rows = p->Tk;
    f->load_threads = p->ws ? 128 : f->threads;
    if (p->wgmma) { /* swizzled, unpadded; Q stays in shared memory (the A operand of S) */
        f->pitch_q = f->pitch_k = f->pitch_v = 0;
        f->slot_k = f->slot_v = p->Tk * 2 * (p->D + p->Dv);
        f->off_k = 0;
        f->off_v = p->Tk * 2 * p->D;
        f->q_in_regs = false;
        f->off_q = p->stages * f->slot_k;
        bool own_o = p->o_stage && p->persist;
        f->off_o = own_o ? f->off_q + p->Tq * 2 * p->D : f->off_q;
        f->off_bar = f->off_q + p->Tq * 2 * p->D + (own_o ? p->Tq * 2 * p->Dv : 0);
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
    if (f->p->wgmma) /* + the ws barriers + the alignment slack */
        return f->off_bar + (f->p->ws ? fa2_ws_bar_bytes(f) : 0) + 1024;
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
        nvptx_abi_declare_tma(&f->nv, f->p->k, name, f->p->o_tma, &abi);
    else
        nvptx_abi_declare(&f->nv, f->p->k, name, &abi);
    memcpy(f->tmap, abi.tmap, sizeof f->tmap);
    memcpy(f->tens, abi.tens, sizeof f->tens);
    memcpy(f->stride, abi.stride, sizeof f->stride);
    memcpy(f->size, abi.size, sizeof f->size);
    memcpy(f->param, abi.param, sizeof f->param);
    return abi.fn;
}

void fa2_set_head(fa2 *f, LLVMValueRef head)
{
    nv_ctx *nv = &f->nv;
    LLVMValueRef group = LLVMBuildSDiv(nv->b, f->size[SZ_HEADS], f->size[SZ_KV_HEADS], "");
    group = nv_smax(nv, group, nv_i32(nv, 1));
    f->head = head;
    f->kv_head = LLVMBuildUDiv(nv->b, head, group, "kv_head");
}

/* Thread ids; one item per block: its head and batch from the block index
 * (persistent blocks set them per item, nvptx_fa2_persist.c). */
static void program_ids(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    fa2_thread_ids(f);
    f->load_tid = f->p->ws ? LLVMBuildSub(nv->b, f->tid, nv_i32(nv, f->p->warps * 32), "load_tid") : f->tid;
    if (f->p->persist)
        return;
    fa2_set_head(f, nv_sreg(nv, "ctaid.y"));
    f->batch = nv_sreg(nv, "ctaid.z");
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

/* The mask on s, stored into the fragment variable sv. */
static void mask_into(fa2 *f, const expr *mask, LLVMValueRef s[FA_MAXMR][FA_MAXN][4], nt_fvar *sv)
{
    nt_frag sf;
    fa2_mask(f, mask, s);
    fa2_frag(f, &sf, s, f->p->Tk);
    nt_fvar_set(&f->t, sv, &sf);
}

/* The mask on a partial tile two ways, cond choosing (a branch: S in sv
 * across it): then_mask, else else_mask; flag (if any) says which part is
 * being built. */
static void mask_split_into(fa2 *f, LLVMValueRef cond, const expr *then_mask, const expr *else_mask, bool *flag,
                            LLVMValueRef s[FA_MAXMR][FA_MAXN][4], nt_fvar *sv)
{
    LLVMValueRef s2[FA_MAXMR][FA_MAXN][4];
    memcpy(s2, s, sizeof s2);
    nt_branch br = nt_if_else(&f->t, cond);
    if (flag)
        *flag = true;
    mask_into(f, then_mask, s, sv);
    nt_else(&f->t, &br);
    if (flag)
        *flag = false;
    mask_into(f, else_mask, s2, sv);
    nt_endif_else(&f->t, &br);
}

/* documents: a partial tile inside the query tile's document (the
 * diagonal tile of causal documents) takes the mask without its document
 * filter (span_mask), so it loads no ids; one across a document boundary
 * takes span_mask and the filter as bits (nvptx_fa2_doc_bits.c). */
static void doc_mask_into(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4], nt_fvar *sv)
{
    LLVMValueRef s2[FA_MAXMR][FA_MAXN][4];
    memcpy(s2, s, sizeof s2);
    nt_branch br = f->run_lo ? nt_if_else(&f->t, fa2_tile_in_doc(f)) : (nt_branch){0};
    if (f->run_lo) {
        mask_into(f, f->p->span_mask, s, sv);
        nt_else(&f->t, &br);
    }
    fa2_doc_bits(f);
    f->doc_bits_on = true;
    mask_into(f, f->p->span_mask, s2, sv);
    f->doc_bits_on = false;
    if (f->run_lo)
        nt_endif_else(&f->t, &br);
}

/* Score; the mask only for partial tiles (a branch: S lives in a fragment
 * variable across it). */
void fa2_score_and_mask(fa2 *f, LLVMValueRef s[FA_MAXMR][FA_MAXN][4])
{
    nt *t = &f->t;
    fa2_score(f, s);
    LLVMValueRef partial = fa2_tile_partial(f);
    nt_frag sf;
    fa2_frag(f, &sf, s, f->p->Tk);
    nt_fvar sv = nt_fvar_new(t, &sf);
    LLVMBasicBlockRef join = nt_if(t, partial);
    if (f->p->mask && f->fr_period > 0) /* key-frame hoisting (nvptx_fa2_frames.c): a tile inside one frame
                                           * takes the mask without per-element selects, one across two the other */
        mask_split_into(f, fa2_frames_one(f), f->p->mask, f->p->mask, &f->fr.one, s, &sv);
    else if (f->p->doc_bits && !f->run_on_q)
        doc_mask_into(f, s, &sv);
    else if (f->p->span_mask && f->run_lo && !f->run_on_q && f->p->overlap != 2)
        /* documents: a partial tile inside the query tile's document (the
         * diagonal tile of causal documents) takes the mask without its
         * document filter, so it loads no ids; one across a document
         * boundary keeps the whole mask. Not under ping-pong (overlap=2,
         * opt-in): its second copy of the mask spilled 4 bytes there. */
        mask_split_into(f, fa2_tile_in_doc(f), f->p->span_mask, f->p->mask, NULL, s, &sv);
    else if (nvptx_mask_inside_mode() == 1 && f->p->grid_ndim == 0 && f->p->ndims == 1) {
        /* a key tile inside the sequence: the mask without the key-bound test */
        LLVMValueRef end = LLVMBuildAdd(f->nv.b, f->k_org[0], nv_i32(&f->nv, f->p->Tk), "");
        LLVMValueRef inside = LLVMBuildICmp(f->nv.b, LLVMIntSLE, end, f->kext[0], "k.inside");
        mask_split_into(f, inside, f->p->mask, f->p->mask, &f->k_inside, s, &sv); /* leaves k_inside false */
    } else
        mask_into(f, f->p->mask, s, &sv);
    nt_endif(t, join);
    nt_fvar_get(t, &sv, &sf);
    fa2_unfrag(&sf, s);
}

/* The key loop's state: the row max m and sum l per row slot (MR x 2) and
 * the O accumulator, in variables (nvptx/tile.h), so LLVM joins them. */
typedef struct loop_state {
    LLVMValueRef m[FA_MAXMR][2], l[FA_MAXMR][2]; /* allocas */
    nt_fvar acc;
} loop_state;

static void state_new(fa2 *f, loop_state *st)
{
    nt *t = &f->t;
    for (int mi = 0; mi < f->p->MR; mi++)
        for (int h = 0; h < 2; h++) {
            st->m[mi][h] = nt_var(t, f->nv.f32, nv_f32(&f->nv, -INFINITY), "m");
            st->l[mi][h] = nt_var(t, f->nv.f32, nv_f32(&f->nv, 0), "l");
        }
    nt_frag o;
    nt_zero(t, &o, 16 * f->p->MR, f->p->Dv);
    st->acc = nt_fvar_new(t, &o);
}

static void state_get(fa2 *f, const loop_state *st, LLVMValueRef m[FA_MAXMR][2], LLVMValueRef l[FA_MAXMR][2],
                      LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    for (int mi = 0; mi < f->p->MR; mi++)
        for (int h = 0; h < 2; h++) {
            m[mi][h] = nt_get(&f->t, st->m[mi][h]);
            l[mi][h] = nt_get(&f->t, st->l[mi][h]);
        }
    nt_frag o;
    nt_fvar_get(&f->t, &st->acc, &o);
    fa2_unfrag(&o, acc);
}

static void state_set(fa2 *f, const loop_state *st, LLVMValueRef m[FA_MAXMR][2], LLVMValueRef l[FA_MAXMR][2],
                      LLVMValueRef acc[FA_MAXMR][FA_MAXN][4])
{
    for (int mi = 0; mi < f->p->MR; mi++)
        for (int h = 0; h < 2; h++) {
            nt_set(&f->t, st->m[mi][h], m[mi][h]);
            nt_set(&f->t, st->l[mi][h], l[mi][h]);
        }
    nt_frag o;
    fa2_frag(f, &o, acc, f->p->Dv);
    nt_fvar_set(&f->t, &st->acc, &o);
}

/* One key tile: S, score and mask, online softmax, O += P V. */
static void tile_step(fa2 *f, const loop_state *st)
{
    LLVMValueRef s[FA_MAXMR][FA_MAXN][4], m[FA_MAXMR][2], l[FA_MAXMR][2], acc[FA_MAXMR][FA_MAXN][4];
    if (f->p->wgmma)
        fa2_wgmma_qk(f, s);
    else
        fa2_qk(f, s);
    fa2_score_and_mask(f, s);
    state_get(f, st, m, l, acc);
    fa2_softmax(f, s, m, l, acc);
    if (f->p->wgmma)
        fa2_wgmma_pv(f, s, acc);
    else
        fa2_pv(f, s, acc);
    state_set(f, st, m, l, acc);
}

/* The narrow first tile (nvptx_fa2_narrow.c): the loop's tile step into
 * the loop state, then the tile released. */
static void narrow_step(fa2 *f, void *st)
{
    tile_step(f, st);
    fa2_ws_release(f);
}

/* The key loop over tiles [lo, hi); full: a run of full tiles
 * (fa2_key_loops), emitted without mask or empty tests. Tiles in the
 * range that the class proves empty (no kept pair) skip all arithmetic:
 * only their pipeline step (loads, barrier) runs. */
static void plain_tiles(fa2 *f, void *user, LLVMValueRef lo, LLVMValueRef hi, bool full)
{
    loop_state *st = user;
    nv_ctx *nv = &f->nv;
    nt *t = &f->t;
    f->all_full = full;
    nt_loop kv;
    LLVMValueRef j = nt_for(t, &kv, lo, hi);
    if (f->p->ws)
        fa2_ws_acquire(f, j);
    else
        pipeline_step(f, j);
    LLVMBasicBlockRef skip = f->p->empty && !full ? nt_if(t, LLVMBuildNot(nv->b, fa2_tile_empty(f), "")) : NULL;
    tile_step(f, st);
    if (skip)
        nt_endif(t, skip);
    if (f->p->ws)
        fa2_ws_release(f);
    nt_for_end(t, &kv);
    f->all_full = false;
}

/* The key loop and the finalize. Under $ATTNC_FULL_RANGE=1
 * (fa2_full_range_on) the tiles run in up to three loops a range or union
 * part, the middle one a run of full tiles without mask code (fa2_key_loops): ptxas
 * if-converts the partial tiles' mask into the loop (SASS: GNA and causal
 * loops carry ~130 more FSEL/ISETP a tile than dense's), so full tiles pay
 * for it in a single loop. */
static void emit_loop(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    if (f->p->overlap) {
        fa2_overlap_loop(f);
        return;
    }
    loop_state st;
    state_new(f, &st);
    LLVMValueRef first = fa2_narrow_first(f, narrow_step, &st);
    fa2_key_loops(f, plain_tiles, &st, first, f->r_total);
    if (f->p->persist && !f->p->q_regs) /* with Q in registers: fa2_ws_q_wait */
        fa2_ws_q_done(f);
    if (!f->p->ws)
        nv_cp_wait(nv, 0); /* prefetches past the range (zero fills) end here */
    LLVMValueRef m[FA_MAXMR][2], l[FA_MAXMR][2], acc[FA_MAXMR][FA_MAXN][4];
    state_get(f, &st, m, l, acc);
    fa2_finalize(f, m, l, acc);
}

/* The computing warps: the key loop and the finalize, once per item of
 * a persistent block or once. */
static void emit_consumer(fa2 *f)
{
    if (!f->p->persist) {
        emit_loop(f);
        return;
    }
    if (fa2_defer_on(f)) { /* each item's finalize under the next one's first S */
        fa2_overlap_items(f);
        return;
    }
    fa2_items items = {.producer = false};
    fa2_items_begin(f, &items);
    fa2_ws_q_wait(f);
    emit_loop(f);
    fa2_items_end(f, &items);
    if (fa2_ostage_on(f))
        fa2_ostage_exit(f);
}

/* Warp specialisation: the producer warpgroup (the last four warps)
 * branches off and returns; the computing warps continue to the key loop. */
static void split_roles(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    if (!fa2_ws_early_q(f)) /* else initialised before the range */
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
    f->doc_table_ok = true;
    if (nvptx_mask_frames_mode() == 1)
        f->fr_period = fa2_frames_period(p->mask, p->grid_ndim, p->kv_ext[0]);
    plan_smem(f);
    f->fn = make_function(f, info->name);
    LLVMValueRef smem = LLVMAddGlobalInAddressSpace(m, LLVMArrayType(f->nv.i8, 0), "attnc_smem", 3);
    LLVMSetLinkage(smem, LLVMExternalLinkage);
    LLVMSetAlignment(smem, p->wgmma ? 1024 : 128);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(c, f->fn, "entry"));
    smem_base(f, smem);
    program_ids(f);
    if (!p->persist) { /* persistent blocks: per item, in each role */
        fa2_coords_init(f);
        if (fa2_ws_early_q(f))
            fa2_ws_issue_q_early(f);
        fa2_range(f);
    }
    if (p->ws)
        split_roles(f);
    else
        prologue(f);
    emit_consumer(f);
    if (fa2_doc_table_on(f))
        info->serial = true; /* the table and its epoch are module globals */
    LLVMBuildRetVoid(b);
    nv_annotate(&f->nv, f->fn, "kernel", 1);
    nv_annotate(&f->nv, f->fn, "maxntidx", f->threads);
    nv_annotate(&f->nv, f->fn, "minctasm", 1);
    info->threads = f->threads;
    info->smem_bytes = smem_total(f);
    bool failed = f->failed;
    if (f->t.error) { /* a misuse of the tile builder: its code is not to be run */
        sb_printf(err, "internal error: %s", f->t.error);
        LLVMDisposeBuilder(b);
        free(f);
        return NVPTX_INTERNAL;
    }
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
