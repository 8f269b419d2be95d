/*
 * lexer.c — bytes to tokens.
 *
 * Tokens: identifiers [A-Za-z_][A-Za-z0-9_]*, integers (decimal), floats
 * (digits '.' digits, optional exponent), the punctuation of syntax.h,
 * newlines, and `#` comments to the end of the line. Any other byte is an
 * error (one diagnostic per run of bad bytes, so garbage cannot flood the
 * list); comments may hold any valid UTF-8. Columns are 1-based byte offsets.
 * After lexing, newlines that cannot end a section are dropped (see
 * syntax.h), which is what lets an expression continue on the next line.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "syntax.h"

typedef struct lexer {
    arena *a;
    const char *s;
    size_t len, i;
    int line;
    size_t line_start;
    diag_list *diags;
    token *toks;
    int n, cap;
    bool too_many;
} lexer;

const char *fe_punct_text(int p)
{
    static const char *texts[] = {
#define X(name, text) text,
        PUNCTS(X)
#undef X
    };
    return (unsigned)p < P_COUNT ? texts[p] : "?";
}

static src_loc here(const lexer *lx, size_t start, size_t end)
{
    size_t n = end - start;
    return (src_loc){lx->line, (int)(start - lx->line_start + 1), n > 1000 ? 1000 : (int)n};
}

static token *push(lexer *lx, tok_kind kind, size_t start)
{
    if (lx->n + 1 >= SYN_MAX_TOKENS) {
        if (!lx->too_many)
            diag_error(lx->diags, here(lx, start, start + 1), NULL,
                       "recipe too large: more than %d tokens", SYN_MAX_TOKENS);
        lx->too_many = true;
        return NULL;
    }
    if (lx->n + 1 >= lx->cap) {
        int cap = lx->cap ? lx->cap * 2 : 256;
        token *t = ARENA_ARRAY(lx->a, token, cap);
        if (!t)
            return NULL;
        if (lx->n)
            memcpy(t, lx->toks, sizeof(token) * (size_t)lx->n);
        lx->toks = t;
        lx->cap = cap;
    }
    token *t = &lx->toks[lx->n++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->loc = here(lx, start, lx->i);
    return t;
}

/* Length of the UTF-8 sequence at s[i], or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t i, size_t len)
{
    unsigned c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > len || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4))
        return 0;
    for (size_t k = 1; k < n; k++)
        if ((s[i + k] & 0xc0) != 0x80)
            return 0;
    if ((n == 3 && c == 0xe0 && s[i + 1] < 0xa0) || (n == 4 && c == 0xf0 && s[i + 1] < 0x90))
        return 0; /* overlong */
    return n;
}

static void skip_comment(lexer *lx)
{
    const unsigned char *s = (const unsigned char *)lx->s;
    bool reported = false;
    while (lx->i < lx->len && s[lx->i] != '\n') {
        size_t n = s[lx->i] ? utf8_len(s, lx->i, lx->len) : 0;
        if (n == 0) {
            if (!reported && s[lx->i])
                diag_error(lx->diags, here(lx, lx->i, lx->i + 1), NULL,
                           "invalid UTF-8 byte 0x%02x in a comment", s[lx->i]);
            else if (!reported)
                diag_error(lx->diags, here(lx, lx->i, lx->i + 1), NULL, "NUL byte in a comment");
            reported = true;
            n = 1;
        }
        lx->i += n;
    }
}

static void lex_number(lexer *lx)
{
    size_t start = lx->i;
    const char *s = lx->s;
    while (lx->i < lx->len && s[lx->i] >= '0' && s[lx->i] <= '9')
        lx->i++;
    bool is_float = false;
    if (lx->i + 1 < lx->len && s[lx->i] == '.' && s[lx->i + 1] >= '0' && s[lx->i + 1] <= '9') {
        is_float = true;
        lx->i++;
        while (lx->i < lx->len && s[lx->i] >= '0' && s[lx->i] <= '9')
            lx->i++;
    }
    if (lx->i < lx->len && (s[lx->i] == 'e' || s[lx->i] == 'E')) {
        size_t j = lx->i + 1;
        if (j < lx->len && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < lx->len && s[j] >= '0' && s[j] <= '9') {
            is_float = true;
            lx->i = j;
            while (lx->i < lx->len && s[lx->i] >= '0' && s[lx->i] <= '9')
                lx->i++;
        }
    }
    token *t = push(lx, is_float ? TK_FLOAT : TK_INT, start);
    if (!t)
        return;
    char buf[64];
    size_t n = lx->i - start;
    if (n >= sizeof buf) {
        diag_error(lx->diags, t->loc, NULL, "number literal too long");
        return;
    }
    memcpy(buf, s + start, n);
    buf[n] = 0;
    if (is_float) {
        t->fval = strtod(buf, NULL);
        if (!isfinite(t->fval))
            diag_error(lx->diags, t->loc, NULL, "float literal out of range");
        return;
    }
    int64_t v = 0;
    for (size_t k = 0; k < n; k++) {
        if (v > (INT64_MAX - (buf[k] - '0')) / 10) {
            diag_error(lx->diags, t->loc, NULL, "integer literal too large");
            return;
        }
        v = v * 10 + (buf[k] - '0');
    }
    t->ival = v;
}

static bool ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool ident_char(int c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

static void lex_ident(lexer *lx)
{
    size_t start = lx->i;
    while (lx->i < lx->len && ident_char((unsigned char)lx->s[lx->i]))
        lx->i++;
    token *t = push(lx, TK_IDENT, start);
    if (t)
        t->text = arena_strndup(lx->a, lx->s + start, lx->i - start);
}

/* Longest punctuation at the cursor, or -1. A switch on the first byte
 * rather than a scan of the PUNCTS table: this runs for every byte of
 * punctuation and of junk, and the fuzzer's instrumented scan made it the
 * front end's hot spot. tests/unit/frontend/test_lexer_puncts.c checks
 * that every PUNCTS entry lexes to itself. */
static int match_punct(const lexer *lx)
{
    char n = lx->i + 1 < lx->len ? lx->s[lx->i + 1] : 0;
    switch (lx->s[lx->i]) {
    case '(': return P_LPAREN;
    case ')': return P_RPAREN;
    case '[': return P_LBRACK;
    case ']': return P_RBRACK;
    case '{': return P_LBRACE;
    case '}': return P_RBRACE;
    case ',': return P_COMMA;
    case ':': return P_COLON;
    case '.': return P_DOT;
    case ';': return P_SEMI;
    case '+': return P_PLUS;
    case '-': return P_MINUS;
    case '*': return P_STAR;
    case '/': return P_SLASH;
    case '%': return P_PERCENT;
    case '<': return n == '=' ? P_LE : P_LT;
    case '>': return n == '=' ? P_GE : P_GT;
    case '=': return n == '=' ? P_EQEQ : P_ASSIGN;
    case '!': return n == '=' ? P_NE : P_BANG;
    case '&': return n == '&' ? P_ANDAND : -1;
    case '|': return n == '|' ? P_OROR : -1;
    default: return -1;
    }
}

/* A run of bytes that start no token: one diagnostic for the whole run. */
static void lex_bad(lexer *lx)
{
    const unsigned char *s = (const unsigned char *)lx->s;
    size_t start = lx->i;
    unsigned c = s[start];
    size_t n = c >= 0x80 ? utf8_len(s, start, lx->len) : 0;
    if (c == 0)
        diag_error(lx->diags, here(lx, start, start + 1), NULL, "NUL byte in the recipe text");
    else if (c >= 0x80 && n == 0)
        diag_error(lx->diags, here(lx, start, start + 1), NULL, "invalid UTF-8 byte 0x%02x", c);
    else if (c >= 0x80)
        diag_error(lx->diags, here(lx, start, start + n), "non-ASCII text may only appear in # comments",
                   "unexpected character '%.*s'", (int)n, lx->s + start);
    else if (c < 32 || c == 127)
        diag_error(lx->diags, here(lx, start, start + 1), NULL, "unexpected control byte 0x%02x", c);
    else
        diag_error(lx->diags, here(lx, start, start + 1), NULL, "unexpected character '%c'", (char)c);
    /* skip the run: bytes that are neither space, newline, nor a token start */
    lx->i++;
    while (lx->i < lx->len) {
        unsigned d = s[lx->i];
        if (d == '\n' || d == ' ' || d == '\t' || d == '\r' || d == '#' || ident_char((int)d) ||
            match_punct(lx) >= 0)
            break;
        lx->i++;
    }
}

static void lex_all(lexer *lx)
{
    while (lx->i < lx->len && !lx->too_many) {
        char c = lx->s[lx->i];
        if (c == '\n') {
            lx->i++;
            push(lx, TK_NEWLINE, lx->i - 1);
            lx->line++;
            lx->line_start = lx->i;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            lx->i++;
        } else if (c == '#') {
            skip_comment(lx);
        } else if (c >= '0' && c <= '9') {
            lex_number(lx);
        } else if (ident_start((unsigned char)c)) {
            lex_ident(lx);
        } else {
            int p = match_punct(lx);
            if (p < 0) {
                lex_bad(lx);
                continue;
            }
            size_t start = lx->i;
            lx->i += strlen(fe_punct_text(p));
            token *t = push(lx, TK_PUNCT, start);
            if (t)
                t->op = p;
        }
    }
}

/* Tokens after which a line cannot end. */
static bool continues_after(const token *t)
{
    if (t->kind != TK_PUNCT)
        return false;
    switch (t->op) {
    case P_RPAREN: case P_RBRACK: case P_LBRACE: case P_RBRACE: case P_SEMI: case P_DOT:
        return false;
    default:
        return true;
    }
}

/* Tokens before which a newline is only layout. */
static bool continues_before(const token *t)
{
    return t->kind == TK_PUNCT &&
           (t->op == P_RPAREN || t->op == P_RBRACK || t->op == P_ANDAND || t->op == P_OROR);
}

static void drop_layout_newlines(lexer *lx)
{
    int w = 0;
    for (int r = 0; r < lx->n; r++) {
        token *t = &lx->toks[r];
        if (t->kind == TK_NEWLINE) {
            if (w == 0 || lx->toks[w - 1].kind == TK_NEWLINE || continues_after(&lx->toks[w - 1]))
                continue;
            int nx = r + 1;
            while (nx < lx->n && lx->toks[nx].kind == TK_NEWLINE)
                nx++;
            if (nx < lx->n && continues_before(&lx->toks[nx]))
                continue;
        }
        lx->toks[w++] = *t;
    }
    lx->n = w;
}

token *fe_lex(arena *a, const char *text, size_t len, diag_list *diags, int *ntokens)
{
    lexer lx = {.a = a, .s = text ? text : "", .len = text ? len : 0, .line = 1, .diags = diags};
    lex_all(&lx);
    drop_layout_newlines(&lx);
    /* the final NEWLINE + EOF: push() always leaves room for one more */
    if (lx.cap == 0 || lx.n + 2 > lx.cap) {
        token *t = ARENA_ARRAY(a, token, lx.n + 2);
        if (!t)
            return NULL;
        if (lx.n)
            memcpy(t, lx.toks, sizeof(token) * (size_t)lx.n);
        lx.toks = t;
    }
    src_loc end = here(&lx, lx.i, lx.i);
    end.len = 1;
    lx.toks[lx.n] = (token){.kind = TK_NEWLINE, .loc = end};
    lx.toks[lx.n + 1] = (token){.kind = TK_EOF, .loc = end};
    *ntokens = lx.n + 2;
    return lx.toks;
}
