/*
 * recipe.h — the typed, checked recipe: what the front end hands to lowering.
 *
 * A recipe says what an attention computes. Everything here has been
 * name-resolved and type-checked; named mask forms (causal, neighborhood,
 * radial, ...) are already expanded into the scalar expression IR, and the
 * `tile` section has become a schedule (or `auto`). All memory belongs to
 * the arena the recipe was parsed into.
 *
 * Tensors (row-major within each of the four logical dims; strides are
 * launch arguments, so BHSD and BSHD both work):
 *   q : [batch, heads,    tokens,    head_dim]
 *   k : [batch, kv_heads, kv_tokens, head_dim]
 *   v : [batch, kv_heads, kv_tokens, head_dim_v]
 *   o : [batch, heads,    tokens,    head_dim_v]    (output, dtype of q)
 *   lse : [batch, heads, tokens] f32 (softmax family: natural-log sum-exp)
 */
#ifndef ATTNC_FRONTEND_RECIPE_H
#define ATTNC_FRONTEND_RECIPE_H

#include <stdbool.h>
#include <stdint.h>

#include "../ir/attn_kinds.h"
#include "../ir/expr.h"
#include "../ir/schedule.h"
#include "../support/diag.h"

/* A size name known to the recipe: a standard size or a grid dim or an extra
 * name used in a param shape. `fixed` > 0 when the recipe gives a number. */
typedef struct recipe_size {
    const char *name; /* as written: "batch", "H", "nblocks" */
    int64_t fixed;    /* 0: bound at launch */
    bool used;
    bool zero_ok;     /* may be 0 in a launch that is not empty (a block offset) */
} recipe_size;

/* A runtime tensor the mask or score reads: `param doc : i32 [tokens]`. */
typedef struct recipe_param {
    const char *name;
    dtype dtype;
    int ndim;            /* 0 for a scalar */
    size_id dims[4];     /* each dim is a size */
    int64_t const_dims[4]; /* > 0 where the dim is a literal number instead */
    src_loc loc;
    /* A constant of the backward pass (attnc_build_options.no_grad: frozen
     * by the caller, e.g. fixed ALiBi slopes or decay rates): no gradient,
     * so no "d" + name argument; never set by the front end. */
    bool no_grad;
} recipe_param;

/* Where a node of an expression was written: the span of the syntax the
 * front end built it from (for diagnostics raised after the front end). */
typedef struct expr_origin {
    const expr *e;
    src_loc span;
} expr_origin;

/* Linear attention's section (ir/attn_kinds.h states its semantics). */
typedef linear_attrs recipe_linear;

typedef struct recipe {
    const char *name;
    const char *file;
    recipe_family family;

    dtype qkv_dtype; /* q, k and v share one dtype: bf16, f16 or f32 */
    int head_dim;
    int head_dim_v;
    bool gqa;        /* k/v declare kv_heads */
    bool cross;      /* k/v declare kv_tokens (no token grid then) */
    /* Rewritten to global coordinates (runtime/program/program_global.c): coordinates
     * read `+ q_offset`/`+ k_offset`, whole-problem sizes are launch sizes. */
    bool global_coords;
    /* ... and then the size ids of q_offset, k_offset and of the whole
     * problem's extent of the sharded axis (tokens, kv tokens, or outer grid
     * rows) for queries and keys; -1 otherwise. */
    int global_q_off, global_k_off, global_q_axis, global_kv_axis;

    /* Token grid: 0 dims for a plain sequence, else 1..3 named dims; token
     * t = ((z * Y) + y) * X + x for grid(z, y, x). Names as written. */
    int grid_ndim;
    const char *grid_names[3];

    recipe_size sizes[SZ_MAX];
    int nsizes; /* SZ_EXTRA0 + number of extra names */

    recipe_param *params;
    int nparams;

    /* Softmax family. mask NULL = keep every pair. score is never NULL: the
     * default is `s * scale` with scale = 1/sqrt(head_dim). */
    expr *mask;
    expr *score;
    expr *mask_surface; /* the mask as written, named forms unexpanded (forms.h) */
    double scale; /* value of the name `scale` */
    /* The nodes of `score` built from source text, innermost first, with
     * their spans (frontend/differentiable.c names the offending part of a
     * score with them). Nodes the front end synthesises (the default score,
     * the inside of softcap or alibi_slope) have no entry. */
    const expr_origin *score_origins;
    int nscore_origins;

    recipe_linear linear; /* FAMILY_LINEAR */

    schedule sched; /* from the `tile` section; sched.is_auto for `tile auto` */

    /* Where sections were written, for later diagnostics (window larger than
     * a grid bound at launch, illegal schedule ...). */
    src_loc mask_loc, score_loc, tile_loc;
    src_loc qkv_dtype_loc; /* q's element type (GPU targets refuse f32) */
} recipe;

#endif
