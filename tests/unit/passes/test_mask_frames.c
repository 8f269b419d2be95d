/* mask_key_period (passes/mask_frames.c): which masks the GPU
 * forward may emit with their key-frame subtrees hoisted per tile
 * (ATTNC_MASK_FRAMES, on unless =0). Radial Attention's masks read the key only as
 * k.t div F and k.t mod F and qualify when the key tile fits in a frame;
 * a mask that reads the raw key token (causal, windows, documents, strided
 * heads), mixes two periods, or runs on a grid does not. mask_key_atom:
 * the one subtree through which a mask reads the element. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/mask_frames.h"
#include "frontend/frontend.h"
#include "ir/expr_eval.h"

/* The expanded mask of a recipe on `input` with `mask` (NULL when it does
 * not parse). */
static const expr *mask_of(arena *a, const char *input, const char *mask)
{
    char src[512];
    snprintf(src, sizeof src, "recipe t\n%s\n%s\n", input, mask);
    size_t n = strlen(src);
    char *text = arena_alloc(a, n + 1);
    memcpy(text, src, n + 1);
    diag_list d;
    diag_list_init(&d, a, "t.attn", text, n);
    recipe *r = frontend_parse(a, "t.attn", text, n, &d);
    return r && !d.errors ? r->mask : NULL;
}

static int64_t period(const char *mask, int kv_tile)
{
    arena a;
    arena_init(&a, NULL);
    const expr *e = mask_of(&a, "input q, k, v : bf16 [batch, heads, tokens, 64]", mask);
    assert_non_null(e);
    int64_t F = mask_key_period(e, 0, kv_tile);
    arena_free_all(&a);
    return F;
}

static void radial_masks_hoist(void **state)
{
    (void)state;
    assert_int_equal(period("mask radial(frame: 1560, block: 128, decay: 1, sink: true)", 128), 1560);
    assert_int_equal(period("mask radial(frame: 200, block: 64, decay: 0.5, sink: false)", 128), 200);
    assert_int_equal(period("mask radial(frame: 128, block: 16, decay: 3, sink: true)", 128), 128);
    assert_int_equal(period("mask radial_token(frame: 300, window: 200)", 64), 300);
    /* a written mask of the same shape (block-diagonal, causal in the block) */
    assert_int_equal(period("mask k.t / 256 == q.t / 256 && k.t % 256 <= q.t % 256", 256), 256);
    /* a run-time block table indexed by k.t div bk: its loads hoist too */
    assert_int_equal(period("param table : u8 [nqb, nkb]\nmask blocks(table, bq: 64, bk: 128)", 128), 128);
}

static void other_masks_do_not(void **state)
{
    (void)state;
    /* the frame shorter than the key tile: three frames in a tile */
    assert_int_equal(period("mask radial(frame: 100, block: 64, decay: 1, sink: true)", 128), 0);
    assert_int_equal(period("mask causal", 64), 0);
    assert_int_equal(period("mask sliding_window(1023, 0)", 64), 0);
    assert_int_equal(period("mask causal && radial(frame: 512, block: 64, decay: 1, sink: false)", 64), 0);
    assert_int_equal(period("mask strided_heads(stride: 256, local: 128)", 64), 0);
    /* two periods */
    assert_int_equal(period("mask k.t / 256 == q.t / 256 || k.t % 512 < 16", 64), 0);
    assert_int_equal(period("param doc : i32 [tokens]\nmask document(doc)", 64), 0);
    /* nothing of the key to hoist: key only as k.t mod F */
    assert_int_equal(period("mask k.t % 256 < 128", 64), 0);
    /* a grid (the check is on token sequences only) */
    arena a;
    arena_init(&a, NULL);
    const expr *e = mask_of(&a, "input q, k, v : bf16 [batch, heads, tokens, 64]",
                            "mask radial(frame: 1560, block: 128, decay: 1, sink: true)");
    assert_non_null(e);
    assert_int_equal(mask_key_period(e, 2, 64), 0);
    assert_int_equal(mask_key_period(NULL, 0, 64), 0);
    arena_free_all(&a);
}

/* The atom of mask (mask_key_atom at its period F), NULL when none;
 * *root: whether it is the whole mask. */
static const expr *atom_of(arena *a, const char *mask, int64_t F, bool *root)
{
    const expr *e = mask_of(a, "input q, k, v : bf16 [batch, heads, tokens, 64]", mask);
    assert_non_null(e);
    const expr *at = mask_key_atom(e, F);
    *root = at == e;
    return at;
}

/* radial's element test is its band |si - sj| <= w (under the sink, split
 * and adjacent-frame logic); radial_token's is the whole mask; two element
 * tests under one || give that ||; a mask reading no element has none. */
static void atoms(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, NULL);
    bool root;
    const expr *at = atom_of(&a, "mask radial(frame: 1560, block: 128, decay: 1, sink: true)", 1560, &root);
    assert_non_null(at);
    assert_false(root);
    assert_int_equal(at->kind, EX_BINARY);
    assert_int_equal(at->u.binop, BIN_LE);
    assert_int_equal(at->args[0]->kind, EX_UNARY); /* abs(si - sj) */
    at = atom_of(&a, "mask radial_token(frame: 300, window: 200)", 300, &root);
    assert_non_null(at);
    assert_true(root);
    at = atom_of(&a, "mask k.t / 256 == q.t / 256 && (k.t % 256 < 10 || k.t % 256 > 200)", 256, &root);
    assert_non_null(at);
    assert_int_equal(at->u.binop, BIN_OR);
    assert_null(atom_of(&a, "mask k.t / 256 == q.t / 256", 256, &root));
    arena_free_all(&a);
}

/* Constants the GPU forward gives in place of subtrees: `k.t div F` (kf),
 * `k.t mod F` (sj), the hoisted nodes (their values) and the atom (av;
 * -1: none). */
typedef struct subst_map {
    int64_t F, kf, sj;
    const expr **nodes;
    const expr_val *vals;
    int n;
    const expr *atom;
    int av;
} subst_map;

static expr *constant(arena *a, expr_val v)
{
    return v.type == TY_BOOL ? ex_bool(a, v.i != 0) : v.type == TY_INT ? ex_int(a, v.i) : ex_float(a, v.f);
}

/* A copy of e with the map's subtrees replaced by constants. */
static const expr *subst(arena *a, const expr *e, const subst_map *m)
{
    if (e == m->atom && m->av >= 0)
        return ex_bool(a, m->av);
    for (int i = 0; i < m->n; i++)
        if (e == m->nodes[i])
            return constant(a, m->vals[i]);
    if (mask_is_key_by(e, BIN_DIV, m->F))
        return ex_int(a, m->kf);
    if (mask_is_key_by(e, BIN_MOD, m->F))
        return ex_int(a, m->sj);
    if (!e->nargs)
        return e;
    expr *c = arena_alloc(a, sizeof *c);
    *c = *e;
    c->args = arena_alloc(a, sizeof(expr *) * (size_t)e->nargs);
    for (int i = 0; i < e->nargs; i++)
        c->args[i] = (expr *)subst(a, e->args[i], m);
    return c;
}

static int64_t eval_at(const expr *e, int64_t q, int64_t k)
{
    eval_env env = {0};
    env.sizes[SZ_TOKENS] = env.sizes[SZ_KV_TOKENS] = 4096;
    eval_env_set_point(&env, q, k);
    expr_val v;
    assert_true(expr_eval(e, &env, &v));
    return v.i;
}

/* What the GPU forward computes for pair (q, k) of a radial mask equals the
 * mask: the hoisted subtrees evaluated with only the key's frame kf (the
 * key token itself a poison value), the element's expression with those
 * values and sj, and the Shannon form atom ? mask[atom:=1] : mask[atom:=0]
 * (nvptx_fa2_frames.c). Random radial and radial_token masks (frames 2 to
 * 40; the period condition on the key tile is left out here). */
static void decomposition_is_exact(void **state)
{
    (void)state;
    static const char *decays[] = {"1", "0.5", "0.25", "2", "1.5", "0.75"};
    srand(4242);
    const int64_t poison = -7777777;
    int atoms = 0;
    for (int round = 0; round < 60; round++) {
        char mask[160];
        int64_t F = 2 + rand() % 39; /* frame 1: k.t div 1 folds to k.t, no period */
        if (round % 4 == 3)
            snprintf(mask, sizeof mask, "mask radial_token(frame: %lld, window: %d)", (long long)F, 1 + rand() % 50);
        else
            snprintf(mask, sizeof mask, "mask radial(frame: %lld, block: %d, decay: %s, sink: %s)", (long long)F,
                     1 + rand() % 64, decays[rand() % 6], rand() % 2 ? "true" : "false");
        arena a;
        arena_init(&a, NULL);
        const expr *e = mask_of(&a, "input q, k, v : bf16 [batch, heads, tokens, 64]", mask);
        assert_non_null(e);
        if (mask_key_period(e, 0, 1) != F)
            fail_msg("%s: period %lld", mask, (long long)mask_key_period(e, 0, 1));
        const expr *nodes[16];
        int n = mask_key_frame_nodes(e, F, nodes, 16);
        assert_true(n > 0);
        const expr *atom = mask_key_atom(e, F);
        atoms += atom != NULL;
        for (int t = 0; t < 60; t++) {
            int64_t q = rand() % 400, k = rand() % 400, want = eval_at(e, q, k);
            expr_val vals[16];
            subst_map m = {F, k / F, poison, NULL, NULL, 0, NULL, -1};
            for (int i = 0; i < n; i++) /* per row and frame: the key token unread */
                assert_true(expr_eval(subst(&a, nodes[i], &m), &(eval_env){.qt = q, .q = {q}, .kt = poison,
                                                                          .k = {poison}}, &vals[i]));
            subst_map el = {F, poison, k % F, nodes, vals, n, NULL, -1};
            assert_int_equal(eval_at(subst(&a, e, &el), q, poison), want);
            if (!atom)
                continue;
            int64_t av = eval_at(subst(&a, atom, &el), q, poison);
            subst_map c0 = {F, k / F, poison, NULL, NULL, 0, atom, 0}, c1 = c0;
            c1.av = 1;
            assert_int_equal(eval_at(subst(&a, e, av ? &c1 : &c0), q, poison), want);
        }
        arena_free_all(&a);
    }
    assert_true(atoms > 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(radial_masks_hoist), cmocka_unit_test(other_masks_do_not),
                                       cmocka_unit_test(atoms), cmocka_unit_test(decomposition_is_exact)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
