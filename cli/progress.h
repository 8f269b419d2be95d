/*
 * progress.h — a progress line for long CPU launches of the CLI.
 */
#ifndef ATTNC_CLI_PROGRESS_H
#define ATTNC_CLI_PROGRESS_H

#include "runtime/include/attnc.h"

/* When stderr is a terminal (and neither $CI is set nor TERM=dumb), shows
 * "<who>: running on the CPU: 42% (...)" on stderr for CPU launches on ctx
 * that last over a second, and erases it when the launch ends. Pipes, files
 * and CI logs get nothing. */
void cli_progress_attach(attnc_context *ctx, const char *who);

#endif
