/* cmd_compile.c — `attnc compile`: not built yet (issue 7). */
#include <stdio.h>

#include "commands.h"

static int run_compile(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "attnc compile: not available in this build yet\n");
    return EXIT_INTERNAL;
}

const cli_command cmd_compile = {
    "compile",
    "compile a recipe ahead of time (PTX/cubin + C launcher)",
    "usage: attnc compile ...\n\ncompile a recipe ahead of time (PTX/cubin + C launcher) (not available in this build yet)\n",
    run_compile,
};
