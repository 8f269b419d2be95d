/*
 * tile_ir.h — the tile IR: a kernel as a structured program over tiles.
 *
 * A kernel is a grid of programs, one per (query tile, head, batch). Each
 * program is a list of ops; `for` ops carry a nested body that runs once per
 * key/value tile of a range. Values are in SSA form and numbered canonically
 * (%0, %1, ... in program order) so the printed text is stable and can feed
 * the cache key. docs/TILE_IR.md gives the text syntax; the printer and the
 * parser share it exactly (print -> parse -> print is identical).
 *
 * The softmax family lowers to this canonical shape (the passes refine it):
 *
 *   %qb  = qtile                                   box of this program's query tokens
 *   %q   = load q %qb            : tile<Tq x D, bf16, reg>
 *   %m   = fill -inf             : rows<Tq>
 *   %l   = fill 0                : rows<Tq>
 *   %acc = fill 0                : tile<Tq x Dv, f32, reg>
 *   %r   = kv_range %qb {mode, per-dim bounds}     (mask analysis fills this in)
 *   %m2, %l2, %acc2 = for %kb in %r iter(%m, %l, %acc) {
 *       %k  = load k %kb         : tile<Tk x D, bf16, shared>
 *       %s  = dot %q, %k trans_b : tile<Tq x Tk, f32, reg>
 *       %c  = tile_class %qb, %kb {full-expr}       full or partial for this pair
 *       %t  = score %s, %qb, %kb, %c {score-expr, mask-expr}   masked to -inf where dropped
 *       %p, %m', %l', %alpha = softmax_update %t, %m, %l
 *       %v  = load v %kb         : tile<Tk x Dv, bf16, shared>
 *       %a1 = rescale %acc, %alpha
 *       %a2 = dot %p, %v acc %a1
 *       yield %m', %l', %a2
 *   }
 *   %o, %lse = finalize %acc2, %m2, %l2             O = acc / l (0 when l == 0), lse = m + log l
 *   store o %qb, %o
 *   store lse %qb, %lse
 *
 * Linear attention lowers to the ops marked "linear" below (see
 * passes/lower_linear.c for its canonical shape).
 */
#ifndef ATTNC_IR_TILE_IR_H
#define ATTNC_IR_TILE_IR_H

#include <stdbool.h>

#include "../support/arena.h"
#include "../support/strbuf.h"
#include "expr.h"
#include "schedule.h"

/* What kind of thing a value is. */
typedef enum {
    TV_TILE,  /* 2-D tile: shape[0] rows (tokens) x shape[1] cols */
    TV_ROWS,  /* per-row f32 vector of shape[0] rows (m, l, alpha, lse) */
    TV_BOX,   /* a box of tokens: a query or key tile's coordinates */
    TV_RANGE, /* the key tiles one query tile visits */
    TV_CLASS, /* full / partial classification of a tile pair */
} tir_value_kind;

typedef enum { SPACE_NONE, SPACE_GLOBAL, SPACE_SHARED, SPACE_REG } tir_space;

/* Register/shared layouts assigned by passes/layout.c. LAYOUT_ANY before. */
typedef enum {
    LAYOUT_ANY,
    LAYOUT_MMA_A,    /* m16n8k16 A-operand fragments (row major) */
    LAYOUT_MMA_B,    /* B-operand fragments */
    LAYOUT_MMA_ACC,  /* accumulator fragments; rows vectors follow it */
    LAYOUT_SMEM_ROW, /* shared, row major, padded/swizzled for ldmatrix */
    LAYOUT_HOST,     /* plain row-major arrays (CPU backend) */
} tir_layout;

typedef struct tir_type {
    tir_value_kind kind;
    dtype dt;
    int shape[2];
    tir_space space;
    tir_layout layout;
} tir_type;

typedef struct tir_value {
    int id; /* canonical number, assigned by tir_renumber() */
    tir_type type;
    struct tir_op *def; /* defining op, NULL for block arguments */
} tir_value;

/* Named tensors a kernel reads and writes. Params index recipe params. */
typedef enum { TENSOR_Q, TENSOR_K, TENSOR_V, TENSOR_O, TENSOR_LSE, TENSOR_PARAM } tir_tensor;

/* The key-tile range computed by mask analysis. */
typedef enum {
    RANGE_ALL,         /* every key tile (no mask, or nothing could be proven) */
    RANGE_BOUNDS,      /* per dim, key tile index in [lo, hi]: closed form */
    RANGE_BLOCK_TABLE, /* a per-shape table of visited tiles, built once */
} tir_range_mode;

/*
 * Op table: name, min operands, results, whether it has a body.
 * Attributes per op are documented at each entry.
 */
#define TIR_OPS(X)                                                                             \
    /* qtile -> box: this program's query tile box */                                           \
    X(QTILE, "qtile", 0, 1, false)                                                              \
    /* load <tensor> box -> tile (attr tensor, param; space in result type) */                 \
    X(LOAD, "load", 1, 1, false)                                                                \
    /* store <tensor> box, tile|rows */                                                        \
    X(STORE, "store", 2, 0, false)                                                              \
    /* fill -> tile|rows (attr fval: 0, -inf ...) */                                           \
    X(FILL, "fill", 0, 1, false)                                                                \
    /* kv_range qbox -> range (attr range mode, per-dim lo/hi exprs over the q box) */         \
    X(KV_RANGE, "kv_range", 1, 1, false)                                                        \
    /* for range, inits... -> results...; body args: kv box, iter values */                    \
    X(FOR, "for", 1, 0, true)                                                                   \
    /* yield values... (ends a for body) */                                                    \
    X(YIELD, "yield", 0, 0, false)                                                              \
    /* dot a, b [, acc] -> tile f32 (attr trans_b) */                                          \
    X(DOT, "dot", 2, 1, false)                                                                  \
    /* tile_class qbox, kbox -> class (attr full: bool expr over box corners) */               \
    X(TILE_CLASS, "tile_class", 2, 1, false)                                                    \
    /* score s, qbox, kbox [, class] -> tile (attrs score expr, mask expr, base2 flag) */      \
    X(SCORE, "score", 3, 1, false)                                                              \
    /* softmax_update t, m, l -> p, m', l', alpha (attr base2) */                              \
    X(SOFTMAX_UPDATE, "softmax_update", 3, 4, false)                                            \
    /* rescale acc, alpha -> acc * alpha per row */                                            \
    X(RESCALE, "rescale", 2, 1, false)                                                          \
    /* finalize acc, m, l -> o, lse */                                                         \
    X(FINALIZE, "finalize", 3, 2, false)                                                        \
    /* convert tile -> tile of another dtype/space/layout */                                   \
    X(CONVERT, "convert", 1, 1, false)                                                          \
    /* linear: feature_map tile -> tile (attr feature) */                                      \
    X(FEATURE_MAP, "feature_map", 1, 1, false)                                                  \
    /* linear: decay_mask s, qbox, kbox -> s * decay weight (causal, per head/token) */        \
    X(DECAY_MASK, "decay_mask", 3, 1, false)                                                    \
    /* linear: state_apply q, state, qbox -> tile (q S with per-row decay) */                  \
    X(STATE_APPLY, "state_apply", 3, 1, false)                                                  \
    /* linear: state_update state, k, v, kbox -> state' (decayed, plus kᵀv) */                 \
    X(STATE_UPDATE, "state_update", 4, 1, false)                                                \
    /* elementwise add a, b */                                                                 \
    X(ADD, "add", 2, 1, false)

typedef enum {
#define X(id, name, nopnd, nres, body) TIR_##id,
    TIR_OPS(X)
#undef X
        TIR_OP_COUNT
} tir_op_kind;

typedef struct tir_block tir_block;

enum { TIR_MAX_OPERANDS = 8, TIR_MAX_RESULTS = 8 };

typedef struct tir_op {
    tir_op_kind kind;
    int noperands, nresults;
    tir_value *operands[TIR_MAX_OPERANDS];
    tir_value *results[TIR_MAX_RESULTS];

    /* Attributes (which ones an op uses is listed in TIR_OPS). */
    tir_tensor tensor;
    int param;         /* TENSOR_PARAM: recipe param index */
    double fval;       /* FILL */
    bool trans_b;      /* DOT */
    bool base2;        /* SCORE, SOFTMAX_UPDATE: scores pre-scaled by log2(e), exp2 used */
    expr *score_expr;  /* SCORE: the recipe's score expression (of s and coordinates) */
    expr *mask_expr;   /* SCORE: NULL or the mask, applied where class is partial */
    expr *full_expr;   /* TILE_CLASS: bool over box corners, true => no element masked */
    tir_range_mode range_mode; /* KV_RANGE */
    int range_ndims;
    expr *range_lo[SCHED_MAX_DIMS]; /* KV_RANGE: first kv tile index per dim (over the q box) */
    expr *range_hi[SCHED_MAX_DIMS]; /* last kv tile index per dim (inclusive) */
    int feature;                    /* FEATURE_MAP: feature_map value */

    tir_block *body; /* FOR */
    struct tir_op *next;
} tir_op;

struct tir_block {
    int nargs;
    tir_value *args[TIR_MAX_OPERANDS];
    tir_op *first, *last;
};

/* Box-corner variables used inside range/class expressions: EX_COORD with
 * dim in [0, 3) denotes a grid coordinate; in range and class expressions the
 * q/k coordinates are replaced by box corners, encoded as EX_COORD with
 * dim = TIR_BOX_LO + d or TIR_BOX_HI + d (inclusive corners). */
enum { TIR_BOX_LO = 16, TIR_BOX_HI = 32 };

typedef struct tir_kernel {
    const char *name;
    int family; /* recipe_family */
    dtype qkv_dtype;
    int head_dim, head_dim_v;
    int grid_ndim;           /* token grid dims (0 for a plain sequence) */
    schedule sched;
    int nparams;
    const char **param_names; /* for printing params */
    dtype *param_dtypes;
    tir_block *body;
    arena *arena;
} tir_kernel;

const char *tir_op_name(tir_op_kind k);
tir_op_kind tir_op_from_name(const char *name, bool *ok);

#endif
