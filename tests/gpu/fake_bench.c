/* fake_bench.c — `attnc bench` end to end against the fake libcuda
 * (tests/gpu/fake_cuda.c: every event pair reads 1 ms), so its output
 * stays what the GPU runs print: the table's lines, every JSON field, the
 * exact kept-pair and tile counts, and attnc_launch's own argument checks
 * (bench times attnc_launch). Label unit: it runs everywhere. */
#include "unit/runtime/tmpdir.h" /* first: it sets _GNU_SOURCE */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit/cli/run_attnc.h"

static void expect_out(const char *args, const char *want)
{
    run_result r;
    run_attnc(args, &r);
    if (r.status || !strstr(r.out, want))
        print_error("attnc %s\n  status %d\n  stdout: %s\n  stderr: %s\n  want in stdout: %s\n", args, r.status, r.out,
                    r.err, want);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, want));
}

static void table(void **state)
{
    (void)state;
    const char *args = "bench recipes/causal.attn --shape batch=2,heads=4,tokens=512 --arch sm_80 --iters 2 --warmup 1";
    expect_out(args, "causal (sm_80) batch 2 heads 4 tokens 512 head_dim 128 [q=128 kv=64 stages=2 warps=8] "
                     "(default schedule)\n"
                     "  time 1.000 ms (median of 2, min 1.000)  0.5 TFLOP/s on 1050624 kept pairs (density 0.5010)\n"
                     "  cold compile ");
    expect_out(args, " ms (parse ");
    expect_out(args, ", driver JIT + load ");
    expect_out(args, "  tiles: 160 visited, 160 computed, 160 hold kept pairs: visited/kept 1.000; pairs in computed "
                     "tiles/kept 1.248 (counted closed form)\n");
}

/* A recipe with a runtime param (document ids: bench fills 8 equal documents
 * over batch x tokens, 128 tokens each here) on sm_90a, as JSON. */
static void json(void **state)
{
    (void)state;
    const char *args = "bench recipes/document.attn --shape batch=2,heads=4,tokens=512 --arch sm_90a --iters 2 "
                       "--warmup 1 --json";
    expect_out(args, "{\"recipe\": \"document\", \"file\": \"recipes/document.attn\", \"arch\": \"sm_90a\", \"batch\": "
                     "2, \"heads\": 4, \"kv_heads\": 4, \"tokens\": 512, \"kv_tokens\": 512, \"head_dim\": 128, "
                     "\"schedule\": \"q=128 kv=128 stages=2 warps=8 overlap=1\", \"time_ms\": 1.0000, \"time_ms_min\": 1.0000, "
                     "\"tflops\": 0.14, \"kept_pairs\": 264192, \"density\": 0.12598, \"compile_ms\": ");
    static const char *const keys[] = {"\"jit_ms\": ", "\"codegen_ms\": ", "\"lower_ms\": ", "\"parse_ms\": "};
    for (int i = 0; i < 4; i++)
        expect_out(args, keys[i]);
    expect_out(args, "\"schedule_source\": \"default\", \"visited_tiles\": 32, \"computed_tiles\": 32, \"kept_tiles\": "
                     "32, \"tile_ratio\": 1.0000, \"computed_pairs\": 524288, \"pair_ratio\": 1.9845, \"pair_count\": "
                     "\"closed form\"}\n");
    expect_out("bench recipes/document.attn --shape tokens=300,heads=2 --arch sm_90a --schedule 'q=64 kv=64 stages=2 "
               "warps=4' --iters 2 --warmup 1",
               "[q=64 kv=64 stages=2 warps=4] (explicit schedule)\n");
}

/* --grad: the backward's schedule text (the dK/dV kernel's own boxes: by
 * default, off, wide, explicit: ATTNC_BWD_DKV_BOX) and its dK/dV loop's
 * tiles, counted on the host. */
static void grad_boxes(void **state)
{
    (void)state;
    const char *na2 = "bench recipes/neighborhood2d.attn --shape batch=1,heads=2,H=40,W=36 --arch sm_90a --grad "
                      "--iters 1 --warmup 0";
    expect_out(na2, "  backward [q=8x8 kv=8x8 stages=1 warps=4 mma=wgmma (dK/dV kv=8x16) (dQ bulk)]: ");
    expect_out(na2, "  backward tiles: 234 visited, 234 computed (0 full), 234 hold kept pairs: visited/kept 1.000; "
                    "pairs in computed tiles/kept 10.376\n");
    setenv("ATTNC_BWD_DKV_BOX", "off", 1);
    expect_out(na2, "  backward [q=8x8 kv=8x8 stages=1 warps=4 mma=wgmma (dQ bulk)]: ");
    expect_out(na2, "  backward tiles: 338 visited, 338 computed (0 full), 338 hold kept pairs: visited/kept 1.000; "
                    "pairs in computed tiles/kept 8.490\n");
    setenv("ATTNC_BWD_DKV_BOX", "wide", 1);
    /* 3-D: the query box changes for both kernels, the key box for dK/dV */
    expect_out("bench recipes/neighborhood3d.attn --shape batch=1,heads=1,T=6,H=10,W=12 --arch sm_90a --grad --iters 1 "
               "--warmup 0",
               "  backward [q=4x2x8 kv=4x4x4 stages=1 warps=4 mma=wgmma (dK/dV kv=4x4x8) (dQ bulk)]: ");
    setenv("ATTNC_BWD_DKV_BOX", "q=8x8 kv=16x8", 1);
    expect_out(na2, "  backward [q=8x8 kv=8x8 stages=1 warps=4 mma=wgmma (dK/dV kv=16x8) (dQ bulk)]: ");
    unsetenv("ATTNC_BWD_DKV_BOX");
}

/* --grad on linear recipes: no lse is set, the decay's gradient (dλ per
 * head, dgate per token) is allocated and passed (the launch checks both);
 * the CUDA backward is the default, ATTNC_BWD_LINEAR=0 refuses it; the
 * fused dK/dV scan and its switch. */
static void grad_linear(void **state)
{
    (void)state;
    expect_out("bench recipes/lightning2.attn --shape batch=1,heads=2,tokens=300 --arch sm_90a --grad --iters 1 "
               "--warmup 0",
               "  backward [linear backward: dq, dk, dv scans (inter=chain) + gate]: time 1.000 ms");
    expect_out("bench recipes/gated_linear.attn --shape batch=2,heads=2,tokens=77 --arch sm_80 --grad --iters 1 "
               "--warmup 0",
               "  backward [linear backward: dq, dk, dv scans (inter=chain) + gate]: time 1.000 ms");
    /* the decay held constant on sm_90a: the fused dK/dV scan by default,
     * ATTNC_BWD_LINEAR_FUSED=0 the three scans (sm_80 never fuses) */
    const char *fixed = "bench recipes/lightning2.attn --shape batch=1,heads=2,tokens=300 --arch sm_90a --grad "
                        "--no-grad decay --iters 1 --warmup 0";
    expect_out(fixed, "  backward [linear backward: dq, fused dk+dv scans (inter=chain)] constant decay: time 1.000 ms");
    setenv("ATTNC_BWD_LINEAR_FUSED", "0", 1);
    expect_out(fixed, "  backward [linear backward: dq, dk, dv scans (inter=chain)] constant decay: time 1.000 ms");
    setenv("ATTNC_BWD_LINEAR_FUSED", "1", 1);
    expect_out(fixed, "  backward [linear backward: dq, fused dk+dv scans (inter=chain)] constant decay: time 1.000 ms");
    expect_out("bench recipes/lightning2.attn --shape batch=1,heads=2,tokens=300 --arch sm_80 --grad --no-grad decay "
               "--iters 1 --warmup 0",
               "  backward [linear backward: dq, dk, dv scans (inter=chain)] constant decay: time 1.000 ms");
    unsetenv("ATTNC_BWD_LINEAR_FUSED");
    setenv("ATTNC_BWD_LINEAR", "0", 1);
    expect_error("bench recipes/lightning2.attn --shape batch=1,heads=2,tokens=300 --arch sm_90a --grad --iters 1 "
                 "--warmup 0",
                 1, "attnc bench --grad: build: the CUDA backward of linear attention is turned off "
                    "(ATTNC_BWD_LINEAR=0; unset it, or build the backward with backend ATTNC_BACKEND_CPU)\n");
    unsetenv("ATTNC_BWD_LINEAR");
}

/* What attnc_launch rejects, bench reports (a raw module launch did not). */
static void launch_checks(void **state)
{
    (void)state;
    expect_error("bench bench/recipes/na1d_k1023.attn --shape tokens=512 --arch sm_80 --iters 1", 1,
                 "attnc bench: launch: neighborhood window 1023 x dilation 1 is larger than tokens = 512\n");
}

int main(void)
{
    char fake[4096];
    snprintf(fake, sizeof fake, "%s/tests/gpu/libattnc_fake_cuda.so", ATTNC_BINARY_DIR);
    setenv("ATTNC_LIBCUDA", fake, 1);
    setenv("ATTNC_JIT", "driver", 1); /* the fake driver's modules are PTX text, not ptxas cubins */
    setenv("ATTNC_NO_TUNED", "1", 1);
    char *dir = tmpdir_make(); /* bench builds through the kernel cache */
    setenv("ATTNC_CACHE_DIR", dir, 1);
    const struct CMUnitTest tests[] = {cmocka_unit_test(table), cmocka_unit_test(json), cmocka_unit_test(grad_boxes),
                                       cmocka_unit_test(grad_linear), cmocka_unit_test(launch_checks)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tmpdir_remove(dir);
    return rc;
}
