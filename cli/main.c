/* main.c — `attnc COMMAND ...`: dispatch to the command table. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "runtime/include/attnc.h"
#include "support/suggest.h"

const cli_command *const cli_commands[] = {
    &cmd_check, &cmd_ir, &cmd_ptx, &cmd_run, &cmd_bench, &cmd_tune, &cmd_compile, &cmd_cache, NULL,
};

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return 0;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    }
    return 0;
}

static void print_main_help(FILE *f)
{
    fprintf(f, "attnc %s — compile attention recipes (.attn) to GPU and CPU kernels\n\n"
               "usage: attnc COMMAND [ARGS]   (attnc COMMAND --help for details)\n\ncommands:\n",
            attnc_version());
    for (int i = 0; cli_commands[i]; i++)
        fprintf(f, "  %-9s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
    fprintf(f, "\noptions take values as --opt VALUE or --opt=VALUE (-o VALUE or -oVALUE) and may come\n"
               "before or after the recipe file; -- ends the options.\n"
               "\nexit status: 0 success, 1 user error (bad recipe or arguments), "
               "2 internal or environment error\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_main_help(stderr);
        return EXIT_USER;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        print_main_help(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("attnc %s\n", attnc_version());
        return EXIT_OK;
    }
    for (int i = 0; cli_commands[i]; i++) {
        const cli_command *c = cli_commands[i];
        if (strcmp(argv[1], c->name))
            continue;
        if (cli_wants_help(argc - 1, argv + 1)) {
            fputs(c->usage, stdout);
            return EXIT_OK;
        }
        return c->run(argc - 1, argv + 1);
    }
    const char *names[16];
    int n = 0;
    for (int i = 0; cli_commands[i] && n < 16; i++)
        names[n++] = cli_commands[i]->name;
    const char *near = suggest_nearest(argv[1], names, n);
    fprintf(stderr, "attnc: unknown %s '%s'", argv[1][0] == '-' ? "option" : "command", argv[1]);
    if (near)
        fprintf(stderr, "; did you mean '%s'?", near);
    fprintf(stderr, "\nsee attnc --help\n");
    return EXIT_USER;
}
