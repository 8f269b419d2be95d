/*
 * fuzz_pipeline.c — libFuzzer entry for everything between the recipe
 * text and LLVM IR: front end, lowering, tiling, mask analysis, fusion,
 * layout and pipelining (lower_recipe, for the host and both GPU targets),
 * the tile IR verifier and printer/parser, and the host code generator.
 *
 * For every recipe the front end accepts it checks:
 *  - lowering for the host succeeds (the front end already rejected every
 *    recipe and tile section the host cannot run); for sm_80 and sm_90a it
 *    succeeds or says why;
 *  - the verifier accepts each lowered kernel, and print -> parse -> print
 *    gives the same text (the tile IR's text form is exact);
 *  - the host code generator emits a module that LLVM's verifier accepts;
 *  - mask analysis is sound on a small concrete shape (sizes from the hash
 *    of the input), by brute force over every tile pair for two batches and
 *    two heads (mask_work_report): no kept pair in a skipped tile, no
 *    dropped pair in a tile called full; params read as pseudo-random
 *    small ints, since the analysis must hold for any values.
 * Deeper steps run on a deterministic share of inputs (by a hash of the
 * bytes, so a saved input always replays the same way): one in 16 is
 * optimised at O2 and JIT-compiled, one in 32 also goes through the NVPTX
 * back end to PTX for each GPU target. A violated check calls abort().
 * The same file builds with gcc and replay_main.c for ctest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/host_codegen.h"
#include "codegen/nvptx_kernel.h"
#include "frontend/frontend.h"
#include "ir/tile_ir.h"
#include "passes/mask_analysis.h"
#include "passes/pipeline.h"
#include "fuzz_hash.h"

/* A violation: say what, then abort so libFuzzer keeps the input. */
static void check(bool ok, const char *what, strbuf *detail)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_pipeline: %s%s%s\n", what, detail && detail->len ? ": " : "",
            detail && detail->len ? sb_cstr(detail) : "");
    abort();
}

/* Verifier, and the text form's round trip. */
static void check_tile_ir(arena *a, tir_kernel *k)
{
    strbuf err, t1, t2;
    sb_init(&err);
    sb_init(&t1);
    sb_init(&t2);
    check(tir_verify(k, &err), "the verifier rejects a lowered kernel", &err);
    tir_print(&t1, k);
    tir_kernel *back = tir_parse(a, sb_cstr(&t1), t1.len, &err);
    check(back != NULL, "the printed tile IR does not parse", &err);
    tir_print(&t2, back);
    check(t1.len == t2.len && !memcmp(sb_cstr(&t1), sb_cstr(&t2), t1.len), "print -> parse -> print differs", NULL);
    sb_free(&err);
    sb_free(&t1);
    sb_free(&t2);
}

static void run_host(arena *a, const recipe *r, const tir_kernel *k, bool deep)
{
    strbuf err;
    sb_init(&err);
    host_kernel hk;
    check(host_codegen_emit_ir(a, k, 0, &hk, NULL, &err), "host code generation fails", &err);
    check(hk.nargs > 0 && hk.fn == NULL, "host_codegen_emit_ir's kernel description", NULL);
    if (deep) {
        check(host_codegen_build(a, k, 2, &hk, &err), "host JIT at O2 fails", &err);
        check(hk.fn != NULL, "host JIT gave no function", NULL);
        host_kernel_release(&hk);
    }
    sb_free(&err);
}

static void run_gpu(const recipe *r, const tir_kernel *k, target_arch arch)
{
    strbuf ptx, err;
    sb_init(&ptx);
    sb_init(&err);
    nvptx_kernel_info info;
    nvptx_status st = nvptx_emit_kernel(k, arch, &info, &ptx, &err);
    check(st != NVPTX_INTERNAL, "PTX emission: internal error", &err);
    check(st == NVPTX_OK ? ptx.len > 0 : err.len > 0, "PTX emission: no PTX and no reason", NULL);
    sb_free(&ptx);
    sb_free(&err);
}

/* Any param element: a small int from a hash of its index. */
static int64_t param_value(void *user, int param, const int64_t *idx, int nidx)
{
    (void)user;
    uint64_t h = 0x9e3779b97f4a7c15u * (uint64_t)(param + 1);
    for (int i = 0; i < nidx; i++)
        h = (h ^ (uint64_t)idx[i]) * 0x100000001b3u;
    return (int64_t)((h >> 29) % 3);
}

/* A small shape for the recipe, from the input's hash; false when its fixed
 * extents make the brute force too slow. */
static bool small_sizes(const recipe *r, uint32_t h, int64_t *sz)
{
    memset(sz, 0, sizeof(int64_t) * SZ_MAX);
    sz[SZ_BATCH] = 2;
    sz[SZ_HEADS] = 1 + h % 3;
    sz[SZ_KV_HEADS] = r->gqa ? 1 : sz[SZ_HEADS];
    sz[SZ_TOKENS] = 1 + (h >> 2) % 48;
    if (r->grid_ndim > 0) {
        sz[SZ_TOKENS] = 1;
        for (int d = 0; d < r->grid_ndim; d++) {
            int64_t fixed = r->sizes[SZ_GRID0 + d].fixed;
            if (fixed > 512)
                return false;
            sz[SZ_GRID0 + d] = fixed > 0 ? fixed : 1 + (h >> (8 + 3 * d)) % 6;
            sz[SZ_TOKENS] *= sz[SZ_GRID0 + d];
        }
        if (sz[SZ_TOKENS] > 512)
            return false;
    }
    sz[SZ_KV_TOKENS] = r->cross ? 1 + (h >> 20) % 40 : sz[SZ_TOKENS];
    for (int s = SZ_EXTRA0; s < SZ_MAX; s++)
        sz[s] = r->sizes[s].fixed > 0 && r->sizes[s].fixed <= 64 ? r->sizes[s].fixed : 4;
    return true;
}

static void check_mask_analysis(arena *a, const recipe *r, const tir_kernel *k, uint32_t h)
{
    mask_info mi;
    eval_env env;
    memset(&env, 0, sizeof env);
    if (r->family != FAMILY_SOFTMAX || !small_sizes(r, h, env.sizes))
        return;
    check(mask_analyze(a, r, &k->sched, &mi), "mask_analyze ran out of memory", NULL);
    env.grid_ndim = r->grid_ndim;
    env.param = param_value;
    int64_t heads = env.sizes[SZ_HEADS], group = heads / env.sizes[SZ_KV_HEADS];
    for (int b = 0; b < 2; b++)
        for (int64_t hd = 0; hd < heads; hd += heads > 1 ? heads - 1 : 1) {
            env.batch = b;
            env.head = hd;
            env.kv_head = hd / group;
            mask_work w;
            check(mask_work_report(&mi, &env, true, &w), "mask_work_report failed", NULL);
            if (w.kept_pairs < 0)
                return; /* the mask cannot be evaluated here */
            if (w.missed_pairs || w.bad_full)
                fprintf(stderr, "fuzz_pipeline: tokens %lld kv_tokens %lld grid %lldx%lldx%lld heads %lld batch %d head %lld: "
                        "%lld kept pairs in skipped tiles, %lld dropped pairs in full tiles\n",
                        (long long)env.sizes[SZ_TOKENS], (long long)env.sizes[SZ_KV_TOKENS],
                        (long long)env.sizes[SZ_GRID0], (long long)env.sizes[SZ_GRID0 + 1],
                        (long long)env.sizes[SZ_GRID0 + 2], (long long)heads, b, (long long)hd,
                        (long long)w.missed_pairs, (long long)w.bad_full);
            check(w.missed_pairs == 0 && w.bad_full == 0, "mask analysis is unsound", NULL);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena a;
    arena_init(&a, NULL);
    diag_list d;
    diag_list_init(&d, &a, "fuzz.attn", (const char *)data, size);
    recipe *r = frontend_parse(&a, "fuzz.attn", (const char *)data, size, &d);
    uint32_t h = fuzz_hash_bytes(data, size);
    static const target_arch archs[3] = {TARGET_HOST, TARGET_SM80, TARGET_SM90A};
    for (int i = 0; r && i < 3; i++) {
        strbuf err;
        sb_init(&err);
        tir_kernel *k = lower_recipe(&a, r, NULL, archs[i], &err);
        if (archs[i] == TARGET_HOST)
            check(k != NULL, "lowering for the host fails on a recipe the front end accepted", &err);
        else
            check(k != NULL || err.len > 0, "lowering fails without a message", NULL);
        sb_free(&err);
        if (!k)
            continue;
        check_tile_ir(&a, k);
        if (archs[i] == TARGET_HOST) {
            run_host(&a, r, k, h % 16 == 0);
            check_mask_analysis(&a, r, k, h);
        }
        else if (h % 32 == 1)
            run_gpu(r, k, archs[i]);
    }
    arena_free_all(&a);
    return 0;
}
