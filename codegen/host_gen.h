/*
 * host_gen.h — internal state of the host code generator (host_codegen.c)
 * shared by its op files (host_ops_*.c).
 *
 * Every tile IR value maps to an hval: tiles and row vectors are f32
 * row-major buffers at fixed offsets in the scratch block; boxes hold the
 * first coordinate per dim (an LLVM i64) and a static extent; ranges the
 * first and last kv tile index per dim; classes an i1 `full` flag (and an
 * `empty` flag). Token rows of a box tile enumerate the box row-major; a row
 * is valid when every coordinate lies inside the grid (partial tiles at the
 * edges), and invalid rows load as 0 and are never stored.
 */
#ifndef ATTNC_CODEGEN_HOST_GEN_H
#define ATTNC_CODEGEN_HOST_GEN_H

#include <llvm-c/Core.h>

#include "emit_expr.h"
#include "host_codegen.h"

typedef struct hval {
    tir_value_kind kind;
    /* TV_TILE / TV_ROWS: buffer of rows x cols f32 (rows: cols == 1) */
    LLVMValueRef buf;
    int rows, cols;
    /* TV_BOX */
    bool kside; /* key side: extents are kv_tokens / grid */
    bool whole; /* linear attention's box of the whole sequence */
    int nd;
    LLVMValueRef lo[SCHED_MAX_DIMS];
    int ext[SCHED_MAX_DIMS];
    /* TV_RANGE: inclusive kv tile index bounds per dim */
    LLVMValueRef rlo[SCHED_MAX_DIMS], rhi[SCHED_MAX_DIMS];
    bool btable; /* TV_RANGE of a RANGE_BLOCK_TABLE op: the FOR consults the table */
    /* TV_RANGE of a union (kv_range parts): nparts normalised boxes inside
     * rlo/rhi, i64 [nparts][2][SCHED_MAX_DIMS] lo then hi (range_parts.h) */
    int nparts;
    LLVMValueRef parts;
    /* TV_CLASS */
    LLVMValueRef full, empty;
    /* TV_RANGE of a q_range (backward): evaluated per head by the FOR */
    const struct tir_op *qrange;
    const struct hval *rbox; /* its key box */
} hval;

enum { HGEN_MAP_SLOTS = 1024 };

typedef struct hgen {
    arena *a;
    strbuf *err;
    bool failed;
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMValueRef fn;
    LLVMBasicBlockRef entry;
    LLVMTypeRef i1, i8, i16, i32, i64, f32, ptr;
    const tir_kernel *tk;
    int nd; /* box dims: grid dims, or 1 for a sequence */

    /* kernel arguments */
    LLVMValueRef tensor[HT_COUNT], stride[HT_COUNT][4];
    LLVMValueRef size[SZ_MAX];
    LLVMValueRef *param_ptr, (*param_stride)[4], (*param_shape)[4];
    LLVMValueRef scratch;
    LLVMValueRef first, last; /* the program range */
    LLVMValueRef block_table; /* u8 table (HROLE_BLOCK_TABLE) or NULL when the kernel has none */
    LLVMValueRef spans;       /* int64 document spans (HROLE_SPANS) or NULL when the kernel has none */
    size_t scratch_bytes;

    /* the current program */
    LLVMValueRef batch, head, kv_head;
    LLVMValueRef qtile[SCHED_MAX_DIMS]; /* query tile index per dim (softmax) */
    LLVMValueRef dgrp[SCHED_MAX_DIMS];  /* its dilation group per dim (host_dilation.c) */
    bool linear;                        /* FAMILY_LINEAR: programs are (batch, head) */

    /* where the innermost FOR's yield writes (its iteration values) */
    hval **yield_to;
    int nyield;
    /* block-table entry of the current (query, key) tile pair, i8; NULL
     * outside a block-table FOR body. TILE_CLASS reads 2 as full. */
    LLVMValueRef bt_entry;

    struct hbwd *bwd; /* backward kernels (host_backward.c), NULL otherwise */

    /* tir_value -> hval */
    const tir_value *map_key[HGEN_MAP_SLOTS];
    hval *map_val[HGEN_MAP_SLOTS];
} hgen;

/* ---- host_dilation.c: dilation-group tiling (tile_ir.h dil) ---- */
int hdil(const hgen *g, int d);                              /* δ of dim d (1: none) */
LLVMValueRef hdil_qtiles_along(hgen *g, int d, int ext);     /* query tiles along d, all groups */
void hdil_qbox(hgen *g, hval *b);                            /* box lo and g->dgrp from g->qtile */
LLVMValueRef hdil_kbox_lo(hgen *g, LLVMValueRef tile, int ext, int d); /* group-local key tile's lo */
LLVMValueRef hdil_last_ktile(hgen *g, int d, int ext);       /* last key tile of the group */
LLVMValueRef hdil_box_hi(hgen *g, const hval *box, int d);   /* last row's coordinate */

/* ---- host_gen_util.c ---- */
const char *hgen_op_name(tir_op_kind k); /* for messages */
bool hgen_fail(hgen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
hval *hgen_val(hgen *g, const tir_value *v);          /* lookup; fails when unmapped */
hval *hgen_def(hgen *g, const tir_value *v);          /* a fresh hval for a result */
LLVMValueRef hgen_buffer(hgen *g, int rows, int cols); /* scratch offset -> pointer */
hval *hgen_tile(hgen *g, const tir_value *v, int rows, int cols);
LLVMValueRef hc_i64(hgen *g, int64_t v);
LLVMValueRef hc_f32(hgen *g, double v);
/* Pointer to element (row, col) of a tile buffer. */
LLVMValueRef hgen_elem(hgen *g, const hval *t, LLVMValueRef row, LLVMValueRef col);
LLVMValueRef hgen_load_elem(hgen *g, const hval *t, LLVMValueRef row, LLVMValueRef col);
void hgen_store_elem(hgen *g, const hval *t, LLVMValueRef row, LLVMValueRef col, LLVMValueRef x);
void hgen_copy(hgen *g, const hval *dst, const hval *src);
LLVMValueRef hgen_call_f32(hgen *g, const char *intrinsic, LLVMValueRef x);
LLVMValueRef hgen_call_f32_2(hgen *g, const char *intrinsic, LLVMValueRef x, LLVMValueRef y);
LLVMValueRef hgen_imin(hgen *g, LLVMValueRef a, LLVMValueRef b);
/* A f32 stack slot in the entry block (promoted to a register by mem2reg). */
LLVMValueRef hgen_alloca_f32(hgen *g);
/* count (NULL: one) slots of ty at the start of the entry block, where
 * mem2reg and SROA find them (every kernel family's scalar state). */
LLVMValueRef hgen_entry_alloca(hgen *g, LLVMTypeRef ty, LLVMValueRef count, const char *name);
/* The block table's i8 entry at idx (i64); a NULL table reads 1 (every
 * tile pair visited, the mask decides per element). */
LLVMValueRef hgen_block_table_at(hgen *g, LLVMValueRef idx);
/* op's body for the tile pair whose block-table entry is e (i8): only
 * when e is not 0, with g->bt_entry = e (the forward's and the backward's
 * pair loops). */
bool hgen_emit_if_entry(hgen *g, const tir_op *op, LLVMValueRef e);
/* A range op's result (TV_RANGE over g->nd dims) and its box operand in
 * *box; NULL when either is missing (failed). */
hval *hgen_range_def(hgen *g, const tir_op *op, hval **box);
LLVMValueRef hgen_imax(hgen *g, LLVMValueRef a, LLVMValueRef b);

/* Counted loops: for (iv = lo; iv < hi; iv++). */
typedef struct hloop {
    LLVMBasicBlockRef head, exit;
    LLVMValueRef iv, phi;
} hloop;
hloop hgen_loop_begin(hgen *g, LLVMValueRef lo, LLVMValueRef hi);
void hgen_loop_end(hgen *g, hloop *l);
/* if (c) { ... } : returns the merge block; call hgen_if_end after the body. */
typedef struct hif {
    LLVMBasicBlockRef then, merge;
} hif;
hif hgen_if_begin(hgen *g, LLVMValueRef cond);
void hgen_if_end(hgen *g, hif *h);

/* Element `off` of a bf16/f16/f32 buffer as f32, and the rounded store of
 * an f32 into one (host_ops_memory.c). */
LLVMValueRef hgen_load_dtype(hgen *g, dtype dt, LLVMValueRef base, LLVMValueRef off);
void hgen_store_dtype(hgen *g, dtype dt, LLVMValueRef base, LLVMValueRef off, LLVMValueRef x);

/* ---- host_coords.c ---- */
/* Extent of box dim d (tokens or grid size) as i64. */
LLVMValueRef hbox_extent(hgen *g, const hval *box, int d);
/* Coordinates of tile row `row` of a box: per-dim coordinate, flat token
 * index and validity (all coordinates inside the grid). */
typedef struct hrow {
    LLVMValueRef c[SCHED_MAX_DIMS];
    LLVMValueRef t;
    LLVMValueRef valid;
} hrow;
hrow hbox_row(hgen *g, const hval *box, LLVMValueRef row);
/* Number of rows of a box tile. */
int hbox_rows(const hval *box);
/* Inclusive clipped corner hi of dim d. */
LLVMValueRef hbox_hi(hgen *g, const hval *box, int d);
/* Number of tiles of extent `ext` along dim d of the q or k side. */
LLVMValueRef hgen_tiles_along(hgen *g, bool kside, int d, int ext);
/* An emit_expr environment for element (qrow, krow) or box corners. */
typedef struct hexpr_ctx {
    hgen *g;
    const hrow *q, *k;        /* element coordinates (may be NULL) */
    const hval *qbox, *kbox;  /* box corners (may be NULL) */
    LLVMValueRef score;
} hexpr_ctx;
LLVMValueRef hgen_expr(hexpr_ctx *x, const expr *e);

/* ---- op lowering, one file per family ---- */
bool host_op_memory(hgen *g, const tir_op *op);  /* LOAD, STORE, FILL, CONVERT */
bool host_op_control(hgen *g, const tir_op *op); /* QTILE, KV_RANGE, FOR, TILE_CLASS */
bool host_op_dot(hgen *g, const tir_op *op);     /* DOT, ADD */
bool host_op_softmax(hgen *g, const tir_op *op); /* SCORE, SOFTMAX_UPDATE, RESCALE, FINALIZE */
bool host_op_linear(hgen *g, const tir_op *op);  /* FEATURE_MAP, DECAY_MASK, STATE_* */
bool host_op_backward(hgen *g, const tir_op *op); /* ROW_DOT, SOFTMAX_P, SCORE_GRAD, PARAM_GRAD, ... */

/* ---- backward programs (host_backward.c, host_bwd_*.c) ---- */
bool host_bwd_plan(const tir_kernel *k, host_kernel *hk);         /* the shared signature */
/* One argument appended to hk's list (false: full); the inputs every
 * signature starts with, forward and backward (host_codegen.c): ntensors
 * tensors with their strides, the sizes, the params with strides and
 * shapes. */
bool host_arg_add(host_kernel *hk, host_arg_role role, int which, int dim);
bool host_plan_inputs(const tir_kernel *k, host_kernel *hk, int ntensors);
bool host_bwd_bind(hgen *g, const host_arg *a, LLVMValueRef v); /* a backward role's parameter */
bool host_bwd_emit_body(hgen *g);                              /* the program loop of g->tk */
/* FOR over a q_range (tile rows of query boxes; every head of the group). */
bool host_bwd_for_q(hgen *g, const tir_op *op, const hval *rg, hval *qbox);
/* Emits every op of a block (FOR bodies recurse through host_op_control). */
bool host_emit_block(hgen *g, const tir_block *b);

#endif
