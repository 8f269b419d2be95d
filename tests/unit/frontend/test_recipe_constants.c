/*
 * Integer constants (docs/recipe-language.md §3.9, issue #12 item 14): int
 * operations on constants are folded exactly when the recipe is checked,
 * and one whose value does not fit in 64 bits is a recipe error at the
 * operation ("constant overflows 64-bit int"). A hostile-input table: each
 * row is a section and the first diagnostic it must give ("" for none,
 * then the folded mask or score it must print).
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

typedef struct row {
    const char *section; /* line 3 of the recipe */
    const char *first;   /* first diagnostic, "" for none */
    const char *printed; /* with no error: a piece of the printed mask / score */
} row;

static const row rows[] = {
    /* the two masks of the issue */
    {"mask q.t - k.t < 9223372036854775807 + 1", "3:18: error: constant overflows 64-bit int", NULL},
    {"mask abs(k.t - q.t - 9223372036854775807 - 1) > 0", "", "(sub (sub (sub k.t q.t) 9223372036854775807) 1)"},
    /* every int operation at and past the edge */
    {"mask k.t < -9223372036854775807 - 1", "", "(lt k.t -9223372036854775808)"},
    {"mask k.t < -9223372036854775807 - 2", "3:12: error: constant overflows 64-bit int", NULL},
    {"mask k.t < 4611686018427387903 * 2", "", "(lt k.t 9223372036854775806)"},
    {"mask k.t < 4611686018427387904 * 2", "3:12: error: constant overflows 64-bit int", NULL},
    {"mask k.t < -4611686018427387904 * 2", "", "(lt k.t -9223372036854775808)"},
    {"mask k.t < -(-9223372036854775807 - 1)", "3:12: error: constant overflows 64-bit int", NULL},
    {"mask k.t < abs(-9223372036854775807 - 1)", "3:12: error: constant overflows 64-bit int", NULL},
    {"mask k.t < abs(-9223372036854775807)", "", "(lt k.t 9223372036854775807)"},
    {"mask k.t < (-9223372036854775807 - 1) / -1", "3:12: error: constant overflows 64-bit int", NULL},
    {"mask k.t < (-9223372036854775807 - 1) % -1", "", "(lt k.t 0)"},
    {"mask k.t < -7 / 2 + -7 % 2", "", "(lt k.t -3)"},
    {"mask k.t < min(9223372036854775807 * 2, q.t)", "3:16: error: constant overflows 64-bit int", NULL},
    {"mask k.t < max(3, 9) * min(2, -4) + clamp(12, 0, 5)", "", "(lt k.t -31)"},
    {"mask k.t < q.t + 9223372036854775807", "", "(add q.t 9223372036854775807)"},
    /* in scores, inside float(), in alibi_slope's own arithmetic */
    {"score s * scale + float(9223372036854775807 + 9223372036854775807)",
     "3:25: error: constant overflows 64-bit int", NULL},
    {"score s * alibi_slope(9223372036854775807)", "3:11: error: constant overflows 64-bit int", NULL},
    {"score s * alibi_slope(3)", "", "(float -32)"},
    /* fixed sizes are constants too (heads is 8 here, see below) */
    {"mask k.t < heads * 1152921504606846976", "3:12: error: constant overflows 64-bit int", NULL},
    {"mask k.t < heads * 1152921504606846975", "", "(lt k.t 9223372036854775800)"},
};

static void constants_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char src[512];
        snprintf(src, sizeof src, "recipe t\ninput q, k, v : f32 [batch, 8, tokens, 64]\n%s\n", rows[i].section);
        arena a;
        arena_init(&a, NULL);
        diag_list d;
        diag_list_init(&d, &a, "t.attn", src, strlen(src));
        recipe *r = frontend_parse(&a, "t.attn", src, strlen(src), &d);
        strbuf out;
        sb_init(&out);
        diag_render_brief(&d, &out);
        const char *text = sb_cstr(&out), *nl = strchr(text, '\n');
        char first[256];
        snprintf(first, sizeof first, "%.*s", nl ? (int)(nl - text) : (int)strlen(text), text);
        if (strcmp(first, rows[i].first) || (!r) != (rows[i].first[0] != 0))
            fail_msg("row %zu '%s': got '%s'%s, want '%s'", i, rows[i].section, first, r ? " and a recipe" : "",
                     rows[i].first);
        if (r && rows[i].printed) {
            strbuf p;
            sb_init(&p);
            expr_print(&p, r->mask ? r->mask : r->score, NULL, NULL);
            if (!strstr(sb_cstr(&p), rows[i].printed))
                fail_msg("row %zu '%s': printed %s, want it to contain %s", i, rows[i].section, sb_cstr(&p),
                         rows[i].printed);
            sb_free(&p);
        }
        sb_free(&out);
        arena_free_all(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(constants_table)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
