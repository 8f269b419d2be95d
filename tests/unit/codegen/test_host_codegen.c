/* Unit tests for the host code generator (codegen/host_*.c): hand-written
 * recipes lowered by hand to the canonical softmax tile IR (hand_tir.h),
 * built and launched through the runtime, and compared with the fp64
 * reference on random inputs — partial tiles, GQA, BSHD layouts, closed
 * range bounds with full/partial tile classes, fully masked rows, runtime
 * params, bf16/f16/f32. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "hand_tir.h"
#include "reference/ref_check.h"
#include "runtime/api/api_internal.h"

static ht_opts g_opts; /* what the hand lowering builds */

static tir_kernel *hand_lower(arena *a, const recipe *r, const schedule *s, target_arch arch, strbuf *err)
{
    (void)arch;
    (void)err;
    return ht_softmax(a, r, s, &g_opts);
}

static expr *coord(arena *a, coord_side side, int dim)
{
    return ex_coord(a, side, dim);
}

/* Builds r under `sched`, runs it on shape sh with a few seeds, asserts a pass. */
static void check(const recipe *r, const char *sched, const ref_shape *sh)
{
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.schedule = sched;
    attnc_kernel *k = NULL;
    attnc_status st = kernel_build_with(&k, ctx, r, &o, hand_lower);
    if (st)
        fail_msg("build: %s", attnc_context_errmsg(ctx));
    for (uint64_t seed = 1; seed <= 2; seed++) {
        ref_check_opts co = {.seed = seed, .dump_prefix = ATTNC_BINARY_DIR "/host_codegen_failure", .check = true};
        ref_check_result res;
        bool ok = ref_check_kernel(k, r, sh, &co, &res);
        printf("  %s [%s] seed %llu: %s\n", r->name, sched ? sched : "default", (unsigned long long)seed, res.msg);
        if (!ok)
            fail_msg("%s: %s", r->name, res.msg);
    }
    attnc_kernel_destroy(k);
    attnc_context_destroy(ctx);
}

static void dense_gqa_partial_tiles(void **state)
{
    arena a;
    arena_init(&a, NULL);
    recipe r;
    ht_recipe_base(&a, &r, "dense", DT_F32, 32, true);
    g_opts = (ht_opts){.mode = RANGE_ALL};
    ref_shape sh = {.batch = 2, .heads = 4, .kv_heads = 2, .tokens = 100};
    check(&r, "q=32 kv=16", &sh);
    check(&r, NULL, &sh);
    arena_free_all(&a);
}

/* causal with closed-form bounds and full/partial classes, bf16, BSHD */
static void causal_bounds_bf16(void **state)
{
    arena a;
    arena_init(&a, NULL);
    recipe r;
    ht_recipe_base(&a, &r, "causal", DT_BF16, 64, false);
    r.mask = ex_binary(&a, BIN_LE, coord(&a, SIDE_K, -1), coord(&a, SIDE_Q, -1));
    r.mask_surface = ht_form(&a, FORM_CAUSAL, 0, NULL);
    int kv = 16;
    g_opts.mode = RANGE_BOUNDS;
    g_opts.range_lo = ex_int(&a, 0);
    g_opts.range_hi = ex_binary(&a, BIN_DIV, coord(&a, SIDE_Q, TIR_BOX_HI), ex_int(&a, kv));
    g_opts.full = ex_binary(&a, BIN_LE, coord(&a, SIDE_K, TIR_BOX_HI), coord(&a, SIDE_Q, TIR_BOX_LO));
    g_opts.base2 = false;
    g_opts.convert_p = false;
    ref_shape sh = {.batch = 1, .heads = 3, .tokens = 77, .bshd = true};
    check(&r, "q=32 kv=16", &sh);
    g_opts.range_hi = ex_binary(&a, BIN_DIV, coord(&a, SIDE_Q, TIR_BOX_HI), ex_int(&a, 64));
    check(&r, "q=64 kv=64", &sh);
    arena_free_all(&a);
}

/* k.t < q.t: query 0 keeps no key -> O = 0 and LSE = -inf exactly; f16,
 * base-2 scores and P rounded to f16 before P·V. */
static void fully_masked_rows_f16(void **state)
{
    arena a;
    arena_init(&a, NULL);
    recipe r;
    ht_recipe_base(&a, &r, "strict_causal", DT_F16, 32, false);
    r.mask = ex_binary(&a, BIN_LT, coord(&a, SIDE_K, -1), coord(&a, SIDE_Q, -1));
    r.mask_surface = r.mask;
    g_opts = (ht_opts){.mode = RANGE_ALL, .base2 = true, .convert_p = true};
    ref_shape sh = {.batch = 2, .heads = 2, .tokens = 45};
    check(&r, "q=16 kv=16", &sh);
    arena_free_all(&a);
}

/* sliding_window(8, 0) || sinks(2), with a runtime slope param in the score
 * (ALiBi-like): s * scale - slope[head] * |q.t - k.t| */
static void window_sinks_with_param(void **state)
{
    arena a;
    arena_init(&a, NULL);
    recipe r;
    ht_recipe_base(&a, &r, "window_sinks", DT_F32, 16, false);
    expr *qt = coord(&a, SIDE_Q, -1), *kt = coord(&a, SIDE_K, -1);
    expr *win = ex_binary(&a, BIN_AND, ex_binary(&a, BIN_LE, ex_binary(&a, BIN_SUB, qt, ex_int(&a, 8)), kt),
                          ex_binary(&a, BIN_LE, kt, qt));
    r.mask = ex_binary(&a, BIN_OR, win, ex_binary(&a, BIN_LT, kt, ex_int(&a, 2)));
    int64_t wargs[2] = {8, 0}, sargs[1] = {2};
    r.mask_surface = ex_binary(&a, BIN_OR, ht_form(&a, FORM_SLIDING_WINDOW, 2, wargs), ht_form(&a, FORM_SINKS, 1, sargs));
    static recipe_param slope = {"slope", DT_F32, 1, {SZ_HEADS}, {0}, {0, 0, 0}, false};
    r.params = &slope;
    r.nparams = 1;
    expr *head = ex_leaf(&a, EX_HEAD);
    expr *bias = ex_binary(&a, BIN_MUL, ex_param(&a, 0, TY_FLOAT, 1, &head),
                           ex_unary(&a, UN_TO_FLOAT, ex_unary(&a, UN_ABS, ex_binary(&a, BIN_SUB, qt, kt))));
    r.score = ex_binary(&a, BIN_SUB, r.score, bias);
    g_opts = (ht_opts){.mode = RANGE_ALL};
    ref_shape sh = {.batch = 1, .heads = 2, .tokens = 50};
    check(&r, "q=16 kv=8", &sh);
    arena_free_all(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dense_gqa_partial_tiles),
        cmocka_unit_test(causal_bounds_bf16),
        cmocka_unit_test(fully_masked_rows_f16),
        cmocka_unit_test(window_sinks_with_param),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
