/* cmd_ptx.c — `attnc ptx`: not built yet (issue 5). */
#include <stdio.h>

#include "commands.h"

static int run_ptx(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "attnc ptx: not available in this build yet\n");
    return EXIT_INTERNAL;
}

const cli_command cmd_ptx = {
    "ptx",
    "emit PTX for a recipe",
    "usage: attnc ptx ...\n\nemit PTX for a recipe (not available in this build yet)\n",
    run_ptx,
};
