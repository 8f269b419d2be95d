/*
 * fuzz_frontend.c — libFuzzer entry for the front end.
 *
 * Any byte string goes through frontend_parse() and both diagnostic
 * renderers. Beyond "no crash, no leak, no hang" (ASan/UBSan and libFuzzer
 * check those) it asserts the front end's contract: a result exactly when
 * there is no error, every error with a location inside the file, and a
 * returned recipe whose expanded mask has no named forms left and whose
 * score exists. The same file builds with gcc and replay_main.c for the
 * ctest replay of tests/fuzz/corpus/.
 */
#include <stdint.h>
#include <stdlib.h>

#include "frontend/frontend.h"

static void check(bool ok)
{
    if (!ok)
        abort(); /* a contract violation: libFuzzer saves the input */
}

static void check_recipe(const recipe *r, const diag_list *d)
{
    check(d->errors == 0);
    if (r->family == FAMILY_SOFTMAX)
        check(r->score != NULL && r->score->type == TY_FLOAT);
    else
        check(r->mask == NULL && r->grid_ndim == 0);
    check(!expr_uses_kind(r->mask, EX_FORM));
    check((r->mask == NULL) == (r->mask_surface == NULL));
    check(r->mask == NULL || r->mask->type == TY_BOOL);
    check(r->grid_ndim >= 0 && r->grid_ndim <= 3);
    strbuf sb;
    sb_init(&sb);
    expr_print(&sb, r->mask, NULL, NULL);
    expr_print(&sb, r->score, NULL, NULL);
    schedule_print(&sb, &r->sched);
    sb_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena a;
    arena_init(&a, NULL);
    diag_list d;
    const char *text = (const char *)data;
    diag_list_init(&d, &a, "fuzz.attn", text, size);
    recipe *r = frontend_parse(&a, "fuzz.attn", text, size, &d);
    check((r != NULL) == (d.errors == 0));
    int lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    for (const diag *x = d.first; x; x = x->next)
        check(x->loc.line >= 1 && x->loc.line <= lines + 1 && x->loc.col >= 1 && x->message);
    if (r)
        check_recipe(r, &d);
    strbuf out;
    sb_init(&out);
    diag_render(&d, &out);
    diag_render_brief(&d, &out);
    sb_free(&out);
    arena_free_all(&a);
    return 0;
}
