/*
 * commands.h — the `attnc` subcommands. Each lives in its own cmd_*.c and
 * returns the process exit status: 0 success, 1 user error (bad recipe, bad
 * arguments), 2 internal or environment error.
 */
#ifndef ATTNC_CLI_COMMANDS_H
#define ATTNC_CLI_COMMANDS_H

enum { EXIT_OK = 0, EXIT_USER = 1, EXIT_INTERNAL = 2 };

typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage; /* full --help text */
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} cli_command;

/* The table, in the order `attnc --help` lists them; NULL-terminated. */
extern const cli_command *const cli_commands[];

extern const cli_command cmd_check;
extern const cli_command cmd_ir;
extern const cli_command cmd_ptx;
extern const cli_command cmd_run;
extern const cli_command cmd_bench;
extern const cli_command cmd_tune;
extern const cli_command cmd_compile;
extern const cli_command cmd_cache;

/* True when argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);

#endif
