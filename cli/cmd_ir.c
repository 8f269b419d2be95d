/* cmd_ir.c — `attnc ir`: not built yet (issue 3). */
#include <stdio.h>

#include "commands.h"

static int run_ir(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "attnc ir: not available in this build yet\n");
    return EXIT_INTERNAL;
}

const cli_command cmd_ir = {
    "ir",
    "print the tile IR of a recipe (after a pass)",
    "usage: attnc ir ...\n\nprint the tile IR of a recipe (after a pass) (not available in this build yet)\n",
    run_ir,
};
