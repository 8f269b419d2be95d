/* expr_parse.c — the prefix expression reader; see expr_parse.h. The
 * grammar is expr_print's output, one production per function:
 *   expr  := atom | '(' head expr* ')'
 *   head  := unop | binop | 'select' | '@' name
 *   atom  := bool | int | float | coord | '$' size | leaf name */
#include "expr_parse.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 256 };

typedef struct eparser {
    arena *a;
    const char *p, *end;
    expr_param_resolver resolve;
    void *user;
    strbuf *err;
    int depth;
} eparser;

static expr *fail(eparser *ps, const char *msg)
{
    if (ps->err && ps->err->len == 0)
        sb_puts(ps->err, msg);
    return NULL;
}

static void skip_blanks(eparser *ps)
{
    while (ps->p < ps->end && isspace((unsigned char)*ps->p))
        ps->p++;
}

/* A word: everything up to a blank or a parenthesis. */
static size_t word_len(const eparser *ps)
{
    size_t n = 0;
    while (ps->p + n < ps->end && !isspace((unsigned char)ps->p[n]) && ps->p[n] != '(' && ps->p[n] != ')')
        n++;
    return n;
}

static bool word_is(const char *w, size_t n, const char *s)
{
    return strlen(s) == n && !memcmp(w, s, n);
}

static expr *number(eparser *ps, const char *w, size_t n)
{
    char buf[64];
    if (n >= sizeof buf)
        return fail(ps, "number too long");
    memcpy(buf, w, n);
    buf[n] = 0;
    char *endp;
    if (!strpbrk(buf, ".eEn")) {
        long long v = strtoll(buf, &endp, 10);
        if (*endp || endp == buf)
            return fail(ps, "bad integer");
        return ex_int(ps->a, v);
    }
    double d = strtod(buf, &endp);
    if (*endp || endp == buf)
        return fail(ps, "bad number");
    return ex_float(ps->a, d);
}

/* q.t k.d0 q.lo1 k.hi2 */
static expr *coord(eparser *ps, const char *w, size_t n)
{
    coord_side side = w[0] == 'q' ? SIDE_Q : SIDE_K;
    const char *r = w + 2;
    size_t rn = n - 2;
    if (word_is(r, rn, "t"))
        return ex_coord(ps->a, side, -1);
    int base = 0;
    if (rn >= 2 && r[0] == 'd')
        r++, rn--;
    else if (rn >= 3 && !memcmp(r, "lo", 2))
        r += 2, rn -= 2, base = 16;
    else if (rn >= 3 && !memcmp(r, "hi", 2))
        r += 2, rn -= 2, base = 32;
    else
        return fail(ps, "bad coordinate (q.t, q.d0, q.lo0, q.hi0 ...)");
    if (rn != 1 || r[0] < '0' || r[0] > '2')
        return fail(ps, "coordinate dim must be 0, 1 or 2");
    return ex_coord(ps->a, side, base + (r[0] - '0'));
}

static expr *size_atom(eparser *ps, const char *w, size_t n)
{
    for (int i = 0; i < SZ_MAX; i++)
        if (word_is(w + 1, n - 1, size_id_name((size_id)i)))
            return ex_size(ps->a, (size_id)i);
    return fail(ps, "unknown size name");
}

static expr *atom(eparser *ps)
{
    const char *w = ps->p;
    size_t n = word_len(ps);
    if (n == 0)
        return fail(ps, ps->p < ps->end ? "unexpected ')'" : "expression expected");
    ps->p += n;
    if (word_is(w, n, "true") || word_is(w, n, "false"))
        return ex_bool(ps->a, w[0] == 't');
    if (isdigit((unsigned char)w[0]) || ((w[0] == '-' || w[0] == '+') && n > 1) || word_is(w, n, "inf") ||
        word_is(w, n, "nan"))
        return number(ps, w, n);
    if (n >= 3 && (w[0] == 'q' || w[0] == 'k') && w[1] == '.')
        return coord(ps, w, n);
    if (w[0] == '$')
        return size_atom(ps, w, n);
    static const struct {
        const char *name;
        expr_kind kind;
    } leaves[] = {{"head", EX_HEAD}, {"kv_head", EX_KV_HEAD}, {"batch", EX_BATCH}, {"s", EX_SCORE}};
    for (size_t i = 0; i < sizeof leaves / sizeof *leaves; i++)
        if (word_is(w, n, leaves[i].name))
            return ex_leaf(ps->a, leaves[i].kind);
    return fail(ps, "unknown name in expression");
}

static expr *parse_expr(eparser *ps);

/* Reads operands up to ')' into args; returns the count or -1. */
static int operands(eparser *ps, expr **args, int max)
{
    int n = 0;
    for (;;) {
        skip_blanks(ps);
        if (ps->p >= ps->end)
            return (fail(ps, "missing ')'"), -1);
        if (*ps->p == ')') {
            ps->p++;
            return n;
        }
        if (n == max)
            return (fail(ps, "too many operands"), -1);
        if (!(args[n++] = parse_expr(ps)))
            return -1;
    }
}

static expr *param_form(eparser *ps, const char *w, size_t n)
{
    expr_type ty = TY_INT;
    int idx = -1;
    if (ps->resolve)
        idx = ps->resolve(ps->user, w, n, &ty);
    if (idx < 0 && n > 0 && isdigit((unsigned char)w[0]))
        idx = atoi(w);
    if (idx < 0)
        return fail(ps, "unknown param name");
    expr *args[8];
    int na = operands(ps, args, 8);
    return na < 0 ? NULL : ex_param(ps->a, idx, ty, na, args);
}

static expr *build(eparser *ps, const char *w, size_t n, expr **args, int na)
{
    if (word_is(w, n, "select"))
        return na == 3 ? ex_select(ps->a, args[0], args[1], args[2]) : fail(ps, "select takes 3 operands");
    for (int i = 0; i < UN_COUNT; i++)
        if (word_is(w, n, expr_unop_name((expr_unop)i)))
            return na == 1 ? ex_unary(ps->a, (expr_unop)i, args[0]) : fail(ps, "a unary operator takes 1 operand");
    for (int i = 0; i < BIN_COUNT; i++)
        if (word_is(w, n, expr_binop_name((expr_binop)i)))
            return na == 2 ? ex_binary(ps->a, (expr_binop)i, args[0], args[1])
                           : fail(ps, "a binary operator takes 2 operands");
    return fail(ps, "unknown operator");
}

/* '(' head expr* ')' */
static expr *form(eparser *ps)
{
    ps->p++;
    skip_blanks(ps);
    const char *w = ps->p;
    size_t n = word_len(ps);
    ps->p += n;
    if (n > 1 && w[0] == '@')
        return param_form(ps, w + 1, n - 1);
    expr *args[3];
    int na = operands(ps, args, 3);
    return na < 0 ? NULL : build(ps, w, n, args, na);
}

static expr *parse_expr(eparser *ps)
{
    skip_blanks(ps);
    if (++ps->depth > MAX_DEPTH)
        return fail(ps, "expression nested too deeply");
    expr *e = ps->p < ps->end && *ps->p == '(' ? form(ps) : atom(ps);
    ps->depth--;
    if (!e && ps->err && ps->err->len == 0)
        sb_puts(ps->err, "out of memory");
    return e;
}

expr *expr_parse(arena *a, const char **p, const char *end, expr_param_resolver resolve, void *user, strbuf *err)
{
    eparser ps = {a, *p, end, resolve, user, err, 0};
    expr *e = parse_expr(&ps);
    *p = ps.p;
    return e;
}
