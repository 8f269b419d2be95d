/*
 * What the commands print about schedules and sizes: a softmax schedule
 * shows no linear-attention keys (block=, inter=), a linear one does, and
 * either text parses back to the same schedule; a grid the recipe fixes is
 * shown by its dimension names (y=30 x=45), never as grid0/grid1, and its
 * dims need not (and cannot differently) be given in --shape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ir/schedule.h"
#include "run_attnc.h"

static char fixed_path[64];

static int setup(void **state)
{
    snprintf(fixed_path, sizeof fixed_path, "/tmp/attnc_fixed_%d.attn", (int)getpid());
    FILE *f = fopen(fixed_path, "wb");
    if (!f)
        return -1;
    fputs("recipe fixed\ninput q, k, v : bf16 [batch, heads, tokens, 64]\ntokens grid(y: 30, x: 45)\n"
          "mask neighborhood(window: (7, 7))\n",
          f);
    return fclose(f);
}

static int teardown(void **state)
{
    unlink(fixed_path);
    return 0;
}

static void family_text_round_trips(void **state)
{
    strbuf err, full, soft, lin;
    sb_init(&err);
    sb_init(&full);
    sb_init(&soft);
    sb_init(&lin);
    schedule s, back;
    assert_true(schedule_parse("q=8x16 kv=8x8 stages=3 warps=8 mma=wgmma", 2, &s, &err));
    schedule_print(&full, &s);
    schedule_print_for(&soft, &s, false);
    schedule_print_for(&lin, &s, true);
    assert_string_equal(sb_cstr(&full), "q=8x16 kv=8x8 stages=3 warps=8 block=64 inter=state mma=wgmma");
    assert_string_equal(sb_cstr(&soft), "q=8x16 kv=8x8 stages=3 warps=8 mma=wgmma");
    assert_string_equal(sb_cstr(&lin), sb_cstr(&full));
    assert_true(schedule_parse(sb_cstr(&soft), 2, &back, &err));
    sb_clear(&lin);
    schedule_print(&lin, &back);
    assert_string_equal(sb_cstr(&lin), sb_cstr(&full)); /* the keys left out are the defaults */
    assert_true(schedule_parse("q=64 kv=64 block=128 inter=chunked", 1, &s, &err));
    sb_clear(&lin);
    schedule_print_for(&lin, &s, true);
    assert_string_equal(sb_cstr(&lin), "q=64 kv=64 stages=2 warps=4 block=128 inter=chunked");
    sb_free(&err);
    sb_free(&full);
    sb_free(&soft);
    sb_free(&lin);
}

static void commands_print_the_family_keys(void **state)
{
    run_result r;
    run_attnc("run recipes/causal.attn --shape tokens=40", &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "schedule q=64 kv=64 stages=2 warps=4\n"));
    assert_non_null(strstr(r.out, "schedule used: q=64 kv=64 stages=2 warps=4\n"));
    assert_null(strstr(r.out, "block="));
    run_attnc("run recipes/lightning2.attn --shape tokens=40", &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, " block=64 inter="));
    run_attnc("ir recipes/causal.attn", &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, " schedule=\"q=64 kv=64 stages=2 warps=4\"\n"));
    run_attnc("tune recipes/causal.attn --backend cpu --shape tokens=64 --list --max 3", &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "q=64 kv=64 stages=2 warps=4\n"));
    assert_null(strstr(r.out, "block="));
    /* GNA boxes number their query tiles by stride group (qgroup=8 over
     * 2-frame boxes): every candidate in slabs of the same 16 frames */
    run_attnc("tune bench/recipes/hunyuan_gna.attn --arch sm_90a --shape T=30,H=48,W=80 --list --max 4", &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "q=2x8x8 kv=2x8x8 stages=2 warps=8 overlap=1 qgroup=8\n")); /* the default */
    assert_non_null(strstr(r.out, "q=8x8x2 kv=2x8x2 stages=2 warps=8 qgroup=2\n"));
    run_attnc("tune recipes/lightning2.attn --backend cpu --shape tokens=64 --list --max 3", &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, " block="));
    run_attnc("bench recipes/causal.attn --compile-timings --backend cpu --repeats 1 --json", &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"schedule\": \"q=64 kv=64 stages=2 warps=4\""));
}

static void fixed_grids_print_their_names(void **state)
{
    char args[256];
    run_result r;
    snprintf(args, sizeof args, "run %s --check", fixed_path);
    run_attnc(args, &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "shape: batch=1 heads=2 kv_heads=2 tokens=1350 y=30 x=45 head_dim=64"));
    assert_null(strstr(r.out, "grid0"));
    snprintf(args, sizeof args, "run %s --shape grid0=3", fixed_path);
    char want[256];
    snprintf(want, sizeof want, "attnc run: --shape: unknown size 'grid0' (batch, heads, kv_heads, tokens, kv_tokens)\n"
                                "see attnc run --help\n");
    expect_error(args, 1, want);
    /* tune: the fixed dims are known, a different value is refused */
    snprintf(args, sizeof args, "tune %s --backend cpu --shape batch=1 --list --max 1", fixed_path);
    run_attnc(args, &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "q=8x16 kv=8x8 stages=2 warps=4\n");
    snprintf(args, sizeof args, "tune %s --backend cpu --shape batch=1,y=30 --list --max 1", fixed_path);
    run_attnc(args, &r);
    assert_int_equal(r.status, 0);
    snprintf(args, sizeof args, "tune %s --backend cpu --shape batch=1,y=31 --list", fixed_path);
    expect_error(args, 1, "attnc tune: --shape: grid dim y is fixed to 30 by the recipe\nsee attnc tune --help\n");
    /* a grid bound at launch still needs its dims, by their size names */
    expect_error("tune recipes/neighborhood2d.attn --backend cpu --shape batch=1 --list", 1,
                 "attnc tune: --shape needs H= (a grid dim of the recipe)\nsee attnc tune --help\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(family_text_round_trips),
        cmocka_unit_test(commands_print_the_family_keys),
        cmocka_unit_test(fixed_grids_print_their_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
