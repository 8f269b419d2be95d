/* tools_check.c — `attnc check` for attnc's tools (include/attnc_tools.h):
 * parse and check one recipe with its target's needs, and the typed recipe
 * printed for --dump. */
#include "runtime/include/attnc_tools.h"

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
static void dump_recipe(strbuf *out, const recipe *r)
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
    sb_puts(out, sb_cstr(&sb));
    sb_free(&sb);
}

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

attnc_tools_result attnc_tools_check(const char *path, const char *arch_name, attnc_tools_arch arch, strbuf *diags,
                                     strbuf *dump, attnc_tools_checked *out)
{
    *out = (attnc_tools_checked){0};
    arena a;
    arena_init(&a, NULL);
    size_t len = 0;
    const char *why = NULL;
    char *text = frontend_read_file(&a, path, &len, &why);
    if (!text) {
        sb_puts(diags, why ? why : "?");
        arena_free_all(&a);
        return ATTNC_TOOLS_UNREADABLE;
    }
    diag_list d;
    diag_list_init(&d, &a, path, text, len);
    recipe *r = frontend_parse(&a, path, text, len, &d);
    if (r)
        check_target(r, arch_name, (target_arch)arch, &d);
    diag_render(&d, diags);
    out->parsed = r != NULL;
    out->errors = d.errors;
    out->warnings = d.warnings;
    if (r) {
        sb_puts(&out->name, r->name);
        if (dump)
            dump_recipe(dump, r);
    }
    bool failed = a.failed || diags->failed;
    arena_free_all(&a);
    return failed ? ATTNC_TOOLS_INTERNAL : ATTNC_TOOLS_OK;
}
