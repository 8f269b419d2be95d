/* The compiler's symbolic derivatives (ir/expr_diff.h) against the fp64
 * reference's independent forward-mode ones (tests/reference, ref_dual.c):
 * at random pairs of every shipped softmax recipe and of scores using every
 * operator, ref_eval of d score/ds equals the dual number's derivative, and
 * the partials of the param sites, summed per element they read, equal the
 * dual derivative along that element. Both evaluate in double, so they agree
 * to rounding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "ir/expr_diff.h"
#include "ref_expr.h"

enum { MAXP = 8, MAXE = 4096 };

typedef struct world {
    arena a;
    recipe *r;
    int64_t sizes[SZ_MAX];
    ref_view pv[MAXP];
    float data[MAXP][MAXE];
    uint64_t rng;
} world;

static double uni(world *W)
{
    W->rng = W->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(W->rng >> 11) / 9007199254740992.0;
}

static void parse_into(world *W, const char *name, const char *text, size_t len)
{
    diag_list d;
    diag_list_init(&d, &W->a, name, text, len);
    W->r = frontend_parse(&W->a, name, text, len, &d);
    if (!W->r) {
        strbuf sb;
        sb_init(&sb);
        diag_render(&d, &sb);
        fail_msg("%s", sb_cstr(&sb));
    }
}

/* Sizes and random params (float tables in [-1, 1], ints small). */
static void setup(world *W)
{
    const recipe *r = W->r;
    int64_t *z = W->sizes;
    memset(z, 0, sizeof W->sizes);
    z[SZ_BATCH] = 2, z[SZ_HEADS] = 4, z[SZ_KV_HEADS] = r->gqa ? 2 : 4;
    z[SZ_TOKENS] = z[SZ_KV_TOKENS] = 60;
    if (r->grid_ndim) {
        z[SZ_TOKENS] = 1;
        for (int d = 0; d < r->grid_ndim; d++) {
            z[SZ_GRID0 + d] = r->sizes[SZ_GRID0 + d].fixed > 0 ? r->sizes[SZ_GRID0 + d].fixed : 9 - d;
            z[SZ_TOKENS] *= z[SZ_GRID0 + d];
        }
        z[SZ_KV_TOKENS] = z[SZ_TOKENS];
    }
    for (int s = SZ_EXTRA0; s < SZ_MAX; s++)
        z[s] = r->sizes[s].fixed > 0 ? r->sizes[s].fixed : 3;
    assert_true(r->nparams <= MAXP);
    for (int i = 0; i < r->nparams; i++) {
        const recipe_param *p = &r->params[i];
        ref_view *v = &W->pv[i];
        v->dt = DT_F32;
        v->data = W->data[i];
        v->ndim = p->ndim;
        int64_t n = 1;
        for (int d = p->ndim - 1; d >= 0; d--) {
            v->shape[d] = p->const_dims[d] > 0 ? p->const_dims[d] : z[p->dims[d]];
            v->stride[d] = d == p->ndim - 1 ? 1 : v->stride[d + 1] * v->shape[d + 1];
            n *= v->shape[d];
        }
        assert_true(n <= MAXE);
        bool flt = p->dtype <= DT_F32;
        for (int64_t j = 0; j < n; j++)
            W->data[i][j] = flt ? (float)(2 * uni(W) - 1) : (float)(int)(3 * uni(W));
    }
}

static void random_point(world *W, ref_point *pt)
{
    const int64_t *z = W->sizes;
    memset(pt, 0, sizeof *pt);
    pt->sizes = z;
    pt->params = W->pv;
    pt->nparams = W->r->nparams;
    pt->grid_ndim = W->r->grid_ndim;
    pt->batch = (int64_t)(uni(W) * (double)z[SZ_BATCH]);
    pt->head = (int64_t)(uni(W) * (double)z[SZ_HEADS]);
    pt->kv_head = pt->head / (z[SZ_HEADS] / z[SZ_KV_HEADS]);
    pt->q_t = (int64_t)(uni(W) * (double)z[SZ_TOKENS]);
    pt->k_t = (int64_t)(uni(W) * (double)z[SZ_KV_TOKENS]);
    int64_t q = pt->q_t, k = pt->k_t;
    for (int d = W->r->grid_ndim - 1; d >= 0; d--) {
        int64_t e = z[SZ_GRID0 + d];
        pt->q_c[d] = q % e, pt->k_c[d] = k % e;
        q /= e, k /= e;
    }
    if (!W->r->grid_ndim)
        pt->q_c[0] = pt->q_t, pt->k_c[0] = pt->k_t;
    pt->score = 12 * uni(W) - 6;
}

static void expect_close(const char *what, double sym, double dual)
{
    if (!(fabs(sym - dual) <= 1e-12 * fmax(1.0, fabs(dual))))
        fail_msg("%s: symbolic %.17g, dual number %.17g", what, sym, dual);
}

/* The element of param p that a site's indices hit at pt (as the reference reads it). */
static int64_t site_elem(const world *W, const ref_point *pt, const expr_param_site *s)
{
    int64_t idx[8] = {0};
    for (int i = 0; i < s->nargs && i < 8; i++)
        idx[i] = ref_eval(pt, s->args[i]).i;
    return ref_view_elem(&W->pv[s->param], idx, s->nargs < 8 ? s->nargs : 8);
}

static void compare_at_points(world *W, const char *name)
{
    const expr *score = W->r->score;
    strbuf why;
    sb_init(&why);
    expr *ds = expr_diff_score(&W->a, score, &why);
    if (!ds)
        fail_msg("%s: %s", name, sb_cstr(&why));
    expr_param_site *sites;
    int n = expr_param_sites(&W->a, score, &sites, &why);
    if (n < 0)
        fail_msg("%s: %s", name, sb_cstr(&why));
    for (int t = 0; t < 200; t++) {
        ref_point pt;
        random_point(W, &pt);
        ref_seed s = {.param = -1};
        char what[256];
        snprintf(what, sizeof what, "%s: d/ds at pair %d", name, t);
        expect_close(what, ref_eval_float(&pt, ds), ref_eval_dual(&pt, score, &s).d);
        /* per element: the sum of the partials of the sites hitting it */
        for (int i = 0; i < n; i++) {
            int64_t e = site_elem(W, &pt, &sites[i]);
            double sum = 0;
            for (int j = 0; j < n; j++)
                if (sites[j].param == sites[i].param && site_elem(W, &pt, &sites[j]) == e)
                    sum += ref_eval_float(&pt, sites[j].partial);
            ref_seed se = {.param = sites[i].param, .elem = e};
            snprintf(what, sizeof what, "%s: d/d%s[%lld] at pair %d", name, W->r->params[sites[i].param].name,
                     (long long)e, t);
            expect_close(what, sum, ref_eval_dual(&pt, score, &se).d);
        }
    }
    sb_free(&why);
}

static void symbolic_matches_dual_on_shipped_recipes(void **state)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/recipes", ATTNC_SOURCE_DIR);
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".attn"))
            continue;
        world *W = calloc(1, sizeof *W);
        arena_init(&W->a, NULL);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t tlen;
        const char *err;
        char *text = frontend_read_file(&W->a, path, &tlen, &err);
        assert_non_null(text);
        parse_into(W, path, text, tlen);
        W->rng = 77 + (uint64_t)n;
        if (W->r->family == FAMILY_SOFTMAX) {
            setup(W);
            compare_at_points(W, de->d_name);
            n++;
        }
        arena_free_all(&W->a);
        free(W);
    }
    closedir(dp);
    assert_true(n >= 18);
}

static void symbolic_matches_dual_on_every_operator(void **state)
{
    static const char *const scores[] = {
        "softcap(s * scale, 2.0 + abs(cap[head])) + bias[head, q.t - k.t + 60] * bias[head, k.t]",
        "select(s > 0.0, 0.5 * s, exp(0.25 * s) - 1.0) + min(s, w[0]) - max(0.3 * s, w[1])",
        "log(1.5 + tanh(s)) * sqrt(2.0 + s * s) / (3.0 + abs(s)) - s / (1.0 + w[1] * w[1])",
        "bias[head, floor(w[0] * 4.0) + 12] * float(ids[k.t]) + clamp(s, -1.0, 1.0) * float(floor(bias[head, 0] * 2.0))",
        "cap[head] * tanh(s / cap[head]) + alibi_slope(head) * float(k.t - q.t) + exp(-abs(s - w[0]))",
        "min(max(s * w[0], bias[head, 3]), bias[head, 3] + 1.0) + abs(s * bias[kv_head, k.t] - w[1])",
        "-s * s / 8.0 + float(head) * s + float(ids[q.t]) - sqrt(abs(w[0]) + 1.0)",
    };
    for (size_t i = 0; i < sizeof scores / sizeof *scores; i++) {
        world *W = calloc(1, sizeof *W);
        arena_init(&W->a, NULL);
        char text[1024];
        int len = snprintf(text, sizeof text,
                           "recipe ops\ninput q, k, v : f32 [batch, heads, tokens, 16]\n"
                           "param bias : f32 [heads, 128]\nparam cap : f32 [heads]\nparam w : f32 [2]\n"
                           "param ids : i32 [tokens]\nscore %s\n",
                           scores[i]);
        parse_into(W, "ops.attn", text, (size_t)len);
        W->rng = 500 + i;
        setup(W);
        compare_at_points(W, scores[i]);
        arena_free_all(&W->a);
        free(W);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(symbolic_matches_dual_on_shipped_recipes),
        cmocka_unit_test(symbolic_matches_dual_on_every_operator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
