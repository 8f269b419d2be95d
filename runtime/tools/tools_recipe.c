/* tools_recipe.c — code targets, recipes and their tile IR for attnc's
 * tools (include/attnc_tools.h), over the front end and the pass table. */
#include "runtime/include/attnc_tools.h"

#include <stdlib.h>

#include "codegen/nvptx_kernel.h"
#include "frontend/frontend.h"
#include "passes/pipeline.h"
#include "runtime/compile/compile_job.h"
#include "runtime/tools/tools_impl.h"

_Static_assert((int)ATTNC_TOOLS_HOST == (int)TARGET_HOST && (int)ATTNC_TOOLS_SM80 == (int)TARGET_SM80 &&
                   (int)ATTNC_TOOLS_SM90A == (int)TARGET_SM90A,
               "attnc_tools_arch mirrors target_arch");

const recipe *tools_recipe_of(const attnc_tools_recipe *r)
{
    return r->r;
}

bool attnc_tools_arch_parse(const char *name, attnc_tools_arch *out)
{
    target_arch t;
    if (!nvptx_arch_parse(name, &t))
        return false;
    *out = (attnc_tools_arch)t;
    return true;
}

const char *attnc_tools_arch_name(attnc_tools_arch arch)
{
    return nvptx_arch_name((target_arch)arch);
}

int attnc_tools_arch_names(const char **names, int cap)
{
    return nvptx_arch_names(names, cap);
}

void attnc_tools_arch_list(strbuf *sb)
{
    nvptx_arch_list(sb);
}

attnc_tools_result attnc_tools_recipe_read(const char *path, attnc_tools_recipe **out, strbuf *msg)
{
    *out = NULL;
    attnc_tools_recipe *t = calloc(1, sizeof *t);
    if (!t)
        return ATTNC_TOOLS_INTERNAL;
    arena_init(&t->a, NULL);
    size_t len;
    const char *why = NULL;
    char *text = frontend_read_file(&t->a, path, &len, &why);
    if (!text) {
        sb_puts(msg, why ? why : "?");
        attnc_tools_recipe_free(t);
        return ATTNC_TOOLS_UNREADABLE;
    }
    diag_list d;
    diag_list_init(&d, &t->a, path, text, len);
    t->r = frontend_parse(&t->a, path, text, len, &d);
    if (!t->r || d.errors) {
        diag_render(&d, msg);
        attnc_tools_recipe_free(t);
        return ATTNC_TOOLS_USER;
    }
    t->text = text;
    t->len = len;
    *out = t;
    return ATTNC_TOOLS_OK;
}

void attnc_tools_recipe_free(attnc_tools_recipe *r)
{
    if (!r)
        return;
    arena_free_all(&r->a);
    free(r);
}

const char *attnc_tools_pass(int i, const char **summary)
{
    const pass_info *p = pass_table();
    for (int j = 0; j < i && p->name; j++)
        p++;
    if (summary)
        *summary = p->summary;
    return p->name;
}

bool attnc_tools_pass_exists(const char *name)
{
    return pass_find(name) != NULL;
}

/* The schedule the IR is lowered under: the compile job's (the one the
 * arch's kernels are built with), legal for arch; why (one line, with its
 * prefix) goes to err. */
static attnc_tools_result resolve_schedule(const recipe *r, const char *text, target_arch arch, schedule *s,
                                           strbuf *err)
{
    compile_job j;
    compile_job_init(&j, r, arch);
    j.schedule_text = text;
    job_status st = compile_job_schedule(&j);
    if (st)
        sb_printf(err, "%s%s", j.failed == JOB_STEP_PARSE ? "--schedule: " : "", sb_cstr(&j.err));
    else
        *s = j.sched;
    compile_job_free(&j);
    return st == JOB_OK ? ATTNC_TOOLS_OK : st == JOB_NOMEM ? ATTNC_TOOLS_INTERNAL : ATTNC_TOOLS_USER;
}

attnc_tools_result attnc_tools_ir(const attnc_tools_recipe *tr, const char *sched, attnc_tools_arch arch,
                                  const char *after, bool all, strbuf *out, strbuf *err)
{
    schedule s;
    target_arch ta = (target_arch)arch;
    attnc_tools_result res = resolve_schedule(tr->r, sched, ta, &s, err);
    if (res)
        return res;
    arena ar;
    arena_init(&ar, NULL);
    strbuf why;
    sb_init(&why);
    tir_kernel *k = lower_recipe_until(&ar, tr->r, &s, ta, after, all ? out : NULL, &why);
    if (!k) {
        sb_printf(err, "internal error: %s", sb_cstr(&why));
        res = ATTNC_TOOLS_INTERNAL;
    } else if (!all) {
        tir_print(out, k);
    }
    sb_free(&why);
    arena_free_all(&ar);
    return res;
}
