/*
 * expr.h — the scalar expression IR used by masks and score modifications.
 *
 * A mask is a bool expression and a score modification a float expression
 * over the coordinates of one query/key pair. The front end produces these
 * trees (named mask forms such as `neighborhood(...)` are expanded into plain
 * expressions there, so every consumer sees one small language); passes
 * analyse them (interval arithmetic in mask analysis), code generators emit
 * them, and the fp64 reference interprets them independently.
 *
 * Semantics, exactly (docs/recipe-language.md repeats them for users):
 *  - int is a 64-bit signed integer in the language. Arithmetic that leaves
 *    64 bits wraps around (two's complement), in generated code, the
 *    evaluator (expr_eval.h) and the fp64 reference alike; the front end
 *    rejects a constant subexpression that overflows, and analyses that
 *    assume exact arithmetic first prove nothing wraps (expr_range.h).
 *    Code generators may use 32 bits where the ranges are proven to fit
 *    (token indices < 2^31).
 *  - int `/` and `%` are floor division and floor modulo; a zero divisor
 *    yields 0 (never a trap) and is rejected at compile time when constant.
 *  - float is computed in f32 by generated code and f64 by the reference.
 *  - `&&` and `||` do not short-circuit (both sides are pure).
 *  - comparisons of int with float convert the int to float.
 * Nodes live in an arena and are immutable after construction; sharing a
 * subtree between two parents is allowed (the trees are DAGs).
 */
#ifndef ATTNC_IR_EXPR_H
#define ATTNC_IR_EXPR_H

#include <stdbool.h>
#include <stdint.h>

#include "../support/arena.h"
#include "../support/strbuf.h"

typedef enum { TY_BOOL, TY_INT, TY_FLOAT } expr_type;

/* Element types of tensors. */
typedef enum { DT_BF16, DT_F16, DT_F32, DT_I32, DT_I64, DT_U8 } dtype;

const char *dtype_name(dtype t);
int dtype_size(dtype t);

/* Sizes that are bound at launch (or fixed by the recipe). */
typedef enum {
    SZ_BATCH,
    SZ_HEADS,
    SZ_KV_HEADS, /* == heads unless the recipe uses GQA */
    SZ_TOKENS,   /* query tokens */
    SZ_KV_TOKENS,
    SZ_GRID0, /* token grid extents, outermost first (z, y, x order of declaration) */
    SZ_GRID1,
    SZ_GRID2,
    SZ_EXTRA0, /* further names used in param shapes, numbered in order of first use */
    SZ_MAX = SZ_EXTRA0 + 8
} size_id;

/* The largest value of each size (docs/recipe-language.md §3.3; attnc.h
 * repeats them as ATTNC_MAX_*). batch and heads are CUDA grid dimensions;
 * tokens leave a factor of two of headroom in the kernels' 32-bit token
 * arithmetic (a tile past the end, ceil divisions); grid extents are bound by
 * tokens (their product); extra sizes only index params. The front end
 * rejects fixed sizes above them, a launch rejects bound sizes above them. */
#define SIZE_LIMIT_BATCH ((int64_t)65535)
#define SIZE_LIMIT_HEADS ((int64_t)65535)
#define SIZE_LIMIT_TOKENS ((int64_t)1 << 30)
#define SIZE_LIMIT_EXTRA ((int64_t)2147483647)
int64_t size_limit(size_id id);

/* Which side of the pair a coordinate belongs to. */
typedef enum { SIDE_Q, SIDE_K } coord_side;

#define EXPR_KINDS(X)                                                                    \
    X(CONST_BOOL, "bool")   /* ival 0/1 */                                                \
    X(CONST_INT, "int")     /* ival */                                                    \
    X(CONST_FLOAT, "float") /* fval */                                                    \
    X(COORD, "coord")       /* side, dim: -1 flat token index t, 0..2 grid coordinate */  \
    X(HEAD, "head")         /* query head index */                                        \
    X(KV_HEAD, "kv_head")   /* key/value head index (head / (heads / kv_heads)) */        \
    X(BATCH, "batch")                                                                     \
    X(SCORE, "s")           /* raw dot product q·k, float; score expressions only */      \
    X(SIZE, "size")         /* size: a size_id */                                         \
    X(PARAM, "param")       /* runtime tensor element: param index, args = indices */     \
    X(UNARY, "unary")                                                                     \
    X(BINARY, "binary")                                                                   \
    X(SELECT, "select") /* args[0] ? args[1] : args[2] */                                   \
    X(FORM, "form")     /* a named mask form before expansion (frontend/forms.h); only   \
                           in recipe.mask_surface, never in code the compiler consumes */

typedef enum {
#define X(name, text) EX_##name,
    EXPR_KINDS(X)
#undef X
        EX_KIND_COUNT
} expr_kind;

#define EXPR_UNOPS(X)                                                                      \
    X(NEG, "neg")                                                                          \
    X(NOT, "not")                                                                          \
    X(ABS, "abs")                                                                          \
    X(EXP, "exp")                                                                          \
    X(LOG, "log")                                                                          \
    X(TANH, "tanh")                                                                        \
    X(SQRT, "sqrt")                                                                        \
    X(TO_FLOAT, "float")                                                                   \
    X(FLOOR, "floor") /* float -> int */                                                   \
    X(LOG2I, "ilog2") /* int -> int: floor(log2(x)) for x >= 1, 0 for x < 1 */            \
    X(POW2I, "ipow2") /* int -> int: 2^x for 0 <= x <= 62, 0 for x < 0, 2^62 above */

typedef enum {
#define X(name, text) UN_##name,
    EXPR_UNOPS(X)
#undef X
        UN_COUNT
} expr_unop;

#define EXPR_BINOPS(X)                                                                     \
    X(ADD, "add", "+")                                                                     \
    X(SUB, "sub", "-")                                                                     \
    X(MUL, "mul", "*")                                                                     \
    X(DIV, "div", "/")                                                                     \
    X(MOD, "mod", "%")                                                                     \
    X(MIN, "min", "min")                                                                   \
    X(MAX, "max", "max")                                                                   \
    X(LT, "lt", "<")                                                                       \
    X(LE, "le", "<=")                                                                      \
    X(GT, "gt", ">")                                                                       \
    X(GE, "ge", ">=")                                                                      \
    X(EQ, "eq", "==")                                                                      \
    X(NE, "ne", "!=")                                                                      \
    X(AND, "and", "&&")                                                                    \
    X(OR, "or", "||")

typedef enum {
#define X(name, text, sym) BIN_##name,
    EXPR_BINOPS(X)
#undef X
        BIN_COUNT
} expr_binop;

typedef struct expr expr;
struct expr {
    expr_kind kind;
    expr_type type;
    union {
        int64_t ival;
        double fval;
        struct {
            coord_side side;
            int dim;
        } coord;
        size_id size;
        int param; /* index into recipe params */
        expr_unop unop;
        expr_binop binop;
        int form; /* EX_FORM: a mask_form (frontend/forms.h) */
    } u;
    int nargs;
    expr **args;
};

/* Constructors; every one returns NULL when the arena is out of memory and
 * accepts NULL operands (propagating NULL), so builders check once. Types are
 * computed from the operands (int op float -> float; comparisons -> bool). */
expr *ex_bool(arena *a, bool v);
expr *ex_int(arena *a, int64_t v);
expr *ex_float(arena *a, double v);
expr *ex_coord(arena *a, coord_side side, int dim);
expr *ex_leaf(arena *a, expr_kind kind); /* HEAD, KV_HEAD, BATCH, SCORE */
expr *ex_size(arena *a, size_id id);
expr *ex_param(arena *a, int param, expr_type elem_type, int nargs, expr **args);
expr *ex_unary(arena *a, expr_unop op, expr *x);
expr *ex_binary(arena *a, expr_binop op, expr *l, expr *r);
expr *ex_select(arena *a, expr *c, expr *t, expr *f);

const char *expr_unop_name(expr_unop op);
const char *expr_binop_name(expr_binop op);
const char *size_id_name(size_id id); /* "batch", "heads", ..., "grid0", "extra3" */

/* Prints the canonical prefix form, e.g. (and (ge k.t 0) (lt k.t q.t)). Sizes
 * print by id; param names come from the optional callback. */
typedef const char *(*expr_param_namer)(void *user, int param);
void expr_print(strbuf *out, const expr *e, expr_param_namer namer, void *user);

/* Structural queries used by analyses. */
bool expr_uses_kind(const expr *e, expr_kind kind);
bool expr_uses_coord(const expr *e, coord_side side);
bool expr_uses_binop(const expr *e, expr_binop op);
bool expr_equal(const expr *a, const expr *b);

#endif
