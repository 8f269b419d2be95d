/* test_grads.c — `test_numeric_grads NAME [--slow]`: the backward of
 * recipes/NAME.attn on the CPU backend under each case of its numeric plan
 * (numeric_plan.c: shapes that do not divide the tiles, GQA, a BSHD layout,
 * bf16/f16/f32, other schedules) plus one-token sequences, each checked
 * against the fp64 reference gradients (dq, dk, dv and every param
 * gradient); f32 param gradients also against central finite differences
 * of the reference forward. `test_numeric_grads --extra` runs recipes
 * written here for what the library lacks: cross attention with a full
 * additive bias, rows with every key masked, ALiBi slopes and a scalar
 * given as params, union masks (the dK/dV loop over the transposed
 * parts), linear attention with GQA and relu, non-causal. `test_numeric_grads --long`: linear attention at
 * N = 65536 with decays near 1 (and gates strong enough to underflow).
 * Prints one line per case; exits 1 when any fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numeric_plan.h"
#include "passes/lower_backward.h"
#include "passes/pipeline.h"
#include "reference/ref_bwd_check.h"
#include "runtime/api/api_internal.h"
#include "runtime/api/api_typed.h"

enum { FD_MAX_ELEMS = 400 };

static bool small_params(const recipe *r, const ref_shape *sh)
{
    int64_t sz[SZ_MAX];
    ref_shape_sizes(r, sh, sz);
    int64_t total = 0;
    for (int p = 0; p < r->nparams; p++) {
        int64_t n = 1;
        for (int d = 0; d < r->params[p].ndim; d++)
            n *= r->params[p].const_dims[d] > 0 ? r->params[p].const_dims[d] : sz[r->params[p].dims[d]];
        total += n;
    }
    return total <= FD_MAX_ELEMS && sz[SZ_TOKENS] <= 400;
}

static void print_case(const char *name, int idx, const recipe *r, const ref_shape *sh, const char *sched, int seed,
                       bool pass, const char *msg)
{
    printf("[%s] %s case %d: %s b=%lld h=%lld kvh=%lld t=%lld kvt=%lld grid=%lldx%lldx%lld%s [%s] seed %d: %s\n",
           pass ? "PASS" : "FAIL", name, idx, dtype_name(r->qkv_dtype), (long long)sh->batch, (long long)sh->heads,
           (long long)(sh->kv_heads ? sh->kv_heads : sh->heads), (long long)sh->tokens, (long long)sh->kv_tokens,
           (long long)sh->grid[0], (long long)sh->grid[1], (long long)sh->grid[2], sh->bshd ? " bshd" : "", sched,
           seed, msg);
}

/* no_grad: params the backward holds constant (attnc_build_options.no_grad):
 * marked on the reference's copy too, so their gradients are not compared. */
static bool run_case(attnc_context *ctx, const char *name, const recipe *base, const numeric_case *c, int idx,
                     const char *no_grad)
{
    recipe r;
    recipe_param *params;
    strbuf err;
    sb_init(&err);
    bool known = backward_recipe_no_grad(base, no_grad, &r, &params, &err);
    sb_free(&err);
    if (!known) {
        printf("[FAIL] %s case %d: --no-grad %s names no param\n", name, idx, no_grad);
        return false;
    }
    r.qkv_dtype = c->dt;
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.schedule = c->schedule;
    o.flags = ATTNC_BUILD_DETERMINISTIC;
    o.no_grad = no_grad;
    attnc_kernel *fwd = NULL, *bwd = NULL; /* the dtype is the recipe's: build from the typed copy */
    attnc_status st = kernel_build_kind(&fwd, ctx, &r, NULL, &o, lower_recipe, false);
    if (!st)
        st = kernel_build_kind(&bwd, ctx, &r, NULL, &o, lower_recipe, true);
    if (st) {
        printf("[FAIL] %s case %d (%s, %s): build: %s\n", name, idx, dtype_name(c->dt),
               c->schedule ? c->schedule : "recipe schedule", attnc_context_errmsg(ctx));
        attnc_kernel_destroy(fwd);
        free(params);
        return false;
    }
    bool ok = true;
    int seeds = idx == 0 ? 2 : 1;
    for (int s = 0; s < seeds; s++) {
        ref_check_opts co = {.seed = (uint64_t)(7000 + 100 * idx + s), .check = true};
        ref_bwd_result res;
        ref_bwd_data *data = NULL;
        bool fd = c->dt == DT_F32 && small_params(&r, &c->shape);
        bool pass = ref_check_backward(fwd, bwd, &r, &c->shape, &co, &res, fd ? &data : NULL);
        char msg[1400];
        snprintf(msg, sizeof msg, "%s", res.msg);
        if (pass && data) {
            char fdmsg[256];
            pass = ref_check_param_fd(data, 2e-3, fdmsg, sizeof fdmsg);
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "; %s", fdmsg);
        }
        ref_bwd_data_free(data);
        if (no_grad)
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "; no_grad %s", no_grad);
        print_case(name, idx, &r, &c->shape, attnc_kernel_schedule(bwd), s, pass, msg);
        ok &= pass;
    }
    attnc_kernel_destroy(fwd);
    attnc_kernel_destroy(bwd);
    free(params);
    return ok;
}

/* One-token sequences (recipes without a window that needs more; not for
 * normalised linear attention, whose output is then v itself: its dq and
 * dk are 0 by cancellation, and the reference's are rounding noise). */
static int extra_cases(const recipe *r, numeric_case *c, int n)
{
    int64_t mins[3];
    ref_min_extents(r, mins);
    bool normalised = r->family == FAMILY_LINEAR && r->linear.normalize;
    if (n >= PLAN_MAX || mins[0] > 1 || r->grid_ndim > 0 || normalised)
        return n;
    numeric_case one = c[0];
    one.shape.tokens = 1;
    one.shape.kv_tokens = r->cross ? 3 : 0;
    one.shape.bshd = false;
    c[n++] = one;
    return n;
}

static int run_recipe(attnc_context *ctx, const char *name, const recipe *r, bool slow)
{
    numeric_case cases[PLAN_MAX];
    int n = numeric_plan(name, r, slow, cases);
    if (!slow)
        n = extra_cases(r, cases, n);
    int failed = 0;
    for (int i = 0; i < n; i++)
        failed += !run_case(ctx, name, r, &cases[i], i, NULL);
    printf("%s: %d of %d gradient cases passed\n", name, n - failed, n);
    return failed;
}

/* Recipes for what the library has none of. */
static const char *const extra_recipes[][2] = {
    {"cross_bias", "recipe cross_bias\n"
                   "input q : f32 [batch, heads, tokens, 32]\n"
                   "input k, v : f32 [batch, heads, kv_tokens, 32]\n"
                   "param bias : f32 [heads, tokens, kv_tokens]\n"
                   "score s * scale + bias[head, q.t, k.t]\n"},
    {"strict_causal_softcap", "recipe strict_causal_softcap\n"
                              "input q, k, v : f32 [batch, heads, tokens, 64]\n"
                              "mask k.t < q.t\n"
                              "score softcap(s * scale, 5.0)\n"},
    {"alibi_param", "recipe alibi_param\n"
                    "input q : bf16 [batch, heads, tokens, 64]\n"
                    "input k, v : bf16 [batch, kv_heads, tokens, 64]\n"
                    "param slope : f32 [heads]\n"
                    "mask causal\n"
                    "score s * scale - slope[head] * float(q.t - k.t)\n"},
    {"linear_gqa_relu", "recipe linear_gqa_relu\n"
                        "input q : f32 [batch, heads, tokens, 32]\n"
                        "input k : f32 [batch, kv_heads, tokens, 32]\n"
                        "input v : f32 [batch, kv_heads, tokens, 16]\n"
                        "param decay : f32 [heads]\n"
                        "linear {\n  causal\n  feature relu\n  decay decay[head]\n  split block 16\n}\n"},
    {"linear_noncausal", "recipe linear_noncausal\n"
                         "input q, k, v : bf16 [batch, heads, tokens, 32]\n"
                         "linear {\n  noncausal\n}\n"},
    /* unions (the backward walks the transposed parts of the q range):
     * causal sinks || window, sinks spanning a partial tile, without
     * causal (an inverse q range), rows without keys */
    {"union_causal", "recipe union_causal\n"
                     "input q, k, v : bf16 [batch, heads, tokens, 64]\n"
                     "mask causal && (sinks(4) || sliding_window(20, 0))\n"},
    {"union_wide_sinks", "recipe union_wide_sinks\n"
                         "input q : f32 [batch, heads, tokens, 32]\n"
                         "input k, v : f32 [batch, kv_heads, tokens, 32]\n"
                         "mask causal && (sinks(19) || sliding_window(9, 0) || (k.t >= 40 && k.t < 44))\n"},
    {"union_both_sides", "recipe union_both_sides\n"
                         "input q, k, v : f32 [batch, heads, tokens, 32]\n"
                         "mask sinks(5) || sliding_window(10, 7)\n"},
    {"union_rows_without_keys", "recipe union_rows_without_keys\n"
                                "input q, k, v : f32 [batch, heads, tokens, 32]\n"
                                "mask (k.t < 4 && q.t >= 50) || (k.t >= q.t + 70 && k.t < q.t + 75)\n"},
    {"scalar_param", "recipe scalar_param\n"
                     "input q, k, v : f16 [batch, heads, tokens, 64]\n"
                     "param c : f32\n"
                     "mask sliding_window(20, 3)\n"
                     "score c * tanh(s * scale) + 0.5 * s * scale\n"},
};

static int run_extras(attnc_context *ctx, bool slow)
{
    int failed = 0;
    for (size_t i = 0; i < sizeof extra_recipes / sizeof *extra_recipes; i++) {
        const char *name = extra_recipes[i][0], *text = extra_recipes[i][1];
        attnc_recipe *rc;
        if (attnc_recipe_from_text(&rc, ctx, name, text, strlen(text))) {
            printf("[FAIL] %s: %s\n", name, attnc_context_errmsg(ctx));
            failed++;
            continue;
        }
        const recipe *r = attnc_recipe_typed(rc);
        failed += run_recipe(ctx, name, r, slow);
        if (!strcmp(name, "cross_bias")) { /* a query sequence shorter and longer than the keys */
            numeric_case c = {{0}, DT_F32, NULL};
            c.shape = (ref_shape){.batch = 1, .heads = 2, .tokens = 5, .kv_tokens = 70};
            failed += !run_case(ctx, name, r, &c, 90, NULL);
            c.shape = (ref_shape){.batch = 2, .heads = 1, .tokens = 90, .kv_tokens = 1, .bshd = true};
            failed += !run_case(ctx, name, r, &c, 91, NULL);
        }
        /* every param with a gradient held constant (attnc_build_options.no_grad):
         * q, k, v still right, no d<param> asked for (the linear recipe loses its gate pass) */
        static const char *const frozen[][2] = {{"cross_bias", "bias"}, {"alibi_param", "slope"},
                                                 {"linear_gqa_relu", "decay"}, {"scalar_param", "c"}};
        for (size_t f = 0; f < sizeof frozen / sizeof *frozen; f++)
            if (!strcmp(name, frozen[f][0])) {
                numeric_case cases[PLAN_MAX];
                int n = numeric_plan(name, r, false, cases);
                for (int ci = 0; ci < n && ci < 2; ci++)
                    failed += !run_case(ctx, name, r, &cases[ci], 80 + ci, frozen[f][1]);
            }
        attnc_recipe_destroy(rc);
    }
    return failed;
}

/* ---- long sequences ---- */

typedef struct decay_range {
    double lo, hi;
} decay_range;

static void fill_decay(void *user, int param, void *data, size_t n, dtype dt)
{
    const decay_range *dr = user;
    (void)param;
    for (size_t i = 0; i < n; i++) { /* a spread of values over [lo, hi], deterministic */
        double u = n > 1 ? (double)i / (double)(n - 1) : 0.5;
        double v = dr->lo + (dr->hi - dr->lo) * u;
        if (dt == DT_F32)
            ((float *)data)[i] = (float)v;
    }
}

static const char *const long_recipes[][2] = {
    {"long_head", "recipe long_head\ninput q, k, v : f32 [batch, heads, tokens, 16]\nparam decay : f32 [heads]\n"
                  "linear {\n  causal\n  decay decay[head]\n  split block 64\n}\n"},
    {"long_gate", "recipe long_gate\ninput q, k, v : f32 [batch, heads, tokens, 16]\nparam gate : f32 [batch, heads, tokens]\n"
                  "linear {\n  causal\n  feature elu1\n  decay gate[batch, head, t]\n  normalize\n  split block 32\n}\n"},
    /* without normalize: with every decay 0 a normalised output is v itself (no gradient to q, k) */
    {"long_gate_plain", "recipe long_gate_plain\ninput q, k, v : bf16 [batch, heads, tokens, 32]\n"
                        "param gate : f32 [batch, heads, tokens]\n"
                        "linear {\n  causal\n  decay gate[batch, head, t]\n  split block 128\n}\n"},
};

static int run_long(attnc_context *ctx)
{
    /* λ near 1; gates near 0; gates that underflow every decay to 0 */
    static const decay_range ranges[3] = {{1 - 1e-4, 1 - 1e-7}, {-1e-4, -1e-7}, {-40.0, -8.0}};
    static const int recipe_of[3] = {0, 1, 2};
    int failed = 0;
    for (int i = 0; i < 3; i++) {
        const char *name = long_recipes[recipe_of[i]][0], *text = long_recipes[recipe_of[i]][1];
        attnc_recipe *rc;
        attnc_kernel *fwd = NULL, *bwd = NULL;
        if (attnc_recipe_from_text(&rc, ctx, name, text, strlen(text)) || attnc_kernel_build(&fwd, ctx, rc, NULL) ||
            attnc_kernel_build_backward(&bwd, ctx, rc, NULL)) {
            printf("[FAIL] %s: %s\n", name, attnc_context_errmsg(ctx));
            failed++;
            continue;
        }
        ref_shape sh = {.batch = 1, .heads = 2, .tokens = 65536};
        ref_check_opts co = {.seed = (uint64_t)(900 + i), .check = true};
        ref_bwd_result res;
        bool pass = ref_check_backward_fill(fwd, bwd, attnc_recipe_typed(rc), &sh, &co, fill_decay,
                                            (void *)&ranges[i], &res);
        printf("[%s] %s decays in [%g, %g]: t=65536 fwd %.0f ms bwd %.0f ms: %s\n", pass ? "PASS" : "FAIL", name,
               ranges[i].lo, ranges[i].hi, res.fwd_ms, res.bwd_ms, res.msg);
        failed += !pass;
        attnc_kernel_destroy(fwd);
        attnc_kernel_destroy(bwd);
        attnc_recipe_destroy(rc);
    }
    return failed;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_numeric_grads NAME|--extra [--slow]\n");
        return 2;
    }
    bool slow = argc > 2 && !strcmp(argv[2], "--slow");
    attnc_context *ctx;
    if (attnc_context_create(&ctx, NULL))
        return 2;
    int failed;
    if (!strcmp(argv[1], "--extra")) {
        failed = run_extras(ctx, slow);
    } else if (!strcmp(argv[1], "--long")) {
        failed = run_long(ctx);
    } else {
        char path[512];
        snprintf(path, sizeof path, "%s/recipes/%s.attn", ATTNC_SOURCE_DIR, argv[1]);
        attnc_recipe *rc;
        if (attnc_recipe_from_file(&rc, ctx, path)) {
            fprintf(stderr, "%s: %s\n", path, attnc_context_errmsg(ctx));
            attnc_context_destroy(ctx);
            return 1;
        }
        failed = run_recipe(ctx, argv[1], attnc_recipe_typed(rc), slow);
        attnc_recipe_destroy(rc);
    }
    attnc_context_destroy(ctx);
    return failed ? 1 : 0;
}
