/* tools_pairs.c — see tools_pairs.h. */
#include "runtime/tools/tools_pairs.h"

#include <string.h>

#include "passes/mask_count.h"

typedef struct counter {
    const mask_info *mi;
    eval_env env;
    const recipe *r;
    const attnc_tools_param_host *params;
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

/* Pair by pair (with box splitting) over the tiles of the kernel's range:
 * the fallback for masks mask_count_slice cannot count in closed form. */
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
            if (mask_classify_boxes(mi, &c->env, &qb, &kb) == MASK_EMPTY)
                continue;
            int64_t n = count_boxes(c, &qb, &kb);
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

bool tools_count_pairs(const recipe *r, const schedule *s, const int64_t *sizes, const attnc_tools_param_host *params,
                       attnc_tools_pairs *out, strbuf *err)
{
    int64_t B = sizes[SZ_BATCH], H = sizes[SZ_HEADS];
    *out = (attnc_tools_pairs){.dense = sizes[SZ_TOKENS] * sizes[SZ_KV_TOKENS] * B * H, .closed_form = true};
    arena a;
    arena_init(&a, NULL);
    mask_info mi;
    int dil[SCHED_MAX_DIMS];
    if (!mask_group_dilation(&a, r, s, dil) || !mask_analyze_dil(&a, r, s, dil, &mi)) {
        arena_free_all(&a);
        sb_puts(err, "out of memory");
        return false;
    }
    counter c = {.mi = &mi, .r = r, .params = params};
    memcpy(c.env.sizes, sizes, sizeof c.env.sizes);
    c.env.grid_ndim = r->grid_ndim;
    c.env.param = read_param;
    c.env.param_user = &c;
    bool per_batch = expr_uses_kind(r->mask, EX_BATCH) || expr_uses_kind(r->mask, EX_PARAM);
    bool per_head = mi.uses_head || expr_uses_kind(r->mask, EX_PARAM);
    out->closed_form = !r->mask || mask_count_exact(&mi);
    int64_t times = (per_batch ? 1 : B) * (per_head ? 1 : H);
    for (int64_t b = 0; b < (per_batch ? B : 1) && !c.failed; b++)
        for (int64_t h = 0; h < (per_head ? H : 1) && !c.failed; h++) {
            c.env.batch = b;
            c.env.head = h;
            int64_t group = sizes[SZ_KV_HEADS] > 0 ? H / sizes[SZ_KV_HEADS] : 1;
            c.env.kv_head = h / (group > 0 ? group : 1);
            mask_tally t;
            if (!r->mask)
                dense_tally(&mi, &c.env, &t);
            else if (!out->closed_form || !mask_count_slice(&mi, &c.env, &t)) {
                out->closed_form = false;
                count_slice(&c, &t);
            }
            add_tally(out, &t, times);
        }
    arena_free_all(&a);
    if (c.failed) {
        sb_puts(err, "the mask could not be evaluated on the host");
        return false;
    }
    return true;
}
