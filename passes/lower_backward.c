/* lower_backward.c — the backward program's driver: the recipe-level check,
 * which params get gradients, the family lowering, then every pass of the
 * forward table after `lower` on each kernel (fusion leaves backward
 * kernels in natural base), and the verifier. See lower_backward.h. */
#include "lower_backward.h"

#include <string.h>

#include "bwd_diff.h"
#include "pipeline.h"

bool backward_check(arena *a, const recipe *r, strbuf *why)
{
    if (r->family == FAMILY_LINEAR)
        return true;
    strbuf reason;
    sb_init(&reason);
    expr_param_site *sites = NULL;
    bool ok = expr_diff_score(a, r->score, &reason) != NULL;
    ok = ok && expr_param_sites(a, r->score, &sites, &reason) >= 0;
    if (!ok && !a->failed)
        sb_printf(why,
                  "%s:%d:%d: error: %s\n  hint: the backward differentiates the score in s and in the float params "
                  "it reads; write it with + - * /, exp, log, tanh, sqrt, abs, min, max, select and softcap of s\n",
                  r->file ? r->file : "<recipe>", r->score_loc.line, r->score_loc.col,
                  reason.len ? sb_cstr(&reason) : "the score is not differentiable");
    else if (!ok)
        sb_puts(why, "out of memory");
    sb_free(&reason);
    return ok;
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
