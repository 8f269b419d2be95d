/* tools_pairs.c — see tools_pairs.h. */
#include "runtime/tools/tools_pairs.h"

#include <string.h>

#include "codegen/nvptx_kernel.h"
#include "passes/mask_count.h"
#include "passes/mask_frames.h"
#include "passes/mask_radial.h"

typedef struct counter {
    const mask_info *mi;
    eval_env env;
    const recipe *r;
    const attnc_tools_param_host *params;
    bool radial; /* a lone radial form: box pairs counted by mask_radial_count */
    radial_rule rr;
    /* > 0 under ATTNC_MASK_FRAMES (on unless =0) for a mask read by key frames: the GPU
     * forward classifies tiles across a frame boundary by their parts
     * (mask_classify_frames), so its computed tiles are counted that way */
    int64_t frames;
    bool failed;
} counter;

static int64_t read_param(void *user, int param, const int64_t *idx, int nidx)
{
    counter *c = user;
    const attnc_tools_param_host *p = &c->params[param];
    int64_t lin = 0;
    for (int d = 0; d < p->ndim && d < nidx; d++) {
        int64_t i = idx[d] < 0 ? 0 : idx[d] >= p->shape[d] ? p->shape[d] - 1 : idx[d];
        lin = lin * p->shape[d] + i;
    }
    switch (c->r->params[param].dtype) {
    case DT_U8: return ((const uint8_t *)p->data)[lin];
    case DT_I64: return ((const int64_t *)p->data)[lin];
    case DT_I32: return ((const int32_t *)p->data)[lin];
    default: c->failed = true; return 0;
    }
}

static int64_t flat(const counter *c, const int64_t *x)
{
    if (c->mi->grid_ndim == 0)
        return x[0];
    int64_t t = 0;
    for (int d = 0; d < c->mi->grid_ndim; d++)
        t = t * c->env.sizes[SZ_GRID0 + d] + x[d];
    return t;
}

static int64_t box_area(const mask_info *mi, const tok_box *b)
{
    int64_t n = 1;
    for (int d = 0; d < mi->ndims; d++)
        n *= tok_box_len(b, d);
    return n;
}

/* Walks the coordinates of box b (odometer over ndims dims). */
static bool next_coord(const mask_info *mi, const tok_box *b, int64_t *x)
{
    for (int d = mi->ndims - 1; d >= 0; d--) {
        if ((x[d] += b->step[d] > 1 ? b->step[d] : 1) <= b->hi[d])
            return true;
        x[d] = b->lo[d];
    }
    return false;
}

static int64_t count_partial(counter *c, const tok_box *qb, const tok_box *kb)
{
    int64_t q[3] = {0}, k[3] = {0}, kept = 0;
    memcpy(q, qb->lo, sizeof q);
    do {
        memcpy(k, kb->lo, sizeof k);
        do {
            int64_t v = 0;
            eval_env_set_point(&c->env, flat(c, q), flat(c, k));
            if (!expr_eval_int(c->mi->mask, &c->env, &v))
                c->failed = true;
            kept += v != 0;
        } while (next_coord(c->mi, kb, k));
    } while (next_coord(c->mi, qb, q));
    return kept;
}

/* Exact count over a box pair: interval classification settles most
 * sub-boxes as full or empty; what stays partial is split in half along
 * its widest dim, down to small boxes counted pair by pair. */
static int64_t count_boxes(counter *c, const tok_box *qb, const tok_box *kb)
{
    const mask_info *mi = c->mi;
    mask_class cl = mask_classify_boxes(mi, &c->env, qb, kb);
    if (cl == MASK_EMPTY)
        return 0;
    int64_t qa = box_area(mi, qb), ka = box_area(mi, kb);
    if (qa == 0 || ka == 0)
        return 0;
    if (cl == MASK_FULL)
        return qa * ka;
    if (qa * ka <= 64)
        return count_partial(c, qb, kb);
    bool split_q = qa >= ka;
    const tok_box *b = split_q ? qb : kb;
    int wd = 0;
    for (int d = 1; d < mi->ndims; d++)
        if (tok_box_len(b, d) > tok_box_len(b, wd))
            wd = d;
    tok_box lo = *b, hi = *b;
    int64_t step = b->step[wd] > 1 ? b->step[wd] : 1;
    lo.hi[wd] = b->lo[wd] + (tok_box_len(b, wd) - 1) / 2 * step;
    hi.lo[wd] = lo.hi[wd] + step;
    if (split_q)
        return count_boxes(c, &lo, kb) + count_boxes(c, &hi, kb);
    return count_boxes(c, qb, &lo) + count_boxes(c, qb, &hi);
}

/* Kept pairs of a tile pair: in closed form for radial masks, else by
 * splitting (count_boxes). */
static int64_t count_tile(counter *c, const tok_box *qb, const tok_box *kb)
{
    if (c->radial)
        return mask_radial_count(&c->rr, qb->lo[0], qb->hi[0], kb->lo[0], kb->hi[0]);
    return count_boxes(c, qb, kb);
}

/* Over the tiles of the kernel's range, each tile pair counted by
 * count_tile: masks mask_count_slice cannot count per row. */
static void count_slice(counter *c, mask_tally *t)
{
    const mask_info *mi = c->mi;
    int64_t nq[3], nk[3];
    int64_t tq = mask_tile_count(mi, &c->env, true, nq), tk = mask_tile_count(mi, &c->env, false, nk);
    *t = (mask_tally){0};
    for (int64_t i = 0; i < tq && !c->failed; i++) {
        tok_box qb, kb;
        kv_boxes boxes;
        mask_tile_box(mi, &c->env, true, i, &qb);
        if (box_area(mi, &qb) == 0 || !kv_boxes_eval(mi, &c->env, &qb, &boxes))
            continue;
        for (int64_t j = 0; j < tk; j++) {
            int64_t idx[SCHED_MAX_DIMS] = {0};
            mask_tile_box(mi, &c->env, false, j, &kb);
            bool same_group = true; /* dilation-group tiling: q's group, group-local index */
            for (int d = 0; d < mi->ndims; d++) {
                int64_t dl = mi->dil[d] > 1 ? mi->dil[d] : 1;
                same_group &= kb.lo[d] % dl == qb.lo[d] % dl;
                idx[d] = kb.lo[d] / dl / mi->kv_tile[d];
            }
            if (!same_group || !kv_boxes_hold(&boxes, mi->ndims, idx))
                continue;
            t->visited_tiles++;
            if (mask_classify_frames(mi, &c->env, &qb, &kb, c->frames) == MASK_EMPTY)
                continue;
            int64_t n = count_tile(c, &qb, &kb);
            t->computed_tiles++;
            t->computed_pairs += box_area(mi, &qb) * box_area(mi, &kb);
            t->kept_tiles += n > 0;
            t->kept_pairs += n;
        }
    }
}

static void add_tally(attnc_tools_pairs *out, const mask_tally *t, int64_t times)
{
    out->kept += t->kept_pairs * times;
    out->visited_tiles += t->visited_tiles * times;
    out->computed_tiles += t->computed_tiles * times;
    out->kept_tiles += t->kept_tiles * times;
    out->computed_pairs += t->computed_pairs * times;
}

/* No mask: every tile is visited and full. */
static void dense_tally(const mask_info *mi, const eval_env *env, mask_tally *t)
{
    int64_t nq[3], nk[3], qe[3], ke[3];
    int64_t tiles = mask_tile_count(mi, env, true, nq) * mask_tile_count(mi, env, false, nk);
    mask_extents(mi, env, true, qe);
    mask_extents(mi, env, false, ke);
    *t = (mask_tally){0};
    t->kept_pairs = t->computed_pairs = qe[0] * qe[1] * qe[2] * ke[0] * ke[1] * ke[2];
    t->visited_tiles = t->computed_tiles = t->kept_tiles = tiles;
}

/* Whether the forward's key range of query box qb holds key tile kidx
 * (RANGE_INVERSE: the dK/dV kernel skips the query tiles of the inverse
 * bounds' box that fail this). */
static bool forward_holds(const mask_info *mi, const eval_env *env, const tok_box *qb, const int64_t *kidx)
{
    int64_t lo[SCHED_MAX_DIMS], hi[SCHED_MAX_DIMS];
    if (!kv_range_eval(mi, env, qb, lo, hi))
        return false;
    for (int d = 0; d < mi->ndims; d++)
        if (kidx[d] < lo[d] || kidx[d] > hi[d])
            return false;
    return true;
}

/* The document cut of the dK/dV kernel's query range lo..hi of key box kb
 * ($ATTNC_BWD_DOC_SPAN=1 or 2, codegen/nvptx_bwd_span.c): the kernel scans the
 * range's bounds when they read no query head (then lo..hi here), else
 * every query tile, and intersects. */
static void bwd_doc_cut(const mask_info *mi, const eval_env *env, const tok_box *kb, int64_t nq, int64_t lo[],
                        int64_t hi[])
{
    if (nvptx_bwd_doc_span_mode() < 1)
        return;
    bool headless = mi->qmode == RANGE_BOUNDS && mi->qrange_lo[0] && mi->qrange_hi[0] &&
                    !expr_uses_kind(mi->qrange_lo[0], EX_HEAD) &&
                    !expr_uses_kind(mi->qrange_hi[0], EX_HEAD);
    int64_t clo[SCHED_MAX_DIMS] = {headless ? lo[0] : 0}, chi[SCHED_MAX_DIMS] = {headless ? hi[0] : nq - 1};
    q_span_cut(mi, env, kb, clo, chi);
    lo[0] = clo[0] > lo[0] ? clo[0] : lo[0];
    hi[0] = chi[0] < hi[0] ? chi[0] : hi[0];
}

/* One query tile qi of key tile kb's loop (inverse: the forward's range
 * must hold the key tile, unless the loop walks the transposed parts). */
static void count_bwd_pair(counter *c, bool kept, bool inverse, const tok_box *kb, const int64_t *kidx,
                           const int64_t *qi, const int64_t *nq, attnc_tools_bwd_tiles *t)
{
    const mask_info *mi = c->mi;
    const eval_env *env = &c->env;
    int64_t lin = 0;
    tok_box qb;
    for (int d = 0; d < mi->ndims; d++)
        lin = lin * nq[d] + qi[d];
    t->visited_tiles++;
    mask_tile_box(mi, env, true, lin, &qb);
    if (inverse && !forward_holds(mi, env, &qb, kidx))
        return;
    mask_class cl = mask_classify_boxes(mi, env, &qb, kb);
    if (cl == MASK_EMPTY)
        return;
    t->computed_tiles++;
    t->full_tiles += cl == MASK_FULL;
    t->computed_pairs += box_area(mi, &qb) * box_area(mi, kb);
    if (kept)
        t->kept_tiles += cl == MASK_FULL || count_tile(c, &qb, kb) > 0;
}

/* The dK/dV kernel's loop (codegen/nvptx_bwd_dkv.c): per key tile, the
 * query tiles of its transposed range (q_range_eval; with `parts`, the
 * union's transposed parts, q_boxes_eval), then the skips. Tiles holding
 * kept pairs are counted here only when kept is set. */
static void count_bwd_slice(counter *c, bool kept, bool parts, attnc_tools_bwd_tiles *t)
{
    const mask_info *mi = c->mi;
    const eval_env *env = &c->env;
    int64_t nq[3], nk[3];
    mask_tile_count(mi, env, true, nq);
    int64_t tk = mask_tile_count(mi, env, false, nk);
    parts = parts && mi->qnparts >= 2 && (mi->qmode == RANGE_BOUNDS || mi->qmode == RANGE_INVERSE);
    for (int64_t j = 0; j < tk && !c->failed; j++) {
        tok_box kb;
        kv_boxes qbx;
        int64_t kidx[SCHED_MAX_DIMS] = {0};
        mask_tile_box(mi, env, false, j, &kb);
        if (box_area(mi, &kb) == 0)
            continue;
        if (parts)
            q_boxes_eval(mi, env, &kb, &qbx);
        else if ((qbx.n = q_range_eval(mi, env, &kb, qbx.lo[0], qbx.hi[0])) != 0)
            qbx.n = 1;
        for (int p = 0; p < qbx.n; p++) /* the hull's cut clips every part (nvptx_bwd_dkv.c) */
            bwd_doc_cut(mi, env, &kb, nq[0], qbx.lo[p], qbx.hi[p]);
        for (int d = 0; d < mi->ndims; d++)
            kidx[d] = kb.lo[d] / mi->kv_tile[d];
        for (int p = 0; p < qbx.n; p++) {
            int64_t cnt[3] = {1, 1, 1}, total = 1;
            for (int d = 0; d < mi->ndims; d++) {
                cnt[d] = qbx.hi[p][d] - qbx.lo[p][d] + 1;
                total *= cnt[d] > 0 ? cnt[d] : 0;
            }
            for (int64_t i = 0; i < total; i++) {
                int64_t rem = i, qi[3] = {0};
                for (int d = mi->ndims - 1; d >= 0; d--) {
                    qi[d] = qbx.lo[p][d] + rem % cnt[d];
                    rem /= cnt[d];
                }
                count_bwd_pair(c, kept, mi->qmode == RANGE_INVERSE && !parts, &kb, kidx, qi, nq, t);
            }
        }
    }
}

typedef struct slices {
    arena a;
    mask_info mi;
    counter c;
    bool per_batch, per_head;
} slices;

static bool slices_init(slices *sl, const recipe *r, const schedule *s, const int64_t *sizes,
                        const attnc_tools_param_host *params, strbuf *err)
{
    arena_init(&sl->a, NULL);
    int dil[SCHED_MAX_DIMS];
    if (!mask_group_dilation(&sl->a, r, s, dil) || !mask_analyze_dil(&sl->a, r, s, dil, &sl->mi)) {
        arena_free_all(&sl->a);
        sb_puts(err, "out of memory");
        return false;
    }
    sl->c = (counter){.mi = &sl->mi, .r = r, .params = params};
    sl->c.radial = r->mask && !mask_dilated(&sl->mi) && mask_radial_rule(r, &sl->c.rr);
    if (nvptx_mask_frames_mode() == 1)
        sl->c.frames = mask_key_period(sl->mi.mask, r->grid_ndim, s->kv_tile[0]);
    memcpy(sl->c.env.sizes, sizes, sizeof sl->c.env.sizes);
    sl->c.env.grid_ndim = r->grid_ndim;
    sl->c.env.param = read_param;
    sl->c.env.param_user = &sl->c;
    /* a param's element depends on the head or batch only through index
     * expressions that read them (document ids [batch, tokens], block
     * tables [heads, ..]): one slice serves the others otherwise */
    sl->per_batch = sl->mi.uses_batch;
    sl->per_head = sl->mi.uses_head;
    return true;
}

static void slice_at(slices *sl, const int64_t *sizes, int64_t b, int64_t h)
{
    sl->c.env.batch = b;
    sl->c.env.head = h;
    int64_t group = sizes[SZ_KV_HEADS] > 0 ? sizes[SZ_HEADS] / sizes[SZ_KV_HEADS] : 1;
    sl->c.env.kv_head = h / (group > 0 ? group : 1);
}

static bool slices_done(slices *sl, strbuf *err)
{
    bool failed = sl->c.failed;
    arena_free_all(&sl->a);
    if (failed)
        sb_puts(err, "the mask could not be evaluated on the host");
    return !failed;
}

bool tools_count_bwd_tiles(const recipe *r, const schedule *s, const int64_t *sizes,
                           const attnc_tools_param_host *params, attnc_tools_bwd_tiles *out, strbuf *err)
{
    *out = (attnc_tools_bwd_tiles){0};
    if (!r->mask)
        return true; /* no mask: every tile pair, full */
    slices sl;
    if (!slices_init(&sl, r, s, sizes, params, err))
        return false;
    mask_info *mi = &sl.mi;
    if (mi->qmode == RANGE_BLOCK_TABLE || (mi->qmode == RANGE_INVERSE && mi->mode != RANGE_BOUNDS))
        mi->qmode = RANGE_ALL; /* as the GPU's plan reads them (nvptx_bwd.c) */
    if (mask_dilated(mi)) {
        arena_free_all(&sl.a);
        return true; /* dilation-group tiles: not counted */
    }
    int64_t B = sizes[SZ_BATCH], H = sizes[SZ_HEADS], times = (sl.per_batch ? 1 : B) * (sl.per_head ? 1 : H);
    /* Every kept pair lies in a tile the loop computes, so the tiles holding
     * kept pairs are those the forward's row-wise count finds under the same
     * tiles (mask_count_slice), when the mask allows it: splitting each
     * partial tile pair (documents: most of them) is far slower. */
    bool rows = !sl.c.radial && mask_count_exact(mi);
    out->counted = true;
    for (int64_t b = 0; b < (sl.per_batch ? B : 1) && !sl.c.failed; b++)
        for (int64_t h = 0; h < (sl.per_head ? H : 1) && !sl.c.failed; h++) {
            attnc_tools_bwd_tiles t = {0};
            mask_tally ft;
            slice_at(&sl, sizes, b, h);
            bool by_rows = rows && mask_count_slice(mi, &sl.c.env, &ft);
            count_bwd_slice(&sl.c, !by_rows, nvptx_bwd_parts_on(), &t);
            if (by_rows)
                t.kept_tiles = ft.kept_tiles;
            out->visited_tiles += t.visited_tiles * times;
            out->computed_tiles += t.computed_tiles * times;
            out->full_tiles += t.full_tiles * times;
            out->kept_tiles += t.kept_tiles * times;
            out->computed_pairs += t.computed_pairs * times;
        }
    return slices_done(&sl, err);
}

/* The dQ kernel's loop (codegen/nvptx_bwd_dq.c): per query tile, the key
 * tiles of the forward's range as the backward's plan reads it (no
 * document-span cut; a block table is every tile), its parts under
 * `parts`, then the empty test's skips. */
static void count_dq_slice(counter *c, bool parts, attnc_tools_bwd_tiles *t)
{
    mask_info mi = *c->mi;
    const eval_env *env = &c->env;
    mi.span_param = -1;
    if (!parts)
        mi.nparts = 0;
    if (mi.mode != RANGE_BOUNDS)
        mi.mode = RANGE_ALL, mi.nparts = 0;
    int64_t nq[3], nk[3], tq = mask_tile_count(&mi, env, true, nq);
    mask_tile_count(&mi, env, false, nk);
    for (int64_t i = 0; i < tq && !c->failed; i++) {
        tok_box qb, kb;
        kv_boxes bx;
        mask_tile_box(&mi, env, true, i, &qb);
        if (box_area(&mi, &qb) == 0)
            continue;
        kv_boxes_eval(&mi, env, &qb, &bx);
        for (int p = 0; p < bx.n; p++) {
            int64_t cnt[3] = {1, 1, 1}, total = 1;
            for (int d = 0; d < mi.ndims; d++) {
                cnt[d] = bx.hi[p][d] - bx.lo[p][d] + 1;
                total *= cnt[d] > 0 ? cnt[d] : 0;
            }
            for (int64_t j = 0; j < total; j++) {
                int64_t rem = j, lin = 0, ki[3] = {0};
                for (int d = mi.ndims - 1; d >= 0; d--) {
                    ki[d] = bx.lo[p][d] + rem % cnt[d];
                    rem /= cnt[d];
                }
                for (int d = 0; d < mi.ndims; d++)
                    lin = lin * nk[d] + ki[d];
                t->dq_visited_tiles++;
                mask_tile_box(&mi, env, false, lin, &kb);
                t->dq_computed_tiles += mask_classify_boxes(&mi, env, &qb, &kb) != MASK_EMPTY;
            }
        }
    }
}

bool tools_count_bwd_dq_tiles(const recipe *r, const schedule *s, const int64_t *sizes,
                              const attnc_tools_param_host *params, attnc_tools_bwd_tiles *out, strbuf *err)
{
    out->dq_visited_tiles = out->dq_computed_tiles = 0;
    if (!r->mask)
        return true;
    slices sl;
    if (!slices_init(&sl, r, s, sizes, params, err))
        return false;
    if (mask_dilated(&sl.mi)) {
        arena_free_all(&sl.a);
        return true;
    }
    int64_t B = sizes[SZ_BATCH], H = sizes[SZ_HEADS], times = (sl.per_batch ? 1 : B) * (sl.per_head ? 1 : H);
    for (int64_t b = 0; b < (sl.per_batch ? B : 1) && !sl.c.failed; b++)
        for (int64_t h = 0; h < (sl.per_head ? H : 1) && !sl.c.failed; h++) {
            attnc_tools_bwd_tiles t = {0};
            slice_at(&sl, sizes, b, h);
            count_dq_slice(&sl.c, nvptx_bwd_parts_on(), &t);
            out->dq_visited_tiles += t.dq_visited_tiles * times;
            out->dq_computed_tiles += t.dq_computed_tiles * times;
        }
    return slices_done(&sl, err);
}

bool tools_count_pairs(const recipe *r, const schedule *s, const int64_t *sizes, const attnc_tools_param_host *params,
                       attnc_tools_pairs *out, strbuf *err)
{
    int64_t B = sizes[SZ_BATCH], H = sizes[SZ_HEADS];
    *out = (attnc_tools_pairs){.dense = sizes[SZ_TOKENS] * sizes[SZ_KV_TOKENS] * B * H, .closed_form = true};
    slices sl;
    if (!slices_init(&sl, r, s, sizes, params, err))
        return false;
    out->closed_form = !r->mask || sl.c.radial || mask_count_exact(&sl.mi);
    int64_t times = (sl.per_batch ? 1 : B) * (sl.per_head ? 1 : H);
    for (int64_t b = 0; b < (sl.per_batch ? B : 1) && !sl.c.failed; b++)
        for (int64_t h = 0; h < (sl.per_head ? H : 1) && !sl.c.failed; h++) {
            slice_at(&sl, sizes, b, h);
            mask_tally t;
            if (!r->mask)
                dense_tally(&sl.mi, &sl.c.env, &t);
            else if (sl.c.radial)
                count_slice(&sl.c, &t);
            else if (!out->closed_form || !mask_count_slice(&sl.mi, &sl.c.env, &t)) {
                out->closed_form = false;
                count_slice(&sl.c, &t);
            }
            add_tally(out, &t, times);
        }
    return slices_done(&sl, err);
}
