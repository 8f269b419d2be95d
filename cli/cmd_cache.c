/* cmd_cache.c — `attnc cache`: not built yet (issue 7). */
#include <stdio.h>

#include "commands.h"

static int run_cache(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "attnc cache: not available in this build yet\n");
    return EXIT_INTERNAL;
}

const cli_command cmd_cache = {
    "cache",
    "list, clear or summarise the kernel cache",
    "usage: attnc cache ...\n\nlist, clear or summarise the kernel cache (not available in this build yet)\n",
    run_cache,
};
