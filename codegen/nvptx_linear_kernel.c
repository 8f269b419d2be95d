/* nvptx_linear_kernel.c — the linear-attention kernel's skeleton on the
 * tile builder (nvptx_linear_tile.h): the shared-memory plan, program ids
 * and the block loop:
 *
 *   prologue: block jb in flight (cp.async, one group)
 *   for j:  wait; barrier (block j visible, the other stage free); issue
 *           block j+1; [feature map / gates; barrier]; outputs of the block
 *           from S (inter) and the block itself (intra); barrier (every warp
 *           is done with S and z); S <- a S + (w ⊙ K)^T V; publish S as bf16
 *
 * Causal recipes run the loop once (INTER_CHUNKED: a state-only pass over
 * the blocks before the CTA's segment, then its segment). Non-causal ones
 * run it twice: first the state over every block (no outputs), then the
 * outputs from the full state. grid.x = segment * (Dv / dvs) + slice.
 * INTER_CHAIN (emit_chain): grid.x = 16, 8 warps over all of Dv, a local
 * pass, the hand-off of nvptx_linear_handoff.c, then the outputs. */
#include "nvptx_linear_tile.h"

enum { MODE_CAUSAL, MODE_PREFIX, MODE_NC_STATE, MODE_NC_OUT, MODE_LOCAL };

void lk_plan_smem(lk *L)
{
    const lin_plan *p = L->p;
    L->pitch_qk = p->D * 2 + 16;
    L->pitch_v = p->vt * 2 + 16;
    L->pitch_s = p->vt * 2 + 16;
    L->off_q = 0;
    L->off_k = p->C * L->pitch_qk;
    L->off_v = 2 * p->C * L->pitch_qk;
    L->stage_bytes = L->off_v + p->C * L->pitch_v;
    L->off_x = L->stage_bytes;
    if (L->fused)
        L->stage_bytes += p->C * L->pitch_v; /* X has V's columns (D = Dv) */
    L->off_s = 2 * L->stage_bytes;
    L->off_graw = L->off_s + p->D * L->pitch_s;
    L->off_gam = L->off_graw + 4 * p->C;
    L->off_z = L->off_gam + 4 * p->C;
    L->off_tk = L->off_z + 4 * p->D;
    L->total = L->off_tk + (p->wide ? 16 : 0); /* the chain ticket */
}

static LLVMValueRef c32(lk *L, long long v)
{
    return nv_i32(&L->t.nv, v);
}

static void program_ids(lk *L)
{
    nv_ctx *nv = &L->t.nv;
    LLVMBuilderRef b = nv->b;
    if (L->p->wide) {
        lk_chain_ids(L); /* seg, head, batch from the chain ticket; rg, col0, wcol */
    } else {
        LLVMValueRef x = nv_sreg(nv, "ctaid.x");
        int slices = L->p->Dv / L->p->dvs;
        L->slice = LLVMBuildURem(b, x, c32(L, slices), "slice");
        L->seg = LLVMBuildUDiv(b, x, c32(L, slices), "seg");
        L->head = nv_sreg(nv, "ctaid.y");
        L->batch = nv_sreg(nv, "ctaid.z");
        L->rg = L->t.warp;
        L->col0 = LLVMBuildMul(b, L->slice, c32(L, L->p->dvs), "col0");
        L->wcol = c32(L, 0);
    }
    LLVMValueRef group = LLVMBuildSDiv(b, L->size[SZ_HEADS], nv_smax(nv, L->size[SZ_KV_HEADS], c32(L, 1)), "");
    group = nv_smax(nv, group, c32(L, 1));
    L->kv_head = LLVMBuildUDiv(b, L->head, group, "kv_head");
    L->ntok = L->nreal = L->size[SZ_TOKENS];
    L->nblocks = LLVMBuildSDiv(b, LLVMBuildAdd(b, L->ntok, c32(L, L->p->C - 1), ""), c32(L, L->p->C), "nblocks");
    if (L->aligned) /* reversed blocks on the forward blocks' boundaries (lk.nreal) */
        L->ntok = LLVMBuildMul(b, L->nblocks, c32(L, L->p->C), "ntok");
}

/* λ = decay[head] as log2 λ, clamped so that (i - j) log2 λ stays finite
 * (λ <= 0 or NaN count as "no memory": 2^-92 per step). */
static void per_head_decay(lk *L)
{
    nv_ctx *nv = &L->t.nv;
    LLVMBuilderRef b = nv->b;
    L->log2_lambda = NULL;
    if (L->p->decay != DECAY_PER_HEAD)
        return;
    LLVMValueRef off = LLVMBuildMul(b, L->head, c32(L, 4), "");
    LLVMValueRef lam = LLVMBuildLoad2(b, nv->f32, nv_gep(nv, L->param[L->p->decay_param], off), "lambda");
    LLVMSetAlignment(lam, 4);
    /* Near 1, lg2.approx's absolute error (~2^-22) is a large relative error
     * of a tiny log (λ = 0.99999: ~2%), which 65536 steps amplify; there
     * ln(1 + u), u = λ - 1 (exact), comes from its series instead. */
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

/* The S mirror and z start at zero. */
static void zero_state(lk *L)
{
    nt *t = &L->t;
    int words = (L->off_tk - L->off_s) / 4;
    for (int i = 0; i * t->threads < words; i++) {
        LLVMValueRef id = LLVMBuildAdd(t->nv.b, t->tid, c32(L, i * t->threads), "");
        LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(t->nv.b, LLVMIntULT, id, c32(L, words), ""));
        LLVMValueRef off = LLVMBuildAdd(t->nv.b, c32(L, L->off_s), LLVMBuildShl(t->nv.b, id, c32(L, 2), ""), "");
        LLVMBuildStore(t->nv.b, c32(L, 0), nt_sptr(t, off));
        nt_endif(t, join);
    }
}

static LLVMValueRef stage_of(lk *L, LLVMValueRef j)
{
    LLVMValueRef s = LLVMBuildAnd(L->t.nv.b, j, c32(L, 1), "");
    return LLVMBuildMul(L->t.nv.b, s, c32(L, L->stage_bytes), "stage");
}

static bool needs_q(int mode)
{
    return mode == MODE_CAUSAL || mode == MODE_NC_OUT;
}

static bool decays(int mode)
{
    return mode == MODE_CAUSAL || mode == MODE_PREFIX || mode == MODE_LOCAL;
}

/* Block j; G (MODE_LOCAL with decay, else NULL) gains the block's Γlast. */
static void block_body(lk *L, int mode, LLVMValueRef j, LLVMValueRef G)
{
    nt *t = &L->t;
    const lin_plan *p = L->p;
    nt_cp_wait(t, 0);
    nt_barrier(t);
    LLVMValueRef jn = LLVMBuildAdd(t->nv.b, j, c32(L, 1), "");
    lk_issue_block(L, jn, stage_of(L, jn), needs_q(mode));
    nt_cp_commit(t);
    L->stage_off = stage_of(L, j);
    L->t0 = LLVMBuildMul(t->nv.b, j, c32(L, p->C), "t0");
    bool decayed = decays(mode) && p->decay != DECAY_NONE;
    bool gates = decayed && p->decay == DECAY_PER_TOKEN;
    if (p->transform)
        lk_transform(L, needs_q(mode));
    if (gates)
        lk_gates(L);
    if (p->transform || gates)
        nt_barrier(t);
    if (mode == MODE_CAUSAL && L->bstate_mode == BSTATE_DOT)
        lk_boundary(L, j);
    if (needs_q(mode))
        lk_outputs(L, mode == MODE_CAUSAL, decayed);
    if (mode == MODE_NC_OUT)
        return;
    nt_barrier(t);
    if (mode == MODE_CAUSAL && L->bstate_mode == BSTATE_DOT)
        lk_boundary_sum(L, j); /* after the barrier: every warp's partial is in */
    L->gam_last = decayed ? lk_gamma(L, c32(L, p->C - 1)) : NULL;
    nt_frag S;
    nt_fvar_get(t, &L->S, &S);
    lk_state_update(L, &S, decayed);
    nt_fvar_set(t, &L->S, &S);
    if (mode == MODE_CAUSAL && L->bstate_mode == BSTATE_STORE) /* the state at block j + 1's start */
        lk_boundary(L, LLVMBuildAdd(t->nv.b, j, c32(L, 1), ""));
    if (G)
        nt_set(t, G, LLVMBuildFAdd(t->nv.b, nt_get(t, G), L->gam_last, ""));
    if (p->normalize)
        lk_update_z(L);
    if (mode != MODE_LOCAL) /* the local pass's S is no start state: nobody reads it */
        lk_state_publish(L, &S);
}

/* One pass over blocks [jb, je) carrying S (and G, see block_body). */
static void block_loop(lk *L, int mode, LLVMValueRef jb, LLVMValueRef je, LLVMValueRef G)
{
    nt *t = &L->t;
    L->t_limit = nv_smin(&t->nv, L->ntok, LLVMBuildMul(t->nv.b, je, c32(L, L->p->C), ""));
    lk_issue_block(L, jb, stage_of(L, jb), needs_q(mode));
    nt_cp_commit(t);
    nt_loop loop;
    LLVMValueRef j = nt_for(t, &loop, jb, je);
    block_body(L, mode, j, G);
    nt_for_end(t, &loop);
    nt_cp_wait(t, 0); /* the zero-filled prefetch past the end */
    nt_barrier(t);    /* no warp still reads a stage the next pass refills */
}

/* Blocks [*jb, *je) of segment `seg` of `segs` (per = ceil(nblocks / segs)). */
static void segment(lk *L, LLVMValueRef segs, LLVMValueRef *jb, LLVMValueRef *je)
{
    nv_ctx *nv = &L->t.nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef per = LLVMBuildSDiv(b, LLVMBuildAdd(b, L->nblocks, LLVMBuildSub(b, segs, c32(L, 1), ""), ""), segs, "per");
    *jb = nv_smin(nv, LLVMBuildMul(b, L->seg, per, ""), L->nblocks);
    *je = nv_smin(nv, LLVMBuildAdd(b, *jb, per, ""), L->nblocks);
}

/* inter=chain (nvptx_linear_handoff.c): segs = clamp(chain_slots / (B H),
 * 1, segments) segments per (batch, head); CTAs past segs, or past the sequence, do
 * nothing. A local pass from a zero state gives L_s and its log2 decay
 * G_s, published at once; the look-back sums the state at the segment
 * start from the earlier segments' slots; the outputs run from it. */
static void emit_chain(lk *L)
{
    nt *t = &L->t;
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef bhn = LLVMBuildMul(b, nv_sreg(nv, "nctaid.y"), nv_sreg(nv, "nctaid.z"), "");
    LLVMValueRef segs = LLVMBuildUDiv(b, c32(L, L->p->chain_slots), bhn, "");
    segs = nv_smin(nv, nv_smax(nv, segs, c32(L, 1)), c32(L, L->p->segments));
    LLVMValueRef jb, je;
    segment(L, segs, &jb, &je);
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntSLT, jb, je, "")); /* CTA-uniform */
    bool decayed = L->p->decay != DECAY_NONE;
    LLVMValueRef G = decayed ? nt_var(t, nv->f32, nv_f32(nv, 0), "G") : NULL;
    block_loop(L, MODE_LOCAL, jb, je, G);
    LLVMValueRef base = LLVMBuildMul(b, L->bh, segs, "slot0");
    LLVMValueRef has_next = LLVMBuildICmp(b, LLVMIntSLT, je, L->nblocks, "");
    lk_chain_publish(L, has_next, LLVMBuildAdd(b, base, L->seg, ""), G ? nt_get(t, G) : NULL);
    if (L->p->chain_inclusive)
        lk_chain_lookback_inclusive(L, base, has_next, G ? nt_get(t, G) : NULL);
    else
        lk_chain_lookback(L, base, decayed);
    nt_frag S;
    nt_fvar_get(t, &L->S, &S);
    lk_state_publish(L, &S); /* the mirror of the start state; the loop's first barrier orders it */
    block_loop(L, MODE_CAUSAL, jb, je, NULL);
    nt_endif(t, join);
}

void lk_emit_kernel(lk *L)
{
    nt *t = &L->t;
    program_ids(L);
    per_head_decay(L);
    zero_state(L);
    nt_frag S;
    nt_zero(t, &S, L->p->D / L->p->rgs, L->p->dvs);
    L->S = nt_fvar_new(t, &S);
    LLVMValueRef zero = c32(L, 0);
    if (L->p->wide) {
        emit_chain(L);
    } else if (L->p->causal && L->p->segments > 1) {
        /* Segment seg covers blocks [jb, je): rebuild S over [0, jb), then outputs. */
        LLVMValueRef jb, je;
        segment(L, c32(L, L->p->segments), &jb, &je);
        LLVMValueRef pre = LLVMBuildSelect(t->nv.b, LLVMBuildICmp(t->nv.b, LLVMIntSLT, jb, je, ""), jb, zero, "");
        block_loop(L, MODE_PREFIX, zero, pre, NULL); /* an empty segment rebuilds nothing */
        block_loop(L, MODE_CAUSAL, jb, je, NULL);
    } else if (L->p->causal) {
        block_loop(L, MODE_CAUSAL, zero, L->nblocks, NULL);
    } else {
        block_loop(L, MODE_NC_STATE, zero, L->nblocks, NULL);
        block_loop(L, MODE_NC_OUT, zero, L->nblocks, NULL);
    }
    LLVMBuildRetVoid(t->nv.b);
}
