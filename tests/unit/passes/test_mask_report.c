/* The wasted-work report: for each mask recipe at a fixed shape and
 * schedule, the pairs the kernel visits (tile pairs in the key range and not
 * empty) against the pairs the mask keeps, printed as the markdown table of
 * docs/mask-analysis.md. Kept pairs are counted inside visited tiles (the
 * brute-force property test proves none lie outside). The test fails if any
 * visited/kept ratio regresses past its recorded bound (default shapes).
 * ATTNC_MASK_REPORT_FULL=1 adds the large shapes (128x128 grids; minutes
 * under sanitizers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "mask_cases.h"

typedef struct report_case {
    const char *name, *shape, *tiles;
    double max_ratio; /* visited / kept must stay below */
} report_case;

static void set_grid(eval_env *env, int nd, const int64_t *ext)
{
    memset(env, 0, sizeof *env);
    env->grid_ndim = nd;
    env->sizes[SZ_BATCH] = 1;
    env->sizes[SZ_HEADS] = env->sizes[SZ_KV_HEADS] = 8;
    int64_t n = 1;
    for (int d = 0; d < nd; d++)
        n *= env->sizes[SZ_GRID0 + d] = ext[d];
    if (nd == 0)
        n = ext[0];
    env->sizes[SZ_TOKENS] = env->sizes[SZ_KV_TOKENS] = n;
}

static schedule tiles(int nd, const int *q, const int *kv)
{
    schedule s = schedule_default(nd ? nd : 1, TARGET_HOST, false);
    for (int d = 0; d < s.ndims; d++) {
        s.q_tile[d] = q[d];
        s.kv_tile[d] = kv[d];
    }
    return s;
}

static void run_row(const report_case *rc, recipe *r, eval_env *env, schedule s, arena *a)
{
    mask_info mi;
    int dil[SCHED_MAX_DIMS]; /* the forward kernel's tiling (dilation groups for dilated masks) */
    r->sched = s;
    assert_true(mask_group_dilation(a, r, &s, dil) && mask_analyze_dil(a, r, &s, dil, &mi));
    mask_work w;
    assert_true(mask_work_report(&mi, env, false, &w));
    static const char *modes[] = {"all", "bounds", "table"};
    double ratio = w.kept_pairs > 0 ? (double)w.visited_pairs / (double)w.kept_pairs : 0;
    printf("| %s | %s | %s | %s | %lld | %lld | %lld | %.3f | %.1f%% |\n", rc->name, rc->shape, rc->tiles,
           modes[mi.mode], (long long)w.visited_tiles, (long long)w.visited_pairs, (long long)w.kept_pairs, ratio,
           100.0 * (double)w.visited_pairs / (double)w.dense_pairs);
    assert_true(w.kept_pairs > 0);
    assert_true(ratio >= 1.0);
    if (getenv("ATTNC_MASK_REPORT_FULL"))
        return; /* the bounds are recorded for the default shapes */
    if (ratio > rc->max_ratio)
        printf("^ visited/kept %.3f is over its bound %.2f\n", ratio, rc->max_ratio);
    assert_true(ratio <= rc->max_ratio);
}

static void report(void **state)
{
    bool full = getenv("ATTNC_MASK_REPORT_FULL") != NULL;
    (void)mc_param_reader;
    printf("| mask | shape | tiles q / kv | range | visited tiles | visited pairs | kept pairs | visited/kept | of dense |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    arena a;
    arena_init(&a, NULL);
    eval_env env;
    const int64_t seq = full ? 4096 : 512;
    char seqs[16];
    snprintf(seqs, sizeof seqs, "%lld", (long long)seq);
    {
        report_case rc = {"causal", seqs, "64 / 64", 1.13};
        recipe *r = rb_recipe(&a, "causal", 0);
        r->mask = rb_causal(&a);
        set_grid(&env, 0, (int64_t[]){seq});
        run_row(&rc, r, &env, tiles(0, (int[]){64}, (int[]){64}), &a);
    }
    {
        report_case rc = {"sliding_window(256, 0)", seqs, "64 / 64", 1.3};
        recipe *r = rb_recipe(&a, "sliding", 0);
        r->mask = rb_sliding(&a, 256, 0);
        set_grid(&env, 0, (int64_t[]){seq});
        run_row(&rc, r, &env, tiles(0, (int[]){64}, (int[]){64}), &a);
    }
    {
        report_case rc = {"sliding_window(256, 0) || sinks(4)", seqs, "64 / 64", 1.6};
        recipe *r = rb_recipe(&a, "sliding_sinks", 0);
        r->mask = ex_binary(&a, BIN_OR, rb_sliding(&a, 256, 0), rb_sinks(&a, 4));
        set_grid(&env, 0, (int64_t[]){seq});
        run_row(&rc, r, &env, tiles(0, (int[]){64}, (int[]){64}), &a);
    }
    {
        report_case rc = {"neighborhood1d(129)", seqs, "64 / 64", 1.6};
        recipe *r = rb_recipe(&a, "nb1d", 0);
        r->mask = rb_neighborhood(&a, 0, (int64_t[]){129}, (int64_t[]){1}, (int64_t[]){1}, (bool[]){0});
        set_grid(&env, 0, (int64_t[]){seq});
        run_row(&rc, r, &env, tiles(0, (int[]){64}, (int[]){64}), &a);
    }
    const int64_t big = full ? 128 : 32;
    char shape[32];
    snprintf(shape, sizeof shape, "%lldx%lld", (long long)big, (long long)big);
    static const int kvs[][2] = {{8, 8}, {8, 16}, {16, 16}};
    for (int i = 0; i < 3; i++) {
        char t[32];
        snprintf(t, sizeof t, "8x16 / %dx%d", kvs[i][0], kvs[i][1]);
        report_case rc = {"neighborhood2d(17x17)", shape, t, 5.5};
        recipe *r = rb_recipe(&a, "nb2d", 2);
        r->mask = rb_neighborhood(&a, 2, (int64_t[]){17, 17}, (int64_t[]){1, 1}, (int64_t[]){1, 1}, (bool[]){0, 0});
        set_grid(&env, 2, (int64_t[]){big, big});
        run_row(&rc, r, &env, tiles(2, (int[]){8, 16}, kvs[i]), &a);
    }
    {
        report_case rc = {"neighborhood2d(7x7, dilation 2x2)", shape, "8x16 / 8x8", 6.0};
        recipe *r = rb_recipe(&a, "nb2d_dil", 2);
        r->mask = rb_neighborhood(&a, 2, (int64_t[]){7, 7}, (int64_t[]){2, 2}, (int64_t[]){1, 1}, (bool[]){0, 0});
        set_grid(&env, 2, (int64_t[]){big, big});
        run_row(&rc, r, &env, tiles(2, (int[]){8, 16}, (int[]){8, 8}), &a);
    }
    {
        report_case rc = {"neighborhood2d(16x16, stride 16: blocked)", shape, "16x16 / 16x16", 1.01};
        recipe *r = rb_recipe(&a, "nb2d_blocked", 2);
        r->mask = rb_neighborhood(&a, 2, (int64_t[]){16, 16}, (int64_t[]){1, 1}, (int64_t[]){16, 16}, (bool[]){0, 0});
        set_grid(&env, 2, (int64_t[]){big, big});
        run_row(&rc, r, &env, tiles(2, (int[]){16, 16}, (int[]){16, 16}), &a);
    }
    {
        report_case rc = {"neighborhood3d(5x7x7, causal t)", full ? "16x32x32" : "4x8x16", "4x4x8 / 4x4x4", 4.0};
        recipe *r = rb_recipe(&a, "nb3d", 3);
        r->mask = rb_neighborhood(&a, 3, (int64_t[]){5, 7, 7}, (int64_t[]){1, 1, 1}, (int64_t[]){1, 1, 1}, (bool[]){1, 0, 0});
        set_grid(&env, 3, full ? (int64_t[]){16, 32, 32} : (int64_t[]){4, 8, 16});
        run_row(&rc, r, &env, tiles(3, (int[]){4, 4, 8}, (int[]){4, 4, 4}), &a);
    }
    {
        report_case rc = {"radial_token(frame 256, window 64)", full ? "16 frames x 256" : "2 frames x 256", "64 / 64", 3.0};
        recipe *r = rb_recipe(&a, "radial", 0);
        r->mask = rb_radial(&a, 256, 64);
        set_grid(&env, 0, (int64_t[]){seq});
        run_row(&rc, r, &env, tiles(0, (int[]){64}, (int[]){64}), &a);
    }
    {
        report_case rc = {"strided_heads(4, 256) head 0", seqs, "64 / 64", 3.5};
        recipe *r = rb_recipe(&a, "s2", 0);
        r->mask = rb_strided_heads(&a, 4, 256);
        set_grid(&env, 0, (int64_t[]){seq});
        run_row(&rc, r, &env, tiles(0, (int[]){64}, (int[]){64}), &a);
    }
    arena_free_all(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(report)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
