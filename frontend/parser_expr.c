/*
 * parser_expr.c — expressions (masks, scores, decay) by recursive descent,
 * plus the token helpers the section parser shares.
 *
 *   expr    = and { "||" and }
 *   and     = cmp { "&&" cmp }
 *   cmp     = sum [ ("<"|"<="|">"|">="|"=="|"!=") sum ]     (comparisons do not chain)
 *   sum     = product { ("+"|"-") product }
 *   product = unary { ("*"|"/"|"%") unary }
 *   unary   = ("-"|"!") unary | postfix
 *   postfix = NAME "(" [ arg { "," arg } ] ")" | NAME "[" expr { "," expr } "]"
 *           | NAME "." NAME | primary
 *   arg     = [ NAME ":" ] expr
 *   primary = INT | FLOAT | NAME | "(" expr { "," expr } ")"    (a tuple when 2+)
 *
 * Every node records its depth; past SYN_MAX_DEPTH the parser reports once
 * and bails out of the section, so deep input cannot exhaust the stack.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "syntax.h"

token *fe_peek(parser *p)
{
    return &p->toks[p->pos];
}

token *fe_next(parser *p)
{
    token *t = &p->toks[p->pos];
    if (t->kind != TK_EOF)
        p->pos++;
    return t;
}

bool fe_is(const token *t, int op)
{
    return t->kind == TK_PUNCT && t->op == op;
}

bool fe_accept(parser *p, int op)
{
    if (!fe_is(fe_peek(p), op))
        return false;
    fe_next(p);
    return true;
}

const char *fe_token_desc(arena *a, const token *t)
{
    switch (t->kind) {
    case TK_EOF:
        return "end of file";
    case TK_NEWLINE:
        return "end of line";
    case TK_IDENT: {
        size_t n = strlen(t->text);
        return arena_printf(a, "'%.*s%s'", n > 40 ? 40 : (int)n, t->text, n > 40 ? "..." : "");
    }
    case TK_INT:
    case TK_FLOAT:
        return "a number";
    default:
        return arena_printf(a, "'%s'", fe_punct_text(t->op));
    }
}

void fe_syntax_error(parser *p, const token *t, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    diag_error(p->diags, t->loc, NULL, "%s", buf);
}

bool fe_expect(parser *p, int op, const char *what)
{
    if (fe_accept(p, op))
        return true;
    token *t = fe_peek(p);
    fe_syntax_error(p, t, "expected '%s'%s%s, found %s", fe_punct_text(op), what ? " " : "", what ? what : "",
                    fe_token_desc(p->a, t));
    return false;
}

src_loc fe_span_union(src_loc a, src_loc b)
{
    if (b.line < a.line || (b.line == a.line && b.col < a.col)) {
        src_loc t = a;
        a = b;
        b = t;
    }
    if (b.line != a.line)
        return a;
    int end = b.col + b.len > a.col + a.len ? b.col + b.len : a.col + a.len;
    a.len = end - a.col;
    return a;
}

static node *new_node(parser *p, node_kind kind, src_loc loc, int nargs)
{
    node *n = ARENA_NEW(p->a, node);
    if (!n)
        return NULL;
    n->kind = kind;
    n->loc = n->span = loc;
    n->depth = 1;
    n->nargs = nargs;
    if (nargs) {
        n->args = ARENA_ARRAY(p->a, node *, nargs);
        if (!n->args)
            return NULL;
    }
    return n;
}

/* Records the depth of n from its children; bails out when too deep. */
static node *finish(parser *p, node *n)
{
    if (!n)
        return NULL;
    for (int i = 0; i < n->nargs; i++) {
        if (!n->args[i])
            return NULL;
        if (n->args[i]->depth + 1 > n->depth)
            n->depth = n->args[i]->depth + 1;
        n->span = fe_span_union(n->span, n->args[i]->span);
    }
    if (n->depth > SYN_MAX_DEPTH) {
        diag_error(p->diags, n->loc, "split the expression or use a named mask form",
                   "expression nested too deeply (more than %d levels)", SYN_MAX_DEPTH);
        p->bail = true;
        return NULL;
    }
    return n;
}

static node *parse_unary(parser *p, int depth);

/* Comma-separated items up to `close`; keyword args only when keys != NULL. */
static int parse_list(parser *p, int close, node **items, const char **keys, src_loc *key_locs, int depth)
{
    int n = 0;
    if (fe_accept(p, close))
        return 0;
    for (;;) {
        if (n == SYN_MAX_ARGS) {
            fe_syntax_error(p, fe_peek(p), "too many arguments (at most %d)", SYN_MAX_ARGS);
            p->bail = true;
            return -1;
        }
        token *t = fe_peek(p);
        if (keys && t->kind == TK_IDENT && fe_is(&p->toks[p->pos + 1], P_COLON)) {
            keys[n] = t->text;
            key_locs[n] = t->loc;
            p->pos += 2;
        }
        node *x = fe_parse_expr(p);
        if (!x)
            return -1;
        items[n++] = x;
        if (fe_accept(p, P_COMMA))
            continue;
        if (fe_expect(p, close, NULL))
            return n;
        return -1;
    }
}

static node *parse_args(parser *p, node_kind kind, token *name, int close, int depth)
{
    node *items[SYN_MAX_ARGS];
    const char *keys[SYN_MAX_ARGS] = {0};
    src_loc key_locs[SYN_MAX_ARGS];
    int n = parse_list(p, close, items, kind == N_CALL ? keys : NULL, key_locs, depth);
    if (n < 0)
        return NULL;
    node *c = new_node(p, kind, name->loc, n);
    if (!c)
        return NULL;
    c->span = fe_span_union(name->loc, p->toks[p->pos - 1].loc);
    c->name = name->text;
    if (n) {
        memcpy(c->args, items, sizeof(node *) * (size_t)n);
        c->keys = arena_dup(p->a, keys, sizeof(char *) * (size_t)n);
        c->key_locs = arena_dup(p->a, key_locs, sizeof(src_loc) * (size_t)n);
    }
    return finish(p, c);
}

static node *parse_paren(parser *p, token *open, int depth)
{
    node *items[SYN_MAX_ARGS];
    if (depth > SYN_MAX_DEPTH) {
        diag_error(p->diags, open->loc, "split the expression or use a named mask form",
                   "expression nested too deeply (more than %d levels)", SYN_MAX_DEPTH);
        p->bail = true;
        return NULL;
    }
    int n = parse_list(p, P_RPAREN, items, NULL, NULL, depth);
    if (n < 0)
        return NULL;
    if (n == 0) {
        fe_syntax_error(p, open, "empty parentheses");
        return NULL;
    }
    src_loc whole = fe_span_union(open->loc, p->toks[p->pos - 1].loc);
    if (n == 1) {
        items[0]->span = fe_span_union(items[0]->span, whole);
        return items[0];
    }
    node *t = new_node(p, N_TUPLE, open->loc, n);
    if (!t)
        return NULL;
    memcpy(t->args, items, sizeof(node *) * (size_t)n);
    t = finish(p, t);
    if (t)
        t->span = fe_span_union(t->span, whole);
    return t;
}

static node *parse_name(parser *p, token *t, int depth)
{
    if (fe_accept(p, P_LPAREN))
        return parse_args(p, N_CALL, t, P_RPAREN, depth + 1);
    if (fe_accept(p, P_LBRACK))
        return parse_args(p, N_INDEX, t, P_RBRACK, depth + 1);
    node *n = new_node(p, N_NAME, t->loc, 0);
    if (!n)
        return NULL;
    n->name = t->text;
    if (!fe_accept(p, P_DOT))
        return n;
    token *m = fe_peek(p);
    if (m->kind != TK_IDENT) {
        fe_syntax_error(p, m, "expected a coordinate name after '%s.', found %s", t->text, fe_token_desc(p->a, m));
        return NULL;
    }
    fe_next(p);
    n->kind = N_MEMBER;
    n->member = m->text;
    n->member_loc = m->loc;
    n->loc = n->span = fe_span_union(t->loc, m->loc);
    return n;
}

static node *parse_primary(parser *p, int depth)
{
    token *t = fe_next(p);
    node *n;
    switch (t->kind) {
    case TK_INT:
    case TK_FLOAT:
        n = new_node(p, t->kind == TK_INT ? N_INT : N_FLOAT, t->loc, 0);
        if (n) {
            n->ival = t->ival;
            n->fval = t->kind == TK_INT ? (double)t->ival : t->fval;
        }
        return n;
    case TK_IDENT:
        return parse_name(p, t, depth);
    default:
        if (fe_is(t, P_LPAREN))
            return parse_paren(p, t, depth + 1);
        p->pos--; /* leave it for recovery */
        fe_syntax_error(p, t, "expected an expression, found %s", fe_token_desc(p->a, t));
        return NULL;
    }
}

static node *parse_unary(parser *p, int depth)
{
    token *t = fe_peek(p);
    if (fe_is(t, P_MINUS) || fe_is(t, P_BANG)) {
        fe_next(p);
        if (depth > SYN_MAX_DEPTH) {
            diag_error(p->diags, t->loc, "split the expression or use a named mask form",
                       "expression nested too deeply (more than %d levels)", SYN_MAX_DEPTH);
            p->bail = true;
            return NULL;
        }
        node *x = parse_unary(p, depth + 1);
        if (!x)
            return NULL;
        node *n = new_node(p, N_UNARY, t->loc, 1);
        if (!n)
            return NULL;
        n->op = t->op;
        n->args[0] = x;
        return finish(p, n);
    }
    return parse_primary(p, depth);
}

typedef node *(*operand_fn)(parser *p, int depth);

static node *binary(parser *p, token *op, node *l, node *r)
{
    if (!l || !r)
        return NULL;
    node *n = new_node(p, N_BINARY, op->loc, 2);
    if (!n)
        return NULL;
    n->op = op->op;
    n->args[0] = l;
    n->args[1] = r;
    return finish(p, n);
}

/* Left-associative loop over operators ops[0..nops). */
static node *left_assoc(parser *p, int depth, operand_fn operand, const int *ops, int nops)
{
    node *l = operand(p, depth);
    while (l) {
        token *t = fe_peek(p);
        bool match = false;
        for (int i = 0; i < nops; i++)
            match |= fe_is(t, ops[i]);
        if (!match)
            return l;
        fe_next(p);
        l = binary(p, t, l, operand(p, depth));
    }
    return NULL;
}

static node *parse_product(parser *p, int depth)
{
    static const int ops[] = {P_STAR, P_SLASH, P_PERCENT};
    return left_assoc(p, depth, parse_unary, ops, 3);
}

static node *parse_sum(parser *p, int depth)
{
    static const int ops[] = {P_PLUS, P_MINUS};
    return left_assoc(p, depth, parse_product, ops, 2);
}

static bool is_cmp(const token *t)
{
    return t->kind == TK_PUNCT && (t->op == P_LT || t->op == P_LE || t->op == P_GT || t->op == P_GE ||
                                   t->op == P_EQEQ || t->op == P_NE);
}

static node *parse_cmp(parser *p, int depth)
{
    node *l = parse_sum(p, depth);
    token *t = fe_peek(p);
    if (!l || !is_cmp(t))
        return l;
    fe_next(p);
    node *n = binary(p, t, l, parse_sum(p, depth));
    token *t2 = fe_peek(p);
    if (n && is_cmp(t2)) {
        diag_error(p->diags, t2->loc, "write 'a < b && b < c'", "comparisons do not chain");
        return NULL;
    }
    return n;
}

static node *parse_and(parser *p, int depth)
{
    static const int ops[] = {P_ANDAND};
    return left_assoc(p, depth, parse_cmp, ops, 1);
}

static node *parse_or(parser *p, int depth)
{
    static const int ops[] = {P_OROR};
    return left_assoc(p, depth, parse_and, ops, 1);
}

/* p->depth counts nested expressions (parentheses, calls, indices) and the
 * depth argument adds unary operators, the only constructs that recurse;
 * binary chains are loops and finish() bounds the tree depth they build. */
node *fe_parse_expr(parser *p)
{
    if (p->bail)
        return NULL;
    if (p->depth >= SYN_MAX_DEPTH) {
        diag_error(p->diags, fe_peek(p)->loc, "split the expression or use a named mask form",
                   "expression nested too deeply (more than %d levels)", SYN_MAX_DEPTH);
        p->bail = true;
        return NULL;
    }
    p->depth++;
    node *n = parse_or(p, p->depth);
    p->depth--;
    return n;
}
