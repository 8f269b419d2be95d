/*
 * `attnc check` (docs/recipe-language.md, Diagnostics): good files print
 * "FILE: ok (recipe NAME)" on stdout and exit 0; bad recipes print
 * file:line:col diagnostics with the source line and caret on stderr and
 * exit 1; an unreadable file is a user error (1); --help describes the
 * command. Runs the built binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct run_result {
    int status;
    char out[8192], err[8192];
} run_result;

static void slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
}

/* Runs `attnc ARGS` with stdout/stderr captured in temporary files. */
static void run_attnc(const char *args, run_result *r)
{
    char out[] = "/tmp/attnc_check_outXXXXXX", err[] = "/tmp/attnc_check_errXXXXXX";
    int fo = mkstemp(out), fe = mkstemp(err);
    assert_true(fo >= 0 && fe >= 0);
    close(fo);
    close(fe);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && %s/bin/attnc %s >%s 2>%s", ATTNC_SOURCE_DIR, ATTNC_BINARY_DIR, args, out, err);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    r->status = WEXITSTATUS(st);
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
    unlink(out);
    unlink(err);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void check_accepts_library_recipes(void **state)
{
    run_result r;
    run_attnc("check recipes/neighborhood2d.attn recipes/lightning2.attn", &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "recipes/neighborhood2d.attn: ok (recipe neighborhood2d)\n"
                               "recipes/lightning2.attn: ok (recipe lightning2)\n");
    assert_string_equal(r.err, "");
}

static void check_reports_errors_with_caret(void **state)
{
    char path[64], args[160], want[768];
    snprintf(path, sizeof path, "/tmp/attnc_check_bad_%d.attn", (int)getpid());
    write_file(path, "recipe bad\ninput q, k, v : bf16 [batch, heads, tokens, 64]\n"
                                            "mask causal && k.t < q.t + windw\n");
    run_result r;
    snprintf(args, sizeof args, "check recipes/causal.attn %s", path);
    run_attnc(args, &r);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "recipes/causal.attn: ok (recipe causal)\n");
    snprintf(want, sizeof want, "%s:3:28: error: unknown name 'windw'\n"
                                "    3 | mask causal && k.t < q.t + windw\n"
                                "      |                            ^~~~~\n"
                                "  hint: declare it: 'param windw : i32' (a value given at launch), or make it a "
                                "size by naming it in a param's shape\n", path);
    assert_string_equal(r.err, want);
    unlink(path);
}

static void check_unreadable_file_is_a_user_error(void **state)
{
    run_result r;
    run_attnc("check /nonexistent/x.attn", &r);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "/nonexistent/x.attn: error: cannot read: "));
    run_attnc("check", &r);
    assert_int_equal(r.status, 1);
    run_attnc("check --bogus recipes/dense.attn", &r);
    assert_int_equal(r.status, 1);
}

static void check_help_and_dump(void **state)
{
    run_result r;
    run_attnc("check --help", &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: attnc check"));
    run_attnc("check --dump recipes/sliding_window.attn", &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "  mask (as written): (sliding_window 1023 0)\n"
                                  "  mask: (and (le (sub q.t 1023) k.t) (le k.t q.t))\n"));
}

static void check_werror_fails_on_warnings(void **state)
{
    char path[64], args[160];
    snprintf(path, sizeof path, "/tmp/attnc_check_warn_%d.attn", (int)getpid());
    write_file(path, "recipe w\ninput q, k, v : bf16 [batch, heads, tokens, 64]\n"
                                             "tile q(32) kv(64) warps 4\n");
    run_result r;
    snprintf(args, sizeof args, "check %s", path);
    run_attnc(args, &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "3:1: warning: this tile runs on the CPU but not on sm_80 GPUs"));
    snprintf(args, sizeof args, "check --werror %s", path);
    run_attnc(args, &r);
    assert_int_equal(r.status, 1);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_accepts_library_recipes),
        cmocka_unit_test(check_reports_errors_with_caret),
        cmocka_unit_test(check_unreadable_file_is_a_user_error),
        cmocka_unit_test(check_help_and_dump),
        cmocka_unit_test(check_werror_fails_on_warnings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
