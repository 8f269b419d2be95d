/*
 * reference.h — the fp64 oracle: a plain, independent implementation of
 * every recipe family's semantics.
 *
 * It shares nothing with the compiler but the typed recipe it reads: masks
 * are taken from recipe.mask_surface (named forms interpreted by
 * ref_forms.c from frontend/forms.h's definitions), scores from
 * recipe.score with ref_expr.c's own interpreter, and attention is computed
 * by brute force per (batch, head, query) in double. Linear attention runs
 * the step-by-step recurrence of ir/attn_kinds.h's linear_attrs comment, one
 * token at a time (no chunking). ref_backward gives the exact gradients.
 */
#ifndef ATTNC_TESTS_REFERENCE_H
#define ATTNC_TESTS_REFERENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "frontend/recipe.h"
#include "ref_expr.h"

typedef struct ref_problem {
    const recipe *r;
    int64_t sizes[SZ_MAX]; /* every size: batch, heads, kv_heads, tokens, kv_tokens, grid, extras */
    ref_view q, k, v;      /* [batch, heads|kv_heads, tokens|kv_tokens, dim], any float dtype */
    const ref_view *params; /* [r->nparams] */
} ref_problem;

/* Computes o (contiguous double [batch, heads, tokens, head_dim_v]) and, for
 * the softmax family, lse ([batch, heads, tokens], natural log; may be NULL).
 * A query row with no kept key gets o = 0 and lse = -inf; a row with a NaN
 * or +inf logit among its kept keys gets NaN (docs/recipe-language.md §3.10).
 * Sizes must be within the limits of ir/expr.h (SIZE_LIMIT_*), with the
 * grid's extents multiplying to tokens; batch, heads or tokens 0 is an
 * empty problem (nothing written, true). Returns false with a message in err
 * (static text) when the problem is malformed. */
bool ref_run(const ref_problem *p, double *o, double *lse, const char **err);

/* A varlen problem (attnc.h, "Variable-length (packed) batches"): p has
 * batch 1 and the packed tokens (tokens = cu_q[nseq], kv_tokens =
 * cu_k[nseq]); sequence b is ref_run on the slices [cu_q[b], cu_q[b+1]) of
 * q and [cu_k[b], cu_k[b+1]) of k and v (params sliced along dims named
 * tokens / kv_tokens, row b of dims named batch), at local coordinates.
 * o and lse as for ref_run over the packed problem (ref_varlen.c). */
bool ref_run_varlen(const ref_problem *p, int64_t nseq, const int32_t *cu_q, const int32_t *cu_k, double *o,
                    double *lse, const char **err);

/* ---- gradients ----
 *
 * ref_backward computes the exact gradients of L = Σ dO ∘ O, O being what
 * ref_run computes, in double, with the reference's own means: a forward-mode
 * (dual number) reading of the score expression for ∂f/∂s and ∂f/∂(param
 * element) (ref_dual.c, never the compiler's ir/expr_diff), the softmax
 * backward by its formulas per (batch, head, query) row, and the linear
 * recurrence run in reverse in double.
 *
 * Softmax family, per row i with kept keys j (mask true, score f_ij > -inf):
 *   P = softmax_j(f_ij), O_i = Σ_j P_ij V_j, D_i = dO_i · O_i,
 *   dP_ij = dO_i · V_j, dF_ij = P_ij (dP_ij − D_i), dS_ij = dF_ij ∂f/∂s,
 *   dQ_i = Σ_j dS_ij K_j, dK_j = Σ_i dS_ij Q_i, dV_j = Σ_i P_ij dO_i,
 *   d<param>[e] = Σ_ij dF_ij ∂f_ij/∂param[e] over every element e the score
 *   reads at (i, j) (indices clamped into the shape, like the forward).
 * dK and dV of a K/V head sum over the query heads that share it (GQA/MQA).
 * A row with no kept key contributes nothing (its dQ row is exactly 0), and
 * keys it drops none either. Derivatives of the score follow
 * docs/recipe-language.md ("Gradients"): d|x| = 0 at 0; min/max follow the
 * operand returned (the first on ties); select differentiates the branch it
 * takes; int subexpressions (indices, floor) are constants.
 *
 * Linear family (recipe_linear semantics), reverse through the recurrence:
 * gradients of q, k, v through the feature map (φ'(x) = 1 identity; elu1:
 * 1 for x > 0 else exp(x); relu: 1 for x > 0 else 0), the normalisation (a
 * zero denominator, where o = 0, passes no gradient), and the decay param:
 * ∂L/∂λ_h summed over batch and tokens (per head), ∂L/∂g_t = ∂L/∂a_t · a_t
 * for log-space gates (per token). States are recomputed from checkpoints
 * every √T tokens, so memory stays O(√T · dk · dv) at long N.
 */
typedef struct ref_grads {
    double *dq; /* [batch, heads, tokens, head_dim], contiguous; NULL: not wanted */
    double *dk; /* [batch, kv_heads, kv_tokens, head_dim] */
    double *dv; /* [batch, kv_heads, kv_tokens, head_dim_v] */
    /* NULL, or [r->nparams] pointers: entry i NULL or ref_numel(&params[i])
     * doubles, row-major over params[i].shape. Params without a gradient
     * (ref_param_has_grad false) get zeros. */
    double **dparams;
    /* NULL, or like dparams: per element the sum of the absolute values of
     * the terms dparams adds (softmax family; the linear family leaves them
     * 0), the scale at which a gradient that cancels (exactly 0 for a bias
     * per head: the softmax ignores a shift of a row) is computed. */
    double **dparams_abs;
    /* NULL, or shaped like dq / dk: per element the sum over keys (queries)
     * of P |∂f/∂s| (Σ|dO v| + Σ|dO O|) |k| (|q|), the magnitude of the terms
     * whose difference dP - dO·O makes dS (softmax family; the linear
     * family leaves them 0): where that difference cancels, a kernel that
     * forms dO·O from its rounded O is only that exact. */
    double *dq_abs, *dk_abs;
} ref_grads;

/* Gradients for output gradient dout ([batch, heads, tokens, head_dim_v],
 * any float dtype, any strides). Every non-NULL output is overwritten.
 * Returns false with a message in err (static text) when the problem is
 * malformed or memory runs out. */
bool ref_backward(const ref_problem *p, const ref_view *dout, const ref_grads *g, const char **err);

/* The gradients of a varlen problem (see ref_run_varlen; recipes without
 * params): dq [1, heads, tokens, D], dk, dv [1, kv_heads, kv_tokens, D|Dv],
 * contiguous, each sequence's from ref_backward on its slices; keys of a
 * sequence with no query get 0. */
bool ref_backward_varlen(const ref_problem *p, int64_t nseq, const int32_t *cu_q, const int32_t *cu_k,
                         const ref_view *dout, double *dq, double *dk, double *dv, const char **err);

/* Does param i get a gradient? A float param (bf16/f16/f32) that the score
 * reads in a value position (not only in an index, a select condition, a
 * comparison or under floor), or the decay of a causal linear recipe.
 * Params read only by masks get none. */
bool ref_param_has_grad(const recipe *r, int param);

/* Elements of a view (the product of its shape; 1 for a scalar). */
int64_t ref_numel(const ref_view *v);

#endif
