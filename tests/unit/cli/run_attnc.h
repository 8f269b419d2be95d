/* run_attnc.h — runs the built `attnc` from the source folder with stdout
 * and stderr captured, for the tests of the command line. */
#ifndef ATTNC_TEST_RUN_ATTNC_H
#define ATTNC_TEST_RUN_ATTNC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct run_result {
    int status;
    char out[65536], err[8192];
} run_result;

static void slurp_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
}

/* `attnc ARGS` (ARGS go through the shell: quote what needs it). */
static void run_attnc(const char *args, run_result *r)
{
    char out[] = "/tmp/attnc_cli_outXXXXXX", err[] = "/tmp/attnc_cli_errXXXXXX";
    int fo = mkstemp(out), fe = mkstemp(err);
    assert_true(fo >= 0 && fe >= 0);
    close(fo);
    close(fe);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && %s/bin/attnc %s >%s 2>%s", ATTNC_SOURCE_DIR, ATTNC_BINARY_DIR, args, out, err);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    r->status = WEXITSTATUS(st);
    slurp_file(out, r->out, sizeof r->out);
    slurp_file(err, r->err, sizeof r->err);
    unlink(out);
    unlink(err);
}

/* Runs and checks the exit status and the whole of stderr. */
static void expect_error(const char *args, int status, const char *err)
{
    run_result r;
    run_attnc(args, &r);
    if (r.status != status || strcmp(r.err, err))
        print_error("attnc %s\n  status %d (want %d)\n  stderr: %s  want:   %s", args, r.status, status, r.err, err);
    assert_int_equal(r.status, status);
    assert_string_equal(r.err, err);
}

#endif
