/* test_ptx_linear_backward.c — the linear family's GPU backward module
 * (codegen/nvptx_linear_bwd.c: the dq, dk, dv scans on the forward's
 * inter=chain kernel and, with a decay gradient, the gate kernel and the
 * block-boundary states/dots of nvptx_linear_bound.c) for the
 * causal linear recipes through ptxas for sm_80 and sm_90a: it must
 * assemble without spills (the fused dK/dV scan too, sm_90a's default without a decay gradient), hold the kernels
 * the runtime launches (grid x
 * 16, 256 threads), and the recipes it does not take must be refused with
 * a reason. */
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

static recipe *parse(arena *a, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/recipes/%s", test_source_dir(), name);
    size_t len;
    const char *why = NULL;
    char *text = frontend_read_file(a, path, &len, &why);
    if (!text)
        return NULL;
    diag_list diags;
    diag_list_init(&diags, a, path, text, len);
    return frontend_parse(a, path, text, len, &diags);
}

/* Emits recipe `name`'s backward for arch: the status, info, ptx. */
static nvptx_status emit(arena *a, const char *name, target_arch arch, bool fused, bool grads, nvptx_bwd_info *info,
                         strbuf *ptx, strbuf *err)
{
    recipe *r = parse(a, name);
    assert_non_null(r);
    const tir_kernel *sig = lower_signature(a, r);
    assert_non_null(sig);
    bool grad[64] = {false};
    int gp[16], ng = 0;
    assert_true(r->nparams <= 16);
    backward_grad_params(a, r, grad);
    for (int p = 0; grads && p < r->nparams; p++)
        if (grad[p])
            gp[ng++] = p;
    return nvptx_linear_bwd_emit(sig, arch, ng, gp, fused, info, ptx, err);
}

static void assembles(const char *name, target_arch arch, bool fused, bool grads, int nkernels)
{
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx, log;
    sb_init(&err);
    sb_init(&ptx);
    sb_init(&log);
    nvptx_bwd_info info;
    const char *an = arch == TARGET_SM80 ? "sm_80" : "sm_90a";
    if (emit(&a, name, arch, fused, grads, &info, &ptx, &err))
        fail_msg("%s %s: %s", name, an, sb_cstr(&err));
    if (!ptxas_check(sb_cstr(&ptx), an, &log))
        fail_msg("%s: ptxas %s rejected the backward PTX:\n%s", name, an, sb_cstr(&log));
    int spill = ptxas_spill_bytes(sb_cstr(&log));
    printf("  %-18s %-6s %-7s %-7s kernels %d grid.x %d smem", name, an, fused ? "fused" : "", grads ? "" : "no grad",
           info.nkernels, info.lin_grid_x);
    for (int i = 0; i < info.nkernels; i++)
        printf(" %d", info.kernels[i].smem_bytes);
    printf(" spill %d\n", spill);
    if (getenv("ATTNC_PTX_VERBOSE"))
        printf("%s\n", sb_cstr(&log));
    assert_true(info.linear);
    assert_int_equal(info.nkernels, nkernels);
    int segs = nvptx_lin_segments_mode();
    assert_int_equal(info.lin_grid_x, segs < 0 ? 16 : segs);
    int scans = nkernels - grads;
    for (int i = 0; i < nkernels - 1; i++)
        assert_int_equal(info.kernels[i].threads, 256);
    assert_int_equal(info.kernels[0].kind, BWK_LIN_DQ);
    assert_int_equal(info.kernels[scans - 1].kind, scans == 2 ? BWK_LIN_DKV : BWK_LIN_DV);
    if (grads)
        assert_int_equal(info.kernels[nkernels - 1].kind, BWK_LIN_GATE);
    for (int i = 0; i < info.nkernels; i++)
        assert_non_null(strstr(sb_cstr(&ptx), info.kernels[i].name));
    /* the opt-in inclusive look-back spills 4-12 bytes (dq, dk): printed.
     * The fused dK/dV scan spilled 96 bytes on sm_90a (lightning2) while it
     * still formed the k·dk dots nothing reads without a decay gradient */
    if (nvptx_lin_inclusive_mode() != 1)
        assert_int_equal(spill, 0);
    sb_free(&err);
    sb_free(&ptx);
    sb_free(&log);
    arena_free_all(&a);
}

static void refused(const char *name, const char *why)
{
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx;
    sb_init(&err);
    sb_init(&ptx);
    nvptx_bwd_info info;
    nvptx_status st = emit(&a, name, TARGET_SM80, false, true, &info, &ptx, &err);
    printf("  %-18s refused: %s\n", name, sb_cstr(&err));
    assert_int_equal(st, NVPTX_UNSUPPORTED);
    assert_non_null(strstr(sb_cstr(&err), why));
    sb_free(&err);
    sb_free(&ptx);
    arena_free_all(&a);
}

static void test_linear_backward(void **state)
{
    (void)state;
    target_arch arches[2] = {TARGET_SM80, TARGET_SM90A};
    for (int i = 0; i < 2; i++) {
        assembles("lightning2.attn", arches[i], false, true, 4);
        assembles("gated_linear.attn", arches[i], false, true, 4);
        /* fused dK/dV: sm_90a only (sm_80's shared memory takes the three
         * scans), and not with a decay gradient (no boundary dots) */
        assembles("lightning2.attn", arches[i], true, true, 4);
        assembles("gated_linear.attn", arches[i], true, false, i ? 2 : 3);
        /* the decay held constant (attnc_build_options.no_grad): the three
         * scans without the gate kernel, or the fused pair */
        assembles("lightning2.attn", arches[i], false, false, 3);
        assembles("lightning2.attn", arches[i], true, false, i ? 2 : 3);
    }
    refused("linear_elu.attn", "causal");
}

/* $ATTNC_LIN_SEGMENTS=32 (512 slots, nvptx_linear.h), with and without
 * $ATTNC_LIN_INCLUSIVE=1: the scans still assemble without spills. */
static void test_more_segments(void **state)
{
    (void)state;
    const char *names[2] = {"ATTNC_LIN_SEGMENTS", "ATTNC_LIN_INCLUSIVE"};
    char keep[2][16] = {"", ""};
    bool had[2];
    for (int i = 0; i < 2; i++) {
        const char *old = getenv(names[i]);
        had[i] = old != NULL;
        if (old)
            snprintf(keep[i], sizeof keep[i], "%s", old);
    }
    setenv("ATTNC_LIN_SEGMENTS", "32", 1);
    for (int incl = 0; incl < 2; incl++) {
        setenv("ATTNC_LIN_INCLUSIVE", incl ? "1" : "0", 1);
        assembles("lightning2.attn", TARGET_SM90A, false, true, 4);
        assembles("gated_linear.attn", TARGET_SM80, false, true, 4);
        assembles("gated_linear.attn", TARGET_SM90A, true, false, 2);
    }
    for (int i = 0; i < 2; i++) {
        if (had[i])
            setenv(names[i], keep[i], 1);
        else
            unsetenv(names[i]);
    }
}

int main(void)
{
    if (!ptxas_available()) {
        printf("skipped: no ptxas\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_linear_backward), cmocka_unit_test(test_more_segments)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
