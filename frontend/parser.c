/*
 * parser.c — sections of a recipe file (one per line) into `syntax`.
 *
 *   file    = { section ( NEWLINE | ";" ) }
 *   section = "recipe" NAME
 *           | "input" NAME { "," NAME } ":" DTYPE shape
 *           | "tokens" "grid" "(" NAME ":" dim { "," NAME ":" dim } ")"
 *           | "param" NAME ":" DTYPE [ shape ]
 *           | "scale" "=" expr
 *           | "mask" expr | "score" expr
 *           | "linear" "{" { linear_item ( NEWLINE | ";" ) } "}"
 *           | "tile" ( "auto" | { tile_clause } )
 *   shape   = "[" dim { "," dim } "]"        dim = NAME | INT
 *
 * Nothing is checked here beyond syntax; sema.c gives meaning. After an
 * error the parser skips to the end of the line and goes on, so one file can
 * report several errors.
 */
#include <stdio.h>
#include <string.h>

#include "syntax.h"

static const char *const section_names[SEC_COUNT] = {"recipe", "input", "tokens", "param", "scale",
                                                     "mask",   "score", "linear", "tile"};

/* Skips to the end of the line (not consuming a '}' that closes a block). */
static void sync_line(parser *p, bool in_block)
{
    for (;;) {
        token *t = fe_peek(p);
        if (t->kind == TK_EOF)
            return;
        if (in_block && fe_is(t, P_RBRACE))
            return;
        fe_next(p);
        if (t->kind == TK_NEWLINE || fe_is(t, P_SEMI))
            return;
    }
}

static bool at_line_end(parser *p)
{
    token *t = fe_peek(p);
    return t->kind == TK_NEWLINE || t->kind == TK_EOF || fe_is(t, P_SEMI);
}

static token *expect_ident(parser *p, const char *what)
{
    token *t = fe_peek(p);
    if (t->kind == TK_IDENT)
        return fe_next(p);
    fe_syntax_error(p, t, "expected %s, found %s", what, fe_token_desc(p->a, t));
    return NULL;
}

static bool parse_dim(parser *p, dim_syntax *d)
{
    token *t = fe_peek(p);
    d->loc = t->loc;
    if (t->kind == TK_IDENT) {
        d->name = fe_next(p)->text;
        return true;
    }
    if (t->kind == TK_INT) {
        d->num = fe_next(p)->ival;
        return true;
    }
    fe_syntax_error(p, t, "expected a size name or a number, found %s", fe_token_desc(p->a, t));
    return false;
}

/* shape = "[" dim { "," dim } "]" */
static bool parse_shape(parser *p, dim_syntax *dims, int *ndims)
{
    if (!fe_expect(p, P_LBRACK, "to start a shape"))
        return false;
    *ndims = 0;
    do {
        if (*ndims == 4) {
            fe_syntax_error(p, fe_peek(p), "a shape has at most 4 dimensions");
            return false;
        }
        if (!parse_dim(p, &dims[(*ndims)++]))
            return false;
    } while (fe_accept(p, P_COMMA));
    return fe_expect(p, P_RBRACK, "to close the shape");
}

/* "input" NAME { "," NAME } ":" DTYPE shape */
static bool parse_input(parser *p, syntax *syn)
{
    input_syntax *in = ARENA_NEW(p->a, input_syntax);
    if (!in)
        return false;
    do {
        token *t = expect_ident(p, "an input name (q, k or v)");
        if (!t)
            return false;
        if (in->nnames == 3) {
            fe_syntax_error(p, t, "an input line declares at most q, k and v");
            return false;
        }
        in->name_locs[in->nnames] = t->loc;
        in->names[in->nnames++] = t->text;
    } while (fe_accept(p, P_COMMA));
    if (!fe_expect(p, P_COLON, "before the element type"))
        return false;
    token *dt = expect_ident(p, "an element type (bf16, f16 or f32)");
    if (!dt)
        return false;
    in->dtype = dt->text;
    in->dtype_loc = dt->loc;
    in->shape_loc = fe_peek(p)->loc;
    if (!parse_shape(p, in->dims, &in->ndims))
        return false;
    input_syntax **tail = &syn->inputs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = in;
    return true;
}

/* "tokens" "grid" "(" NAME ":" dim { "," NAME ":" dim } ")" */
static bool parse_tokens(parser *p, syntax *syn)
{
    token *g = expect_ident(p, "'grid'");
    if (!g)
        return false;
    if (strcmp(g->text, "grid")) {
        diag_error(p->diags, g->loc, "write 'tokens grid(y: H, x: W)'", "expected 'grid', found '%s'",
                   g->text);
        return false;
    }
    syn->grid_loc = g->loc;
    if (!fe_expect(p, P_LPAREN, "after 'grid'"))
        return false;
    int n = 0;
    do {
        token *t = fe_peek(p);
        if (n == 3) {
            fe_syntax_error(p, t, "a token grid has at most 3 dimensions");
            return false;
        }
        dim_syntax *d = &syn->grid[n];
        token *label = expect_ident(p, "a grid dimension name");
        if (!label)
            return false;
        d->label = label->text;
        d->label_loc = label->loc;
        if (!fe_expect(p, P_COLON, "after the dimension name (e.g. y: H)") || !parse_dim(p, d))
            return false;
        n++;
    } while (fe_accept(p, P_COMMA));
    syn->grid_ndim = n;
    return fe_expect(p, P_RPAREN, "to close the grid");
}

/* "param" NAME ":" DTYPE [ shape ] */
static bool parse_param(parser *p, syntax *syn)
{
    param_syntax *ps = ARENA_NEW(p->a, param_syntax);
    token *name = expect_ident(p, "a parameter name");
    if (!ps || !name || !fe_expect(p, P_COLON, "before the element type"))
        return false;
    ps->name = name->text;
    ps->name_loc = name->loc;
    token *dt = expect_ident(p, "an element type (f32, i32, u8, ...)");
    if (!dt)
        return false;
    ps->dtype = dt->text;
    ps->dtype_loc = dt->loc;
    if (fe_is(fe_peek(p), P_LBRACK) && !parse_shape(p, ps->dims, &ps->ndims))
        return false;
    param_syntax **tail = &syn->params;
    while (*tail)
        tail = &(*tail)->next;
    *tail = ps;
    return true;
}

bool fe_parse_linear(parser *p, linear_syntax *ls);
bool fe_parse_tile(parser *p, tile_syntax *ts);

static bool parse_section_body(parser *p, section_kind k, syntax *syn, bool first)
{
    syntax scratch; /* a duplicate section is parsed for its errors, then dropped */
    syntax *dst = first ? syn : &scratch;
    if (!first)
        memset(&scratch, 0, sizeof scratch);
    switch (k) {
    case SEC_RECIPE: {
        token *t = expect_ident(p, "the recipe's name");
        if (t) {
            dst->name = t->text;
            dst->name_loc = t->loc;
        }
        return t != NULL;
    }
    case SEC_INPUT:
        return parse_input(p, syn);
    case SEC_TOKENS:
        return parse_tokens(p, dst);
    case SEC_PARAM:
        return parse_param(p, syn);
    case SEC_SCALE:
        if (!fe_expect(p, P_ASSIGN, "after 'scale' (write scale = 0.125)"))
            return false;
        return (dst->scale = fe_parse_expr(p)) != NULL;
    case SEC_MASK:
        return (dst->mask = fe_parse_expr(p)) != NULL;
    case SEC_SCORE:
        return (dst->score = fe_parse_expr(p)) != NULL;
    case SEC_LINEAR:
        return fe_parse_linear(p, &dst->linear);
    case SEC_TILE:
        return fe_parse_tile(p, &dst->tile);
    default:
        return false;
    }
}

static int find_section(const char *name)
{
    for (int k = 0; k < SEC_COUNT; k++)
        if (!strcmp(name, section_names[k]))
            return k;
    return -1;
}

static void unknown_section(parser *p, token *t)
{
    if (t->kind != TK_IDENT) {
        fe_syntax_error(p, t, "expected a section (recipe, input, tokens, param, scale, mask, score, "
                              "linear, tile), found %s", fe_token_desc(p->a, t));
        return;
    }
    const char *near = fe_suggest(t->text, section_names, SEC_COUNT);
    char hint[64];
    if (near)
        snprintf(hint, sizeof hint, "write '%s'", near);
    diag_error(p->diags, t->loc, near ? hint : "sections: recipe, input, tokens, param, scale, mask, score, linear, tile",
               "unknown section %s", fe_token_desc(p->a, t));
}

static void parse_section(parser *p, syntax *syn)
{
    token *t = fe_peek(p);
    int k = t->kind == TK_IDENT ? find_section(t->text) : -1;
    if (k < 0) {
        unknown_section(p, t);
        sync_line(p, false);
        return;
    }
    fe_next(p);
    bool repeatable = k == SEC_INPUT || k == SEC_PARAM;
    bool first = !syn->has[k];
    if (!first && !repeatable) {
        diag_error(p->diags, t->loc, "a recipe has one section of each kind; merge them", "duplicate '%s' section",
                   section_names[k]);
        diag_add(p->diags, DIAG_NOTE, syn->loc[k], NULL, "the first '%s' section is here", section_names[k]);
    }
    if (first) {
        syn->has[k] = true;
        syn->loc[k] = t->loc;
    }
    p->bail = false;
    p->depth = 0;
    if (!parse_section_body(p, (section_kind)k, syn, first || repeatable)) {
        sync_line(p, false);
        return;
    }
    if (!at_line_end(p)) {
        token *x = fe_peek(p);
        fe_syntax_error(p, x, "expected end of line after the '%s' section, found %s", section_names[k],
                        fe_token_desc(p->a, x));
        sync_line(p, false);
    }
}

void fe_parse_recipe(arena *a, token *toks, int ntoks, diag_list *diags, syntax *out)
{
    memset(out, 0, sizeof *out);
    parser p = {.a = a, .toks = toks, .ntoks = ntoks, .diags = diags};
    int last_pos = -1;
    while (fe_peek(&p)->kind != TK_EOF && !a->failed && !fe_diag_full(diags)) {
        token *t = fe_peek(&p);
        if (t->kind == TK_NEWLINE || fe_is(t, P_SEMI)) {
            fe_next(&p);
            continue;
        }
        if (p.pos == last_pos) { /* no progress: cannot happen, but never loop forever */
            fe_next(&p);
            continue;
        }
        last_pos = p.pos;
        parse_section(&p, out);
    }
}
