/* tmpdir.h — a fresh temp folder per test, removed recursively afterwards. */
#ifndef ATTNC_TEST_TMPDIR_H
#define ATTNC_TEST_TMPDIR_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw, memmem */
#endif
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#endif
