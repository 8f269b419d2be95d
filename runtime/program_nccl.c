/* program_nccl.c — context parallelism over NCCL (attnc_cp_launch): NCCL
 * opened with dlopen("libnccl.so.2") once per process, never linked;
 * NCCL_NVLS_ENABLE=0 put in the environment first when unset (NVLink
 * multicast stays off; attnc never creates multicast objects).
 *
 * The ring: every rank holds an equal shard (segment `rank` of R; a grid:
 * equal rows), so the whole problem is R times the shard and rank j's
 * block starts at j x shard. The K/V block travels around the ring in two
 * device buffers: at each step the rank sends the block it holds to rank+1
 * and receives the next from rank-1 (ncclSend/ncclRecv in one group), and
 * computes the partial of the block it holds unless mask analysis proves
 * the pair empty; the partials are merged into the rank's o and lse.
 * Communication runs on a stream of its own, overlapped with the partials
 * on the caller's stream; two events order them: step s computes only
 * after the block it holds has arrived (step s-1's transfer), and step
 * s+1's transfer overwrites that buffer only after step s computed. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "cuda_driver.h"
#include "cuda_module.h"
#include "program_cp.h"

typedef struct nccl_api {
    int (*send)(const void *, size_t, int, int, void *, void *);
    int (*recv)(void *, size_t, int, int, void *, void *);
    int (*group_start)(void);
    int (*group_end)(void);
    const char *(*error)(int);
} nccl_api;

enum { NCCL_UINT8 = 1 }; /* ncclUint8 */

static nccl_api api;
static bool loaded;
static once_flag once = ONCE_FLAG_INIT;

static void load(void)
{
    setenv("NCCL_NVLS_ENABLE", "0", 0); /* 0: keep a value the user set */
    void *h = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return;
    api.send = (int (*)(const void *, size_t, int, int, void *, void *))dlsym(h, "ncclSend");
    api.recv = (int (*)(void *, size_t, int, int, void *, void *))dlsym(h, "ncclRecv");
    api.group_start = (int (*)(void))dlsym(h, "ncclGroupStart");
    api.group_end = (int (*)(void))dlsym(h, "ncclGroupEnd");
    api.error = (const char *(*)(int))dlsym(h, "ncclGetErrorString");
    loaded = api.send && api.recv && api.group_start && api.group_end && api.error;
}

attnc_status nccl_open(attnc_cp_plan *p)
{
    call_once(&once, load);
    if (!loaded)
        return ctx_error(p->ctx, ATTNC_ERR_NO_DRIVER, "context parallelism over NCCL: libnccl.so.2 not found (or "
                         "too old: no ncclSend/ncclRecv)");
    if (!p->mem.gpu)
        return ctx_error(p->ctx, ATTNC_ERR_UNSUPPORTED, "context parallelism over NCCL needs the CUDA backend");
    p->nccl = &api;
    return ATTNC_OK;
}

void nccl_release(attnc_cp_plan *p)
{
    p->nccl = NULL;
}

static attnc_status nccl_check(attnc_cp_plan *p, int r, const char *call)
{
    if (r == 0)
        return ATTNC_OK;
    snprintf(p->errmsg, sizeof p->errmsg, "%s: %s", call, api.error ? api.error(r) : "NCCL error");
    return ATTNC_ERR_CUDA;
}

/* The communication stream and the two events that order it with compute. */
typedef struct ring_sync {
    const cuda_api *cu;
    CUstream main, comm;
    CUevent computed, arrived;
} ring_sync;

static attnc_status sync_open(ring_sync *y, void *stream, strbuf *err)
{
    memset(y, 0, sizeof *y);
    attnc_status st = cuda_api_get(&y->cu, err);
    y->main = y->comm = (CUstream)stream;
    if (!st && y->cu->cuStreamCreate)
        st = cuda_check(y->cu, y->cu->cuStreamCreate(&y->comm, CU_STREAM_NON_BLOCKING), "cuStreamCreate", err);
    if (!st)
        st = cuda_check(y->cu, y->cu->cuEventCreate(&y->computed, CU_EVENT_DISABLE_TIMING), "cuEventCreate", err);
    if (!st)
        st = cuda_check(y->cu, y->cu->cuEventCreate(&y->arrived, CU_EVENT_DISABLE_TIMING), "cuEventCreate", err);
    return st;
}

/* After the waits are enqueued: `from` records ev, `to` waits for it. */
static attnc_status order(ring_sync *y, CUstream from, CUevent ev, CUstream to, strbuf *err)
{
    if (from == to)
        return ATTNC_OK;
    attnc_status st = cuda_check(y->cu, y->cu->cuEventRecord(ev, from), "cuEventRecord", err);
    return st ? st : cuda_check(y->cu, y->cu->cuStreamWaitEvent(to, ev, 0), "cuStreamWaitEvent", err);
}

static void sync_close(ring_sync *y)
{
    if (!y->cu)
        return;
    if (y->comm != y->main && y->cu->cuStreamDestroy)
        y->cu->cuStreamDestroy(y->comm);
    if (y->computed)
        y->cu->cuEventDestroy(y->computed);
    if (y->arrived)
        y->cu->cuEventDestroy(y->arrived);
}

/* Sends cur (k then v, `bytes` each side) to rank+1, receives into nxt from rank-1. */
static attnc_status pass_block(attnc_cp_plan *p, void *const cur[2], void *const nxt[2], const size_t bytes[2],
                               CUstream cs)
{
    int R = p->o.ranks, r = p->o.rank;
    attnc_status st = nccl_check(p, api.group_start(), "ncclGroupStart");
    for (int i = 0; i < 2 && !st; i++) {
        st = nccl_check(p, api.send(cur[i], bytes[i], NCCL_UINT8, (r + 1) % R, p->o.nccl_comm, cs), "ncclSend");
        if (!st)
            st = nccl_check(p, api.recv(nxt[i], bytes[i], NCCL_UINT8, (r - 1 + R) % R, p->o.nccl_comm, cs),
                            "ncclRecv");
    }
    attnc_status end = nccl_check(p, api.group_end(), "ncclGroupEnd");
    return st ? st : end;
}

static attnc_status ring(attnc_cp_plan *p, cp_whole_t *w, void *ws, ring_sync *y, strbuf *err)
{
    int R = p->o.ranks, rank = p->o.rank;
    bool grid = p->orig->grid_ndim > 0;
    attnc_dtype dt = w->t[ARG_Q]->dtype;
    size_t es = prog_esize(dt);
    int64_t tl = w->T, kl = w->sizes[SZ_KV_TOKENS], rows = grid ? w->axis : 0; /* this rank's shard */
    size_t bytes[2] = {(size_t)(w->B * w->KH * kl * w->D) * es, (size_t)(w->B * w->KH * kl * w->Dv) * es};
    size_t part = (size_t)(w->B * w->H * tl * w->Dv) * es, lpart = (size_t)(w->B * w->H * tl) * 4;
    char *c = ws;
    void *buf[2][2] = {{c, c + bytes[0]}, {c + bytes[0] + bytes[1], c + 2 * bytes[0] + bytes[1]}};
    char *po = c + 2 * (bytes[0] + bytes[1]), *pl = po + part * (size_t)R;
    attnc_status st = cp_copy_tokens(p, w->t[ARG_K], true, buf[0][0], 0, w->KH, kl, 0, 0, kl, err);
    if (!st)
        st = cp_copy_tokens(p, w->t[ARG_V], true, buf[0][1], 0, w->KH, kl, 0, 0, kl, err);
    cp_whole_t whole = *w; /* the whole problem, for the emptiness test */
    whole.axis *= R, whole.kaxis *= R;
    whole.sizes[SZ_TOKENS] *= R, whole.sizes[SZ_KV_TOKENS] *= R;
    if (grid)
        whole.sizes[SZ_GRID0] *= R;
    cp_seg qs = cp_segment(&whole, grid, false, rank, R);
    int np = 0;
    if (!st) /* the local block is in buf[0] before the first send */
        st = order(y, y->main, y->computed, y->comm, err);
    for (int s = 0; s < R && !st; s++) {
        int owner = (rank - s + R) % R, cur = s % 2;
        if (s > 0) /* the block this step computes has arrived */
            st = order(y, y->comm, y->arrived, y->main, err);
        if (!st && s + 1 < R)
            st = pass_block(p, buf[cur], buf[1 - cur], bytes, y->comm);
        cp_seg ks = cp_segment(&whole, grid, true, owner, R);
        if (st || cp_pair_empty(p, &whole, &qs, &ks)) {
            p->skipped += !st;
            if (!st) /* nothing read buf[cur]: the next transfer may overwrite it */
                st = order(y, y->main, y->computed, y->comm, err);
            continue;
        }
        int64_t k4[4] = {w->B, w->KH, kl, w->D}, v4[4] = {w->B, w->KH, kl, w->Dv}, o4[4] = {w->B, w->H, tl, w->Dv};
        attnc_tensor k = prog_dense(dt, buf[cur][0], 4, k4), v = prog_dense(dt, buf[cur][1], 4, v4);
        attnc_tensor o = prog_dense(dt, po + part * (size_t)np, 4, o4), l = prog_dense(ATTNC_F32, pl + lpart * (size_t)np, 3, o4);
        const attnc_tensor *views[5] = {w->t[ARG_Q], &k, &v, &o, &l};
        pblock b = {qs.lo, ks.lo, 0, tl * R, kl * R, w->H, whole.axis, rows};
        st = prog_launch_part(p->fwd, w->a, views, &b, p->mem.stream);
        np++, p->computed++;
        if (!st) /* the next transfer overwrites buf[cur] only after this partial read it */
            st = order(y, y->main, y->computed, y->comm, err);
    }
    int64_t bhtd[4] = {w->B, w->H, tl, w->Dv};
    if (!st)
        st = pmerge_run(&p->merge, po, (const float *)pl, np, bhtd, w->t[ARG_O], w->t[ARG_LSE], p->mem.stream, err);
    return st;
}

static attnc_status fail(attnc_cp_plan *p, attnc_status st, const char *msg)
{
    snprintf(p->errmsg, sizeof p->errmsg, "%s", msg);
    return st;
}

attnc_status attnc_cp_launch(attnc_cp_plan *p, const attnc_args *a, void *stream)
{
    if (!p)
        return ATTNC_ERR_INVALID_ARGUMENT;
    p->errmsg[0] = 0;
    if (!p->nccl)
        return fail(p, ATTNC_ERR_NO_DRIVER, "attnc_cp_launch: the plan has no NCCL communicator (options.nccl_comm); "
                                            "use attnc_cp_launch_simulated");
    if (p->o.kind != ATTNC_CP_RING)
        return fail(p, ATTNC_ERR_UNSUPPORTED, "attnc_cp_launch: only the ring runs over NCCL so far");
    if (!a || a->k != p->fwd)
        return fail(p, ATTNC_ERR_INVALID_ARGUMENT, "attnc_cp_launch: args not made by attnc_cp_args_create");
    cp_whole_t w;
    attnc_status st = cp_whole(p, a, &w);
    if (st)
        return st;
    p->mem.stream = stream;
    p->computed = p->skipped = 0;
    strbuf err;
    sb_init(&err);
    size_t es = prog_esize(w.t[ARG_Q]->dtype), kl = (size_t)w.sizes[SZ_KV_TOKENS];
    size_t n = 2 * (size_t)(w.B * w.KH) * kl * (size_t)(w.D + w.Dv) * es +
               (size_t)p->o.ranks * (size_t)(w.B * w.H * w.T) * ((size_t)w.Dv * es + 4);
    void *ws = pm_alloc(&p->mem, n, &err);
    ring_sync y = {0};
    st = ws ? sync_open(&y, stream, &err) : ATTNC_ERR_CUDA;
    if (!st)
        st = ring(p, &w, ws, &y, &err);
    if (ws) { /* the workspace and the stream go now: wait for them even after an error */
        attnc_status sy = cuda_synchronize(&err);
        st = st ? st : sy;
    }
    sync_close(&y);
    if (ws)
        pm_free(&p->mem, ws);
    if (st && !p->errmsg[0])
        snprintf(p->errmsg, sizeof p->errmsg, "%s", err.len ? sb_cstr(&err) : attnc_kernel_errmsg(p->fwd));
    sb_free(&err);
    return st;
}
