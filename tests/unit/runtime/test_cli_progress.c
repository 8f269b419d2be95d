/* `attnc run`'s progress lines (cli/progress.c, fed by
 * attnc_context_set_progress): on a terminal a launch longer than a second
 * shows "running on the CPU: N%" and the line is erased before the normal
 * output goes on; through a pipe nothing of it appears. The launch runs on
 * one thread over 20000 causal tokens (3-4 s here) so it is long enough
 * on any machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ARGS[] = {ATTNC_BINARY_DIR "/bin/attnc", "run", ATTNC_SOURCE_DIR "/recipes/causal.attn", "--shape",
                             "tokens=20000,heads=1", NULL};

/* Runs attnc on a pseudo-terminal; returns everything it wrote (free()). */
static char *run_on_pty(int *status)
{
    int fd;
    pid_t pid = forkpty(&fd, NULL, NULL, NULL);
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("ATTNC_NUM_THREADS", "1", 1);
        unsetenv("CI");
        setenv("TERM", "xterm", 1);
        execv(ARGS[0], (char *const *)ARGS);
        _exit(127);
    }
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    for (ssize_t n; (n = read(fd, out + len, cap - len - 1)) > 0;) {
        len += (size_t)n;
        if (len + 1 == cap)
            out = realloc(out, cap *= 2);
    }
    out[len] = 0;
    close(fd);
    waitpid(pid, status, 0);
    return out;
}

static void progress_on_a_terminal(void **state)
{
    int status;
    char *out = run_on_pty(&status);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    const char *line = strstr(out, "attnc run: running on the CPU: ");
    if (!line)
        fail_msg("no progress line in:\n%s", out);
    const char *normal = strstr(out, "schedule used:");
    assert_non_null(normal);
    assert_true(line < normal);
    /* the last progress line is erased right before the normal output */
    assert_true(normal - out >= 4 && !strncmp(normal - 4, "\r\033[K", 4));
    assert_null(strstr(normal, "running on the CPU"));
    free(out);
}

static void nothing_through_a_pipe(void **state)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ATTNC_NUM_THREADS=1 %s run %s --shape tokens=20000,heads=1 2>&1", ARGS[0], ARGS[2]);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    assert_int_equal(pclose(p), 0);
    assert_non_null(strstr(buf, "ran in"));
    assert_null(strstr(buf, "running on the CPU"));
    assert_null(strchr(buf, '\r'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(progress_on_a_terminal),
        cmocka_unit_test(nothing_through_a_pipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
