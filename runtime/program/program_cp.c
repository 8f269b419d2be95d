/* program_cp.c — context parallelism (attnc_cp_*, attnc.h): one attention
 * over a sequence (or token grid) sharded across R ranks.
 *
 * Ring and zigzag shard the sharded axis (tokens, or rows of the outermost
 * grid dim) into segments — R contiguous ones, or 2R with rank r holding
 * segments r and 2R-1-r so causal work balances. Each rank visits the
 * ranks' K/V in ring order (its own first); a (query segment, key segment)
 * pair that mask analysis proves empty over the two boxes is skipped, so a
 * causal rank never fetches or computes later ranks' blocks and a
 * neighborhood rank only its halo neighbours'; every other pair is one
 * launch of the global-coordinates kernel into a partial, and the LSE
 * merge joins a segment's partials. Grid segments are slabs padded to equal
 * rows (the kernel masks keys past the grid's end). Ulysses exchanges
 * sequence shards for head groups (all-to-all), runs the whole sequence
 * for heads [r H/R, (r+1) H/R) with head_offset, and exchanges back.
 *
 * Simulated ranks run every rank in this process on one device in rank
 * order: a received block is a copy into the rank's receive buffer
 * (memcpy / cuMemcpy2DAsync) where NCCL would send it. */
#include <stdio.h>
#include <string.h>

#include "runtime/program/program_cp.h"

static attnc_status cperr(attnc_cp_plan *p, attnc_status st, const char *fmt, const char *arg)
{
    snprintf(p->errmsg, sizeof p->errmsg, fmt, arg ? arg : "");
    return st;
}

void attnc_cp_plan_destroy(attnc_cp_plan *p)
{
    if (!p)
        return;
    pmerge_free(&p->merge);
    attnc_kernel_destroy(p->fwd);
    nccl_release(p);
    arena_free_all(&p->arena);
    ctx_free(p->ctx, p);
}

static attnc_status check_options(attnc_context *ctx, const attnc_cp_options *o)
{
    if (!o || o->version != ATTNC_CP_OPTIONS_VERSION)
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT, "attnc_cp_plan_create: options missing or of another "
                         "version (use ATTNC_CP_OPTIONS_INIT)");
    if (o->ranks < 1 || o->ranks > ATTNC_CP_MAX_RANKS || o->kind < ATTNC_CP_RING || o->kind > ATTNC_CP_ULYSSES)
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT, "attnc_cp_plan_create: ranks %d (1..%d) or kind %d unknown",
                         o->ranks, ATTNC_CP_MAX_RANKS, (int)o->kind);
    if (o->nccl_comm && (o->rank < 0 || o->rank >= o->ranks))
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT, "attnc_cp_plan_create: rank %d is not 0..%d", o->rank,
                         o->ranks - 1);
    return ATTNC_OK;
}

attnc_status attnc_cp_plan_create(attnc_cp_plan **out, attnc_context *ctx, const attnc_recipe *r,
                                  const attnc_build_options *build, const attnc_cp_options *o)
{
    if (out)
        *out = NULL;
    if (!ctx)
        return ATTNC_ERR_INVALID_ARGUMENT;
    if (!out || !r)
        return ctx_error(ctx, ATTNC_ERR_INVALID_ARGUMENT, "attnc_cp_plan_create: out or recipe is NULL");
    attnc_status st = check_options(ctx, o);
    if (st)
        return st;
    attnc_build_options b;
    if ((st = kernel_options_read(ctx, build, &b)))
        return st;
    b.flags |= ATTNC_BUILD_GLOBAL_COORDS;
    attnc_cp_plan *p = ctx_calloc(ctx, sizeof *p);
    if (!p)
        return ctx_error(ctx, ATTNC_ERR_NOMEM, "out of memory creating a context-parallel plan");
    p->ctx = ctx;
    p->o = *o;
    p->mem = (pmem){ctx, b.backend == ATTNC_BACKEND_CUDA, NULL};
    arena_init(&p->arena, &ctx->heap);
    st = attnc_kernel_build(&p->fwd, ctx, r, &b);
    if (!st && !(p->orig = kernel_recipe_copy(&p->arena, r->r)))
        st = ctx_error(ctx, ATTNC_ERR_NOMEM, "out of memory creating a context-parallel plan");
    if (!st) { /* the whole problem's mask, for skipping empty block pairs */
        schedule s = schedule_default(p->orig->grid_ndim > 0 ? p->orig->grid_ndim : 1, TARGET_HOST, false);
        p->mi_ok = mask_analyze(&p->arena, p->orig, &s, &p->mi);
        strbuf err;
        sb_init(&err);
        if ((st = pmerge_init(&p->merge, p->mem.gpu, r->r->qkv_dtype, &err)))
            ctx_error(ctx, st, "the merge kernel: %s", sb_cstr(&err));
        sb_free(&err);
    }
    if (!st && o->nccl_comm)
        st = nccl_open(p);
    if (st) {
        attnc_cp_plan_destroy(p);
        return st;
    }
    *out = p;
    return ATTNC_OK;
}

const char *attnc_cp_errmsg(const attnc_cp_plan *p)
{
    return !p ? "" : p->errmsg[0] ? p->errmsg : attnc_kernel_errmsg(p->fwd);
}

attnc_status attnc_cp_args_create(attnc_args **out, const attnc_cp_plan *p)
{
    if (out)
        *out = NULL;
    return p ? attnc_args_create(out, p->fwd) : ATTNC_ERR_INVALID_ARGUMENT;
}

const attnc_kernel *attnc_cp_kernel(const attnc_cp_plan *p)
{
    return p ? p->fwd : NULL;
}

void attnc_cp_last_stats(const attnc_cp_plan *p, int64_t *computed, int64_t *skipped)
{
    if (computed)
        *computed = p ? p->computed : 0;
    if (skipped)
        *skipped = p ? p->skipped : 0;
}

/* ---- the whole problem and its segments ---- */

/* Reads a launch, validated first as one block at offset 0 of a problem
 * `shards` times as long (1: the whole problem; R: a rank's shard). */
attnc_status cp_whole(attnc_cp_plan *p, const attnc_args *a, int shards, cp_whole_t *w)
{
    memset(w, 0, sizeof *w);
    for (int i = ARG_Q; i <= ARG_O; i++)
        if (!a->tensor_set[i])
            return cperr(p, ATTNC_ERR_INVALID_ARGUMENT, "attnc_cp launch: q, k, v and o must be set%s", NULL);
    w->a = a;
    for (int i = 0; i < 5; i++)
        w->t[i] = a->tensor_set[i] ? &a->tensors[i] : NULL;
    const attnc_tensor *q = w->t[ARG_Q], *k = w->t[ARG_K];
    if (q->ndim == 4 && k->ndim == 4 && !p->orig->cross && q->shape[2] != k->shape[2])
        return cperr(p, ATTNC_ERR_INVALID_ARGUMENT, "attnc_cp launch: k's tokens differ from q's%s", NULL);
    const recipe *r = p->orig;
    w->inner = 1;
    for (int d = 1; d < r->grid_ndim; d++)
        w->inner *= a->sizes[SZ_GRID0 + d];
    w->axis = r->grid_ndim > 0 ? a->sizes[SZ_GRID0] : q->shape[2];
    w->kaxis = r->grid_ndim > 0 ? w->axis : k->shape[2];
    pblock b = {0, 0, 0, q->shape[2] * shards, k->shape[2] * shards, q->shape[1], w->axis * shards, 0};
    attnc_status st = prog_validate_part(p->fwd, a, w->t, &b);
    if (st)
        return cperr(p, st, "%s", attnc_kernel_errmsg(p->fwd));
    for (int i = 0; i < 5; i++)
        if (w->t[i] && w->t[i]->ndim >= 3 && w->t[i]->stride[w->t[i]->ndim - 1] != 1 && i != ARG_LSE)
            return cperr(p, ATTNC_ERR_UNSUPPORTED, "attnc_cp launch: %s's head dim must be contiguous (stride 1)",
                         (const char *[]){"q", "k", "v", "o"}[i]);
    w->B = q->shape[0], w->H = q->shape[1], w->KH = k->shape[1], w->T = q->shape[2];
    w->D = q->shape[3], w->Dv = w->t[ARG_O]->shape[3];
    memcpy(w->sizes, a->sizes, sizeof w->sizes);
    w->sizes[SZ_BATCH] = w->B, w->sizes[SZ_HEADS] = w->H, w->sizes[SZ_KV_HEADS] = w->KH;
    w->sizes[SZ_TOKENS] = w->T, w->sizes[SZ_KV_TOKENS] = k->shape[2];
    return ATTNC_OK;
}

/* Segment s of n along the sharded axis: real rows/tokens [lo, lo+len),
 * padded to `pad` (grids: equal slabs; sequences: no padding). */
cp_seg cp_segment(const cp_whole_t *w, bool grid, bool kv, int s, int n)
{
    cp_seg g;
    int64_t L = kv ? w->kaxis : w->axis;
    if (grid) {
        int64_t rows = (L + n - 1) / n;
        g.lo = rows * s;
        g.len = g.lo >= L ? 0 : L - g.lo < rows ? L - g.lo : rows;
        g.pad = rows;
    } else {
        g.lo = L * s / n;
        g.len = L * (s + 1) / n - g.lo;
        g.pad = g.len;
    }
    g.t0 = g.lo * w->inner, g.tlen = g.len * w->inner, g.tpad = g.pad * w->inner;
    return g;
}

int cp_rank_segments(const attnc_cp_plan *p, int r, int *segs)
{
    segs[0] = r;
    if (p->o.kind != ATTNC_CP_ZIGZAG)
        return 1;
    segs[1] = 2 * p->o.ranks - 1 - r;
    return 2;
}

/* Mask analysis over the two segments' boxes in the whole problem. */
bool cp_pair_empty(const attnc_cp_plan *p, const cp_whole_t *w, const cp_seg *q, const cp_seg *k)
{
    if (!p->mi_ok || p->mi.uses_head || p->mi.uses_batch || !q->len || !k->len)
        return k->len == 0;
    eval_env env;
    memset(&env, 0, sizeof env);
    memcpy(env.sizes, w->sizes, sizeof env.sizes);
    env.grid_ndim = p->orig->grid_ndim;
    tok_box qb, kb;
    memset(&qb, 0, sizeof qb);
    memset(&kb, 0, sizeof kb);
    qb.lo[0] = q->lo, qb.hi[0] = q->lo + q->len - 1;
    kb.lo[0] = k->lo, kb.hi[0] = k->lo + k->len - 1;
    for (int d = 1; d < p->orig->grid_ndim; d++)
        qb.hi[d] = kb.hi[d] = w->sizes[SZ_GRID0 + d] - 1;
    return mask_classify_boxes(&p->mi, &env, &qb, &kb) == MASK_EMPTY;
}

/* Copies tokens [t0, t0+len) of every (batch, head in [h0, h0+nh)) of the
 * strided tensor src into (to_dense) or out of a dense [B, nh, pad, cols]
 * buffer at token `at`. */
attnc_status cp_copy_tokens(attnc_cp_plan *p, const attnc_tensor *t, bool to_dense, void *dense, int64_t h0, int64_t nh,
                            int64_t pad, int64_t at, int64_t t0, int64_t len, strbuf *err)
{
    size_t es = prog_esize(t->dtype);
    bool rows = t->ndim == 3; /* lse: one element per token */
    int64_t cols = rows ? 1 : t->shape[3];
    size_t width = (size_t)cols * es, tpitch = (size_t)t->stride[2] * es;
    for (int64_t b = 0; b < t->shape[0]; b++)
        for (int64_t h = 0; h < nh; h++) {
            char *d = (char *)dense + (size_t)(((b * nh + h) * pad + at) * cols) * es;
            char *s = (char *)t->data + (size_t)(b * t->stride[0] + (h0 + h) * t->stride[1] + t0 * t->stride[2]) * es;
            attnc_status st = to_dense ? pm_copy2d(&p->mem, d, width, s, tpitch, width, (size_t)len, err)
                                       : pm_copy2d(&p->mem, s, tpitch, d, width, width, (size_t)len, err);
            if (st)
                return st;
        }
    return ATTNC_OK;
}

attnc_status attnc_cp_launch_simulated(attnc_cp_plan *p, const attnc_args *a, void *stream)
{
    if (!p)
        return ATTNC_ERR_INVALID_ARGUMENT;
    p->errmsg[0] = 0;
    if (!a || a->k != p->fwd)
        return cperr(p, ATTNC_ERR_INVALID_ARGUMENT, "attnc_cp_launch_simulated: args not made by attnc_cp_args_create%s",
                     NULL);
    if (a->cu_seqlens_set[0] || a->cu_seqlens_set[1])
        return cperr(p, ATTNC_ERR_UNSUPPORTED, "attnc_cp_launch_simulated: context parallelism has no varlen form "
                                               "(cu_seqlens)%s",
                     "");
    cp_whole_t w;
    attnc_status st = cp_whole(p, a, 1, &w);
    if (st)
        return st;
    p->mem.stream = stream;
    p->computed = p->skipped = 0;
    if (w.B == 0 || w.H == 0 || w.T == 0)
        return ATTNC_OK;
    return p->o.kind == ATTNC_CP_ULYSSES ? cp_ulysses_sim(p, &w) : cp_ring_sim(p, &w);
}
