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
    kernel_abi_backward(&abi, k->nparams, kinds, ngrad);
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
    if (fused) {
        L->tens[LT_X] = a.tens[KABI_V];
        memcpy(L->stride[LT_X], a.stride[KABI_V], sizeof L->stride[LT_X]);
        L->tens[LT_DX] = a.tens[KABI_DK];
        memcpy(L->stride[LT_DX], a.stride[KABI_DK], sizeof L->stride[LT_DX]);
        L->dot_ws = a.ws[KABI_WS_DELTA];
        L->dot_slot = r->dot_slot;
    }
    if (r->dot >= 0) {
        L->dot_ptr = a.tens[r->dot];
        memcpy(L->dot_stride, a.stride[r->dot], sizeof L->dot_stride);
        L->dot_ws = a.ws[KABI_WS_DELTA];
        L->dot_slot = r->dot_slot;
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

/* ---- the gate's gradient ---- */

typedef struct gate_gen {
    nt t;
    LLVMTypeRef f64;
    LLVMValueRef ws, ntok, lo, hi;
} gate_gen;

static LLVMValueRef gi32(gate_gen *g, long long v)
{
    return nv_i32(&g->t.nv, v);
}

/* dΓ_t of row bh (f64): (q·dq partials) - (k·dk partials). */
static LLVMValueRef dgam(gate_gen *g, LLVMValueRef bh, LLVMValueRef tok)
{
    nv_ctx *nv = &g->t.nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef row = LLVMBuildAdd(b, LLVMBuildMul(b, LLVMBuildSExt(b, bh, nv->i64, ""), LLVMBuildSExt(b, g->ntok, nv->i64, ""), ""),
                                    LLVMBuildSExt(b, tok, nv->i64, ""), "");
    LLVMValueRef base = LLVMBuildShl(b, row, nv_i64(nv, 4), ""); /* 16 bytes a token */
    LLVMValueRef x[4];
    for (int i = 0; i < 4; i++) {
        LLVMValueRef v = LLVMBuildLoad2(b, nv->f32, nv_gep(nv, g->ws, LLVMBuildAdd(b, base, nv_i64(nv, 4 * i), "")), "");
        LLVMSetAlignment(v, 4);
        x[i] = LLVMBuildFPExt(b, v, g->f64, "");
    }
    return LLVMBuildFSub(b, LLVMBuildFAdd(b, x[0], x[1], ""), LLVMBuildFAdd(b, x[2], x[3], ""), "");
}

static LLVMValueRef smem_f64(gate_gen *g, LLVMValueRef idx)
{
    return nt_sptr(&g->t, LLVMBuildShl(g->t.nv.b, idx, gi32(g, 3), ""));
}

static void add_to(gate_gen *g, LLVMValueRef var, LLVMValueRef v)
{
    nt_set(&g->t, var, LLVMBuildFAdd(g->t.nv.b, nt_get(&g->t, var), v, ""));
}

/* Per (head, batch) CTA, gate [batch, heads, tokens] f32: each thread's run
 * of tokens [lo, hi) sums to smem; its suffix over the later runs, then
 * the run backwards writes d log a_t. */
static void gate_per_token(gate_gen *g, LLVMValueRef dparam, LLVMValueRef head, LLVMValueRef H)
{
    nt *t = &g->t;
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef bh = LLVMBuildAdd(b, LLVMBuildMul(b, nv_sreg(nv, "ctaid.z"), H, ""), head, "bh");
    LLVMValueRef s = nt_var(t, g->f64, LLVMConstReal(g->f64, 0), "s");
    nt_loop l;
    LLVMValueRef tok = nt_for(t, &l, g->lo, g->hi);
    add_to(g, s, dgam(g, bh, tok));
    nt_for_end(t, &l);
    LLVMBuildStore(b, nt_get(t, s), smem_f64(g, t->tid));
    nt_barrier(t);
    nt_set(t, s, LLVMConstReal(g->f64, 0));
    LLVMValueRef j = nt_for(t, &l, LLVMBuildAdd(b, t->tid, gi32(g, 1), ""), gi32(g, GATE_THREADS));
    add_to(g, s, LLVMBuildLoad2(b, g->f64, smem_f64(g, j), ""));
    nt_for_end(t, &l);
    LLVMValueRef i = nt_for(t, &l, gi32(g, 0), LLVMBuildSub(b, g->hi, g->lo, ""));
    tok = LLVMBuildSub(b, LLVMBuildSub(b, g->hi, gi32(g, 1), ""), i, "");
    add_to(g, s, dgam(g, bh, tok));
    LLVMValueRef v = LLVMBuildFPTrunc(b, nt_get(t, s), nv->f32, "");
    v = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, tok, gi32(g, 0), ""), nv_f32(nv, 0), v, "");
    LLVMValueRef e = LLVMBuildAdd(b, LLVMBuildMul(b, LLVMBuildSExt(b, bh, nv->i64, ""), LLVMBuildSExt(b, g->ntok, nv->i64, ""), ""),
                                  LLVMBuildSExt(b, tok, nv->i64, ""), "");
    LLVMSetAlignment(LLVMBuildStore(b, v, nv_gep(nv, dparam, LLVMBuildShl(b, e, nv_i64(nv, 2), ""))), 4);
    nt_for_end(t, &l);
}

/* Per head CTA, decay [heads] f32: dλ = Σ_batch Σ_t t dΓ_t / λ (Σ_{t>=1}
 * of the suffix sums), reduced in thread order, f64. */
static void gate_per_head(gate_gen *g, LLVMValueRef dparam, LLVMValueRef lambda, LLVMValueRef head, LLVMValueRef H,
                          LLVMValueRef B)
{
    nt *t = &g->t;
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef s = nt_var(t, g->f64, LLVMConstReal(g->f64, 0), "s");
    nt_loop lb, l;
    LLVMValueRef bi = nt_for(t, &lb, gi32(g, 0), B);
    LLVMValueRef bh = LLVMBuildAdd(b, LLVMBuildMul(b, bi, H, ""), head, "bh");
    LLVMValueRef tok = nt_for(t, &l, g->lo, g->hi);
    LLVMValueRef w = LLVMBuildSIToFP(b, tok, g->f64, "");
    add_to(g, s, LLVMBuildFMul(b, w, dgam(g, bh, tok), ""));
    nt_for_end(t, &l);
    nt_for_end(t, &lb);
    LLVMBuildStore(b, nt_get(t, s), smem_f64(g, t->tid));
    nt_barrier(t);
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, t->tid, gi32(g, 0), ""));
    nt_set(t, s, LLVMConstReal(g->f64, 0));
    LLVMValueRef j = nt_for(t, &l, gi32(g, 0), gi32(g, GATE_THREADS));
    add_to(g, s, LLVMBuildLoad2(b, g->f64, smem_f64(g, j), ""));
    nt_for_end(t, &l);
    LLVMValueRef off = LLVMBuildShl(b, LLVMBuildSExt(b, head, nv->i64, ""), nv_i64(nv, 2), "");
    LLVMValueRef lam = LLVMBuildLoad2(b, nv->f32, nv_gep(nv, lambda, off), "lambda");
    LLVMSetAlignment(lam, 4);
    LLVMValueRef v = LLVMBuildFDiv(b, nt_get(t, s), LLVMBuildFPExt(b, lam, g->f64, ""), "");
    LLVMSetAlignment(LLVMBuildStore(b, LLVMBuildFPTrunc(b, v, nv->f32, ""), nv_gep(nv, dparam, off)), 4);
    nt_endif(t, join);
}

/* attnc_lin_bwd_gate: tokens split in GATE_THREADS contiguous runs. */
static void emit_gate(nv_ctx nv, const tir_kernel *k, int ngrad, int gj, target_arch arch, nvptx_bwd_kernel *out)
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
    LLVMValueRef per = LLVMBuildSDiv(b, LLVMBuildAdd(b, g->ntok, gi32(g, GATE_THREADS - 1), ""), gi32(g, GATE_THREADS), "");
    g->lo = nv_smin(&t->nv, LLVMBuildMul(b, t->tid, per, ""), g->ntok);
    g->hi = nv_smin(&t->nv, LLVMBuildAdd(b, g->lo, per, ""), g->ntok);
    LLVMValueRef head = nv_sreg(&t->nv, "ctaid.y");
    if (k->linear.decay == DECAY_PER_HEAD)
        gate_per_head(g, a.dparam[gj], a.param[k->linear.decay_param], head, a.size[SZ_HEADS], a.size[SZ_BATCH]);
    else
        gate_per_token(g, a.dparam[gj], head, a.size[SZ_HEADS]);
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
    /* fused: where D = Dv and its fourth staged tile fits (sm_90a) */
    fused = fused && k->head_dim == k->head_dim_v && fused_smem(&base) <= limit;
    const scan_role *scans[3] = {&roles[0], fused ? &fused_role : &roles[1], &roles[2]};
    int nscan = fused ? 2 : 3;
    for (int i = 0; i < nscan && !st; i++) {
        st = emit_scan(nv, &base, scans[i], arch, ngrad, &info->kernels[i], err);
        if (!st && info->kernels[i].smem_bytes > limit)
            st = refuse(err, "the scan needs more shared memory than the target has");
        info->nkernels = i + 1;
    }
    if (!st && ngrad) {
        emit_gate(nv, &kc, ngrad, 0, arch, &info->kernels[nscan]);
        info->nkernels = nscan + 1;
    }
    if (!st && !nvptx_module_to_ptx(m, arch, ptx, err))
        st = NVPTX_INTERNAL;
    LLVMDisposeBuilder(b);
    LLVMDisposeModule(m);
    LLVMContextDispose(c);
    return st;
}
