/* cmd_tune.c — `attnc tune`: not built yet (issue 7). */
#include <stdio.h>

#include "commands.h"

static int run_tune(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "attnc tune: not available in this build yet\n");
    return EXIT_INTERNAL;
}

const cli_command cmd_tune = {
    "tune",
    "autotune a recipe's schedule on the GPU",
    "usage: attnc tune ...\n\nautotune a recipe's schedule on the GPU (not available in this build yet)\n",
    run_tune,
};
