/* progress.c — the CLI's progress line; see progress.h. One line,
 * rewritten in place with \r, erased at the end so the command's normal
 * output follows as if it had never been there. */
#include "progress.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SHOW_AFTER_S = 1 };

typedef struct progress_line {
    const char *who;
    bool shown; /* the line is on the terminal now */
} progress_line;

static progress_line g_line; /* one CLI process, one line */

static void on_progress(void *user, int64_t done, int64_t total, double seconds)
{
    progress_line *l = user;
    if (done >= total) {
        if (l->shown)
            fputs("\r\033[K", stderr);
        l->shown = false;
        fflush(stderr);
        return;
    }
    if (seconds < SHOW_AFTER_S || total <= 0)
        return;
    double frac = (double)done / (double)total;
    fprintf(stderr, "\r\033[K%s: running on the CPU: %3.0f%% (%lld of %lld programs, %.0f s", l->who, 100.0 * frac,
            (long long)done, (long long)total, seconds);
    if (done > 0)
        fprintf(stderr, ", about %.0f s left", seconds * (1.0 - frac) / frac);
    fputs(")", stderr);
    fflush(stderr);
    l->shown = true;
}

static bool terminal(void)
{
    const char *ci = getenv("CI"), *term = getenv("TERM");
    return isatty(STDERR_FILENO) && !(ci && *ci) && !(term && !strcmp(term, "dumb"));
}

void cli_progress_attach(attnc_context *ctx, const char *who)
{
    if (!ctx || !terminal())
        return;
    g_line = (progress_line){who, false};
    attnc_context_set_progress(ctx, on_progress, &g_line);
}
