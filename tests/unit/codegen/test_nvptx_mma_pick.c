/* Which tensor-core products the FA2 plan picks (schedule key mma=): auto
 * takes wgmma on sm_90a when the tile fits a warpgroup per 64 rows, head
 * dims in 64s and key tiles up to 256, mma.sync otherwise and always on
 * sm_80; an explicit mma=wgmma that cannot be honoured is an error naming
 * the reason. Also the key's parse/print round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/nvptx_kernel.h"
#include "codegen/nvptx_plan.h"
#include "passes/pipeline.h"
#include "unit/passes/recipe_builders.h"

/* A causal recipe of head_dim lowered under `spec` on arch (in a). */
static tir_kernel *lowered(arena *a, const char *spec, target_arch arch, int head_dim, strbuf *err)
{
    recipe *r = rb_recipe(a, "causal", 0);
    r->mask = rb_causal(a);
    r->head_dim = r->head_dim_v = head_dim;
    schedule s;
    assert_true(schedule_parse(spec, 1, &s, err));
    tir_kernel *k = lower_recipe(a, r, &s, arch, err);
    assert_non_null(k);
    return k;
}

/* Plans a causal recipe under `spec` on arch; returns the status, the
 * plan in *p and any message in err. */
static nvptx_status plan(const char *spec, target_arch arch, int head_dim, fa_plan *p, strbuf *err)
{
    arena a;
    arena_init(&a, NULL);
    nvptx_status st = fa_plan_from_tir(lowered(&a, spec, arch, head_dim, err), arch, p, err);
    arena_free_all(&a);
    return st;
}

static void auto_picks_wgmma_on_hopper_only(void **state)
{
    (void)state;
    strbuf err;
    sb_init(&err);
    fa_plan p;
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_true(p.wgmma);
    assert_true(p.ws && p.tma); /* a token sequence: TMA producer warpgroup */
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8", TARGET_SM80, 128, &p, &err), NVPTX_OK);
    assert_false(p.wgmma);
    assert_int_equal(plan("q=128 kv=64 stages=2 warps=8 mma=sync", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_false(p.wgmma);
    assert_int_equal(plan("q=128 kv=64 stages=2 warps=8 mma=wgmma_ws", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_true(p.wgmma && p.ws);
    /* Two 16-row blocks per warp: not a warpgroup layout, auto falls back. */
    assert_int_equal(plan("q=128 kv=64 stages=2 warps=4", TARGET_SM90A, 64, &p, &err), NVPTX_OK);
    assert_false(p.wgmma);
    /* Head dim 32: not whole 128-byte swizzle rows. */
    assert_int_equal(plan("q=64 kv=64 stages=2 warps=4", TARGET_SM90A, 32, &p, &err), NVPTX_OK);
    assert_false(p.wgmma);
    sb_free(&err);
}

static void forced_wgmma_that_cannot_fit_is_refused(void **state)
{
    (void)state;
    strbuf err;
    sb_init(&err);
    fa_plan p;
    assert_int_equal(plan("q=128 kv=64 stages=2 warps=8 mma=wgmma", TARGET_SM80, 128, &p, &err), NVPTX_UNSUPPORTED);
    assert_non_null(strstr(sb_cstr(&err), "sm_90a"));
    sb_clear(&err);
    assert_int_equal(plan("q=128 kv=64 stages=2 warps=4 mma=wgmma", TARGET_SM90A, 128, &p, &err), NVPTX_UNSUPPORTED);
    assert_non_null(strstr(sb_cstr(&err), "warps"));
    sb_clear(&err);
    assert_int_equal(plan("q=64 kv=64 stages=2 warps=4 mma=wgmma", TARGET_SM90A, 32, &p, &err), NVPTX_UNSUPPORTED);
    assert_non_null(strstr(sb_cstr(&err), "multiples of 64"));
    sb_free(&err);
}

static void mma_key_round_trips(void **state)
{
    (void)state;
    strbuf err, out;
    sb_init(&err);
    sb_init(&out);
    schedule s;
    assert_true(schedule_parse("q=64 kv=32 stages=2 warps=4 mma=wgmma", 1, &s, &err));
    assert_int_equal(s.mma, MMA_WGMMA);
    schedule_print(&out, &s);
    assert_non_null(strstr(sb_cstr(&out), " mma=wgmma"));
    schedule back;
    assert_true(schedule_parse(sb_cstr(&out), 1, &back, &err));
    assert_int_equal(back.mma, MMA_WGMMA);
    sb_clear(&out);
    assert_true(schedule_parse("q=64 kv=32 stages=2 warps=4", 1, &s, &err));
    assert_int_equal(s.mma, MMA_AUTO);
    schedule_print(&out, &s);
    assert_null(strstr(sb_cstr(&out), "mma")); /* auto is not printed: cache keys stay as they were */
    assert_false(schedule_parse("q=64 kv=32 mma=tensor", 1, &s, &err));
    assert_non_null(strstr(sb_cstr(&err), "mma=wgmma or mma=wgmma_ws"));
    sb_free(&err);
    sb_free(&out);
}

/* regs=even|shift: printed only when even, round trips, reaches the plan
 * under the producer warpgroup (no register shift elsewhere: nothing to
 * move), and $ATTNC_WS_MAXNREG overrides it both ways. */
static void regs_key(void **state)
{
    (void)state;
    strbuf err, out;
    sb_init(&err);
    sb_init(&out);
    schedule s, back;
    assert_true(schedule_parse("q=128 kv=128 stages=2 warps=8 regs=even", 1, &s, &err));
    assert_true(s.even_regs);
    schedule_print_for(&out, &s, false);
    assert_string_equal(sb_cstr(&out), "q=128 kv=128 stages=2 warps=8 regs=even");
    assert_true(schedule_parse(sb_cstr(&out), 1, &back, &err));
    assert_true(back.even_regs);
    sb_clear(&out);
    assert_true(schedule_parse("q=128 kv=128 stages=2 warps=8 regs=shift", 1, &s, &err));
    assert_false(s.even_regs);
    schedule_print(&out, &s);
    assert_null(strstr(sb_cstr(&out), "regs")); /* shift is not printed: cache keys stay as they were */
    assert_false(schedule_parse("q=64 kv=32 regs=odd", 1, &s, &err));
    assert_non_null(strstr(sb_cstr(&err), "regs=even"));
    fa_plan p;
    unsetenv("ATTNC_WS_MAXNREG");
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_true(p.ws && p.reg_shift);
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8 regs=even", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_true(p.ws && !p.reg_shift);
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8 mma=wgmma regs=even", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_false(p.ws || p.reg_shift);
    setenv("ATTNC_WS_MAXNREG", "1", 1);
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8 regs=even", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_true(p.reg_shift);
    setenv("ATTNC_WS_MAXNREG", "0", 1);
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_false(p.reg_shift);
    unsetenv("ATTNC_WS_MAXNREG");
    sb_free(&err);
    sb_free(&out);
}

/* persist=1 (nvptx_fa2_persist.c): printed only when set, round trips,
 * reaches the plan of the TMA producer kernel only (not without a
 * producer, not under ping-pong), and its kernel is marked persistent
 * (the launch gives it one block per SM) and loops over items (reads
 * the grid's size). */
static void persist_key(void **state)
{
    (void)state;
    strbuf err, out;
    sb_init(&err);
    sb_init(&out);
    schedule s, back;
    assert_true(schedule_parse("q=128 kv=128 stages=2 warps=8 persist=1", 1, &s, &err));
    assert_true(s.persistent);
    schedule_print_for(&out, &s, false);
    assert_string_equal(sb_cstr(&out), "q=128 kv=128 stages=2 warps=8 persist=1");
    assert_true(schedule_parse(sb_cstr(&out), 1, &back, &err));
    assert_true(back.persistent);
    sb_clear(&out);
    assert_true(schedule_parse("q=128 kv=128 stages=2 warps=8 persist=0", 1, &s, &err));
    schedule_print(&out, &s);
    assert_null(strstr(sb_cstr(&out), "persist")); /* 0 is not printed: cache keys stay as they were */
    assert_false(schedule_parse("q=64 kv=32 persist=yes", 1, &s, &err));
    assert_non_null(strstr(sb_cstr(&err), "persist=1"));
    fa_plan p;
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8 persist=1", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_true(p.tma && p.persist);
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8 overlap=1 persist=1", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_true(p.persist);
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_false(p.persist);
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8 mma=wgmma persist=1", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_false(p.persist);
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8 overlap=2 persist=1", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_false(p.persist);
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8 persist=1", TARGET_SM80, 128, &p, &err), NVPTX_OK);
    assert_false(p.persist);
    /* the kernel: marked persistent, its items from the grid's size */
    arena a;
    arena_init(&a, NULL);
    for (int on = 0; on < 2; on++) {
        tir_kernel *k = lowered(&a, on ? "q=128 kv=128 stages=2 warps=8 persist=1" : "q=128 kv=128 stages=2 warps=8",
                                TARGET_SM90A, 128, &err);
        nvptx_kernel_info info;
        strbuf ptx;
        sb_init(&ptx);
        assert_int_equal(nvptx_emit_kernel(k, TARGET_SM90A, &info, &ptx, &err), NVPTX_OK);
        assert_int_equal(info.persistent, on);
        assert_int_equal(strstr(sb_cstr(&ptx), "%nctaid.x") != NULL, on);
        sb_free(&ptx);
    }
    arena_free_all(&a);
    sb_free(&err);
    sb_free(&out);
}

/* qgroup=N: printed only when > 1, round trips; a sequence's plan ignores
 * it (its tiles are one row); N must be a positive integer. */
static void qgroup_key(void **state)
{
    (void)state;
    strbuf err, out;
    sb_init(&err);
    sb_init(&out);
    schedule s, back;
    assert_true(schedule_parse("q=2x8x8 kv=2x8x8 stages=3 warps=8 qgroup=8", 3, &s, &err));
    assert_int_equal(s.q_group, 8);
    schedule_print_for(&out, &s, false);
    assert_string_equal(sb_cstr(&out), "q=2x8x8 kv=2x8x8 stages=3 warps=8 qgroup=8");
    assert_true(schedule_parse(sb_cstr(&out), 3, &back, &err));
    assert_int_equal(back.q_group, 8);
    sb_clear(&out);
    assert_true(schedule_parse("q=8x16 kv=8x16 stages=2 warps=8 qgroup=1", 2, &s, &err));
    schedule_print(&out, &s);
    assert_null(strstr(sb_cstr(&out), "qgroup")); /* 1 is the row-major order: not printed */
    assert_false(schedule_parse("q=8x16 kv=8x16 qgroup=0", 2, &s, &err));
    assert_false(schedule_parse("q=8x16 kv=8x16 qgroup=two", 2, &s, &err));
    fa_plan p;
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8 qgroup=4", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_int_equal(p.q_group, 1);
    /* qchunk=C likewise: printed after qgroup when > 1, round trips; a
     * sequence's plan has no chunks */
    sb_clear(&out);
    assert_true(schedule_parse("q=2x8x8 kv=2x8x8 stages=3 warps=8 qchunk=2 qgroup=8", 3, &s, &err));
    assert_int_equal(s.q_chunk, 2);
    schedule_print_for(&out, &s, false);
    assert_string_equal(sb_cstr(&out), "q=2x8x8 kv=2x8x8 stages=3 warps=8 qgroup=8 qchunk=2");
    assert_true(schedule_parse(sb_cstr(&out), 3, &back, &err));
    assert_int_equal(back.q_chunk, 2);
    assert_false(schedule_parse("q=2x8x8 kv=2x8x8 qchunk=-1", 3, &s, &err));
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8 qchunk=4", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_int_equal(p.q_chunk, 1);
    sb_free(&err);
    sb_free(&out);
}

/* overlap= (nvptx_fa2_overlap.c): printed only when set, round trips,
 * reaches the plan under the producer warpgroup, refused elsewhere. */
static void overlap_key(void **state)
{
    (void)state;
    strbuf err, out;
    sb_init(&err);
    sb_init(&out);
    schedule s, back;
    assert_true(schedule_parse("q=128 kv=128 stages=3 warps=8 mma=wgmma_ws overlap=2", 1, &s, &err));
    assert_int_equal(s.overlap, 2);
    schedule_print_for(&out, &s, false);
    assert_string_equal(sb_cstr(&out), "q=128 kv=128 stages=3 warps=8 mma=wgmma_ws overlap=2");
    assert_true(schedule_parse(sb_cstr(&out), 1, &back, &err));
    assert_int_equal(back.overlap, 2);
    sb_clear(&out);
    assert_true(schedule_parse("q=128 kv=128 stages=2 warps=8 overlap=0", 1, &s, &err));
    schedule_print(&out, &s);
    assert_null(strstr(sb_cstr(&out), "overlap")); /* 0 is not printed: cache keys stay as they were */
    assert_false(schedule_parse("q=64 kv=32 overlap=3", 1, &s, &err));
    assert_non_null(strstr(sb_cstr(&err), "overlap=2"));
    fa_plan p;
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8 overlap=1", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_true(p.ws && p.overlap == 1); /* auto takes the producer on a sequence */
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8 mma=wgmma_ws", TARGET_SM90A, 128, &p, &err), NVPTX_OK);
    assert_int_equal(p.overlap, 0);
    sb_clear(&err);
    assert_int_equal(plan("q=128 kv=128 stages=2 warps=8 mma=wgmma overlap=1", TARGET_SM90A, 128, &p, &err),
                     NVPTX_UNSUPPORTED);
    assert_non_null(strstr(sb_cstr(&err), "producer warpgroup"));
    sb_clear(&err);
    assert_int_equal(plan("q=64 kv=64 stages=2 warps=4 mma=wgmma_ws overlap=2", TARGET_SM90A, 128, &p, &err),
                     NVPTX_UNSUPPORTED);
    assert_non_null(strstr(sb_cstr(&err), "warps=8"));
    sb_free(&err);
    sb_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(overlap_key),
        cmocka_unit_test(regs_key),
        cmocka_unit_test(persist_key),
        cmocka_unit_test(qgroup_key),
        cmocka_unit_test(auto_picks_wgmma_on_hopper_only),
        cmocka_unit_test(forced_wgmma_that_cannot_fit_is_refused),
        cmocka_unit_test(mma_key_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
