/* Symbolic derivatives of score expressions (ir/expr_diff.h) against central
 * finite differences: every operator, in s and in float param reads, at
 * random points evaluated by ir/expr_eval.c (s and float params substituted
 * by constants first, since expr_eval reads neither); every shipped recipe's
 * score; param sites of a table read twice; and the scores that have no
 * derivative. */
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
#include "ir/expr_eval.h"
#include "ir/expr_parse.h"

/* ---- a point: s, coordinates, and three small param tables ---- */

enum { NTAB = 3, TABN = 32 };

typedef struct point {
    double s;
    eval_env env;
    double tab[NTAB][TABN]; /* @0 f32 [32], @1 f32 [4, 8], @2 i32 [32] */
} point;

static const int tab_ndim[NTAB] = {1, 2, 1};
static const int tab_shape[NTAB][2] = {{32, 1}, {4, 8}, {32, 1}};

static int64_t clampi(int64_t i, int64_t n)
{
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/* Flat element of table p at evaluated indices (clamped like generated code). */
static int tab_elem(int p, const int64_t *idx)
{
    int64_t off = 0;
    for (int d = 0; d < tab_ndim[p]; d++)
        off = off * tab_shape[p][d] + clampi(idx[d], tab_shape[p][d]);
    return (int)off;
}

static int resolve(void *user, const char *name, size_t len, expr_type *elem)
{
    if (len != 1 || name[0] < 'a' || name[0] >= 'a' + NTAB)
        return -1;
    *elem = name[0] == 'c' ? TY_INT : TY_FLOAT;
    return name[0] - 'a';
}

static expr *parse(arena *a, const char *text)
{
    strbuf err;
    sb_init(&err);
    const char *p = text;
    expr *e = expr_parse(a, &p, text + strlen(text), resolve, NULL, &err);
    if (!e)
        fail_msg("%s: %s", text, sb_cstr(&err));
    sb_free(&err);
    return e;
}

/* e with s and every param read replaced by its value at pt. */
static expr *subst(arena *a, const expr *e, const point *pt)
{
    if (e->kind == EX_SCORE)
        return ex_float(a, pt->s);
    expr *c = arena_dup(a, e, sizeof *e);
    if (e->nargs) {
        c->args = ARENA_ARRAY(a, expr *, e->nargs);
        for (int i = 0; i < e->nargs; i++)
            c->args[i] = subst(a, e->args[i], pt);
    }
    if (e->kind != EX_PARAM)
        return c;
    assert_true(e->u.param < NTAB);
    int64_t idx[2] = {0, 0};
    for (int i = 0; i < e->nargs && i < 2; i++)
        assert_true(expr_eval_int(c->args[i], &pt->env, &idx[i]));
    double v = pt->tab[e->u.param][tab_elem(e->u.param, idx)];
    return e->type == TY_FLOAT ? ex_float(a, v) : ex_int(a, (int64_t)v);
}

static double eval_at(const expr *e, const point *pt)
{
    arena a;
    arena_init(&a, NULL);
    expr_val v;
    bool ok = expr_eval(subst(&a, e, pt), &pt->env, &v);
    arena_free_all(&a);
    assert_true(ok);
    return v.type == TY_FLOAT ? v.f : (double)v.i;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static double uniform(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

static void random_point(point *pt, double slo, double shi)
{
    memset(pt, 0, sizeof *pt);
    pt->s = uniform(slo, shi);
    pt->env.sizes[SZ_HEADS] = 4;
    pt->env.sizes[SZ_KV_HEADS] = 2;
    pt->env.sizes[SZ_TOKENS] = pt->env.sizes[SZ_KV_TOKENS] = 13 * 11;
    pt->env.sizes[SZ_GRID0] = 13;
    pt->env.sizes[SZ_GRID1] = 11;
    pt->env.sizes[SZ_BATCH] = 2;
    pt->env.grid_ndim = 2;
    pt->env.head = (int64_t)uniform(0, 4);
    pt->env.kv_head = pt->env.head / 2;
    pt->env.batch = (int64_t)uniform(0, 2);
    eval_env_set_point(&pt->env, (int64_t)uniform(0, 143), (int64_t)uniform(0, 143));
    for (int p = 0; p < NTAB; p++)
        for (int i = 0; i < TABN; i++)
            pt->tab[p][i] = p == 2 ? (double)(int64_t)uniform(0, 8) : uniform(0.25, 2.0);
}

/* Central difference with step h in s or in table element (p, i). */
static double fd(const expr *e, point pt, int p, int i, double h)
{
    double *x = p < 0 ? &pt.s : &pt.tab[p][i];
    double x0 = *x;
    *x = x0 + h;
    double up = eval_at(e, &pt);
    *x = x0 - h;
    double dn = eval_at(e, &pt);
    return (up - dn) / (2 * h);
}

static void expect_close(const char *what, double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol * fmax(1.0, fmax(fabs(got), fabs(want)))))
        fail_msg("%s: derivative %.12g, finite difference %.12g", what, got, want);
}

/* d e / d s matches finite differences at n random points with s in [lo, hi). */
static void check_ds(const char *text, double lo, double hi)
{
    arena a;
    arena_init(&a, NULL);
    expr *e = parse(&a, text);
    strbuf why;
    sb_init(&why);
    expr *d = expr_diff_score(&a, e, &why);
    if (!d)
        fail_msg("%s: %s", text, sb_cstr(&why));
    assert_int_equal(d->type, TY_FLOAT);
    for (int n = 0; n < 40; n++) {
        point pt;
        random_point(&pt, lo, hi);
        expect_close(text, eval_at(d, &pt), fd(e, pt, -1, 0, 1e-6), 1e-6);
    }
    sb_free(&why);
    arena_free_all(&a);
}

static void diff_every_operator_in_s(void **state)
{
    check_ds("s", -3, 3);
    check_ds("(mul s 0.125)", -3, 3);
    check_ds("(neg s)", -3, 3);
    check_ds("(abs (sub s 0.5))", -3, 3);
    check_ds("(exp (mul s 0.5))", -3, 3);
    check_ds("(log (add (mul s s) 1.0))", -3, 3);
    check_ds("(log s)", 0.1, 4);
    check_ds("(tanh (mul s 0.7))", -3, 3);
    check_ds("(sqrt s)", 0.1, 4);
    check_ds("(sqrt (add (mul s s) 0.5))", -3, 3);
    check_ds("(div 1.0 s)", 0.2, 3);
    check_ds("(div s (add (mul s s) 1.0))", -3, 3);
    check_ds("(div s 3.0)", -3, 3);
    check_ds("(div s 4)", -3, 3);
    check_ds("(mul s s)", -3, 3);
    check_ds("(mul (mul s 2) (mul 3.0 s))", -3, 3);
    check_ds("(add s (float (sub q.t k.t)))", -3, 3);
    check_ds("(sub (mul s head) (float q.d0))", -3, 3);
    check_ds("(min s 0.5)", -3, 3);
    check_ds("(max s 0.5)", -3, 3);
    check_ds("(min (mul s s) (add s 1.0))", -3, 3);
    check_ds("(max (mul s 2.0) (neg s))", -3, 3);
    check_ds("(min (max s -1.0) 1.0)", -3, 3); /* clamp */
    check_ds("(select (gt s 0.0) s (mul 0.1 s))", -3, 3);
    check_ds("(select (lt q.t k.t) (exp s) (mul s 3))", -3, 3);
    check_ds("(select (lt q.t k.t) s 2)", -3, 3);
    check_ds("(mul 50.0 (tanh (div (mul s 0.0625) 50.0)))", -300, 300); /* softcap */
    check_ds("(mul s (@a head))", -3, 3);
    check_ds("(add s (@a (floor (mul (@b 1 2) 4.0))))", -3, 3); /* a float read as an index */
    check_ds("(mul s (float (@c q.t)))", -3, 3);
    check_ds("(div (exp s) (add (exp s) (exp (neg s))))", -3, 3);
    check_ds("(sub (log (abs s)) (sqrt (abs s)))", 0.1, 3);
    check_ds("(neg (neg (neg s)))", -3, 3);
    check_ds("(float (floor 2.5))", -3, 3); /* no s: a constant */
}

static void diff_simplifies(void **state)
{
    arena a;
    arena_init(&a, NULL);
    const char *cases[][2] = {
        {"(mul s 0.125)", "0.125"},
        {"(sub (mul s 0.125) (mul (float head) (float (sub q.t k.t))))", "0.125"},
        {"(add (mul s 2) 1.5)", "2.0"},
        {"(neg (neg s))", "1.0"},
        {"(float (sub q.t k.t))", "0.0"},
        {"(mul s head)", "(float head)"},
        {"(div s 4.0)", "0.25"},
        {"(exp s)", "(exp s)"},
        {"(exp (mul s 0.5))", "(mul 0.5 (exp (mul s 0.5)))"},
        {"(select (gt q.t k.t) (mul s 2.0) (mul 2.0 s))", "2.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        expr *d = expr_diff_score(&a, parse(&a, cases[i][0]), NULL);
        assert_non_null(d);
        strbuf sb;
        sb_init(&sb);
        expr_print(&sb, d, NULL, NULL);
        if (strcmp(sb_cstr(&sb), cases[i][1]))
            fail_msg("d/ds %s = %s, want %s", cases[i][0], sb_cstr(&sb), cases[i][1]);
        sb_free(&sb);
    }
    /* the derivative shares e's nodes: d exp(u) reuses exp(u) */
    expr *e = parse(&a, "(exp (mul s 0.5))");
    expr *d = expr_diff_score(&a, e, NULL);
    assert_true(d->args[1] == e);
    arena_free_all(&a);
}

/* At kinks: d|x| = 0 at 0; min/max follow the operand they return, the first
 * one on ties; select differentiates the branch it takes. */
static void diff_at_kinks(void **state)
{
    arena a;
    arena_init(&a, NULL);
    point pt;
    random_point(&pt, 0, 0);
    struct {
        const char *text;
        double s, want;
    } cases[] = {
        {"(abs s)", 0.0, 0.0},   {"(abs s)", 2.0, 1.0},          {"(abs s)", -2.0, -1.0},
        {"(min s 1.0)", 1.0, 1.0}, {"(min 1.0 s)", 1.0, 0.0},    {"(max s 1.0)", 1.0, 1.0},
        {"(max 1.0 s)", 1.0, 0.0}, {"(max s 1.0)", 0.5, 0.0},    {"(min s 1.0)", 0.5, 1.0},
        {"(select (gt s 0.0) (mul s 2.0) (mul s 0.5))", 0.0, 0.5},
        {"(min (max s -1.0) 1.0)", -1.0, 1.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        expr *d = expr_diff_score(&a, parse(&a, cases[i].text), NULL);
        assert_non_null(d);
        pt.s = cases[i].s;
        double got = eval_at(d, &pt);
        if (got != cases[i].want)
            fail_msg("d/ds %s at s = %g is %g, want %g", cases[i].text, cases[i].s, got, cases[i].want);
    }
    arena_free_all(&a);
}

/* Which subexpression is blamed, and why. */
static void expect_not_differentiable(const char *text, const char *blamed, const char *reason)
{
    arena a;
    arena_init(&a, NULL);
    strbuf why, sb;
    sb_init(&why);
    sb_init(&sb);
    const expr *where = NULL;
    assert_null(expr_diff_score_at(&a, parse(&a, text), &why, &where));
    assert_non_null(where);
    expr_print(&sb, where, NULL, NULL);
    if (strcmp(sb_cstr(&sb), blamed) || !strstr(sb_cstr(&why), reason))
        fail_msg("%s: blamed %s (%s), want %s (%s)", text, sb_cstr(&sb), sb_cstr(&why), blamed, reason);
    assert_null(strchr(sb_cstr(&why), '\n'));
    sb_free(&why);
    sb_free(&sb);
    arena_free_all(&a);
}

static void diff_rejects_what_has_no_derivative(void **state)
{
    expect_not_differentiable("(float (floor s))", "(floor s)", "floor");
    expect_not_differentiable("(mul 0.25 (float (floor (mul s 4.0))))", "(floor (mul s 4.0))", "floor");
    expect_not_differentiable("(add s (float (add (floor (mul s 2.0)) 1)))", "(floor (mul s 2.0))", "floor");
    expect_not_differentiable("(add s (@a (floor s)))", "(floor s)", "floor");
    expect_not_differentiable("(select (gt q.t 3) (float (floor s)) s)", "(floor s)", "floor");
    expect_not_differentiable("(mod s 2.0)", "(mod s 2.0)", "'%'");
    /* a comparison of s only steers a select: fine, even through an int */
    arena a;
    arena_init(&a, NULL);
    assert_non_null(expr_diff_score(&a, parse(&a, "(float (select (gt s 0.0) 1 0))"), NULL));
    assert_non_null(expr_diff_score(&a, parse(&a, "(select (gt (float (floor s)) 0.0) s 0.0)"), NULL));
    assert_non_null(expr_diff_score(&a, parse(&a, "(mod 3.0 2.0)"), NULL));
    /* failing allocation is reported, never a partial result */
    arena small;
    arena_init(&small, NULL);
    expr *e = parse(&a, "(mul 50.0 (tanh (div (mul s 0.0625) 50.0)))");
    small.limit = 64;
    strbuf why;
    sb_init(&why);
    assert_null(expr_diff_score(&small, e, &why));
    assert_string_equal(sb_cstr(&why), "out of memory");
    sb_free(&why);
    arena_free_all(&small);
    arena_free_all(&a);
}

/* Partials of sites against finite differences of one table element: the
 * element's derivative is the sum of the partials of the sites that read it. */
static void check_sites(const char *text, int want_sites)
{
    arena a;
    arena_init(&a, NULL);
    expr *e = parse(&a, text);
    expr_param_site *sites;
    strbuf why;
    sb_init(&why);
    int n = expr_param_sites(&a, e, &sites, &why);
    if (n != want_sites)
        fail_msg("%s: %d sites (%s), want %d", text, n, sb_cstr(&why), want_sites);
    for (int t = 0; t < 20; t++) {
        point pt;
        random_point(&pt, -2, 2);
        double grad[NTAB][TABN] = {{0}};
        for (int i = 0; i < n; i++) {
            int64_t idx[2] = {0, 0};
            for (int j = 0; j < sites[i].nargs; j++)
                idx[j] = (int64_t)eval_at(sites[i].args[j], &pt);
            assert_int_equal(sites[i].partial->type, TY_FLOAT);
            grad[sites[i].param][tab_elem(sites[i].param, idx)] += eval_at(sites[i].partial, &pt);
        }
        for (int p = 0; p < 2; p++)
            for (int i = 0; i < TABN; i++) {
                char what[256];
                snprintf(what, sizeof what, "%s: d/d@%d[%d]", text, p, i);
                expect_close(what, grad[p][i], fd(e, pt, p, i, 1e-6), 1e-6);
            }
    }
    sb_free(&why);
    arena_free_all(&a);
}

static void diff_param_sites(void **state)
{
    /* a bias table read twice at different indices (often the same element) */
    check_sites("(add (mul s 0.125) (add (@a (mod q.t 4)) (@a (mod k.t 4))))", 2);
    check_sites("(add (@b head q.d1) (mul (@b head k.d1) (@b head q.d1)))", 2);
    /* the same element read twice is one site: softcap with a learned cap */
    check_sites("(mul (@a head) (tanh (div s (@a head))))", 1);
    check_sites("(add (exp (@a 3)) (select (gt s (@a 4)) (mul s (@a 5)) (sqrt (@a 6))))", 3);
    check_sites("(div (@a q.t) (add (mul s s) (@b 1 k.t)))", 2);
    check_sites("(add (min s (@a 1)) (max (@a 2) (neg s)))", 2);
    /* reads inside indices, conditions and int params are not sites */
    check_sites("(add s (@a (floor (@b 0 0))))", 1);
    check_sites("(select (gt (@a 1) 1.0) s 0.0)", 0);
    check_sites("(mul s (float (@c q.t)))", 0);
    check_sites("(add s (float (floor (@a 2))))", 0);

    arena a;
    arena_init(&a, NULL);
    expr_param_site *sites;
    assert_int_equal(expr_param_sites(&a, parse(&a, "(add s (@a (mod q.t 4)))"), &sites, NULL), 1);
    assert_int_equal(sites[0].param, 0);
    assert_int_equal(sites[0].nargs, 1);
    assert_true(sites[0].partial->kind == EX_CONST_FLOAT && sites[0].partial->u.fval == 1.0);
    strbuf why;
    sb_init(&why);
    assert_int_equal(expr_param_sites(&a, parse(&a, "(add s (mod (@a 1) 2.0))"), &sites, &why), -1);
    assert_non_null(strstr(sb_cstr(&why), "'%'"));
    sb_free(&why);
    arena_free_all(&a);
}

/* ---- every shipped recipe's score ---- */

static recipe *load(arena *a, diag_list *d, const char *path)
{
    size_t len = 0;
    const char *err = NULL;
    char *text = frontend_read_file(a, path, &len, &err);
    if (!text)
        fail_msg("%s: %s", path, err);
    diag_list_init(d, a, path, text, len);
    recipe *r = frontend_parse(a, path, text, len, d);
    assert_non_null(r);
    return r;
}

/* A point for a recipe's score; its params read the test tables (a param
 * of higher rank reads the table at its first indices). */
static void recipe_point(const recipe *r, point *pt)
{
    random_point(pt, -20, 20);
    if (r->grid_ndim == 3) {
        pt->env.sizes[SZ_GRID0] = 3;
        pt->env.sizes[SZ_GRID1] = 5;
        pt->env.sizes[SZ_GRID2] = 7;
    }
    pt->env.grid_ndim = r->grid_ndim;
    eval_env_set_point(&pt->env, pt->env.qt % 100, pt->env.kt % 100);
}

static void diff_shipped_recipes(void **state)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/recipes", ATTNC_SOURCE_DIR);
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    int nsoftmax = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".attn"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        arena a;
        arena_init(&a, NULL);
        diag_list d;
        recipe *r = load(&a, &d, path);
        if (r->family != FAMILY_SOFTMAX) {
            arena_free_all(&a);
            continue;
        }
        nsoftmax++;
        strbuf why;
        sb_init(&why);
        expr *ds = expr_diff_score(&a, r->score, &why);
        if (!ds)
            fail_msg("%s: %s", de->d_name, sb_cstr(&why));
        expr_param_site *sites;
        int n = expr_param_sites(&a, r->score, &sites, &why);
        assert_true(n >= 0);
        /* relpos_bias2d reads its table once; no other shipped score reads a float param */
        assert_int_equal(n, strcmp(de->d_name, "relpos_bias2d.attn") ? 0 : 1);
        for (int t = 0; t < 30; t++) {
            point pt;
            recipe_point(r, &pt);
            expect_close(de->d_name, eval_at(ds, &pt), fd(r->score, pt, -1, 0, 1e-5), 1e-7);
            if (n) /* s * scale + rpb[...]: the read's partial is 1 */
                expect_close(de->d_name, eval_at(sites[0].partial, &pt), 1.0, 0);
        }
        sb_free(&why);
        arena_free_all(&a);
    }
    closedir(dp);
    assert_true(nsoftmax >= 18);
}

/* Number of distinct nodes of a DAG (small ones: a linear list of seen nodes). */
static int count_nodes(const expr *e, const expr **seen, int *n, int cap)
{
    for (int i = 0; i < *n; i++)
        if (seen[i] == e)
            return *n;
    assert_true(*n < cap);
    seen[(*n)++] = e;
    for (int i = 0; i < e->nargs; i++)
        count_nodes(e->args[i], seen, n, cap);
    return *n;
}

/* Long chains and deep nests: derivatives stay linear in size (shared
 * subtrees are differentiated once) and right. */
static void diff_stays_linear_on_big_scores(void **state)
{
    arena a;
    arena_init(&a, NULL);
    expr *chain = ex_leaf(&a, EX_SCORE), *nest = ex_leaf(&a, EX_SCORE);
    for (int i = 0; i < 400; i++) {
        chain = ex_binary(&a, BIN_MUL, chain, ex_leaf(&a, EX_SCORE));
        nest = ex_unary(&a, UN_TANH, ex_binary(&a, BIN_ADD, nest, nest)); /* a DAG: 2^400 paths */
    }
    static const expr *seen[1 << 16];
    int n = 0;
    expr *dc = expr_diff_score(&a, chain, NULL), *dn = expr_diff_score(&a, nest, NULL);
    assert_non_null(dc);
    assert_non_null(dn);
    assert_true(count_nodes(dc, seen, &n, 1 << 16) < 20 * 401);
    n = 0;
    assert_true(count_nodes(dn, seen, &n, 1 << 16) < 20 * 401);
    point pt;
    random_point(&pt, 0, 0);
    pt.s = 1.001; /* d s^401 / ds = 401 s^400 */
    expect_close("s^401", eval_at(dc, &pt), 401 * pow(1.001, 400), 1e-12);
    arena_free_all(&a);
}

/* Every allocation failure gives NULL and "out of memory" (or, with enough
 * memory, the result), never a crash or a partial tree. */
static void diff_survives_allocation_failures(void **state)
{
    arena a;
    arena_init(&a, NULL);
    expr *e = parse(&a, "(add (mul (@a head) (tanh (div s (@a head)))) (add (@b 1 q.t) (abs (min s (@b 2 k.t)))))");
    bool ok_score = false, ok_sites = false;
    for (size_t limit = 16; limit < 65536 && !(ok_score && ok_sites); limit += 48) {
        arena small;
        arena_init(&small, NULL);
        small.limit = limit;
        strbuf why;
        sb_init(&why);
        expr *d = expr_diff_score(&small, e, &why);
        if (d)
            ok_score = true;
        else
            assert_string_equal(sb_cstr(&why), "out of memory");
        arena_free_all(&small);
        arena_init(&small, NULL);
        small.limit = limit;
        sb_clear(&why);
        expr_param_site *sites;
        int n = expr_param_sites(&small, e, &sites, &why);
        if (n >= 0) {
            assert_int_equal(n, 3);
            for (int i = 0; i < n; i++)
                assert_non_null(sites[i].partial);
            ok_sites = true;
        } else {
            assert_string_equal(sb_cstr(&why), "out of memory");
        }
        sb_free(&why);
        arena_free_all(&small);
    }
    assert_true(ok_score && ok_sites);
    arena_free_all(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(diff_every_operator_in_s),
        cmocka_unit_test(diff_simplifies),
        cmocka_unit_test(diff_at_kinks),
        cmocka_unit_test(diff_rejects_what_has_no_derivative),
        cmocka_unit_test(diff_param_sites),
        cmocka_unit_test(diff_shipped_recipes),
        cmocka_unit_test(diff_stays_linear_on_big_scores),
        cmocka_unit_test(diff_survives_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
