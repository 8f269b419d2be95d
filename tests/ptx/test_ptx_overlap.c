/* test_ptx_overlap.c — the overlapped key loop of mma=wgmma_ws (schedule
 * overlap=1|2, codegen/nvptx_fa2_overlap.c) through ptxas for sm_90a on the
 * benchmark recipes (dense, causal, sinks + window, packed documents, a 2-D
 * grid box): accepted, no spills, no wgmma serialised by ptxas (its C751x
 * warnings, C7513 among them: the overlap would be lost), S_{j+1} left in
 * flight while P V runs (wait_group 1), the named barriers of ping-pong
 * under overlap=2; the first tile peeled under overlap=1 (S alone before
 * the loop, $ATTNC_PEEL_FIRST) but not under ping-pong; O written through
 * shared memory and stored 16 bytes a thread ($ATTNC_O_STAGE), or by TMA
 * ($ATTNC_O_TMA=1); the row max as a tree under $ATTNC_MAX_TREE=1; Q's
 * fragments in registers by default ($ATTNC_Q_REGS); and the schedules
 * that cannot overlap are refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "sass_run.h"
#include "recipe_ptx.h"

typedef struct ov_case {
    const char *recipe; /* under bench/recipes/ */
    const char *spec;
} ov_case;

static const ov_case cases[] = {
    {"dense_d128.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1"},
    {"dense_d128.attn", "q=128 kv=128 stages=3 warps=8 mma=wgmma_ws overlap=1"},
    {"dense_d128.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=2"},
    {"dense_d128.attn", "q=128 kv=128 stages=3 warps=8 mma=wgmma_ws overlap=2"},
    {"dense_d128.attn", "q=64 kv=128 stages=2 warps=4 mma=wgmma_ws overlap=1"},
    {"dense_d64.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=2"},
    {"causal_d128.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1"},
    {"causal_d128.attn", "q=128 kv=128 stages=3 warps=8 mma=wgmma_ws overlap=1"},
    {"doc_causal.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1"},
    {"causal_d128.attn", "q=128 kv=128 stages=3 warps=8 mma=wgmma_ws overlap=2"},
    {"causal_d128.attn", "q=128 kv=64 stages=2 warps=8 mma=wgmma_ws overlap=2"},
    {"sinks_swa_w2047.attn", "q=128 kv=128 stages=3 warps=8 mma=wgmma_ws overlap=2"},
    {"swa_w1024.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1"},
    {"doc_causal.attn", "q=128 kv=128 stages=3 warps=8 mma=wgmma_ws overlap=2"},
    {"na2d_k9_d64.attn", "q=8x16 kv=8x8 stages=2 warps=8 mma=wgmma_ws overlap=2"},
};

static void one(const ov_case *c)
{
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx, log;
    sb_init(&err);
    sb_init(&ptx);
    sb_init(&log);
    nvptx_kernel_info info;
    nvptx_status st = bench_recipe_ptx(&a, c->recipe, c->spec, TARGET_SM90A, &info, &ptx, &err);
    if (st)
        fail_msg("%s [%s]: %s", c->recipe, c->spec, sb_cstr(&err));
    const char *text = sb_cstr(&ptx);
    if (!strstr(text, "wgmma.wait_group.sync.aligned 1;"))
        fail_msg("%s [%s]: no wait_group 1 (S_{j+1} not overlapped)", c->recipe, c->spec);
    bool pp = strstr(c->spec, "overlap=2") != NULL;
    if (pp != (strstr(text, "bar.arrive") != NULL))
        fail_msg("%s [%s]: ping-pong barriers %s", c->recipe, c->spec, pp ? "missing" : "unexpected");
    /* accepted, no spills, none of ptxas' "wgmma.mma_async instructions
     * are serialized" warnings (C7513: registers a wgmma reads defined
     * inside its pipeline stage; C7515, C7517, ...) */
    const char *why = ptxas_clean(text, "sm_90a", &log);
    if (why)
        fail_msg("%s [%s]: %s:\n%s", c->recipe, c->spec, why, sb_cstr(&log));
    if (getenv("ATTNC_PTX_VERBOSE"))
        printf("%s", sb_cstr(&log));
    printf("  %-22s %-56s ok\n", c->recipe, c->spec);
    sb_free(&err);
    sb_free(&ptx);
    sb_free(&log);
    arena_free_all(&a);
}

static void overlapped(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        one(&cases[i]);
}

/* The PTX of the kernel of file [spec] with $var set to value (NULL:
 * unset, the default), for ptx_count; the caller frees it. */
static char *env_ptx(const char *file, const char *spec, const char *var, const char *value)
{
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx;
    sb_init(&err);
    sb_init(&ptx);
    if (bench_recipe_ptx_env(&a, file, spec, var, value, &ptx, &err))
        fail_msg("%s [%s] %s=%s: %s", file, spec, var, value ? value : "(unset)", sb_cstr(&err));
    char *text = strdup(sb_cstr(&ptx));
    assert_non_null(text);
    sb_free(&err);
    sb_free(&ptx);
    arena_free_all(&a);
    return text;
}

/* wgmma commit groups in the kernel of file [spec] with $ATTNC_PEEL_FIRST
 * set to value. */
static int commit_groups(const char *file, const char *spec, const char *value)
{
    char *text = env_ptx(file, spec, "ATTNC_PEEL_FIRST", value);
    int n = ptx_count(text, "wgmma.commit_group");
    free(text);
    return n;
}

/* The peeled first tile is one more commit group (S alone) than the loop
 * without it; the default peels, persistent blocks too (unless
 * ATTNC_PEEL_ALL=0); ping-pong does not. */
static void first_tile_peeled(void **state)
{
    (void)state;
    static const char *const peeled[][2] = {
        {"causal_d128.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1"},
        {"dense_d128.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1"},
        {"doc_causal.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1"},
        {"causal_d128.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"},
        {"sinks_swa_w2047.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"}, /* after the narrow tile */
    };
    for (size_t i = 0; i < sizeof peeled / sizeof peeled[0]; i++) {
        int on = commit_groups(peeled[i][0], peeled[i][1], NULL), off = commit_groups(peeled[i][0], peeled[i][1], "0");
        printf("  %-22s %-56s commit groups: %d peeled, %d not\n", peeled[i][0], peeled[i][1], on, off);
        if (on != off + 1)
            fail_msg("%s [%s]: %d commit groups peeled, %d not (expected one more)", peeled[i][0], peeled[i][1], on,
                     off);
    }
    const char *pingpong = "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=2";
    int on = commit_groups("causal_d128.attn", pingpong, NULL), off = commit_groups("causal_d128.attn", pingpong, "0");
    if (on != off)
        fail_msg("ping-pong: %d commit groups by default, %d with ATTNC_PEEL_FIRST=0 (no peel expected)", on, off);
    /* ATTNC_PEEL_ALL=0: persistent blocks run their loop whole again */
    const char *persist = "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1";
    char *text = env_ptx("causal_d128.attn", persist, "ATTNC_PEEL_ALL", "0");
    int all_off = ptx_count(text, "wgmma.commit_group");
    free(text);
    off = commit_groups("causal_d128.attn", persist, "0");
    if (all_off != off)
        fail_msg("persistent blocks: %d commit groups with ATTNC_PEEL_ALL=0, %d unpeeled (no peel expected)", all_off,
                 off);
}

/* The longest chain of max.f32 instructions in text, each reading the
 * previous one's result (the row max's latency: registers are named
 * %f<number>, written once). */
static int max_chain(const char *text)
{
    enum { MAXREG = 1 << 16 };
    unsigned char *depth = calloc(MAXREG, 1);
    assert_non_null(depth);
    int longest = 0;
    for (const char *at = text; (at = strstr(at, "max.f32")) != NULL; at += 7) {
        int d, a, b;
        if (sscanf(at, "max.f32 %%f%d, %%f%d, %%f%d;", &d, &a, &b) != 3 || d >= MAXREG || a >= MAXREG || b >= MAXREG)
            continue;
        int n = 1 + (depth[a] > depth[b] ? depth[a] : depth[b]);
        depth[d] = (unsigned char)(n > 255 ? 255 : n);
        longest = n > longest ? n : longest;
    }
    free(depth);
    return longest;
}

/* $ATTNC_MAX_TREE=1: the row max of a 128-key tile (32 scores a thread a
 * row, and the running max) is a tree of depth 6 (then the two quad
 * shuffles), not the default's chain of 32. */
static void row_max_tree(void **state)
{
    (void)state;
    const char *spec = "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1";
    char *chain = env_ptx("causal_d128.attn", spec, "ATTNC_MAX_TREE", NULL);
    char *tree = env_ptx("causal_d128.attn", spec, "ATTNC_MAX_TREE", "1");
    int dc = max_chain(chain), dt = max_chain(tree);
    int nc = ptx_count(chain, "max.f32"), nt = ptx_count(tree, "max.f32");
    printf("  causal_d128.attn %-56s max.f32: %d, chain depth %d; ATTNC_MAX_TREE=1: %d, depth %d\n", spec, nc, dc, nt,
           dt);
    free(chain);
    free(tree);
    if (dc < 32 || dt > 8 || dt < 5 || nc != nt)
        fail_msg("max.f32 depth %d (%d of them) by default, %d (%d) as a tree: want >= 32, 5..8, as many", dc, nc, dt,
                 nt);
}

/* Q's fragments in registers ($ATTNC_Q_REGS, fa_plan_q_regs): by default
 * each warp of causal, dense and packed documents at head dim 128 loads
 * its Q rows once (D / 16 ldmatrix x4, none at =0) and ptxas keeps the
 * products asynchronous without spills; documents only with their
 * boundary tiles' filter as bit words (none at $ATTNC_DOC_BITS=0, whose
 * element id loads would spill); persistent blocks do, with no more
 * spills than without. */
static void q_in_registers(void **state)
{
    (void)state;
    static const char *const files[] = {"causal_d128.attn", "dense_d128.attn", "doc_causal.attn"};
    const char *spec = "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1";
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *on = env_ptx(files[i], spec, "ATTNC_Q_REGS", NULL), *off = env_ptx(files[i], spec, "ATTNC_Q_REGS", "0");
        int loads_on = ptx_count(on, "ldmatrix.sync.aligned.m8n8.x4"), loads_off = ptx_count(off, "ldmatrix.sync.aligned.m8n8.x4");
        strbuf log;
        sb_init(&log);
        const char *why = ptxas_clean(on, "sm_90a", &log);
        printf("  %-22s %-56s ldmatrix x4: %d by default, %d at ATTNC_Q_REGS=0; ptxas %s\n", files[i], spec, loads_on,
               loads_off, why ? why : "clean");
        if (why)
            fail_msg("%s [%s]: %s:\n%s", files[i], spec, why, sb_cstr(&log));
        if (loads_off != 0 || loads_on != 8)
            fail_msg("%s: %d ldmatrix x4 by default, %d at ATTNC_Q_REGS=0; want 8, 0", files[i], loads_on, loads_off);
        if (strstr(files[i], "doc_")) {
            char *elem = env_ptx(files[i], spec, "ATTNC_DOC_BITS", "0");
            int loads_elem = ptx_count(elem, "ldmatrix.sync.aligned.m8n8.x4");
            printf("  %-22s %-56s ldmatrix x4: %d at ATTNC_DOC_BITS=0\n", files[i], spec, loads_elem);
            if (loads_elem != 0 || ptx_count(on, "shfl.sync.idx.b32") <= ptx_count(elem, "shfl.sync.idx.b32"))
                fail_msg("%s: %d ldmatrix x4 at ATTNC_DOC_BITS=0 (want 0), or no bit words by default", files[i],
                         loads_elem);
            free(elem);
        }
        sb_free(&log);
        free(off);
        free(on);
    }
    /* persistent blocks (sinks + window's default) take it too; their
     * producer already spills 28 bytes at ptxas 13 either way: no more */
    const char *pspec = "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1";
    char *on = env_ptx("sinks_swa_w2047.attn", pspec, "ATTNC_Q_REGS", NULL);
    char *off = env_ptx("sinks_swa_w2047.attn", pspec, "ATTNC_Q_REGS", "0");
    int loads_on = ptx_count(on, "ldmatrix.sync.aligned.m8n8.x4"), loads_off = ptx_count(off, "ldmatrix.sync.aligned.m8n8.x4");
    int spill_on = -1, spill_off = -1;
    strbuf log, log_off; /* each its own: a log's spill bytes are summed */
    sb_init(&log);
    sb_init(&log_off);
    bool ok = ptxas_spills(on, "sm_90a", &spill_on, &log) && ptxas_spills(off, "sm_90a", &spill_off, &log_off);
    printf("  %-22s %-56s ldmatrix x4: %d by default, %d at ATTNC_Q_REGS=0; spill bytes %d vs %d\n",
           "sinks_swa_w2047.attn", pspec, loads_on, loads_off, spill_on, spill_off);
    if (!ok || loads_on != 8 || loads_off != 0 || spill_on > spill_off ||
        strstr(sb_cstr(&log), "are serialized") || strstr(sb_cstr(&log), "C751"))
        fail_msg("persistent sinks + window: ldmatrix x4 %d / %d (want 8 / 0), spills %d vs %d:\n%s", loads_on,
                 loads_off, spill_on, spill_off, sb_cstr(&log));
    sb_free(&log);
    sb_free(&log_off);
    free(off);
    free(on);
}

/* Q's fragments survive the key loop in the SASS: no instruction after the
 * ldmatrix x4 loads writes their registers (ptxas 13.0 gave them to P in the
 * plain loop before Q was carried tile to tile: wrong results on the GPU,
 * 2026-12-06 run75). The checker first on lines written here. */
static void q_fragments_kept(void **state)
{
    (void)state;
    const char *bad = "        /*1500*/  LDSM.16.M88.4 R180, [R10+UR6+0x20000] ;\n"
                      "        /*1b30*/  HGMMA.64x128x16.F32.BF16 R24, R180, gdesc[UR12], RZ, !UPT ;\n"
                      "        /*2e80*/  F2FP.BF16.F32.PACK_AB R182, R14, R13 ;\n";
    const char *good = "        /*1500*/  LDSM.16.M88.4 R180, [R10+UR6+0x20000] ;\n"
                       "        /*1a40*/  LOP3.LUT R181, R181, UR7, RZ, 0x3c, !PT ;\n"
                       "        /*2e80*/  F2FP.BF16.F32.PACK_AB R184, R14, R13 ;\n";
    char first[160];
    assert_int_equal(sass_ldsm_clobbers(bad, first, sizeof first), 1);
    assert_non_null(strstr(first, "F2FP"));
    assert_int_equal(sass_ldsm_clobbers(good, NULL, 0), 0);
    if (!sass_tool()) {
        printf("  skipped: no nvdisasm (scripts/install-deps.sh puts one in build-venv)\n");
        return;
    }
    static const struct {
        const char *file, *spec, *q_regs;
    } kernels[] = {
        {"causal_d128.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1", NULL},
        {"dense_d128.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=0", "1"},
        {"swa_w1024.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=0", "1"},
        {"sinks_swa_w2047.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1", NULL},
    };
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
        char *text = env_ptx(kernels[i].file, kernels[i].spec, "ATTNC_Q_REGS", kernels[i].q_regs);
        strbuf sass;
        sb_init(&sass);
        bool ok = sass_of(text, "sm_90a", &sass);
        int loads = ptx_count(sb_cstr(&sass), "LDSM.16.M88.4");
        int n = ok ? sass_ldsm_clobbers(sb_cstr(&sass), first, sizeof first) : -1;
        printf("  %-22s %-52s ATTNC_Q_REGS=%s: %d LDSM x4, %d later writes of their registers%s%s\n",
               kernels[i].file, kernels[i].spec, kernels[i].q_regs ? kernels[i].q_regs : "(unset)", loads, n,
               n > 0 ? ", first: " : "", n > 0 ? first : "");
        if (!ok || loads != 8 || n != 0)
            fail_msg("%s [%s]: %s", kernels[i].file, kernels[i].spec,
                     !ok ? sb_cstr(&sass) : loads != 8 ? "want 8 LDSM x4" : "Q's registers overwritten in the loop");
        sb_free(&sass);
        free(text);
    }
}

/* 16-byte and 4-byte global stores in the kernel of file [spec] with
 * $ATTNC_O_STAGE = value. */
static void o_stores(const char *file, const char *spec, const char *value, int *v4, int *b32)
{
    char *text = env_ptx(file, spec, "ATTNC_O_STAGE", value);
    *v4 = ptx_count(text, "st.global.v4.u32");
    *b32 = ptx_count(text, "st.global.b32");
    free(text);
}

/* By default O goes through shared memory: Dv x 64 / (8 x 128) 16-byte
 * stores a thread (three copies in persistent blocks), no 4-byte ones (persistent blocks, whose Q bytes the
 * next item refills, in bytes of their own); =0, and persistent blocks
 * with no room for those bytes (three stages), store the fragments. */
static void o_staged(void **state)
{
    (void)state;
    static const char *const staged[][2] = {
        {"causal_d128.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1"},
        {"dense_d128.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=2"},
        {"doc_causal.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1"},
        {"dense_d128.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws"},
        {"flux_gna.attn", "q=8x16 kv=8x16 stages=2 warps=8 overlap=1 qgroup=2"},
        {"sinks_swa_w2047.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"},
        {"causal_d128.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"},
    };
    for (size_t i = 0; i < sizeof staged / sizeof staged[0]; i++) {
        int v4, b32, v4_off, b32_off;
        o_stores(staged[i][0], staged[i][1], NULL, &v4, &b32);
        o_stores(staged[i][0], staged[i][1], "0", &v4_off, &b32_off);
        printf("  %-22s %-56s O stores: %d v4 + %d b32, =0: %d + %d\n", staged[i][0], staged[i][1], v4, b32, v4_off,
               b32_off);
        /* persistent blocks defer each item's store into the next item ($ATTNC_O_DEFER, on by default):
         * three copies (test_ptx_o_defer) */
        int copies = strstr(staged[i][1], "persist=1") ? 3 : 1;
        if (v4 != 8 * copies || b32 != 0 || v4_off != 0 || b32_off != 32)
            fail_msg("%s [%s]: %d 16-byte and %d 4-byte stores (=0: %d, %d); want %d, 0 (=0: 0, 32)", staged[i][0],
                     staged[i][1], v4, b32, v4_off, b32_off, 8 * copies);
    }
    int v4, b32;
    o_stores("sinks_swa_w2047.attn", "q=128 kv=128 stages=3 warps=8 overlap=1 persist=1", NULL, &v4, &b32);
    if (v4 != 0 || b32 != 32)
        fail_msg("persistent sinks + window, three stages: %d 16-byte and %d 4-byte stores; want 0, 32", v4, b32);
}

/* ATTNC_O_TMA=1: the staged O leaves by TMA, Dv / 64 boxes a warpgroup
 * (two at head dim 128) waited for until read, no O store by the threads;
 * ptxas accepts it (a fourth map param). */
static void o_by_tma(void **state)
{
    (void)state;
    const char *spec = "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1";
    char *text = env_ptx("doc_causal.attn", spec, "ATTNC_O_TMA", "1");
    int boxes = ptx_count(text, "global.shared::cta.bulk_group"), waits = ptx_count(text, "cp.async.bulk.wait_group.read 0");
    int v4 = ptx_count(text, "st.global.v4.u32"), b32 = ptx_count(text, "st.global.b32");
    printf("  doc_causal.attn %-56s ATTNC_O_TMA=1: %d boxes, %d waits, %d + %d thread stores\n", spec, boxes, waits, v4,
           b32);
    if (boxes != 2 || waits != 1 || v4 || b32)
        fail_msg("ATTNC_O_TMA=1: %d store boxes, %d waits, %d 16-byte and %d 4-byte stores; want 2, 1, 0, 0", boxes,
                 waits, v4, b32);
    strbuf log;
    sb_init(&log);
    const char *why = ptxas_clean(text, "sm_90a", &log);
    if (why)
        fail_msg("ATTNC_O_TMA=1: %s:\n%s", why, sb_cstr(&log));
    sb_free(&log);
    free(text);
}

static void refused(const char *file, const char *spec, target_arch arch, const char *why)
{
    strbuf msg;
    sb_init(&msg);
    if (!bench_recipe_refused(file, spec, arch, why, &msg))
        fail_msg("%s", sb_cstr(&msg));
    sb_free(&msg);
}

static void refusals(void **state)
{
    (void)state;
    refused("dense_d128.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma overlap=1", TARGET_SM90A,
            "needs the producer warpgroup");
    refused("dense_d128.attn", "q=128 kv=64 stages=2 warps=8 overlap=1", TARGET_SM80, "needs the producer warpgroup");
    refused("dense_d128.attn", "q=64 kv=128 stages=2 warps=4 mma=wgmma_ws overlap=2", TARGET_SM90A, "warps=8");
    refused("dense_d128.attn", "q=128 kv=256 stages=1 warps=8 mma=wgmma_ws overlap=1", TARGET_SM90A, "registers");
}

int main(void)
{
    if (!ptxas_available()) {
        printf("skipped: no ptxas\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(overlapped), cmocka_unit_test(first_tile_peeled),
                                       cmocka_unit_test(o_staged), cmocka_unit_test(o_by_tma), cmocka_unit_test(row_max_tree), cmocka_unit_test(q_in_registers),
                                       cmocka_unit_test(q_fragments_kept),
                                       cmocka_unit_test(refusals)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
