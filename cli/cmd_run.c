/* cmd_run.c — `attnc run`: not built yet (issue 4). */
#include <stdio.h>

#include "commands.h"

static int run_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "attnc run: not available in this build yet\n");
    return EXIT_INTERNAL;
}

const cli_command cmd_run = {
    "run",
    "run a recipe on random inputs (CPU or CUDA), optionally checked",
    "usage: attnc run ...\n\nrun a recipe on random inputs (CPU or CUDA), optionally checked (not available in this build yet)\n",
    run_run,
};
