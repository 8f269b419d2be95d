/* lower_backward.c — the backward program's driver: the recipe-level check,
 * which params get gradients, the family lowering, then every pass of the
 * forward table after `lower` on each kernel (fusion leaves backward
 * kernels in natural base), and the verifier. See lower_backward.h. */
#include "lower_backward.h"

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

int backward_grad_params(arena *a, const recipe *r, bool *grad)
{
    for (int p = 0; p < r->nparams; p++)
        grad[p] = false;
    if (r->family == FAMILY_LINEAR) {
        const recipe_linear *lin = &r->linear;
        bool has = lin->causal && lin->decay != DECAY_NONE && lin->decay_param >= 0 && lin->decay_param < r->nparams;
        if (has)
            grad[lin->decay_param] = true;
        return has;
    }
    strbuf why;
    sb_init(&why);
    expr_param_site *sites = NULL;
    int n = expr_param_sites(a, r->score, &sites, &why);
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
