/* The lexer's punctuation switch (frontend/lexer.c, match_punct) agrees
 * with the PUNCTS table (frontend/syntax.h): every entry lexes to exactly
 * its own token, alone and followed by each other entry (longest match:
 * "<=" is one token, "< =" two), and the bytes that start no punctuation
 * ('&', '|' alone, '@', '$') are errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "frontend/syntax.h"

static arena g_arena; /* the tokens of the last lex() */

/* Lexes text; returns the token count without EOF and NEWLINE tokens. */
static int lex(const char *text, token **out, int *errors)
{
    arena_free_all(&g_arena);
    arena_init(&g_arena, NULL);
    diag_list d;
    diag_list_init(&d, &g_arena, "t.attn", text, strlen(text));
    int n = 0;
    token *t = fe_lex(&g_arena, text, strlen(text), &d, &n);
    assert_non_null(t);
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (t[i].kind != TK_EOF && t[i].kind != TK_NEWLINE)
            t[kept++] = t[i];
    *out = t;
    *errors = d.errors;
    return kept;
}

static void every_punct_lexes_to_itself(void **state)
{
    for (int p = 0; p < P_COUNT; p++) {
        token *t;
        int errors;
        assert_int_equal(lex(fe_punct_text(p), &t, &errors), 1);
        assert_int_equal(errors, 0);
        assert_int_equal(t[0].kind, TK_PUNCT);
        assert_int_equal(t[0].op, p);
        for (int q = 0; q < P_COUNT; q++) {
            char both[8];
            snprintf(both, sizeof both, "%s %s", fe_punct_text(p), fe_punct_text(q));
            assert_int_equal(lex(both, &t, &errors), 2);
            assert_int_equal(t[0].op, p);
            assert_int_equal(t[1].op, q);
        }
    }
}

static void longest_match_and_junk(void **state)
{
    token *t;
    int errors;
    assert_int_equal(lex("a<=b", &t, &errors), 3);
    assert_int_equal(t[1].op, P_LE);
    assert_int_equal(lex("a<b", &t, &errors), 3);
    assert_int_equal(t[1].op, P_LT);
    assert_int_equal(lex("!!=", &t, &errors), 2);
    assert_int_equal(t[0].op, P_BANG);
    assert_int_equal(t[1].op, P_NE);
    static const char *junk[] = {"&", "|", "@", "$", "a & b", "`"};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        lex(junk[i], &t, &errors);
        assert_true(errors > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_punct_lexes_to_itself),
        cmocka_unit_test(longest_match_and_junk),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    arena_free_all(&g_arena);
    return failed;
}
