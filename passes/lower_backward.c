/* lower_backward.c — the backward program's driver: the recipe-level check,
 * which params get gradients, the family lowering, then every pass of the
 * forward table after `lower` on each kernel (fusion leaves backward
 * kernels in natural base), and the verifier. See lower_backward.h. */
#include "lower_backward.h"

#include <stdlib.h>
#include <string.h>

#include "../frontend/differentiable.h"
#include "../ir/expr_diff.h"
#include "pipeline.h"

bool backward_check(arena *a, const recipe *r, strbuf *why)
{
    diag_list d;
    diag_list_init(&d, a, r->file ? r->file : "<recipe>", NULL, 0);
    if (recipe_check_differentiable(r, &d))
        return true;
    diag_render(&d, why);
    if (!why->len)
        sb_puts(why, a->failed ? "out of memory" : "the score has no gradient for the backward pass");
    return false;
}

bool backward_decay_grad(const recipe *r)
{
    const recipe_linear *lin = &r->linear;
    return r->family == FAMILY_LINEAR && lin->causal && lin->decay != DECAY_NONE && lin->decay_param >= 0 &&
           lin->decay_param < r->nparams && !r->params[lin->decay_param].no_grad;
}

int backward_param_sites(arena *a, const recipe *r, expr_param_site **out, strbuf *err)
{
    int n = expr_param_sites(a, r->score, out, err), kept = 0;
    for (int i = 0; i < n; i++) {
        int p = (*out)[i].param;
        if (p >= 0 && p < r->nparams && r->params[p].no_grad)
            continue;
        (*out)[kept++] = (*out)[i];
    }
    return n < 0 ? n : kept;
}

/* The param of r named by the len bytes at s, or -1. */
static int param_named(const recipe *r, const char *s, size_t len)
{
    for (int p = 0; p < r->nparams; p++)
        if (strlen(r->params[p].name) == len && !strncmp(r->params[p].name, s, len))
            return p;
    return -1;
}

bool backward_mark_no_grad(recipe *r, const char *names, strbuf *err)
{
    for (int pass = 0; pass < 2; pass++) /* check every name, then mark */
        for (const char *s = names; s && *s;) {
            size_t len = strcspn(s, ",");
            int p = param_named(r, s, len);
            if (p < 0) {
                sb_printf(err, "no_grad: recipe '%s' has no param '%.*s'", r->name, (int)(len > 64 ? 64 : len), s);
                for (int i = 0; i < r->nparams; i++)
                    sb_printf(err, "%s%s", i ? ", " : " (its params: ", r->params[i].name);
                sb_puts(err, r->nparams ? "); write param names separated by commas, e.g. \"decay\""
                                        : " (it has no params)");
                return false;
            }
            if (pass)
                r->params[p].no_grad = true;
            s += len + (s[len] == ',');
        }
    return true;
}

bool backward_recipe_no_grad(const recipe *r, const char *names, recipe *out, recipe_param **owned, strbuf *err)
{
    *out = *r;
    *owned = NULL;
    if (names && *names && r->nparams) {
        if (!(*owned = malloc(sizeof **owned * (size_t)r->nparams))) {
            sb_puts(err, "out of memory");
            return false;
        }
        memcpy(*owned, r->params, sizeof **owned * (size_t)r->nparams);
        out->params = *owned;
    }
    if (backward_mark_no_grad(out, names, err))
        return true;
    free(*owned);
    *owned = NULL;
    return false;
}

int backward_grad_params(arena *a, const recipe *r, bool *grad)
{
    for (int p = 0; p < r->nparams; p++)
        grad[p] = false;
    if (r->family == FAMILY_LINEAR) {
        bool has = backward_decay_grad(r);
        if (has)
            grad[r->linear.decay_param] = true;
        return has;
    }
    strbuf why;
    sb_init(&why);
    expr_param_site *sites = NULL;
    int n = backward_param_sites(a, r, &sites, &why);
    sb_free(&why);
    int count = 0;
    for (int i = 0; i < n; i++)
        if (sites[i].param >= 0 && sites[i].param < r->nparams && !grad[sites[i].param]) {
            grad[sites[i].param] = true;
            count++;
        }
    return count;
}

/* Every pass after `lower`, in table order, then the verifier. */
static bool run_passes(tir_kernel *k, const recipe *r, strbuf *err)
{
    for (const pass_info *p = pass_table(); p->name; p++) {
        if (!strcmp(p->name, "lower"))
            continue;
        if (!p->run(k, r, err))
            return false;
        if (k->arena->failed) {
            sb_printf(err, "out of memory in pass %s", p->name);
            return false;
        }
    }
    strbuf why;
    sb_init(&why);
    bool ok = tir_verify(k, &why);
    if (!ok)
        sb_printf(err, "internal: the backward kernel %s is invalid: %s", k->name, sb_cstr(&why));
    sb_free(&why);
    return ok;
}

bool lower_backward(arena *a, const recipe *r, const schedule *s, target_arch arch, tir_program *out, strbuf *err)
{
    memset(out, 0, sizeof *out);
    if (!backward_check(a, r, err))
        return false;
    schedule sched = pipeline_schedule(r, s, arch);
    int nd = r->grid_ndim > 0 ? r->grid_ndim : 1;
    if (sched.ndims != nd) {
        sb_printf(err, "schedule has %d tile dims but the recipe's token grid has %d", sched.ndims, nd);
        return false;
    }
    strbuf why;
    sb_init(&why);
    bool legal = schedule_check(&sched, arch, r->head_dim, dtype_size(r->qkv_dtype), &why);
    if (!legal)
        sb_printf(err, "illegal schedule: %s", sb_cstr(&why));
    sb_free(&why);
    if (!legal)
        return false;
    bool ok = r->family == FAMILY_LINEAR ? lower_linear_bwd(a, r, &sched, out, err)
                                         : lower_softmax_bwd(a, r, &sched, out, err);
    for (int i = 0; ok && i < out->nkernels; i++) {
        out->kernels[i]->arch = arch;
        ok = run_passes(out->kernels[i], r, err);
    }
    return ok;
}
