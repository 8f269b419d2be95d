/* test_ptx_softmax_switches.c — the switches of the online softmax's
 * arithmetic (codegen/nvptx_fa2_softmax.c) and their defaults:
 *
 * $ATTNC_SCALE_FMA (fa_plan.score_k): where the score is s * scale, the
 * forward keeps raw s and exponentiates exp2(fma(s, k, -m)), one fma per
 * score instead of a multiply and a subtract. Under =1 the loops of the
 * default dense and causal kernels (sm_90a: the overlapped and the plain
 * wgmma loop; sm_80: mma.sync) hold one fma more per score of a tile (64 at
 * 128 keys on sm_90a) and as many ex2 as without, and ptxas accepts them
 * and spills at most one 64-bit value more; unset is =1 (on by default); a score
 * that is not s * c (softcap, ALiBi) builds the same PTX either way.
 *
 * $ATTNC_SKIP_RESCALE (fa_plan.skip_rescale): O is multiplied by alpha only
 * when a warp vote finds a row with a new max (=2: a row's max also lags
 * its scores by up to 8 in log2 units). Under =1 and =2 the same kernels
 * hold the vote, ptxas accepts them (the plain causal loop at regs=even
 * may keep three 64-bit values in local memory: printed); unset is =2 on
 * the overlapped loop (overlap=1) and =0 on every other loop.
 *
 * $ATTNC_UNIFORM_WARP (fa_plan.uniform_warp, opt-in): the warp index is
 * broadcast from lane 0 (one shfl.sync.idx more), the same wgmma/mma
 * products are issued, ptxas accepts the kernels and spills no more than
 * 16 bytes beyond off; unset is =0.
 *
 * Without ptxas only the PTX text is checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "recipe_ptx.h"

typedef struct built {
    int fma, ex2, votes, spill; /* spill: -1 without ptxas */
    char *ptx;
} built;

static built build_env(const char *file, const char *spec, target_arch arch, const char *name, const char *value)
{
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx;
    sb_init(&err);
    sb_init(&ptx);
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
    nvptx_status st = bench_recipe_ptx(&a, file, spec, arch, NULL, &ptx, &err);
    unsetenv(name);
    if (st)
        fail_msg("%s [%s]: %s", file, spec ? spec : "default", sb_cstr(&err));
    built b = {ptx_count(sb_cstr(&ptx), "fma.rn.f32"), ptx_count(sb_cstr(&ptx), "ex2.approx"),
               ptx_count(sb_cstr(&ptx), "vote.sync.any"), -1, strdup(sb_cstr(&ptx))};
    if (ptxas_available()) {
        strbuf log;
        sb_init(&log);
        const char *an = arch == TARGET_SM90A ? "sm_90a" : "sm_80";
        if (!ptxas_check(sb_cstr(&ptx), an, &log))
            fail_msg("%s [%s] %s, %s=%s: ptxas refused it:\n%s", file, spec ? spec : "default", an, name,
                     value ? value : "(unset)", sb_cstr(&log));
        b.spill = ptxas_spill_bytes(sb_cstr(&log));
        sb_free(&log);
    }
    sb_free(&err);
    sb_free(&ptx);
    arena_free_all(&a);
    return b;
}

static built build(const char *file, const char *spec, target_arch arch, const char *value)
{
    return build_env(file, spec, arch, "ATTNC_SCALE_FMA", value);
}

/* The default kernels of the main shapes on both arches (both loops on
 * sm_90a); overlapped: the schedule runs the overlapped loop (overlap=1). */
static const struct {
    const char *file, *spec;
    target_arch arch;
    bool overlapped;
} cases[] = {
    {"dense_d128.attn", NULL, TARGET_SM90A, true},
    {"causal_d128.attn", NULL, TARGET_SM90A, true}, /* causal's default: the overlapped loop */
    {"causal_d128.attn", "q=128 kv=128 stages=2 warps=8 regs=even", TARGET_SM90A, false}, /* its fallback */
    {"dense_d64.attn", NULL, TARGET_SM90A, true},       /* 192 rows, 12 warps */
    {"sinks_swa_w2047.attn", NULL, TARGET_SM90A, true}, /* persistent, the narrow first tile */
    {"dense_d128.attn", NULL, TARGET_SM80, false},
    {"causal_d64.attn", NULL, TARGET_SM80, false},
};

static void folds_where_the_score_is_scaled_s(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        built off = build(cases[i].file, cases[i].spec, cases[i].arch, "0");
        built on = build(cases[i].file, cases[i].spec, cases[i].arch, "1");
        built unset = build(cases[i].file, cases[i].spec, cases[i].arch, NULL);
        printf("  %-22s %-42s %s: fma %d -> %d, ex2 %d -> %d, spills %d -> %d bytes\n", cases[i].file,
               cases[i].spec ? cases[i].spec : "default", cases[i].arch == TARGET_SM90A ? "sm_90a" : "sm_80", off.fma,
               on.fma, off.ex2, on.ex2, off.spill, on.spill);
        /* one fma per score: every exponential but the rescale factors' (two per 16-row block) */
        assert_true(on.fma - off.fma >= 32 && 4 * (on.fma - off.fma) >= 3 * on.ex2);
        assert_int_equal(on.ex2, off.ex2);
        /* the plain causal loop at regs=even (causal's fallback) keeps
         * one 64-bit value in local memory under =1 (ptxas 13.0: 8 bytes
         * stored before the loop, reloaded once per key tile): allowed, no
         * more */
        assert_true(on.spill <= off.spill + 16);
        assert_string_equal(unset.ptx, on.ptx); /* on by default */
        free(off.ptx), free(on.ptx), free(unset.ptx);
    }
}

static void other_scores_unchanged(void **state)
{
    (void)state;
    /* the shipped recipes/, reached from bench/recipes/ */
    static const char *const files[] = {"../../recipes/softcap.attn", "../../recipes/alibi.attn"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        built off = build(files[i], NULL, TARGET_SM90A, "0");
        built on = build(files[i], NULL, TARGET_SM90A, "1");
        printf("  %-28s same PTX under =1\n", files[i]);
        assert_string_equal(on.ptx, off.ptx);
        free(off.ptx), free(on.ptx);
    }
}

static void skip_rescale_votes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        built off = build_env(cases[i].file, cases[i].spec, cases[i].arch, "ATTNC_SKIP_RESCALE", "0");
        built unset = build_env(cases[i].file, cases[i].spec, cases[i].arch, "ATTNC_SKIP_RESCALE", NULL);
        assert_int_equal(off.votes, 0);
        if (!cases[i].overlapped)
            assert_string_equal(unset.ptx, off.ptx); /* off on every loop but the overlapped one */
        for (int level = 1; level <= 2; level++) {
            built on =
                build_env(cases[i].file, cases[i].spec, cases[i].arch, "ATTNC_SKIP_RESCALE", level == 1 ? "1" : "2");
            printf("  %-22s %-42s %s =%d: votes %d -> %d, spills %d -> %d bytes\n", cases[i].file,
                   cases[i].spec ? cases[i].spec : "default", cases[i].arch == TARGET_SM90A ? "sm_90a" : "sm_80",
                   level, off.votes, on.votes, off.spill, on.spill);
            assert_true(on.votes >= 1);
            assert_int_equal(on.ex2, off.ex2);
            /* the plain causal loop at regs=even (causal's fallback)
             * keeps three 64-bit values in local memory (ptxas 13.0: 24
             * bytes stored, 24 reloaded): allowed, no more */
            assert_true(on.spill <= off.spill + 48);
            if (level == 2) /* the lazy max is its own kernel, the overlapped loop's default */
                assert_true(strcmp(on.ptx, off.ptx) != 0);
            if (level == 2 && cases[i].overlapped)
                assert_string_equal(unset.ptx, on.ptx);
            free(on.ptx);
        }
        free(off.ptx), free(unset.ptx);
    }
}

static void uniform_warp_broadcasts(void **state)
{
    (void)state;
    /* the switch's own cost: with the persistent kernel's peeled first tile
     * (ATTNC_PEEL_ALL) as well, ptxas 13 spilled sinks + window's 56 bytes
     * to 88 under it (opt-in); with the deferred O store and the union
     * loop's untested empty tiles (both on by default since 2026-12-07) it
     * takes sinks + window from 0 to 40 bytes, so its cost is pinned against
     * the kernel it was measured on */
    setenv("ATTNC_PEEL_ALL", "0", 1);
    setenv("ATTNC_O_DEFER", "0", 1);
    setenv("ATTNC_UNION_UNTESTED", "0", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        built off = build_env(cases[i].file, cases[i].spec, cases[i].arch, "ATTNC_UNIFORM_WARP", "0");
        built on = build_env(cases[i].file, cases[i].spec, cases[i].arch, "ATTNC_UNIFORM_WARP", "1");
        built unset = build_env(cases[i].file, cases[i].spec, cases[i].arch, "ATTNC_UNIFORM_WARP", NULL);
        int shfl[2] = {ptx_count(off.ptx, "shfl.sync.idx"), ptx_count(on.ptx, "shfl.sync.idx")};
        int mma[2] = {ptx_count(off.ptx, "mma"), ptx_count(on.ptx, "mma")};
        printf("  %-22s %-42s %s: shfl.sync.idx %d -> %d, spills %d -> %d bytes\n", cases[i].file,
               cases[i].spec ? cases[i].spec : "default", cases[i].arch == TARGET_SM90A ? "sm_90a" : "sm_80", shfl[0],
               shfl[1], off.spill, on.spill);
        assert_int_equal(shfl[1], shfl[0] + 1);
        assert_int_equal(mma[1], mma[0]);
        assert_true(on.spill <= off.spill + 16);
        assert_string_equal(unset.ptx, off.ptx); /* opt-in */
        free(off.ptx), free(on.ptx), free(unset.ptx);
    }
    unsetenv("ATTNC_PEEL_ALL");
    unsetenv("ATTNC_O_DEFER");
    unsetenv("ATTNC_UNION_UNTESTED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(folds_where_the_score_is_scaled_s),
                                       cmocka_unit_test(other_scores_unchanged),
                                       cmocka_unit_test(skip_rescale_votes),
                                       cmocka_unit_test(uniform_warp_broadcasts)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
