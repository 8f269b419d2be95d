/*
 * attn_kinds.h — what the typed recipe and the tile IR share about an
 * attention beyond its expressions: the family and linear attention's
 * attributes. The front end fills them from the recipe; lowering copies
 * them onto every kernel (tile_ir.h), where code generators read them.
 */
#ifndef ATTNC_IR_ATTN_KINDS_H
#define ATTNC_IR_ATTN_KINDS_H

#include <stdbool.h>

#include "schedule.h"

typedef enum { FAMILY_SOFTMAX, FAMILY_LINEAR } recipe_family;

typedef enum { FEATURE_IDENTITY, FEATURE_ELU1, FEATURE_RELU } feature_map;
typedef enum { DECAY_NONE, DECAY_PER_HEAD, DECAY_PER_TOKEN } decay_kind;

/* Linear attention (FAMILY_LINEAR), exactly as docs/recipe-language.md states:
 *   causal, DECAY_PER_HEAD (λ = param[head], 0 < λ <= 1):
 *     S_t = λ S_{t-1} + φ(k_t)ᵀ v_t,   o_t = φ(q_t) S_t
 *   DECAY_PER_TOKEN (g = param[batch, head, t], log-space, g <= 0):
 *     S_t = exp(g_t) S_{t-1} + φ(k_t)ᵀ v_t
 *   non-causal: o_t = φ(q_t) Σ_s φ(k_s)ᵀ v_s
 *   normalize: o_t /= φ(q_t) · z_t with z_t the same recurrence over φ(k_s)
 *   (a zero denominator gives o_t = 0). */
typedef struct linear_attrs {
    bool causal;
    feature_map feature;
    decay_kind decay;
    int decay_param; /* index into params, -1 when none */
    bool normalize;
    int block;        /* `split block C` */
    bool intra_quadratic; /* `intra quadratic` (the only intra mode today) */
    inter_mode inter; /* `inter state` or `inter chunked` */
} linear_attrs;

#endif
