/* mask_atom.c — solving comparison atoms for one coordinate (mask_atom.h). */
#include "mask_atom.h"
#include "mask_sym.h"

static bool collect(const expr *e, int sign, atom_term *t, int *n)
{
    if (e->type != TY_INT)
        return false;
    if (e->kind == EX_BINARY && (e->u.binop == BIN_ADD || e->u.binop == BIN_SUB))
        return collect(e->args[0], sign, t, n) && collect(e->args[1], e->u.binop == BIN_SUB ? -sign : sign, t, n);
    if (e->kind == EX_UNARY && e->u.unop == UN_NEG)
        return collect(e->args[0], -sign, t, n);
    if (*n == ATOM_MAX_TERMS)
        return false;
    t[(*n)++] = (atom_term){e, sign};
    return true;
}

bool atom_terms(const expr *l, const expr *r, atom_term *t, int *n)
{
    return collect(l, 1, t, n) && collect(r, -1, t, n);
}

expr *atom_rest(arena *a, const atom_term *t, int n, coord_side side, int ksign)
{
    expr *x = s_int(a, 0);
    for (int i = 0; i < n; i++)
        if (!expr_uses_coord(t[i].e, side))
            x = s_bin(a, t[i].sign * ksign < 0 ? BIN_ADD : BIN_SUB, x, (expr *)t[i].e);
    return x;
}

expr_binop cmp_flip(expr_binop op)
{
    switch (op) {
    case BIN_LT: return BIN_GT;
    case BIN_LE: return BIN_GE;
    case BIN_GT: return BIN_LT;
    case BIN_GE: return BIN_LE;
    default: return op;
    }
}

expr_binop cmp_negate(expr_binop op)
{
    switch (op) {
    case BIN_LT: return BIN_GE;
    case BIN_LE: return BIN_GT;
    case BIN_GT: return BIN_LE;
    case BIN_GE: return BIN_LT;
    case BIN_EQ: return BIN_NE;
    default: return BIN_EQ;
    }
}
