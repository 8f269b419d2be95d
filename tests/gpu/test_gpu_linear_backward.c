/* test_gpu_linear_backward.c — the linear family's backward on the CUDA
 * backend (codegen/nvptx_linear_bwd.c: dq, dk, dv as inter=chain scans,
 * the gate's gradient from block boundaries; the default on CUDA) against the
 * fp64 reference gradients (tests/reference, ref_check_backward with device
 * memory: fresh random inputs, NaN-poisoned dq/dk/dv/d<param>, every
 * gradient compared). Cases: lightning2 (per-head decay λ, dλ) and
 * gated_linear (per-token log gates, dgate), token counts that divide no
 * block (1, 47, ...), several heads and batches, 1 head (16 chained
 * segments), 144 heads (one segment), decays near 0 and near 1, and
 * N = 65536 with λ near 1; and the decay or gate held constant
 * (attnc_build_options.no_grad: no gate kernel, no stored states; on
 * sm_90a the fused dK/dV scan, which only then applies; under
 * ATTNC_BWD_LINEAR_FUSED=0 the three scans).
 * One line per case.
 * Shapes kept small enough that the host's fp64 reference leaves the
 * whole program under a minute. ATTNC_TEST_SMALL=1: no case above 5000 tokens. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_case.h"
#include "passes/lower_backward.h"
#include "reference/ref_bwd_check.h"
#include "runtime/api/api_internal.h"
#include "source_tree.h"

static strbuf dev_err;
static ref_mem_ops dev; /* gpu_ref_mem(&dev_err), set in main */

typedef struct lcase {
    const char *file;
    int batch, heads, tokens;
    double lo, hi; /* λ range (per token: gate = ln λ) */
    const char *what;
    const char *no_grad; /* attnc_build_options.no_grad, or NULL */
} lcase;

static const lcase cases[] = {
    {"lightning2.attn", 2, 3, 1000, 0.5, 1.0, "decay 0.5..1", NULL},
    {"lightning2.attn", 1, 2, 1, 0.9, 1.0, "one token", NULL},
    {"lightning2.attn", 1, 2, 47, 0.9, 1.0, "47 tokens", NULL},
    {"lightning2.attn", 2, 3, 777, 1e-3, 0.05, "decay ~0", NULL},
    {"lightning2.attn", 1, 16, 1601, 0.99, 1.0, "16 heads: 8 segs", NULL},
    {"lightning2.attn", 1, 1, 5000, 0.999, 1.0, "1 head: 16 segs", NULL},
    {"lightning2.attn", 3, 48, 130, 0.9, 1.0, "144 heads", NULL},
    {"lightning2.attn", 1, 1, 65536, 0.9999, 1.0, "N=64K ~1", NULL},
    {"gated_linear.attn", 2, 3, 1000, 0.5, 1.0, "gate 0.5..1", NULL},
    {"gated_linear.attn", 1, 2, 1, 0.9, 1.0, "one token", NULL},
    {"gated_linear.attn", 1, 2, 47, 0.9, 1.0, "47 tokens", NULL},
    {"gated_linear.attn", 2, 3, 777, 1e-3, 0.05, "gate ~0", NULL},
    {"gated_linear.attn", 1, 16, 1601, 0.99, 1.0, "16 heads: 8 segs", NULL},
    {"gated_linear.attn", 1, 1, 5000, 0.999, 1.0, "1 head: 16 segs", NULL},
    {"gated_linear.attn", 3, 48, 130, 0.9, 1.0, "144 heads", NULL},
    {"gated_linear.attn", 1, 1, 65536, 0.9999, 1.0, "N=64K ~1", NULL},
    {"gated_linear.attn", 1, 1, 65536, 0.3, 1.0, "N=64K 0.3..1", NULL},
    {"lightning2.attn", 2, 3, 1000, 0.5, 1.0, "decay fixed", "decay"},
    {"lightning2.attn", 1, 2, 47, 0.9, 1.0, "47 fixed", "decay"},
    {"lightning2.attn", 1, 16, 1601, 0.99, 1.0, "16 heads fixed", "decay"},
    {"lightning2.attn", 1, 1, 65536, 0.9999, 1.0, "N=64K fixed", "decay"},
    {"gated_linear.attn", 2, 3, 1000, 0.5, 1.0, "gate fixed", "gate"},
    {"gated_linear.attn", 1, 1, 5000, 0.999, 1.0, "1 head fixed", "gate"},
};

typedef struct fill_ctx {
    const lcase *c;
    const recipe *r;
    uint64_t state;
} fill_ctx;

static double uniform(fill_ctx *f)
{
    f->state = f->state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(f->state >> 11) / 9007199254740992.0;
}

/* The decay param: λ in [lo, hi] per element (per-token gates: ln λ). */
static void fill(void *user, int param, void *data, size_t n, dtype dt)
{
    fill_ctx *f = user;
    assert_int_equal(dt, DT_F32);
    bool gate = param == f->r->linear.decay_param && f->r->linear.decay == DECAY_PER_TOKEN;
    float *v = data;
    for (size_t i = 0; i < n; i++) {
        double lam = f->c->lo + (f->c->hi - f->c->lo) * uniform(f);
        v[i] = (float)(gate ? log(lam) : lam);
    }
}

static bool small(void)
{
    const char *e = getenv("ATTNC_TEST_SMALL");
    return e && e[0] && strcmp(e, "0");
}

static int run_case(attnc_context *ctx, const lcase *c, uint64_t seed)
{
    char path[512];
    snprintf(path, sizeof path, "%s/recipes/%s", test_source_dir(), c->file);
    attnc_recipe *rc;
    if (attnc_recipe_from_file(&rc, ctx, path)) {
        printf("[FAIL] %s: %s\n", c->file, attnc_context_errmsg(ctx));
        return 1;
    }
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.backend = ATTNC_BACKEND_CUDA;
    o.no_grad = c->no_grad;
    /* the reference's copy marks the constant param too: its gradient is not compared */
    recipe r;
    recipe_param *params;
    strbuf err;
    sb_init(&err);
    assert_true(backward_recipe_no_grad(rc->r, c->no_grad, &r, &params, &err));
    sb_free(&err);
    attnc_kernel *fwd = NULL, *bwd = NULL;
    attnc_status st = attnc_kernel_build_backward(&bwd, ctx, rc, &o);
    if (!st)
        st = attnc_kernel_build(&fwd, ctx, rc, &o);
    if (st) {
        printf("[FAIL] %s %s: build: %s\n", c->file, c->what, attnc_context_errmsg(ctx));
        attnc_kernel_destroy(bwd);
        attnc_recipe_destroy(rc);
        free(params);
        return 1;
    }
    ref_shape sh = {.batch = c->batch, .heads = c->heads, .tokens = c->tokens};
    ref_check_opts co = {.seed = seed, .check = true, .mem = &dev};
    fill_ctx f = {c, &r, seed * 2 + 1};
    ref_bwd_result res;
    bool ok = ref_check_backward_fill(fwd, bwd, &r, &sh, &co, fill, &f, &res);
    printf("[%s] %-18s B=%d H=%-2d N=%-6d %-16s bwd %.3f ms [%s]: %s\n", ok ? "PASS" : "FAIL", c->file, c->batch,
           c->heads, c->tokens, c->what, res.bwd_ms, attnc_kernel_schedule(bwd), res.msg);
    for (int i = 0; i < res.ngrads; i++)
        printf("    %-8s rel_l2 %.2e max_abs %.2e nan %zu %s\n", res.grads[i].name, res.grads[i].cmp.rel_l2,
               res.grads[i].cmp.max_abs, res.grads[i].cmp.nan_count, res.grads[i].ok ? "ok" : "FAIL");
    fflush(stdout);
    attnc_kernel_destroy(fwd);
    attnc_kernel_destroy(bwd);
    attnc_recipe_destroy(rc);
    free(params);
    return !ok;
}

static void test_cases(void **state)
{
    (void)state;
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    const char *only = getenv("ATTNC_TEST_RECIPE");
    int fails = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if ((small() && cases[i].tokens > 5000) || (only && !strstr(cases[i].file, only)))
            continue;
        fails += run_case(ctx, &cases[i], 9700 + i);
    }
    attnc_context_destroy(ctx);
    assert_int_equal(fails, 0);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    unsetenv("ATTNC_BWD_LINEAR"); /* the default */
    sb_init(&dev_err);
    dev = gpu_ref_mem(&dev_err);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cases)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
