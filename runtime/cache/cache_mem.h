/*
 * cache_mem.h — the in-memory half of the kernel cache (internal): a
 * chained hash map from (key, kind) to a payload copy, with a least-recently-
 * used list that evicts once the byte or entry budget is exceeded. Not
 * thread-safe on its own: the cache handle's mutex guards it.
 */
#ifndef ATTNC_RUNTIME_CACHE_MEM_H
#define ATTNC_RUNTIME_CACHE_MEM_H

#include "runtime/cache/cache.h"

typedef struct mem_entry mem_entry;

enum { MEM_BUCKETS = 256 };

typedef struct mem_map {
    mem_entry *buckets[MEM_BUCKETS];
    mem_entry *lru_head, *lru_tail; /* head: most recently used */
    size_t bytes, entries, max_bytes, max_entries;
    uint64_t evictions;
} mem_map;

void mem_init(mem_map *m, size_t max_bytes, size_t max_entries);
void mem_free_all(mem_map *m);
/* A malloc'ed copy (NUL-terminated one past len) or false when absent. */
bool mem_get(mem_map *m, cache_key key, cache_kind kind, void **data, size_t *len);
/* Copies the payload in (replacing an older one); false on OOM or when the
 * payload alone is over the budget. */
bool mem_put(mem_map *m, cache_key key, cache_kind kind, const void *data, size_t len);

#endif
