/*
 * parser_blocks.c — the two sections with their own small grammars.
 *
 *   linear      = "linear" "{" { item ( NEWLINE | ";" ) } "}"
 *   item        = "causal" | "noncausal" | "normalize" | "feature" NAME
 *               | "decay" expr | "no" "decay"
 *               | "split" { "block" INT | "intra" NAME | "inter" NAME }
 *   tile        = "tile" "auto" | "tile" { tile_clause }
 *   tile_clause = ("q" | "kv") "(" extent { "," extent } ")" | "stages" INT | "warps" INT
 *   extent      = INT | NAME ":" INT
 */
#include <stdio.h>
#include <string.h>

#include "syntax.h"

static const char *const item_names[LI_COUNT] = {"causal", "noncausal", "feature", "decay",
                                                 "no", "normalize", "split"};
static const char *const section_words[] = {"recipe", "input", "tokens", "param", "scale",
                                            "mask",   "score", "linear", "tile"};

static bool is_section_word(const token *t)
{
    if (t->kind != TK_IDENT)
        return false;
    for (size_t i = 0; i < sizeof section_words / sizeof *section_words; i++)
        if (!strcmp(t->text, section_words[i]))
            return true;
    return false;
}

static token *want_ident(parser *p, const char *what)
{
    token *t = fe_peek(p);
    if (t->kind == TK_IDENT)
        return fe_next(p);
    fe_syntax_error(p, t, "expected %s, found %s", what, fe_token_desc(p->a, t));
    return NULL;
}

static bool want_int(parser *p, const char *what, int64_t *out, src_loc *loc)
{
    token *t = fe_peek(p);
    if (t->kind != TK_INT) {
        fe_syntax_error(p, t, "expected %s, found %s", what, fe_token_desc(p->a, t));
        return false;
    }
    fe_next(p);
    *out = t->ival;
    *loc = t->loc;
    return true;
}

/* "split" { "block" INT | "intra" NAME | "inter" NAME } */
static bool parse_split(parser *p, linear_syntax *ls)
{
    bool any = false;
    while (fe_peek(p)->kind == TK_IDENT) {
        token *t = fe_next(p);
        any = true;
        if (!strcmp(t->text, "block")) {
            if (!want_int(p, "the block size after 'block'", &ls->block, &ls->block_loc))
                return false;
        } else if (!strcmp(t->text, "intra") || !strcmp(t->text, "inter")) {
            token *m = want_ident(p, !strcmp(t->text, "intra") ? "'quadratic'" : "'state' or 'chunked'");
            if (!m)
                return false;
            if (t->text[4] == 'a') {
                ls->intra = m->text;
                ls->intra_loc = m->loc;
            } else {
                ls->inter = m->text;
                ls->inter_loc = m->loc;
            }
        } else {
            diag_error(p->diags, t->loc, "write split block 64 intra quadratic inter state",
                       "unknown split option '%s'", t->text);
            return false;
        }
    }
    if (!any)
        fe_syntax_error(p, fe_peek(p), "expected 'block', 'intra' or 'inter' after 'split'");
    return any;
}

static bool parse_item_body(parser *p, linear_syntax *ls, int k, token *t)
{
    switch (k) {
    case LI_FEATURE: {
        token *m = want_ident(p, "a feature map (identity, elu1 or relu)");
        if (m) {
            ls->feature = m->text;
            ls->feature_loc = m->loc;
        }
        return m != NULL;
    }
    case LI_DECAY:
        return (ls->decay = fe_parse_expr(p)) != NULL;
    case LI_NO_DECAY: {
        token *m = fe_peek(p);
        if (m->kind == TK_IDENT && !strcmp(m->text, "decay")) {
            fe_next(p);
            return true;
        }
        fe_syntax_error(p, m, "expected 'decay' after 'no', found %s", fe_token_desc(p->a, m));
        return false;
    }
    case LI_SPLIT:
        return parse_split(p, ls);
    default:
        return true;
    }
}

static bool parse_item(parser *p, linear_syntax *ls)
{
    token *t = fe_next(p);
    int k = -1;
    for (int i = 0; t->kind == TK_IDENT && i < LI_COUNT; i++)
        if (!strcmp(t->text, item_names[i]))
            k = i;
    if (k < 0) {
        const char *near = t->kind == TK_IDENT ? fe_suggest(t->text, item_names, LI_COUNT) : NULL;
        char hint[64];
        snprintf(hint, sizeof hint, "write '%s'", near ? near : "");
        diag_error(p->diags, t->loc, near ? hint : "items: causal, noncausal, feature, decay, no decay, normalize, split",
                   "unknown linear attention item %s", fe_token_desc(p->a, t));
        return false;
    }
    if (ls->has[k]) {
        diag_error(p->diags, t->loc, NULL, "duplicate '%s' in the linear section", item_names[k]);
        return false;
    }
    ls->has[k] = true;
    ls->item_loc[k] = t->loc;
    p->bail = false;
    p->depth = 0;
    return parse_item_body(p, ls, k, t);
}

static void sync_item(parser *p)
{
    while (fe_peek(p)->kind != TK_EOF && !fe_is(fe_peek(p), P_RBRACE)) {
        token *t = fe_next(p);
        if (t->kind == TK_NEWLINE || fe_is(t, P_SEMI))
            return;
    }
}

/* Index of the next token that is not a line separator. */
static int next_real(parser *p)
{
    int i = p->pos;
    while (p->toks[i].kind == TK_NEWLINE || fe_is(&p->toks[i], P_SEMI))
        i++;
    return i;
}

bool fe_parse_linear(parser *p, linear_syntax *ls)
{
    token *open = fe_peek(p);
    if (!fe_expect(p, P_LBRACE, "after 'linear' (write linear { causal ... })"))
        return false;
    for (;;) {
        token *t = &p->toks[next_real(p)];
        if (fe_is(t, P_RBRACE)) {
            p->pos = next_real(p) + 1;
            return true;
        }
        if (t->kind == TK_EOF || is_section_word(t)) {
            diag_error(p->diags, t->loc, NULL, "missing '}' to close the linear section opened at line %d",
                       open->loc.line);
            return true; /* the newline before t stays: the section ends cleanly */
        }
        p->pos = next_real(p);
        if (!parse_item(p, ls)) {
            sync_item(p);
            continue;
        }
        token *e = fe_peek(p);
        if (e->kind != TK_NEWLINE && !fe_is(e, P_SEMI) && !fe_is(e, P_RBRACE)) {
            fe_syntax_error(p, e, "expected end of line after a linear item, found %s", fe_token_desc(p->a, e));
            sync_item(p);
        }
    }
}

/* extents = "(" extent { "," extent } ")" */
static bool parse_extents(parser *p, dim_syntax *dims, int *n, src_loc *loc)
{
    *loc = fe_peek(p)->loc;
    if (!fe_expect(p, P_LPAREN, "before the tile extents"))
        return false;
    *n = 0;
    do {
        if (*n == 3) {
            fe_syntax_error(p, fe_peek(p), "a tile has at most 3 dimensions");
            return false;
        }
        dim_syntax *d = &dims[*n];
        token *t = fe_peek(p);
        if (t->kind == TK_IDENT && fe_is(&p->toks[p->pos + 1], P_COLON)) {
            d->label = t->text;
            d->label_loc = t->loc;
            p->pos += 2;
        }
        if (!want_int(p, "a tile extent (a number)", &d->num, &d->loc))
            return false;
        (*n)++;
    } while (fe_accept(p, P_COMMA));
    return fe_expect(p, P_RPAREN, "to close the tile extents");
}

static bool parse_tile_clause(parser *p, tile_syntax *ts, token *t)
{
    bool dup = (!strcmp(t->text, "q") && ts->nq) || (!strcmp(t->text, "kv") && ts->nkv) ||
               (!strcmp(t->text, "stages") && ts->stages) || (!strcmp(t->text, "warps") && ts->warps);
    if (dup) {
        diag_error(p->diags, t->loc, NULL, "'%s' is given twice in the tile section", t->text);
        return false;
    }
    if (!strcmp(t->text, "q"))
        return parse_extents(p, ts->q, &ts->nq, &ts->q_loc);
    if (!strcmp(t->text, "kv"))
        return parse_extents(p, ts->kv, &ts->nkv, &ts->kv_loc);
    if (!strcmp(t->text, "stages"))
        return want_int(p, "the number of stages", &ts->stages, &ts->stages_loc);
    if (!strcmp(t->text, "warps"))
        return want_int(p, "the number of warps", &ts->warps, &ts->warps_loc);
    static const char *const words[] = {"q", "kv", "stages", "warps", "auto"};
    const char *near = fe_suggest(t->text, words, 5);
    char hint[64];
    snprintf(hint, sizeof hint, "write '%s'", near ? near : "");
    diag_error(p->diags, t->loc, near ? hint : "write tile q(128) kv(64) stages 2 warps 4, or tile auto",
               "unknown tile option '%s'", t->text);
    return false;
}

bool fe_parse_tile(parser *p, tile_syntax *ts)
{
    token *t = fe_peek(p);
    if (t->kind == TK_IDENT && !strcmp(t->text, "auto")) {
        fe_next(p);
        ts->is_auto = true;
        return true;
    }
    if (t->kind != TK_IDENT) {
        fe_syntax_error(p, t, "expected 'auto' or tile options (q(...), kv(...), stages, warps), found %s",
                        fe_token_desc(p->a, t));
        return false;
    }
    while (fe_peek(p)->kind == TK_IDENT) {
        token *c = fe_next(p);
        if (!parse_tile_clause(p, ts, c))
            return false;
    }
    return true;
}
