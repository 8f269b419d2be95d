/*
 * `attnc bench --pairs-only`: no GPU, no driver — the kernel's schedule
 * (lowered for --arch) and the exact kept-pair and tile count, timed.
 * Issue 17's shapes: Radial Attention at 31200 tokens (its pair-by-pair
 * count took minutes; now closed form) and 8 causal documents of 8192
 * tokens, with the backward's dK/dV tiles under --bwd-schedule; the totals
 * are the brute-force-checked counts (tests/unit/runtime/test_pairs_radial.c).
 * sinks_window's backward tiles with ATTNC_BWD_PARTS off and on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "run_attnc.h"

static void expect_json(const char *args, const char *const *want)
{
    run_result r;
    run_attnc(args, &r);
    if (r.status != 0)
        print_error("attnc %s\n  status %d\n  stderr: %s", args, r.status, r.err);
    assert_int_equal(r.status, 0);
    for (int i = 0; want[i]; i++) {
        if (!strstr(r.out, want[i]))
            print_error("attnc %s\n  stdout: %s  lacks: %s\n", args, r.out, want[i]);
        assert_non_null(strstr(r.out, want[i]));
    }
}

static void pairs_only_counts_without_a_gpu(void **state)
{
    (void)state;
    const char *radial[] = {"\"kept_pairs\": 6578175232", "\"pair_count\": \"closed form\"", "\"count_ms\":",
                            "\"arch\": \"sm_90a\"", "\"bwd_kept_tiles\":", "\"visited_tiles\": 952576", NULL};
    expect_json("bench recipes/radial_attention.attn --shape batch=1,heads=16,tokens=31200 --pairs-only "
                "--arch sm_90a --schedule 'q=128 kv=128' --bwd-schedule 'q=64 kv=64 (dK/dV kv=128)' --json",
                radial);
    /* the dK/dV tiles holding kept pairs: per document of 8192, query tile i
     * (64 tokens) sees key tiles (128) 0..i/2, 4160 in all; x 8 x 16 heads */
    const char *docs[] = {"\"kept_pairs\": 4295491584", "\"pair_count\": \"closed form\"",
                          "\"bwd_kept_tiles\": 532480", NULL};
    expect_json("bench bench/recipes/doc_causal.attn --shape batch=1,heads=16,tokens=65536 --docs 8 --pairs-only "
                "--arch sm_90a --bwd-schedule 'q=64 kv=64 (dK/dV kv=128)' --json",
                docs);
    /* causal && (sinks(4) || window) (issue 14): the backward's loops over
     * each range's hull, or under ATTNC_BWD_PARTS=1 over the union's parts
     * (dK/dV: the transposed ones), where every visited tile holds kept pairs */
    const char *hull[] = {"\"bwd_visited_tiles\": 264192", "\"bwd_kept_tiles\": 39520",
                          "\"bwd_dq_visited_tiles\": 526336", NULL};
    const char *parts[] = {"\"bwd_visited_tiles\": 39520", "\"bwd_kept_tiles\": 39520",
                           "\"bwd_dq_visited_tiles\": 71280", "\"bwd_dq_computed_tiles\": 71280", NULL};
    const char *sw = "bench recipes/sinks_window.attn --shape batch=1,heads=16,tokens=16384 --pairs-only --arch sm_90a "
                     "--bwd-schedule 'q=64 kv=64 (dK/dV kv=128)' --json";
    setenv("ATTNC_BWD_PARTS", "0", 1);
    expect_json(sw, hull);
    setenv("ATTNC_BWD_PARTS", "1", 1);
    expect_json(sw, parts);
    unsetenv("ATTNC_BWD_PARTS");
    const char *varlen[] = {"\"kept_pairs\": 4295491584", "\"varlen_sequences\": 8", NULL};
    expect_json("bench bench/recipes/causal_d128.attn --shape batch=1,heads=16,tokens=65536 --seqlens 8192x8 "
                "--pairs-only --arch sm_80 --json",
                varlen);
    run_result r;
    run_attnc("bench recipes/radial_attention.attn --shape tokens=3120 --pairs-only --arch sm_90a", &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "kept pairs (density 1.0000), counted in"));
}

static void bwd_schedule_goes_with_pairs_only(void **state)
{
    (void)state;
    expect_error("bench recipes/causal.attn --shape tokens=64 --bwd-schedule 'q=64 kv=64'", 1,
                 "attnc bench: --bwd-schedule goes with --pairs-only (--grad counts the backward it times)\n"
                 "see attnc bench --help\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pairs_only_counts_without_a_gpu),
        cmocka_unit_test(bwd_schedule_goes_with_pairs_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
