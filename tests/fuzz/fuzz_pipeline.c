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
 *  - the host code generator emits a module that LLVM's verifier accepts.
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
#include "passes/pipeline.h"

/* A violation: say what, then abort so libFuzzer keeps the input. */
static void check(bool ok, const char *what, strbuf *detail)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_pipeline: %s%s%s\n", what, detail && detail->len ? ": " : "",
            detail && detail->len ? sb_cstr(detail) : "");
    abort();
}

static uint32_t hash_bytes(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
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
    check(host_codegen_emit_ir(a, k, r, 0, &hk, NULL, &err), "host code generation fails", &err);
    check(hk.nargs > 0 && hk.fn == NULL, "host_codegen_emit_ir's kernel description", NULL);
    if (deep) {
        check(host_codegen_build(a, k, r, 2, &hk, &err), "host JIT at O2 fails", &err);
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
    nvptx_status st = nvptx_emit_kernel(k, r, arch, &info, &ptx, &err);
    check(st != NVPTX_INTERNAL, "PTX emission: internal error", &err);
    check(st == NVPTX_OK ? ptx.len > 0 : err.len > 0, "PTX emission: no PTX and no reason", NULL);
    sb_free(&ptx);
    sb_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena a;
    arena_init(&a, NULL);
    diag_list d;
    diag_list_init(&d, &a, "fuzz.attn", (const char *)data, size);
    recipe *r = frontend_parse(&a, "fuzz.attn", (const char *)data, size, &d);
    uint32_t h = hash_bytes(data, size);
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
        if (archs[i] == TARGET_HOST)
            run_host(&a, r, k, h % 16 == 0);
        else if (h % 32 == 1)
            run_gpu(r, k, archs[i]);
    }
    arena_free_all(&a);
    return 0;
}
