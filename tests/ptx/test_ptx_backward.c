/* test_ptx_backward.c — every shipped softmax recipe's GPU backward module
 * (codegen/nvptx_bwd*.c: pre, dK/dV, and the atomic dQ conversion or the
 * deterministic dQ kernel, and attnc_bwd_dparam for recipes whose score
 * reads a float param with a gradient) through ptxas for sm_80 and sm_90a;
 * every recipe with param gradients must assemble too (the shipped ones and
 * those of tests/gpu/test_gpu_backward.c: a bias table, a bias tensor,
 * two params).
 * Linear recipes are skipped. sm_90a is compiled twice: mma.sync and the
 * warpgroup-MMA backward (nvptx_bwd_schedule_mma(MMA_WGMMA); recipes whose
 * shapes it cannot serve fall back to mma.sync and say so). Spills are
 * printed; ATTNC_PTX_VERBOSE=1 prints ptxas -v; ATTNC_PTX_WGMMA_ONLY=1 runs
 * the wgmma builds only, ATTNC_PTX_SYNC_ONLY=1 the mma.sync ones (CTest runs
 * the two halves as two tests); ATTNC_BWD_OVERLAP=N emits that overlap level;
 * the dK/dV kernel at 128 keys unless ATTNC_BWD_DKV_KEYS=64, on grids at
 * 128-key boxes unless ATTNC_BWD_DKV_BOX=off (as the runtime:
 * nvptx_bwd_dkv_schedule).
 * Each build is made for the three ways of forming dQ: the dQ kernel
 * (deterministic), atomics, and (wgmma builds only, as the runtime) bulk
 * reductions from shared f32 tiles (cp.reduce.async.bulk); ATTNC_PTX_DQ=
 * kernel|atomic|bulk keeps one. test_backward_parts: union masks under
 * ATTNC_BWD_PARTS=1 against =0 (ATTNC_PTX_PARTS_ONLY=1: that alone).
 * The backward's document cut ($ATTNC_BWD_DOC_SPAN=1) on document.attn:
 * test_backward_doc_span (alone: ATTNC_PTX_DOC_SPAN_ONLY=1).
 * test_backward_scale_fma: $ATTNC_SCALE_FMA=1's P from raw s (wgmma half;
 * alone: ATTNC_PTX_SCALE_FMA_ONLY=1). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codegen/nvptx_bwd.h"
#include "frontend/frontend.h"
#include "passes/lower_backward.h"
#include "passes/pipeline.h"
#include "ptxas_run.h"
#include "source_tree.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_recipes(char **names, int max)
{
    DIR *d = test_opendir_recipes();
    int n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < max;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".attn"))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    return n;
}

/* Param-gradient recipes besides the shipped ones (test_gpu_backward.c's). */
static const char *const extra[][2] = {
    {"bias_cross", "recipe bias\ninput q : f16 [batch, heads, tokens, 64]\n"
                   "input k, v : f16 [batch, kv_heads, kv_tokens, 64]\nparam bias : bf16 [heads, tokens, kv_tokens]\n"
                   "score s * scale + bias[head, q.t, k.t]\n"},
    {"relpos_gain", "recipe relgain\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nparam rel : f16 [heads, 64]\n"
                    "param gain : f32 [heads]\nmask sliding_window(63, 0)\n"
                    "score gain[head] * s * scale + rel[head, q.t - k.t]\n"},
};

/* Union masks (tests/gpu/test_gpu_backward.c's union_cases) for
 * test_backward_parts: sinks || window with GQA, three parts, a grid, and
 * without causal (an inverse q range with parts). */
static const char *const unions[][2] = {
    {"u_gqa", "recipe gqa\ninput q : bf16 [batch, heads, tokens, 128]\n"
              "input k, v : bf16 [batch, kv_heads, tokens, 128]\n"
              "mask causal && (sinks(4) || sliding_window(63, 0))\n"},
    {"u_three_parts", "recipe tp\ninput q, k, v : bf16 [batch, heads, tokens, 64]\n"
                      "mask causal && (sinks(3) || sliding_window(15, 0) || (k.t >= 64 && k.t < 80))\n"},
    {"u_grid", "recipe gu\ninput q, k, v : bf16 [batch, heads, tokens, 64]\ntokens grid(y: H, x: W)\n"
               "mask causal && (k.t < 5 || k.y >= q.y - 1)\n"},
    {"u_both_sides",
     "recipe bs\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nmask sinks(5) || sliding_window(10, 7)\n"},
};

static recipe *parse(arena *a, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/recipes/%s", test_source_dir(), name);
    size_t len;
    const char *why = NULL;
    char *text = NULL;
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
        if (!strcmp(name, extra[i][0])) {
            text = (char *)extra[i][1];
            len = strlen(text);
            snprintf(path, sizeof path, "%s", name);
        }
    for (size_t i = 0; i < sizeof unions / sizeof *unions; i++)
        if (!strcmp(name, unions[i][0])) {
            text = (char *)unions[i][1];
            len = strlen(text);
            snprintf(path, sizeof path, "%s", name);
        }
    if (!text && !strcmp(name, "d64_causal")) { /* test_backward_producer's D = 64 */
        text = (char *)"recipe d64\ninput q, k, v : f16 [batch, heads, tokens, 64]\nmask causal\n";
        len = strlen(text);
    }
    if (!text && !strcmp(name, "doc_i64_union")) { /* test_backward_doc_span's: ids [tokens] i64, D = 64, a union */
        text = (char *)"recipe doci64\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nparam doc : i64 [tokens]\n"
                       "mask causal && document(doc) && (sinks(4) || sliding_window(24, 0))\n";
        len = strlen(text);
    }
    if (!text)
        text = frontend_read_file(a, path, &len, &why);
    if (!text)
        return NULL;
    diag_list diags;
    diag_list_init(&diags, a, path, text, len);
    return frontend_parse(a, path, text, len, &diags);
}

/* $ATTNC_PTX_DUMP=DIR: writes each module to DIR/NAME.ARCH.MODE.MMA.ptx
 * (comparing PTX across changes). */
static const char *const dq_names[] = {"det", "atomic", "bulk"};

static void dump(const char *name, const char *arch, nvptx_bwd_dq dq, const char *mma, strbuf *ptx)
{
    const char *dir = getenv("ATTNC_PTX_DUMP");
    if (!dir)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s.%s.%s.ptx", dir, name, arch, dq_names[dq], mma);
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs(sb_cstr(ptx), fp);
        fclose(fp);
    }
}

/* $ATTNC_BWD_PIPE, $ATTNC_BWD_OVERLAP (0..3) and $ATTNC_BWD_PRODUCER as
 * the runtime reads them (cuda_bwd_job.c), else the defaults. */
static int overlap(void)
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

static int with_grads; /* modules assembled with attnc_bwd_dparam */

/* The backward schedule from the recipe's kernel header (lower_signature). */
static schedule schedule_for(const tir_kernel *sig, const recipe *r, target_arch arch, mma_kind mma)
{
    return mma == MMA_SYNC ? nvptx_bwd_schedule(sig, &r->sched, arch)
                           : nvptx_bwd_schedule_mma(sig, &r->sched, arch, mma);
}

/* The module of recipe `name` as the runtime builds it: 1 built (into
 * info, ptx), 0 skipped (linear; bulk dQ where the schedule is not wgmma,
 * which the runtime builds with the dQ kernel), -1 failed (err). *params:
 * whether the recipe has param gradients. */
static int build(arena *a, const char *name, target_arch arch, nvptx_bwd_dq dq, mma_kind mma, int ov,
                 nvptx_bwd_info *info, strbuf *ptx, strbuf *err, bool *params)
{
    recipe *r = parse(a, name);
    const tir_kernel *sig = r && r->family == FAMILY_SOFTMAX ? lower_signature(a, r) : NULL;
    if (!r) {
        sb_printf(err, "%s does not parse", name);
        return -1;
    }
    if (!sig || (dq == NVPTX_BWD_DQ_BULK && schedule_for(sig, r, arch, mma).mma != MMA_WGMMA))
        return 0;
    schedule s = schedule_for(sig, r, arch, mma);
    tir_program prog;
    /* $ATTNC_BWD_DKV_KEYS and $ATTNC_BWD_DKV_BOX as the runtime reads
     * them (unset: 128 keys or 128-key boxes): the dK/dV kernel from its own
     * lowering, the dQ kernel from this one (s takes its query box) */
    schedule wide;
    bool split = nvptx_bwd_dkv_schedule(sig, &s, arch, getenv("ATTNC_BWD_DKV_KEYS"), getenv("ATTNC_BWD_DKV_BOX"),
                                        &wide);
    if (!lower_backward(a, r, &s, arch, &prog, err))
        return -1;
    tir_program dkv_prog;
    if (split && !lower_backward(a, r, &wide, arch, &dkv_prog, err))
        return -1;
    bool grad[64];
    *params = r->nparams <= 64 && backward_grad_params(a, r, grad) > 0;
    return nvptx_bwd_emit(split ? &dkv_prog : &prog, split ? &prog : NULL, arch, dq, ov, info, ptx, err) ? -1 : 1;
}

/* A build's arena and buffers (check, producer_one). */
typedef struct work {
    arena a;
    strbuf err, ptx, log;
} work;

static void work_init(work *w)
{
    arena_init(&w->a, NULL);
    sb_init(&w->err);
    sb_init(&w->ptx);
    sb_init(&w->log);
}

static void work_free(work *w)
{
    sb_free(&w->err);
    sb_free(&w->ptx);
    sb_free(&w->log);
    arena_free_all(&w->a);
}

/* 1: assembled, 0: skipped (build's), fails otherwise. */
static int check(const char *name, target_arch arch, nvptx_bwd_dq dq, mma_kind mma)
{
    bool det = dq == NVPTX_BWD_DQ_KERNEL;
    work w;
    work_init(&w);
    const char *an = arch == TARGET_SM80 ? "sm_80" : "sm_90a";
    nvptx_bwd_info info;
    bool params = false;
    int result = build(&w.a, name, arch, dq, mma, overlap(), &info, &w.ptx, &w.err, &params);
    if (result < 0) {
        fail_msg("%s %s: %s", name, an, sb_cstr(&w.err));
    } else if (result == 0) {
        /* skipped: nothing built */
    } else if (!ptxas_check(sb_cstr(&w.ptx), an, &w.log)) {
        fail_msg("%s %s %s: ptxas rejected the backward PTX:\n%s", name, an, dq_names[dq], sb_cstr(&w.log));
    } else if (params && (info.ngrad < 1 || info.nkernels != 4 || info.kernels[3].kind != BWK_DPARAM)) {
        fail_msg("%s %s: param gradients but no attnc_bwd_dparam kernel", name, an);
    } else if (info.dq_bulk != (dq == NVPTX_BWD_DQ_BULK) || info.kernels[2].kind != (det ? BWK_DQ : BWK_DQ_CVT)) {
        fail_msg("%s %s %s: the module's kernels are not that dQ's", name, an, dq_names[dq]);
    } else {
        int spill = ptxas_spill_bytes(sb_cstr(&w.log));
        const char *mn = info.wgmma ? "wgmma" : "sync";
        dump(name, an, dq, mn, &w.ptx);
        with_grads += params;
        printf("%s %s %s %s: ok%s%s\n", name, an, dq_names[dq], mn, params ? " (param gradients)" : "",
               spill ? " (spills)" : "");
        if (getenv("ATTNC_PTX_VERBOSE"))
            printf("%s\n", sb_cstr(&w.log));
    }
    work_free(&w);
    return result;
}

/* The dK/dV kernel's TMA producer ring (NVPTX_BWD_PRODUCER,
 * $ATTNC_BWD_PRODUCER=1, codegen/nvptx_bwd_ring.c) at the overlap levels
 * it combines with (3 and the SDP pipes, Sᵀ and dPᵀ under one wait, spill
 * without it at D = 128): taken on sequences at D = 128 and 64 (the TMA
 * copies, the mbarrier waits, setmaxnreg and a 384-thread dK/dV CTA at 128
 * keys in the PTX), assembled without spills or wgmma serialised by ptxas (its
 * C751x warnings); ignored where it does not serve (a grid, param
 * gradients, the deterministic dQ kernel). */
static const char *const producer_recipes[] = {"dense.attn", "causal.attn", "gqa.attn", "d64_causal"};

static void producer_one(const char *name, int ov, bool taken)
{
    work w;
    work_init(&w);
    nvptx_bwd_info info;
    nvptx_bwd_dq dq = taken || strcmp(name, "causal.attn") ? NVPTX_BWD_DQ_BULK : NVPTX_BWD_DQ_KERNEL;
    bool params = false;
    int built =
        build(&w.a, name, TARGET_SM90A, dq, MMA_WGMMA, ov | NVPTX_BWD_PRODUCER, &info, &w.ptx, &w.err, &params);
    const char *text = sb_cstr(&w.ptx);
    if (built != 1)
        fail_msg("%s: not built: %s", name, sb_cstr(&w.err));
    if (info.producer != taken)
        fail_msg("%s overlap %d: the producer is %s", name, ov, taken ? "not taken" : "taken where it cannot serve");
    /* $ATTNC_BWD_DQ_DEFER=1: taken in the pipelined orders with one dQ block per warpgroup (D = 128) */
    bool defer = taken && getenv("ATTNC_BWD_DQ_DEFER") && !getenv("ATTNC_BWD_DS_BUFS") && !getenv("ATTNC_BWD_DQ_WRITER") &&
                 !(ov & NVPTX_BWD_PRODUCER_DS_SPLIT) && strcmp(name, "d64_causal") &&
                 ((ov & 0xff) == NVPTX_BWD_OVERLAP_PIPE || (ov & 0xff) == NVPTX_BWD_OVERLAP_PIPE_SDP);
    if (info.dq_defer != defer)
        fail_msg("%s overlap %d: the deferred dQ is %s", name, ov, defer ? "not taken" : "taken where it cannot serve");
    if ((ov & NVPTX_BWD_PRODUCER_DS_SPLIT) && !strstr(text, "bar.arrive"))
        fail_msg("%s overlap %d: no dS hand-over (bar.arrive)", name, ov);
    if (taken && (!strstr(text, "cp.async.bulk.tensor.4d") || !strstr(text, "mbarrier.try_wait.parity") ||
                  !strstr(text, "setmaxnreg") || info.kernels[1].threads != 32 * info.dkv_warps + 128))
        fail_msg("%s overlap %d: no TMA producer ring in the dK/dV kernel", name, ov);
    if (!ptxas_check(text, "sm_90a", &w.log))
        fail_msg("%s overlap %d: ptxas rejected the PTX:\n%s", name, ov, sb_cstr(&w.log));
    int spill = ptxas_spill_bytes(sb_cstr(&w.log));
    /* the dQ writer warp (opt-in): ptxas spills 40-60 bytes (stores, as many loaded), most in the
     * producer warp's 24 registers (its head loop's bounds leave the uniform registers), a few
     * loop-invariant words of the computing warps (2 loads a pair in causal D = 128) */
    int allowed = getenv("ATTNC_BWD_DQ_WRITER") ? 128 : 0;
    if (taken && spill > allowed)
        fail_msg("%s overlap %d: %d bytes of spills\n%s", name, ov, spill, sb_cstr(&w.log));
    if (taken && (strstr(sb_cstr(&w.log), "are serialized") || strstr(sb_cstr(&w.log), "C751")))
        fail_msg("%s overlap %d: ptxas serialises the wgmma:\n%s", name, ov, sb_cstr(&w.log));
    if (getenv("ATTNC_PTX_VERBOSE"))
        printf("%s", sb_cstr(&w.log));
    printf("producer %-12s overlap %d: %s\n", name, ov, taken ? "taken, ok" : "ignored, ok");
    work_free(&w);
}

static void test_backward_producer(void **state)
{
    (void)state;
    if (getenv("ATTNC_PTX_SYNC_ONLY")) /* a wgmma build: the other half's */
        return;
    const int levels[] = {NVPTX_BWD_OVERLAP_DEFAULT, 3, NVPTX_BWD_OVERLAP_PIPE, NVPTX_BWD_OVERLAP_PIPE_SDP,
                          NVPTX_BWD_OVERLAP_PIPE_SDP_LATE};
    for (size_t i = 0; i < sizeof producer_recipes / sizeof *producer_recipes; i++)
        for (size_t l = 0; l < sizeof levels / sizeof *levels; l++)
            producer_one(producer_recipes[i], levels[l], true);
    /* NVPTX_BWD_PRODUCER_DS_SPLIT: the dS hand-over by bar.arrive / bar.sync */
    producer_one("dense.attn", NVPTX_BWD_OVERLAP_PIPE_SDP | NVPTX_BWD_PRODUCER_DS_SPLIT, true);
    /* the ring's switches (nvptx_kernel.h) at their non-default values, one at a time, and the
     * opt-in ones together, in the default order at D = 128 and 64 */
    static const char *const ring_env[][2] = {{"ATTNC_BWD_RING_RELEASE", "0"}, {"ATTNC_BWD_RING_TMA_FIRST", "1"},
                                              {"ATTNC_BWD_RING_STAGES", "3"},  {"ATTNC_BWD_DS_BUFS", "2"},
                                              {"ATTNC_BWD_DQF_BUFS", "1"},    {"ATTNC_BWD_DQ_WRITER", "1"},
                                              {"ATTNC_BWD_DQ_DEFER", "1"}};
    enum { NRING = sizeof ring_env / sizeof ring_env[0] };
    for (int i = 0; i <= NRING; i++) {
        for (int k = 0; k < NRING; k++)
            if (i == k || (i == NRING && k != 0 && k != 2)) /* not 3 stages with 2 dS buffers: no room at D = 128 */
                setenv(ring_env[k][0], ring_env[k][1], 1);
        producer_one("dense.attn", NVPTX_BWD_OVERLAP_PIPE_SDP, true);
        producer_one("d64_causal", NVPTX_BWD_OVERLAP_PIPE_SDP, true);
        for (int k = 0; k < NRING; k++)
            unsetenv(ring_env[k][0]);
    }
    /* the deferred dQ in both pipelined orders, on the recipes it serves (and D = 64: not taken) */
    setenv("ATTNC_BWD_DQ_DEFER", "1", 1);
    for (size_t i = 0; i < sizeof producer_recipes / sizeof *producer_recipes; i++) {
        producer_one(producer_recipes[i], NVPTX_BWD_OVERLAP_PIPE, true);
        producer_one(producer_recipes[i], NVPTX_BWD_OVERLAP_PIPE_SDP, true);
    }
    producer_one("document.attn", NVPTX_BWD_OVERLAP_PIPE_SDP, true);
    unsetenv("ATTNC_BWD_DQ_DEFER");
    producer_one("causal.attn", NVPTX_BWD_OVERLAP_DEFAULT | NVPTX_BWD_PRODUCER_DS_SPLIT, true);
    setenv("ATTNC_BWD_RING_STAGES", "3", 1); /* with the dS hand-over */
    producer_one("causal.attn", NVPTX_BWD_OVERLAP_PIPE_SDP | NVPTX_BWD_PRODUCER_DS_SPLIT, true);
    unsetenv("ATTNC_BWD_RING_STAGES");
    producer_one("neighborhood2d.attn", NVPTX_BWD_OVERLAP_DEFAULT, false); /* a grid */
    producer_one("bias_cross", NVPTX_BWD_OVERLAP_DEFAULT, false); /* a param gradient */
    producer_one("causal.attn", NVPTX_BWD_OVERLAP_DEFAULT, false); /* the dQ kernel: no bulk dQ */
}

/* Occurrences of needle in kernel `name` of module ptx (from its .entry to
 * the next one). */
static int count_in_kernel(const char *ptx, const char *name, const char *needle)
{
    char entry[96];
    snprintf(entry, sizeof entry, ".entry %s(", name);
    const char *at = strstr(ptx, entry);
    if (!at)
        return -1;
    const char *end = strstr(at + 1, ".entry ");
    int n = 0;
    for (const char *p = strstr(at, needle); p && (!end || p < end); p = strstr(p + 1, needle))
        n++;
    return n;
}

/* One build of `name` for the document cut's test under
 * $ATTNC_BWD_DOC_SPAN=mode (0: unset): ptxas accepts it, its dK/dV kernel
 * (and the deterministic dQ kernel) holds the CTA-wide ids scan
 * (barrier0.or: bar.red.or) exactly when mode >= 1, and at 1 a wgmma
 * build that spills nothing without the cut spills nothing with it either
 * (*spill: the spill bytes without; 2's full tiles in the dK/dV kernel may,
 * and builds that spill either way differ by a few words: printed). */
static void doc_span_one(const char *name, target_arch arch, nvptx_bwd_dq dq, mma_kind mma, int ov, int mode,
                         int *spill)
{
    bool cut = mode >= 1;
    setenv("ATTNC_BWD_DOC_SPAN", mode == 0 ? "0" : mode == 1 ? "1" : "2", 1);
    work w;
    work_init(&w);
    const char *an = arch == TARGET_SM80 ? "sm_80" : "sm_90a";
    nvptx_bwd_info info;
    bool params = false;
    if (build(&w.a, name, arch, dq, mma, ov, &info, &w.ptx, &w.err, &params) != 1)
        fail_msg("%s %s %s: not built: %s", name, an, dq_names[dq], sb_cstr(&w.err));
    const char *text = sb_cstr(&w.ptx);
    int dkv = count_in_kernel(text, "attnc_bwd_dkv", "bar.red.or");
    int dqk = dq == NVPTX_BWD_DQ_KERNEL ? count_in_kernel(text, "attnc_bwd_dq", "bar.red.or") : (cut ? 1 : 0);
    if ((dkv > 0) != cut || (dqk > 0) != cut)
        fail_msg("%s %s %s %s: the document scan is %s (dK/dV %d, dQ %d)", name, an, dq_names[dq],
                 info.wgmma ? "wgmma" : "sync", cut ? "missing" : "there without the switch", dkv, dqk);
    if (!ptxas_check(text, an, &w.log))
        fail_msg("%s %s %s: ptxas rejected the PTX:\n%s", name, an, dq_names[dq], sb_cstr(&w.log));
    int bytes = ptxas_spill_bytes(sb_cstr(&w.log));
    /* mma.sync: printed (sm_80's spill either way); so is a wgmma build that spills without the cut
     * already (the atomic dQ's 200 B: its register allocation moves by a few words either way) */
    if (mode == 1 && bytes > *spill && mma == MMA_WGMMA && *spill == 0)
        fail_msg("%s %s %s %s: %d bytes of spills with the cut, %d without", name, an, dq_names[dq],
                 info.wgmma ? "wgmma" : "sync", bytes, *spill);
    printf("doc span %s %s %s %s%s: ATTNC_BWD_DOC_SPAN=%d, %d bytes of spills\n", name, an, dq_names[dq],
           info.wgmma ? "wgmma" : "sync", info.producer ? " producer" : "", mode, bytes);
    if (!mode)
        *spill = bytes;
    unsetenv("ATTNC_BWD_DOC_SPAN");
    work_free(&w);
}

/* The backward's document cut ($ATTNC_BWD_DOC_SPAN=1 and 2,
 * nvptx_bwd_span.c) on recipes/document.attn and on i64 ids of one row
 * with a union (D = 64) under every product and dQ
 * (the wgmma bulk build with the TMA producer ring), against the same
 * build without the switch; a recipe without documents is emitted
 * unchanged under it. */
static void test_backward_doc_span(void **state)
{
    (void)state;
    static const struct {
        target_arch arch;
        mma_kind mma;
        nvptx_bwd_dq dq;
    } builds[] = {{TARGET_SM80, MMA_SYNC, NVPTX_BWD_DQ_KERNEL},   {TARGET_SM80, MMA_SYNC, NVPTX_BWD_DQ_ATOMIC},
                  {TARGET_SM90A, MMA_SYNC, NVPTX_BWD_DQ_KERNEL},  {TARGET_SM90A, MMA_WGMMA, NVPTX_BWD_DQ_KERNEL},
                  {TARGET_SM90A, MMA_WGMMA, NVPTX_BWD_DQ_ATOMIC}, {TARGET_SM90A, MMA_WGMMA, NVPTX_BWD_DQ_BULK}};
    bool sync = !getenv("ATTNC_PTX_WGMMA_ONLY"), wg = !getenv("ATTNC_PTX_SYNC_ONLY"); /* CTest's halves */
    static const char *const names[] = {"document.attn", "doc_i64_union"};
    for (size_t n = 0; n < sizeof names / sizeof *names; n++)
        for (size_t i = 0; i < sizeof builds / sizeof *builds; i++) {
            int spill = 0;
            if (!(builds[i].mma == MMA_WGMMA ? wg : sync))
                continue;
            for (int mode = 0; mode < 3; mode++)
                doc_span_one(names[n], builds[i].arch, builds[i].dq, builds[i].mma, overlap(), mode, &spill);
        }
    if (!wg)
        return;
    work w[2];
    for (int on = 0; on < 2; on++) { /* no document: the same PTX */
        nvptx_bwd_info info;
        bool params;
        work_init(&w[on]);
        setenv("ATTNC_BWD_DOC_SPAN", on ? "1" : "0", 1);
        assert_int_equal(build(&w[on].a, "causal.attn", TARGET_SM90A, NVPTX_BWD_DQ_KERNEL, MMA_WGMMA, overlap(), &info,
                               &w[on].ptx, &w[on].err, &params),
                         1);
    }
    unsetenv("ATTNC_BWD_DOC_SPAN");
    assert_string_equal(sb_cstr(&w[0].ptx), sb_cstr(&w[1].ptx));
    work_free(&w[0]);
    work_free(&w[1]);
}

/* $ATTNC_PTX_DQ (kernel, atomic, bulk): only that dQ; else every one. */
static bool dq_wanted(nvptx_bwd_dq dq)
{
    const char *e = getenv("ATTNC_PTX_DQ");
    return !e || !strcmp(e, dq == NVPTX_BWD_DQ_KERNEL ? "kernel" : dq_names[dq]);
}

/* A recipe under mma.sync (sm_80, sm_90a) unless wgmma-only, and the wgmma
 * build unless sync-only, for every wanted dQ (bulk: wgmma only). */
static int check_all(const char *name)
{
    int ok = 0;
    for (int dq = 0; dq < 3; dq++) {
        if (!dq_wanted((nvptx_bwd_dq)dq))
            continue;
        if (!getenv("ATTNC_PTX_WGMMA_ONLY") && dq != NVPTX_BWD_DQ_BULK) {
            ok += check(name, TARGET_SM80, (nvptx_bwd_dq)dq, MMA_SYNC);
            ok += check(name, TARGET_SM90A, (nvptx_bwd_dq)dq, MMA_SYNC);
        }
        if (!getenv("ATTNC_PTX_SYNC_ONLY"))
            ok += check(name, TARGET_SM90A, (nvptx_bwd_dq)dq, MMA_WGMMA);
    }
    return ok;
}

static void test_backward_ptx(void **state)
{
    (void)state;
    char *names[64];
    int n = list_recipes(names, 64), ok = 0;
    const char *only = getenv("ATTNC_PTX_RECIPE");
    for (int i = 0; i < n; i++) {
        if (!only || strstr(names[i], only))
            ok += check_all(names[i]);
        free(names[i]);
    }
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
        if (!only || strstr(extra[i][0], only))
            ok += check_all(extra[i][0]);
    assert_true(ok > 0);
    if (!only)
        assert_true(with_grads > 0);
}

/* ATTNC_BWD_PARTS=1 (nvptx_bwd_parts.c): the union recipes' modules
 * assemble under every product and dQ, and differ from the hull's (the
 * parts were taken); the producer ring takes them too. */
static void test_backward_parts(void **state)
{
    (void)state;
    static const char *const names[] = {"sinks_window.attn", "u_gqa", "u_three_parts", "u_grid", "u_both_sides"};
    char was[8] = "";
    if (getenv("ATTNC_BWD_PARTS"))
        snprintf(was, sizeof was, "%s", getenv("ATTNC_BWD_PARTS"));
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        for (int dq = 0; dq < 3; dq++)
            for (int wg = 0; wg < 2; wg++) {
                if ((dq == NVPTX_BWD_DQ_BULK && !wg) || (wg && getenv("ATTNC_PTX_SYNC_ONLY")) ||
                    (!wg && getenv("ATTNC_PTX_WGMMA_ONLY")))
                    continue;
                work w[2];
                int built[2];
                bool params;
                nvptx_bwd_info info;
                for (int on = 0; on < 2; on++) {
                    setenv("ATTNC_BWD_PARTS", on ? "1" : "0", 1);
                    work_init(&w[on]);
                    built[on] = build(&w[on].a, names[i], TARGET_SM90A, (nvptx_bwd_dq)dq, wg ? MMA_WGMMA : MMA_SYNC,
                                      overlap(), &info, &w[on].ptx, &w[on].err, &params);
                }
                if (built[1] < 0 || built[0] < 0)
                    fail_msg("%s: %s%s", names[i], sb_cstr(&w[1].err), sb_cstr(&w[0].err));
                if (built[1] == 1) {
                    if (!strcmp(sb_cstr(&w[0].ptx), sb_cstr(&w[1].ptx)))
                        fail_msg("%s %s: ATTNC_BWD_PARTS=1 changed nothing", names[i], dq_names[dq]);
                    if (!ptxas_check(sb_cstr(&w[1].ptx), "sm_90a", &w[1].log))
                        fail_msg("%s %s: ptxas rejected the PTX:\n%s", names[i], dq_names[dq], sb_cstr(&w[1].log));
                    int spill = ptxas_spill_bytes(sb_cstr(&w[1].log));
                    printf("parts %-18s sm_90a %-6s %-5s: ok%s%s\n", names[i], dq_names[dq],
                           info.wgmma ? "wgmma" : "sync", info.producer ? " (producer)" : "", spill ? " (spills)" : "");
                }
                work_free(&w[0]);
                work_free(&w[1]);
            }
    if (was[0])
        setenv("ATTNC_BWD_PARTS", was, 1);
    else
        unsetenv("ATTNC_BWD_PARTS");
}

/* Builds recipe `name`'s sm_90a wgmma backward module into w with the
 * environment switch `var` set to on ("1") or off ("0"), fails the test
 * when it does not build or ptxas rejects it, and returns ptxas's spill
 * bytes. The switch is left set: the caller unsets it. */
static int build_switched(work *w, const char *name, const char *var, int on)
{
    nvptx_bwd_info info;
    bool params;
    setenv(var, on ? "1" : "0", 1);
    work_init(w);
    if (build(&w->a, name, TARGET_SM90A, NVPTX_BWD_DQ_KERNEL, MMA_WGMMA, overlap(), &info, &w->ptx, &w->err,
              &params) != 1)
        fail_msg("%s, %s=%d: %s", name, var, on, sb_cstr(&w->err));
    if (!ptxas_check(sb_cstr(&w->ptx), "sm_90a", &w->log))
        fail_msg("%s, %s=%d: ptxas rejected the PTX:\n%s", name, var, on, sb_cstr(&w->log));
    return ptxas_spill_bytes(sb_cstr(&w->log));
}

/* $ATTNC_SCALE_FMA=1 (gb_prob, gb_dscore): where the score is s * scale,
 * each P of the dK/dV kernel is exp2 of one fma of raw s, without a
 * per-pair -inf test of the score, and dS is P (dP - delta) without the
 * factor and its select (causal, dense: fewer comparisons with -inf and
 * fewer float selects, ptxas accepts it, spills no more); a score that is
 * not s * c (softcap) builds the same PTX. */
static void test_backward_scale_fma(void **state)
{
    (void)state;
    if (getenv("ATTNC_PTX_SYNC_ONLY"))
        return; /* the wgmma half runs it */
    static const struct {
        const char *name;
        bool folds;
    } cases[] = {{"causal.attn", true}, {"dense.attn", true}, {"softcap.attn", false}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        work w[2];
        int ninf[2], fsel[2], spill[2];
        for (int on = 0; on < 2; on++) {
            spill[on] = build_switched(&w[on], cases[i].name, "ATTNC_SCALE_FMA", on);
            ninf[on] = count_in_kernel(sb_cstr(&w[on].ptx), "attnc_bwd_dkv", "0fFF800000;");
            fsel[on] = count_in_kernel(sb_cstr(&w[on].ptx), "attnc_bwd_dkv", "selp.f32");
        }
        unsetenv("ATTNC_SCALE_FMA");
        printf("scale_fma %-14s dK/dV -inf operands %d -> %d, float selects %d -> %d, spills %d -> %d bytes\n",
               cases[i].name, ninf[0], ninf[1], fsel[0], fsel[1], spill[0], spill[1]);
        if (cases[i].folds) {
            assert_true(ninf[1] < ninf[0]);
            assert_true(fsel[1] < fsel[0]); /* dS without its select (bwd_plan.ds_factor) */
            assert_true(spill[1] <= spill[0]);
        } else {
            assert_string_equal(sb_cstr(&w[0].ptx), sb_cstr(&w[1].ptx));
        }
        work_free(&w[0]);
        work_free(&w[1]);
    }
}

/* $ATTNC_UNIFORM_WARP=1 (nt_uniform_warp): the dK/dV kernel takes its
 * warp index from lane 0 (one more shfl.sync.idx), issues the same wgmma
 * products, and ptxas accepts it; its spills (the producer warp's, at 24
 * registers after setmaxnreg: ptxas 13.0, dense 0 -> 44 bytes) are
 * printed and bounded. */
static void test_backward_uniform_warp(void **state)
{
    (void)state;
    if (getenv("ATTNC_PTX_SYNC_ONLY"))
        return; /* the wgmma half runs it */
    static const char *const names[] = {"causal.attn", "dense.attn"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        work w[2];
        int shfl[2], wgmma[2], spill[2];
        for (int on = 0; on < 2; on++) {
            spill[on] = build_switched(&w[on], names[i], "ATTNC_UNIFORM_WARP", on);
            shfl[on] = count_in_kernel(sb_cstr(&w[on].ptx), "attnc_bwd_dkv", "shfl.sync.idx");
            wgmma[on] = count_in_kernel(sb_cstr(&w[on].ptx), "attnc_bwd_dkv", "wgmma.mma_async");
        }
        unsetenv("ATTNC_UNIFORM_WARP");
        printf("uniform_warp %-12s dK/dV shfl.sync.idx %d -> %d, wgmma %d -> %d, spills %d -> %d bytes\n", names[i],
               shfl[0], shfl[1], wgmma[0], wgmma[1], spill[0], spill[1]);
        assert_true(shfl[1] >= shfl[0] + 1);
        assert_int_equal(wgmma[1], wgmma[0]);
        assert_true(spill[1] <= spill[0] + 96);
        work_free(&w[0]);
        work_free(&w[1]);
    }
}

int main(void)
{
    if (!ptxas_available()) {
        printf("skipped: no ptxas\n");
        return 0;
    }
    if (getenv("ATTNC_PTX_DOC_SPAN_ONLY")) {
        const struct CMUnitTest only[] = {cmocka_unit_test(test_backward_doc_span)};
        return cmocka_run_group_tests(only, NULL, NULL);
    }
    if (getenv("ATTNC_PTX_PRODUCER_ONLY")) {
        const struct CMUnitTest only[] = {cmocka_unit_test(test_backward_producer)};
        return cmocka_run_group_tests(only, NULL, NULL);
    }
    if (getenv("ATTNC_PTX_SCALE_FMA_ONLY")) {
        const struct CMUnitTest only[] = {cmocka_unit_test(test_backward_scale_fma)};
        return cmocka_run_group_tests(only, NULL, NULL);
    }
    if (getenv("ATTNC_PTX_UNIFORM_WARP_ONLY")) {
        const struct CMUnitTest only[] = {cmocka_unit_test(test_backward_uniform_warp)};
        return cmocka_run_group_tests(only, NULL, NULL);
    }
    if (getenv("ATTNC_PTX_PARTS_ONLY")) {
        const struct CMUnitTest only[] = {cmocka_unit_test(test_backward_parts)};
        return cmocka_run_group_tests(only, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_backward_ptx), cmocka_unit_test(test_backward_producer),
                                       cmocka_unit_test(test_backward_doc_span), cmocka_unit_test(test_backward_parts),
                                       cmocka_unit_test(test_backward_scale_fma),
                                       cmocka_unit_test(test_backward_uniform_warp)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
