/*
 * block_table.h — the per-shape block table of RANGE_BLOCK_TABLE kernels.
 *
 * A kernel whose mask reads runtime tensors (document ids, blocks(...))
 * takes a u8 table [query tile][key tile] (row-major tile indices over the
 * schedule's tile grid): 0 = skip the pair, 1 = partial (per-element mask),
 * 2 = full (no mask). It is built on the host by mask_block_table_build from
 * the mask and the launch's sizes only, never from tensor contents (those
 * may live on a device), so pairs that depend on params read 1 and only the
 * shape-dependent part (e.g. a causal term) is skipped or made full. Tables
 * are cached on the kernel keyed by the launch sizes, so repeated launches
 * of one shape build nothing; the cache is freed with the kernel.
 */
#ifndef ATTNC_RUNTIME_BLOCK_TABLE_H
#define ATTNC_RUNTIME_BLOCK_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/api/api_internal.h"

/* The table for p's shape (built on first use). Sets *bytes to its size.
 * Returns NULL with ATTNC_OK in *st when no table can be had cheaply (the
 * shape's table is over the size cap): the kernel then visits every tile,
 * which is still correct. NULL with an error status (recorded on k) only
 * when memory runs out. */
const uint8_t *block_table_for(attnc_kernel *k, const launch_problem *p, size_t *bytes, attnc_status *st);

/* How many tables this kernel has built (tests: cache hits build none). */
int block_table_builds(const attnc_kernel *k);

/* Frees the kernel's cache (attnc_kernel_destroy). */
void block_table_cache_free(attnc_kernel *k);

#endif
