/* run_grad.c — `attnc run FILE --grad [--check]`: builds the forward and
 * the backward kernel of a recipe, runs both on random inputs of the shape
 * `attnc run` uses (inputs uniform in [-2, 2), dO in [-1, 1), seeded; the
 * backward reads the forward's O and LSE), and with --check compares dq,
 * dk, dv and every param gradient with the fp64 reference (relative L2
 * under the dtype's gradient tolerance, NaN never passes, rows of masked
 * queries and keys no query sees exactly 0). See run_grad.h. */
#include "run_grad.h"

#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "passes/lower_backward.h"
#include "reference/ref_bwd_check.h"

static int exit_for(attnc_status st)
{
    return st == ATTNC_ERR_RECIPE || st == ATTNC_ERR_INVALID_ARGUMENT || st == ATTNC_ERR_UNSUPPORTED ? EXIT_USER
                                                                                                    : EXIT_INTERNAL;
}

static attnc_status build(attnc_context *ctx, attnc_recipe *rc, const run_grad_opts *o, attnc_kernel **fwd,
                          attnc_kernel **bwd)
{
    attnc_build_options bo = ATTNC_BUILD_OPTIONS_INIT;
    bo.backend = o->backend;
    bo.schedule = o->schedule;
    bo.flags = ATTNC_BUILD_DETERMINISTIC;
    bo.no_grad = o->no_grad;
    attnc_status st = attnc_kernel_build_backward(bwd, ctx, rc, &bo); /* first: its refusals say the most */
    return st ? st : attnc_kernel_build(fwd, ctx, rc, &bo);
}

static int report(const ref_bwd_result *res, bool check)
{
    printf("forward ran in %.2f ms, backward in %.2f ms\n", res->fwd_ms, res->bwd_ms);
    if (!check)
        return EXIT_OK;
    for (int i = 0; i < res->ngrads; i++) {
        const ref_grad_result *g = &res->grads[i];
        printf("check %-6s max abs %.3g, rel L2 %.3g%s%s%s\n", g->name, g->cmp.max_abs, g->cmp.rel_l2,
               g->by_terms ? " (of its terms' scale: the exact gradient cancels)" : "",
               g->cmp.nan_count ? " (NaN/inf in the output)" : "",
               g->nonzero_at_zero ? " (not 0 where the reference is 0)" : "");
    }
    printf("%s (tolerance %.0e)\n", res->ok ? "OK" : "MISMATCH", res->tol);
    if (!res->ok)
        fprintf(stderr, "attnc run: %s\n", res->msg);
    return res->ok ? EXIT_OK : EXIT_USER;
}

int run_grad(attnc_context *ctx, attnc_recipe *rc, const recipe *r0, const ref_shape *sh, const run_grad_opts *o)
{
    attnc_kernel *fwd = NULL, *bwd = NULL;
    attnc_status st = build(ctx, rc, o, &fwd, &bwd);
    if (st) {
        fprintf(stderr, "%s\n", attnc_context_errmsg(ctx));
        attnc_kernel_destroy(bwd);
        return exit_for(st);
    }
    /* the reference checks the gradients the kernel computes: the params the
     * build held constant (its names were checked) marked on a copy */
    recipe rcopy, *r = &rcopy;
    recipe_param *pc;
    strbuf nerr;
    sb_init(&nerr);
    bool copied = backward_recipe_no_grad(r0, o->no_grad, &rcopy, &pc, &nerr);
    sb_free(&nerr);
    if (!copied) {
        attnc_kernel_destroy(fwd);
        attnc_kernel_destroy(bwd);
        return EXIT_INTERNAL;
    }
    printf("backward of %s: schedule %s\n", r->name, attnc_kernel_schedule(bwd));
    ref_check_opts co = {.seed = o->seed, .check = o->check, .set_param = o->set_param,
                         .set_param_user = o->set_param_user, .mem = o->mem};
    ref_bwd_result res;
    ref_check_backward(fwd, bwd, r, sh, &co, &res, NULL);
    int code;
    if (!res.launched) {
        fprintf(stderr, "attnc run: %s\n", res.msg);
        code = res.status ? exit_for(res.status) : EXIT_INTERNAL;
    } else {
        code = report(&res, o->check);
    }
    attnc_kernel_destroy(fwd);
    attnc_kernel_destroy(bwd);
    free(pc);
    return code;
}
