/* cmd_bench.c — `attnc bench`: not built yet (issue 5). */
#include <stdio.h>

#include "commands.h"

static int run_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "attnc bench: not available in this build yet\n");
    return EXIT_INTERNAL;
}

const cli_command cmd_bench = {
    "bench",
    "time a recipe on the GPU",
    "usage: attnc bench ...\n\ntime a recipe on the GPU (not available in this build yet)\n",
    run_bench,
};
