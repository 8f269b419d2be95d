/* cmd_ir.c — `attnc ir FILE [--after PASS] [--schedule SPEC] [--arch A]
 * [--print-after-all] [--list-passes]`: lower a recipe and print its tile
 * IR after the last pass (or after PASS). Exit status: 0 ok, 1 user error
 * (arguments, recipe diagnostics, illegal schedule), 2 internal error. */
#include <stdio.h>
#include <string.h>

#include "cli_arch.h"
#include "cli_opts.h"
#include "commands.h"
#include "frontend/frontend.h"
#include "passes/pipeline.h"

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
    for (const pass_info *p = pass_table(); p->name && n < 64; p++)
        names[n++] = p->name;
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
    for (const pass_info *p = pass_table(); p->name; p++)
        printf("%-14s %s\n", p->name, p->summary);
}

static const recipe *load_recipe(arena *ar, const char *file, int *status)
{
    size_t len;
    const char *why;
    char *text = frontend_read_file(ar, file, &len, &why);
    if (!text) {
        fprintf(stderr, "attnc ir: cannot read %s: %s\n", file, why);
        *status = EXIT_USER;
        return NULL;
    }
    diag_list d;
    diag_list_init(&d, ar, file, text, len);
    recipe *r = frontend_parse(ar, file, text, len, &d);
    if (!r || d.errors) {
        strbuf out;
        sb_init(&out);
        diag_render(&d, &out);
        fputs(sb_cstr(&out), stderr);
        sb_free(&out);
        *status = EXIT_USER;
        return NULL;
    }
    return r;
}

static int lower_and_print(const recipe *r, const ir_args *a, target_arch arch)
{
    schedule s, *sp = NULL;
    strbuf err, out;
    sb_init(&err);
    sb_init(&out);
    int status = EXIT_OK, nd = r->grid_ndim > 0 ? r->grid_ndim : 1;
    if (a->sched && !schedule_parse(a->sched, nd, &s, &err)) {
        fprintf(stderr, "attnc ir: --schedule: %s\n", sb_cstr(&err));
        status = EXIT_USER;
    } else if (!frontend_target_ok(r, arch, &err)) {
        fprintf(stderr, "attnc ir: %s\n", sb_cstr(&err));
        status = EXIT_USER;
    } else {
        sp = a->sched ? &s : NULL;
        schedule eff = pipeline_schedule(r, sp, arch);
        if (!schedule_check(&eff, arch, r->head_dim, dtype_size(r->qkv_dtype), &err)) {
            fprintf(stderr, "attnc ir: illegal schedule: %s\n", sb_cstr(&err));
            status = EXIT_USER;
        }
    }
    arena ar;
    arena_init(&ar, NULL);
    tir_kernel *k = status ? NULL : lower_recipe_until(&ar, r, sp, arch, a->after, a->all ? &out : NULL, &err);
    if (!status && !k) {
        fprintf(stderr, "attnc ir: internal error: %s\n", sb_cstr(&err));
        status = EXIT_INTERNAL;
    } else if (k) {
        if (!a->all)
            tir_print(&out, k);
        fputs(sb_cstr(&out), stdout);
    }
    arena_free_all(&ar);
    sb_free(&err);
    sb_free(&out);
    return status;
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
    target_arch arch = TARGET_HOST;
    if (a.arch && cli_arch("ir", a.arch, true, &arch))
        return EXIT_USER;
    if (a.after && !pass_find(a.after))
        return unknown_pass(a.after);
    if (!a.file)
        return cli_usage_error("ir", "no recipe file given");
    arena ar;
    arena_init(&ar, NULL);
    const recipe *r = load_recipe(&ar, a.file, &status);
    if (r)
        status = lower_and_print(r, &a, arch);
    arena_free_all(&ar);
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
