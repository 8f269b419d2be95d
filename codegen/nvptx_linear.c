/* nvptx_linear.c — entry of the linear-attention GPU strategy
 * (nvptx_linear.h): the plan read off the recipe and schedule, the shared
 * memory plan, the kernel parameters (the ABI of nvptx_kernel.h), and the
 * block loop:
 *
 *   prologue: block 0 in flight (cp.async, one group)
 *   for j:  wait; barrier (block j visible, the other stage free); issue
 *           block j+1; [feature map / gates; barrier]; outputs of the block
 *           from S (inter) and the block itself (intra); barrier (every warp
 *           is done with S and z); S <- a S + (w ⊙ K)^T V; publish S as bf16
 *
 * Causal recipes run the loop once (INTER_CHUNKED: a state-only pass over
 * the blocks before the CTA's segment, then its segment). Non-causal ones
 * run it twice: first the state over every block (no outputs), then the
 * outputs from the full state. The state lives in registers (loop phis):
 * D/warps rows x 16 columns per warp. grid.x = segment * (Dv/16) + slice.
 * INTER_CHAIN (emit_chain): grid.x = 16 (at most 16 segments, about 128
 * CTAs in all), 8 warps over all of Dv, a local pass, the hand-off of
 * nvptx_linear_chain.c, then the outputs. */
#include "nvptx_abi.h"
#include "nvptx_linear.h"
#include "nvptx_linear_tile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvptx_target.h"

enum { MODE_CAUSAL, MODE_PREFIX, MODE_NC_STATE, MODE_NC_OUT, MODE_LOCAL };
enum { CHUNKED_SEGMENTS = 4 };

static nvptx_status refuse(strbuf *err, const char *what, int v)
{
    sb_printf(err, "GPU linear attention: ");
    sb_printf(err, what, v);
    return NVPTX_UNSUPPORTED;
}

/* Why inter=chain cannot take recipe r with `block`-token blocks (a printf
 * format with one int, *val), or NULL when it can. One rule for the
 * refusal below and for nvptx_default_schedule's choice. */
static const char *chain_misfit(const recipe *r, int block, int *val)
{
    *val = 0;
    if (!r->linear.causal)
        return "inter=chain takes causal recipes only (non-causal: inter=state)%.0d";
    if (r->linear.normalize)
        return "inter=chain does not normalise (use inter=state)%.0d";
    if ((*val = block) != 64)
        return "inter=chain takes block=64, not %d";
    if ((*val = r->head_dim) % 64 || r->head_dim > 128)
        return "inter=chain needs head_dim 64 or 128, not %d";
    if ((*val = r->head_dim_v) % 32 || r->head_dim_v > 128)
        return "inter=chain needs head_dim_v a multiple of 32, at most 128, not %d";
    if (r->nparams > (*val = NVPTX_MAX_PARAMS))
        return "at most %d params";
    return NULL;
}

bool nvptx_linear_chain_fits(const recipe *r, int block)
{
    int v;
    return r->family == FAMILY_LINEAR && (r->qkv_dtype == DT_BF16 || r->qkv_dtype == DT_F16) &&
           !chain_misfit(r, block, &v);
}

/* inter=chain: 8 warps (4 row groups x 2 column groups) with D/4 x Dv/2 of
 * the f32 state each, so D x Dv <= 128 x 128 keeps it at 64 registers. */
static nvptx_status check_chain(const lin_plan *p, strbuf *err)
{
    int v;
    const char *why = chain_misfit(p->r, p->C, &v);
    return why ? refuse(err, why, v) : NVPTX_OK;
}

static nvptx_status make_plan(const tir_kernel *k, const recipe *r, lin_plan *p, strbuf *err)
{
    memset(p, 0, sizeof *p);
    p->r = r;
    p->dt = r->qkv_dtype;
    p->D = r->head_dim;
    p->Dv = r->head_dim_v;
    p->C = k->sched.linear_block > 0 ? k->sched.linear_block : r->linear.block > 0 ? r->linear.block : 64;
    p->rgs = p->C / 16;
    p->wide = k->sched.inter == INTER_CHAIN;
    p->warps = p->wide ? 2 * p->rgs : p->rgs;
    p->causal = r->linear.causal;
    p->normalize = r->linear.normalize;
    p->feature = r->linear.feature;
    p->decay = r->linear.causal ? r->linear.decay : DECAY_NONE;
    p->decay_param = r->linear.decay_param;
    if (p->decay != DECAY_NONE && (p->decay_param < 0 || p->decay_param >= r->nparams))
        p->decay = DECAY_NONE;
    p->transform = p->feature != FEATURE_IDENTITY || p->dt == DT_F16;
    p->segments = p->wide ? LIN_CHAIN_SEGS : p->causal && k->sched.inter == INTER_CHUNKED ? CHUNKED_SEGMENTS : 1;
    /* Segments already multiply the CTAs: wider slices halve the recomputed
     * scores and the re-read Q/K, when the state registers allow it. */
    p->dvs = p->segments > 1 && p->Dv % 32 == 0 && p->warps >= 2 && p->warps <= 4 ? 32 : 16;
    if (p->wide)
        p->dvs = p->Dv / 2; /* two column groups of warps */
    p->nob = p->dvs / 8;
    p->vt = p->wide ? p->Dv : p->dvs;
    if (p->dt != DT_BF16 && p->dt != DT_F16)
        return refuse(err, "q/k/v must be bf16 or f16%.0d", 0);
    if (p->C < 16 || p->C > 128 || p->C % 16)
        return refuse(err, "block %d: the GPU kernel takes blocks of 16 to 128 tokens", p->C);
    if (p->wide)
        return check_chain(p, err);
    if (p->D % (16 * p->rgs) || p->D / (16 * p->rgs) > LIN_MAXMB || p->D > 256)
        return refuse(err, "head_dim %d must be a multiple of 16 x (block / 16), at most 256", p->D);
    if (p->Dv % 16)
        return refuse(err, "head_dim_v %d must be a multiple of 16", p->Dv);
    if (r->nparams > NVPTX_MAX_PARAMS)
        return refuse(err, "at most %d params", NVPTX_MAX_PARAMS);
    return NVPTX_OK;
}

static void plan_smem(lin *L)
{
    const lin_plan *p = L->p;
    L->threads = p->warps * 32;
    L->pitch_qk = p->D * 2 + 16;
    L->pitch_v = L->p->vt * 2 + 16;
    L->pitch_s = L->p->vt * 2 + 16;
    L->off_q = 0;
    L->off_k = p->C * L->pitch_qk;
    L->off_v = 2 * p->C * L->pitch_qk;
    L->stage_bytes = L->off_v + p->C * L->pitch_v;
    L->off_s = 2 * L->stage_bytes;
    L->off_graw = L->off_s + p->D * L->pitch_s;
    L->off_gam = L->off_graw + 4 * p->C;
    L->off_z = L->off_gam + 4 * p->C;
    L->off_tk = L->off_z + 4 * p->D;
    L->total = L->off_tk + (p->wide ? 16 : 0); /* the chain ticket */
}

static void make_function(lin *L, const char *name)
{
    nvptx_abi_args abi;
    nvptx_abi_declare(&L->nv, L->p->r, name, &abi);
    L->fn = abi.fn;
    memcpy(L->tens, abi.tens, sizeof L->tens);      /* q, k, v, o: the kernel writes no lse */
    for (int t = 0; t < 4; t++)
        memcpy(L->stride[t], abi.stride[t], sizeof L->stride[t]);
    memcpy(L->size, abi.size, sizeof L->size);
    memcpy(L->param, abi.param, sizeof L->param);
}

static void program_ids(lin *L)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    L->tid = nv_sreg(nv, "tid.x");
    L->lane = LLVMBuildAnd(b, L->tid, nv_i32(nv, 31), "lane");
    L->warp = LLVMBuildLShr(b, L->tid, nv_i32(nv, 5), "warp");
    L->g = LLVMBuildLShr(b, L->lane, nv_i32(nv, 2), "g");
    L->t4 = LLVMBuildAnd(b, L->lane, nv_i32(nv, 3), "t4");
    if (L->p->wide) {
        lin_chain_ids(L); /* seg, head, batch from the chain ticket; warp = row group */
    } else {
        LLVMValueRef x = nv_sreg(nv, "ctaid.x");
        L->slice = LLVMBuildURem(b, x, nv_i32(nv, L->p->Dv / L->p->dvs), "slice");
        L->seg = LLVMBuildUDiv(b, x, nv_i32(nv, L->p->Dv / L->p->dvs), "seg");
        L->head = nv_sreg(nv, "ctaid.y");
        L->batch = nv_sreg(nv, "ctaid.z");
        L->col0 = L->wcol = NULL; /* slice x dvs, formed where used */
    }
    LLVMValueRef group = LLVMBuildSDiv(b, L->size[SZ_HEADS], nv_smax(nv, L->size[SZ_KV_HEADS], nv_i32(nv, 1)), "");
    group = nv_smax(nv, group, nv_i32(nv, 1));
    L->kv_head = LLVMBuildUDiv(b, L->head, group, "kv_head");
    L->ntok = L->size[SZ_TOKENS];
    L->nblocks = LLVMBuildSDiv(b, LLVMBuildAdd(b, L->ntok, nv_i32(nv, L->p->C - 1), ""), nv_i32(nv, L->p->C),
                               "nblocks");
}

/* ldmatrix x4 lane offsets (see nvptx_fa2_mma.c for the matrix order):
 * lane_a: A operand from a row-major tile (rows lane&15, k half lane>>4);
 * lane_b: B operand from rows = n (K for Q K^T), which is also the A
 *         operand of K^T from K with .trans (token 8*b4 + l7, dim half b3);
 * lane_v/lane_s: B operand from rows = k via .trans (row 8*b3 + l7, col half b4). */
static void lane_offsets(lin *L)
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef l7 = LLVMBuildAnd(b, L->lane, nv_i32(nv, 7), "");
    LLVMValueRef b3 = LLVMBuildAnd(b, LLVMBuildLShr(b, L->lane, nv_i32(nv, 3), ""), nv_i32(nv, 1), "");
    LLVMValueRef b4 = LLVMBuildAnd(b, LLVMBuildLShr(b, L->lane, nv_i32(nv, 4), ""), nv_i32(nv, 1), "");
    LLVMValueRef l15 = LLVMBuildAnd(b, L->lane, nv_i32(nv, 15), "");
    LLVMValueRef h4 = LLVMBuildMul(b, b4, nv_i32(nv, 16), ""), h3 = LLVMBuildMul(b, b3, nv_i32(nv, 16), "");
    L->lane_a = LLVMBuildAdd(b, LLVMBuildMul(b, l15, nv_i32(nv, L->pitch_qk), ""), h4, "");
    LLVMValueRef krow = LLVMBuildAdd(b, LLVMBuildMul(b, b4, nv_i32(nv, 8), ""), l7, "");
    L->lane_b = LLVMBuildAdd(b, LLVMBuildMul(b, krow, nv_i32(nv, L->pitch_qk), ""), h3, "");
    LLVMValueRef vrow = LLVMBuildAdd(b, LLVMBuildMul(b, b3, nv_i32(nv, 8), ""), l7, "");
    L->lane_v = LLVMBuildAdd(b, LLVMBuildMul(b, vrow, nv_i32(nv, L->pitch_v), ""), h4, "");
    L->lane_s = LLVMBuildAdd(b, LLVMBuildMul(b, vrow, nv_i32(nv, L->pitch_s), ""), h4, "");
}

/* λ = decay[head] as log2 λ, clamped so that (i - j) log2 λ stays finite
 * (λ <= 0 or NaN count as "no memory": 2^-92 per step). */
static void per_head_decay(lin *L)
{
    nv_ctx *nv = &L->nv;
    L->log2_lambda = NULL;
    if (L->p->decay != DECAY_PER_HEAD)
        return;
    LLVMValueRef off = LLVMBuildMul(nv->b, L->head, nv_i32(nv, 4), "");
    LLVMValueRef lam = LLVMBuildLoad2(nv->b, nv->f32, nv_gep(nv, L->param[L->p->decay_param], off), "lambda");
    LLVMSetAlignment(lam, 4);
    /* Near 1, lg2.approx's absolute error (~2^-22) is a large relative error
     * of a tiny log (λ = 0.99999: ~2%), which 65536 steps amplify; there
     * ln(1 + u), u = λ - 1 (exact), comes from its series instead. */
    LLVMBuilderRef b = nv->b;
    LLVMValueRef u = LLVMBuildFSub(b, lam, nv_f32(nv, 1.0), "");
    LLVMValueRef poly = nv_f32(nv, 1.0 / 7);
    for (int n = 6; n >= 1; n--) {
        poly = LLVMBuildFMul(b, poly, u, "");
        poly = LLVMBuildFAdd(b, poly, nv_f32(nv, (n % 2 ? 1.0 : -1.0) / n), "");
    }
    LLVMValueRef series = LLVMBuildFMul(b, LLVMBuildFMul(b, u, poly, ""), nv_f32(nv, 1.4426950408889634), "");
    LLVMValueRef au = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, u, nv_f32(nv, 0), ""), LLVMBuildFNeg(b, u, ""), u, "");
    LLVMValueRef near1 = LLVMBuildFCmp(b, LLVMRealOLT, au, nv_f32(nv, 1.0 / 16), "");
    LLVMValueRef l = LLVMBuildSelect(b, near1, series, nv_lg2(nv, lam), "");
    L->log2_lambda = nv_fmax(nv, l, nv_f32(nv, -92.0));
}

/* S_bf16 and z start at zero. */
static void zero_state(lin *L)
{
    nv_ctx *nv = &L->nv;
    int words = (L->off_tk - L->off_s) / 4;
    for (int i = 0; i * L->threads < words; i++) {
        LLVMValueRef id = LLVMBuildAdd(nv->b, L->tid, nv_i32(nv, i * L->threads), "");
        LLVMBasicBlockRef join = nv_if(&L->nv, LLVMBuildICmp(nv->b, LLVMIntULT, id, nv_i32(nv, words), ""), "zero");
        LLVMValueRef off = LLVMBuildAdd(nv->b, nv_i32(nv, L->off_s), LLVMBuildShl(nv->b, id, nv_i32(nv, 2), ""), "");
        LLVMBuildStore(nv->b, nv_i32(nv, 0), lin_smem(L, off));
        nv_endif(&L->nv, join);
    }
}

typedef struct loop_vals {
    LLVMValueRef j, S[LIN_MAXMB][LIN_MAXO][4];
    LLVMValueRef G; /* MODE_LOCAL with decay: Σ Γlast over the blocks (log2 of the pass's decay); else NULL */
} loop_vals;

static int state_mbs(const lin *L)
{
    return L->p->D / L->p->rgs / 16;
}

static void header_phis(lin *L, loop_vals *h, const loop_vals *init, LLVMBasicBlockRef from, LLVMValueRef jb)
{
    nv_ctx *nv = &L->nv;
    h->j = LLVMBuildPhi(nv->b, nv->i32, "j");
    LLVMAddIncoming(h->j, &jb, &from, 1);
    h->G = NULL;
    if (init->G) {
        LLVMValueRef g0 = init->G;
        h->G = LLVMBuildPhi(nv->b, nv->f32, "G");
        LLVMAddIncoming(h->G, &g0, &from, 1);
    }
    for (int mb = 0; mb < state_mbs(L); mb++)
        for (int nb = 0; nb < L->p->nob; nb++)
            for (int e = 0; e < 4; e++) {
                LLVMValueRef v = init->S[mb][nb][e];
                h->S[mb][nb][e] = LLVMBuildPhi(nv->b, nv->f32, "");
                LLVMAddIncoming(h->S[mb][nb][e], &v, &from, 1);
            }
}

static void latch(lin *L, loop_vals *h, loop_vals *nx, LLVMBasicBlockRef from)
{
    LLVMAddIncoming(h->j, &nx->j, &from, 1);
    if (h->G)
        LLVMAddIncoming(h->G, &nx->G, &from, 1);
    for (int mb = 0; mb < state_mbs(L); mb++)
        for (int nb = 0; nb < L->p->nob; nb++)
            for (int e = 0; e < 4; e++)
                LLVMAddIncoming(h->S[mb][nb][e], &nx->S[mb][nb][e], &from, 1);
}

static LLVMValueRef stage_of(lin *L, LLVMValueRef j)
{
    nv_ctx *nv = &L->nv;
    LLVMValueRef s = LLVMBuildAnd(nv->b, j, nv_i32(nv, 1), "");
    return LLVMBuildMul(nv->b, s, nv_i32(nv, L->stage_bytes), "stage");
}

static bool needs_q(int mode)
{
    return mode == MODE_CAUSAL || mode == MODE_NC_OUT;
}

static bool decays(int mode)
{
    return mode == MODE_CAUSAL || mode == MODE_PREFIX || mode == MODE_LOCAL;
}

static void block_body(lin *L, int mode, loop_vals *v)
{
    nv_ctx *nv = &L->nv;
    const lin_plan *p = L->p;
    nv_cp_wait(nv, 0);
    nv_barrier(nv);
    LLVMValueRef jn = LLVMBuildAdd(nv->b, v->j, nv_i32(nv, 1), "");
    lin_issue_block(L, jn, stage_of(L, jn), needs_q(mode));
    nv_cp_commit(nv);
    L->stage_off = stage_of(L, v->j);
    L->t0 = LLVMBuildMul(nv->b, v->j, nv_i32(nv, p->C), "t0");
    bool decayed = decays(mode) && p->decay != DECAY_NONE;
    if (p->transform)
        lin_transform(L, needs_q(mode));
    if (decayed && p->decay == DECAY_PER_TOKEN)
        lin_gates(L);
    if (p->transform || (decayed && p->decay == DECAY_PER_TOKEN))
        nv_barrier(nv);
    if (needs_q(mode))
        lin_outputs(L, mode == MODE_CAUSAL, decayed);
    if (mode == MODE_NC_OUT)
        return;
    nv_barrier(nv);
    L->gam_last = decayed ? lin_gamma(L, nv_i32(nv, p->C - 1)) : NULL;
    lin_state_update(L, v->S, decayed);
    if (v->G)
        v->G = LLVMBuildFAdd(nv->b, v->G, L->gam_last, "");
    if (p->normalize)
        lin_update_z(L);
    if (mode != MODE_LOCAL) /* the local pass's S is no start state: nobody reads it */
        lin_state_publish(L, v->S);
}

/* One pass over blocks [jb, je); S carries in and out; G (MODE_LOCAL with
 * decay, else NULL) receives the log2 decay of the whole pass. */
static void block_loop(lin *L, int mode, LLVMValueRef jb, LLVMValueRef je, LLVMValueRef S[LIN_MAXMB][LIN_MAXO][4],
                       LLVMValueRef *G)
{
    nv_ctx *nv = &L->nv;
    L->t_limit = nv_smin(nv, L->ntok, LLVMBuildMul(nv->b, je, nv_i32(nv, L->p->C), ""));
    lin_issue_block(L, jb, stage_of(L, jb), needs_q(mode));
    nv_cp_commit(nv);
    LLVMBasicBlockRef from = LLVMGetInsertBlock(nv->b);
    LLVMBasicBlockRef header = LLVMAppendBasicBlockInContext(nv->c, L->fn, "blk.header");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(nv->c, L->fn, "blk.body");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(nv->c, L->fn, "blk.done");
    LLVMBuildBr(nv->b, header);
    LLVMPositionBuilderAtEnd(nv->b, header);
    loop_vals init, h, nx;
    memcpy(init.S, S, sizeof init.S);
    init.G = G ? nv_f32(nv, 0) : NULL;
    header_phis(L, &h, &init, from, jb);
    LLVMBuildCondBr(nv->b, LLVMBuildICmp(nv->b, LLVMIntSLT, h.j, je, ""), body, done);
    LLVMPositionBuilderAtEnd(nv->b, body);
    nx = h;
    block_body(L, mode, &nx);
    nx.j = LLVMBuildAdd(nv->b, h.j, nv_i32(nv, 1), "");
    latch(L, &h, &nx, LLVMGetInsertBlock(nv->b));
    LLVMBuildBr(nv->b, header);
    LLVMPositionBuilderAtEnd(nv->b, done);
    nv_cp_wait(nv, 0); /* the zero-filled prefetch past the end */
    nv_barrier(nv);    /* no warp still reads a stage the next pass refills */
    memcpy(S, h.S, sizeof h.S);
    if (G)
        *G = h.G;
}

/* inter=chain (nvptx_linear_chain.c): `segs` = clamp(128 / (B H), 1, 16)
 * segments per (batch, head), about one CTA per SM in all (grid.x = 16; CTAs
 * past segs, or past the sequence, exit at once). A local pass over the
 * segment's blocks from a zero state (state updates only) gives L_s and its
 * log2 decay G_s; L_s and G_s are published at once (no wait), then the
 * state at the segment start, P = Σ_{r<s} 2^(G_{r+1}+...+G_{s-1}) L_r, is
 * summed from the earlier segments' slots (look-back), and the segment's
 * outputs run from P. B H segs <= 128 = the slots. */
static void emit_chain(lin *L, LLVMValueRef S[LIN_MAXMB][LIN_MAXO][4])
{
    nv_ctx *nv = &L->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef bhn = LLVMBuildMul(b, nv_sreg(nv, "nctaid.y"), nv_sreg(nv, "nctaid.z"), "");
    LLVMValueRef segs = LLVMBuildUDiv(b, nv_i32(nv, LIN_CHAIN_CTAS), bhn, "");
    segs = nv_smin(nv, nv_smax(nv, segs, nv_i32(nv, 1)), nv_i32(nv, L->p->segments));
    LLVMValueRef per = LLVMBuildSDiv(b, LLVMBuildAdd(b, L->nblocks, LLVMBuildSub(b, segs, nv_i32(nv, 1), ""), ""),
                                     segs, "per");
    LLVMValueRef jb = nv_smin(nv, LLVMBuildMul(b, L->seg, per, ""), L->nblocks);
    LLVMValueRef je = nv_smin(nv, LLVMBuildAdd(b, jb, per, ""), L->nblocks);
    LLVMBasicBlockRef live = LLVMAppendBasicBlockInContext(nv->c, L->fn, "seg.live");
    LLVMBasicBlockRef idle = LLVMAppendBasicBlockInContext(nv->c, L->fn, "seg.idle");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, jb, je, ""), live, idle); /* CTA-uniform */
    LLVMPositionBuilderAtEnd(b, idle);
    LLVMBuildRetVoid(b);
    LLVMPositionBuilderAtEnd(b, live);
    LLVMValueRef G = NULL;
    block_loop(L, MODE_LOCAL, jb, je, S, L->p->decay != DECAY_NONE ? &G : NULL);
    LLVMValueRef base = LLVMBuildMul(b, L->bh, segs, "slot0");
    LLVMValueRef has_next = LLVMBuildICmp(b, LLVMIntSLT, je, L->nblocks, "");
    lin_chain_publish(L, has_next, LLVMBuildAdd(b, base, L->seg, ""), S, G);
    LLVMValueRef P[LIN_MAXMB][LIN_MAXO][4];
    lin_chain_lookback(L, base, G != NULL, P);
    memcpy(S, P, sizeof P);
    lin_state_publish(L, S); /* the mirror of the start state; the loop's first barrier orders it */
    block_loop(L, MODE_CAUSAL, jb, je, S, NULL);
}

static void emit_kernel(lin *L)
{
    nv_ctx *nv = &L->nv;
    LLVMPositionBuilderAtEnd(nv->b, LLVMAppendBasicBlockInContext(nv->c, L->fn, "entry"));
    program_ids(L);
    lane_offsets(L);
    per_head_decay(L);
    zero_state(L);
    LLVMValueRef S[LIN_MAXMB][LIN_MAXO][4];
    for (int mb = 0; mb < LIN_MAXMB; mb++)
        for (int nb = 0; nb < LIN_MAXO; nb++)
            for (int e = 0; e < 4; e++)
                S[mb][nb][e] = nv_f32(nv, 0);
    LLVMValueRef zero = nv_i32(nv, 0);
    if (L->p->wide) {
        emit_chain(L, S);
    } else if (L->p->causal && L->p->segments > 1) {
        /* Segment seg covers blocks [jb, je): rebuild S over [0, jb), then outputs. */
        LLVMValueRef per = LLVMBuildSDiv(nv->b, LLVMBuildAdd(nv->b, L->nblocks, nv_i32(nv, L->p->segments - 1), ""),
                                         nv_i32(nv, L->p->segments), "");
        LLVMValueRef jb = nv_smin(nv, LLVMBuildMul(nv->b, L->seg, per, ""), L->nblocks);
        LLVMValueRef je = nv_smin(nv, LLVMBuildAdd(nv->b, jb, per, ""), L->nblocks);
        LLVMValueRef pre = LLVMBuildSelect(nv->b, LLVMBuildICmp(nv->b, LLVMIntSLT, jb, je, ""), jb, zero, "");
        block_loop(L, MODE_PREFIX, zero, pre, S, NULL); /* an empty segment rebuilds nothing */
        block_loop(L, MODE_CAUSAL, jb, je, S, NULL);
    } else if (L->p->causal) {
        block_loop(L, MODE_CAUSAL, zero, L->nblocks, S, NULL);
    } else {
        block_loop(L, MODE_NC_STATE, zero, L->nblocks, S, NULL);
        block_loop(L, MODE_NC_OUT, zero, L->nblocks, S, NULL);
    }
    LLVMBuildRetVoid(nv->b);
}

static void describe(const lin_plan *p, int threads, int smem, target_arch arch, nvptx_kernel_info *info)
{
    info->arch = arch;
    info->strategy = NVPTX_STRATEGY_LINEAR;
    info->threads = threads;
    info->serial = p->wide; /* the chain's slots and tickets are module globals */
    info->smem_bytes = smem;
    info->ndims = 1;
    info->q_tile[0] = p->C;
    info->grid_x_fixed = p->Dv / p->vt * p->segments;
    info->dt = p->dt;
    info->head_dim = p->D;
    info->head_dim_v = p->Dv;
    nvptx_abi_describe_params(p->r, info);
}

static void kernel_name(char *out, size_t n, const char *recipe_name)
{
    snprintf(out, n, "attnc_%s", recipe_name ? recipe_name : "linear");
    for (char *c = out; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
            *c = '_';
}

/* The old hand-joined emitter (lin, above), until the tile builder's
 * (nvptx_linear_tile.h) is measured on the GPU. */
static nvptx_status emit_hand(const lin_plan *p, target_arch arch, nvptx_kernel_info *info, strbuf *ptx, strbuf *err)
{
    lin *L = calloc(1, sizeof *L);
    if (!L) {
        sb_puts(err, "out of memory");
        return NVPTX_INTERNAL;
    }
    L->p = p;
    plan_smem(L);
    nvptx_status st = NVPTX_OK;
    int limit = arch == TARGET_SM90A ? 232448 : 166912;
    if (L->total > limit) {
        int total = L->total;
        free(L);
        return refuse(err, "the block needs %d bytes of shared memory: use a smaller block", total);
    }
    describe(p, L->threads, L->total, arch, info);
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = nvptx_module_create(c, info->name, arch);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
    nv_ctx_init(&L->nv, c, m, b);
    make_function(L, info->name);
    L->smem = LLVMAddGlobalInAddressSpace(m, LLVMArrayType(L->nv.i8, 0), "attnc_smem", 3);
    if (p->wide)
        lin_chain_globals(L);
    LLVMSetLinkage(L->smem, LLVMExternalLinkage);
    LLVMSetAlignment(L->smem, 128);
    emit_kernel(L);
    nv_annotate(&L->nv, L->fn, "kernel", 1);
    nv_annotate(&L->nv, L->fn, "maxntidx", L->threads);
    nv_annotate(&L->nv, L->fn, "minctasm", 1);
    if (!nvptx_module_to_ptx(m, arch, ptx, err))
        st = NVPTX_INTERNAL;
    LLVMDisposeBuilder(b);
    LLVMDisposeModule(m);
    LLVMContextDispose(c);
    free(L);
    return st;
}

/* The kernel on the tile builder into module m. */
static nvptx_status build_tile(lk *L, nv_ctx nv, const char *name, target_arch arch, strbuf *err)
{
    nvptx_abi_args abi;
    nvptx_abi_declare(&nv, L->p->r, name, &abi);
    memcpy(L->tens, abi.tens, sizeof L->tens); /* q, k, v, o: the kernel writes no lse */
    for (int t = 0; t < 4; t++)
        memcpy(L->stride[t], abi.stride[t], sizeof L->stride[t]);
    memcpy(L->size, abi.size, sizeof L->size);
    memcpy(L->param, abi.param, sizeof L->param);
    nt_begin(&L->t, nv, abi.fn, L->p->warps * 32, arch);
    if (L->p->wide)
        lk_chain_globals(L);
    lk_emit_kernel(L);
    nv_annotate(&L->t.nv, abi.fn, "kernel", 1);
    nv_annotate(&L->t.nv, abi.fn, "maxntidx", L->t.threads);
    nv_annotate(&L->t.nv, abi.fn, "minctasm", 1);
    if (!L->t.error)
        return NVPTX_OK;
    sb_printf(err, "GPU linear attention: %s", L->t.error);
    return NVPTX_INTERNAL;
}

static nvptx_status emit_tile(const lin_plan *p, target_arch arch, nvptx_kernel_info *info, strbuf *ptx, strbuf *err)
{
    lk *L = calloc(1, sizeof *L);
    if (!L) {
        sb_puts(err, "out of memory");
        return NVPTX_INTERNAL;
    }
    L->p = p;
    lk_plan_smem(L);
    int total = L->total;
    if (total > (arch == TARGET_SM90A ? 232448 : 166912)) {
        free(L);
        return refuse(err, "the block needs %d bytes of shared memory: use a smaller block", total);
    }
    describe(p, p->warps * 32, total, arch, info);
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = nvptx_module_create(c, info->name, arch);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
    nv_ctx nv;
    nv_ctx_init(&nv, c, m, b);
    nvptx_status st = build_tile(L, nv, info->name, arch, err);
    if (!st && !nvptx_module_to_ptx(m, arch, ptx, err))
        st = NVPTX_INTERNAL;
    LLVMDisposeBuilder(b);
    LLVMDisposeModule(m);
    LLVMContextDispose(c);
    free(L);
    return st;
}

/* $ATTNC_LINEAR_TILE=1: the kernel from the tile builder. */
static bool tile_path(void)
{
    const char *e = getenv("ATTNC_LINEAR_TILE");
    return e && e[0] == '1';
}

nvptx_status nvptx_linear_emit(const tir_kernel *k, const recipe *r, target_arch arch, nvptx_kernel_info *info,
                               strbuf *ptx, strbuf *err)
{
    memset(info, 0, sizeof *info);
    lin_plan p;
    nvptx_status st = make_plan(k, r, &p, err);
    if (st)
        return st;
    kernel_name(info->name, sizeof info->name, r->name);
    return tile_path() ? emit_tile(&p, arch, info, ptx, err) : emit_hand(&p, arch, info, ptx, err);
}
