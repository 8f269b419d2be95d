/*
 * cmd_check.c — `attnc check FILE...`: parse and check recipes.
 *
 * Diagnostics go to stderr (file:line:col, source line, caret, hint); each
 * good file prints "FILE: ok (recipe NAME)" on stdout. Exit status: 0 when
 * every file is fine, 1 when any has errors or cannot be read (a user
 * problem), 2 on an internal error (out of memory).
 */
#include <stdio.h>
#include <string.h>

#include "cli_arch.h"
#include "cli_opts.h"
#include "commands.h"
#include "runtime/include/attnc_tools.h"

typedef struct check_opts {
    bool werror, dump;
    const char *arch; /* NULL: the CPU and sm_80 */
} check_opts;

/* Checks one file; returns its exit status. */
static int check_file(const char *path, const check_opts *o, attnc_tools_arch arch)
{
    strbuf diags, dump;
    sb_init(&diags);
    sb_init(&dump);
    attnc_tools_checked c;
    attnc_tools_result res = attnc_tools_check(path, o->arch, arch, &diags, o->dump ? &dump : NULL, &c);
    int status = EXIT_OK;
    if (res == ATTNC_TOOLS_UNREADABLE) {
        fprintf(stderr, "%s: error: cannot read: %s\n", path, sb_cstr(&diags));
        status = EXIT_USER;
    } else {
        fputs(sb_cstr(&diags), stderr);
        if (res || dump.failed || c.name.failed)
            status = EXIT_INTERNAL;
        else if (!c.parsed || c.errors || (o->werror && c.warnings))
            status = EXIT_USER;
        else {
            printf("%s: ok (recipe %s)\n", path, sb_cstr(&c.name));
            fputs(sb_cstr(&dump), stdout);
        }
    }
    sb_free(&c.name);
    sb_free(&diags);
    sb_free(&dump);
    return status;
}

static const cli_opt check_table[] = {
    CLI_FLAG("--werror", check_opts, werror),
    CLI_FLAG("--dump", check_opts, dump),
    CLI_STR("--arch", check_opts, arch),
};

static int run_check(int argc, char **argv)
{
    check_opts o = {0};
    const char *files[argc > 0 ? argc : 1];
    cli_operands ops = {files, 0};
    cli_spec spec = {"check", check_table, (int)(sizeof check_table / sizeof check_table[0]), "recipe file", 1, -1};
    int worst = cli_parse(&spec, argc, argv, &o, &ops);
    attnc_tools_arch ta = ATTNC_TOOLS_HOST;
    if (!worst && o.arch)
        worst = cli_arch("check", o.arch, true, &ta);
    if (worst)
        return worst;
    for (int i = 0; i < ops.n; i++) {
        int s = check_file(files[i], &o, ta);
        worst = s > worst ? s : worst;
    }
    return worst;
}

const cli_command cmd_check = {
    "check",
    "check recipes for errors",
    "usage: attnc check [--werror] [--dump] [--arch host|sm_80|sm_90a|...] FILE.attn...\n"
    "\n"
    "Parses and checks each recipe (syntax, names, types, mask-form arguments,\n"
    "tile legality) without compiling it. Problems are printed to stderr as\n"
    "  FILE:LINE:COL: error: MESSAGE\n"
    "followed by the source line, a caret and a hint; each good file prints\n"
    "  FILE: ok (recipe NAME)\n"
    "on stdout. The language is described in docs/recipe-language.md.\n"
    "\n"
    "options:\n"
    "  --werror   treat warnings (e.g. a tile that cannot run on sm_80) as errors\n"
    "  --arch A   also check that the recipe can run on A: host (the CPU backend) or a\n"
    "             GPU (sm_80, sm_86, sm_89, sm_90, sm_90a); q/k/v in f32 run on the CPU\n"
    "             only (an error for a GPU arch, a warning without --arch)\n"
    "  --dump     also print the typed recipe: family, mask as written and\n"
    "             expanded (prefix form), score, linear section, schedule\n"
    "\n"
    "exit status: 0 every file is fine, 1 a recipe has errors or a file cannot\n"
    "be read, 2 internal error\n",
    run_check,
};
