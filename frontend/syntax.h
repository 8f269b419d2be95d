/*
 * syntax.h — the front end's internal data: tokens, the syntax tree of
 * expressions, and the parsed (unchecked) sections of one recipe file.
 *
 * lexer.c turns bytes into tokens; parser.c / parser_expr.c turn tokens into
 * a `syntax` value; sema*.c check it and build the typed recipe (recipe.h).
 * Everything lives in the compile arena. Not a contract: only the front end's .c files
 * include this file.
 */
#ifndef ATTNC_FRONTEND_SYNTAX_H
#define ATTNC_FRONTEND_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../support/arena.h"
#include "../support/diag.h"
#include "../support/suggest.h"
#include "recipe.h"

/* Limits that keep hostile input from exhausting the stack or memory. */
enum {
    SYN_MAX_DEPTH = 128,       /* expression nesting (parentheses, operators, calls) */
    SYN_MAX_TOKENS = 1 << 20,  /* tokens per file */
    SYN_MAX_ARGS = 64,         /* arguments of one call or index */
};

typedef enum { TK_EOF, TK_NEWLINE, TK_IDENT, TK_INT, TK_FLOAT, TK_PUNCT } tok_kind;

#define PUNCTS(X)                                                                          \
    X(LPAREN, "(") X(RPAREN, ")") X(LBRACK, "[") X(RBRACK, "]") X(LBRACE, "{")             \
    X(RBRACE, "}") X(COMMA, ",") X(COLON, ":") X(DOT, ".") X(SEMI, ";") X(PLUS, "+")       \
    X(MINUS, "-") X(STAR, "*") X(SLASH, "/") X(PERCENT, "%") X(LE, "<=") X(GE, ">=")       \
    X(EQEQ, "==") X(NE, "!=") X(ANDAND, "&&") X(OROR, "||") X(LT, "<") X(GT, ">")         \
    X(BANG, "!") X(ASSIGN, "=")

typedef enum {
#define X(name, text) P_##name,
    PUNCTS(X)
#undef X
        P_COUNT
} punct;

const char *fe_punct_text(int p);

typedef struct token {
    tok_kind kind;
    int op;           /* TK_PUNCT: a punct */
    const char *text; /* TK_IDENT: NUL-terminated copy */
    int64_t ival;     /* TK_INT */
    double fval;      /* TK_FLOAT */
    src_loc loc;
} token;

/* Tokenizes the whole file. Newlines that cannot end a section (after an
 * operator, comma, colon or open bracket; before a closing bracket, `&&` or
 * `||`) are dropped, so expressions may span lines. Always ends with TK_EOF;
 * lexical errors go to diags. Returns NULL only when out of memory. */
token *fe_lex(arena *a, const char *text, size_t len, diag_list *diags, int *ntokens);

/* ---- expression syntax ---- */

typedef enum { N_INT, N_FLOAT, N_NAME, N_MEMBER, N_CALL, N_INDEX, N_UNARY, N_BINARY, N_TUPLE } node_kind;

typedef struct node node;
struct node {
    node_kind kind;
    src_loc loc;      /* the name, operator or literal that makes the node */
    src_loc span;     /* the whole construct: first token, length to the last on that line */
    const char *name; /* N_NAME, N_CALL/N_INDEX callee, N_MEMBER base ("q") */
    const char *member; /* N_MEMBER: "t", "y" */
    src_loc member_loc;
    int op;           /* N_UNARY/N_BINARY: a punct */
    int64_t ival;
    double fval;
    int depth;        /* 1 + deepest child */
    int nargs;        /* N_CALL, N_INDEX, N_UNARY(1), N_BINARY(2), N_TUPLE */
    node **args;
    const char **keys; /* N_CALL: keyword of each arg or NULL */
    src_loc *key_locs;
};

/* ---- sections ---- */

typedef struct dim_syntax { /* one entry of a shape or grid: a name or a number */
    const char *label;  /* grid: "y" (NULL in shapes) */
    src_loc label_loc;
    const char *name;   /* NULL when a number */
    int64_t num;
    src_loc loc;
} dim_syntax;

typedef struct input_syntax {
    const char *names[3];
    src_loc name_locs[3];
    int nnames;
    const char *dtype;
    src_loc dtype_loc;
    dim_syntax dims[4];
    int ndims;
    src_loc shape_loc;
    struct input_syntax *next;
} input_syntax;

typedef struct param_syntax {
    const char *name;
    src_loc name_loc;
    const char *dtype;
    src_loc dtype_loc;
    dim_syntax dims[4];
    int ndims;
    struct param_syntax *next;
} param_syntax;

typedef enum { SEC_RECIPE, SEC_INPUT, SEC_TOKENS, SEC_PARAM, SEC_SCALE, SEC_MASK, SEC_SCORE,
               SEC_LINEAR, SEC_TILE, SEC_COUNT } section_kind;

typedef enum { LI_CAUSAL, LI_NONCAUSAL, LI_FEATURE, LI_DECAY, LI_NO_DECAY, LI_NORMALIZE, LI_SPLIT,
               LI_COUNT } linear_item;

typedef struct linear_syntax {
    src_loc item_loc[LI_COUNT];
    bool has[LI_COUNT];
    const char *feature;
    src_loc feature_loc;
    node *decay;
    int64_t block;      /* 0: not given */
    src_loc block_loc;
    const char *intra, *inter;
    src_loc intra_loc, inter_loc;
} linear_syntax;

typedef struct tile_syntax {
    bool is_auto;
    dim_syntax q[3], kv[3];
    int nq, nkv;
    src_loc q_loc, kv_loc;
    int64_t stages, warps; /* 0: not given */
    src_loc stages_loc, warps_loc;
} tile_syntax;

typedef struct syntax {
    bool has[SEC_COUNT];
    src_loc loc[SEC_COUNT]; /* first occurrence of each section keyword */
    const char *name;
    src_loc name_loc;
    input_syntax *inputs;
    dim_syntax grid[3];
    int grid_ndim;
    src_loc grid_loc;
    param_syntax *params;
    node *scale;
    node *mask;
    node *score;
    linear_syntax linear;
    tile_syntax tile;
} syntax;

/* Parses the token array into sections; syntax errors go to diags and the
 * parser recovers at the next line. */
void fe_parse_recipe(arena *a, token *toks, int ntoks, diag_list *diags, syntax *out);

/* Expression parsing, shared by parser.c (parser_expr.c). */
typedef struct parser {
    arena *a;
    token *toks;
    int ntoks, pos;
    diag_list *diags;
    int depth; /* expression nesting */
    bool bail; /* a fatal error in this section (too deep): skip to the next line */
} parser;

node *fe_parse_expr(parser *p);
/* The smallest span covering a and b (to the end of a's line when they differ). */
src_loc fe_span_union(src_loc a, src_loc b);
token *fe_peek(parser *p);
token *fe_next(parser *p);
bool fe_is(const token *t, int op);
bool fe_accept(parser *p, int op);
bool fe_expect(parser *p, int op, const char *what);
void fe_syntax_error(parser *p, const token *t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *fe_token_desc(arena *a, const token *t);

/* ---- semantic checks (sema*.c) ---- */

/* The nearest of `names` to `word` by edit distance, or NULL if none is
 * close (support/suggest.h, shared with the CLI). */
static inline const char *fe_suggest(const char *word, const char *const *names, int n)
{
    return suggest_nearest(word, names, n);
}

/* True once the diagnostic list takes no more errors: callers skip costly
 * work (suggestions) whose result would be dropped. */
bool fe_diag_full(const diag_list *d);

/* Checks the sections and fills r. */
void fe_sema_recipe(arena *a, const syntax *syn, diag_list *diags, recipe *r);

#endif
