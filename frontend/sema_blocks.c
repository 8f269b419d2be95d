/*
 * sema_blocks.c — the linear section (recipe.linear) and the tile section
 * (recipe.sched, checked with schedule_check for the host and for sm_80).
 */
#include <stdio.h>
#include <string.h>

#include "sema.h"

static void linear_mode(sema *S, const linear_syntax *ls, recipe_linear *L)
{
    if (ls->has[LI_CAUSAL] && ls->has[LI_NONCAUSAL])
        diag_error(S->d, ls->item_loc[LI_NONCAUSAL], NULL, "a linear attention is either causal or noncausal, not both");
    else if (!ls->has[LI_CAUSAL] && !ls->has[LI_NONCAUSAL])
        diag_error(S->d, S->syn->loc[SEC_LINEAR], "add a line 'causal' or 'noncausal' inside the braces",
                   "the linear section must say 'causal' or 'noncausal'");
    L->causal = ls->has[LI_CAUSAL];
    L->feature = FEATURE_IDENTITY;
    if (ls->feature) {
        static const char *const maps[] = {"identity", "elu1", "relu"};
        int f = -1;
        for (int i = 0; i < 3; i++)
            if (!strcmp(ls->feature, maps[i]))
                f = i;
        if (f < 0) {
            const char *near = fe_suggest(ls->feature, maps, 3);
            char hint[64];
            snprintf(hint, sizeof hint, "write '%s'", near ? near : "");
            diag_error(S->d, ls->feature_loc, near ? hint : "feature maps: identity, elu1, relu",
                       "unknown feature map '%s'", ls->feature);
        } else
            L->feature = (feature_map)f;
    }
    L->normalize = ls->has[LI_NORMALIZE];
}

/* decay PARAM[head] (per head) or PARAM[batch, head, t] (per token, log space). */
static void linear_decay(sema *S, const linear_syntax *ls, recipe_linear *L)
{
    L->decay = DECAY_NONE;
    L->decay_param = -1;
    if (ls->has[LI_DECAY] && ls->has[LI_NO_DECAY]) {
        diag_error(S->d, ls->item_loc[LI_NO_DECAY], NULL, "'no decay' contradicts the 'decay' line");
        return;
    }
    const node *n = ls->decay;
    if (!n)
        return;
    if (!L->causal) {
        diag_error(S->d, ls->item_loc[LI_DECAY], "remove the decay, or make the section causal",
                   "decay needs a causal linear attention");
        return;
    }
    static const char *const usage = "write decay PARAM[head] with PARAM : f32 [heads], or decay PARAM[batch, head, t] with PARAM : f32 [batch, heads, tokens]";
    int p = n->kind == N_INDEX ? fe_find_param(S, n->name) : -1;
    if (p < 0) {
        diag_error(S->d, n->loc, usage, "decay must index a param by head (per head) or by batch, head, t (per token)");
        return;
    }
    const recipe_param *pr = &S->r->params[p];
    bool per_head = n->nargs == 1 && pr->ndim == 1 && !pr->const_dims[0] && pr->dims[0] == SZ_HEADS &&
                    n->args[0]->kind == N_NAME && !strcmp(n->args[0]->name, "head");
    bool per_token = n->nargs == 3 && pr->ndim == 3 && !pr->const_dims[0] && !pr->const_dims[1] &&
                     !pr->const_dims[2] && pr->dims[0] == SZ_BATCH && pr->dims[1] == SZ_HEADS &&
                     pr->dims[2] == SZ_TOKENS;
    static const char *const idx3[3] = {"batch", "head", "t"};
    for (int i = 0; per_token && i < 3; i++)
        per_token = n->args[i]->kind == N_NAME && !strcmp(n->args[i]->name, idx3[i]);
    if (!per_head && !per_token) {
        diag_error(S->d, n->loc, usage, "decay must index a param by head (per head) or by batch, head, t (per token)");
        return;
    }
    if (pr->dtype != DT_F32) {
        diag_error(S->d, n->loc, NULL, "decay param '%s' must be f32, not %s", pr->name, dtype_name(pr->dtype));
        return;
    }
    L->decay = per_head ? DECAY_PER_HEAD : DECAY_PER_TOKEN;
    L->decay_param = p;
}

static void linear_split(sema *S, const linear_syntax *ls, recipe_linear *L)
{
    L->block = 64;
    L->intra_quadratic = true;
    L->inter = INTER_STATE;
    if (ls->block) {
        if (ls->block < 16 || ls->block > 256 || (ls->block & (ls->block - 1)))
            diag_error(S->d, ls->block_loc, NULL, "linear block must be a power of two from 16 to 256, not %lld",
                       (long long)ls->block);
        else
            L->block = (int)ls->block;
    }
    if (ls->intra && strcmp(ls->intra, "quadratic"))
        diag_error(S->d, ls->intra_loc, "write intra quadratic", "unknown intra-block mode '%s'", ls->intra);
    if (ls->inter) {
        if (!strcmp(ls->inter, "chunked"))
            L->inter = INTER_CHUNKED;
        else if (strcmp(ls->inter, "state"))
            diag_error(S->d, ls->inter_loc, "write inter state or inter chunked", "unknown inter-block mode '%s'",
                       ls->inter);
    }
}

void fe_sema_linear(sema *S)
{
    const linear_syntax *ls = &S->syn->linear;
    recipe_linear *L = &S->r->linear;
    if (S->r->grid_ndim)
        diag_error(S->d, S->syn->grid_loc, "remove the 'tokens grid' line",
                   "linear attention runs over a token sequence, not a grid");
    linear_mode(S, ls, L);
    linear_decay(S, ls, L);
    linear_split(S, ls, L);
}

/* Places tile extents by grid label (grid recipes) or position (sequences). */
static bool tile_extents(sema *S, const dim_syntax *ext, int n, src_loc loc, const char *which, int *out)
{
    int nd = S->r->grid_ndim;
    if (nd == 0) {
        if (n != 1 || ext[0].label) {
            diag_error(S->d, n != 1 ? loc : ext[0].label_loc, "write %s(128)",
                       "the recipe has no token grid: %s(...) takes one number", which);
            return false;
        }
        out[0] = (int)ext[0].num;
        return true;
    }
    bool seen[3] = {false, false, false};
    for (int i = 0; i < n; i++) {
        int d = -1;
        for (int j = 0; ext[i].label && j < nd; j++)
            if (!strcmp(ext[i].label, S->grid_labels[j]))
                d = j;
        if (d < 0 || seen[d]) {
            diag_error(S->d, ext[i].label ? ext[i].label_loc : ext[i].loc, "name every grid dimension once, e.g. q(y: 8, x: 16)",
                       d < 0 ? "%s(...) extents must be named by the grid's dimensions" : "%s(...) names a grid dimension twice",
                       which);
            return false;
        }
        seen[d] = true;
        out[d] = (int)ext[i].num;
    }
    for (int d = 0; d < nd; d++)
        if (!seen[d]) {
            diag_error(S->d, loc, "name every grid dimension once, e.g. q(y: 8, x: 16)",
                       "%s(...) gives no extent for grid dimension '%s'", which, S->grid_labels[d]);
            return false;
        }
    return true;
}

static bool range_ok(sema *S, int64_t v, src_loc loc, const char *what, int64_t hi)
{
    if (v >= 1 && v <= hi)
        return true;
    diag_error(S->d, loc, NULL, "%s must be from 1 to %lld, not %lld", what, (long long)hi, (long long)v);
    return false;
}

static bool explicit_tile(sema *S, const tile_syntax *ts, schedule *s)
{
    for (int i = 0; i < ts->nq; i++)
        if (!range_ok(S, ts->q[i].num, ts->q[i].loc, "a tile extent", 4096))
            return false;
    for (int i = 0; i < ts->nkv; i++)
        if (!range_ok(S, ts->kv[i].num, ts->kv[i].loc, "a tile extent", 4096))
            return false;
    if ((ts->nq && !tile_extents(S, ts->q, ts->nq, ts->q_loc, "q", s->q_tile)) ||
        (ts->nkv && !tile_extents(S, ts->kv, ts->nkv, ts->kv_loc, "kv", s->kv_tile)))
        return false;
    if (ts->stages && !range_ok(S, ts->stages, ts->stages_loc, "stages", 64))
        return false;
    if (ts->warps && !range_ok(S, ts->warps, ts->warps_loc, "warps", 64))
        return false;
    if (ts->stages)
        s->stages = (int)ts->stages;
    if (ts->warps)
        s->warps = (int)ts->warps;
    return true;
}

void fe_sema_tile(sema *S)
{
    recipe *r = S->r;
    const tile_syntax *ts = &S->syn->tile;
    bool linear = r->family == FAMILY_LINEAR;
    schedule s = schedule_default(r->grid_ndim, TARGET_HOST, linear);
    s.is_auto = !S->syn->has[SEC_TILE] || ts->is_auto;
    s.linear_block = linear ? r->linear.block : s.linear_block;
    s.inter = linear ? r->linear.inter : s.inter;
    r->tile_loc = S->syn->loc[SEC_TILE];
    r->sched = s;
    if (s.is_auto || !explicit_tile(S, ts, &s) || !r->head_dim)
        return;
    strbuf err;
    sb_init(&err);
    int esize = dtype_size(r->qkv_dtype);
    int hd = r->head_dim > r->head_dim_v ? r->head_dim : r->head_dim_v;
    if (!schedule_check(&s, TARGET_HOST, hd, esize, &err)) {
        diag_error(S->d, r->tile_loc, NULL, "this tile cannot work: %s", sb_cstr(&err));
    } else {
        sb_clear(&err);
        if (!schedule_check(&s, TARGET_SM80, hd, esize, &err))
            diag_add(S->d, DIAG_WARNING, r->tile_loc, "use tile auto to let the tuner pick per GPU",
                     "this tile runs on the CPU but not on sm_80 GPUs: %s", sb_cstr(&err));
    }
    sb_free(&err);
    r->sched = s;
}
