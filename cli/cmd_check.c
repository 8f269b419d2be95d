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
#include "frontend/forms.h"
#include "frontend/frontend.h"

static const char *param_name(void *user, int i)
{
    const recipe *r = user;
    return i >= 0 && i < r->nparams ? r->params[i].name : "?";
}

/* expr_print() knows nothing of named forms; this prints them by name. */
static void print_surface(strbuf *sb, const expr *e, const recipe *r)
{
    static const char *const forms[] = {"causal", "sliding_window", "neighborhood", "radial_token", "strided_heads",
                                        "sinks", "document", "blocks", "full", "radial"};
    if (!e || (e->kind != EX_FORM && e->kind != EX_BINARY && e->kind != EX_UNARY)) {
        expr_print(sb, e, param_name, (void *)r);
        return;
    }
    const char *head = e->kind == EX_BINARY ? expr_binop_name(e->u.binop)
                     : e->kind == EX_UNARY  ? expr_unop_name(e->u.unop)
                     : (unsigned)e->u.form < FORM_COUNT ? forms[e->u.form] : "?";
    sb_printf(sb, "(%s", head);
    for (int i = 0; i < e->nargs; i++) {
        sb_putc(sb, ' ');
        print_surface(sb, e->args[i], r);
    }
    sb_putc(sb, ')');
}

/* --dump: the typed recipe, for humans and golden tests. */
static void dump_recipe(const recipe *r)
{
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "  family %s, %s, head_dim %d/%d%s%s, grid %d\n", r->family == FAMILY_LINEAR ? "linear" : "softmax",
              dtype_name(r->qkv_dtype), r->head_dim, r->head_dim_v, r->gqa ? ", gqa" : "", r->cross ? ", cross" : "",
              r->grid_ndim);
    if (r->mask_surface) {
        sb_puts(&sb, "  mask (as written): ");
        print_surface(&sb, r->mask_surface, r);
        sb_puts(&sb, "\n  mask: ");
        expr_print(&sb, r->mask, param_name, (void *)r);
        sb_putc(&sb, '\n');
    }
    if (r->family == FAMILY_SOFTMAX) {
        sb_puts(&sb, "  score: ");
        expr_print(&sb, r->score, param_name, (void *)r);
        sb_putc(&sb, '\n');
    } else {
        const recipe_linear *L = &r->linear;
        sb_printf(&sb, "  linear: %s feature=%d decay=%d param=%d normalize=%d block=%d inter=%s\n",
                  L->causal ? "causal" : "noncausal", (int)L->feature, (int)L->decay, L->decay_param, L->normalize,
                  L->block, L->inter == INTER_STATE ? "state" : "chunked");
    }
    sb_puts(&sb, "  tile: ");
    schedule_print_for(&sb, &r->sched, r->family == FAMILY_LINEAR);
    sb_putc(&sb, '\n');
    fputs(sb_cstr(&sb), stdout);
    sb_free(&sb);
}

typedef struct check_opts {
    bool werror, dump;
    const char *arch; /* NULL: the CPU and sm_80 */
} check_opts;

/* What the recipe needs of the target: an error for the --arch given, a
 * warning when none is (the recipe may be meant for the CPU only). */
static void check_target(const recipe *r, const char *arch_name, target_arch arch, diag_list *d)
{
    src_loc loc;
    const char *why = frontend_target_problem(r, arch_name ? arch : TARGET_SM80, &loc);
    if (!why)
        return;
    if (arch_name)
        diag_error(d, loc, "write bf16 or f16", "%s (--arch %s)", why, arch_name);
    else
        diag_add(d, DIAG_WARNING, loc, "write bf16 or f16, or check with --arch host for a CPU-only recipe", "%s", why);
}

/* Checks one file; returns its exit status. */
static int check_file(const char *path, const check_opts *o, target_arch arch)
{
    arena a;
    arena_init(&a, NULL);
    size_t len = 0;
    const char *err = NULL;
    char *text = frontend_read_file(&a, path, &len, &err);
    if (!text) {
        fprintf(stderr, "%s: error: cannot read: %s\n", path, err);
        arena_free_all(&a);
        return EXIT_USER;
    }
    diag_list diags;
    diag_list_init(&diags, &a, path, text, len);
    recipe *r = frontend_parse(&a, path, text, len, &diags);
    if (r)
        check_target(r, o->arch, arch, &diags);
    strbuf out;
    sb_init(&out);
    diag_render(&diags, &out);
    fputs(sb_cstr(&out), stderr);
    int status = EXIT_OK;
    if (a.failed || out.failed)
        status = EXIT_INTERNAL;
    else if (!r || diags.errors || (o->werror && diags.warnings))
        status = EXIT_USER;
    else
    {
        printf("%s: ok (recipe %s)\n", path, r->name);
        if (o->dump)
            dump_recipe(r);
    }
    sb_free(&out);
    arena_free_all(&a);
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
    target_arch arch = (target_arch)ta;
    if (worst)
        return worst;
    for (int i = 0; i < ops.n; i++) {
        int s = check_file(files[i], &o, arch);
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
