/* cuda_fanout.c — side streams for launches that may overlap
 * (cuda_fanout.h). One pool a device, made at its first fan-out and kept
 * for the process (its primary context stays retained): FANOUT_STREAMS
 * non-blocking streams, an event the caller's stream records (the fork)
 * and one a side stream records (the join). The pool's lock is held from
 * the fork to the joins, so two fan-outs never share an event between a
 * record and its waits. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/cuda_fanout.h"

/* Side streams per device: enough for the tails of consecutive sequences
 * to overlap; each stream's launches still run in order. */
enum { FANOUT_STREAMS = 4, FANOUT_DEVICES = 16 };

typedef struct fanout_pool {
    pthread_mutex_t lock;
    bool made, failed;
    CUstream side[FANOUT_STREAMS];
    CUevent fork, join[FANOUT_STREAMS];
} fanout_pool;

static fanout_pool pools[FANOUT_DEVICES] = {[0 ... FANOUT_DEVICES - 1] = {.lock = PTHREAD_MUTEX_INITIALIZER}};

/* $ATTNC_VARLEN_STREAMS=1 on, =0 off; unset: this default. On since the
 * H200 run of 2026-12-07 (bench/RESULTS.md, run82): 64 x 1024 tokens
 * 1.24 -> 0.75 ms, 8 x 8192 3.79 -> 3.59 ms, test_gpu_varlen passing. */
#ifndef CUDA_FANOUT_BY_DEFAULT
#define CUDA_FANOUT_BY_DEFAULT 1
#endif

static bool fanout_enabled(void)
{
    const char *s = getenv("ATTNC_VARLEN_STREAMS");
    if (s && s[0] && !s[1] && (s[0] == '0' || s[0] == '1'))
        return s[0] == '1';
    return CUDA_FANOUT_BY_DEFAULT;
}

/* The pool's streams and events (lock held); false: run in turn. */
static bool pool_make(const cuda_api *a, fanout_pool *p, int ordinal)
{
    if (p->made || p->failed)
        return p->made;
    p->failed = true;
    CUdevice dev;
    if (!a->cuStreamCreate || !a->cuStreamDestroy || cuda_context_acquire(ordinal, &dev, NULL))
        return false;
    bool ok = a->cuEventCreate(&p->fork, CU_EVENT_DISABLE_TIMING) == CUDA_SUCCESS, fork = ok;
    int s = 0, e = 0; /* made so far */
    for (; ok && s < FANOUT_STREAMS; s += ok)
        ok = a->cuStreamCreate(&p->side[s], CU_STREAM_NON_BLOCKING) == CUDA_SUCCESS;
    for (; ok && e < FANOUT_STREAMS; e += ok)
        ok = a->cuEventCreate(&p->join[e], CU_EVENT_DISABLE_TIMING) == CUDA_SUCCESS;
    if (!ok) { /* undo what was made, and the context's retain */
        for (int i = 0; i < e; i++)
            a->cuEventDestroy(p->join[i]);
        for (int i = 0; i < s; i++)
            a->cuStreamDestroy(p->side[i]);
        if (fork)
            a->cuEventDestroy(p->fork);
        cuda_context_release(dev);
        return false;
    }
    p->made = true;
    p->failed = false;
    return true;
}

static attnc_status in_turn(void *stream, int64_t n, cuda_fanout_fn fn, void *user)
{
    attnc_status st = ATTNC_OK;
    for (int64_t i = 0; i < n && !st; i++)
        st = fn(user, i, stream);
    return st;
}

attnc_status cuda_fanout_run(void *stream, int64_t n, cuda_fanout_fn fn, void *user, strbuf *err)
{
    int ordinal = cuda_device_ordinal();
    const cuda_api *a;
    if (n < 2 || !fanout_enabled() || ordinal < 0 || ordinal >= FANOUT_DEVICES || cuda_api_get(&a, NULL))
        return in_turn(stream, n, fn, user);
    fanout_pool *p = &pools[ordinal];
    pthread_mutex_lock(&p->lock);
    if (!pool_make(a, p, ordinal)) {
        pthread_mutex_unlock(&p->lock);
        return in_turn(stream, n, fn, user);
    }
    int used = n < FANOUT_STREAMS ? (int)n : FANOUT_STREAMS;
    attnc_status st = cuda_check(a, a->cuEventRecord(p->fork, (CUstream)stream), "cuEventRecord (fan-out)", err);
    for (int s = 0; s < used && !st; s++)
        st = cuda_check(a, a->cuStreamWaitEvent(p->side[s], p->fork, 0), "cuStreamWaitEvent (fan-out)", err);
    if (st) { /* nothing issued on the side streams */
        pthread_mutex_unlock(&p->lock);
        return st;
    }
    for (int64_t i = 0; i < n && !st; i++)
        st = fn(user, i, p->side[i % FANOUT_STREAMS]);
    for (int s = 0; s < used; s++) { /* joined even after a failure: what ran stays ordered before later work */
        attnc_status js = cuda_check(a, a->cuEventRecord(p->join[s], p->side[s]), "cuEventRecord (fan-in)", err);
        if (!js)
            js = cuda_check(a, a->cuStreamWaitEvent((CUstream)stream, p->join[s], 0), "cuStreamWaitEvent (fan-in)",
                            err);
        st = st ? st : js;
    }
    pthread_mutex_unlock(&p->lock);
    return st;
}
