/*
 * host_pool.h — the threads of a CPU launch: how many, and a parallel loop
 * over program indices in chunks taken from a shared counter (so a slow
 * tail of expensive programs, as under a causal mask, is shared too).
 */
#ifndef ATTNC_RUNTIME_HOST_POOL_H
#define ATTNC_RUNTIME_HOST_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/include/attnc.h"

enum { HOST_MAX_THREADS = 1024 };

/* Threads for a CPU launch: $ATTNC_NUM_THREADS when set, else the CPUs
 * this process may run on (at most HOST_MAX_THREADS). Returns 0 and a
 * message in why when the variable is not a whole number from 1 to
 * HOST_MAX_THREADS. */
int host_thread_count(char *why, size_t cap);

/* Runs one chunk [first, last) on worker `worker` (0 .. nthreads-1; each
 * index is used by one thread at a time). Returns false to stop the loop. */
typedef bool (*host_chunk_fn)(void *user, int worker, int64_t first, int64_t last);

/* Calls fn over [0, total) on up to nthreads threads, the caller being
 * worker 0; threads that cannot be started are done without. progress,
 * when not NULL, is called on the caller's thread about every 100 ms and
 * once at the end. Returns false when a chunk returned false (chunks not
 * yet started are then skipped). */
bool host_pool_run(int nthreads, int64_t total, host_chunk_fn fn, void *user, attnc_progress_fn progress,
                   void *progress_user);

#endif
