/*
 * cp_loopback.h — attnc_cp_launch's per-rank ring without NCCL (tests
 * only): every rank in turn, each holding only its own shard, with blocks
 * moved between the ranks' shards by copies on the backend's memory (host
 * memcpy, or device copies on the ring's communication stream, so the
 * GPU run exercises the stream and event ordering too).
 */
#ifndef ATTNC_TESTS_CP_LOOPBACK_H
#define ATTNC_TESTS_CP_LOOPBACK_H

#include "runtime/include/attnc.h"

/* Splits the whole launch `a` (made by attnc_cp_args_create) into shards,
 * runs cp_ring_rank for ranks 0..R-1 and writes o and lse back. Tokens (a
 * grid: outer rows) must split into R (zigzag: 2R) equal segments. */
attnc_status cp_loopback_launch(attnc_cp_plan *p, attnc_args *a);

#endif
