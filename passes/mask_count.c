/* mask_count.c — exact counts from the key set (mask_count.h). */
#include <stdlib.h>
#include <string.h>

#include "mask_count.h"
#include "mask_keys.h"

enum { MAX_IE = (1 << KEYS_MAX_TERMS) - 1, MAX_INDEX = 8 };

/* A value filter's keys sorted by (value, position). */
typedef struct filter_index {
    const expr *fk;
    int var;
    int64_t n;
    int64_t (*vp)[2];
} filter_index;

typedef struct counter {
    const mask_info *mi;
    eval_env env;
    int nie;
    key_term ie[MAX_IE]; /* the union's terms and their intersections, */
    int sign[MAX_IE];    /* counted with these signs (inclusion–exclusion) */
    int index_of[MAX_IE][NKEY];
    int nindex;
    filter_index index[MAX_INDEX];
    int64_t kext[SCHED_MAX_DIMS];
} counter;

/* The evaluated term of one query row. */
typedef struct row_term {
    bool live;
    int64_t lo[SCHED_MAX_DIMS], hi[SCHED_MAX_DIMS], res[SCHED_MAX_DIMS], val[SCHED_MAX_DIMS];
    bool run[SCHED_MAX_DIMS]; /* the filtered keys fill [lo, hi]: no search */
} row_term;

static int var_of_dim(const mask_info *mi, int d)
{
    return mi->grid_ndim == 0 ? KEY_T : d;
}

/* Terms the per-dim product can count: no flat-t constraint on a grid and
 * not both a congruence and a filter on one variable. */
static bool countable(const mask_info *mi, const key_term *t)
{
    if (!t->exact)
        return false;
    for (int v = 0; v < NKEY; v++) {
        bool used = t->lo[v] || t->hi[v] || t->mod[v] || t->fk[v];
        bool is_dim = mi->grid_ndim == 0 ? v == KEY_T : v < mi->grid_ndim;
        if ((used && !is_dim) || (t->mod[v] && t->fk[v]))
            return false;
    }
    return true;
}

/* Inclusion–exclusion: every non-empty subset of the terms, intersected. */
static bool build_ie(arena *a, const mask_info *mi, counter *c)
{
    const key_set *ks = mi->keys;
    if (!ks || !ks->exact)
        return false;
    c->nie = 0;
    for (unsigned s = 1; s < (1u << ks->n); s++) {
        key_term t = {0};
        int bits = 0;
        for (int i = 0; i < ks->n; i++) {
            if (!(s & (1u << i)))
                continue;
            if (bits++ == 0)
                t = ks->t[i];
            else if (!mask_keys_and(a, &t, &ks->t[i], &t))
                return false;
        }
        if (!countable(mi, &t))
            return false;
        c->sign[c->nie] = bits % 2 ? 1 : -1;
        c->ie[c->nie++] = t;
    }
    return true;
}

bool mask_count_exact(const mask_info *mi)
{
    arena a;
    arena_init(&a, NULL);
    counter *c = calloc(1, sizeof *c);
    bool ok = c && build_ie(&a, mi, c);
    free(c);
    arena_free_all(&a);
    return ok;
}

static int cmp_vp(const void *x, const void *y)
{
    const int64_t *a = x, *b = y;
    return a[0] != b[0] ? (a[0] > b[0]) - (a[0] < b[0]) : (a[1] > b[1]) - (a[1] < b[1]);
}

/* Evaluates fk at every key position of its variable and sorts. */
static bool build_index(counter *c, filter_index *fi, int d)
{
    eval_env e = c->env;
    fi->n = c->kext[d];
    fi->vp = malloc(sizeof *fi->vp * (size_t)(fi->n > 0 ? fi->n : 1));
    if (!fi->vp)
        return false;
    memset(e.k, 0, sizeof e.k);
    for (int64_t p = 0; p < fi->n; p++) {
        e.k[c->mi->grid_ndim == 0 ? 0 : d] = p;
        e.kt = c->mi->grid_ndim == 0 ? p : 0;
        fi->vp[p][1] = p;
        if (!expr_eval_int(fi->fk, &e, &fi->vp[p][0]))
            return false;
    }
    qsort(fi->vp, (size_t)fi->n, sizeof *fi->vp, cmp_vp);
    return true;
}

static bool attach_indexes(counter *c)
{
    for (int i = 0; i < c->nie; i++)
        for (int d = 0; d < c->mi->ndims; d++) {
            int v = var_of_dim(c->mi, d);
            c->index_of[i][d] = -1;
            const expr *fk = c->ie[i].fk[v];
            if (!fk)
                continue;
            int j = 0;
            while (j < c->nindex && !(c->index[j].var == d && expr_equal(c->index[j].fk, fk)))
                j++;
            if (j == c->nindex) {
                if (j == MAX_INDEX)
                    return false;
                c->index[j] = (filter_index){fk, d, 0, NULL};
                c->nindex++;
                if (!build_index(c, &c->index[j], d))
                    return false;
            }
            c->index_of[i][d] = j;
        }
    return true;
}

/* First entry >= (v, p). */
static int64_t lower(const filter_index *fi, int64_t v, int64_t p)
{
    int64_t lo = 0, hi = fi->n;
    while (lo < hi) {
        int64_t m = lo + (hi - lo) / 2;
        if (fi->vp[m][0] < v || (fi->vp[m][0] == v && fi->vp[m][1] < p))
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

static bool eval_opt(const expr *e, const eval_env *env, int64_t dflt, int64_t *out)
{
    *out = dflt;
    return !e || expr_eval_int(e, env, out);
}

/* Shrinks [lo, hi] to the first and last key with the filter's value;
 * when every key between them has it (a document), the filter is a plain
 * interval. */
static void narrow_to_filter(const filter_index *fi, row_term *r, int d)
{
    int64_t a = lower(fi, r->val[d], r->lo[d]), b = lower(fi, r->val[d], r->hi[d] + 1);
    r->run[d] = false;
    if (a == b) {
        r->live = false;
        return;
    }
    r->lo[d] = fi->vp[a][1];
    r->hi[d] = fi->vp[b - 1][1];
    r->run[d] = b - a == r->hi[d] - r->lo[d] + 1;
}

/* The terms of the query at flat index qt (env's point set to it). */
static bool eval_row(counter *c, row_term *rt)
{
    const mask_info *mi = c->mi;
    for (int i = 0; i < c->nie; i++) {
        const key_term *t = &c->ie[i];
        row_term *r = &rt[i];
        int64_t cond = 1;
        if (!eval_opt(t->qcond, &c->env, 1, &cond))
            return false;
        r->live = cond != 0;
        for (int d = 0; d < mi->ndims && r->live; d++) {
            int v = var_of_dim(mi, d);
            if (!eval_opt(t->lo[v], &c->env, 0, &r->lo[d]) || !eval_opt(t->hi[v], &c->env, c->kext[d] - 1, &r->hi[d]))
                return false;
            if (r->lo[d] < 0)
                r->lo[d] = 0;
            if (r->hi[d] > c->kext[d] - 1)
                r->hi[d] = c->kext[d] - 1;
            if ((t->mod[v] && !expr_eval_int(t->res[v], &c->env, &r->res[d])) ||
                (t->fk[v] && !expr_eval_int(t->fq[v], &c->env, &r->val[d])))
                return false;
            r->live = r->lo[d] <= r->hi[d] && (!t->mod[v] || (r->res[d] >= 0 && r->res[d] < t->mod[v]));
            if (r->live && t->fk[v])
                narrow_to_filter(&c->index[c->index_of[i][d]], r, d);
        }
    }
    return true;
}

/* Under dilation-group tiling a key box holds one residue mod δ: every
 * term must carry that congruence (k mod δ == q mod δ) for row_count to
 * count a box as the keys of the row's congruence inside its hull. */
static bool strided_countable(const counter *c)
{
    for (int i = 0; i < c->nie; i++)
        for (int d = 0; d < c->mi->ndims; d++)
            if (c->mi->dil[d] > 1 && c->ie[i].mod[var_of_dim(c->mi, d)] != c->mi->dil[d])
                return false;
    return true;
}

/* Keys in [a, b] with k mod m == r (0 <= r < m). */
static int64_t congruent(int64_t a, int64_t b, int64_t m, int64_t r)
{
    return expr_floordiv(b - r, m) - expr_floordiv(a - 1 - r, m);
}

/* Kept keys of the row inside key box kb (NULL: every key). */
static int64_t row_count(const counter *c, const row_term *rt, const tok_box *kb)
{
    const mask_info *mi = c->mi;
    int64_t total = 0;
    for (int i = 0; i < c->nie; i++) {
        const row_term *r = &rt[i];
        if (!r->live)
            continue;
        int64_t n = 1;
        for (int d = 0; d < mi->ndims && n; d++) {
            int64_t a = r->lo[d], b = r->hi[d];
            if (kb) {
                a = a > kb->lo[d] ? a : kb->lo[d];
                b = b < kb->hi[d] ? b : kb->hi[d];
            }
            if (a > b) {
                n = 0;
                break;
            }
            int v = var_of_dim(mi, d);
            int64_t m = c->ie[i].mod[v];
            int64_t st = kb && kb->step[d] > 1 ? kb->step[d] : 1;
            if (st > 1 && expr_floormod(kb->lo[d], st) != expr_floormod(r->res[d], st))
                n = 0; /* the key box's group is not the row's */
            else if (m)
                n *= congruent(a, b, m, r->res[d]);
            else if (c->index_of[i][d] >= 0 && !r->run[d]) {
                const filter_index *fi = &c->index[c->index_of[i][d]];
                n *= lower(fi, r->val[d], b + 1) - lower(fi, r->val[d], a);
            } else
                n *= b - a + 1;
        }
        total += c->sign[i] * n;
    }
    return total;
}

/* The key tiles of a query tile's range the kernel computes (in range, not
 * proven empty). */
typedef struct tile_list {
    int64_t n, cap;
    tok_box *box;
    int64_t *cnt;
} tile_list;

static int64_t box_area(const mask_info *mi, const tok_box *b)
{
    int64_t n = 1;
    for (int d = 0; d < mi->ndims; d++)
        n *= tok_box_len(b, d);
    return n;
}

static bool push_tile(tile_list *tl, const tok_box *kb)
{
    if (tl->n == tl->cap) {
        int64_t cap = tl->cap ? 2 * tl->cap : 256;
        tok_box *b = realloc(tl->box, sizeof *b * (size_t)cap);
        if (b)
            tl->box = b;
        int64_t *n = realloc(tl->cnt, sizeof *n * (size_t)cap);
        if (n)
            tl->cnt = n;
        if (!b || !n)
            return false;
        tl->cap = cap;
    }
    tl->cnt[tl->n] = 0;
    tl->box[tl->n++] = *kb;
    return true;
}

static bool range_tile_list(counter *c, const tok_box *qb, tile_list *tl, mask_tally *out)
{
    const mask_info *mi = c->mi;
    kv_boxes boxes;
    tl->n = 0;
    kv_boxes_eval(mi, &c->env, qb, &boxes);
    for (int p = 0; p < boxes.n; p++) {
        int64_t idx[SCHED_MAX_DIMS] = {0};
        memcpy(idx, boxes.lo[p], sizeof idx);
        for (;;) {
            tok_box kb;
            mask_kv_box(mi, &c->env, qb, idx, &kb);
            out->visited_tiles++;
            if (mask_classify_boxes(mi, &c->env, qb, &kb) != MASK_EMPTY) {
                if (!push_tile(tl, &kb))
                    return false;
                out->computed_pairs += box_area(mi, qb) * box_area(mi, &kb);
            }
            int d = mi->ndims - 1;
            while (d >= 0 && ++idx[d] > boxes.hi[p][d])
                idx[d] = boxes.lo[p][d], d--;
            if (d < 0)
                break;
        }
    }
    return true;
}

static int64_t flat_index(const counter *c, const int64_t *x)
{
    if (c->mi->grid_ndim == 0)
        return x[0];
    int64_t t = 0;
    for (int d = 0; d < c->mi->grid_ndim; d++)
        t = t * c->env.sizes[SZ_GRID0 + d] + x[d];
    return t;
}

/* Counts every row of query box qb into the tally and the tile counts. */
static bool count_qtile(counter *c, const tok_box *qb, tile_list *tl, row_term *rt, mask_tally *out)
{
    const mask_info *mi = c->mi;
    int64_t x[SCHED_MAX_DIMS] = {0};
    memcpy(x, qb->lo, sizeof x);
    for (;;) {
        eval_env_set_point(&c->env, flat_index(c, x), 0);
        if (!eval_row(c, rt))
            return false;
        out->kept_pairs += row_count(c, rt, NULL);
        for (int64_t j = 0; j < tl->n; j++)
            tl->cnt[j] += row_count(c, rt, &tl->box[j]);
        int d = mi->ndims - 1;
        while (d >= 0 && (x[d] += qb->step[d] > 1 ? qb->step[d] : 1) > qb->hi[d])
            x[d] = qb->lo[d], d--;
        if (d < 0)
            break;
    }
    int64_t inside = 0;
    for (int64_t j = 0; j < tl->n; j++) {
        out->kept_tiles += tl->cnt[j] > 0;
        inside += tl->cnt[j];
    }
    out->missed_pairs -= inside; /* + all kept pairs at the end */
    return true;
}

bool mask_count_slice(const mask_info *mi, const eval_env *env, mask_tally *out)
{
    *out = (mask_tally){0};
    arena a;
    arena_init(&a, NULL);
    counter *c = calloc(1, sizeof *c);
    row_term *rt = calloc(MAX_IE, sizeof *rt);
    tile_list tl = {0};
    bool ok = c && rt;
    if (ok) {
        c->mi = mi;
        c->env = *env;
        c->env.grid_ndim = mi->grid_ndim;
        mask_extents(mi, env, false, c->kext);
        ok = build_ie(&a, mi, c) && attach_indexes(c) && strided_countable(c);
    }
    int64_t nq[SCHED_MAX_DIMS], tq = ok ? mask_tile_count(mi, env, true, nq) : 0;
    for (int64_t i = 0; ok && i < tq; i++) {
        tok_box qb;
        mask_tile_box(mi, env, true, i, &qb);
        if (box_area(mi, &qb) == 0)
            continue; /* a shorter dilation group's last tile */
        ok = range_tile_list(c, &qb, &tl, out) && count_qtile(c, &qb, &tl, rt, out);
        out->computed_tiles += tl.n;
    }
    out->missed_pairs += out->kept_pairs;
    for (int j = 0; c && j < c->nindex; j++)
        free(c->index[j].vp);
    free(tl.box);
    free(tl.cnt);
    free(rt);
    free(c);
    arena_free_all(&a);
    return ok;
}
