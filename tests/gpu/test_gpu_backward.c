/* test_gpu_backward.c — the softmax backward on the CUDA backend
 * (codegen/nvptx_bwd*.c, runtime/cuda/cuda_backward.c) against the fp64
 * reference gradients (tests/reference, ref_check_backward with device
 * memory): fresh random inputs, NaN-poisoned dq/dk/dv, rows of masked
 * queries and keys no query sees exactly 0. Cases: dense, causal, sliding
 * window, 2-D neighborhood, softcap, GQA, cross attention with empty rows,
 * token counts and grids that divide no tile, bf16 and f16, D = 64, 128
 * (and 256 for softcap), the atomic build (ATTNC_BWD_DQ=atomic: dQ
 * and param gradients by red.global.add), under wgmma the bulk build
 * (ATTNC_BWD_DQ=bulk: dQ by cp.reduce.async.bulk of shared f32 tiles from
 * the dK/dV kernel; the line says "bulk" where the build took it) and the
 * deterministic build, bit-identical over two runs (d<param> too);
 * param gradients (d<param>, compared with the reference's exact ones): a
 * 2-D neighborhood's relative-position bias table, an additive bias
 * tensor over (q, k) in cross attention with GQA, a 1-D relative bias
 * plus a per-head gain (two params, a partial that reads s), f32, bf16 and
 * f16 params; ALiBi slopes given as a param (a partial that depends on the
 * position) must be refused (test_refusals), and build when held
 * constant (test_constants: attnc_build_options.no_grad, with a bias tensor
 * held constant too); then every shipped
 * softmax recipe at `attnc run`'s default shape (deterministic build, two
 * runs). Every case runs under both products, ATTNC_BWD_MMA=sync and
 * =wgmma (sm_90a; the line says "wgmma" where the build took it, "sync"
 * where it fell back); the cases also run wgmma under the other
 * ATTNC_BWD_OVERLAP levels, ATTNC_BWD_DKV_KEYS=64, ATTNC_BWD_PIPE=3 and
 * ATTNC_BWD_DKV_BOX=off ("wgmma:N", "wgmma:k64", "wgmma:p3", "wgmma:box64";
 * shipped recipes the first two), and a 128-key-tile case.
 * Prints one line per case.
 * Union masks (test_unions; ATTNC_TEST_UNIONS_ONLY=1: those alone) run
 * under ATTNC_BWD_PARTS=1 unless the caller sets it: the backward's walk
 * of the union's parts (sinks || window, three parts, a grid, GQA, rows
 * without keys).
 * ATTNC_TEST_SMALL=1 (compute-sanitizer runs, scripts/gpu-run.sh): a few
 * cases (dense, causal, 2-D and 3-D neighborhood, GQA, cross, the bias
 * table) and no shipped recipes. ATTNC_TEST_CASE=NAME: only the cases whose
 * name holds NAME (e.g. neighborhood). ATTNC_TEST_BWD_DQ=kernel|atomic|bulk runs that dQ
 * only (the shipped recipes: kernel under both products, bulk under
 * wgmma). ATTNC_TEST_BWD_MODE=M: only mode M (mma_modes below) on every
 * case, e.g. wgmma:noprod. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_case.h"
#include "passes/lower_backward.h"
#include "reference/ref_bwd_check.h"
#include "runtime/api/api_internal.h"
#include "source_tree.h"

/* ---- device memory for ref_check_backward ---- */

static strbuf dev_err;
static ref_mem_ops dev; /* gpu_ref_mem(&dev_err), set in main */

static bool small(void)
{
    const char *e = getenv("ATTNC_TEST_SMALL");
    return e && e[0] && strcmp(e, "0");
}

/* ---- cases ---- */

typedef struct bcase {
    const char *name;
    const char *text; /* %1$s dtype, %2$d head dim */
    int D;
    const char *dt;
    ref_shape sh;
} bcase;

#define IN_QKV "input  q, k, v : %1$s [batch, heads, tokens, %2$d]\n"
#define IN_CROSS "input q : %1$s [batch, heads, tokens, %2$d]\ninput k, v : %1$s [batch, kv_heads, kv_tokens, %2$d]\n"

static const bcase cases[] = {
    {"dense", "recipe dense\n" IN_QKV "score s * scale\n", 64, "bf16", {.batch = 2, .heads = 2, .tokens = 200}},
    {"dense", "recipe dense\n" IN_QKV "score s * scale\n", 128, "f16", {.batch = 1, .heads = 3, .tokens = 77}},
    {"causal", "recipe causal\n" IN_QKV "mask causal\n", 128, "bf16", {.batch = 1, .heads = 2, .tokens = 333}},
    {"causal", "recipe causal\n" IN_QKV "mask causal\n", 64, "f16", {.batch = 2, .heads = 1, .tokens = 130}},
    {"sliding_window", "recipe sw\n" IN_QKV "mask sliding_window(63, 0)\n", 128, "bf16",
     {.batch = 1, .heads = 2, .tokens = 301}},
    {"neighborhood2d", "recipe nbh\n" IN_QKV "tokens grid(y: H, x: W)\nmask neighborhood(window: (7, 7), dilation: (1, 1))\n"
                       "score s * scale\n", 64, "bf16", {.batch = 1, .heads = 2, .grid = {19, 13}}},
    {"neighborhood2d", "recipe nbh\n" IN_QKV "tokens grid(y: H, x: W)\nmask neighborhood(window: (5, 5), dilation: (1, 1))\n"
                       "score s * scale\n", 128, "f16", {.batch = 1, .heads = 1, .grid = {12, 21}}},
    {"softcap", "recipe softcap\n" IN_QKV "mask causal\nscore softcap(s * scale, 5.0)\n", 128, "bf16",
     {.batch = 1, .heads = 2, .tokens = 150}},
    {"softcap", "recipe softcap\n" IN_QKV "mask causal\nscore softcap(s * scale, 5.0)\n", 256, "bf16",
     {.batch = 1, .heads = 1, .tokens = 100}},
    {"gqa", "recipe gqa\ninput q : %1$s [batch, heads, tokens, %2$d]\ninput k, v : %1$s [batch, kv_heads, tokens, %2$d]\n"
            "mask causal\n", 128, "bf16", {.batch = 1, .heads = 4, .kv_heads = 2, .tokens = 190}},
    {"cross", "recipe cross\n" IN_CROSS "mask k.t <= q.t - 20\n", 64, "bf16",
     {.batch = 2, .heads = 4, .kv_heads = 1, .tokens = 150, .kv_tokens = 97}},
    {"cross", "recipe cross\n" IN_CROSS "score s * scale\n", 128, "f16",
     {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 45, .kv_tokens = 260}},
    /* param gradients (index 12 on: PARAM_CASES) */
    {"relpos_bias2d", "recipe rpb\n" IN_QKV "tokens grid(y: H, x: W)\nparam rpb : f32 [heads, 13, 13]\n"
                      "mask neighborhood(window: (7, 7))\nscore s * scale + rpb[head, k.y - q.y + 6, k.x - q.x + 6]\n",
     64, "bf16", {.batch = 2, .heads = 2, .grid = {19, 13}}},
    {"bias_cross", "recipe bias\n" IN_CROSS "param bias : bf16 [heads, tokens, kv_tokens]\n"
                   "score s * scale + bias[head, q.t, k.t]\n",
     64, "f16", {.batch = 2, .heads = 2, .kv_heads = 1, .tokens = 77, .kv_tokens = 150}},
    {"relpos_gain", "recipe relgain\n" IN_QKV "param rel : f16 [heads, 64]\nparam gain : f32 [heads]\n"
                    "mask sliding_window(63, 0)\nscore gain[head] * s * scale + rel[head, q.t - k.t]\n",
     64, "bf16", {.batch = 2, .heads = 3, .tokens = 211}},
    /* 128-key tiles: the wgmma dK/dV kernel's two warpgroups */
    {"causal kv128", "recipe causal\n" IN_QKV "mask causal\ntile q(64) kv(128)\n", 64, "bf16",
     {.batch = 1, .heads = 2, .tokens = 333}},
    /* a 3-D grid dividing no box (4x4x4, 4x4x8, 4x2x8), where 4x4x4 and 4x2x8 count different tiles */
    {"neighborhood3d", "recipe nb3\n" IN_QKV "tokens grid(time: T, y: H, x: W)\nmask neighborhood(window: (3, 5, 7))\n"
                       "score s * scale\n", 128, "bf16", {.batch = 1, .heads = 2, .grid = {6, 5, 17}}},
};
enum { PARAM_CASES = 12, NCASES = sizeof cases / sizeof cases[0] };

static attnc_status build(attnc_context *ctx, attnc_recipe *rc, unsigned flags, attnc_kernel **fwd, attnc_kernel **bwd)
{
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.flags = flags;
    *fwd = *bwd = NULL;
    attnc_status st = attnc_kernel_build_backward(bwd, ctx, rc, &o);
    return st ? st : attnc_kernel_build(fwd, ctx, rc, &o);
}

/* ATTNC_BWD_MMA values; "wgmma:N" also sets ATTNC_BWD_OVERLAP=N,
 * "wgmma:k64" ATTNC_BWD_DKV_KEYS=64 (64-key dK/dV tiles; the default is 128
 * keys there, 64 in the dQ kernel), "wgmma:pN" ATTNC_BWD_PIPE=N (the
 * pipelined dK/dV pair, opt-in), "wgmma:box64" ATTNC_BWD_DKV_BOX=off
 * (grids: the 64-token boxes of both kernels; the default gives the dK/dV
 * kernel 128-key boxes), "wgmma:noprod" ATTNC_BWD_PRODUCER=0 (without the
 * dK/dV kernel's TMA producer ring, which the other wgmma modes take where
 * it serves: the line says "producer" where the build took it),
 * "wgmma:prodp1" the producer with ATTNC_BWD_PIPE=1 (its default order is
 * PIPE=2's), "wgmma:prods" ATTNC_BWD_PRODUCER=2 (dS handed over between the
 * warpgroups by bar.arrive / bar.sync instead of a barrier per tile),
 * "wgmma:prodw" ATTNC_BWD_DQ_WRITER=1 (the producer warpgroup's dQ writer
 * warp), "wgmma:prodd" / "wgmma:proddp1" ATTNC_BWD_DQ_DEFER=1 (a pair's dQ
 * product issued by the next pair; PIPE=2's order, then PIPE=1's). A
 * caller's ATTNC_BWD_PIPE / ATTNC_BWD_DQ_WRITER / ATTNC_BWD_DQ_DEFER /
 * ATTNC_BWD_DKV_BOX hold for every mode but the one that sets it.
 * The shipped recipes run the first two. */
static const char *const mma_modes[] = {"sync",        "wgmma",        "wgmma:0",     "wgmma:2",
                                        "wgmma:3",     "wgmma:k64",    "wgmma:p3",    "wgmma:box64",
                                        "wgmma:noprod", "wgmma:prodp1", "wgmma:prods", "wgmma:prodw",
                                        "wgmma:prodd",  "wgmma:proddp1"};
enum { NMODES = sizeof mma_modes / sizeof mma_modes[0] };

/* $ATTNC_TEST_BWD_MODE=M (an mma_modes entry, e.g. wgmma:noprod): that mode
 * only, on every case; else the first two, and all of them on the core
 * cases. */
static bool mode_wanted(int m, bool core)
{
    const char *e = getenv("ATTNC_TEST_BWD_MODE");
    if (e && e[0])
        return !strcmp(e, mma_modes[m]);
    return m < (core ? NMODES : 2);
}

/* How dQ is formed (ATTNC_BWD_DQ): DQ_DET is the deterministic build (the
 * dQ kernel, run twice and compared bit for bit). */
typedef enum { DQ_ATOMIC, DQ_DET, DQ_BULK } dq_kind;
static const char *const dq_names[] = {"atomic", "det", "bulk"};

/* $ATTNC_TEST_BWD_DQ: only that dQ ("kernel" is DQ_DET). */
static bool dq_wanted(dq_kind dq)
{
    const char *e = getenv("ATTNC_TEST_BWD_DQ");
    return !e || !e[0] || !strcmp(e, dq == DQ_DET ? "kernel" : dq_names[dq]);
}

/* Builds under ATTNC_BWD_MMA=mma, with dQ and param gradients by atomic adds
 * (ATTNC_BWD_DQ=atomic, read by the build), by bulk reductions
 * (ATTNC_BWD_DQ=bulk) or deterministic. */
static attnc_status build_mode(attnc_context *ctx, attnc_recipe *rc, const char *mma, dq_kind dq, attnc_kernel **fwd,
                               attnc_kernel **bwd)
{
    char name[16];
    snprintf(name, sizeof name, "%s", mma);
    char *lvl = strchr(name, ':'), box[64] = "";
    char pipe_was[16] = "";
    const char *pipe_env = getenv("ATTNC_BWD_PIPE"); /* a caller's setting is kept for the other modes */
    if (pipe_env)
        snprintf(pipe_was, sizeof pipe_was, "%s", pipe_env);
    char writer_was[16] = "";
    const char *writer_env = getenv("ATTNC_BWD_DQ_WRITER");
    if (writer_env)
        snprintf(writer_was, sizeof writer_was, "%s", writer_env);
    char defer_was[16] = "";
    const char *defer_env = getenv("ATTNC_BWD_DQ_DEFER");
    if (defer_env)
        snprintf(defer_was, sizeof defer_was, "%s", defer_env);
    const char *env_box = getenv("ATTNC_BWD_DKV_BOX");
    if (env_box)
        snprintf(box, sizeof box, "%s", env_box);
    if (lvl) {
        *lvl++ = 0;
        if (!strcmp(lvl, "k64"))
            setenv("ATTNC_BWD_DKV_KEYS", "64", 1);
        else if (!strcmp(lvl, "noprod"))
            setenv("ATTNC_BWD_PRODUCER", "0", 1);
        else if (!strcmp(lvl, "prodw")) /* the producer with its dQ writer warp */
            setenv("ATTNC_BWD_DQ_WRITER", "1", 1);
        else if (!strncmp(lvl, "prodd", 5)) { /* the producer with the deferred dQ [and a pipe order pN] */
            setenv("ATTNC_BWD_DQ_DEFER", "1", 1);
            if (lvl[5] == 'p')
                setenv("ATTNC_BWD_PIPE", lvl + 6, 1);
        }
        else if (!strncmp(lvl, "prod", 4)) { /* [s: =2] and an overlap level N or a pipe order pN after it */
            const char *rest = lvl + 4 + (lvl[4] == 's');
            setenv("ATTNC_BWD_PRODUCER", lvl[4] == 's' ? "2" : "1", 1);
            if (rest[0] == 'p')
                setenv("ATTNC_BWD_PIPE", rest + 1, 1);
            else if (rest[0])
                setenv("ATTNC_BWD_OVERLAP", rest, 1);
        } else if (lvl[0] == 'p')
            setenv("ATTNC_BWD_PIPE", lvl + 1, 1);
        else if (!strcmp(lvl, "box64"))
            setenv("ATTNC_BWD_DKV_BOX", "off", 1);
        else
            setenv("ATTNC_BWD_OVERLAP", lvl, 1);
    }
    setenv("ATTNC_BWD_MMA", name, 1);
    if (dq != DQ_DET)
        setenv("ATTNC_BWD_DQ", dq_names[dq], 1);
    attnc_status st = build(ctx, rc, dq == DQ_DET ? ATTNC_BUILD_DETERMINISTIC : 0, fwd, bwd);
    unsetenv("ATTNC_BWD_MMA");
    unsetenv("ATTNC_BWD_DQ");
    unsetenv("ATTNC_BWD_OVERLAP");
    unsetenv("ATTNC_BWD_DKV_KEYS");
    unsetenv("ATTNC_BWD_PRODUCER");
    if (writer_was[0]) /* a caller's setting holds for the other modes */
        setenv("ATTNC_BWD_DQ_WRITER", writer_was, 1);
    else
        unsetenv("ATTNC_BWD_DQ_WRITER");
    if (defer_was[0])
        setenv("ATTNC_BWD_DQ_DEFER", defer_was, 1);
    else
        unsetenv("ATTNC_BWD_DQ_DEFER");
    if (pipe_was[0])
        setenv("ATTNC_BWD_PIPE", pipe_was, 1);
    else
        unsetenv("ATTNC_BWD_PIPE");
    if (box[0])
        setenv("ATTNC_BWD_DKV_BOX", box, 1);
    else
        unsetenv("ATTNC_BWD_DKV_BOX");
    return st;
}

static bool run_mode(attnc_context *ctx, attnc_recipe *rc, const char *name, const ref_shape *sh, dq_kind dq,
                     const char *mma, uint64_t seed)
{
    bool det = dq == DQ_DET;
    attnc_kernel *fwd, *bwd;
    attnc_status st = build_mode(ctx, rc, mma, dq, &fwd, &bwd);
    char label[256];
    const char *lvl = strchr(mma, ':');
    bool wg = !st && bwd->sched.mma == MMA_WGMMA;
    snprintf(label, sizeof label, "%s %s%s", name, wg ? "wgmma" : "sync", lvl && wg ? lvl : "");
    if (st) {
        printf("[FAIL] %s (asked %s) %s: build: %s\n", label, mma, dq_names[dq], attnc_context_errmsg(ctx));
        attnc_kernel_destroy(bwd);
        return false;
    }
    /* bulk under wgmma says so in the schedule text; without wgmma it is the dQ kernel */
    bool bulk = strstr(attnc_kernel_schedule(bwd), "(dQ bulk)") != NULL;
    if (dq == DQ_BULK && bulk != wg) {
        printf("[FAIL] %s bulk: the build %s bulk dQ (schedule \"%s\")\n", label, bulk ? "took" : "did not take",
               attnc_kernel_schedule(bwd));
        attnc_kernel_destroy(fwd);
        attnc_kernel_destroy(bwd);
        return false;
    }
    const char *how = det ? " det" : dq == DQ_ATOMIC ? " atomic" : bulk ? " bulk" : " bulk->kernel";
    bool producer = strstr(attnc_kernel_schedule(bwd), "(TMA producer") != NULL;
    bool deferred = strstr(attnc_kernel_schedule(bwd), "dQ deferred") != NULL;
    ref_check_opts co = {.seed = seed, .check = true, .mem = &dev};
    ref_bwd_result res, res2;
    ref_bwd_data *d1 = NULL, *d2 = NULL;
    bool ok = ref_check_backward(fwd, bwd, rc->r, sh, &co, &res, det ? &d1 : NULL);
    bool same = true;
    if (ok && det) {
        ok = ref_check_backward(fwd, bwd, rc->r, sh, &co, &res2, &d2);
        same = ok && ref_bwd_data_same(d1, d2, NULL, 0);
        ok = ok && same;
    }
    printf("[%s] %s%s%s%s: %s%s\n", ok ? "PASS" : "FAIL", label, how, producer ? " producer" : "",
           deferred ? " (dQ deferred)" : "", res.msg,
           det ? (same ? "; two runs bit-identical" : "; two runs DIFFER") : "");
    ref_bwd_data_free(d1);
    ref_bwd_data_free(d2);
    attnc_kernel_destroy(fwd);
    attnc_kernel_destroy(bwd);
    return ok;
}

static void test_cases(void **state)
{
    (void)state;
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int fails = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bcase *c = &cases[i];
        bool core = i == 0 || i == 2 || i == 5 || i == 9 || i == 10 || i == PARAM_CASES || i + 2 >= NCASES;
        const char *only = getenv("ATTNC_TEST_CASE");
        if ((small() && !core) || (only && !strstr(c->name, only)))
            continue;
        char text[1024], label[128];
        snprintf(text, sizeof text, c->text, c->dt, c->D);
        attnc_recipe *rc;
        if (attnc_recipe_from_text(&rc, ctx, c->name, text, strlen(text))) {
            printf("[FAIL] %s: recipe: %s\n", c->name, attnc_context_errmsg(ctx));
            fails++;
            continue;
        }
        snprintf(label, sizeof label, "%s %s D=%d", c->name, c->dt, c->D);
        for (int m = 0; m < NMODES; m++) /* the other wgmma variants on the core cases */
            for (int dq = 0; dq < 3; dq++) /* bulk: wgmma modes only */
                if (mode_wanted(m, core) && dq_wanted((dq_kind)dq) && (dq != DQ_BULK || m > 0))
                    fails += !run_mode(ctx, rc, label, &c->sh, (dq_kind)dq, mma_modes[m], 9100 + i);
        attnc_recipe_destroy(rc);
    }
    attnc_context_destroy(ctx);
    assert_int_equal(fails, 0);
}

/* ---- union masks: the parts ($ATTNC_BWD_PARTS) ---- */

/* Masks whose key set is a union (docs/mask-analysis.md, "Unions"), which
 * the backward walks part by part under ATTNC_BWD_PARTS=1: the dQ kernel
 * the forward's key parts, the dK/dV kernel the transposed parts
 * (codegen/nvptx_bwd_parts.c). Token counts divide no tile; windows
 * smaller than a tile, sinks spanning a partial tile, GQA, three parts, a
 * 2-D grid, rows without keys (non-causal), and two masks whose dK/dV
 * range has no parts (inverse bounds, cross attention: the dQ kernel's
 * parts only). */
static const bcase union_cases[] = {
    {"u_sinks_window", "recipe sw\n" IN_QKV "mask causal && (sinks(4) || sliding_window(100, 0))\n", 128, "bf16",
     {.batch = 1, .heads = 2, .tokens = 333}},
    {"u_window_lt_tile", "recipe sw\n" IN_QKV "mask causal && (sinks(4) || sliding_window(20, 0))\n", 64, "f16",
     {.batch = 2, .heads = 1, .tokens = 300}},
    {"u_sinks_partial_tile", "recipe sw\n" IN_QKV "mask causal && (sinks(70) || sliding_window(40, 0))\n", 64,
     "bf16", {.batch = 1, .heads = 2, .tokens = 290}},
    {"u_gqa", "recipe gqa\ninput q : %1$s [batch, heads, tokens, %2$d]\n"
              "input k, v : %1$s [batch, kv_heads, tokens, %2$d]\n"
              "mask causal && (sinks(4) || sliding_window(63, 0))\n",
     128, "bf16", {.batch = 1, .heads = 4, .kv_heads = 2, .tokens = 257}},
    {"u_three_parts",
     "recipe tp\n" IN_QKV "mask causal && (sinks(3) || sliding_window(15, 0) || (k.t >= 64 && k.t < 80))\n", 64,
     "bf16", {.batch = 1, .heads = 3, .tokens = 290}},
    {"u_rows_without_keys",
     "recipe rk\n" IN_QKV "mask (k.t < 4 && q.t >= 100) || (k.t >= q.t + 200 && k.t < q.t + 210)\n", 64,
     "bf16", {.batch = 1, .heads = 2, .tokens = 280}},
    {"u_grid", "recipe gu\n" IN_QKV "tokens grid(y: H, x: W)\nmask causal && (k.t < 5 || k.y >= q.y - 1)\n", 64, "bf16",
     {.batch = 1, .heads = 2, .grid = {9, 14}}},
    {"u_both_sides", "recipe bs\n" IN_QKV "mask sinks(5) || sliding_window(10, 7)\n", 64, "bf16",
     {.batch = 2, .heads = 2, .tokens = 257}},
    {"u_cross_tail", "recipe ct\n" IN_CROSS "mask sinks(4) || k.t >= kv_tokens - 16\n", 64, "bf16",
     {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 70, .kv_tokens = 150}},
};

/* Every union case under sync, wgmma (the producer ring where it serves),
 * wgmma:noprod and wgmma:k64, each dQ; ATTNC_BWD_PARTS=1 unless the
 * caller set it (=0: the hulls, the control). */
static void test_unions(void **state)
{
    (void)state;
    if (small())
        return;
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    bool set = !getenv("ATTNC_BWD_PARTS");
    if (set)
        setenv("ATTNC_BWD_PARTS", "1", 1);
    static const char *const modes[] = {"sync", "wgmma", "wgmma:noprod", "wgmma:k64"};
    const char *only = getenv("ATTNC_TEST_CASE"), *mode = getenv("ATTNC_TEST_BWD_MODE");
    int fails = 0;
    for (size_t i = 0; i < sizeof union_cases / sizeof union_cases[0]; i++) {
        const bcase *c = &union_cases[i];
        if (only && !strstr(c->name, only))
            continue;
        char text[1024], label[160];
        snprintf(text, sizeof text, c->text, c->dt, c->D);
        attnc_recipe *rc;
        if (attnc_recipe_from_text(&rc, ctx, c->name, text, strlen(text))) {
            printf("[FAIL] %s: recipe: %s\n", c->name, attnc_context_errmsg(ctx));
            fails++;
            continue;
        }
        snprintf(label, sizeof label, "%s %s D=%d parts=%s", c->name, c->dt, c->D, getenv("ATTNC_BWD_PARTS"));
        for (size_t m = 0; m < sizeof modes / sizeof *modes; m++)
            for (int dq = 0; dq < 3; dq++)
                if ((!mode || !mode[0] || !strcmp(mode, modes[m])) && dq_wanted((dq_kind)dq) &&
                    (dq != DQ_BULK || m > 0))
                    fails += !run_mode(ctx, rc, label, &c->sh, (dq_kind)dq, modes[m], 9700 + i);
        attnc_recipe_destroy(rc);
    }
    if (set)
        unsetenv("ATTNC_BWD_PARTS");
    attnc_context_destroy(ctx);
    assert_int_equal(fails, 0);
}

/* ---- every shipped recipe ---- */

static int shipped(attnc_context *ctx, const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/recipes/%s", test_source_dir(), file);
    attnc_recipe *rc;
    if (attnc_recipe_from_file(&rc, ctx, path)) {
        printf("[FAIL] %s: %s\n", file, attnc_context_errmsg(ctx));
        return 1;
    }
    int fails = 0;
    if (rc->r->family == FAMILY_SOFTMAX) {
        attnc_kernel *fwd, *bwd;
        attnc_status st = build(ctx, rc, 0, &fwd, &bwd);
        if (st) {
            printf("[FAIL] %s: build: %s\n", file, attnc_context_errmsg(ctx));
            fails++;
        } else {
            ref_shape sh;
            ref_default_shape(rc->r, &sh);
            for (int m = 0; m < NMODES; m++) { /* deterministic, two runs each; bulk under wgmma */
                if (!mode_wanted(m, false))
                    continue;
                if (dq_wanted(DQ_DET))
                    fails += !run_mode(ctx, rc, file, &sh, DQ_DET, mma_modes[m], 9500);
                if (m > 0 && dq_wanted(DQ_BULK))
                    fails += !run_mode(ctx, rc, file, &sh, DQ_BULK, mma_modes[m], 9500);
            }
        }
        attnc_kernel_destroy(fwd);
        attnc_kernel_destroy(bwd);
    }
    attnc_recipe_destroy(rc);
    return fails;
}

/* What the CUDA backward refuses, with a message naming the param: ALiBi
 * slopes given as a param (their partial depends on the position; the
 * GPU's delta from O in bf16 is not exact enough for them). */
static void test_refusals(void **state)
{
    (void)state;
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    const char *text = "recipe alibi\ninput q : bf16 [batch, heads, tokens, 128]\n"
                       "input k, v : bf16 [batch, kv_heads, tokens, 128]\nparam slope : f32 [heads]\nmask causal\n"
                       "score s * scale - slope[head] * float(q.t - k.t)\n";
    attnc_recipe *rc;
    assert_int_equal(attnc_recipe_from_text(&rc, ctx, "alibi", text, strlen(text)), ATTNC_OK);
    attnc_kernel *fwd, *bwd;
    attnc_status st = build(ctx, rc, ATTNC_BUILD_DETERMINISTIC, &fwd, &bwd);
    const char *msg = attnc_context_errmsg(ctx);
    printf("[%s] alibi slope param: %s: %s\n", st == ATTNC_ERR_UNSUPPORTED ? "PASS" : "FAIL", attnc_status_string(st),
           msg);
    assert_int_equal(st, ATTNC_ERR_UNSUPPORTED);
    assert_non_null(strstr(msg, "'slope'"));
    assert_non_null(strstr(msg, "position"));
    attnc_kernel_destroy(fwd);
    attnc_kernel_destroy(bwd);
    attnc_recipe_destroy(rc);
    attnc_context_destroy(ctx);
}

/* Params held constant (attnc_build_options.no_grad): the ALiBi slopes the
 * CUDA backward refuses with a gradient build without it, and a bias
 * tensor's gradient is left out; dq, dk, dv against the reference (whose
 * recipe copy marks the constants too), under the default products. */
static void test_constants(void **state)
{
    (void)state;
    static const struct {
        const char *name, *text, *no_grad;
        ref_shape sh;
    } cs[] = {
        {"alibi slope constant",
         "recipe alibi\ninput q : bf16 [batch, heads, tokens, 128]\ninput k, v : bf16 [batch, kv_heads, tokens, 128]\n"
         "param slope : f32 [heads]\nmask causal\nscore s * scale - slope[head] * float(q.t - k.t)\n",
         "slope", {.batch = 2, .heads = 4, .kv_heads = 2, .tokens = 333}},
        {"bias tensor constant",
         "recipe biasc\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nparam bias : f32 [heads, tokens, tokens]\n"
         "mask sliding_window(100, 0)\nscore s * scale + bias[head, q.t, k.t]\n",
         "bias", {.batch = 1, .heads = 2, .tokens = 200}},
    };
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int fails = 0;
    const char *only = getenv("ATTNC_TEST_CASE");
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        if (only && !strstr(cs[i].name, only))
            continue;
        attnc_recipe *rc;
        assert_int_equal(attnc_recipe_from_text(&rc, ctx, cs[i].name, cs[i].text, strlen(cs[i].text)), ATTNC_OK);
        attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
        o.backend = ATTNC_BACKEND_CUDA;
        o.no_grad = cs[i].no_grad;
        attnc_kernel *fwd = NULL, *bwd = NULL;
        attnc_status st = attnc_kernel_build_backward(&bwd, ctx, rc, &o);
        if (!st)
            st = attnc_kernel_build(&fwd, ctx, rc, &o);
        bool ok = st == ATTNC_OK;
        ref_bwd_result res = {0};
        if (ok) {
            recipe r;
            recipe_param *params;
            strbuf err;
            sb_init(&err);
            assert_true(backward_recipe_no_grad(rc->r, cs[i].no_grad, &r, &params, &err));
            sb_free(&err);
            ref_check_opts co = {.seed = 4400 + i, .check = true, .mem = &dev};
            ok = ref_check_backward(fwd, bwd, &r, &cs[i].sh, &co, &res, NULL);
            free(params);
        }
        printf("[%s] %s [%s]: %s\n", ok ? "PASS" : "FAIL", cs[i].name, bwd ? attnc_kernel_schedule(bwd) : "-",
               st ? attnc_context_errmsg(ctx) : res.msg);
        fails += !ok;
        attnc_kernel_destroy(fwd);
        attnc_kernel_destroy(bwd);
        attnc_recipe_destroy(rc);
    }
    attnc_context_destroy(ctx);
    assert_int_equal(fails, 0);
}

static void test_shipped(void **state)
{
    (void)state;
    if (small())
        return;
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    DIR *d = test_opendir_recipes();
    assert_non_null(d);
    int fails = 0;
    const char *only = getenv("ATTNC_TEST_RECIPE");
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".attn") && (!only || strstr(e->d_name, only)))
            fails += shipped(ctx, e->d_name);
    }
    closedir(d);
    attnc_context_destroy(ctx);
    assert_int_equal(fails, 0);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    sb_init(&dev_err);
    dev = gpu_ref_mem(&dev_err);
    if (getenv("ATTNC_TEST_UNIONS_ONLY")) {
        const struct CMUnitTest only[] = {cmocka_unit_test(test_unions)};
        return cmocka_run_group_tests(only, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cases), cmocka_unit_test(test_unions),
                                       cmocka_unit_test(test_refusals), cmocka_unit_test(test_constants),
                                       cmocka_unit_test(test_shipped)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
