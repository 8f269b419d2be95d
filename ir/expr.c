/* expr.c — constructors, printing and structural queries for scalar
 * expressions; see expr.h for the semantics. */
#include "expr.h"

#include <string.h>

const char *dtype_name(dtype t)
{
    static const char *names[] = {"bf16", "f16", "f32", "i32", "i64", "u8"};
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

int dtype_size(dtype t)
{
    static const int sizes[] = {2, 2, 4, 4, 8, 1};
    return (unsigned)t < sizeof sizes / sizeof *sizes ? sizes[t] : 0;
}

static expr *ex_new(arena *a, expr_kind kind, expr_type type, int nargs)
{
    expr *e = ARENA_NEW(a, expr);
    if (!e)
        return NULL;
    e->kind = kind;
    e->type = type;
    e->nargs = nargs;
    if (nargs) {
        e->args = ARENA_ARRAY(a, expr *, nargs);
        if (!e->args)
            return NULL;
    }
    return e;
}

expr *ex_bool(arena *a, bool v)
{
    expr *e = ex_new(a, EX_CONST_BOOL, TY_BOOL, 0);
    if (e)
        e->u.ival = v;
    return e;
}

expr *ex_int(arena *a, int64_t v)
{
    expr *e = ex_new(a, EX_CONST_INT, TY_INT, 0);
    if (e)
        e->u.ival = v;
    return e;
}

expr *ex_float(arena *a, double v)
{
    expr *e = ex_new(a, EX_CONST_FLOAT, TY_FLOAT, 0);
    if (e)
        e->u.fval = v;
    return e;
}

expr *ex_coord(arena *a, coord_side side, int dim)
{
    expr *e = ex_new(a, EX_COORD, TY_INT, 0);
    if (e) {
        e->u.coord.side = side;
        e->u.coord.dim = dim;
    }
    return e;
}

expr *ex_leaf(arena *a, expr_kind kind)
{
    return ex_new(a, kind, kind == EX_SCORE ? TY_FLOAT : TY_INT, 0);
}

expr *ex_size(arena *a, size_id id)
{
    expr *e = ex_new(a, EX_SIZE, TY_INT, 0);
    if (e)
        e->u.size = id;
    return e;
}

expr *ex_param(arena *a, int param, expr_type elem_type, int nargs, expr **args)
{
    for (int i = 0; i < nargs; i++)
        if (!args[i])
            return NULL;
    expr *e = ex_new(a, EX_PARAM, elem_type, nargs);
    if (!e)
        return NULL;
    e->u.param = param;
    for (int i = 0; i < nargs; i++)
        e->args[i] = args[i];
    return e;
}

static expr_type unary_type(expr_unop op, expr_type x)
{
    switch (op) {
    case UN_NOT:
        return TY_BOOL;
    case UN_NEG:
    case UN_ABS:
        return x;
    case UN_FLOOR:
    case UN_LOG2I:
    case UN_POW2I:
        return TY_INT;
    default:
        return TY_FLOAT;
    }
}

expr *ex_unary(arena *a, expr_unop op, expr *x)
{
    if (!x)
        return NULL;
    expr *e = ex_new(a, EX_UNARY, unary_type(op, x->type), 1);
    if (e) {
        e->u.unop = op;
        e->args[0] = x;
    }
    return e;
}

static expr_type binary_type(expr_binop op, expr_type l, expr_type r)
{
    if (op >= BIN_LT)
        return TY_BOOL; /* comparisons and logic */
    return (l == TY_FLOAT || r == TY_FLOAT) ? TY_FLOAT : TY_INT;
}

expr *ex_binary(arena *a, expr_binop op, expr *l, expr *r)
{
    if (!l || !r)
        return NULL;
    expr *e = ex_new(a, EX_BINARY, binary_type(op, l->type, r->type), 2);
    if (e) {
        e->u.binop = op;
        e->args[0] = l;
        e->args[1] = r;
    }
    return e;
}

expr *ex_select(arena *a, expr *c, expr *t, expr *f)
{
    if (!c || !t || !f)
        return NULL;
    expr_type ty = (t->type == TY_FLOAT || f->type == TY_FLOAT) ? TY_FLOAT : t->type;
    expr *e = ex_new(a, EX_SELECT, ty, 3);
    if (e) {
        e->args[0] = c;
        e->args[1] = t;
        e->args[2] = f;
    }
    return e;
}

const char *expr_unop_name(expr_unop op)
{
    static const char *names[] = {
#define X(name, text) text,
        EXPR_UNOPS(X)
#undef X
    };
    return (unsigned)op < UN_COUNT ? names[op] : "?";
}

const char *expr_binop_name(expr_binop op)
{
    static const char *names[] = {
#define X(name, text, sym) text,
        EXPR_BINOPS(X)
#undef X
    };
    return (unsigned)op < BIN_COUNT ? names[op] : "?";
}

int64_t size_limit(size_id id)
{
    switch (id) {
    case SZ_BATCH: return SIZE_LIMIT_BATCH;
    case SZ_HEADS:
    case SZ_KV_HEADS: return SIZE_LIMIT_HEADS;
    case SZ_TOKENS:
    case SZ_KV_TOKENS:
    case SZ_GRID0:
    case SZ_GRID1:
    case SZ_GRID2: return SIZE_LIMIT_TOKENS;
    default: return SIZE_LIMIT_EXTRA;
    }
}

const char *size_id_name(size_id id)
{
    static const char *names[] = {"batch", "heads", "kv_heads", "tokens", "kv_tokens",
                                  "grid0", "grid1", "grid2",    "extra0", "extra1",
                                  "extra2", "extra3", "extra4", "extra5", "extra6", "extra7"};
    return (unsigned)id < SZ_MAX ? names[id] : "?";
}

static void print_leaf(strbuf *out, const expr *e, expr_param_namer namer, void *user)
{
    switch (e->kind) {
    case EX_CONST_BOOL:
        sb_puts(out, e->u.ival ? "true" : "false");
        break;
    case EX_CONST_INT:
        sb_printf(out, "%lld", (long long)e->u.ival);
        break;
    case EX_CONST_FLOAT: {
        size_t start = out->len; /* look at this number only, not the text before it */
        sb_printf(out, "%.17g", e->u.fval);
        if (!out->failed && !strpbrk(sb_cstr(out) + start, ".eEn"))
            sb_puts(out, ".0");
        break;
    }
    case EX_COORD:
        sb_printf(out, "%c.", e->u.coord.side == SIDE_Q ? 'q' : 'k');
        if (e->u.coord.dim < 0)
            sb_putc(out, 't');
        else if (e->u.coord.dim >= 32) /* tile IR box corners (tile_ir.h TIR_BOX_HI) */
            sb_printf(out, "hi%d", e->u.coord.dim - 32);
        else if (e->u.coord.dim >= 16) /* TIR_BOX_LO */
            sb_printf(out, "lo%d", e->u.coord.dim - 16);
        else
            sb_printf(out, "d%d", e->u.coord.dim);
        break;
    case EX_SIZE:
        sb_printf(out, "$%s", size_id_name(e->u.size));
        break;
    case EX_HEAD:
        sb_puts(out, "head");
        break;
    case EX_KV_HEAD:
        sb_puts(out, "kv_head");
        break;
    case EX_BATCH:
        sb_puts(out, "batch");
        break;
    case EX_SCORE:
        sb_puts(out, "s");
        break;
    default:
        break;
    }
}

void expr_print(strbuf *out, const expr *e, expr_param_namer namer, void *user)
{
    if (!e) {
        sb_puts(out, "<null>");
        return;
    }
    const char *head = NULL;
    switch (e->kind) {
    case EX_UNARY:
        head = expr_unop_name(e->u.unop);
        break;
    case EX_BINARY:
        head = expr_binop_name(e->u.binop);
        break;
    case EX_SELECT:
        head = "select";
        break;
    case EX_PARAM:
        sb_puts(out, "(@");
        if (namer)
            sb_puts(out, namer(user, e->u.param));
        else
            sb_printf(out, "%d", e->u.param);
        for (int i = 0; i < e->nargs; i++) {
            sb_putc(out, ' ');
            expr_print(out, e->args[i], namer, user);
        }
        sb_putc(out, ')');
        return;
    default:
        print_leaf(out, e, namer, user);
        return;
    }
    sb_printf(out, "(%s", head);
    for (int i = 0; i < e->nargs; i++) {
        sb_putc(out, ' ');
        expr_print(out, e->args[i], namer, user);
    }
    sb_putc(out, ')');
}

bool expr_uses_kind(const expr *e, expr_kind kind)
{
    if (!e)
        return false;
    if (e->kind == kind)
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (expr_uses_kind(e->args[i], kind))
            return true;
    return false;
}

bool expr_uses_binop(const expr *e, expr_binop op)
{
    if (!e)
        return false;
    if (e->kind == EX_BINARY && e->u.binop == op)
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (expr_uses_binop(e->args[i], op))
            return true;
    return false;
}

bool expr_uses_coord(const expr *e, coord_side side)
{
    if (!e)
        return false;
    if (e->kind == EX_COORD && e->u.coord.side == side)
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (expr_uses_coord(e->args[i], side))
            return true;
    return false;
}

bool expr_equal(const expr *a, const expr *b)
{
    if (a == b)
        return true;
    if (!a || !b || a->kind != b->kind || a->type != b->type || a->nargs != b->nargs)
        return false;
    switch (a->kind) {
    case EX_CONST_BOOL:
    case EX_CONST_INT:
        if (a->u.ival != b->u.ival)
            return false;
        break;
    case EX_CONST_FLOAT:
        if (a->u.fval != b->u.fval)
            return false;
        break;
    case EX_COORD:
        if (a->u.coord.side != b->u.coord.side || a->u.coord.dim != b->u.coord.dim)
            return false;
        break;
    case EX_SIZE:
        if (a->u.size != b->u.size)
            return false;
        break;
    case EX_PARAM:
        if (a->u.param != b->u.param)
            return false;
        break;
    case EX_UNARY:
        if (a->u.unop != b->u.unop)
            return false;
        break;
    case EX_BINARY:
        if (a->u.binop != b->u.binop)
            return false;
        break;
    default:
        break;
    }
    for (int i = 0; i < a->nargs; i++)
        if (!expr_equal(a->args[i], b->args[i]))
            return false;
    return true;
}
