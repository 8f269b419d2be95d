/* ptxas.c — runs NVIDIA's ptxas to turn PTX into a cubin, for AOT output and
 * for the CUDA backend's JIT when it prefers ptxas to the driver (ptxas.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/compile/ptxas.h"

/* ATTNC_PTXAS, the CUDA toolkit's ptxas, or the first on PATH. */
bool ptxas_find(char *out, size_t cap)
{
    const char *env = getenv("ATTNC_PTXAS");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return access(out, X_OK) == 0;
    }
    snprintf(out, cap, "/usr/local/cuda/bin/ptxas");
    if (access(out, X_OK) == 0)
        return true;
    const char *path = getenv("PATH");
    for (const char *p = path; p && *p;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        snprintf(out, cap, "%.*s/ptxas", (int)n, p);
        if (n && access(out, X_OK) == 0)
            return true;
        p = colon ? colon + 1 : p + n;
    }
    return false;
}

/* Reads the child's combined output into log. */
static void drain(int fd, strbuf *log)
{
    char buf[4096];
    for (;;) {
        ssize_t k = read(fd, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        sb_append(log, buf, (size_t)k);
    }
}

int ptxas_run(const char *ptx_path, const char *arch, const char *cubin_path, strbuf *log)
{
    char exe[4096], archarg[64];
    if (!ptxas_find(exe, sizeof exe))
        return 0;
    snprintf(archarg, sizeof archarg, "-arch=%s", arch ? arch : "sm_80");
    int pipefd[2];
    if (pipe(pipefd) != 0) {
        sb_printf(log, "cannot run ptxas: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    int fork_errno = errno;
    if (pid == 0) {
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        char *argv[] = {exe, archarg, "-o", (char *)cubin_path, (char *)ptx_path, NULL};
        execv(exe, argv);
        _exit(127);
    }
    close(pipefd[1]);
    if (pid > 0)
        drain(pipefd[0], log);
    close(pipefd[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        sb_printf(log, "cannot run %s: %s", exe, strerror(pid < 0 ? fork_errno : errno));
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status))
            sb_printf(log, "%s%s exited with status %d", log->len ? "\n" : "", exe, WEXITSTATUS(status));
        else
            sb_printf(log, "%s%s was killed by signal %d", log->len ? "\n" : "", exe, WTERMSIG(status));
        return -1;
    }
    return 1;
}
