/* tmpdir.h — a fresh temp folder per test, removed recursively afterwards,
 * and the shell commands the tests run in it. */
#ifndef ATTNC_TEST_TMPDIR_H
#define ATTNC_TEST_TMPDIR_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw, memmem */
#endif
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static inline char *tmpdir_make(void)
{
    char tmpl[] = "/tmp/attnc-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    char *copy = d ? strdup(d) : NULL;
    if (!copy) /* nothing to test without a folder */
        abort();
    return copy;
}

static inline int tmpdir_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static inline void tmpdir_remove(char *dir)
{
    if (dir)
        nftw(dir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* A printf-formatted shell command; system()'s raw status (0 success, exit
 * code n as n << 8). */
static inline int test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int test_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* The same as an exit code (-1: killed by a signal). */
#define test_sh_exit(...) test_sh_code(test_sh(__VA_ARGS__))
static inline int test_sh_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
