/*
 * bench_compile.h — `attnc bench FILE --compile-timings`: the three ways a
 * kernel is obtained, timed through the public API (recipe text to a kernel
 * ready to launch, i.e. a loaded module on CUDA):
 *   cold         a fresh context and an empty cache folder (a new temp
 *                folder for every repeat; $ATTNC_CACHE_DIR points at it);
 *   disk         a fresh context on the same folder (CUDA: the cubin entry,
 *                no driver JIT; PTX if the cubin is unusable);
 *   memory       the same context again (the context's memory cache).
 * Each is the median of `repeats` rounds. The CPU backend has no kernel
 * cache (every build runs the host JIT), so its three rows measure the same
 * path; the table says so.
 */
#ifndef ATTNC_CLI_BENCH_COMPILE_H
#define ATTNC_CLI_BENCH_COMPILE_H

#include <stdbool.h>

#include "runtime/include/attnc.h"

typedef struct bench_compile_opts {
    const char *file, *schedule, *arch;
    attnc_backend backend;
    int repeats;
    bool json;
} bench_compile_opts;

/* Prints the table (or one JSON object); returns an exit code (commands.h). */
int bench_compile_timings(const bench_compile_opts *o);

#endif
