/*
 * mask_analysis.h — what a mask means for tiles, by interval arithmetic.
 *
 * The query tile and the key tile are boxes of tokens (per grid dim an
 * inclusive [lo, hi], clipped to the grid). Evaluating the recipe's mask over
 * two boxes with interval arithmetic (mask_sym.h) tells whether the pair is
 * EMPTY (no pair kept: skip the key tile), FULL (every pair kept: no
 * per-element mask) or PARTIAL. For conjunctions of per-dimension
 * constraints (causal, sliding windows, neighborhoods with dilation, stride
 * and causal dims, sinks) the constraints on each key coordinate are solved
 * for it and bounded over the query box, giving closed-form key-tile ranges
 * (RANGE_BOUNDS): per key tile dim d, a first and last tile index that are
 * expressions of the query box corners and sizes. Masks bounded in no dim
 * use RANGE_ALL (the class's `empty` test still skips tiles, e.g. radial)
 * or, when they read runtime tensors (document, blocks), RANGE_BLOCK_TABLE:
 * a per-shape table built by mask_block_table_build.
 *
 * Tiles: key tile index i_d covers coords [i_d*kv_tile[d], min(.. + kv_tile[d]-1,
 * L_d - 1)] with L_d the grid extent (or kv_tokens for a sequence); query tiles
 * likewise with q_tile and tokens. Tile indices are linearised row-major.
 */
#ifndef ATTNC_PASSES_MASK_ANALYSIS_H
#define ATTNC_PASSES_MASK_ANALYSIS_H

#include <stdint.h>

#include "../frontend/recipe.h"
#include "../ir/expr_eval.h"
#include "../ir/expr_range.h"
#include "../ir/tile_ir.h"
#include "mask_keys.h"

typedef enum { MASK_EMPTY, MASK_FULL, MASK_PARTIAL } mask_class;

typedef struct mask_info {
    tir_range_mode mode;
    int ndims;     /* tile dims: max(grid_ndim, 1) */
    int grid_ndim; /* 0: plain sequence */
    int q_tile[SCHED_MAX_DIMS], kv_tile[SCHED_MAX_DIMS];
    /* Dilation-group tiling (mask_dilation.c; 1: none): tiles of dim d are
     * strided boxes of one group g = i mod dil[d], query tile index q is
     * group q mod dil, group-local tile q div dil, and range_lo/hi and the
     * parts are group-local key tile indices of the query box's group. */
    int dil[SCHED_MAX_DIMS];
    expr *range_lo[SCHED_MAX_DIMS], *range_hi[SCHED_MAX_DIMS]; /* RANGE_BOUNDS; clamped tile indices */
    /* RANGE_BOUNDS of a union: 0 or 2..TIR_MAX_PARTS parts, each a box of
     * clamped tile indices intersected with the range above (tile_ir.h) */
    int nparts;
    expr *part_lo[TIR_MAX_PARTS][SCHED_MAX_DIMS], *part_hi[TIR_MAX_PARTS][SCHED_MAX_DIMS];
    /* RANGE_BOUNDS on a sequence whose every key-set term needs
     * ids[.., q.t] == ids[.., k.t]: that int param (ids [tokens] or
     * [batch, tokens]), whose document spans cut each query tile's range
     * at launch (tile_ir.h, span); -1 otherwise */
    int span_param;
    int span_ndim; /* its dims: 1 ([tokens]) or 2 ([batch, tokens]) */
    /* The transposed ranges (backward): the query tiles a key box is seen
     * by, per dim, as expressions of the key box corners; same modes. */
    tir_range_mode qmode;
    expr *qrange_lo[SCHED_MAX_DIMS], *qrange_hi[SCHED_MAX_DIMS];
    /* qmode bounds or inverse of a union: 0 or 2..TIR_MAX_PARTS parts, one
     * per term of the mask's disjunctive normal form (mask_bounds.c), each
     * a box of clamped query tile indices over the key box; a part whose
     * term keeps no pair with the key box has hi0 < lo0. The GPU's dK/dV
     * kernel visits their union inside the hull above (bounds) or inside
     * every query tile (inverse; tile_ir.h) */
    int qnparts;
    expr *qpart_lo[TIR_MAX_PARTS][SCHED_MAX_DIMS], *qpart_hi[TIR_MAX_PARTS][SCHED_MAX_DIMS];
    expr *full, *empty; /* bool over q and k box corners */
    const expr *mask;   /* the recipe's mask (NULL: keep all) */
    bool uses_head;     /* the mask reads head or kv_head */
    key_set *keys;      /* the mask as a union of per-query key sets (mask_keys.h) */
    bool uses_batch;    /* the mask reads the batch index */
} mask_info;

/* The launches recipe r allows, for ir/expr_range.h: fixed sizes as fixed,
 * the others up to their limits, int params within their element types. */
void mask_range_env(const recipe *r, range_env *env);

/* Analyses r's mask under s. False only when the arena ran out. */
bool mask_analyze(arena *a, const recipe *r, const schedule *s, mask_info *out);
/* The same under dilation-group tiling by dil (per tile dim; NULL or all 1:
 * none, as mask_analyze). */
bool mask_analyze_dil(arena *a, const recipe *r, const schedule *s, const int *dil, mask_info *out);
/* The full-tile test of r's mask on tiles whose pairs all lie in one
 * document of the span param `param` (mask_info.span_param): the mask with
 * each filter ids[.., k.t] == ids[.., q.t] of that param replaced by true
 * (exact there, whatever its polarity), run through the interval rules.
 * A bool over the box corners; NULL when no tile can be proven full or the
 * test could overflow. The GPU forward ORs it, on tiles inside the query
 * tile's own document (nvptx_fa2_span.c), into the class's full test. */
const expr *mask_span_full(arena *a, const recipe *r, int param);
/* The element mask a partial tile inside one document of param takes (its
 * rows and keys all of that document: every filter of param holds): the
 * mask with those filters as true. NULL where mask_span_full is, or where
 * it still reads a param (a second filter, a bias table): then the kernel
 * keeps the whole mask. */
const expr *mask_span_elem(arena *a, const recipe *r, int param);
/* The dilation-group tiling a forward kernel of r under s uses (all 1:
 * none): per tile dim the modulus δ > 1 when every term of the mask's key
 * set requires k.X mod δ == q.X mod δ on that dim (dilated neighborhoods),
 * the recipe is self-attention and the grouped analysis bounds the range
 * (RANGE_BOUNDS, no document span). False only when the arena ran out. */
bool mask_group_dilation(arena *a, const recipe *r, const schedule *s, int dil[SCHED_MAX_DIMS]);
/* The mask e for a kernel tiled by dilation groups dil: each `coord mod c`
 * of a dilated dim with c dividing δ reads the box's lo corner instead (the
 * residue every row of a strided box shares). e itself when nothing changes. */
expr *mask_dil_residues(arena *a, const expr *e, int grid_ndim, const int *dil);

typedef struct tok_box {
    int64_t lo[SCHED_MAX_DIMS], hi[SCHED_MAX_DIMS]; /* inclusive */
    int64_t step[SCHED_MAX_DIMS]; /* 0 or 1: every token; dil: lo, lo + dil, ... <= hi */
} tok_box;

/* Tokens of box b along dim d (0 when hi < lo). */
int64_t tok_box_len(const tok_box *b, int d);
/* The key box of key tile idx (per dim; group-local under dilation-group
 * tiling, in query box q's group), clipped. */
void mask_kv_box(const mask_info *mi, const eval_env *env, const tok_box *q, const int64_t idx[], tok_box *out);
/* Whether mi uses dilation-group tiling. */
bool mask_dilated(const mask_info *mi);

/* Token extents per tile dim of the query side (q = true) or key side. */
void mask_extents(const mask_info *mi, const eval_env *env, bool q, int64_t ext[SCHED_MAX_DIMS]);
/* Number of tiles per dim and in all. */
int64_t mask_tile_count(const mask_info *mi, const eval_env *env, bool q, int64_t n[SCHED_MAX_DIMS]);
/* The box of tile `linear` (row-major tile index). */
void mask_tile_box(const mask_info *mi, const eval_env *env, bool q, int64_t linear, tok_box *out);

/* Classifies a query box against a key box for env's head and batch (env
 * sizes must be set; boxes in token coordinates, clipped). */
mask_class mask_classify_boxes(const mask_info *mi, const eval_env *env, const tok_box *q, const tok_box *k);

/* First/last key tile index per dim for a query box: from the closed-form
 * bounds, or every tile for RANGE_ALL / RANGE_BLOCK_TABLE. Returns false
 * when the range is empty. */
bool kv_range_eval(const mask_info *mi, const eval_env *env, const tok_box *q, int64_t lo[SCHED_MAX_DIMS],
                   int64_t hi[SCHED_MAX_DIMS]);
/* The transposed range: first/last query tile index per dim for a key box
 * (every tile for RANGE_ALL / RANGE_BLOCK_TABLE). False when empty. */
bool q_range_eval(const mask_info *mi, const eval_env *env, const tok_box *k, int64_t lo[SCHED_MAX_DIMS],
                  int64_t hi[SCHED_MAX_DIMS]);
/* The GPU backward's document cut of such a transposed range, lo..hi the
 * query tiles it scans (codegen/nvptx_bwd_span.c, $ATTNC_BWD_DOC_SPAN=1):
 * when every key of box k has the id of its first or last key, lo..hi cut
 * to the tiles of the first and last query with one of those ids (hi <
 * lo: none); unchanged otherwise, or without a document span (span_param)
 * on a 1-D sequence, or without env->param. */
void q_span_cut(const mask_info *mi, const eval_env *env, const tok_box *k, int64_t lo[SCHED_MAX_DIMS],
                int64_t hi[SCHED_MAX_DIMS]);
/* The same for a kv_range op of a kernel (its lo/hi expressions). */
bool kv_range_eval_op(const tir_op *op, const tir_kernel *k, const eval_env *env, const tok_box *q,
                      int64_t lo[SCHED_MAX_DIMS], int64_t hi[SCHED_MAX_DIMS]);

/* The key-tile boxes one query box visits, as the kernels visit them: the
 * range's parts intersected with the hull, empty ones dropped, sorted by
 * dim-0 start and those overlapping in dim 0 merged (so the boxes are
 * disjoint and each tile is visited once); without parts the hull alone.
 * lo/hi are first/last tile indices per dim. */
typedef struct kv_boxes {
    int n;
    int64_t lo[TIR_MAX_PARTS][SCHED_MAX_DIMS], hi[TIR_MAX_PARTS][SCHED_MAX_DIMS];
} kv_boxes;
/* Returns out->n (0: nothing visited). With a document span (span_param)
 * and env->param set, the range is first cut as the GPU kernel cuts it
 * (codegen/nvptx_fa2_span.c: only query boxes of at most two ids). */
int kv_boxes_eval(const mask_info *mi, const eval_env *env, const tok_box *q, kv_boxes *out);
int kv_boxes_eval_op(const tir_op *op, const tir_kernel *k, const eval_env *env, const tok_box *q, kv_boxes *out);
/* The transposed boxes: the query tiles key box k is seen by, as the GPU's
 * dK/dV kernel visits them (the q parts, qnparts, normalised the same way,
 * inside the bounds' hull or, for an inverse q range, every query tile;
 * without them the hull of q_range_eval). Returns out->n. */
int q_boxes_eval(const mask_info *mi, const eval_env *env, const tok_box *k, kv_boxes *out);
/* Whether tile idx (per dim) lies in one of the boxes. */
bool kv_boxes_hold(const kv_boxes *b, int ndims, const int64_t idx[]);
/* The normalisation above for b->n raw boxes (codegen/range_parts.c emits
 * the same steps for the kernels). */
void kv_parts_normalize(kv_boxes *b, int ndims);

/* The block table: table[qi * nk + ki] = 0 skip, 1 partial, 2 full, for
 * every query tile qi and key tile ki (linear indices), classified by
 * interval evaluation (runtime tensors unknown; one table serves every
 * (batch, head), so masks reading the head or the batch index are
 * classified for every head / batch at once: skip only when none keeps a
 * pair, full only when all do).
 * cap is the table's size in bytes; returns false when it is too small. */
bool mask_block_table_build(const mask_info *mi, const eval_env *env, uint8_t *table, size_t cap);

/* The same for a q_range op of a backward kernel, over key box k. */
bool q_range_eval_op(const tir_op *op, const tir_kernel *k, const eval_env *env, const tok_box *kbox,
                     int64_t lo[SCHED_MAX_DIMS], int64_t hi[SCHED_MAX_DIMS]);

/* Wasted-work report for one (batch 0, head 0) slice. */
typedef struct mask_work {
    int64_t dense_pairs;   /* tokens x kv_tokens */
    int64_t visited_pairs; /* pairs in visited (in range, not empty) tile pairs */
    int64_t kept_pairs;    /* pairs the mask keeps (-1 when it reads runtime tensors) */
    int64_t total_tiles, visited_tiles, full_tiles;
    int64_t missed_pairs;  /* kept pairs outside visited tiles: must be 0 */
    int64_t bad_full;      /* dropped pairs inside tiles called full: must be 0 */
} mask_work;

/* Walks every tile pair (cost: kept-pair counting evaluates the mask once
 * per pair of every visited tile; with check_all, of every tile). */
bool mask_work_report(const mask_info *mi, const eval_env *env, bool check_all, mask_work *out);

#endif
