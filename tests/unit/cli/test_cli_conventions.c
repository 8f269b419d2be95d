/*
 * Command-line conventions shared by every `attnc` command (README, "The
 * command"): `--opt VALUE` and `--opt=VALUE` both work; an argument error is
 * one line, "attnc CMD: ...", with a "did you mean" for a misspelt command,
 * option, choice, pass or size name, then "see attnc CMD --help", and exit
 * status 1. Runs the built binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "run_attnc.h"

static const char *const commands[] = {"check", "ir", "ptx", "run", "bench", "tune", "compile", "cache"};

static void misspelt_command_is_suggested(void **state)
{
    expect_error("chek recipes/causal.attn", 1, "attnc: unknown command 'chek'; did you mean 'check'?\nsee attnc --help\n");
    expect_error("bnech", 1, "attnc: unknown command 'bnech'; did you mean 'bench'?\nsee attnc --help\n");
    expect_error("frobnicate", 1, "attnc: unknown command 'frobnicate'\nsee attnc --help\n");
    expect_error("--bogus", 1, "attnc: unknown option '--bogus'\nsee attnc --help\n");
}

static void every_command_rejects_unknown_options_in_one_line(void **state)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char args[128], want[256];
        snprintf(args, sizeof args, "%s recipes/causal.attn --no-such-flag", commands[i]);
        snprintf(want, sizeof want, "attnc %s: unknown option '--no-such-flag'\nsee attnc %s --help\n", commands[i],
                 commands[i]);
        expect_error(args, 1, want);
        snprintf(args, sizeof args, "%s --help", commands[i]);
        run_result r;
        run_attnc(args, &r);
        assert_int_equal(r.status, 0);
        snprintf(want, sizeof want, "usage: attnc %s", commands[i]);
        assert_non_null(strstr(r.out, want));
    }
}

static void misspelt_options_and_values_are_suggested(void **state)
{
    expect_error("run recipes/causal.attn --bakend=cpu", 1,
                 "attnc run: unknown option '--bakend'; did you mean '--backend'?\nsee attnc run --help\n");
    expect_error("run recipes/causal.attn --backend cdua", 1,
                 "attnc run: --backend 'cdua': write cpu or cuda; did you mean 'cuda'?\nsee attnc run --help\n");
    expect_error("run recipes/causal.attn --layout=bhds", 1,
                 "attnc run: --layout 'bhds': write bhsd or bshd; did you mean 'bhsd'?\nsee attnc run --help\n");
    expect_error("check --werorr recipes/causal.attn", 1,
                 "attnc check: unknown option '--werorr'; did you mean '--werror'?\nsee attnc check --help\n");
    expect_error("ptx recipes/causal.attn --schedul q=64", 1,
                 "attnc ptx: unknown option '--schedul'; did you mean '--schedule'?\nsee attnc ptx --help\n");
    expect_error("bench recipes/causal.attn --iter 5", 1,
                 "attnc bench: unknown option '--iter'; did you mean '--iters'?\nsee attnc bench --help\n");
    expect_error("bench recipes/causal.attn --shape tokens=64 --iters=0", 1,
                 "attnc bench: --iters needs a whole number from 1 to 1000000, not '0'\nsee attnc bench --help\n");
    expect_error("tune recipes/causal.attn --shape tokens=64 --nosave", 1,
                 "attnc tune: unknown option '--nosave'; did you mean '--no-save'?\nsee attnc tune --help\n");
    expect_error("tune recipes/causal.attn --shape tokens=64 --budget=-1", 1,
                 "attnc tune: --budget needs a number from 0 to 1e+09, not '-1'\nsee attnc tune --help\n");
    expect_error("compile recipes/causal.attn --aot --ouput x", 1,
                 "attnc compile: unknown option '--ouput'\nsee attnc compile --help\n");
    expect_error("cache lss", 1, "attnc cache: unknown action 'lss' (ls, clear or stats); did you mean 'ls'?\n"
                                 "see attnc cache --help\n");
    expect_error("ir recipes/causal.attn --after fusin", 1,
                 "attnc ir: unknown pass 'fusin'; did you mean 'fusion'? (attnc ir --list-passes lists them)\n"
                 "see attnc ir --help\n");
    expect_error("run recipes/causal.attn --shape tokens=40,heds=2", 1,
                 "attnc run: --shape: unknown size 'heds' (batch, heads, kv_heads, tokens, kv_tokens); did you mean "
                 "'heads'?\nsee attnc run --help\n");
}

static void run_errors_do_not_print_the_usage(void **state)
{
    expect_error("run", 1, "attnc run: no recipe file given\nsee attnc run --help\n");
    expect_error("run recipes/causal.attn recipes/dense.attn", 1,
                 "attnc run: one recipe file at a time ('recipes/dense.attn' is one more)\nsee attnc run --help\n");
    expect_error("run recipes/causal.attn --seed=x", 1,
                 "attnc run: --seed needs a whole number from 0 to 18446744073709551615, not 'x'\n"
                 "see attnc run --help\n");
    expect_error("run recipes/causal.attn --check=1", 1,
                 "attnc run: --check takes no value ('--check=1')\nsee attnc run --help\n");
}

/* Both spellings give the same result. */
static void equals_and_space_forms_agree(void **state)
{
    static const char *const pairs[][2] = {
        {"run recipes/causal.attn --backend=cpu --shape=tokens=40,heads=1 --seed=3 --check",
         "run recipes/causal.attn --backend cpu --shape tokens=40,heads=1 --seed 3 --check"},
        {"ir recipes/causal.attn --after=fusion --schedule=q=32", "ir recipes/causal.attn --after fusion --schedule q=32"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        static run_result a, b;
        run_attnc(pairs[i][0], &a);
        run_attnc(pairs[i][1], &b);
        assert_int_equal(a.status, 0);
        assert_int_equal(b.status, 0);
        assert_string_equal(a.err, b.err);
        /* run prints a time that differs between runs: compare up to it */
        char *ta = strstr(a.out, "ran in "), *tb = strstr(b.out, "ran in ");
        if (ta && tb)
            *ta = *tb = 0;
        assert_true(strlen(a.out) > 20);
        assert_string_equal(a.out, b.out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(misspelt_command_is_suggested),
        cmocka_unit_test(every_command_rejects_unknown_options_in_one_line),
        cmocka_unit_test(misspelt_options_and_values_are_suggested),
        cmocka_unit_test(run_errors_do_not_print_the_usage),
        cmocka_unit_test(equals_and_space_forms_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
