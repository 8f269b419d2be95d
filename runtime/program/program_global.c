/* program_global.c — a kernel at global coordinates (ATTNC_BUILD_GLOBAL_COORDS).
 *
 * A kernel that computes one block of a larger attention — keys
 * [k_offset, k_offset + kv_tokens) of the whole sequence for the queries
 * [q_offset, q_offset + tokens), one head group, one slab of a token grid —
 * must evaluate its mask, score and param indices where those tokens lie in
 * the whole problem. Rather than teach every code generator about offsets,
 * the kernel's private recipe copy is rewritten before lowering: each
 * coordinate becomes coordinate + offset, each size that names the whole
 * problem (tokens, the outermost grid extent, heads) becomes a new launch
 * size holding the global value, and the offsets are launch sizes too. Mask
 * analysis then sees `k.t + k_offset <= q.t + q_offset` and derives its key
 * ranges symbolically, so blocks a mask leaves empty cost one range test.
 * attnc.h documents the sizes the kernel takes. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "runtime/api/api_internal.h"
#include "runtime/program/program.h"

enum { GMAP_SLOTS = 4096 };

typedef struct gctx {
    arena *a;
    recipe *r;
    const expr **from;
    expr **to;
    int q_off, k_off, head_off; /* size ids, -1 when absent */
    int tok_g, kvtok_g, g0_g, heads_g;
    strbuf *err;
    bool bad;
} gctx;

static int add_size(gctx *g, const char *name)
{
    recipe *r = g->r;
    for (int s = 0; s < r->nsizes; s++)
        if (r->sizes[s].name && !strcmp(r->sizes[s].name, name)) {
            sb_printf(g->err, "recipe '%s' already has a size '%s', which a global-coordinates kernel adds", r->name, name);
            g->bad = true;
            return -1;
        }
    if (r->nsizes >= SZ_MAX) {
        sb_printf(g->err, "recipe '%s' has too many extra sizes for a global-coordinates kernel (at most %d in all)",
                  r->name, SZ_MAX - SZ_EXTRA0);
        g->bad = true;
        return -1;
    }
    recipe_size *s = &r->sizes[r->nsizes];
    s->name = arena_strdup(g->a, name);
    s->fixed = 0;
    s->used = true;
    return r->nsizes++;
}

static expr *size_of(gctx *g, int id)
{
    return ex_size(g->a, (size_id)id);
}

/* The product of the inner grid extents (local = global: only dim 0 is cut). */
static expr *inner_extent(gctx *g)
{
    expr *p = ex_int(g->a, 1);
    for (int d = 1; d < g->r->grid_ndim; d++)
        p = ex_binary(g->a, BIN_MUL, p, size_of(g, SZ_GRID0 + d));
    return p;
}

static expr *global_tokens(gctx *g, bool kv)
{
    if (g->r->grid_ndim > 0)
        return ex_binary(g->a, BIN_MUL, size_of(g, g->g0_g), inner_extent(g));
    return size_of(g, kv ? g->kvtok_g : g->tok_g);
}

static expr *head_ratio(gctx *g)
{
    return ex_binary(g->a, BIN_DIV, size_of(g, SZ_HEADS), size_of(g, SZ_KV_HEADS));
}

static expr *global_head(gctx *g)
{
    return ex_binary(g->a, BIN_ADD, ex_leaf(g->a, EX_HEAD), size_of(g, g->head_off));
}

static expr *rewrite_coord(gctx *g, const expr *e)
{
    expr *c = ex_coord(g->a, e->u.coord.side, e->u.coord.dim);
    expr *off = size_of(g, e->u.coord.side == SIDE_Q ? g->q_off : g->k_off);
    int dim = e->u.coord.dim;
    if (g->r->grid_ndim > 0 && dim < 0) /* the flat index moves by whole slabs of dim 0 */
        off = ex_binary(g->a, BIN_MUL, off, inner_extent(g));
    else if (dim > 0)
        return c;
    return ex_binary(g->a, BIN_ADD, c, off);
}

static expr *rewrite_size(gctx *g, const expr *e)
{
    switch (e->u.size) {
    case SZ_TOKENS: return global_tokens(g, false);
    case SZ_KV_TOKENS: return global_tokens(g, true);
    case SZ_GRID0: return g->r->grid_ndim > 0 ? size_of(g, g->g0_g) : size_of(g, SZ_GRID0);
    case SZ_HEADS: return size_of(g, g->heads_g);
    case SZ_KV_HEADS: return ex_binary(g->a, BIN_DIV, size_of(g, g->heads_g), head_ratio(g));
    default: return size_of(g, e->u.size);
    }
}

static expr *rewrite(gctx *g, const expr *e);

static expr *rewrite_node(gctx *g, const expr *e)
{
    switch (e->kind) {
    case EX_COORD: return rewrite_coord(g, e);
    case EX_SIZE: return rewrite_size(g, e);
    case EX_HEAD: return global_head(g);
    case EX_KV_HEAD: return ex_binary(g->a, BIN_DIV, global_head(g), head_ratio(g));
    default: break;
    }
    expr *c = arena_dup(g->a, e, sizeof *e);
    if (!c || e->nargs == 0)
        return c;
    c->args = ARENA_ARRAY(g->a, expr *, e->nargs);
    if (!c->args)
        return NULL;
    for (int i = 0; i < e->nargs; i++)
        if (!(c->args[i] = rewrite(g, e->args[i])))
            return NULL;
    return c;
}

/* Memoised, so shared subtrees stay shared. */
static expr *rewrite(gctx *g, const expr *e)
{
    if (!e)
        return NULL;
    size_t h = ((uintptr_t)e >> 4) % GMAP_SLOTS;
    for (size_t i = 0; i < GMAP_SLOTS; i++) {
        size_t s = (h + i) % GMAP_SLOTS;
        if (g->from[s] == e)
            return g->to[s];
        if (!g->from[s]) {
            expr *c = rewrite_node(g, e);
            g->from[s] = e;
            g->to[s] = c;
            return c;
        }
    }
    return rewrite_node(g, e); /* map full: copy without sharing */
}

static bool expr_reads_size(const expr *e, size_id id)
{
    if (!e)
        return false;
    if (e->kind == EX_SIZE && e->u.size == id)
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (expr_reads_size(e->args[i], id))
            return true;
    return false;
}

static bool reads_size(const recipe *r, size_id id)
{
    for (int p = 0; p < r->nparams; p++)
        for (int d = 0; d < r->params[p].ndim; d++)
            if (r->params[p].dims[d] == id && r->params[p].const_dims[d] <= 0)
                return true;
    return expr_reads_size(r->mask, id) || expr_reads_size(r->score, id);
}

static bool reads_head(const recipe *r)
{
    return expr_uses_kind(r->mask, EX_HEAD) || expr_uses_kind(r->score, EX_HEAD) ||
           expr_uses_kind(r->mask, EX_KV_HEAD) || expr_uses_kind(r->score, EX_KV_HEAD);
}

static int add_offset(gctx *g, const char *name)
{
    int s = add_size(g, name);
    if (s >= 0)
        g->r->sizes[s].zero_ok = true;
    return s;
}

static void add_sizes(gctx *g)
{
    recipe *r = g->r;
    char name[96];
    g->q_off = add_offset(g, "q_offset");
    g->k_off = add_offset(g, "k_offset");
    g->tok_g = g->kvtok_g = g->g0_g = g->head_off = g->heads_g = -1;
    if (r->grid_ndim > 0) {
        snprintf(name, sizeof name, "%s_global", r->sizes[SZ_GRID0].name ? r->sizes[SZ_GRID0].name : "grid0");
        g->g0_g = add_size(g, name);
    } else {
        g->tok_g = add_size(g, "tokens_global");
        g->kvtok_g = r->cross ? add_size(g, "kv_tokens_global") : g->tok_g;
    }
    if (reads_head(r))
        g->head_off = add_offset(g, "head_offset");
    if (reads_size(r, SZ_HEADS) || reads_size(r, SZ_KV_HEADS))
        g->heads_g = add_size(g, "heads_global");
}

/* Param dims that name the whole problem take the global sizes. */
static void rewrite_param_dims(gctx *g)
{
    recipe *r = g->r;
    if (r->nparams == 0)
        return;
    recipe_param *ps = arena_dup(g->a, r->params, sizeof *ps * (size_t)r->nparams);
    for (int p = 0; ps && p < r->nparams; p++)
        for (int d = 0; d < ps[p].ndim; d++) {
            if (ps[p].const_dims[d] > 0)
                continue;
            size_id s = ps[p].dims[d];
            if (r->grid_ndim == 0 && s == SZ_TOKENS)
                ps[p].dims[d] = (size_id)g->tok_g;
            else if (r->grid_ndim == 0 && s == SZ_KV_TOKENS)
                ps[p].dims[d] = (size_id)g->kvtok_g;
            else if (r->grid_ndim > 0 && s == SZ_GRID0)
                ps[p].dims[d] = (size_id)g->g0_g;
            else if (s == SZ_HEADS)
                ps[p].dims[d] = (size_id)g->heads_g;
            else if (s == SZ_KV_HEADS || (r->grid_ndim > 0 && (s == SZ_TOKENS || s == SZ_KV_TOKENS))) {
                sb_printf(g->err, "param '%s': a global-coordinates kernel cannot size a param by %s", ps[p].name,
                          size_id_name(s));
                g->bad = true;
            }
        }
    if (ps)
        r->params = ps;
}

attnc_status recipe_globalize(arena *a, recipe *r, strbuf *err)
{
    if (r->global_coords)
        return ATTNC_OK; /* a tuned variant of a global kernel: already rewritten */
    if (r->family != FAMILY_SOFTMAX) {
        sb_puts(err, "global coordinates (ATTNC_BUILD_GLOBAL_COORDS) need the softmax family: a linear "
                     "attention's blocks are joined by its state, not by a log-sum-exp merge");
        return ATTNC_ERR_UNSUPPORTED;
    }
    gctx g = {0};
    g.a = a;
    g.r = r;
    g.from = ARENA_ARRAY(a, const expr *, GMAP_SLOTS);
    g.to = ARENA_ARRAY(a, expr *, GMAP_SLOTS);
    g.err = err;
    if (!g.from || !g.to)
        return ATTNC_ERR_NOMEM;
    memset(g.from, 0, sizeof *g.from * GMAP_SLOTS);
    add_sizes(&g);
    if (!g.bad)
        rewrite_param_dims(&g);
    if (g.bad)
        return ATTNC_ERR_UNSUPPORTED;
    expr *mask = r->mask ? rewrite(&g, r->mask) : NULL;
    if (r->grid_ndim > 0) { /* slabs are padded to equal rows: keys past the grid's end are not there */
        expr *k0 = ex_binary(a, BIN_ADD, ex_coord(a, SIDE_K, 0), size_of(&g, g.k_off));
        expr *in = ex_binary(a, BIN_LT, k0, size_of(&g, g.g0_g));
        mask = mask ? ex_binary(a, BIN_AND, mask, in) : in;
    }
    r->mask = mask;
    r->score = rewrite(&g, r->score);
    r->global_q_off = g.q_off, r->global_k_off = g.k_off;
    r->global_q_axis = r->grid_ndim > 0 ? g.g0_g : g.tok_g;
    r->global_kv_axis = r->grid_ndim > 0 ? g.g0_g : g.kvtok_g;
    r->cross = r->cross || r->grid_ndim == 0; /* a key range has its own length */
    r->sizes[SZ_KV_TOKENS].used = r->cross;
    r->global_coords = true;
    return a->failed ? ATTNC_ERR_NOMEM : ATTNC_OK;
}

int recipe_window_size(const recipe *r, int d)
{
    if (r->global_coords && d == 0)
        return r->global_q_axis; /* the window spans the whole problem */
    return r->grid_ndim > 0 ? SZ_GRID0 + d : SZ_TOKENS;
}
