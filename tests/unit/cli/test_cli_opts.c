/*
 * The option parser every `attnc` command uses (cli/cli_opts.h):
 * `--name VALUE` and `--name=VALUE`, `-o VALUE` and `-oVALUE`, options
 * after operands, `--`, typed values with ranges, choices, repeated options
 * through a function, and one-line errors with "did you mean" followed by
 * "see attnc CMD --help" (stderr captured through a temporary file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_opts.h"
#include "commands.h"

typedef struct opts {
    const char *shape, *out;
    int backend, iters;
    bool check;
    uint64_t seed;
    double budget;
    int nparams;
    const char *params[4];
} opts;

static bool add_param(void *user, const char *value, strbuf *err)
{
    opts *o = user;
    if (!strchr(value, '=')) {
        sb_printf(err, "--param wants NAME=VALUE, not '%s'", value);
        return false;
    }
    if (o->nparams == 4)
        return false; /* the parser supplies a message */
    o->params[o->nparams++] = value;
    return true;
}

static const cli_opt table[] = {
    CLI_STR("--shape", opts, shape),
    CLI_STR("-o", opts, out),
    CLI_CHOICE("--backend", opts, backend, "cpu|cuda"),
    CLI_INT("--iters", opts, iters, 1, 100),
    CLI_FLAG("--check", opts, check),
    CLI_U64("--seed", opts, seed),
    CLI_DOUBLE("--budget", opts, budget, 0, 60),
    CLI_FUNC("--param", add_param),
};

static const cli_spec spec = {"demo", table, (int)(sizeof table / sizeof table[0]), "recipe file", 1, 1};

typedef struct parsed {
    int rc;
    opts o;
    int n;
    const char *v[16];
    char err[1024];
} parsed;

/* Parses a NULL-terminated argument list (after the command name). */
static void parse(parsed *p, const cli_spec *sp, ...)
{
    char *argv[16] = {"demo"};
    int argc = 1;
    va_list ap;
    va_start(ap, sp);
    for (char *a; (a = va_arg(ap, char *)) && argc < 16;)
        argv[argc++] = a;
    va_end(ap);
    memset(p, 0, sizeof *p);
    p->o.iters = 7;
    cli_operands ops = {p->v, 0};
    char path[] = "/tmp/attnc_cli_opts_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    p->rc = cli_parse(sp, argc, argv, &p->o, &ops);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    p->n = ops.n;
    lseek(fd, 0, SEEK_SET);
    ssize_t k = read(fd, p->err, sizeof p->err - 1);
    p->err[k > 0 ? k : 0] = 0;
    close(fd);
    unlink(path);
}

static void both_value_forms_and_any_order(void **state)
{
    parsed p;
    parse(&p, &spec, "--backend=cuda", "x.attn", "--shape", "tokens=9", "-o", "out", "--check", "--seed=42",
          "--budget", "2.5", "--iters=3", NULL);
    assert_int_equal(p.rc, EXIT_OK);
    assert_string_equal(p.err, "");
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0], "x.attn");
    assert_int_equal(p.o.backend, 1);
    assert_string_equal(p.o.shape, "tokens=9");
    assert_string_equal(p.o.out, "out");
    assert_true(p.o.check);
    assert_int_equal(p.o.seed, 42);
    assert_true(p.o.budget == 2.5);
    assert_int_equal(p.o.iters, 3);

    parse(&p, &spec, "-oDIR", "--shape=a=1,b=2", "x.attn", "--param", "P=1", "--param=Q=@f.npy", NULL);
    assert_int_equal(p.rc, EXIT_OK);
    assert_string_equal(p.o.out, "DIR");
    assert_string_equal(p.o.shape, "a=1,b=2"); /* only the first '=' splits */
    assert_int_equal(p.o.nparams, 2);
    assert_string_equal(p.o.params[0], "P=1");
    assert_string_equal(p.o.params[1], "Q=@f.npy");
    assert_int_equal(p.o.iters, 7); /* untouched when not given */
}

static void double_dash_ends_options(void **state)
{
    parsed p;
    parse(&p, &spec, "--check", "--", "--odd-name.attn", NULL);
    assert_int_equal(p.rc, EXIT_OK);
    assert_string_equal(p.v[0], "--odd-name.attn");
    parse(&p, &spec, "-", NULL); /* a lone dash is an operand */
    assert_int_equal(p.rc, EXIT_OK);
    assert_string_equal(p.v[0], "-");
    parse(&p, &spec, "--seed", "-5", "x", NULL); /* a value may start with '-' (then rejected as a u64) */
    assert_int_equal(p.rc, EXIT_USER);
    assert_string_equal(p.err, "attnc demo: --seed needs a whole number from 0 to 18446744073709551615, not '-5'\n"
                               "see attnc demo --help\n");
}

static void errors_are_one_line_with_suggestions(void **state)
{
    static const struct {
        const char *args[4], *err;
    } cases[] = {
        {{"x", "--bakend=cpu"}, "unknown option '--bakend'; did you mean '--backend'?"},
        {{"x", "--chek"}, "unknown option '--chek'; did you mean '--check'?"},
        {{"x", "-check"}, "unknown option '-check'; did you mean '--check'?"},
        {{"x", "--frobnicate"}, "unknown option '--frobnicate'"},
        {{"x", "--backend", "cdua"}, "--backend 'cdua': write cpu or cuda; did you mean 'cuda'?"},
        {{"x", "--backend=metal"}, "--backend 'metal': write cpu or cuda"},
        {{"x", "--check=yes"}, "--check takes no value ('--check=yes')"},
        {{"x", "--shape"}, "--shape needs a value"},
        {{"x", "--iters", "0"}, "--iters needs a whole number from 1 to 100, not '0'"},
        {{"x", "--iters", "5x"}, "--iters needs a whole number from 1 to 100, not '5x'"},
        {{"x", "--budget", "nan"}, "--budget needs a number from 0 to 60, not 'nan'"},
        {{"x", "--param", "P"}, "--param wants NAME=VALUE, not 'P'"},
        {{"x", "y"}, "one recipe file at a time ('y' is one more)"},
        {{"--check"}, "no recipe file given"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed p;
        parse(&p, &spec, cases[i].args[0], cases[i].args[1], cases[i].args[2], cases[i].args[3], NULL);
        char want[512];
        snprintf(want, sizeof want, "attnc demo: %s\nsee attnc demo --help\n", cases[i].err);
        assert_int_equal(p.rc, EXIT_USER);
        assert_string_equal(p.err, want);
    }
}

static void function_options_get_a_default_message(void **state)
{
    parsed p;
    parse(&p, &spec, "x", "--param", "A=1", "--param", "B=1", "--param", "C=1", "--param", "D=1", "--param", "E=1",
          NULL);
    assert_int_equal(p.rc, EXIT_USER);
    assert_string_equal(p.err, "attnc demo: bad value for --param: 'E=1'\nsee attnc demo --help\n");
}

static void any_number_of_operands(void **state)
{
    cli_spec many = spec;
    many.max_operands = -1;
    parsed p;
    parse(&p, &many, "a", "b", "--check", "c", NULL);
    assert_int_equal(p.rc, EXIT_OK);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.v[2], "c");
    cli_spec two = spec;
    two.max_operands = 2;
    parse(&p, &two, "a", "b", "c", NULL);
    assert_int_equal(p.rc, EXIT_USER);
    assert_string_equal(p.err, "attnc demo: too many arguments ('c')\nsee attnc demo --help\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(both_value_forms_and_any_order),
        cmocka_unit_test(double_dash_ends_options),
        cmocka_unit_test(errors_are_one_line_with_suggestions),
        cmocka_unit_test(function_options_get_a_default_message),
        cmocka_unit_test(any_number_of_operands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
