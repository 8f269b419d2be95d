/*
 * Mask forms and score helpers: the expanded recipe.mask, evaluated by a
 * small interpreter here, must equal a direct implementation of each
 * definition in frontend/forms.h for every sampled query/key pair; the
 * surface view keeps the normalised arguments. Test names follow the
 * "mask forms" and "score" sections of docs/recipe-language.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/forms.h"
#include "frontend/frontend.h"

#define assert_close(a, b, eps)                                                      \
    do {                                                                             \
        double a_ = (a), b_ = (b);                                                   \
        if (!(fabs(a_ - b_) <= (eps)))                                               \
            fail_msg("%.17g != %.17g", a_, b_);                                      \
    } while (0)

/* ---- a tiny interpreter of the expression IR (expr.h semantics) ---- */

typedef struct env {
    int64_t q[3], k[3], qt, kt; /* grid coordinates and flat token indices */
    int64_t head, kv_head, batch;
    int64_t size[SZ_MAX];
    double s;
    const int64_t *param[4]; /* row-major data of each param */
    const recipe *r;
} env;

typedef struct val {
    bool is_float;
    int64_t i;
    double f;
} val;

static int64_t fdiv(int64_t a, int64_t b)
{
    if (b == 0)
        return 0;
    int64_t q = a / b;
    return (a % b && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t fmod_(int64_t a, int64_t b)
{
    return b == 0 ? 0 : a - fdiv(a, b) * b;
}

static double as_f(val v)
{
    return v.is_float ? v.f : (double)v.i;
}

static val eval(const env *E, const expr *e);

static val vi(int64_t i)
{
    return (val){false, i, 0};
}

static val vf(double f)
{
    return (val){true, 0, f};
}

static int64_t dim_extent(const env *E, const recipe_param *p, int d)
{
    return p->const_dims[d] ? p->const_dims[d] : E->size[p->dims[d]];
}

static val eval_param(const env *E, const expr *e)
{
    const recipe_param *p = &E->r->params[e->u.param];
    int64_t flat = 0;
    for (int d = 0; d < e->nargs; d++) {
        int64_t i = eval(E, e->args[d]).i, n = dim_extent(E, p, d);
        assert_true(i >= 0 && i < n);
        flat = flat * n + i;
    }
    return vi(E->param[e->u.param][flat]);
}

static val eval_unary(const env *E, const expr *e)
{
    val x = eval(E, e->args[0]);
    switch (e->u.unop) {
    case UN_NEG: return x.is_float ? vf(-x.f) : vi(-x.i);
    case UN_NOT: return vi(!x.i);
    case UN_ABS: return x.is_float ? vf(fabs(x.f)) : vi(x.i < 0 ? -x.i : x.i);
    case UN_EXP: return vf(exp(as_f(x)));
    case UN_LOG: return vf(log(as_f(x)));
    case UN_TANH: return vf(tanh(as_f(x)));
    case UN_SQRT: return vf(sqrt(as_f(x)));
    case UN_TO_FLOAT: return vf(as_f(x));
    case UN_FLOOR: return vi((int64_t)floor(as_f(x)));
    case UN_LOG2I: {
        int64_t n = 0;
        for (int64_t v = x.i; v > 1; v >>= 1)
            n++;
        return vi(x.i < 1 ? 0 : n);
    }
    default: return vi(x.i < 0 ? 0 : x.i > 62 ? (int64_t)1 << 62 : (int64_t)1 << x.i);
    }
}

static val eval_binary(const env *E, const expr *e)
{
    val l = eval(E, e->args[0]), r = eval(E, e->args[1]);
    bool fl = l.is_float || r.is_float;
    double a = as_f(l), b = as_f(r);
    switch (e->u.binop) {
    case BIN_ADD: return fl ? vf(a + b) : vi(l.i + r.i);
    case BIN_SUB: return fl ? vf(a - b) : vi(l.i - r.i);
    case BIN_MUL: return fl ? vf(a * b) : vi(l.i * r.i);
    case BIN_DIV: return fl ? vf(a / b) : vi(fdiv(l.i, r.i));
    case BIN_MOD: return vi(fmod_(l.i, r.i));
    case BIN_MIN: return fl ? vf(a < b ? a : b) : vi(l.i < r.i ? l.i : r.i);
    case BIN_MAX: return fl ? vf(a > b ? a : b) : vi(l.i > r.i ? l.i : r.i);
    case BIN_LT: return vi(fl ? a < b : l.i < r.i);
    case BIN_LE: return vi(fl ? a <= b : l.i <= r.i);
    case BIN_GT: return vi(fl ? a > b : l.i > r.i);
    case BIN_GE: return vi(fl ? a >= b : l.i >= r.i);
    case BIN_EQ: return vi(fl ? a == b : l.i == r.i);
    case BIN_NE: return vi(fl ? a != b : l.i != r.i);
    case BIN_AND: return vi(l.i && r.i);
    default: return vi(l.i || r.i);
    }
}

static val eval(const env *E, const expr *e)
{
    assert_non_null(e);
    switch (e->kind) {
    case EX_CONST_BOOL:
    case EX_CONST_INT: return vi(e->u.ival);
    case EX_CONST_FLOAT: return vf(e->u.fval);
    case EX_COORD: {
        const int64_t *c = e->u.coord.side == SIDE_Q ? E->q : E->k;
        int64_t t = e->u.coord.side == SIDE_Q ? E->qt : E->kt;
        return vi(e->u.coord.dim < 0 ? t : c[e->u.coord.dim]);
    }
    case EX_HEAD: return vi(E->head);
    case EX_KV_HEAD: return vi(E->kv_head);
    case EX_BATCH: return vi(E->batch);
    case EX_SCORE: return vf(E->s);
    case EX_SIZE: return vi(E->size[e->u.size]);
    case EX_PARAM: return eval_param(E, e);
    case EX_UNARY: return eval_unary(E, e);
    case EX_BINARY: return eval_binary(E, e);
    case EX_SELECT: return eval(E, e->args[0]).i ? eval(E, e->args[1]) : eval(E, e->args[2]);
    default: fail_msg("unexpected node kind %d in an expanded expression", e->kind);
    }
    return vi(0);
}

/* ---- the definitions of forms.h, written out directly ---- */

static bool ref_neighborhood(int64_t i, int64_t j, int64_t L, int64_t w, int64_t dl, int64_t st, bool causal)
{
    int64_t g = i % dl;
    if (j % dl != g)
        return false;
    int64_t Lg = (L - g + dl - 1) / dl, ii = i / dl, jj = j / dl;
    if (causal)
        return (ii - w + 1 > 0 ? ii - w + 1 : 0) <= jj && jj <= ii;
    int64_t c = (ii / st) * st + st / 2;
    if (c > Lg - 1)
        c = Lg - 1;
    int64_t start = c - w / 2;
    if (start > Lg - w)
        start = Lg - w;
    if (start < 0)
        start = 0;
    return start <= jj && jj < start + w;
}

static bool ref_radial(int64_t i, int64_t j, int64_t F, int64_t W)
{
    int64_t d = llabs(i / F - j / F), si = i % F, sj = j % F;
    int64_t band = 1;
    while (band * 2 <= (d > 1 ? d : 1))
        band *= 2;
    return llabs(si - sj) * band < W;
}

/* ---- helpers ---- */

typedef struct parsed {
    arena a;
    diag_list d;
    recipe *r;
} parsed;

static recipe *parse(parsed *p, const char *src)
{
    arena_init(&p->a, NULL);
    diag_list_init(&p->d, &p->a, "t.attn", src, strlen(src));
    p->r = frontend_parse(&p->a, "t.attn", src, strlen(src), &p->d);
    if (!p->r) {
        strbuf sb;
        sb_init(&sb);
        diag_render_brief(&p->d, &sb);
        print_error("%s\n%s", src, sb_cstr(&sb));
        sb_free(&sb);
    }
    assert_non_null(p->r);
    return p->r;
}

static bool mask_at(const recipe *r, env *E, int64_t qt, int64_t kt)
{
    E->r = r;
    E->qt = qt;
    E->kt = kt;
    return eval(E, r->mask).i != 0;
}

#define SEQ "recipe t\ninput q, k, v : f16 [batch, heads, tokens, 64]\n"

static void mask_forms_causal_and_sliding_window(void **state)
{
    parsed a, b;
    recipe *rc = parse(&a, SEQ "mask causal\n");
    recipe *rs = parse(&b, SEQ "mask sliding_window(left: 5, right: 2)\n");
    env E = {0};
    for (int64_t i = 0; i < 40; i++)
        for (int64_t j = 0; j < 40; j++) {
            assert_int_equal(mask_at(rc, &E, i, j), j <= i);
            assert_int_equal(mask_at(rs, &E, i, j), i - 5 <= j && j <= i + 2);
        }
    assert_int_equal(rc->mask_surface->kind, EX_FORM);
    assert_int_equal(rc->mask_surface->u.form, FORM_CAUSAL);
    arena_free_all(&a.a);
    arena_free_all(&b.a);
}

/* Every window, dilation, stride and causal flag over sequences of 1..18
 * tokens, including groups shorter than the window (start = 0). */
static void mask_forms_neighborhood_1d_matches_definition(void **state)
{
    char src[256];
    int checked = 0;
    for (int w = 1; w <= 9; w++)
        for (int dl = 1; dl <= 3; dl++)
            for (int st = 1; st <= w; st++)
                for (int causal = 0; causal <= (st == 1); causal++) {
                    snprintf(src, sizeof src, SEQ "mask neighborhood(window: %d, dilation: %d, stride: %d, causal: %s)\n",
                             w, dl, st, causal ? "true" : "false");
                    parsed p;
                    recipe *r = parse(&p, src);
                    const expr *f = r->mask_surface;
                    assert_int_equal(f->u.form, FORM_NEIGHBORHOOD);
                    assert_int_equal(f->nargs, 4);
                    assert_int_equal(f->args[0]->u.ival, w);
                    assert_int_equal(f->args[1]->u.ival, dl);
                    assert_int_equal(f->args[2]->u.ival, st);
                    assert_int_equal(f->args[3]->u.ival, causal);
                    env E = {0};
                    for (int64_t L = 1; L <= 18; L++) {
                        E.size[SZ_TOKENS] = L;
                        for (int64_t i = 0; i < L; i++)
                            for (int64_t j = 0; j < L; j++, checked++)
                                if (mask_at(r, &E, i, j) != ref_neighborhood(i, j, L, w, dl, st, causal))
                                    fail_msg("w=%d dl=%d st=%d causal=%d L=%lld i=%lld j=%lld", w, dl, st, causal,
                                             (long long)L, (long long)i, (long long)j);
                    }
                    arena_free_all(&p.a);
                }
    assert_true(checked > 100000);
}

/* NATTEN's defining property: with w <= L every query sees exactly w keys,
 * itself among them, and the window is contiguous. */
static void mask_forms_neighborhood_natten_window_size(void **state)
{
    parsed p;
    recipe *r = parse(&p, SEQ "mask neighborhood(window: 7)\n");
    env E = {0};
    for (int64_t L = 7; L <= 30; L++) {
        E.size[SZ_TOKENS] = L;
        for (int64_t i = 0; i < L; i++) {
            int n = 0;
            for (int64_t j = 0; j < L; j++)
                n += mask_at(r, &E, i, j);
            assert_int_equal(n, 7);
            assert_true(mask_at(r, &E, i, i));
        }
    }
    arena_free_all(&p.a);
}

/* 2-D on a fixed grid (constants folded into the expansion) and 3-D with a
 * causal first dimension on a grid bound at launch. */
static void mask_forms_neighborhood_grid_matches_definition(void **state)
{
    parsed a, b;
    recipe *r2 = parse(&a, SEQ "tokens grid(y: 9, x: 12)\nmask neighborhood(window: (3, 5), dilation: (2, 1), stride: (1, 2))\n");
    recipe *r3 = parse(&b, SEQ "tokens grid(f: F, y: H, x: W)\nmask neighborhood(window: (2, 3, 3), causal: (true, false, false))\n");
    assert_false(expr_uses_kind(r2->mask, EX_SIZE)); /* fixed extents are constants */
    env E = {0};
    for (int64_t i = 0; i < 9 * 12; i++)
        for (int64_t j = 0; j < 9 * 12; j++) {
            E.q[0] = i / 12, E.q[1] = i % 12, E.k[0] = j / 12, E.k[1] = j % 12;
            bool want = ref_neighborhood(E.q[0], E.k[0], 9, 3, 2, 1, false) &&
                        ref_neighborhood(E.q[1], E.k[1], 12, 5, 1, 2, false);
            assert_int_equal(mask_at(r2, &E, i, j), want);
        }
    int64_t F = 4, H = 5, W = 6, n = F * H * W;
    E.size[SZ_GRID0] = F, E.size[SZ_GRID1] = H, E.size[SZ_GRID2] = W, E.size[SZ_TOKENS] = n;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            E.q[0] = i / (H * W), E.q[1] = i / W % H, E.q[2] = i % W;
            E.k[0] = j / (H * W), E.k[1] = j / W % H, E.k[2] = j % W;
            bool want = ref_neighborhood(E.q[0], E.k[0], F, 2, 1, 1, true) &&
                        ref_neighborhood(E.q[1], E.k[1], H, 3, 1, 1, false) &&
                        ref_neighborhood(E.q[2], E.k[2], W, 3, 1, 1, false);
            assert_int_equal(mask_at(r3, &E, i, j), want);
        }
    arena_free_all(&a.a);
    arena_free_all(&b.a);
}

static void mask_forms_radial_strided_heads_sinks(void **state)
{
    parsed a, b, c;
    recipe *rr = parse(&a, SEQ "mask radial(frame: 5, window: 3)\n");
    recipe *rs = parse(&b, SEQ "mask strided_heads(stride: 3, local: 4)\n");
    recipe *rk = parse(&c, SEQ "mask sinks(3) || sliding_window(2, 0) && causal\n");
    env E = {0};
    for (E.head = 0; E.head < 5; E.head++)
        for (int64_t i = 0; i < 60; i++)
            for (int64_t j = 0; j < 60; j++) {
                assert_int_equal(mask_at(rr, &E, i, j), ref_radial(i, j, 5, 3));
                assert_int_equal(mask_at(rs, &E, i, j), j <= i && (i - j < 4 || j % 3 == E.head % 3));
                assert_int_equal(mask_at(rk, &E, i, j), j < 3 || (i - 2 <= j && j <= i && j <= i));
            }
    arena_free_all(&a.a);
    arena_free_all(&b.a);
    arena_free_all(&c.a);
}

static void mask_forms_document_and_blocks_read_params(void **state)
{
    parsed a, b;
    recipe *rd = parse(&a, SEQ "param doc : i32 [batch, tokens]\nmask document(doc) && causal\n");
    recipe *rb = parse(&b, SEQ "param tb : u8 [batch, heads, nqb, nkb]\nmask blocks(tb, bq: 4, bk: 8)\n");
    enum { B = 2, T = 24, NH = 3 };
    int64_t doc[B * T], tb[B * NH * 6 * 3];
    srand(7);
    for (int i = 0; i < B * T; i++)
        doc[i] = i % T < 5 ? 0 : i % T < 13 ? 1 : 2 + rand() % 2;
    for (int i = 0; i < B * NH * 6 * 3; i++)
        tb[i] = rand() % 2;
    env E = {0};
    E.size[SZ_TOKENS] = T, E.size[SZ_BATCH] = B, E.size[SZ_HEADS] = NH;
    E.size[SZ_EXTRA0] = 6, E.size[SZ_EXTRA0 + 1] = 3;
    assert_string_equal(rb->sizes[SZ_EXTRA0].name, "nqb");
    assert_string_equal(rb->sizes[SZ_EXTRA0 + 1].name, "nkb");
    assert_int_equal(rb->nsizes, SZ_EXTRA0 + 2);
    for (E.batch = 0; E.batch < B; E.batch++)
        for (E.head = 0; E.head < NH; E.head++)
            for (int64_t i = 0; i < T; i++)
                for (int64_t j = 0; j < T; j++) {
                    E.param[0] = doc;
                    assert_int_equal(mask_at(rd, &E, i, j), j <= i && doc[E.batch * T + i] == doc[E.batch * T + j]);
                    E.param[0] = tb;
                    assert_int_equal(mask_at(rb, &E, i, j), tb[((E.batch * NH + E.head) * 6 + i / 4) * 3 + j / 8] != 0);
                }
    arena_free_all(&a.a);
    arena_free_all(&b.a);
}

/* Boolean structure around forms is kept: !, &&, || and user comparisons. */
static void masks_coordinates_and_logic(void **state)
{
    parsed p;
    recipe *r = parse(&p, SEQ "tokens grid(y: 6, x: 7)\nmask !(k.y > q.y) && (abs(k.x - q.x) <= 1 || k.t % 5 == 0)\n");
    env E = {0};
    for (int64_t i = 0; i < 42; i++)
        for (int64_t j = 0; j < 42; j++) {
            E.q[0] = i / 7, E.q[1] = i % 7, E.k[0] = j / 7, E.k[1] = j % 7;
            bool want = !(E.k[0] > E.q[0]) && (llabs(E.k[1] - E.q[1]) <= 1 || j % 5 == 0);
            assert_int_equal(mask_at(r, &E, i, j), want);
        }
    assert_int_equal(r->sizes[SZ_TOKENS].fixed, 42);
    arena_free_all(&p.a);
}

static double score_at(const recipe *r, env *E, double s, int64_t qt, int64_t kt)
{
    E->r = r;
    E->s = s;
    E->qt = qt;
    E->kt = kt;
    val v = eval(E, r->score);
    assert_true(v.is_float);
    return v.f;
}

static void score_scale_softcap_alibi(void **state)
{
    parsed a, b, c, d;
    recipe *rd = parse(&a, SEQ "mask causal\n");
    recipe *rc = parse(&b, SEQ "scale = 0.1\nscore softcap(s * scale, 30.0)\n");
    recipe *ra = parse(&c, SEQ "score s * scale - alibi_slope(head) * float(q.t - k.t)\n");
    recipe *ri = parse(&d, SEQ "score s + 1\n");
    env E = {0};
    E.size[SZ_HEADS] = 8;
    assert_close(rd->scale, 0.125, 0);
    assert_close(score_at(rd, &E, 3.0, 0, 0), 0.375, 1e-15);
    assert_close(rc->scale, 0.1, 0);
    for (double s = -900; s < 900; s += 37.5)
        assert_close(score_at(rc, &E, s, 0, 0), 30.0 * tanh(s * 0.1 / 30.0), 1e-12);
    for (E.head = 0; E.head < 8; E.head++)
        assert_close(score_at(ra, &E, 2.0, 9, 4), 0.25 - pow(2.0, -(double)(E.head + 1)) * 5.0, 1e-12);
    assert_close(score_at(ri, &E, 2.5, 0, 0), 3.5, 0);
    arena_free_all(&a.a);
    arena_free_all(&b.a);
    arena_free_all(&c.a);
    arena_free_all(&d.a);
}

static void score_relative_position_bias_table(void **state)
{
    parsed p;
    recipe *r = parse(&p, SEQ "tokens grid(y: H, x: W)\nparam rpb : f32 [heads, 13, 13]\n"
                              "mask neighborhood(window: (7, 7))\nscore s * scale + rpb[head, k.y - q.y + 6, k.x - q.x + 6]\n");
    assert_int_equal(r->nparams, 1);
    assert_int_equal(r->params[0].const_dims[1], 13);
    assert_int_equal(r->params[0].dims[0], SZ_HEADS);
    const expr *b = r->score->args[1];
    assert_int_equal(b->kind, EX_PARAM);
    assert_int_equal(b->nargs, 3);
    assert_int_equal(b->type, TY_FLOAT);
    arena_free_all(&p.a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mask_forms_causal_and_sliding_window),
        cmocka_unit_test(mask_forms_neighborhood_1d_matches_definition),
        cmocka_unit_test(mask_forms_neighborhood_natten_window_size),
        cmocka_unit_test(mask_forms_neighborhood_grid_matches_definition),
        cmocka_unit_test(mask_forms_radial_strided_heads_sinks),
        cmocka_unit_test(mask_forms_document_and_blocks_read_params),
        cmocka_unit_test(masks_coordinates_and_logic),
        cmocka_unit_test(score_scale_softcap_alibi),
        cmocka_unit_test(score_relative_position_bias_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
