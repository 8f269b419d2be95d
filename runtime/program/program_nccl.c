/* program_nccl.c — context parallelism over NCCL (attnc_cp_launch): NCCL
 * opened with dlopen("libnccl.so.2") once per process, never linked;
 * NCCL_NVLS_ENABLE=0 put in the environment first when unset (NVLink
 * multicast stays off; attnc never creates multicast objects). The ring
 * and Ulysses are program_cp_ring.c's and program_cp_uly.c's; this file is
 * their transport: per ring step one group of ncclSend (the block held, to
 * rank+1) and ncclRecv (the next, from rank-1) of the K and V buffers; per
 * Ulysses exchange one group of a send and a receive per rank; bytes as
 * ncclUint8. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "runtime/program/program_cp.h"

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

/* Sends cur (k then v, `bytes` each side) to rank+1, receives into nxt from rank-1. */
static attnc_status pass_block(void *user, attnc_cp_plan *p, int r, int step, void *const cur[2], void *const nxt[2],
                               const size_t bytes[2], void *cs, strbuf *err)
{
    (void)user, (void)step, (void)err;
    int R = p->o.ranks;
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

/* Ulysses' all-to-all: one group of R sends and R receives of a slot each. */
static attnc_status all_to_all(void *user, attnc_cp_plan *p, int r, void *const *sends, int n, void *recv, size_t slot,
                               strbuf *err)
{
    (void)user, (void)n, (void)err;
    attnc_status st = nccl_check(p, api.group_start(), "ncclGroupStart");
    for (int j = 0; j < p->o.ranks && !st; j++) {
        st = nccl_check(p, api.send((char *)sends[0] + slot * (size_t)j, slot, NCCL_UINT8, j, p->o.nccl_comm,
                                    p->mem.stream), "ncclSend");
        if (!st)
            st = nccl_check(p, api.recv((char *)recv + slot * (size_t)j, slot, NCCL_UINT8, j, p->o.nccl_comm,
                                        p->mem.stream), "ncclRecv");
    }
    attnc_status end = nccl_check(p, api.group_end(), "ncclGroupEnd");
    (void)r;
    return st ? st : end;
}

attnc_status attnc_cp_launch(attnc_cp_plan *p, const attnc_args *a, void *stream)
{
    if (!p)
        return ATTNC_ERR_INVALID_ARGUMENT;
    p->errmsg[0] = 0;
    if (!p->nccl) {
        snprintf(p->errmsg, sizeof p->errmsg, "attnc_cp_launch: the plan has no NCCL communicator "
                 "(options.nccl_comm); use attnc_cp_launch_simulated");
        return ATTNC_ERR_NO_DRIVER;
    }
    if (a && (a->cu_seqlens_set[0] || a->cu_seqlens_set[1])) {
        snprintf(p->errmsg, sizeof p->errmsg, "attnc_cp_launch: context parallelism has no varlen form (cu_seqlens)");
        return ATTNC_ERR_UNSUPPORTED;
    }
    if (p->o.kind == ATTNC_CP_ULYSSES) {
        cp_a2a tr = {all_to_all, NULL};
        return cp_ulysses_ranks(p, &a, &p->o.rank, 1, &tr, stream);
    }
    cp_transport tr = {pass_block, NULL};
    return cp_ring_rank(p, a, p->o.rank, &tr, stream);
}
