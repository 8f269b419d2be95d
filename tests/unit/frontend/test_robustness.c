/*
 * "Never a crash, a hang or a leak on any input" (recipe-language.md,
 * Diagnostics): random bytes, NUL bytes, invalid UTF-8, a 1 MB line,
 * 100k-deep nesting in every recursive construct, a huge token count, and
 * out-of-memory at every allocation limit. Each must end with a diagnostic
 * and no recipe; ASan/UBSan builds check memory.
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

/* Parses and renders; returns the error count. */
static int parse_bytes(const char *src, size_t len, const char *must_contain)
{
    arena a;
    arena_init(&a, NULL);
    diag_list d;
    diag_list_init(&d, &a, "fuzz.attn", src, len);
    recipe *r = frontend_parse(&a, "fuzz.attn", src, len, &d);
    strbuf out;
    sb_init(&out);
    diag_render(&d, &out);
    if (must_contain && !strstr(sb_cstr(&out), must_contain))
        fail_msg("expected '%s' in:\n%.2000s", must_contain, sb_cstr(&out));
    int errors = d.errors;
    if (errors)
        assert_null(r);
    assert_true(d.errors <= 50); /* the list is capped */
    sb_free(&out);
    arena_free_all(&a);
    return errors;
}

static char *repeat(const char *prefix, const char *unit, size_t times, const char *suffix, size_t *len)
{
    size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
    *len = pl + ul * times + sl;
    char *s = malloc(*len + 1);
    assert_non_null(s);
    memcpy(s, prefix, pl);
    for (size_t i = 0; i < times; i++)
        memcpy(s + pl + i * ul, unit, ul);
    memcpy(s + pl + ul * times, suffix, sl + 1);
    return s;
}

static void diagnostics_random_bytes(void **state)
{
    srand(12345);
    char buf[4096];
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(rand() % (int)sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(rand() % 256);
        assert_true(parse_bytes(buf, n, NULL) >= 1);
    }
    /* printable garbage built from the language's own tokens */
    static const char *const words[] = {"mask ", "(", ")", "[", "]", "{", "}", "linear", "tile", "q.t", "k.y",
                                        ",", ":", "7", "&&", "||", "!", "\n", "neighborhood", "window:", "-", "#"};
    for (int round = 0; round < 2000; round++) {
        size_t n = 0;
        for (int i = 0; i < 60; i++) {
            const char *w = words[rand() % (int)(sizeof words / sizeof *words)];
            memcpy(buf + n, w, strlen(w));
            n += strlen(w);
        }
        parse_bytes(buf, n, NULL);
    }
}

static void diagnostics_empty_nul_and_bad_utf8(void **state)
{
    assert_int_equal(parse_bytes("", 0, "1:1: error: missing 'recipe NAME' line"), 2);
    assert_true(parse_bytes(NULL, 0, "missing 'recipe NAME' line") >= 1);
    const char nul[] = "recipe x\0y\n";
    parse_bytes(nul, sizeof nul - 1, "1:9: error: NUL byte in the recipe text");
    parse_bytes("recipe \xc0\xaf\n", 10, "1:8: error: invalid UTF-8 byte 0xc0");
    parse_bytes("recipe x # \xed\xa0\n", 14, "invalid UTF-8 byte 0xed in a comment");
}

static void diagnostics_huge_line(void **state)
{
    size_t len;
    char *s = repeat("recipe x\nmask ", "k.t + ", 1 << 18, "1 > q.t\n", &len); /* 1.5 MB, one line */
    parse_bytes(s, len, "expression nested too deeply");
    free(s);
    s = repeat("recipe ", "a", 1 << 20, "\n", &len); /* a 1 MB identifier */
    parse_bytes(s, len, "missing input 'q'");
    free(s);
    s = repeat("", "# comment line\n", 70000, "", &len);
    parse_bytes(s, len, "missing 'recipe NAME' line");
    free(s);
}

static void diagnostics_deep_nesting(void **state)
{
    static const char *const units[] = {"(", "!", "-", "min(1, ", "doc[", "neighborhood(window: ("};
    for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
        size_t len;
        char *s = repeat("recipe x\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nmask ", units[u], 100000, "\n", &len);
        parse_bytes(s, len, "expression nested too deeply (more than 128 levels)");
        free(s);
    }
}

static void diagnostics_too_many_tokens(void **state)
{
    size_t len;
    char *s = repeat("recipe x\n", ";", (1 << 20) + 10, "\n", &len);
    parse_bytes(s, len, "recipe too large: more than 1048576 tokens");
    free(s);
}

/* Every arena limit from tiny to enough: either a recipe or an error, never
 * a crash; the ASan build checks for leaks. */
static void diagnostics_out_of_memory(void **state)
{
    const char *src = "recipe n\ninput q, k, v : bf16 [batch, heads, tokens, 128]\ntokens grid(y: H, x: W)\n"
                      "param rpb : f32 [heads, 13, 13]\nmask neighborhood(window: (7, 7), dilation: (2, 2))\n"
                      "score s * scale + rpb[head, k.y - q.y + 6, k.x - q.x + 6]\ntile q(y: 8, x: 16) kv(y: 8, x: 8)\n";
    bool succeeded = false;
    for (size_t limit = 1024; limit < (1 << 22) && !succeeded; limit += limit / 8) {
        arena a, da;
        arena_init(&a, NULL);
        arena_init(&da, NULL);
        a.limit = limit;
        diag_list d;
        diag_list_init(&d, &da, "oom.attn", src, strlen(src));
        recipe *r = frontend_parse(&a, "oom.attn", src, strlen(src), &d);
        if (r) {
            succeeded = true;
            assert_int_equal(d.errors, 0);
        } else {
            assert_true(a.failed);
            assert_non_null(d.first);
            assert_string_equal(d.first->message, "out of memory while compiling the recipe");
        }
        arena_free_all(&a);
        arena_free_all(&da);
    }
    assert_true(succeeded);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(diagnostics_random_bytes),
        cmocka_unit_test(diagnostics_empty_nul_and_bad_utf8),
        cmocka_unit_test(diagnostics_huge_line),
        cmocka_unit_test(diagnostics_deep_nesting),
        cmocka_unit_test(diagnostics_too_many_tokens),
        cmocka_unit_test(diagnostics_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
