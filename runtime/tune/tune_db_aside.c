/* tune_db_aside.c — damaged tuning databases moved aside, and the rule that
 * keeps them from piling up: at most one PATH.corrupt-<time> copy exists
 * (the newest, for a post-mortem); `attnc cache clear --all` removes it. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/tune/tune_db_impl.h"

/* Splits PATH into its folder ("." when none) and the aside prefix
 * "BASENAME.corrupt-". */
static void aside_parts(const char *path, strbuf *dir, strbuf *prefix)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        sb_puts(dir, ".");
    else if (slash == path)
        sb_puts(dir, "/");
    else
        sb_append(dir, path, (size_t)(slash - path));
    sb_printf(prefix, "%s.corrupt-", slash ? slash + 1 : path);
}

/* Removes the PATH.corrupt-* files other than `keep` (a full path, or
 * NULL). Returns how many were removed, or -1 with a message when the
 * folder cannot be read or one of them cannot be removed. */
static long remove_asides(const char *path, const char *keep, strbuf *err)
{
    strbuf dir, prefix, file;
    sb_init(&dir);
    sb_init(&prefix);
    sb_init(&file);
    aside_parts(path, &dir, &prefix);
    long n = 0;
    int fail_errno = 0;
    DIR *d = opendir(sb_cstr(&dir));
    if (!d && errno != ENOENT)
        fail_errno = errno;
    for (struct dirent *e; d && (errno = 0, e = readdir(d));) {
        if (strncmp(e->d_name, prefix.data, prefix.len))
            continue;
        sb_clear(&file);
        sb_printf(&file, "%s/%s", sb_cstr(&dir), e->d_name);
        if (keep && !strcmp(sb_cstr(&file), keep))
            continue;
        if (unlink(sb_cstr(&file)) == 0)
            n++;
        else if (errno != ENOENT && !fail_errno) /* ENOENT: another process removed it */
            fail_errno = errno;
    }
    if (d && errno && !fail_errno)
        fail_errno = errno;
    if (d)
        closedir(d);
    if (fail_errno && err)
        sb_printf(err, "cannot remove the damaged tuning database copies %s*: %s", path, strerror(fail_errno));
    sb_free(&dir);
    sb_free(&prefix);
    sb_free(&file);
    return fail_errno ? -1 : n;
}

void tune_db_move_aside(const char *path, strbuf *note)
{
    strbuf aside, side;
    sb_init(&aside);
    sb_init(&side);
    sb_printf(&aside, "%s.corrupt-%lld", path, (long long)time(NULL));
    if (rename(path, sb_cstr(&aside)) == 0) {
        sb_printf(note, "; moved to '%s'", sb_cstr(&aside));
        long older = remove_asides(path, sb_cstr(&aside), NULL);
        if (older > 0)
            sb_printf(note, " (%ld older damaged cop%s removed)", older, older == 1 ? "y" : "ies");
    } else {
        unlink(path);
    }
    sb_printf(&side, "%s-wal", path);
    unlink(sb_cstr(&side));
    sb_clear(&side);
    sb_printf(&side, "%s-shm", path);
    unlink(sb_cstr(&side));
    sb_free(&aside);
    sb_free(&side);
}

long tune_db_remove_asides(const char *path, strbuf *err)
{
    return remove_asides(path, NULL, err);
}
