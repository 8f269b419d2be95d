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
 * Before the `tiling` pass, token extents are unknown and print as `?`
 * (tile<?x128,...>, box<?>); tiling fills them in from the schedule. The
 * `fusion` pass sets base2 on score/softmax_update/finalize (scores then carry
 * a factor log2(e) and exp2 is used; finalize turns m back into natural log).
 * tile_class carries two bool expressions over box corners: `full` (every pair
 * in the two boxes is kept: no per-element mask needed) and `empty` (no pair
 * is kept: the key tile may be skipped). Both may be `false` (unknown).
 *
 * Linear attention lowers to the ops marked "linear" below; its canonical
 * shape (one program per (batch, head), blocks of C = schedule.linear_block
 * tokens visited in order, state S: tile<D x Dv, f32>):
 *
 *   %qb  = qtile                                   the whole token sequence
 *   %S0  = fill 0                : tile<D x Dv, f32, reg>
 *   %r   = kv_range %qb {all}
 *   %S   = for %b in %r iter(%S0) {
 *       %q  = load q %b ; %k = load k %b ; %v = load v %b
 *       %fq = feature_map %q     %fk = feature_map %k
 *       %s  = dot %fq, %fk trans_b             : tile<C x C, f32>
 *       %w  = decay_mask %s, %b, %b            s * causal mask * decay weight
 *       %oi = dot %w, %v                       intra-block (quadratic) part
 *       %oe = state_apply %fq, %S, %b          inter-block part: φ(q) S, decayed per row
 *       %o  = add %oi, %oe
 *       store o %b, %o
 *       %S' = state_update %S, %fk, %v, %b     S' = decay(C) S + decayed φ(k)ᵀ v
 *       yield %S'
 *   }
 * With `normalize`, v tiles get one extra ones column (load attr aug=1, so
 * Dv+1 columns), the state carries z in its last column, and the output goes
 * through `finalize %o` (one operand: column j / last column, 0 when 0).
 *
 * The `pipelining` pass (GPU targets) gives the key loop a software pipeline:
 * `for {stages=S}`, its k/v loads `{prefetch=1}`, a `wait %t {pending=S-1}`
 * before each prefetched tile's first use and a `barrier` before the yield
 * (the stage's shared buffer is refilled next). docs/TILE_IR.md, "Pipelining".
 * Non-causal linear attention is two loops: the first only accumulates S
 * with state_update, the second applies it (state_apply, no intra part).
 */
#ifndef ATTNC_IR_TILE_IR_H
#define ATTNC_IR_TILE_IR_H

#include <stdbool.h>

#include "../support/arena.h"
#include "../support/strbuf.h"
#include "attn_kinds.h"
#include "expr.h"
#include "expr_range.h"
#include "schedule.h"

/* What kind of thing a value is. */
typedef enum {
    TV_TILE,  /* 2-D tile: shape[0] rows (tokens) x shape[1] cols */
    TV_ROWS,  /* per-row f32 vector of shape[0] rows (m, l, alpha, lse) */
    TV_BOX,   /* a box of tokens: a query or key tile's coordinates (box_ndims, box_ext) */
    TV_RANGE, /* the key tiles one query tile visits */
    TV_CLASS, /* full / partial / empty classification of a tile pair */
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

/* shape[] entries are > 0, or a symbolic extent before tiling:
 * TIR_DIM_TQ (tokens per query tile, printed Tq) or TIR_DIM_TK (per key tile,
 * Tk); 0 is "unknown" (`?`). A box with box_ndims == 0 is symbolic too:
 * box_ext[0] = TIR_DIM_TQ (box<Tq>), TIR_DIM_TK (box<Tk>) or 0 (box<all>: the
 * whole token sequence, linear attention's program box). */
enum { TIR_DIM_TQ = -1, TIR_DIM_TK = -2 };
typedef struct tir_type {
    tir_value_kind kind;
    dtype dt;
    int shape[2];
    tir_space space;
    tir_layout layout;
    int box_ndims;                 /* TV_BOX: 0 before tiling */
    int box_ext[SCHED_MAX_DIMS];   /* TV_BOX: tokens per dim */
} tir_type;

typedef struct tir_value {
    int id; /* canonical number, assigned by tir_renumber() */
    tir_type type;
    struct tir_op *def; /* defining op, NULL for block arguments */
} tir_value;

/* Named tensors a kernel reads and writes. Params index recipe params.
 * After TENSOR_PARAM come the backward program's tensors (docs/TILE_IR.md,
 * "Backward"): the caller's dO, dQ, dK, dV and param gradients, and the
 * runtime's f32 workspace buffers (delta = rowsum(dO∘O), per-slot param
 * gradient partials, linear attention's q·dq / k·dk rows, normalised dO and
 * per-head dK/dV partials for GQA). */
typedef enum {
    TENSOR_Q,
    TENSOR_K,
    TENSOR_V,
    TENSOR_O,
    TENSOR_LSE,
    TENSOR_PARAM,
    TENSOR_DO,     /* [b, h, t, Dv], the qkv dtype */
    TENSOR_DQ,     /* like q */
    TENSOR_DK,     /* like k */
    TENSOR_DV,     /* like v */
    TENSOR_DPARAM, /* like the param `param` */
    TENSOR_DELTA,  /* workspace f32 [b, h, t] */
    TENSOR_SLOTS,  /* workspace f32 [slots, numel(param)] */
    TENSOR_QDQ,    /* workspace f32 [b, h, t] */
    TENSOR_KDK,    /* workspace f32 [b, h, t] */
    TENSOR_DOX,    /* workspace f32 [b, h, t, Dv + 1] */
    TENSOR_DKH,    /* workspace f32 [b, h, kv_t, D] */
    TENSOR_DVH,    /* workspace f32 [b, h, kv_t, Dv] */
    TENSOR_COUNT
} tir_tensor;

/* Which programs a kernel's grid holds (printed `programs=` when not the
 * family's default). */
typedef enum {
    PROG_DEFAULT, /* softmax: (batch, head, query tile); linear: (batch, head) */
    PROG_QTILES,  /* (batch, head, query tile) */
    PROG_HEADS,   /* (batch, head) */
    PROG_KVTILES, /* (batch, kv head, key tile): kvtile gives the box */
    PROG_KVHEADS, /* (batch, kv head) */
    PROG_SLOTS,   /* S slots; slot s runs the query-tile programs s, s+S, ... */
    PROG_ELEMS,   /* chunks of TIR_ELEM_CHUNK elements of the kernel's param */
    PROG_ONE,     /* a single program */
    PROG_COUNT
} tir_programs;
enum { TIR_ELEM_CHUNK = 1024 };

/* The key-tile range computed by mask analysis. */
typedef enum {
    RANGE_ALL,         /* every key tile (no mask, or nothing could be proven) */
    RANGE_BOUNDS,      /* per dim, key tile index in [lo, hi]: closed form */
    RANGE_BLOCK_TABLE, /* a per-shape table of visited tiles, built once (mask_block_table_build) */
    RANGE_INVERSE,     /* q_range only: lo/hi are the forward's key-tile bounds (over q box corners); the
                        * query tiles of a key tile are those whose forward range holds it */
} tir_range_mode;

/* A kv_range of mode bounds may also list 2..TIR_MAX_PARTS parts (unions in
 * the mask: sinks || window): boxes of key tile indices, each intersected
 * with the lo/hi box (the hull). The range is then the union of the parts;
 * parts may overlap and come in any order, and a consumer visits each tile
 * of the union once (codegen/range_parts.h normalises them: sorted by dim-0
 * start, overlapping ones merged). Consumers that ignore parts visit the
 * hull, which holds them all. A q_range of mode bounds or inverse may list
 * parts the same way (the transposed union: boxes of query tile indices
 * over the key box, one per term of the mask; the GPU dK/dV kernel walks
 * them (the CPU's always, the GPU's under $ATTNC_BWD_PARTS=1), inside the
 * hull of a bounds range or every query tile of an inverse one, with no
 * forward-range check). */
enum { TIR_MAX_PARTS = 4 };

/* A kv_range of mode bounds may also name a document-id param (`span=ids`,
 * int [tokens] or [batch, tokens], a sequence of tokens): the mask keeps a
 * pair only when ids[.., q.t] == ids[.., k.t]. The range of a query tile is
 * then also cut to its document span: the key tiles from the one holding
 * the first key whose id is one of the tile's query ids to the one holding
 * the last such key, computed at launch from the ids (runtime/host/doc_spans.h).
 * Consumers that ignore it visit the range without the cut. A kv_range of
 * mode table (document(ids) alone: no closed-form bound) may carry the
 * same span with bounds over the whole key range: the GPU kernels visit it
 * as bounds cut by the documents, the host keeps its block table. */

/*
 * Op table: name, min operands, results, whether it has a body.
 * Attributes per op are documented at each entry (text names in brackets).
 */
#define TIR_OPS(X)                                                                             \
    /* qtile -> box: this program's query tile box */                                           \
    X(QTILE, "qtile", 0, 1, false)                                                              \
    /* load box -> tile [tensor, param when tensor=param, aug: ones column (linear v)] */      \
    X(LOAD, "load", 1, 1, false)                                                                \
    /* store box, tile|rows [tensor] */                                                        \
    X(STORE, "store", 2, 0, false)                                                              \
    /* fill -> tile|rows [value: 0, -inf ...] */                                               \
    X(FILL, "fill", 0, 1, false)                                                                \
    /* kv_range qbox -> range [mode, lo/hi: per-dim kv tile index exprs over q box corners] */ \
    X(KV_RANGE, "kv_range", 1, 1, false) /* [parts: partP.loD/hiD; span: a doc-id param] */     \
    /* for range, inits... -> results...; body args: kv box, then one per init */              \
    X(FOR, "for", 1, 0, true)                                                                   \
    /* yield values... (ends a for body; one per for result) */                                \
    X(YIELD, "yield", 0, 0, false)                                                              \
    /* dot a, b [, acc] -> tile f32 [trans_b] */                                               \
    X(DOT, "dot", 2, 1, false)                                                                  \
    /* tile_class qbox, kbox -> class [full, empty: bool exprs over box corners] */            \
    X(TILE_CLASS, "tile_class", 2, 1, false)                                                    \
    /* score s, qbox, kbox [, class] -> tile [score expr, mask expr or none, base2] */        \
    X(SCORE, "score", 3, 1, false)                                                              \
    /* softmax_update t, m, l -> p, m', l', alpha [base2] */                                   \
    X(SOFTMAX_UPDATE, "softmax_update", 3, 4, false)                                            \
    /* rescale acc, alpha -> acc * alpha per row */                                            \
    X(RESCALE, "rescale", 2, 1, false)                                                          \
    /* finalize acc, m, l -> o, lse [base2]; linear normalize: finalize o -> o */             \
    X(FINALIZE, "finalize", 1, 2, false)                                                        \
    /* convert tile -> tile of another dtype/space/layout */                                   \
    X(CONVERT, "convert", 1, 1, false)                                                          \
    /* linear: feature_map tile -> tile [feature] */                                           \
    X(FEATURE_MAP, "feature_map", 1, 1, false)                                                  \
    /* linear: decay_mask s, qbox, kbox -> s * causal mask * decay weight [decay, param] */    \
    X(DECAY_MASK, "decay_mask", 3, 1, false)                                                    \
    /* linear: state_apply q, state, qbox -> tile (q S with per-row decay) [decay, param] */   \
    X(STATE_APPLY, "state_apply", 3, 1, false)                                                  \
    /* linear: state_update state, k, v, kbox -> state' [decay, param] */                      \
    X(STATE_UPDATE, "state_update", 4, 1, false)                                                \
    /* elementwise add a, b */                                                                 \
    X(ADD, "add", 2, 1, false)                                                                  \
    /* pipelining: wait tile [pending]: the prefetched load of tile has landed; at most        \
     * `pending` later stages of the enclosing for may still be in flight */                  \
    X(WAIT, "wait", 1, 0, false)                                                                \
    /* pipelining: block-wide barrier (every thread of the program arrives first) */           \
    X(BARRIER, "barrier", 0, 0, false)                                                          \
    /* ---- backward (docs/TILE_IR.md, "Backward") ---- */                                     \
    /* kvtile -> box: this program's key tile box (programs=kvtiles) */                        \
    X(KVTILE, "kvtile", 0, 1, false)                                                            \
    /* q_range kbox -> range [mode, lo/hi: per-dim q tile index exprs over k box corners,       \
     * group: also every query head of the program's kv head] */                               \
    X(Q_RANGE, "q_range", 1, 1, false)                                                          \
    /* row_dot a, b -> rows: sum_j a[i][j] * b[i][j] */                                        \
    X(ROW_DOT, "row_dot", 2, 1, false)                                                          \
    /* row_sum t -> rows: sum_j t[i][j] */                                                     \
    X(ROW_SUM, "row_sum", 1, 1, false)                                                          \
    /* row_div a, b -> rows: a[i] / b[i], 0 where b[i] is 0 */                                 \
    X(ROW_DIV, "row_div", 2, 1, false)                                                          \
    /* softmax_p t, lse -> p = exp(t - lse), 0 where t or lse is -inf */                        \
    X(SOFTMAX_P, "softmax_p", 2, 1, false)                                                      \
    /* score_grad s, p, dp, delta, qbox, kbox -> ds, dsr [dscore: d score/d s]:                 \
     * dsr = p (dp - delta), ds = dsr * dscore(s) (0 where p is 0) */                          \
    X(SCORE_GRAD, "score_grad", 6, 2, false)                                                    \
    /* param_grad dsr, s, qbox, kbox [param, site: the param read, partial]: adds               \
     * dsr * partial to the program's slot of the param's gradient */                          \
    X(PARAM_GRAD, "param_grad", 4, 0, false)                                                    \
    /* slot_reduce [param]: dparam = sum over slots, in slot order (programs=elems) */          \
    X(SLOT_REDUCE, "slot_reduce", 0, 0, false)                                                  \
    /* feature_grad dy, x -> dx = dy * feature'(x) [feature] */                                \
    X(FEATURE_GRAD, "feature_grad", 2, 1, false)                                                \
    /* norm_grad do, o -> do' (linear normalize; o = [numerator, denominator]) */               \
    X(NORM_GRAD, "norm_grad", 2, 1, false)                                                      \
    /* gate_grad [decay, param]: d(decay param) from the qdq and kdk rows (programs=one) */     \
    X(GATE_GRAD, "gate_grad", 0, 0, false)                                                      \
    /* head_sum [tensor=dk|dv]: sums the per-head partials of a kv head's group (kvheads) */    \
    X(HEAD_SUM, "head_sum", 0, 0, false)

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
    int param;         /* TENSOR_PARAM: recipe param index; linear ops: decay param (-1 none) */
    double fval;       /* FILL */
    bool trans_b;      /* DOT */
    bool trans_a;      /* DOT: a is [K x M] */
    bool reverse;      /* FOR: last tile first; DECAY_MASK, STATE_*: anti-causal direction */
    bool group;        /* Q_RANGE: iterate every query head of the kv head too */
    bool strict;       /* DECAY_MASK: drop the diagonal too (j < i; reverse: j > i) */
    bool base2;        /* SCORE, SOFTMAX_UPDATE, FINALIZE: scores pre-scaled by log2(e), exp2 used */
    bool aug;          /* LOAD: append a ones column (linear normalize) */
    expr *score_expr;  /* SCORE: the recipe's score expression (of s and coordinates) */
    expr *mask_expr;   /* SCORE: NULL or the mask, applied where class is not full */
    expr *full_expr;   /* TILE_CLASS: bool over box corners, true => no element masked */
    expr *empty_expr;  /* TILE_CLASS: bool over box corners, true => every element masked */
    tir_range_mode range_mode; /* KV_RANGE */
    int range_ndims;
    expr *range_lo[SCHED_MAX_DIMS]; /* KV_RANGE: first kv tile index per dim (over the q box) */
    expr *range_hi[SCHED_MAX_DIMS]; /* last kv tile index per dim (inclusive; empty if < lo) */
    int range_nparts;               /* KV_RANGE/Q_RANGE bounds: 0, or 2..TIR_MAX_PARTS parts of the union */
    bool span;                      /* KV_RANGE bounds: document spans of param span_param cut the range */
    int span_param;
    expr *span_full_expr;           /* KV_RANGE with span: NULL, or bool over the q and kv boxes, true => within
                                       one document no pair of the tiles is masked (the mask without its
                                       document filter: full tiles inside a document skip the mask) */
    expr *span_mask_expr;           /* KV_RANGE with span: NULL, or the element mask without that filter, which
                                       partial tiles inside one document take (no id loads) */
    expr *part_lo[TIR_MAX_PARTS][SCHED_MAX_DIMS], *part_hi[TIR_MAX_PARTS][SCHED_MAX_DIMS];
    int feature;                    /* FEATURE_MAP: feature_map value */
    int decay;                      /* DECAY_MASK, STATE_*: decay_kind value */
    bool prefetch;                  /* LOAD in a pipelined for body: issued `stages - 1` iterations ahead */
    int stages;                     /* FOR: software pipeline depth (0: not pipelined) */
    int pending;                    /* WAIT: later stages that may still be in flight */
    expr *site_expr;                /* PARAM_GRAD: the param read (EX_PARAM with its index args) */
    expr *partial_expr;             /* PARAM_GRAD: d score / d that element, of s and coordinates */

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
 * dim = TIR_BOX_LO + d or TIR_BOX_HI + d (inclusive corners, clipped to the
 * grid). For a plain sequence, box dim 0 is the token index t. They print as
 * q.lo0, q.hi0, k.lo1 ... */
enum { TIR_BOX_LO = 16, TIR_BOX_HI = 32 };

/* A runtime param of the kernel (the recipe's `param` lines), as code
 * generators address it: a scalar (ndim 0) or a row-major tensor whose
 * dim d has the launch size dims[d], or the literal extent const_dims[d]
 * where that is > 0. */
typedef struct tir_param {
    const char *name;
    dtype dtype;
    int ndim;
    size_id dims[4];
    int64_t const_dims[4];
} tir_param;

typedef struct tir_kernel {
    const char *name;
    int family; /* recipe_family (attn_kinds.h) */
    dtype qkv_dtype;
    int head_dim, head_dim_v;
    int grid_ndim;           /* token grid dims (0 for a plain sequence) */
    schedule sched;
    target_arch arch;        /* set by the layout pass (host until then) */
    tir_programs programs;   /* the program grid (PROG_DEFAULT: the family's) */
    /* Dilation-group tiling (forward softmax kernels; 0 or 1: none): per
     * tile dim, query and key tiles are strided boxes of one dilation group
     * g = i mod dil (rows lo, lo + dil, ...); query tile index q of dim d is
     * group q mod dil, group-local tile q div dil; kv_range bounds are
     * group-local key tile indices (docs/mask-analysis.md). */
    int dil[SCHED_MAX_DIMS];
    int param;               /* PROG_ELEMS: the param whose elements the programs cover (-1: none) */
    /* What the recipe says beyond the ops, for code generators (which read
     * nothing else) and so for the printed text, a complete cache key. */
    bool cross;                 /* k/v have their own token count (kv_tokens) */
    int nsizes;                 /* launch sizes: SZ_EXTRA0 + extra names of param shapes */
    int64_t size_fixed[SZ_MAX]; /* > 0: the recipe fixes that size to this value */
    linear_attrs linear;        /* FAMILY_LINEAR: the recipe's linear section */
    int nparams;
    tir_param *params;
    tir_block *body;
    arena *arena;
} tir_kernel;

/* A program of several kernels run in order, each over its own grid (the
 * backward: preprocess, dK/dV, dQ, param reductions). Kernels share the
 * arena; a later kernel may read what an earlier one stored. */
enum { TIR_MAX_KERNELS = 8 };
typedef struct tir_program {
    int nkernels;
    tir_kernel *kernels[TIR_MAX_KERNELS];
} tir_program;

const char *tir_op_name(tir_op_kind k);
tir_op_kind tir_op_from_name(const char *name, bool *ok);
int tir_op_min_operands(tir_op_kind k);
int tir_op_num_results(tir_op_kind k); /* fixed count; FOR: as many as inits */

/* ---- builder (ir/tir_build.c). All return NULL on arena failure. ---- */
tir_kernel *tir_kernel_new(arena *a, const char *name);
/* Whether k uses dilation-group tiling (some dil[d] > 1). */
bool tir_kernel_dilated(const tir_kernel *k);
/* k's dilation of tile dim d (1 when none). */
int tir_kernel_dil(const tir_kernel *k, int d);
/* The value ranges k's expressions can take (ir/expr_range.h): its grid,
 * fixed sizes and param element types. */
void tir_kernel_range_env(const tir_kernel *k, range_env *env);
tir_block *tir_block_new(arena *a);
tir_value *tir_value_new(arena *a, tir_type t);
/* Appends a new op to `b` with the given operands and fresh results of the
 * given types. */
tir_op *tir_append(arena *a, tir_block *b, tir_op_kind kind, int nops, tir_value *const *ops, int nres,
                   const tir_type *res_types);
tir_value *tir_block_add_arg(arena *a, tir_block *b, tir_type t);
tir_type tir_tile_type(int rows, int cols, dtype dt, tir_space sp);
tir_type tir_rows_type(int rows);
tir_type tir_simple_type(tir_value_kind kind); /* box (unknown extents), range, class */
/* Canonical numbering in print order: results of an op, then (for `for`)
 * its body args, then the body. */
void tir_renumber(tir_kernel *k);
/* Visits every op (pre-order, bodies after their op). */
typedef void (*tir_op_visitor)(tir_op *op, void *user);
void tir_walk(tir_block *b, tir_op_visitor fn, void *user);

/* ---- text form (ir/tir_print.c, ir/tir_parse.c) ---- */
void tir_print(strbuf *out, tir_kernel *k); /* renumbers first */
void tir_print_type(strbuf *out, const tir_type *t);
/* Prints one op on one line (no body), for messages. */
void tir_print_op_line(strbuf *out, const tir_kernel *k, const tir_op *op);
/* Parses the printed form; NULL with "line:col: message" in err. The result
 * is verified. */
tir_kernel *tir_parse(arena *a, const char *text, size_t len, strbuf *err);
/* A program: its kernels' texts one after another. */
void tir_print_program(strbuf *out, tir_program *p);
bool tir_parse_program(arena *a, const char *text, size_t len, tir_program *out, strbuf *err);

/* ---- verifier (ir/tir_verify.c) ---- */
/* Returns true, or false with a message naming the op (index in print order
 * and printed form), the operand and the broken rule. */
bool tir_verify(tir_kernel *k, strbuf *err);

#endif
