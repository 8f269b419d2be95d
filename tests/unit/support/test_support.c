/* Unit tests for support/: arena, strbuf, diagnostics rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "support/arena.h"
#include "support/diag.h"
#include "support/strbuf.h"
#include "support/suggest.h"

static void arena_allocates_zeroed_aligned_memory(void **state)
{
    arena a;
    arena_init(&a, NULL);
    for (int i = 1; i < 2000; i += 37) {
        unsigned char *p = arena_alloc(&a, (size_t)i);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (int j = 0; j < i; j++)
            assert_int_equal(p[j], 0);
        memset(p, 0xab, (size_t)i);
    }
    char *big = arena_alloc(&a, 1 << 20); /* larger than a chunk */
    assert_non_null(big);
    assert_string_equal(arena_printf(&a, "%d-%s", 42, "x"), "42-x");
    arena_free_all(&a);
}

static int fail_after;
static void *failing_alloc(void *user, size_t n)
{
    (void)user;
    return fail_after-- > 0 ? malloc(n) : NULL;
}
static void plain_free(void *user, void *p)
{
    (void)user;
    free(p);
}

static void arena_reports_failure_and_stays_failed(void **state)
{
    heap_alloc h = {failing_alloc, plain_free, NULL};
    arena a;
    arena_init(&a, &h);
    fail_after = 1;
    assert_non_null(arena_alloc(&a, 100));
    assert_null(arena_alloc(&a, 1 << 20));
    assert_true(a.failed);
    assert_null(arena_alloc(&a, 1));
    arena_free_all(&a);
}

static void arena_limit_is_enforced(void **state)
{
    arena a;
    arena_init(&a, NULL);
    a.limit = 1000;
    assert_non_null(arena_alloc(&a, 500));
    assert_null(arena_alloc(&a, 600));
    assert_true(a.failed);
    arena_free_all(&a);
}

static void strbuf_appends_and_formats(void **state)
{
    strbuf sb;
    sb_init(&sb);
    assert_string_equal(sb_cstr(&sb), "");
    for (int i = 0; i < 1000; i++)
        sb_printf(&sb, "%d,", i % 10);
    assert_int_equal(sb.len, 2000);
    sb_clear(&sb);
    sb_puts(&sb, "ab");
    sb_putc(&sb, 'c');
    assert_string_equal(sb_cstr(&sb), "abc");
    char *t = sb_take(&sb);
    assert_string_equal(t, "abc");
    free(t);
    assert_int_equal(sb.len, 0);
    sb_free(&sb);
}

static void diag_renders_location_source_caret_and_hint(void **state)
{
    arena a;
    arena_init(&a, NULL);
    const char *src = "recipe x\nmask   neighbourhood(window: 7)\n";
    diag_list d;
    diag_list_init(&d, &a, "r.attn", src, strlen(src));
    diag_error(&d, ((src_loc){2, 8, 13}), "write 'neighborhood'", "unknown mask form '%s'", "neighbourhood");
    strbuf out;
    sb_init(&out);
    diag_render(&d, &out);
    assert_string_equal(sb_cstr(&out), "r.attn:2:8: error: unknown mask form 'neighbourhood'\n"
                                       "    2 | mask   neighbourhood(window: 7)\n"
                                       "      |        ^~~~~~~~~~~~~\n"
                                       "  hint: write 'neighborhood'\n");
    sb_clear(&out);
    diag_render_brief(&d, &out);
    assert_string_equal(sb_cstr(&out), "2:8: error: unknown mask form 'neighbourhood'\n");
    assert_int_equal(d.errors, 1);
    sb_free(&out);
    arena_free_all(&a);
}

static void diag_shows_control_bytes_safely(void **state)
{
    arena a;
    arena_init(&a, NULL);
    const char src[] = "ab\0\x1b[31mcd\n";
    diag_list d;
    diag_list_init(&d, &a, "bin", src, sizeof src - 1);
    diag_error(&d, ((src_loc){1, 3, 1}), NULL, "unexpected byte 0x00");
    diag_error(&d, ((src_loc){7, 1, 1}), NULL, "past the end"); /* no such line: no excerpt */
    strbuf out;
    sb_init(&out);
    diag_render(&d, &out);
    assert_non_null(strstr(sb_cstr(&out), "    1 | ab??[31mcd\n"));
    assert_null(strchr(sb_cstr(&out), '\x1b'));
    assert_non_null(strstr(sb_cstr(&out), "bin:7:1: error: past the end\n"));
    sb_free(&out);
    arena_free_all(&a);
}

static void suggest_finds_near_names_only(void **state)
{
    static const char *const cmds[] = {"check", "ir", "ptx", "run", NULL, "bench"};
    assert_int_equal(suggest_distance("chek", "check"), 1);
    assert_int_equal(suggest_distance("fsuion", "fusion"), 1); /* a transposition is one edit */
    assert_int_equal(suggest_distance("", "abc"), 3);
    assert_string_equal(suggest_nearest("chek", cmds, 6), "check");
    assert_string_equal(suggest_nearest("bnech", cmds, 6), "bench"); /* NULL entries skipped */
    assert_string_equal(suggest_nearest("rn", cmds, 6), "run");
    assert_null(suggest_nearest("compile", cmds, 6)); /* nothing close */
    assert_null(suggest_nearest("", cmds, 6));
    char longw[SUGGEST_MAX_LEN + 2];
    memset(longw, 'a', sizeof longw - 1);
    longw[sizeof longw - 1] = 0;
    assert_int_equal(suggest_distance(longw, "a"), -1);
    assert_null(suggest_nearest(longw, cmds, 6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_allocates_zeroed_aligned_memory),
        cmocka_unit_test(arena_reports_failure_and_stays_failed),
        cmocka_unit_test(arena_limit_is_enforced),
        cmocka_unit_test(strbuf_appends_and_formats),
        cmocka_unit_test(diag_renders_location_source_caret_and_hint),
        cmocka_unit_test(diag_shows_control_bytes_safely),
        cmocka_unit_test(suggest_finds_near_names_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
