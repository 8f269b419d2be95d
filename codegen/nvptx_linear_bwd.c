/* nvptx_linear_bwd.c — the linear family's GPU backward (nvptx_bwd.h,
 * nvptx_linear_bwd_emit): three scans and the gate's chain rule.
 *
 * With w(t, s) = 2^(Γt - Γs) for s <= t (Γ the cumulative log gates) the
 * forward is o_t = Σ_s w (q_t·k_s) v_s, so
 *   dq_t = Σ_{s<=t} w (do_t·v_s) k_s  — the forward with (q, k, v) = (dO, V, K);
 *   dk_s = Σ_{t>=s} w (do_t·v_s) q_t  — the forward backwards in time with
 *                                       (q, k, v) = (V, dO, Q);
 *   dv_s = Σ_{t>=s} w (q_t·k_s) do_t  — backwards with (K, Q, dO).
 * Backwards in time (token t' = N-1-t') the weights are those of gates
 * g'_t' = g_{N-t'} (g'_0 multiplies the zero start state): lk's `reverse`.
 * Each scan is the forward's inter=chain kernel (segments handed over by
 * decoupled look-back, log2 space relative to block ends), so it is as
 * safe at N = 65536 with λ near 1 as the forward. dΓ_t = q_t·dq_t -
 * k_t·dk_t (the f32 sums before rounding, written by the dq and dk scans),
 * and d log a_t = Σ_{t'>=t} dΓ_t' (0 at t = 0), as the CPU backward. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvptx_abi.h"
#include "nvptx_bwd.h"
#include "nvptx_linear_tile.h"
#include "nvptx_target.h"
#include "../ir/target_info.h"

enum { GATE_THREADS = 256 };

typedef struct scan_role {
    int q, k, v, o, dot; /* kabi tensors in the forward's roles; dot: -1 none */
    int dot_slot;
    bool reverse;
    const char *name;
    nvptx_bwd_kind kind;
} scan_role;

/* The fused reverse scan (D = Dv): the dV scan also writes dK from the
 * same state (Σ q doᵀ read transposed) with V staged as X. */
static const scan_role fused_role = {KABI_K, KABI_Q, KABI_DO, KABI_DV, -1, 2, true, "attnc_lin_bwd_dkv", BWK_LIN_DKV};

static const scan_role roles[3] = {
    {KABI_DO, KABI_V, KABI_K, KABI_DQ, KABI_Q, 0, false, "attnc_lin_bwd_dq", BWK_LIN_DQ},
    {KABI_V, KABI_DO, KABI_Q, KABI_DK, KABI_K, 2, true, "attnc_lin_bwd_dk", BWK_LIN_DK},
    {KABI_K, KABI_Q, KABI_DO, KABI_DV, -1, 0, true, "attnc_lin_bwd_dv", BWK_LIN_DV},
};

static nvptx_status refuse(strbuf *err, const char *what)
{
    sb_printf(err, "GPU linear backward: %s", what);
    return NVPTX_UNSUPPORTED;
}

static void declare(nv_ctx *nv, const tir_kernel *k, int ngrad, const char *name, nvptx_abi_args *a)
{
    kabi_type kinds[NVPTX_MAX_PARAMS];
    for (int i = 0; i < k->nparams && i < NVPTX_MAX_PARAMS; i++)
        kinds[i] = nvptx_abi_param_kind(&k->params[i]);
    kernel_abi abi;
    kernel_abi_backward(&abi, k->nparams, kinds, ngrad, false); /* no TMA producer */
    memset(a, 0, sizeof *a);
    nvptx_abi_declare_table(nv, &abi, name, a);
}

static int dim_of(const tir_kernel *k, int tensor)
{
    return kabi_tensors[tensor].dim == KABI_DIM_V ? k->head_dim_v : k->head_dim;
}

static void finish(nt *t, LLVMValueRef fn)
{
    nv_annotate(&t->nv, fn, "kernel", 1);
    nv_annotate(&t->nv, fn, "maxntidx", t->threads);
    nv_annotate(&t->nv, fn, "minctasm", 1);
}

/* One scan: the forward's chain kernel on the backward's parameters. */
/* Shared memory of the fused scan under plan base. */
static int fused_smem(const lin_plan *base)
{
    lk L;
    memset(&L, 0, sizeof L);
    L.p = base;
    L.fused = true;
    lk_plan_smem(&L);
    return L.total;
}

static nvptx_status emit_scan(nv_ctx nv, const lin_plan *base, const scan_role *r, target_arch arch, int ngrad,
                              nvptx_bwd_kernel *out, strbuf *err)
{
    bool fused = r == &fused_role;
    lk *L = calloc(1, sizeof *L);
    if (!L)
        return refuse(err, "out of memory");
    lin_plan p = *base;
    p.D = dim_of(p.k, r->q);
    p.Dv = dim_of(p.k, r->v);
    p.dvs = p.Dv / 2;
    p.vt = p.Dv;
    L->p = &p;
    L->fused = fused;
    lk_plan_smem(L);
    nvptx_abi_args a;
    declare(&nv, p.k, ngrad, r->name, &a);
    int map[4] = {r->q, r->k, r->v, r->o};
    for (int i = 0; i < 4; i++) {
        L->tens[i] = a.tens[map[i]];
        memcpy(L->stride[i], a.stride[map[i]], sizeof L->stride[i]);
    }
    memcpy(L->size, a.size, sizeof L->size);
    memcpy(L->param, a.param, sizeof L->param);
    L->reverse = r->reverse;
    L->dots = ngrad > 0;
    if (fused) {
        L->tens[LT_X] = a.tens[KABI_V];
        memcpy(L->stride[LT_X], a.stride[KABI_V], sizeof L->stride[LT_X]);
        L->tens[LT_DX] = a.tens[KABI_DK];
        memcpy(L->stride[LT_DX], a.stride[KABI_DK], sizeof L->stride[LT_DX]);
        L->dot_ws = a.ws[KABI_WS_DELTA];
        L->dot_slot = r->dot_slot;
    }
    if (r->dot >= 0 && L->dots) {
        L->dot_ptr = a.tens[r->dot];
        memcpy(L->dot_stride, a.stride[r->dot], sizeof L->dot_stride);
        L->dot_ws = a.ws[KABI_WS_DELTA];
        L->dot_slot = r->dot_slot;
        if (ngrad) { /* the boundary terms: dq keeps its states, dk takes the dots */
            L->bstate_mode = r->kind == BWK_LIN_DQ ? BSTATE_STORE : BSTATE_DOT;
            L->aligned = L->bstate_mode == BSTATE_DOT;
            L->bstate = a.ws[KABI_WS_DQACC];
        }
    }
    nt_begin(&L->t, nv, a.fn, p.warps * 32, arch);
    lk_chain_globals(L);
    lk_emit_kernel(L);
    finish(&L->t, a.fn);
    snprintf(out->name, sizeof out->name, "%s", r->name);
    out->kind = r->kind;
    out->threads = L->t.threads;
    out->smem_bytes = L->total;
    nvptx_status st = NVPTX_OK;
    if (L->t.error) {
        sb_printf(err, "GPU linear backward: %s", L->t.error);
        st = NVPTX_INTERNAL;
    }
    free(L);
    return st;
}

/* ---- the gate's gradient ----
 *
 * d log a_t = Σ_{u >= t > s} A(u, s) (the pairs the gate of t sits
 * between), A(u, s) = w(u, s) (q_u·k_s)(do_u·v_s). With b1 the end of t's
 * block (a multiple of C, or N),
 *   d log a_t = d log a_b1 + Σ_{t <= t' < b1} dΓ_t',
 *   d log a_b1 = a_b1 <S_{b1-1}, R_b1>  (0 when b1 = N),
 * S the forward state after token b1 - 1, R the reversed state over tokens
 * >= b1 (gates b1+1..), their inner product written by the dk scan
 * (nvptx_linear_bound.c) at token b1, float 4. Summing dΓ over the whole
 * suffix instead (Σ_{t' >= t}) is exact too, but every pair inside the
 * suffix then cancels between the dq and dk scans' roundings (bf16
 * operands: ~2^-9 each): N / C times more noise than signal at N = 1000
 * with λ = 0.5 (rel L2 0.1-0.3; docs/linear-gpu.md). */

typedef struct gate_gen {
    nt t;
    LLVMTypeRef f64;
    LLVMValueRef ws, ntok, nblocks, bh, gate; /* gate: the per-token log gates, or NULL */
    int C;
} gate_gen;

static LLVMValueRef gi32(gate_gen *g, long long v)
{
    return nv_i32(&g->t.nv, v);
}

static LLVMValueRef row_of(gate_gen *g, LLVMValueRef tok)
{
    nv_ctx *nv = &g->t.nv;
    LLVMBuilderRef b = nv->b;
    return LLVMBuildAdd(b, LLVMBuildMul(b, LLVMBuildSExt(b, g->bh, nv->i64, ""), LLVMBuildSExt(b, g->ntok, nv->i64, ""), ""),
                        LLVMBuildSExt(b, tok, nv->i64, ""), "");
}

static LLVMValueRef ws_f32(gate_gen *g, LLVMValueRef tok, int i)
{
    nv_ctx *nv = &g->t.nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef e = LLVMBuildAdd(b, LLVMBuildShl(b, row_of(g, tok), nv_i64(nv, 3), ""), nv_i64(nv, i), ""); /* 8 a token */
    LLVMValueRef v = LLVMBuildLoad2(b, nv->f32, nv_gep(nv, g->ws, LLVMBuildShl(b, e, nv_i64(nv, 2), "")), "");
    LLVMSetAlignment(v, 4);
    return LLVMBuildFPExt(b, v, g->f64, "");
}

/* dΓ_t (f64): (q·dq partials) - (k·dk partials). */
static LLVMValueRef dgam(gate_gen *g, LLVMValueRef tok)
{
    LLVMBuilderRef b = g->t.nv.b;
    return LLVMBuildFSub(b, LLVMBuildFAdd(b, ws_f32(g, tok, 0), ws_f32(g, tok, 1), ""),
                         LLVMBuildFAdd(b, ws_f32(g, tok, 2), ws_f32(g, tok, 3), ""), "");
}

static LLVMValueRef smem_f64(gate_gen *g, LLVMValueRef idx)
{
    return nt_sptr(&g->t, LLVMBuildShl(g->t.nv.b, idx, gi32(g, 3), ""));
}

static void add_to(gate_gen *g, LLVMValueRef var, LLVMValueRef v)
{
    nt_set(&g->t, var, LLVMBuildFAdd(g->t.nv.b, nt_get(&g->t, var), v, ""));
}

/* a_b (f64): λ (per head), or e^gate[bh, b] clamped as the scans clamp it. */
static LLVMValueRef decay_at(gate_gen *g, LLVMValueRef lambda, LLVMValueRef tok)
{
    nv_ctx *nv = &g->t.nv;
    LLVMBuilderRef b = nv->b;
    if (!g->gate)
        return LLVMBuildFPExt(b, lambda, g->f64, "");
    LLVMValueRef v = LLVMBuildLoad2(b, nv->f32, nv_gep(nv, g->gate, LLVMBuildShl(b, row_of(g, tok), nv_i64(nv, 2), "")), "");
    LLVMSetAlignment(v, 4);
    v = LLVMBuildFMul(b, nv_fmax(nv, v, nv_f32(nv, -64.0)), nv_f32(nv, 1.4426950408889634), "");
    return LLVMBuildFPExt(b, nv_ex2(nv, v), g->f64, "");
}

/* The blocks of (batch, head) g->bh, thread tid taking blocks tid,
 * tid + threads, ...: d log a_t from each block's end backwards, into
 * dgate (per token, dparam non-NULL) and/or summed over t >= 1 into acc. */
static void blocks_of(gate_gen *g, LLVMValueRef dparam, LLVMValueRef lambda, LLVMValueRef acc)
{
    nt *t = &g->t;
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef s = nt_var(t, g->f64, LLVMConstReal(g->f64, 0), "s");
    nt_loop lb, l;
    LLVMValueRef blk = nt_for_step(t, &lb, t->tid, g->nblocks, GATE_THREADS);
    LLVMValueRef b0 = LLVMBuildMul(b, blk, gi32(g, g->C), "");
    LLVMValueRef b1 = LLVMBuildAdd(b, b0, gi32(g, g->C), "");
    LLVMValueRef inner = LLVMBuildICmp(b, LLVMIntSLT, b1, g->ntok, ""); /* a boundary inside the sequence */
    nt_set(t, s, LLVMConstReal(g->f64, 0));
    LLVMBasicBlockRef jb = nt_if(t, inner);
    nt_set(t, s, LLVMBuildFMul(b, decay_at(g, lambda, b1), ws_f32(g, b1, 4), ""));
    nt_endif(t, jb);
    LLVMValueRef n = LLVMBuildSub(b, nv_smin(nv, b1, g->ntok), b0, "");
    LLVMValueRef i = nt_for(t, &l, gi32(g, 0), n);
    LLVMValueRef tok = LLVMBuildSub(b, LLVMBuildSub(b, LLVMBuildAdd(b, b0, n, ""), gi32(g, 1), ""), i, "");
    add_to(g, s, dgam(g, tok));
    /* the first token's gate multiplies the empty state: exactly 0 */
    LLVMValueRef v = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, tok, gi32(g, 0), ""), LLVMConstReal(g->f64, 0),
                                     nt_get(t, s), "");
    if (dparam)
        LLVMSetAlignment(LLVMBuildStore(b, LLVMBuildFPTrunc(b, v, nv->f32, ""),
                                        nv_gep(nv, dparam, LLVMBuildShl(b, row_of(g, tok), nv_i64(nv, 2), ""))),
                         4);
    if (acc)
        add_to(g, acc, v);
    nt_for_end(t, &l);
    nt_for_end(t, &lb);
}

/* Per (head, batch) CTA, gate [batch, heads, tokens] f32. */
static void gate_per_token(gate_gen *g, LLVMValueRef dparam, LLVMValueRef head, LLVMValueRef H)
{
    LLVMBuilderRef b = g->t.nv.b;
    g->bh = LLVMBuildAdd(b, LLVMBuildMul(b, nv_sreg(&g->t.nv, "ctaid.z"), H, ""), head, "bh");
    blocks_of(g, dparam, NULL, NULL);
}

/* Per head CTA, decay [heads] f32: dλ = Σ_batch Σ_{t>=1} d log a_t / λ,
 * each thread's share in f64, then the threads' in order by thread 0. */
static void gate_per_head(gate_gen *g, LLVMValueRef dparam, LLVMValueRef lambda, LLVMValueRef head, LLVMValueRef H,
                          LLVMValueRef B)
{
    nt *t = &g->t;
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef off = LLVMBuildShl(b, LLVMBuildSExt(b, head, nv->i64, ""), nv_i64(nv, 2), "");
    LLVMValueRef lam = LLVMBuildLoad2(b, nv->f32, nv_gep(nv, lambda, off), "lambda");
    LLVMSetAlignment(lam, 4);
    LLVMValueRef acc = nt_var(t, g->f64, LLVMConstReal(g->f64, 0), "acc");
    nt_loop lb, l;
    LLVMValueRef bi = nt_for(t, &lb, gi32(g, 0), B);
    g->bh = LLVMBuildAdd(b, LLVMBuildMul(b, bi, H, ""), head, "bh");
    blocks_of(g, NULL, lam, acc);
    nt_for_end(t, &lb);
    LLVMBuildStore(b, nt_get(t, acc), smem_f64(g, t->tid));
    nt_barrier(t);
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, t->tid, gi32(g, 0), ""));
    LLVMValueRef s = nt_var(t, g->f64, LLVMConstReal(g->f64, 0), "s");
    LLVMValueRef j = nt_for(t, &l, gi32(g, 0), gi32(g, GATE_THREADS));
    add_to(g, s, LLVMBuildLoad2(b, g->f64, smem_f64(g, j), ""));
    nt_for_end(t, &l);
    LLVMValueRef v = LLVMBuildFDiv(b, nt_get(t, s), LLVMBuildFPExt(b, lam, g->f64, ""), "");
    LLVMSetAlignment(LLVMBuildStore(b, LLVMBuildFPTrunc(b, v, nv->f32, ""), nv_gep(nv, dparam, off)), 4);
    nt_endif(t, join);
}

/* attnc_lin_bwd_gate: blocks of C tokens over GATE_THREADS threads. */
static void emit_gate(nv_ctx nv, const tir_kernel *k, int ngrad, int gj, int C, target_arch arch, nvptx_bwd_kernel *out)
{
    gate_gen *g = calloc(1, sizeof *g);
    if (!g)
        return;
    nvptx_abi_args a;
    const char *name = "attnc_lin_bwd_gate";
    declare(&nv, k, ngrad, name, &a);
    nt *t = &g->t;
    nt_begin(t, nv, a.fn, GATE_THREADS, arch);
    LLVMBuilderRef b = nv.b;
    g->f64 = LLVMDoubleTypeInContext(nv.c);
    g->ws = a.ws[KABI_WS_DELTA];
    g->ntok = a.size[SZ_TOKENS];
    g->C = C;
    g->nblocks = LLVMBuildSDiv(b, LLVMBuildAdd(b, g->ntok, gi32(g, C - 1), ""), gi32(g, C), "nblocks");
    LLVMValueRef head = nv_sreg(&t->nv, "ctaid.y");
    if (k->linear.decay == DECAY_PER_HEAD) {
        gate_per_head(g, a.dparam[gj], a.param[k->linear.decay_param], head, a.size[SZ_HEADS], a.size[SZ_BATCH]);
    } else {
        g->gate = a.param[k->linear.decay_param];
        gate_per_token(g, a.dparam[gj], head, a.size[SZ_HEADS]);
    }
    LLVMBuildRetVoid(b);
    finish(t, a.fn);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->kind = BWK_LIN_GATE;
    out->threads = GATE_THREADS;
    out->smem_bytes = GATE_THREADS * 8;
    free(g);
}

/* What the program takes (see nvptx_bwd.h), or why not. */
static nvptx_status check(const tir_kernel *k, int ngrad, const int *grad_param, strbuf *err)
{
    const linear_attrs *lin = &k->linear;
    if (k->family != FAMILY_LINEAR)
        return refuse(err, "not a linear recipe");
    if (!lin->causal)
        return refuse(err, "causal recipes only");
    if (lin->normalize || lin->feature != FEATURE_IDENTITY)
        return refuse(err, "no feature map and no normaliser only");
    if (k->qkv_dtype != DT_BF16 && k->qkv_dtype != DT_F16)
        return refuse(err, "q/k/v must be bf16 or f16");
    if ((k->head_dim != 64 && k->head_dim != 128) || (k->head_dim_v != 64 && k->head_dim_v != 128))
        return refuse(err, "head dims of 64 or 128 only");
    if (k->nparams > NVPTX_MAX_PARAMS)
        return refuse(err, "too many params");
    if (ngrad > 1 || (ngrad == 1 && (lin->decay == DECAY_NONE || grad_param[0] != lin->decay_param)))
        return refuse(err, "only the decay param can have a gradient");
    if (ngrad == 1) {
        const tir_param *rp = &k->params[lin->decay_param];
        if (rp->dtype != DT_F32)
            return refuse(err, "the decay param must be f32");
        if (lin->decay == DECAY_PER_TOKEN ? rp->ndim != 3 : rp->ndim != 1)
            return refuse(err, "the decay param must be [heads] (per head) or [batch, heads, tokens] (per token)");
    }
    return NVPTX_OK;
}

static void describe(const tir_kernel *k, const lin_plan *p, target_arch arch, int ngrad, const int *grad_param,
                     nvptx_bwd_info *info)
{
    memset(info, 0, sizeof *info);
    info->arch = arch;
    info->linear = true;
    info->lin_grid_x = p->Dv / p->vt * p->segments;
    info->lin_per_head = k->linear.decay == DECAY_PER_HEAD;
    info->ndims = 1;
    info->q_tile[0] = info->kv_tile[0] = p->C;
    info->dt = k->qkv_dtype;
    info->head_dim = k->head_dim;
    info->head_dim_v = k->head_dim_v;
    info->nparams = k->nparams;
    for (int i = 0; i < k->nparams && i < NVPTX_MAX_PARAMS; i++) {
        const tir_param *rp = &k->params[i];
        info->param_scalar[i] = rp->ndim == 0;
        info->param_float[i] = rp->dtype == DT_F32 || rp->dtype == DT_BF16 || rp->dtype == DT_F16;
    }
    info->ngrad = ngrad;
    for (int j = 0; j < ngrad; j++)
        info->grad_param[j] = grad_param[j];
}

nvptx_status nvptx_linear_bwd_emit(const tir_kernel *k, target_arch arch, int ngrad, const int *grad_param,
                                   bool fused, nvptx_bwd_info *info, strbuf *ptx, strbuf *err)
{
    memset(info, 0, sizeof *info);
    if (!nvptx_arch_name(arch))
        return refuse(err, "GPU code generation needs an sm_80 or sm_90a target");
    nvptx_status st = check(k, ngrad, grad_param, err);
    if (st)
        return st;
    tir_kernel kc = *k; /* the forward's inter=chain plan */
    kc.sched.inter = INTER_CHAIN;
    kc.sched.linear_block = 64;
    lin_plan base;
    if ((st = lk_make_plan(&kc, &base, err)))
        return st;
    describe(k, &base, arch, ngrad, grad_param, info);
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef m = nvptx_module_create(c, "attnc_lin_bwd", arch);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
    nv_ctx nv;
    nv_ctx_init(&nv, c, m, b);
    int limit = target_info_of(arch)->smem_block_optin;
    /* fused: where D = Dv and its fourth staged tile fits (sm_90a); not
     * with a decay gradient (its state is the dk scan's transposed: no
     * boundary dots) */
    fused = fused && !ngrad && k->head_dim == k->head_dim_v && fused_smem(&base) <= limit;
    const scan_role *scans[3] = {&roles[0], fused ? &fused_role : &roles[1], &roles[2]};
    int nscan = fused ? 2 : 3;
    for (int i = 0; i < nscan && !st; i++) {
        st = emit_scan(nv, &base, scans[i], arch, ngrad, &info->kernels[i], err);
        if (!st && info->kernels[i].smem_bytes > limit)
            st = refuse(err, "the scan needs more shared memory than the target has");
        info->nkernels = i + 1;
    }
    if (!st && ngrad) {
        emit_gate(nv, &kc, ngrad, 0, base.C, arch, &info->kernels[nscan]);
        info->nkernels = nscan + 1;
    }
    return nvptx_module_finish(m, b, arch, st, ptx, err);
}
