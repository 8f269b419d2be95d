/*
 * cli_opts.h — option parsing shared by every `attnc` command.
 *
 * Each command declares a table of its options; one entry says the name,
 * what kind of value it takes and where the value goes in the command's
 * options struct, so adding a flag is one line:
 *
 *   static const cli_opt run_table[] = {
 *       CLI_CHOICE("--backend", run_opts, backend, "cpu|cuda"),
 *       CLI_FLAG("--check", run_opts, check),
 *       ...
 *   };
 *
 * Conventions (getopt_long-like): `--name VALUE` and `--name=VALUE`; `-o
 * VALUE` and `-oVALUE` for one-letter options; options and operands in any
 * order; `--` ends the options; `-` alone is an operand. Errors are one line,
 * "attnc CMD: what is wrong", with a "did you mean" for a misspelt option or
 * choice, followed by "see attnc CMD --help"; the parser then returns
 * EXIT_USER (commands.h). -h/--help are handled before a command runs
 * (main.c).
 */
#ifndef ATTNC_CLI_OPTS_H
#define ATTNC_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "support/strbuf.h"

typedef enum cli_kind {
    CLI_KIND_FLAG,   /* no value: sets a bool */
    CLI_KIND_STR,    /* const char *: the argument itself (argv outlives the command) */
    CLI_KIND_INT,    /* int in [min, max] */
    CLI_KIND_U64,    /* uint64_t (decimal) */
    CLI_KIND_DOUBLE, /* double in [min, max] */
    CLI_KIND_CHOICE, /* int: the index of the value in choices ("cpu|cuda") */
    CLI_KIND_FUNC,   /* fn(opts, value, err): anything else, e.g. repeated options */
} cli_kind;

typedef struct cli_opt {
    const char *name; /* "--backend", or "-o" */
    cli_kind kind;
    size_t offset;       /* of the destination in the options struct */
    const char *choices; /* CLI_KIND_CHOICE: "a|b|c" */
    double min, max;     /* CLI_KIND_INT and CLI_KIND_DOUBLE */
    /* CLI_KIND_FUNC: false after writing why into err (one line, no prefix). */
    bool (*fn)(void *opts, const char *value, strbuf *err);
} cli_opt;

#define CLI_FLAG(name, T, field) {name, CLI_KIND_FLAG, offsetof(T, field), NULL, 0, 0, NULL}
#define CLI_STR(name, T, field) {name, CLI_KIND_STR, offsetof(T, field), NULL, 0, 0, NULL}
#define CLI_INT(name, T, field, lo, hi) {name, CLI_KIND_INT, offsetof(T, field), NULL, lo, hi, NULL}
#define CLI_U64(name, T, field) {name, CLI_KIND_U64, offsetof(T, field), NULL, 0, 0, NULL}
#define CLI_DOUBLE(name, T, field, lo, hi) {name, CLI_KIND_DOUBLE, offsetof(T, field), NULL, lo, hi, NULL}
#define CLI_CHOICE(name, T, field, choices) {name, CLI_KIND_CHOICE, offsetof(T, field), choices, 0, 0, NULL}
#define CLI_FUNC(name, fn) {name, CLI_KIND_FUNC, 0, NULL, 0, 0, fn}

/* What a command accepts. */
typedef struct cli_spec {
    const char *cmd; /* "run": messages say "attnc run: ..." */
    const cli_opt *opts;
    int nopts;
    const char *operand; /* what an operand is, for messages: "recipe file" */
    int min_operands, max_operands; /* max < 0: any number */
} cli_spec;

/* The operands (non-option arguments), in order; they point into argv. */
typedef struct cli_operands {
    const char **v;
    int n;
} cli_operands;

/* Parses argv[1..argc) (argv[0] is the command name) into *opts and the
 * operands; ops->v must hold argc entries. Returns EXIT_OK, or EXIT_USER
 * after printing a one-line error and "see attnc CMD --help". */
int cli_parse(const cli_spec *spec, int argc, char **argv, void *opts, cli_operands *ops);

/* Prints "attnc CMD: MESSAGE" and "see attnc CMD --help" to stderr; returns
 * EXIT_USER. For argument errors found after parsing (bad --shape keys...). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends "; did you mean 'X'?" to sb when a name of `names` is near word. */
void cli_did_you_mean(strbuf *sb, const char *word, const char *const *names, int n);

#endif
