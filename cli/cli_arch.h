/* cli_arch.h — the --arch option of the commands: one table of accepted
 * names (attnc_tools_arch_names), an error listing them (with "did you
 * mean") for any other, and a note on stderr when a name gets another
 * arch's code (--arch sm_89 emits sm_80 code). */
#ifndef ATTNC_CLI_ARCH_H
#define ATTNC_CLI_ARCH_H

#include <stdbool.h>

#include "runtime/include/attnc_tools.h"

/* Parses name into *out. allow_host: "host" (the CPU) is accepted too.
 * Returns EXIT_OK, or EXIT_USER after a one-line error for command cmd. */
int cli_arch(const char *cmd, const char *name, bool allow_host, attnc_tools_arch *out);

#endif
