/* cmd_check.c — `attnc check`: not built yet (issue 1). */
#include <stdio.h>

#include "commands.h"

static int run_check(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "attnc check: not available in this build yet\n");
    return EXIT_INTERNAL;
}

const cli_command cmd_check = {
    "check",
    "check recipes for errors",
    "usage: attnc check ...\n\ncheck recipes for errors (not available in this build yet)\n",
    run_check,
};
