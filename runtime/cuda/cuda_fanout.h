/*
 * cuda_fanout.h — launches that may overlap, spread over side streams
 * (varlen's per-sequence launches, runtime/api/api_varlen.c).
 *
 * Each sequence of a varlen launch is a launch of its own; on one stream
 * each waits for the previous one's last wave, so 8 sequences of 8192
 * tokens ran 5.8% behind the same tiles as a batch (H200 2026-12-06
 * run80). cuda_fanout_run issues them on a few side streams of the
 * device's primary context, ordered after the caller's stream's earlier
 * work and before its later work (events), so one sequence's blocks fill
 * the SMs another's tail leaves idle. Kernels that must not overlap keep
 * their own order across streams (cuda_module.h serial kernels, programs'
 * last_done), so any launch may go through here.
 */
#ifndef ATTNC_RUNTIME_CUDA_FANOUT_H
#define ATTNC_RUNTIME_CUDA_FANOUT_H

#include <stdint.h>

#include "runtime/include/attnc.h"
#include "support/strbuf.h"

/* Launch i of n on stream s (a CUstream). */
typedef attnc_status (*cuda_fanout_fn)(void *user, int64_t i, void *s);

/* Calls fn(user, i, s) for i in 0..n-1 in order, each s a side stream
 * (round robin), with stream's earlier work before all of them and its
 * later work after all of them; stops at the first failure (the streams
 * are joined either way). With n < 2, without cuStreamCreate (an old or
 * fake driver) or under $ATTNC_VARLEN_STREAMS=0: fn on stream itself, in
 * turn.
 * Thread-safe (one fan-out at a time per device). On by default
 * (cuda_fanout.c CUDA_FANOUT_BY_DEFAULT). */
attnc_status cuda_fanout_run(void *stream, int64_t n, cuda_fanout_fn fn, void *user, strbuf *err);

#endif
