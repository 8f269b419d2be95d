/* readonly.h — running code or a command that cannot write a folder tree.
 *
 * ro_tree() makes a tree readable by anyone and writable by no one (folders
 * 0555, files 0444). Permissions do not stop root, and the tests run as
 * root in CI, so ro_call()/ro_sh() run in a child process that, when it is
 * root, first drops to uid/gid 65534 (nobody) for good; as any other user
 * the modes alone suffice. rw_tree() restores 0755/0644 so tmpdir_remove
 * works as a normal user. Include after tmpdir.h. */
#ifndef ATTNC_TEST_READONLY_H
#define ATTNC_TEST_READONLY_H

#include <grp.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "support/strbuf.h"

static inline int ro_chmod_ro(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)f;
    return chmod(p, flag == FTW_D || flag == FTW_DP || S_ISDIR(sb->st_mode) ? 0555 : 0444);
}

static inline int ro_chmod_rw(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)f;
    return chmod(p, flag == FTW_D || flag == FTW_DP || S_ISDIR(sb->st_mode) ? 0755 : 0644);
}

static inline bool ro_tree(const char *dir)
{
    return nftw(dir, ro_chmod_ro, 16, FTW_PHYS) == 0;
}

static inline bool rw_tree(const char *dir)
{
    return nftw(dir, ro_chmod_rw, 16, FTW_PHYS) == 0;
}

/* In a child: give up root, so file modes apply. */
static inline bool ro_drop_root(void)
{
    if (geteuid() != 0)
        return true;
    return setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0 && geteuid() == 65534;
}

/* Runs fn(arg) in a child without root; returns its result (0..255), 254
 * when root could not be dropped, -1 when the child died. */
static inline int ro_call(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(ro_drop_root() ? fn(arg) & 0xff : 254);
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

/* Runs `sh -c cmd` without root, stdout and stderr into *out; returns its
 * exit status (254: root could not be dropped, -1: it died). */
static inline int ro_sh(strbuf *out, const char *cmd)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        if (!ro_drop_root())
            _exit(254);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    sb_clear(out);
    char buf[1024];
    ssize_t k;
    while ((k = read(fd[0], buf, sizeof buf)) > 0)
        sb_append(out, buf, (size_t)k);
    close(fd[0]);
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

#endif
