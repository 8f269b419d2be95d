/* Which products the GPU backward's schedule picks
 * (nvptx_bwd_schedule_mma): mma.sync when asked, always on sm_80, for head
 * dims other than 64/128, f32 and query tiles other than 64; wgmma on
 * sm_90a otherwise, with 64-key tiles on sequences (explicit kv=128 kept)
 * and the 64-token boxes on grids; explicit tiles it cannot serve fall
 * back to the mma.sync schedule unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "codegen/nvptx_bwd.h"
#include "passes/pipeline.h"
#include "unit/passes/recipe_builders.h"

static schedule pick(recipe *r, const char *spec, target_arch arch, mma_kind want)
{
    schedule base;
    strbuf err;
    sb_init(&err);
    if (spec)
        assert_true(schedule_parse(spec, r->sched.ndims, &base, &err));
    sb_free(&err);
    arena a;
    arena_init(&a, NULL);
    schedule s = nvptx_bwd_schedule_mma(lower_signature(&a, r), spec ? &base : NULL, arch, want);
    arena_free_all(&a);
    return s;
}

static void sequences(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    recipe *r = rb_recipe(&a, "causal", 0);
    r->mask = rb_causal(&a);
    for (int d = 64; d <= 128; d += 64) {
        r->head_dim = r->head_dim_v = d;
        schedule s = pick(r, NULL, TARGET_SM90A, MMA_WGMMA);
        assert_int_equal(s.mma, MMA_WGMMA);
        assert_int_equal(s.q_tile[0], 64);
        assert_int_equal(s.kv_tile[0], 64);
        assert_int_equal(pick(r, NULL, TARGET_SM90A, MMA_AUTO).mma, MMA_WGMMA);
        assert_int_equal(pick(r, NULL, TARGET_SM90A, MMA_SYNC).mma, MMA_SYNC);
        assert_int_equal(pick(r, NULL, TARGET_SM80, MMA_WGMMA).mma, MMA_SYNC);
        s = pick(r, "q=64 kv=128", TARGET_SM90A, MMA_WGMMA);
        assert_true(s.mma == MMA_WGMMA && s.kv_tile[0] == 128);
        s = pick(r, "q=64 kv=32", TARGET_SM90A, MMA_WGMMA); /* explicit tiles it cannot serve */
        assert_true(s.mma == MMA_SYNC && s.kv_tile[0] == 32);
        s = pick(r, "q=32 kv=64", TARGET_SM90A, MMA_WGMMA); /* m64 needs 64 queries */
        assert_true(s.mma == MMA_SYNC && s.q_tile[0] == 32);
    }
    r->head_dim = r->head_dim_v = 256;
    assert_int_equal(pick(r, NULL, TARGET_SM90A, MMA_WGMMA).mma, MMA_SYNC);
    r->head_dim = r->head_dim_v = 96;
    assert_int_equal(pick(r, NULL, TARGET_SM90A, MMA_WGMMA).mma, MMA_SYNC);
    r->head_dim = r->head_dim_v = 128;
    r->qkv_dtype = DT_F32;
    assert_int_equal(pick(r, NULL, TARGET_SM90A, MMA_WGMMA).mma, MMA_SYNC);
    arena_free_all(&a);
}

static void grids(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    recipe *r = rb_recipe(&a, "nbh", 2);
    schedule s = pick(r, NULL, TARGET_SM90A, MMA_WGMMA);
    assert_int_equal(s.mma, MMA_WGMMA);
    assert_true(s.q_tile[0] == 8 && s.q_tile[1] == 8 && s.kv_tile[0] == 8 && s.kv_tile[1] == 8);
    r = rb_recipe(&a, "nbh3", 3);
    s = pick(r, NULL, TARGET_SM90A, MMA_WGMMA);
    assert_int_equal(s.mma, MMA_WGMMA);
    assert_int_equal(schedule_kv_tokens(&s), 64);
    arena_free_all(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(sequences), cmocka_unit_test(grids)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
