/*
 * progress.h — progress lines for long `attnc run`s on a terminal.
 */
#ifndef ATTNC_CLI_PROGRESS_H
#define ATTNC_CLI_PROGRESS_H

#include "reference/ref_check.h"
#include "runtime/include/attnc.h"

/* ref_check_kernel(k, r, sh, o, res), and while it runs, when stderr is a
 * terminal (neither $CI set nor TERM=dumb): a CPU launch (on a kernel of
 * ctx) that lasts over a second shows "attnc run: running on the CPU: 42%
 * (...)", and a comparison with the fp64 reference that lasts over a
 * second shows how long it has been going. Each line is erased when its
 * phase ends. Pipes, files and CI logs get nothing. */
void cli_progress_check(attnc_context *ctx, attnc_kernel *k, const recipe *r, const ref_shape *sh,
                        const ref_check_opts *o, ref_check_result *res);

#endif
