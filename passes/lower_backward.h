/*
 * lower_backward.h — a recipe's backward program in the tile IR.
 *
 * The backward is derived from the recipe, never written per recipe: the
 * score's derivative comes from symbolic differentiation (bwd_diff.h), the
 * loops and their tile ranges from the same passes as the forward (tiling,
 * mask analysis with its transposed ranges, layout). The program's kernels
 * run in order (docs/TILE_IR.md, "Backward"):
 *
 * softmax family
 *   bwd_pre  programs=qtiles   delta = rowsum(dO ∘ O)
 *   bwd_dkv  programs=kvtiles  per key tile, over the query tiles that see
 *                              it (q_range; every query head of the kv head):
 *                              S, P = exp(S - lse), dV += Pᵀ dO, dP = dO Vᵀ,
 *                              dS = P (dP - delta) f'(s), dK += dSᵀ Q
 *   bwd_dq   programs=qtiles   per query tile over its key tiles: dQ += dS K;
 *            (programs=slots when the score reads float params: each slot
 *            also adds dS_raw · ∂score/∂param into its own partial)
 *   bwd_dNAME programs=elems   one per such param: the sum of the slots
 * linear family (Lightning Attention-2 chunks of the forward's block)
 *   bwd_dq   programs=heads    forward scan: dQ (and normalised dO, q·dq)
 *   bwd_dkv  programs=heads    reverse scan: dK, dV (and k·dk)
 *   bwd_dNAME programs=one     the decay/gate gradient (reverse cumsum)
 *   bwd_heads programs=kvheads GQA: per-head dK/dV partials summed
 */
#ifndef ATTNC_PASSES_LOWER_BACKWARD_H
#define ATTNC_PASSES_LOWER_BACKWARD_H

#include "../frontend/recipe.h"
#include "../ir/expr_diff.h"
#include "../ir/tile_ir.h"

/* Whether r has a backward: false with a diagnostic in why
 * ("file:line:col: error: ... hint: ...") when its score cannot be
 * differentiated. */
bool backward_check(arena *a, const recipe *r, strbuf *why);

/* Which params get gradients: grad[p] for each float param the score reads
 * (softmax) or the decay/gate param (linear, causal with decay), except
 * params marked no_grad (attnc_build_options.no_grad). Returns how many.
 * grad has r->nparams entries. */
int backward_grad_params(arena *a, const recipe *r, bool *grad);

/* The score's param read sites (expr_param_sites) whose params get
 * gradients: those of no_grad params dropped. The count, or -1 with a
 * message in err. */
int backward_param_sites(arena *a, const recipe *r, expr_param_site **out, strbuf *err);

/* Whether a linear recipe's decay/gate param gets a gradient (causal, with
 * a decay param not marked no_grad). */
bool backward_decay_grad(const recipe *r);

/* attnc_build_options.no_grad: marks each param named in the
 * comma-separated list (NULL or "": none) no_grad in r, which must own its
 * params array. False with a message in err for a name that is not a
 * param of r (nothing marked then). */
bool backward_mark_no_grad(recipe *r, const char *names, strbuf *err);

/* The same on a copy, for callers whose recipe is shared: *out = *r with
 * its params copied into *owned (malloc'd, the caller frees it; NULL when
 * names is empty or r has no params) and marked. False with a message for
 * a name that is no param, or out of memory (nothing kept allocated). */
bool backward_recipe_no_grad(const recipe *r, const char *names, recipe *out, recipe_param **owned, strbuf *err);

/* Lowers the backward program of r under schedule s (as lower_recipe: NULL
 * or auto picks the recipe's or the default) through the passes. False
 * with a message in err (a recipe error when backward_check fails). */
bool lower_backward(arena *a, const recipe *r, const schedule *s, target_arch arch, tir_program *out, strbuf *err);

/* The family-specific lowerings (lower_softmax_bwd.c, lower_linear_bwd.c):
 * append the program's kernels (headers filled, passes not yet run). */
bool lower_softmax_bwd(arena *a, const recipe *r, const schedule *s, tir_program *out, strbuf *err);
bool lower_linear_bwd(arena *a, const recipe *r, const schedule *s, tir_program *out, strbuf *err);

#endif
