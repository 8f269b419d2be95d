/*
 * sema_expr.c — name resolution and type checking of mask, score and decay
 * expressions, building the scalar expression IR (ir/expr.h).
 *
 * Names, in the order they are looked up: true/false; s and scale (score
 * only); head, kv_head, batch (indices of the pair); t (decay only);
 * named mask forms (mask only); sizes (heads, tokens, grid extents, extra
 * names); scalar params. q.t / k.t and q.<grid dim> are coordinates;
 * PARAM[i, ...] reads a runtime tensor; NAME(...) calls a function or form.
 * Types: bool, int, float; int mixes into float; logic needs bool.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../ir/expr_eval.h"
#include "../support/checked.h"
#include "sema.h"

const char *fe_type_name(expr_type t)
{
    return t == TY_BOOL ? "bool" : t == TY_INT ? "int" : "float";
}

static const char *const reserved[] = {
    "q",     "k",       "v",        "s",      "t",       "scale",     "head",  "kv_head", "batch",
    "heads", "kv_heads", "tokens",  "kv_tokens", "true", "false", "min",   "max",     "abs",
    "clamp", "select",  "exp",      "log",    "tanh",    "sqrt",      "float", "floor",   "softcap",
    "alibi_slope", "causal", "sliding_window", "neighborhood", "radial", "strided_heads", "sinks",
    "document", "blocks", "full", "radial_token",
};

bool fe_is_reserved(const char *name)
{
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (!strcmp(name, reserved[i]))
            return true;
    return false;
}

int fe_find_param(const sema *S, const char *name)
{
    for (int i = 0; i < S->r->nparams; i++)
        if (!strcmp(S->r->params[i].name, name))
            return i;
    return -1;
}

expr *fe_size_expr(sema *S, size_id id)
{
    S->r->sizes[id].used = true;
    if (S->r->sizes[id].fixed > 0)
        return ex_int(S->a, S->r->sizes[id].fixed);
    return ex_size(S->a, id);
}

static int find_size(const sema *S, const char *name)
{
    for (int i = 0; i < S->r->nsizes; i++) {
        if (i >= SZ_GRID0 && i < SZ_EXTRA0 && (i - SZ_GRID0 >= S->r->grid_ndim || S->r->sizes[i].fixed))
            continue;
        if (i == SZ_BATCH) /* `batch` in an expression is the batch index */
            continue;
        if (S->r->sizes[i].name && !strcmp(S->r->sizes[i].name, name))
            return i;
    }
    return -1;
}

/* Every name an expression could mean, for suggestions. */
static const char *nearest_name(const sema *S, const char *name)
{
    const char *cands[64 + SZ_MAX];
    int n = 0;
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        cands[n++] = reserved[i];
    for (int i = 0; i < S->r->nsizes; i++)
        cands[n++] = S->r->sizes[i].name;
    for (int i = 0; i < S->r->nparams && n < 64 + SZ_MAX; i++)
        cands[n++] = S->r->params[i].name;
    return fe_suggest(name, cands, n);
}

/* A name that reads like a size or a param — capitalised (P, T, Window) or
 * one letter — is no misspelling of a short reserved word ('P' is not 'q'):
 * only a same-letters-other-case name ('Tokens' for 'tokens') counts. */
static bool plausible_typo(const char *name, const char *near)
{
    bool sizeish = isupper((unsigned char)name[0]) || !name[1];
    return near && (!sizeish || (name[1] && !strcasecmp(near, name)));
}

static expr *unknown_name(sema *S, const node *n)
{
    if (fe_diag_full(S->d))
        return NULL;
    const char *near = nearest_name(S, n->name);
    strbuf hint;
    sb_init(&hint);
    if (plausible_typo(n->name, near))
        sb_printf(&hint, "write '%s'", near);
    else if (n->kind == N_INDEX) /* what a new name needs: a tensor param, a scalar param or a size */
        sb_printf(&hint, "declare it: 'param %s : %s [...]' (a tensor given at launch, one extent per index)", n->name,
                  S->ctx == CTX_MASK ? "i32" : "f32");
    else
        sb_printf(&hint, "declare it: 'param %s : %s' (a value given at launch), or make it a size by naming it in "
                         "a param's shape",
                  n->name, S->ctx == CTX_MASK ? "i32" : "f32");
    diag_error(S->d, n->loc, hint.failed ? NULL : sb_cstr(&hint), "unknown name '%s'", n->name);
    sb_free(&hint);
    return NULL;
}

static expr *check_name(sema *S, const node *n)
{
    const char *x = n->name;
    if (!strcmp(x, "true") || !strcmp(x, "false"))
        return ex_bool(S->a, x[0] == 't');
    if (!strcmp(x, "s") || !strcmp(x, "scale")) {
        if (S->ctx != CTX_SCORE) {
            diag_error(S->d, n->loc, NULL, "'%s' can only be used in a score expression", x);
            return NULL;
        }
        return x[1] ? ex_float(S->a, S->r->scale) : ex_leaf(S->a, EX_SCORE);
    }
    if (!strcmp(x, "head") || !strcmp(x, "kv_head") || !strcmp(x, "batch"))
        return ex_leaf(S->a, x[0] == 'h' ? EX_HEAD : x[0] == 'k' ? EX_KV_HEAD : EX_BATCH);
    if (!strcmp(x, "t") && S->ctx == CTX_DECAY)
        return ex_coord(S->a, SIDE_Q, -1);
    if (!strcmp(x, "t")) {
        diag_error(S->d, n->loc, "write q.t or k.t", "'t' alone is not a coordinate here");
        return NULL;
    }
    if (!strcmp(x, "q") || !strcmp(x, "k")) {
        diag_error(S->d, n->loc, NULL, "'%s' needs a coordinate, e.g. %s.t", x, x);
        return NULL;
    }
    if (fe_form_lookup(x) >= 0)
        return fe_sema_form(S, n);
    int sz = find_size(S, x);
    if (sz >= 0)
        return fe_size_expr(S, (size_id)sz);
    int p = fe_find_param(S, x);
    if (p >= 0) {
        if (S->r->params[p].ndim) {
            diag_error(S->d, n->loc, NULL, "'%s' is a tensor with %d dimension%s; index it like %s[...]", x,
                       S->r->params[p].ndim, S->r->params[p].ndim > 1 ? "s" : "", x);
            return NULL;
        }
        dtype dt = S->r->params[p].dtype;
        return ex_param(S->a, p, dt <= DT_F32 ? TY_FLOAT : TY_INT, 0, NULL);
    }
    return unknown_name(S, n);
}

static expr *check_member(sema *S, const node *n)
{
    if (strcmp(n->name, "q") && strcmp(n->name, "k")) {
        diag_error(S->d, n->loc, "write q.t or k.t", "only q and k have coordinates, not '%s'", n->name);
        return NULL;
    }
    coord_side side = n->name[0] == 'q' ? SIDE_Q : SIDE_K;
    if (!strcmp(n->member, "t"))
        return ex_coord(S->a, side, -1);
    for (int d = 0; d < S->r->grid_ndim; d++)
        if (!strcmp(n->member, S->grid_labels[d]))
            return ex_coord(S->a, side, d);
    if (fe_diag_full(S->d))
        return NULL;
    const char *cands[4] = {"t", S->grid_labels[0], S->grid_labels[1], S->grid_labels[2]};
    const char *near = fe_suggest(n->member, cands, 1 + S->r->grid_ndim);
    char hint[96];
    if (near)
        snprintf(hint, sizeof hint, "write '%s.%s'", n->name, near);
    else if (S->r->grid_ndim)
        snprintf(hint, sizeof hint, "coordinates: t%s%s%s%s%s%s", ", ", S->grid_labels[0],
                 S->r->grid_ndim > 1 ? ", " : "", S->r->grid_ndim > 1 ? S->grid_labels[1] : "",
                 S->r->grid_ndim > 2 ? ", " : "", S->r->grid_ndim > 2 ? S->grid_labels[2] : "");
    else
        snprintf(hint, sizeof hint, "the recipe has no token grid; its only coordinate is t");
    diag_error(S->d, n->member_loc, hint, "unknown coordinate '%s.%s'", n->name, n->member);
    return NULL;
}

static expr *check_index(sema *S, const node *n)
{
    int p = fe_find_param(S, n->name);
    if (p < 0) {
        if (fe_form_lookup(n->name) >= 0 || fe_is_reserved(n->name)) {
            diag_error(S->d, n->loc, NULL, "'%s' is not a tensor and cannot be indexed", n->name);
            return NULL;
        }
        return unknown_name(S, n);
    }
    const recipe_param *pr = &S->r->params[p];
    if (n->nargs != pr->ndim) {
        diag_error(S->d, n->loc, NULL, "'%s' has %d dimension%s but %d ind%s given", n->name, pr->ndim,
                   pr->ndim == 1 ? "" : "s", n->nargs, n->nargs == 1 ? "ex is" : "ices are");
        return NULL;
    }
    expr *idx[SYN_MAX_ARGS];
    bool ok = true;
    for (int i = 0; i < n->nargs; i++) {
        idx[i] = fe_sema_expr(S, n->args[i]);
        if (idx[i] && idx[i]->type != TY_INT) {
            diag_error(S->d, n->args[i]->span, NULL, "an index of '%s' must be an int, not %s", n->name,
                       fe_type_name(idx[i]->type));
            idx[i] = NULL;
        }
        ok &= idx[i] != NULL;
    }
    if (!ok)
        return NULL;
    return ex_param(S->a, p, pr->dtype <= DT_F32 ? TY_FLOAT : TY_INT, n->nargs, idx);
}

static expr *to_float(sema *S, expr *e)
{
    return e && e->type == TY_INT ? ex_unary(S->a, UN_TO_FLOAT, e) : e;
}

/* Reports and returns false unless e has one of the wanted types. */
static bool want(sema *S, const node *at, expr *e, bool numeric, const char *what)
{
    if (!e)
        return false;
    if (numeric ? e->type != TY_BOOL : e->type == TY_BOOL)
        return true;
    diag_error(S->d, at->span, NULL, "%s needs %s, not %s", what, numeric ? "a number" : "a bool",
               fe_type_name(e->type));
    return false;
}

/* An int operation on constant ints is folded when the recipe is checked:
 * exactly, so a constant that does not fit in 64 bits is an error at the
 * operation (docs/recipe-language.md §3.9). Other nodes come back as they
 * are. Only e's own operands are looked at (they were folded when built). */
static expr *fold_const(sema *S, const node *at, expr *e)
{
    if (!e || e->type != TY_INT || (e->kind != EX_UNARY && e->kind != EX_BINARY))
        return e;
    for (int i = 0; i < e->nargs; i++)
        if (e->args[i]->kind != EX_CONST_INT)
            return e;
    int64_t x = e->args[0]->u.ival, y = e->nargs > 1 ? e->args[1]->u.ival : 0, v;
    bool ok = true;
    if (e->kind == EX_UNARY) {
        if (e->u.unop == UN_NEG)
            ok = ck_neg(x, &v);
        else if (e->u.unop == UN_ABS)
            ok = ck_abs(x, &v);
        else
            return e;
    } else {
        switch (e->u.binop) {
        case BIN_ADD: ok = ck_add(x, y, &v); break;
        case BIN_SUB: ok = ck_sub(x, y, &v); break;
        case BIN_MUL: ok = ck_mul(x, y, &v); break;
        case BIN_DIV: ok = !(x == INT64_MIN && y == -1), v = expr_floordiv(x, y); break;
        case BIN_MOD: v = expr_floormod(x, y); break;
        case BIN_MIN: v = x < y ? x : y; break;
        case BIN_MAX: v = x > y ? x : y; break;
        default: return e;
        }
    }
    if (!ok) {
        diag_error(S->d, at->span, "ints are 64-bit: -9223372036854775808 to 9223372036854775807",
                   "constant overflows 64-bit int");
        return NULL;
    }
    return ex_int(S->a, v);
}

static expr *check_unary(sema *S, const node *n)
{
    expr *x = fe_sema_expr(S, n->args[0]);
    if (n->op == P_BANG) {
        if (!x || x->type == TY_BOOL)
            return ex_unary(S->a, UN_NOT, x);
        diag_error(S->d, n->args[0]->span, NULL, "'!' needs a bool, not %s", fe_type_name(x->type));
        return NULL;
    }
    if (!want(S, n->args[0], x, true, "'-'"))
        return NULL;
    if (x->kind == EX_CONST_FLOAT)
        return ex_float(S->a, -x->u.fval);
    return fold_const(S, n, ex_unary(S->a, UN_NEG, x));
}

static expr_binop binop_of(int op)
{
    switch (op) {
    case P_PLUS: return BIN_ADD;
    case P_MINUS: return BIN_SUB;
    case P_STAR: return BIN_MUL;
    case P_SLASH: return BIN_DIV;
    case P_PERCENT: return BIN_MOD;
    case P_LT: return BIN_LT;
    case P_LE: return BIN_LE;
    case P_GT: return BIN_GT;
    case P_GE: return BIN_GE;
    case P_EQEQ: return BIN_EQ;
    case P_NE: return BIN_NE;
    case P_ANDAND: return BIN_AND;
    default: return BIN_OR;
    }
}

static expr *check_binary(sema *S, const node *n)
{
    expr *l = fe_sema_expr(S, n->args[0]), *r = fe_sema_expr(S, n->args[1]);
    if (!l || !r)
        return NULL;
    expr_binop op = binop_of(n->op);
    char what[32];
    snprintf(what, sizeof what, "'%s'", fe_punct_text(n->op));
    if (op == BIN_AND || op == BIN_OR) {
        bool lok = want(S, n->args[0], l, false, what), rok = want(S, n->args[1], r, false, what);
        if (!lok || !rok) /* both checked: each side reports its own error */
            return NULL;
        return ex_binary(S->a, op, l, r);
    }
    bool eq = op == BIN_EQ || op == BIN_NE;
    if (eq && l->type == TY_BOOL && r->type == TY_BOOL)
        return ex_binary(S->a, op, l, r);
    bool lok = want(S, n->args[0], l, true, what), rok = want(S, n->args[1], r, true, what);
    if (!lok || !rok)
        return NULL;
    if (op == BIN_MOD && (l->type != TY_INT || r->type != TY_INT)) {
        diag_error(S->d, n->loc, "convert with floor(x) first", "'%%' needs int operands, not %s",
                   fe_type_name(l->type != TY_INT ? l->type : r->type));
        return NULL;
    }
    if ((op == BIN_DIV || op == BIN_MOD) && ((r->kind == EX_CONST_INT && r->u.ival == 0) ||
                                              (r->kind == EX_CONST_FLOAT && r->u.fval == 0))) {
        diag_error(S->d, n->args[1]->span, NULL, "division by zero");
        return NULL;
    }
    return fold_const(S, n, ex_binary(S->a, op, l, r));
}

typedef struct func_info {
    const char *name;
    int nargs;
} func_info;

static const func_info funcs[] = {
    {"min", 2}, {"max", 2}, {"abs", 1}, {"clamp", 3}, {"select", 3}, {"exp", 1}, {"log", 1},
    {"tanh", 1}, {"sqrt", 1}, {"float", 1}, {"floor", 1}, {"softcap", 2}, {"alibi_slope", 1},
};

static expr *apply_func(sema *S, const node *n, int f, expr **x)
{
    arena *a = S->a;
    const char *name = funcs[f].name;
    bool numeric = f != 4; /* select: checked below */
    for (int i = 0; numeric && i < n->nargs; i++)
        if (!want(S, n->args[i], x[i], true, arena_printf(a, "'%s'", name)))
            return NULL;
    switch (f) {
    case 0: return fold_const(S, n, ex_binary(a, BIN_MIN, x[0], x[1]));
    case 1: return fold_const(S, n, ex_binary(a, BIN_MAX, x[0], x[1]));
    case 2: return fold_const(S, n, ex_unary(a, UN_ABS, x[0]));
    case 3: return fold_const(S, n, ex_binary(a, BIN_MIN, fold_const(S, n, ex_binary(a, BIN_MAX, x[0], x[1])), x[2]));
    case 4:
        if (!want(S, n->args[0], x[0], false, "the condition of 'select'"))
            return NULL;
        if ((x[1]->type == TY_BOOL) != (x[2]->type == TY_BOOL)) {
            diag_error(S->d, n->args[2]->span, NULL, "'select' needs two values of one kind, got %s and %s",
                       fe_type_name(x[1]->type), fe_type_name(x[2]->type));
            return NULL;
        }
        return ex_select(a, x[0], x[1], x[2]);
    case 5: return ex_unary(a, UN_EXP, to_float(S, x[0]));
    case 6: return ex_unary(a, UN_LOG, to_float(S, x[0]));
    case 7: return ex_unary(a, UN_TANH, to_float(S, x[0]));
    case 8: return ex_unary(a, UN_SQRT, to_float(S, x[0]));
    case 9: return to_float(S, x[0]);
    case 10: return x[0]->type == TY_INT ? x[0] : ex_unary(a, UN_FLOOR, x[0]);
    case 11: { /* softcap(x, c) = c * tanh(x / c) */
        expr *c = to_float(S, x[1]);
        return ex_binary(a, BIN_MUL, c, ex_unary(a, UN_TANH, ex_binary(a, BIN_DIV, to_float(S, x[0]), c)));
    }
    default: { /* alibi_slope(h) = 2^(-8 (h + 1) / heads) */
        if (x[0]->type != TY_INT) {
            diag_error(S->d, n->args[0]->span, NULL, "'alibi_slope' needs an int head index, not %s",
                       fe_type_name(x[0]->type));
            return NULL;
        }
        expr *h1 = fold_const(S, n, ex_binary(a, BIN_ADD, x[0], ex_int(a, 1)));
        expr *num = to_float(S, fold_const(S, n, ex_binary(a, BIN_MUL, ex_int(a, -8), h1)));
        expr *expo = ex_binary(a, BIN_DIV, num, to_float(S, fe_size_expr(S, SZ_HEADS)));
        return ex_unary(a, UN_EXP, ex_binary(a, BIN_MUL, expo, ex_float(a, M_LN2)));
    }
    }
}

static expr *check_call(sema *S, const node *n)
{
    if (fe_form_lookup(n->name) >= 0)
        return fe_sema_form(S, n);
    int f = -1;
    for (size_t i = 0; i < sizeof funcs / sizeof *funcs; i++)
        if (!strcmp(n->name, funcs[i].name))
            f = (int)i;
    if (f < 0 && fe_diag_full(S->d))
        return NULL;
    if (f < 0) {
        const char *names[sizeof funcs / sizeof *funcs + 10];
        int k = 0;
        for (size_t i = 0; i < sizeof funcs / sizeof *funcs; i++)
            names[k++] = funcs[i].name;
        static const char *const forms[] = {"causal", "sliding_window", "neighborhood", "radial", "strided_heads",
                                            "sinks", "document", "blocks", "full", "radial_token"};
        for (int i = 0; i < 10; i++)
            names[k++] = forms[i];
        const char *near = fe_suggest(n->name, names, k);
        char hint[96];
        snprintf(hint, sizeof hint, "write '%s'", near ? near : "");
        diag_error(S->d, n->loc, near ? hint : NULL, "unknown %s '%s'",
                   S->ctx == CTX_MASK ? "mask form or function" : "function", n->name);
        return NULL;
    }
    for (int i = 0; i < n->nargs; i++)
        if (n->keys[i]) {
            diag_error(S->d, n->key_locs[i], NULL, "'%s' takes no keyword arguments", n->name);
            return NULL;
        }
    if (n->nargs != funcs[f].nargs) {
        diag_error(S->d, n->loc, NULL, "'%s' takes %d argument%s, not %d", n->name, funcs[f].nargs,
                   funcs[f].nargs == 1 ? "" : "s", n->nargs);
        return NULL;
    }
    expr *x[3];
    bool ok = true;
    for (int i = 0; i < n->nargs; i++)
        ok &= (x[i] = fe_sema_expr(S, n->args[i])) != NULL;
    return ok ? apply_func(S, n, f, x) : NULL;
}

static expr *check_node(sema *S, const node *n)
{
    switch (n->kind) {
    case N_INT:
        return ex_int(S->a, n->ival);
    case N_FLOAT:
        return ex_float(S->a, n->fval);
    case N_NAME:
        return check_name(S, n);
    case N_MEMBER:
        return check_member(S, n);
    case N_INDEX:
        return check_index(S, n);
    case N_CALL:
        return check_call(S, n);
    case N_UNARY:
        return check_unary(S, n);
    case N_BINARY:
        return check_binary(S, n);
    case N_TUPLE:
        diag_error(S->d, n->span, NULL, "a tuple is only allowed as an argument of a mask form");
        return NULL;
    }
    return NULL;
}

/* Remembers where a score node came from (recipe.score_origins). */
static void record_origin(sema *S, const expr *e, src_loc span)
{
    if (S->norigins == S->origins_cap) {
        int ncap = S->origins_cap ? S->origins_cap * 2 : 32;
        expr_origin *nv = ARENA_ARRAY(S->a, expr_origin, ncap);
        if (!nv)
            return; /* the arena's failed flag reports it */
        for (int i = 0; i < S->norigins; i++)
            nv[i] = S->origins[i];
        S->origins = nv;
        S->origins_cap = ncap;
    }
    S->origins[S->norigins++] = (expr_origin){e, span};
}

expr *fe_sema_expr(sema *S, const node *n)
{
    if (!n)
        return NULL;
    expr *e = check_node(S, n);
    if (e && S->ctx == CTX_SCORE)
        record_origin(S, e, n->span);
    return e;
}

bool fe_const_int(const node *n, int64_t *out)
{
    int64_t l, r;
    switch (n->kind) {
    case N_INT:
        *out = n->ival;
        return true;
    case N_UNARY:
        if (n->op != P_MINUS || !fe_const_int(n->args[0], &l) || l == INT64_MIN)
            return false;
        *out = -l;
        return true;
    case N_BINARY:
        if (!fe_const_int(n->args[0], &l) || !fe_const_int(n->args[1], &r))
            return false;
        switch (n->op) {
        case P_PLUS: return !__builtin_add_overflow(l, r, out);
        case P_MINUS: return !__builtin_sub_overflow(l, r, out);
        case P_STAR: return !__builtin_mul_overflow(l, r, out);
        default: return false;
        }
    default:
        return false;
    }
}
