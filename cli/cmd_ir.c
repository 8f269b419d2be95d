/* cmd_ir.c — `attnc ir FILE [--after PASS] [--schedule SPEC] [--arch A]
 * [--print-after-all] [--list-passes]`: lower a recipe and print its tile
 * IR after the last pass (or after PASS). Exit status: 0 ok, 1 user error
 * (arguments, recipe diagnostics, illegal schedule), 2 internal error. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "frontend/frontend.h"
#include "passes/pipeline.h"

typedef struct ir_args {
    const char *file, *after, *sched, *arch;
    bool all, list;
} ir_args;

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "attnc ir: ");
    fprintf(stderr, msg, arg);
    fprintf(stderr, "\n(attnc ir --help for usage)\n");
    return EXIT_USER;
}

/* Accepts "--opt VALUE" and "--opt=VALUE". */
static bool opt_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n))
        return false;
    if (argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return true;
    }
    if (argv[*i][n] != 0)
        return false;
    *out = *i + 1 < argc ? argv[++*i] : NULL;
    return true;
}

static int parse_args(int argc, char **argv, ir_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *names[] = {"--after", "--schedule", "--arch"};
        const char **dst[] = {&a->after, &a->sched, &a->arch};
        int which = -1;
        for (int j = 0; j < 3 && which < 0; j++) {
            const char *opt = argv[i];
            if (opt_value(argc, argv, &i, names[j], dst[j])) {
                which = j;
                if (!*dst[j])
                    return usage_error("%s needs a value", opt);
            }
        }
        if (which >= 0)
            continue;
        if (!strcmp(argv[i], "--print-after-all"))
            a->all = true;
        else if (!strcmp(argv[i], "--list-passes"))
            a->list = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return usage_error("unknown option '%s'", argv[i]);
        else if (a->file)
            return usage_error("one recipe file at a time ('%s')", argv[i]);
        else
            a->file = argv[i];
    }
    return EXIT_OK;
}

static void list_passes(void)
{
    for (const pass_info *p = pass_table(); p->name; p++)
        printf("%-14s %s\n", p->name, p->summary);
}

static bool parse_arch(const char *s, target_arch *out)
{
    static const char *names[] = {"host", "sm_80", "sm_90a"};
    for (int i = 0; i < 3; i++)
        if (!s || !strcmp(s, names[i])) {
            *out = (target_arch)i;
            return true;
        }
    return false;
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
    target_arch arch;
    if (!parse_arch(a.arch, &arch))
        return usage_error("unknown --arch '%s' (host, sm_80, sm_90a)", a.arch);
    if (a.after && !pass_find(a.after))
        return usage_error("unknown pass '%s' (attnc ir --list-passes)", a.after);
    if (!a.file)
        return usage_error("%s", "a recipe file is needed");
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
    "--print-after-all prints the IR after every pass; --list-passes lists them.\n\n"
    "exit status: 0 ok, 1 user error, 2 internal error\n",
    run_ir,
};
