/* mask_eval.c — mask analysis at concrete sizes: classifying box pairs,
 * evaluating key-tile ranges, building the block table and the wasted-work
 * report. See mask_analysis.h. */
#include <string.h>

#include "mask_analysis.h"

void mask_extents(const mask_info *mi, const eval_env *env, bool q, int64_t ext[SCHED_MAX_DIMS])
{
    for (int d = 0; d < SCHED_MAX_DIMS; d++)
        ext[d] = 1;
    if (mi->grid_ndim == 0) {
        ext[0] = env->sizes[q ? SZ_TOKENS : SZ_KV_TOKENS];
        return;
    }
    for (int d = 0; d < mi->grid_ndim; d++)
        ext[d] = env->sizes[SZ_GRID0 + d];
}

int64_t mask_tile_count(const mask_info *mi, const eval_env *env, bool q, int64_t n[SCHED_MAX_DIMS])
{
    int64_t ext[SCHED_MAX_DIMS], total = 1;
    mask_extents(mi, env, q, ext);
    for (int d = 0; d < SCHED_MAX_DIMS; d++) {
        int64_t t = d < mi->ndims ? (q ? mi->q_tile[d] : mi->kv_tile[d]) : 1;
        int64_t dl = d < mi->ndims && mi->dil[d] > 1 ? mi->dil[d] : 1;
        int64_t len = (ext[d] + dl - 1) / dl; /* the longest group's (group 0) */
        n[d] = ext[d] > 0 ? dl * ((len + t - 1) / t) : 0;
        total *= n[d];
    }
    return total;
}

static void box_at(const mask_info *mi, const int64_t ext[], bool q, const int64_t idx[], tok_box *out)
{
    memset(out, 0, sizeof *out);
    for (int d = 0; d < mi->ndims; d++) {
        int64_t t = q ? mi->q_tile[d] : mi->kv_tile[d];
        int64_t dl = mi->dil[d] > 1 ? mi->dil[d] : 1, g = idx[d] % dl, i = idx[d] / dl;
        int64_t lg = ext[d] - g > 0 ? (ext[d] - g + dl - 1) / dl : 0; /* the group's length */
        int64_t first = i * t, last = first + t < lg ? first + t - 1 : lg - 1;
        out->step[d] = dl;
        out->lo[d] = first * dl + g;
        out->hi[d] = last >= first ? last * dl + g : out->lo[d] - 1;
    }
}

void mask_tile_box(const mask_info *mi, const eval_env *env, bool q, int64_t linear, tok_box *out)
{
    int64_t n[SCHED_MAX_DIMS], ext[SCHED_MAX_DIMS], idx[SCHED_MAX_DIMS] = {0};
    mask_tile_count(mi, env, q, n);
    mask_extents(mi, env, q, ext);
    for (int d = mi->ndims - 1; d >= 0; d--) {
        idx[d] = n[d] ? linear % n[d] : 0;
        linear = n[d] ? linear / n[d] : 0;
    }
    box_at(mi, ext, q, idx, out);
}

static void set_boxes(eval_env *env, const tok_box *q, const tok_box *k)
{
    for (int d = 0; d < SCHED_MAX_DIMS; d++) {
        if (q) {
            env->qlo[d] = q->lo[d];
            env->qhi[d] = q->hi[d];
        }
        if (k) {
            env->klo[d] = k->lo[d];
            env->khi[d] = k->hi[d];
        }
    }
}

static bool eval_bool(const expr *e, const eval_env *env)
{
    int64_t v = 0;
    return expr_eval_int(e, env, &v) && v != 0;
}

mask_class mask_classify_boxes(const mask_info *mi, const eval_env *env, const tok_box *q, const tok_box *k)
{
    eval_env e = *env;
    set_boxes(&e, q, k);
    if (eval_bool(mi->empty, &e))
        return MASK_EMPTY;
    return eval_bool(mi->full, &e) ? MASK_FULL : MASK_PARTIAL;
}

/* Evaluates range bounds over box b, a query box (tiles counted on the key
 * side) or, for a transposed range (qside), a key box. */
static bool eval_range_side(bool qside, int ndims, expr *const *los, expr *const *his, const mask_info *mi,
                            const eval_env *env, const tok_box *b, int64_t lo[], int64_t hi[])
{
    int64_t n[SCHED_MAX_DIMS];
    mask_tile_count(mi, env, qside, n);
    eval_env e = *env;
    set_boxes(&e, qside ? NULL : b, qside ? b : NULL);
    bool nonempty = true;
    for (int d = 0; d < SCHED_MAX_DIMS; d++) {
        lo[d] = 0;
        hi[d] = d < mi->ndims ? n[d] - 1 : 0;
        if (d < ndims && (!expr_eval_int(los[d], &e, &lo[d]) || !expr_eval_int(his[d], &e, &hi[d]))) {
            lo[d] = 0; /* not evaluable: every tile (conservative) */
            hi[d] = n[d] - 1;
        }
        nonempty &= lo[d] <= hi[d];
    }
    return nonempty;
}

static bool eval_range(int ndims, expr *const *los, expr *const *his, const mask_info *mi, const eval_env *env,
                       const tok_box *q, int64_t lo[], int64_t hi[])
{
    return eval_range_side(false, ndims, los, his, mi, env, q, lo, hi);
}

/* RANGE_INVERSE: per dim, the first and last query tile whose forward range
 * (los/his over the query box) holds key box k's tile. */
static bool eval_inverse(int ndims, expr *const *los, expr *const *his, const mask_info *mi, const eval_env *env,
                         const tok_box *k, int64_t lo[], int64_t hi[])
{
    int64_t nq[SCHED_MAX_DIMS], kidx[SCHED_MAX_DIMS] = {0};
    int64_t tq = mask_tile_count(mi, env, true, nq);
    for (int d = 0; d < SCHED_MAX_DIMS; d++) {
        kidx[d] = d < mi->ndims ? k->lo[d] / mi->kv_tile[d] : 0;
        lo[d] = d < mi->ndims ? INT64_MAX : 0;
        hi[d] = d < mi->ndims ? -1 : 0;
    }
    bool any = false;
    for (int64_t i = 0; i < tq; i++) {
        tok_box qb;
        int64_t flo[SCHED_MAX_DIMS], fhi[SCHED_MAX_DIMS];
        mask_tile_box(mi, env, true, i, &qb);
        if (!eval_range(ndims, los, his, mi, env, &qb, flo, fhi))
            continue;
        bool holds = true;
        for (int d = 0; d < mi->ndims; d++)
            holds &= flo[d] <= kidx[d] && kidx[d] <= fhi[d];
        if (!holds)
            continue;
        any = true;
        for (int d = 0; d < mi->ndims; d++) {
            int64_t qi = qb.lo[d] / mi->q_tile[d];
            lo[d] = qi < lo[d] ? qi : lo[d];
            hi[d] = qi > hi[d] ? qi : hi[d];
        }
    }
    return any;
}

bool q_range_eval(const mask_info *mi, const eval_env *env, const tok_box *k, int64_t lo[SCHED_MAX_DIMS],
                  int64_t hi[SCHED_MAX_DIMS])
{
    if (mi->qmode == RANGE_INVERSE)
        return eval_inverse(mi->ndims, mi->range_lo, mi->range_hi, mi, env, k, lo, hi);
    int nd = mi->qmode == RANGE_BOUNDS ? mi->ndims : 0;
    return eval_range_side(true, nd, mi->qrange_lo, mi->qrange_hi, mi, env, k, lo, hi);
}

bool kv_range_eval(const mask_info *mi, const eval_env *env, const tok_box *q, int64_t lo[SCHED_MAX_DIMS],
                   int64_t hi[SCHED_MAX_DIMS])
{
    int nd = mi->mode == RANGE_BOUNDS ? mi->ndims : 0;
    return eval_range(nd, mi->range_lo, mi->range_hi, mi, env, q, lo, hi);
}

bool kv_range_eval_op(const tir_op *op, const tir_kernel *k, const eval_env *env, const tok_box *q,
                      int64_t lo[SCHED_MAX_DIMS], int64_t hi[SCHED_MAX_DIMS])
{
    mask_info mi = {0};
    mi.grid_ndim = k->grid_ndim;
    mi.ndims = k->sched.ndims;
    for (int d = 0; d < SCHED_MAX_DIMS; d++)
        mi.dil[d] = tir_kernel_dil(k, d);
    for (int d = 0; d < mi.ndims; d++) {
        mi.q_tile[d] = k->sched.q_tile[d];
        mi.kv_tile[d] = k->sched.kv_tile[d];
    }
    if (op->range_mode == RANGE_INVERSE)
        return eval_inverse(op->range_ndims, op->range_lo, op->range_hi, &mi, env, q, lo, hi);
    int nd = op->range_mode == RANGE_BOUNDS ? op->range_ndims : 0;
    return eval_range_side(op->kind == TIR_Q_RANGE, nd, op->range_lo, op->range_hi, &mi, env, q, lo, hi);
}

bool q_range_eval_op(const tir_op *op, const tir_kernel *k, const eval_env *env, const tok_box *kbox,
                     int64_t lo[SCHED_MAX_DIMS], int64_t hi[SCHED_MAX_DIMS])
{
    return kv_range_eval_op(op, k, env, kbox, lo, hi);
}

/* ---- unions: the parts of a range as the kernels visit them ---- */

#define PART_EMPTY ((int64_t)1 << 40) /* dim-0 start of an empty part: sorts last */

void kv_parts_normalize(kv_boxes *b, int ndims)
{
    int n = b->n;
    for (int p = 0; p < n; p++) { /* empty in any dim: [EMPTY, EMPTY - 1] in dim 0 */
        bool empty = false;
        for (int d = 0; d < ndims; d++)
            empty |= b->lo[p][d] > b->hi[p][d];
        if (empty) {
            b->lo[p][0] = PART_EMPTY;
            b->hi[p][0] = PART_EMPTY - 1;
        }
    }
    for (int i = 0; i + 1 < n; i++) /* a bubble network: sorted by dim-0 start */
        for (int j = 0; j + 1 < n - i; j++)
            if (b->lo[j + 1][0] < b->lo[j][0])
                for (int d = 0; d < ndims; d++) {
                    int64_t l = b->lo[j][d], h = b->hi[j][d];
                    b->lo[j][d] = b->lo[j + 1][d], b->hi[j][d] = b->hi[j + 1][d];
                    b->lo[j + 1][d] = l, b->hi[j + 1][d] = h;
                }
    for (int p = 1; p < n; p++) { /* overlapping in dim 0: merged forward into p */
        if (b->lo[p][0] > b->hi[p - 1][0])
            continue;
        for (int d = 0; d < ndims; d++) {
            b->lo[p][d] = b->lo[p - 1][d] < b->lo[p][d] ? b->lo[p - 1][d] : b->lo[p][d];
            b->hi[p][d] = b->hi[p - 1][d] > b->hi[p][d] ? b->hi[p - 1][d] : b->hi[p][d];
        }
        b->lo[p - 1][0] = PART_EMPTY;
        b->hi[p - 1][0] = PART_EMPTY - 1;
    }
    int m = 0;
    for (int p = 0; p < n; p++) { /* compact: only the nonempty parts, in order */
        if (b->lo[p][0] > b->hi[p][0])
            continue;
        for (int d = 0; d < SCHED_MAX_DIMS; d++) {
            b->lo[m][d] = b->lo[p][d];
            b->hi[m][d] = b->hi[p][d];
        }
        m++;
    }
    b->n = m;
}

static int64_t doc_id(const mask_info *mi, const eval_env *env, int64_t t)
{
    int64_t idx[2] = {env->batch, t};
    return mi->span_ndim == 2 ? env->param(env->param_user, mi->span_param, idx, 2)
                              : env->param(env->param_user, mi->span_param, &idx[1], 1);
}

/* The GPU kernels' document cut of dim 0 (codegen/nvptx_fa2_span.c): when
 * every token of the tile [t_lo, t_hi] has the id of its first or last
 * token, the other side's tiles (T tokens, ext in all) from the first to
 * the last token of the range lo..hi with one of those ids. */
static void span_cut_side(const mask_info *mi, const eval_env *env, int64_t t_lo, int64_t t_hi, int64_t T,
                          int64_t ext, int64_t lo[], int64_t hi[])
{
    int64_t v1 = doc_id(mi, env, t_lo), v2 = doc_id(mi, env, t_hi);
    for (int64_t t = t_lo; t <= t_hi; t++) {
        int64_t v = doc_id(mi, env, t);
        if (v != v1 && v != v2)
            return;
    }
    int64_t kmin = -1, kmax = -1, end = (hi[0] + 1) * T;
    end = end < ext ? end : ext;
    for (int64_t k = lo[0] * T; k < end; k++) {
        int64_t v = doc_id(mi, env, k);
        if (v == v1 || v == v2) {
            kmin = kmin < 0 ? k : kmin;
            kmax = k;
        }
    }
    if (kmax < 0) {
        hi[0] = lo[0] - 1;
        return;
    }
    lo[0] = kmin / T > lo[0] ? kmin / T : lo[0];
    hi[0] = kmax / T < hi[0] ? kmax / T : hi[0];
}

/* The forward's: a query box against its key tiles. */
static void span_cut(const mask_info *mi, const eval_env *env, const tok_box *q, int64_t lo[], int64_t hi[])
{
    span_cut_side(mi, env, q->lo[0], q->hi[0], mi->kv_tile[0], env->sizes[SZ_KV_TOKENS], lo, hi);
}

void q_span_cut(const mask_info *mi, const eval_env *env, const tok_box *k, int64_t lo[SCHED_MAX_DIMS],
                int64_t hi[SCHED_MAX_DIMS])
{
    if (mi->span_param < 0 || mi->mode != RANGE_BOUNDS || mi->ndims != 1 || mi->grid_ndim || !env->param)
        return;
    span_cut_side(mi, env, k->lo[0], k->hi[0], mi->q_tile[0], env->sizes[SZ_TOKENS], lo, hi);
}

/* The hull (lo/hi) and, when nparts > 0, the parts intersected with it,
 * over query box q (qside: over key box q, in query tiles). */
static int boxes_eval_side(bool qside, int ndims, expr *const *los, expr *const *his, int nparts,
                           expr *const (*plo)[SCHED_MAX_DIMS], expr *const (*phi)[SCHED_MAX_DIMS],
                           const mask_info *mi, const eval_env *env, const tok_box *q, kv_boxes *out)
{
    int pdims = ndims ? ndims : mi->ndims; /* a hull of every tile (ndims 0) keeps its parts' bounds */
    int64_t lo[SCHED_MAX_DIMS], hi[SCHED_MAX_DIMS];
    memset(out, 0, sizeof *out);
    if (!eval_range_side(qside, ndims, los, his, mi, env, q, lo, hi))
        return 0;
    if (!qside && mi->span_param >= 0 && ndims == 1 && env->param)
        span_cut(mi, env, q, lo, hi);
    out->n = nparts > 0 ? nparts : 1;
    for (int p = 0; p < out->n; p++) {
        int64_t pl[SCHED_MAX_DIMS], ph[SCHED_MAX_DIMS];
        if (nparts > 0)
            eval_range_side(qside, pdims, plo[p], phi[p], mi, env, q, pl, ph);
        for (int d = 0; d < SCHED_MAX_DIMS; d++) {
            out->lo[p][d] = nparts > 0 && pl[d] > lo[d] ? pl[d] : lo[d];
            out->hi[p][d] = nparts > 0 && ph[d] < hi[d] ? ph[d] : hi[d];
        }
    }
    kv_parts_normalize(out, mi->ndims);
    return out->n;
}

static int boxes_eval(int ndims, expr *const *los, expr *const *his, int nparts, expr *const (*plo)[SCHED_MAX_DIMS],
                      expr *const (*phi)[SCHED_MAX_DIMS], const mask_info *mi, const eval_env *env, const tok_box *q,
                      kv_boxes *out)
{
    return boxes_eval_side(false, ndims, los, his, nparts, plo, phi, mi, env, q, out);
}

int q_boxes_eval(const mask_info *mi, const eval_env *env, const tok_box *k, kv_boxes *out)
{
    bool inv = mi->qmode == RANGE_INVERSE; /* the parts inside every query tile */
    if ((mi->qmode != RANGE_BOUNDS && !inv) || mi->qnparts < 2) {
        int64_t lo[SCHED_MAX_DIMS], hi[SCHED_MAX_DIMS];
        memset(out, 0, sizeof *out);
        if (!q_range_eval(mi, env, k, lo, hi))
            return 0;
        out->n = 1;
        memcpy(out->lo[0], lo, sizeof lo);
        memcpy(out->hi[0], hi, sizeof hi);
        return 1;
    }
    return boxes_eval_side(true, inv ? 0 : mi->ndims, mi->qrange_lo, mi->qrange_hi, mi->qnparts, mi->qpart_lo,
                           mi->qpart_hi, mi, env, k, out);
}

int kv_boxes_eval(const mask_info *mi, const eval_env *env, const tok_box *q, kv_boxes *out)
{
    /* a block table with a document span (document(ids) alone): the GPU
     * visits its bounds, the whole key range, cut to the documents */
    bool table_span = mi->mode == RANGE_BLOCK_TABLE && mi->span_param >= 0;
    int nd = mi->mode == RANGE_BOUNDS || table_span ? mi->ndims : 0;
    int np = mi->mode == RANGE_BOUNDS ? mi->nparts : 0;
    return boxes_eval(nd, mi->range_lo, mi->range_hi, np, mi->part_lo, mi->part_hi, mi, env, q, out);
}

int kv_boxes_eval_op(const tir_op *op, const tir_kernel *k, const eval_env *env, const tok_box *q, kv_boxes *out)
{
    mask_info mi = {0};
    mi.span_param = -1; /* the op's span needs the param's layout: its range without the cut */
    mi.grid_ndim = k->grid_ndim;
    mi.ndims = k->sched.ndims;
    for (int d = 0; d < SCHED_MAX_DIMS; d++)
        mi.dil[d] = tir_kernel_dil(k, d);
    for (int d = 0; d < mi.ndims; d++) {
        mi.q_tile[d] = k->sched.q_tile[d];
        mi.kv_tile[d] = k->sched.kv_tile[d];
    }
    int nd = op->range_mode == RANGE_BOUNDS ? op->range_ndims : 0;
    int np = op->range_mode == RANGE_BOUNDS ? op->range_nparts : 0;
    return boxes_eval(nd, op->range_lo, op->range_hi, np, op->part_lo, op->part_hi, &mi, env, q, out);
}

bool kv_boxes_hold(const kv_boxes *b, int ndims, const int64_t idx[])
{
    for (int p = 0; p < b->n; p++) {
        bool in = true;
        for (int d = 0; d < ndims; d++)
            in &= b->lo[p][d] <= idx[d] && idx[d] <= b->hi[p][d];
        if (in)
            return true;
    }
    return false;
}

/* Classification for env's head and batch, or joined over every head
 * (batch) when the mask reads it and env's is < 0: the block table is one
 * per shape, shared by every (batch, head) program. */
static mask_class classify_joined(const mask_info *mi, const eval_env *env, const tok_box *q, const tok_box *k)
{
    bool all_heads = mi->uses_head && env->head < 0, all_batches = mi->uses_batch && env->batch < 0;
    if (!all_heads && !all_batches)
        return mask_classify_boxes(mi, env, q, k);
    eval_env e = *env;
    int64_t heads = env->sizes[SZ_HEADS], kvh = env->sizes[SZ_KV_HEADS] > 0 ? env->sizes[SZ_KV_HEADS] : heads;
    int64_t group = kvh > 0 && heads >= kvh ? heads / kvh : 1;
    int64_t nb = all_batches ? env->sizes[SZ_BATCH] : 1, nh = all_heads ? heads : 1;
    bool all_empty = true, all_full = true;
    for (int64_t b = 0; b < nb; b++) {
        for (int64_t h = 0; h < nh; h++) {
            if (all_batches)
                e.batch = b;
            if (all_heads) {
                e.head = h;
                e.kv_head = h / group;
            }
            mask_class c = mask_classify_boxes(mi, &e, q, k);
            all_empty &= c == MASK_EMPTY;
            all_full &= c == MASK_FULL;
            if (!all_empty && !all_full)
                return MASK_PARTIAL;
        }
    }
    return all_empty ? MASK_EMPTY : all_full ? MASK_FULL : MASK_PARTIAL;
}

bool mask_block_table_build(const mask_info *mi, const eval_env *env, uint8_t *table, size_t cap)
{
    int64_t nq[SCHED_MAX_DIMS], nk[SCHED_MAX_DIMS];
    int64_t tq = mask_tile_count(mi, env, true, nq), tk = mask_tile_count(mi, env, false, nk);
    if (tq < 0 || tk < 0 || (uint64_t)tq * (uint64_t)tk > cap)
        return false;
    eval_env e = *env;
    if (mi->uses_head)
        e.head = -1;
    if (mi->uses_batch)
        e.batch = -1;
    for (int64_t i = 0; i < tq; i++) {
        tok_box qb, kb;
        mask_tile_box(mi, env, true, i, &qb);
        for (int64_t j = 0; j < tk; j++) {
            mask_tile_box(mi, env, false, j, &kb);
            mask_class c = classify_joined(mi, &e, &qb, &kb);
            table[i * tk + j] = c == MASK_EMPTY ? 0 : c == MASK_FULL ? 2 : 1;
        }
    }
    return true;
}

/* Whether key box kb is in query box q's range (under dilation-group
 * tiling: of q's group, at a group-local tile in the boxes). */
static bool in_range(const mask_info *mi, const kv_boxes *b, const tok_box *q, const tok_box *kb)
{
    int64_t idx[SCHED_MAX_DIMS] = {0};
    for (int d = 0; d < mi->ndims; d++) {
        int64_t dl = mi->dil[d] > 1 ? mi->dil[d] : 1;
        if (kb->lo[d] % dl != q->lo[d] % dl)
            return false;
        idx[d] = kb->lo[d] / dl / mi->kv_tile[d];
    }
    return kv_boxes_hold(b, mi->ndims, idx);
}

/* Flat token index of grid coordinates (t = ((z*Y)+y)*X+x). */
static int64_t flat(const mask_info *mi, const eval_env *env, const int64_t *c)
{
    if (mi->grid_ndim == 0)
        return c[0];
    int64_t t = 0;
    for (int d = 0; d < mi->grid_ndim; d++)
        t = t * env->sizes[SZ_GRID0 + d] + c[d];
    return t;
}

/* Counts kept pairs in a box pair; -1 when the mask cannot be evaluated. */
static int64_t count_kept(const mask_info *mi, const eval_env *env, const tok_box *q, const tok_box *k, int64_t *dropped)
{
    int64_t qc[3] = {0}, kc[3] = {0}, kept = 0;
    eval_env e = *env;
    e.grid_ndim = mi->grid_ndim;
    *dropped = 0;
    int64_t qs[3], ks[3];
    for (int d = 0; d < 3; d++) {
        qs[d] = q->step[d] > 1 ? q->step[d] : 1;
        ks[d] = k->step[d] > 1 ? k->step[d] : 1;
    }
    for (qc[0] = q->lo[0]; qc[0] <= q->hi[0]; qc[0] += qs[0])
    for (qc[1] = q->lo[1]; qc[1] <= q->hi[1]; qc[1] += qs[1])
    for (qc[2] = q->lo[2]; qc[2] <= q->hi[2]; qc[2] += qs[2])
    for (kc[0] = k->lo[0]; kc[0] <= k->hi[0]; kc[0] += ks[0])
    for (kc[1] = k->lo[1]; kc[1] <= k->hi[1]; kc[1] += ks[1])
    for (kc[2] = k->lo[2]; kc[2] <= k->hi[2]; kc[2] += ks[2]) {
        eval_env_set_point(&e, flat(mi, env, qc), flat(mi, env, kc));
        int64_t v = 1;
        if (mi->mask && !expr_eval_int(mi->mask, &e, &v))
            return -1;
        kept += v != 0;
        *dropped += v == 0;
    }
    return kept;
}

static int64_t box_size(const mask_info *mi, const tok_box *b)
{
    int64_t n = 1;
    for (int d = 0; d < mi->ndims; d++)
        n *= tok_box_len(b, d);
    return n;
}

static void report_pair(const mask_info *mi, const eval_env *env, bool visited, mask_class c, const tok_box *qb,
                        const tok_box *kb, bool check_all, mask_work *out)
{
    if (visited) {
        out->visited_tiles++;
        out->visited_pairs += box_size(mi, qb) * box_size(mi, kb);
        out->full_tiles += c == MASK_FULL;
    }
    if (!visited && !check_all)
        return;
    int64_t dropped, kept = count_kept(mi, env, qb, kb, &dropped);
    if (kept < 0 || out->kept_pairs < 0) {
        out->kept_pairs = -1;
        return;
    }
    out->kept_pairs += kept;
    if (!visited)
        out->missed_pairs += kept;
    if (visited && c == MASK_FULL)
        out->bad_full += dropped;
}

bool mask_work_report(const mask_info *mi, const eval_env *env, bool check_all, mask_work *out)
{
    int64_t nq[SCHED_MAX_DIMS], nk[SCHED_MAX_DIMS], qext[3], kext[3];
    int64_t tq = mask_tile_count(mi, env, true, nq), tk = mask_tile_count(mi, env, false, nk);
    mask_extents(mi, env, true, qext);
    mask_extents(mi, env, false, kext);
    *out = (mask_work){0};
    out->dense_pairs = qext[0] * qext[1] * qext[2] * kext[0] * kext[1] * kext[2];
    out->total_tiles = tq * tk;
    for (int64_t i = 0; i < tq; i++) {
        tok_box qb, kb;
        kv_boxes boxes;
        mask_tile_box(mi, env, true, i, &qb);
        if (box_size(mi, &qb) == 0)
            continue; /* a shorter dilation group's last tile */
        kv_boxes_eval(mi, env, &qb, &boxes);
        for (int64_t j = 0; j < tk; j++) {
            mask_tile_box(mi, env, false, j, &kb);
            mask_class c = mask_classify_boxes(mi, env, &qb, &kb);
            bool visited = in_range(mi, &boxes, &qb, &kb) && c != MASK_EMPTY;
            report_pair(mi, env, visited, c, &qb, &kb, check_all, out);
        }
    }
    return true;
}
