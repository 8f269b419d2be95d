/* cp_loopback.c — attnc_cp_launch's per-rank code over loopback transports
 * (cp_loopback.h): the ring's and Ulysses' all-to-all. */
#include "cp_loopback.h"

#include <string.h>

#include "runtime/cuda/cuda_module.h"
#include "runtime/program/program_cp.h"

enum { LOOP_MAXR = 8 };

typedef struct loop {
    attnc_cp_plan *p;
    void *k[LOOP_MAXR], *v[LOOP_MAXR]; /* each rank's K/V shard, dense */
} loop;

/* The block rank `rank` receives at step s is shard rank-1-s, copied on the transfer stream. */
static attnc_status loop_pass(void *user, attnc_cp_plan *p, int rank, int step, void *const cur[2],
                              void *const nxt[2], const size_t bytes[2], void *cs, strbuf *err)
{
    (void)cur;
    loop *L = user;
    int R = p->o.ranks, owner = ((rank - 1 - step) % R + R) % R;
    pmem m = {p->ctx, p->mem.gpu, cs};
    attnc_status st = pm_copy2d(&m, nxt[0], bytes[0], L->k[owner], bytes[0], bytes[0], 1, err);
    return st ? st : pm_copy2d(&m, nxt[1], bytes[1], L->v[owner], bytes[1], bytes[1], 1, err);
}

typedef struct shard {
    attnc_tensor t[5];
} shard;

/* Rank r's shard of tensor i: its segments' tokens, dense; back = o/lse into the whole. */
static attnc_status move(attnc_cp_plan *p, const attnc_tensor *w, attnc_tensor *d, int r, int ns, int64_t seg,
                         bool back, strbuf *err)
{
    int segs[2] = {r, 2 * p->o.ranks - 1 - r};
    attnc_status st = ATTNC_OK;
    for (int s = 0; s < ns && !st; s++)
        st = cp_copy_tokens(p, w, !back, d->data, 0, w->shape[1], seg * ns, s * seg, segs[s] * seg, seg, err);
    return st;
}

static attnc_status alloc_shards(attnc_cp_plan *p, const attnc_args *a, shard *sh, int ns, int64_t seg, strbuf *err)
{
    attnc_status st = ATTNC_OK;
    for (int r = 0; r < p->o.ranks && !st; r++)
        for (int i = 0; i < 5 && !st; i++) {
            if (!a->tensor_set[i])
                continue;
            const attnc_tensor *w = &a->tensors[i];
            int64_t shape[4] = {w->shape[0], w->shape[1], seg * ns, w->ndim == 4 ? w->shape[3] : 1};
            size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]) * prog_esize(w->dtype);
            void *mem = pm_alloc(&p->mem, n, err);
            sh[r].t[i] = prog_dense(w->dtype, mem, w->ndim, shape);
            st = !mem ? ATTNC_ERR_NOMEM : i < 3 ? move(p, w, &sh[r].t[i], r, ns, seg, false, err) : ATTNC_OK;
        }
    return st;
}

/* A rank's args: the whole launch's, with its shard's tensors and rows. */
static void shard_args(const attnc_args *a, attnc_args *la, const shard *sh, int64_t rows)
{
    memcpy(la->tensors, a->tensors, sizeof *a->tensors * (size_t)a->ntensors); /* params: the whole problem's */
    memcpy(la->tensor_set, a->tensor_set, sizeof *a->tensor_set * (size_t)a->ntensors);
    memcpy(la->sizes, a->sizes, sizeof la->sizes);
    memcpy(la->size_set, a->size_set, sizeof la->size_set);
    for (int i = 0; i < 5; i++)
        if (a->tensor_set[i])
            la->tensors[i] = sh->t[i];
    if (rows > 0)
        la->sizes[SZ_GRID0] = rows; /* the shard's outer rows */
}

static attnc_status run_rank(attnc_cp_plan *p, const attnc_args *a, const shard *sh, int64_t rows, int r, loop *L)
{
    attnc_args *la = NULL;
    attnc_status st = attnc_cp_args_create(&la, p);
    if (st)
        return st;
    shard_args(a, la, sh, rows);
    cp_transport tr = {loop_pass, L};
    st = cp_ring_rank(p, la, r, &tr, NULL);
    attnc_args_destroy(la);
    return st;
}

/* Ulysses: rank r's slot j comes from rank j's send slot r. */
static attnc_status loop_a2a(void *user, attnc_cp_plan *p, int rank, void *const *sends, int n, void *recv,
                             size_t slot, strbuf *err)
{
    (void)user;
    attnc_status st = ATTNC_OK;
    for (int j = 0; j < n && !st; j++)
        st = pm_copy2d(&p->mem, (char *)recv + slot * (size_t)j, slot, (char *)sends[j] + slot * (size_t)rank, slot,
                       slot, 1, err);
    return st;
}

static attnc_status run_ulysses(attnc_cp_plan *p, const attnc_args *a, const shard *sh, int64_t rows)
{
    const attnc_args *las[LOOP_MAXR] = {0};
    int ranks[LOOP_MAXR];
    attnc_status st = ATTNC_OK;
    for (int r = 0; r < p->o.ranks && !st; r++) {
        attnc_args *la = NULL;
        if ((st = attnc_cp_args_create(&la, p)))
            break;
        shard_args(a, la, &sh[r], rows);
        las[r] = la, ranks[r] = r;
    }
    cp_a2a tr = {loop_a2a, NULL};
    if (!st)
        st = cp_ulysses_ranks(p, las, ranks, p->o.ranks, &tr, NULL);
    for (int r = 0; r < p->o.ranks; r++)
        attnc_args_destroy((attnc_args *)las[r]);
    return st;
}

attnc_status cp_loopback_launch(attnc_cp_plan *p, attnc_args *a)
{
    int R = p->o.ranks, ns = p->o.kind == ATTNC_CP_ZIGZAG ? 2 : 1;
    if (R > LOOP_MAXR)
        return ATTNC_ERR_INVALID_ARGUMENT;
    const recipe *r = p->orig;
    int64_t inner = 1;
    for (int d = 1; d < r->grid_ndim; d++)
        inner *= a->sizes[SZ_GRID0 + d];
    int64_t seg = a->tensors[0].shape[2] / (R * ns), rows = r->grid_ndim > 0 ? seg / inner * ns : 0;
    strbuf err;
    sb_init(&err);
    shard sh[LOOP_MAXR];
    memset(sh, 0, sizeof sh);
    loop L = {p, {0}, {0}};
    attnc_status st = alloc_shards(p, a, sh, ns, seg, &err);
    for (int k = 0; k < R; k++)
        L.k[k] = sh[k].t[1].data, L.v[k] = sh[k].t[2].data;
    if (!st && p->o.kind == ATTNC_CP_ULYSSES)
        st = run_ulysses(p, a, sh, rows);
    for (int k = 0; k < R && !st && p->o.kind != ATTNC_CP_ULYSSES; k++)
        st = run_rank(p, a, &sh[k], rows, k, &L);
    for (int k = 0; k < R && !st; k++)
        for (int i = 3; i < 5 && !st; i++)
            if (a->tensor_set[i])
                st = move(p, &a->tensors[i], &sh[k].t[i], k, ns, seg, true, &err);
    if (p->mem.gpu && !st)
        st = cuda_synchronize(&err);
    for (int k = 0; k < R; k++)
        for (int i = 0; i < 5; i++)
            if (sh[k].t[i].data)
                pm_free(&p->mem, sh[k].t[i].data);
    sb_free(&err);
    return st;
}
