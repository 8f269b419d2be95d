/*
 * Sizes in recipes (docs/recipe-language.md §3.2-3.4, issue #12 items 6 and
 * 15): numbers in q/k/v shapes fix batch, heads, kv_heads, tokens and
 * kv_tokens; fixed sizes are constants in expressions; fixed sizes and
 * fixed grids beyond the limits of ir/expr.h are recipe errors at the line
 * and column of the number.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"

typedef struct parsed {
    arena a;
    diag_list d;
    recipe *r;
    char first[512]; /* first line of the brief diagnostics */
} parsed;

static void parse(parsed *p, const char *src)
{
    arena_init(&p->a, NULL);
    diag_list_init(&p->d, &p->a, "t.attn", src, strlen(src));
    p->r = frontend_parse(&p->a, "t.attn", src, strlen(src), &p->d);
    strbuf out;
    sb_init(&out);
    diag_render_brief(&p->d, &out);
    const char *text = sb_cstr(&out);
    const char *nl = strchr(text, '\n');
    snprintf(p->first, sizeof p->first, "%.*s", nl ? (int)(nl - text) : (int)strlen(text), text);
    sb_free(&out);
}

typedef struct ok_case {
    const char *src;
    int64_t batch, heads, kv_heads, tokens, kv_tokens; /* expected .fixed, 0: bound at launch */
    bool gqa, cross;
} ok_case;

/* Issue #12 item 6: `input q : bf16 [batch, 8, tokens, 128]` and friends. */
static void numbers_fix_sizes(void **state)
{
    (void)state;
    static const ok_case cases[] = {
        {"recipe t\ninput q, k, v : bf16 [batch, 8, tokens, 128]\n", 0, 8, 0, 0, 0, false, false},
        {"recipe t\ninput q, k, v : bf16 [4, 8, 1024, 64]\n", 4, 8, 0, 1024, 0, false, false},
        {"recipe t\ninput q : bf16 [batch, 8, tokens, 64]\ninput k, v : bf16 [batch, 2, tokens, 64]\n", 0, 8, 2, 0, 0,
         true, false},
        {"recipe t\ninput q : bf16 [batch, heads, tokens, 64]\ninput k, v : bf16 [batch, 1, tokens, 64]\n", 0, 0, 1, 0,
         0, true, false},
        {"recipe t\ninput q : bf16 [batch, 8, tokens, 64]\ninput k, v : bf16 [batch, heads, tokens, 64]\n", 0, 8, 0, 0,
         0, false, false},
        {"recipe t\ninput q : bf16 [batch, 8, tokens, 64]\ninput k, v : bf16 [batch, kv_heads, tokens, 64]\n", 0, 8, 0,
         0, 0, true, false},
        {"recipe t\ninput q : bf16 [2, heads, 77, 64]\ninput k, v : bf16 [2, heads, 300, 64]\n", 2, 0, 0, 77, 300,
         false, true},
        {"recipe t\ninput q : bf16 [batch, heads, 77, 64]\ninput k, v : bf16 [batch, heads, 77, 64]\n", 0, 0, 0, 77, 0,
         false, false},
        {"recipe t\ninput q, k, v : bf16 [batch, heads, 4096, 64]\ntokens grid(y: 64, x: 64)\n", 0, 0, 0, 4096, 0,
         false, false},
        {"recipe t\ninput q, k, v : bf16 [batch, heads, 1073741824, 64]\n", 0, 0, 0, 1073741824, 0, false, false},
        {"recipe t\ninput q, k, v : bf16 [65535, 65535, tokens, 64]\n", 65535, 65535, 0, 0, 0, false, false},
        {"recipe t\ninput q, k, v : bf16 [batch, heads, tokens, 64]\ntokens grid(z: 1024, y: 1024, x: 1024)\n", 0, 0,
         0, 1073741824, 0, false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed p;
        parse(&p, cases[i].src);
        if (!p.r)
            fail_msg("case %zu rejected: %s", i, p.first);
        const recipe_size *z = p.r->sizes;
        int64_t got[5] = {z[SZ_BATCH].fixed, z[SZ_HEADS].fixed, z[SZ_KV_HEADS].fixed, z[SZ_TOKENS].fixed,
                          z[SZ_KV_TOKENS].fixed};
        int64_t want[5] = {cases[i].batch, cases[i].heads, cases[i].kv_heads, cases[i].tokens, cases[i].kv_tokens};
        for (int s = 0; s < 5; s++)
            if (got[s] != want[s])
                fail_msg("case %zu: %s fixed %lld, want %lld", i, size_id_name((size_id)s), (long long)got[s],
                         (long long)want[s]);
        assert_int_equal(p.r->gqa, cases[i].gqa);
        assert_int_equal(p.r->cross, cases[i].cross);
        arena_free_all(&p.a);
    }
}

/* A fixed size is a constant wherever its name is written (and in forms). */
static void fixed_sizes_are_constants(void **state)
{
    (void)state;
    parsed p;
    parse(&p, "recipe t\ninput q, k, v : bf16 [batch, 8, 100, 64]\n"
              "mask k.t <= q.t && head < heads && q.t < tokens && sliding_window(10, 0)\n");
    if (!p.r)
        fail_msg("%s", p.first);
    strbuf s;
    sb_init(&s);
    expr_print(&s, p.r->mask, NULL, NULL);
    const char *m = sb_cstr(&s);
    assert_null(strstr(m, "$heads"));
    assert_null(strstr(m, "$tokens"));
    assert_non_null(strstr(m, "(lt head 8)"));
    assert_non_null(strstr(m, "(lt q.t 100)"));
    sb_free(&s);
    arena_free_all(&p.a);
}

typedef struct err_case {
    const char *src;
    const char *first;
} err_case;

#define QKV "recipe t\ninput q, k, v : bf16 [batch, heads, tokens, 64]\n"

/* Issue #12 items 6 and 15: every size rule, the exact first diagnostic. */
static void size_errors(void **state)
{
    (void)state;
    static const err_case cases[] = {
        /* limits of fixed sizes */
        {"recipe t\ninput q, k, v : bf16 [65536, heads, tokens, 64]\n",
         "2:23: error: batch must be from 1 to 65535, not 65536"},
        {"recipe t\ninput q, k, v : bf16 [batch, 65536, tokens, 64]\n",
         "2:30: error: heads must be from 1 to 65535, not 65536"},
        {"recipe t\ninput q, k, v : bf16 [batch, heads, 1073741825, 64]\n",
         "2:37: error: tokens must be from 1 to 1073741824, not 1073741825"},
        {"recipe t\ninput q, k, v : bf16 [batch, heads, 9223372036854775807, 64]\n",
         "2:37: error: tokens must be from 1 to 1073741824, not 9223372036854775807"},
        {"recipe t\ninput q, k, v : bf16 [batch, 0, tokens, 64]\n", "2:30: error: heads must be from 1 to 65535, not 0"},
        {"recipe t\ninput q : bf16 [batch, heads, tokens, 64]\ninput k, v : bf16 [batch, 70000, tokens, 64]\n",
         "3:27: error: kv_heads must be from 1 to 65535, not 70000"},
        {"recipe t\ninput q : bf16 [batch, heads, tokens, 64]\ninput k, v : bf16 [batch, heads, 2000000000, 64]\n",
         "3:34: error: kv_tokens must be from 1 to 1073741824, not 2000000000"},
        /* a fixed grid of 2^72 tokens (issue #12 item 15), and of 2^30 + 2^24 */
        {QKV "tokens grid(z: 16777216, y: 16777216, x: 16777216)\n",
         "3:29: error: the token grid's fixed extents hold more than 1073741824 tokens"},
        {QKV "tokens grid(z: 65, y: 4096, x: 4096)\n",
         "3:32: error: the token grid's fixed extents hold more than 1073741824 tokens"},
        {QKV "tokens grid(z: T, y: 16777216, x: 16777216)\n",
         "3:35: error: the token grid's fixed extents hold more than 1073741824 tokens"},
        /* q, k and v against each other and the grid */
        {"recipe t\ninput q, k, v : bf16 [batch, heads, 100, 64]\ntokens grid(y: 8, x: 8)\n",
         "2:37: error: q has 100 tokens but the token grid holds 64"},
        {"recipe t\ninput q : bf16 [2, heads, tokens, 64]\ninput k, v : bf16 [3, heads, tokens, 64]\n",
         "3:20: error: k and v must have q's batch"},
        {"recipe t\ninput q : bf16 [batch, heads, tokens, 64]\ninput k, v : bf16 [3, heads, tokens, 64]\n",
         "3:20: error: k and v must have q's batch"},
        {"recipe t\ninput q : bf16 [batch, 8, tokens, 64]\ninput k, v : bf16 [batch, 3, tokens, 64]\n",
         "3:27: error: heads = 8 is not a multiple of kv_heads = 3"},
        {"recipe t\ninput q, k : bf16 [batch, 8, tokens, 64]\ninput v : bf16 [batch, 4, tokens, 64]\n",
         "3:24: error: k and v must agree: k has '8' here, v has '4'"},
        {"recipe t\ninput q, k : bf16 [batch, heads, tokens, 64]\ninput v : bf16 [batch, heads, 50, 64]\n",
         "3:31: error: k and v must agree: k has 'tokens' here, v has '50'"},
        {"recipe t\ninput q : bf16 [batch, heads, tokens, 64]\ninput k, v : bf16 [batch, heads, 50, 64]\n"
         "tokens grid(y: H, x: W)\n",
         "3:34: error: a recipe with a token grid needs k and v over the same tokens as q"},
        {"recipe t\ninput q, k, v : bf16 [batch, heads, seq, 64]\n",
         "2:37: error: the shape of q must be [batch, heads, tokens, HEAD_DIM]"},
        /* a window larger than fixed tokens of a sequence */
        {"recipe t\ninput q, k, v : bf16 [batch, heads, 20, 64]\nmask neighborhood(window: 33)\n",
         "3:27: error: window 33 is larger than the recipe's tokens 20"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed p;
        parse(&p, cases[i].src);
        if (p.r || strcmp(p.first, cases[i].first))
            fail_msg("case %zu: got '%s'%s\nwant '%s'", i, p.first, p.r ? " (and a recipe)" : "", cases[i].first);
        arena_free_all(&p.a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_fix_sizes),
        cmocka_unit_test(fixed_sizes_are_constants),
        cmocka_unit_test(size_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
