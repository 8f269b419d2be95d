/* cmd_ir.c — `attnc ir FILE [--after PASS] [--schedule SPEC] [--arch A]
 * [--print-after-all] [--list-passes]`: lower a recipe and print its tile
 * IR after the last pass (or after PASS). Exit status: 0 ok, 1 user error
 * (arguments, recipe diagnostics, illegal schedule), 2 internal error. */
#include <stdio.h>
#include <string.h>

#include "cli_arch.h"
#include "cli_opts.h"
#include "commands.h"
#include "runtime/include/attnc_tools.h"

typedef struct ir_args {
    const char *file, *after, *sched, *arch;
    bool all, list;
} ir_args;

static const cli_opt ir_table[] = {
    CLI_STR("--after", ir_args, after),
    CLI_STR("--schedule", ir_args, sched),
    CLI_STR("--arch", ir_args, arch),
    CLI_FLAG("--print-after-all", ir_args, all),
    CLI_FLAG("--list-passes", ir_args, list),
};

static int parse_args(int argc, char **argv, ir_args *a)
{
    const char *files[argc > 0 ? argc : 1];
    cli_operands ops = {files, 0};
    cli_spec spec = {"ir", ir_table, (int)(sizeof ir_table / sizeof ir_table[0]), "recipe file", 0, 1};
    int rc = cli_parse(&spec, argc, argv, a, &ops);
    a->file = ops.n ? files[0] : NULL;
    return rc;
}

/* "unknown pass 'fusin'; did you mean 'fusion'?" */
static int unknown_pass(const char *name)
{
    const char *names[64];
    int n = 0;
    while (n < 64 && (names[n] = attnc_tools_pass(n, NULL)))
        n++;
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "unknown pass '%s'", name);
    cli_did_you_mean(&sb, name, names, n);
    sb_puts(&sb, " (attnc ir --list-passes lists them)");
    int rc = cli_usage_error("ir", "%s", sb.failed ? "unknown pass" : sb_cstr(&sb));
    sb_free(&sb);
    return rc;
}

static void list_passes(void)
{
    const char *name, *summary;
    for (int i = 0; (name = attnc_tools_pass(i, &summary)); i++)
        printf("%-14s %s\n", name, summary);
}

static attnc_tools_recipe *load_recipe(const char *file, int *status)
{
    attnc_tools_recipe *r;
    strbuf msg;
    sb_init(&msg);
    attnc_tools_result res = attnc_tools_recipe_read(file, &r, &msg);
    if (res == ATTNC_TOOLS_UNREADABLE)
        fprintf(stderr, "attnc ir: cannot read %s: %s\n", file, sb_cstr(&msg));
    else if (res)
        fputs(sb_cstr(&msg), stderr);
    if (res)
        *status = EXIT_USER;
    sb_free(&msg);
    return r;
}

static int lower_and_print(const attnc_tools_recipe *r, const ir_args *a, attnc_tools_arch arch)
{
    strbuf err, out;
    sb_init(&err);
    sb_init(&out);
    attnc_tools_result res = attnc_tools_ir(r, a->sched, arch, a->after, a->all, &out, &err);
    if (res)
        fprintf(stderr, "attnc ir: %s\n", sb_cstr(&err));
    else
        fputs(sb_cstr(&out), stdout);
    sb_free(&err);
    sb_free(&out);
    return res == ATTNC_TOOLS_OK ? EXIT_OK : res == ATTNC_TOOLS_USER ? EXIT_USER : EXIT_INTERNAL;
}

static int run_ir(int argc, char **argv)
{
    ir_args a = {0};
    int status = parse_args(argc, argv, &a);
    if (status)
        return status;
    if (a.list) {
        list_passes();
        return EXIT_OK;
    }
    attnc_tools_arch arch = ATTNC_TOOLS_HOST;
    if (a.arch && cli_arch("ir", a.arch, true, &arch))
        return EXIT_USER;
    if (a.after && !attnc_tools_pass_exists(a.after))
        return unknown_pass(a.after);
    if (!a.file)
        return cli_usage_error("ir", "no recipe file given");
    attnc_tools_recipe *r = load_recipe(a.file, &status);
    if (r)
        status = lower_and_print(r, &a, arch);
    attnc_tools_recipe_free(r);
    return status;
}

const cli_command cmd_ir = {
    "ir",
    "print the tile IR of a recipe (after a pass)",
    "usage: attnc ir FILE [--after PASS] [--schedule SPEC] [--arch host|sm_80|sm_90a]\n"
    "                [--print-after-all] [--list-passes]\n\n"
    "Lowers the recipe in FILE and prints its tile IR (docs/TILE_IR.md) after the\n"
    "last pass, or after PASS. --schedule overrides the recipe's `tile` section,\n"
    "e.g. \"q=8x16 kv=8x8 stages=2 warps=4\"; --arch picks the target (default host).\n"
    "--print-after-all prints the IR after every pass; --list-passes lists them.\n"
    "--arch also takes the GPU names attnc ptx --help lists.\n\n"
    "exit status: 0 ok, 1 user error, 2 internal error\n",
    run_ir,
};
