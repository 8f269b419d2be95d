/* cuda_bwd_job.c — the GPU backward program's compile job and its kernel
 * cache entries; see cuda_bwd_job.h. */
#include "runtime/cuda/cuda_bwd_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/lower_backward.h"
#include "passes/pipeline.h"
#include "runtime/api/api_kcache.h"

extern char **environ;

/* Which products the backward uses: $ATTNC_BWD_MMA (wgmma, sync, auto),
 * else auto: wgmma on sm_90a where it serves (H200, causal D=128 N=16384:
 * 8.72 ms against mma.sync's 13.80), mma.sync elsewhere. An explicit schedule's mma= is the forward's (bench and
 * tuned schedules carry mma=wgmma for it), so it does not pick these. */
static mma_kind bwd_mma(void)
{
    const char *e = getenv("ATTNC_BWD_MMA");
    if (e && !strcmp(e, "wgmma"))
        return MMA_WGMMA;
    if (e && !strcmp(e, "sync"))
        return MMA_SYNC;
    if (e && !strcmp(e, "auto"))
        return MMA_AUTO;
    return MMA_AUTO;
}

/* How dQ is formed (nvptx_bwd.h) under the program's schedule s:
 * $ATTNC_BWD_DQ=kernel|atomic|bulk ($ATTNC_BWD_DQ_ATOMIC=1, the older
 * switch, means atomic when ATTNC_BWD_DQ is unset), else bulk. A
 * deterministic build always takes the dQ kernel; bulk needs the wgmma
 * schedule and falls back to the kernel without it. H200 (2026-12-03),
 * causal D=128 N=16384: bulk 7.34 ms, the dQ kernel 8.14, atomic (scalar
 * red.global.add.f32, 64x128 per tile pair) 18.84; dense 16.16 vs 16.63;
 * causal N=8192 B=2 4.00 vs 4.34. */
static nvptx_bwd_dq dq_mode(const cuda_bwd_job *j, const schedule *s)
{
    const char *e = getenv("ATTNC_BWD_DQ"), *alias = getenv("ATTNC_BWD_DQ_ATOMIC");
    nvptx_bwd_dq m = NVPTX_BWD_DQ_BULK;
    if (e && !strcmp(e, "kernel"))
        m = NVPTX_BWD_DQ_KERNEL;
    else if ((e && !strcmp(e, "atomic")) || (!e && alias && alias[0] == '1'))
        m = NVPTX_BWD_DQ_ATOMIC;
    if (j->deterministic)
        return NVPTX_BWD_DQ_KERNEL;
    if (m == NVPTX_BWD_DQ_BULK && s->mma != MMA_WGMMA)
        return NVPTX_BWD_DQ_KERNEL;
    return m;
}

/* How much the wgmma kernels overlap: $ATTNC_BWD_PIPE=1..4 takes
 * NVPTX_BWD_OVERLAP_PIPE + 0..3 (the pipelined dK/dV pair; opt-in: docs/runtime.md has the H200 numbers),
 * else $ATTNC_BWD_OVERLAP 0..3 (nvptx_bwd.h), else
 * NVPTX_BWD_OVERLAP_DEFAULT with NVPTX_BWD_LEVEL_UNSET (the producer's own
 * order where it is taken); or-ed with the dK/dV kernel's TMA producer:
 * $ATTNC_BWD_PRODUCER unset or 1 NVPTX_BWD_PRODUCER (the default), 2 also
 * NVPTX_BWD_PRODUCER_DS_SPLIT, 0 none. */
static int bwd_overlap(void)
{
    const char *e = getenv("ATTNC_BWD_OVERLAP");
    const char *pipe = getenv("ATTNC_BWD_PIPE");
    const char *prod = getenv("ATTNC_BWD_PRODUCER");
    int flag = prod && !strcmp(prod, "0") ? 0
               : prod && !strcmp(prod, "2") ? NVPTX_BWD_PRODUCER | NVPTX_BWD_PRODUCER_DS_SPLIT
                                             : NVPTX_BWD_PRODUCER;
    if (pipe && pipe[0] >= '1' && pipe[0] <= '4' && !pipe[1]) /* NVPTX_BWD_OVERLAP_PIPE .. _PIPE_SDP_LATE */
        return flag | (NVPTX_BWD_OVERLAP_PIPE + pipe[0] - '1');
    if (e && e[0] >= '0' && e[0] <= '3' && !e[1])
        return flag | (e[0] - '0');
    return flag | NVPTX_BWD_OVERLAP_DEFAULT | NVPTX_BWD_LEVEL_UNSET;
}

/* The code generator reads the recipe's kernel header (lower_signature),
 * not the recipe: the backward schedule and the wgmma fit from it. */
static schedule bwd_schedule(const cuda_bwd_job *j)
{
    arena a;
    arena_init(&a, NULL);
    schedule s = nvptx_bwd_schedule_mma(lower_signature(&a, j->r), j->base, j->arch, bwd_mma());
    arena_free_all(&a);
    return s;
}

/* The dK/dV kernel's own tiles (nvptx_bwd_dkv_schedule), the dQ kernel
 * keeping s's (s takes their query box): by default (or
 * $ATTNC_BWD_DKV_KEYS=128; =64 turns it off) 128 keys under the wgmma
 * schedule's 64-key 1-D tiles (two warpgroups share each Q/dO tile: half
 * the Q/dO traffic per product; H200, causal D=128 N=16384: 8.06 ms vs
 * 8.66); on 2-D/3-D grids 128-key boxes (q=8x8 kv=8x16, q=4x2x8
 * kv=4x4x8; H200: 17x17 on 128x128 1.07 ms vs 1.24, 7x13x13 on 16x32x32
 * 3.90 vs 6.79), $ATTNC_BWD_DKV_BOX=off keeps the 64-token boxes, an
 * explicit "q=8x8 kv=16x8" sets them. The schedule text says so. */
static bool wide_dkv(const cuda_bwd_job *j, schedule *s, schedule *wide)
{
    arena a;
    arena_init(&a, NULL);
    bool ok = nvptx_bwd_dkv_schedule(lower_signature(&a, j->r), s, j->arch, getenv("ATTNC_BWD_DKV_KEYS"),
                                     getenv("ATTNC_BWD_DKV_BOX"), wide);
    arena_free_all(&a);
    return ok;
}

/* " (dK/dV kv=128)" for 1-D, " (dK/dV q=8x8 kv=8x16)" for grids: the
 * dK/dV kernel's tiles where they differ from the schedule's. */
static void dkv_text(const schedule *s, const schedule *w, char *out, size_t cap)
{
    strbuf sb;
    sb_init(&sb);
    for (int side = 0; side < 2; side++) {
        const int *t = side ? w->kv_tile : w->q_tile, *o = side ? s->kv_tile : s->q_tile;
        if (!memcmp(t, o, sizeof(int) * (size_t)w->ndims))
            continue;
        sb_puts(&sb, sb.len ? " " : " (dK/dV ");
        sb_puts(&sb, side ? "kv=" : "q=");
        for (int d = 0; d < w->ndims; d++)
            sb_printf(&sb, d ? "x%d" : "%d", t[d]);
    }
    snprintf(out, cap, "%s%s", sb.failed ? "" : sb_cstr(&sb), sb.len && !sb.failed ? ")" : "");
    sb_free(&sb);
}

static attnc_status map_codegen(nvptx_status s)
{
    return s == NVPTX_OK ? ATTNC_OK : s == NVPTX_UNSUPPORTED ? ATTNC_ERR_UNSUPPORTED : ATTNC_ERR_INTERNAL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cuda_bwd_variant(const cuda_bwd_job *j, strbuf *out)
{
    schedule wide;
    schedule s = bwd_schedule(j);
    sb_printf(out, "bwd mma=%d dq=%d overlap=%d split=%d det=%d", (int)s.mma, (int)dq_mode(j, &s), bwd_overlap(),
              wide_dkv(j, &s, &wide), j->deterministic);
    enum { MAX_VARS = 64 };
    const char *vars[MAX_VARS];
    int n = 0;
    for (char **e = environ; e && *e && n < MAX_VARS; e++)
        if (!strncmp(*e, "ATTNC_BWD_", 10))
            vars[n++] = *e;
    qsort(vars, (size_t)n, sizeof *vars, cmp_str);
    for (int i = 0; i < n; i++)
        sb_printf(out, " %s", vars[i]);
    for (int p = 0; p < j->r->nparams; p++) /* the lowered IR says it too: one more guard */
        if (j->r->params[p].no_grad)
            sb_printf(out, " no_grad=%s", j->r->params[p].name);
    int full = nvptx_doc_full_mode(); /* the dQ kernel's document runs (nvptx_bwd_span.c) */
    if (full >= 0)
        sb_printf(out, " doc_full=%d", full);
    int fma = nvptx_scale_fma_mode(); /* P recomputed from raw s (gb_prob) */
    if (fma >= 0)
        sb_printf(out, " scale_fma=%d", fma);
    int th = nvptx_tanh_approx_mode(); /* tanh in scores and their derivatives (emit_expr.c) */
    if (th >= 0)
        sb_printf(out, " tanh_approx=%d", th);
    int uw = nvptx_uniform_warp_mode(); /* the kernels' warp index (nt_uniform_warp) */
    if (uw >= 0)
        sb_printf(out, " uniform_warp=%d", uw);
}

/* ---- emission, directly or through the cache ---- */

typedef struct emit_state {
    const cuda_bwd_job *j;
    const tir_program *prog, *dq_prog;
    int overlap;
    nvptx_bwd_dq dq;
    attnc_status st; /* the code generator's, when it failed */
    strbuf *err;
} emit_state;

static attnc_status emit(emit_state *e, nvptx_bwd_info *info, strbuf *ptx)
{
    attnc_status st = map_codegen(
        nvptx_bwd_emit(e->prog, e->dq_prog, e->j->arch, e->dq, e->overlap, info, ptx, e->err));
    if (!st && ptx->failed)
        st = ATTNC_ERR_NOMEM;
    return st;
}

/* cache_build_fn: payload = info bytes then the PTX text (kcache_pack). */
static bool build_entry(void *user, void **data, size_t *len, strbuf *err)
{
    emit_state *e = user;
    nvptx_bwd_info info;
    memset(&info, 0, sizeof info);
    strbuf ptx;
    sb_init(&ptx);
    e->st = emit(e, &info, &ptx);
    *data = e->st ? NULL : kcache_pack(&info, sizeof info, &ptx, len);
    if (!e->st && !*data)
        e->st = ATTNC_ERR_NOMEM;
    if (!*data)
        sb_puts(err, "backward PTX generation failed");
    sb_free(&ptx);
    return *data != NULL;
}

static bool unpack(const void *data, size_t len, target_arch arch, nvptx_bwd_info *info, strbuf *ptx)
{
    return kcache_unpack(data, len, info, sizeof *info, ptx) && info->arch == arch && info->nkernels >= 1 &&
           info->nkernels <= NVPTX_BWD_MAX_KERNELS;
}

static bool program_key(emit_state *e, const char *sched_text, cache_key *key)
{
    strbuf ir, variant;
    sb_init(&ir);
    sb_init(&variant);
    tir_print_program(&ir, (tir_program *)e->prog);
    if (e->dq_prog) {
        sb_puts(&ir, "\n; dq program\n");
        tir_print_program(&ir, (tir_program *)e->dq_prog);
    }
    sb_printf(&variant, "%s ", e->j->recipe_hash);
    cuda_bwd_variant(e->j, &variant);
    bool ok = !ir.failed && !variant.failed;
    if (ok) {
        cache_key_parts p = {sb_cstr(&ir), sched_text, nvptx_arch_name(e->j->arch), sb_cstr(&variant)};
        *key = cache_key_make(&p);
    }
    sb_free(&ir);
    sb_free(&variant);
    return ok;
}

static attnc_status emit_cached(emit_state *e, cuda_bwd_out *out)
{
    const cuda_bwd_job *j = e->j;
    kcache *c = j->ctx && j->recipe_hash && j->recipe_hash[0] ? ctx_kernel_cache(j->ctx) : NULL;
    cache_key key;
    out->how = CACHE_MISS;
    if (!c || !program_key(e, out->sched_text, &key))
        return emit(e, &out->info, &out->ptx);
    void *data = NULL;
    size_t len = 0;
    strbuf note;
    sb_init(&note);
    cache_result res = cache_get_or_build(c, key, CACHE_PTX, build_entry, e, &data, &len, &note);
    if (res == CACHE_CORRUPT)
        snprintf(out->note, sizeof out->note, "kernel cache: %s (backward PTX entry rebuilt)", sb_cstr(&note));
    sb_free(&note);
    if (res == CACHE_ERROR && e->st) { /* the code generator failed: its message is in err */
        free(data);
        return e->st;
    }
    bool ok = res != CACHE_ERROR && unpack(data, len, j->arch, &out->info, &out->ptx);
    free(data);
    if (!ok) { /* unusable cache: emit directly */
        sb_clear(&out->ptx);
        return emit(e, &out->info, &out->ptx);
    }
    out->how = res;
    return ATTNC_OK;
}

/* The linear family (codegen nvptx_linear_bwd_emit): no lowering, no
 * variants; emitted directly (it takes a few milliseconds). The schedule
 * is the forward's. */
static attnc_status compile_linear(arena *a, const cuda_bwd_job *j, cuda_bwd_out *out, strbuf *err)
{
    const tir_kernel *sig = lower_signature(a, j->r);
    int np = j->r->nparams > 0 ? j->r->nparams : 1, ngrad = 0, gp[NVPTX_MAX_PARAMS];
    bool *grad = ARENA_ARRAY(a, bool, np);
    if (!sig || !grad)
        return ATTNC_ERR_NOMEM;
    backward_grad_params(a, j->r, grad);
    for (int p = 0; p < j->r->nparams; p++)
        if (grad[p] && ngrad < NVPTX_MAX_PARAMS)
            gp[ngrad++] = p;
    out->sched = j->base ? *j->base : j->r->sched;
    snprintf(out->sched_text, sizeof out->sched_text, "linear backward: dq, dk, dv scans (inter=chain)%s",
             ngrad ? " + gate" : "");
    /* the fused dK/dV scan where it applies (sm_90a, no decay gradient; codegen/nvptx_plan.c says why) */
    bool fused = nvptx_bwd_linear_fused_mode() != 0;
    attnc_status st = map_codegen(nvptx_linear_bwd_emit(sig, j->arch, ngrad, gp, fused, &out->info, &out->ptx, err));
    if (!st && out->info.kernels[1].kind == BWK_LIN_DKV)
        snprintf(out->sched_text, sizeof out->sched_text, "linear backward: dq, fused dk+dv scans (inter=chain)%s",
                 ngrad ? " + gate" : "");
    if (!st && out->ptx.failed)
        st = ATTNC_ERR_NOMEM;
    return st;
}

attnc_status cuda_bwd_compile(arena *a, const cuda_bwd_job *j, cuda_bwd_out *out, strbuf *err)
{
    memset(out, 0, sizeof *out);
    sb_init(&out->ptx);
    out->how = CACHE_MISS;
    if (j->r->family == FAMILY_LINEAR)
        return compile_linear(a, j, out, err);
    out->sched = bwd_schedule(j);
    schedule wide; /* the dK/dV kernel's; out->sched takes its query box */
    bool split = wide_dkv(j, &out->sched, &wide);
    strbuf sb;
    sb_init(&sb);
    schedule_print_for(&sb, &out->sched, false);
    tir_program prog, dkv_prog;
    if (!lower_backward(a, j->r, &out->sched, j->arch, &prog, err) ||
        (split && !lower_backward(a, j->r, &wide, j->arch, &dkv_prog, err))) {
        sb_free(&sb);
        return a->failed ? ATTNC_ERR_NOMEM : ATTNC_ERR_INTERNAL;
    }
    nvptx_bwd_dq dq = dq_mode(j, &out->sched);
    /* the schedule text says what it took (tests and bench lines read it) */
    char dkv[64] = "";
    if (split)
        dkv_text(&out->sched, &wide, dkv, sizeof dkv);
    snprintf(out->sched_text, sizeof out->sched_text, "%s%s%s", sb_cstr(&sb), dkv,
             dq == NVPTX_BWD_DQ_BULK ? " (dQ bulk)" : "");
    sb_free(&sb);
    emit_state e = {j, split ? &dkv_prog : &prog, split ? &prog : NULL, bwd_overlap(), dq, ATTNC_OK, err};
    attnc_status st = emit_cached(&e, out);
    size_t len = strlen(out->sched_text);
    if (!st && out->info.producer && len + 16 < sizeof out->sched_text) /* $ATTNC_BWD_PRODUCER took */
        snprintf(out->sched_text + len, sizeof out->sched_text - len, " (TMA producer%s)",
                 out->info.dq_defer ? ", dQ deferred" : "");
    return st;
}
