/* cache_mem.c — bounded LRU hash map of cache payloads; see cache_mem.h. */
#include "runtime/cache/cache_mem.h"

#include <stdlib.h>
#include <string.h>

struct mem_entry {
    cache_key key;
    cache_kind kind;
    unsigned char *data;
    size_t len;
    mem_entry *chain;            /* next in the bucket */
    mem_entry *newer, *older;    /* LRU list */
};

void mem_init(mem_map *m, size_t max_bytes, size_t max_entries)
{
    memset(m, 0, sizeof *m);
    m->max_bytes = max_bytes;
    m->max_entries = max_entries;
}

static size_t bucket_of(cache_key key, cache_kind kind)
{
    return (size_t)((key.lo ^ (uint64_t)kind) % MEM_BUCKETS);
}

static mem_entry **find_slot(mem_map *m, cache_key key, cache_kind kind)
{
    mem_entry **pp = &m->buckets[bucket_of(key, kind)];
    while (*pp && ((*pp)->key.hi != key.hi || (*pp)->key.lo != key.lo || (*pp)->kind != kind))
        pp = &(*pp)->chain;
    return pp;
}

static void lru_unlink(mem_map *m, mem_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        m->lru_head = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        m->lru_tail = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push_front(mem_map *m, mem_entry *e)
{
    e->older = m->lru_head;
    e->newer = NULL;
    if (m->lru_head)
        m->lru_head->newer = e;
    m->lru_head = e;
    if (!m->lru_tail)
        m->lru_tail = e;
}

static void remove_entry(mem_map *m, mem_entry **slot)
{
    mem_entry *e = *slot;
    *slot = e->chain;
    lru_unlink(m, e);
    m->bytes -= e->len;
    m->entries--;
    free(e->data);
    free(e);
}

void mem_free_all(mem_map *m)
{
    while (m->lru_tail)
        remove_entry(m, find_slot(m, m->lru_tail->key, m->lru_tail->kind));
}

static unsigned char *copy_payload(const void *data, size_t len)
{
    unsigned char *p = malloc(len + 1);
    if (p) {
        if (len)
            memcpy(p, data, len);
        p[len] = 0;
    }
    return p;
}

bool mem_get(mem_map *m, cache_key key, cache_kind kind, void **data, size_t *len)
{
    mem_entry *e = *find_slot(m, key, kind);
    if (!e)
        return false;
    unsigned char *copy = copy_payload(e->data, e->len);
    if (!copy)
        return false;
    lru_unlink(m, e);
    lru_push_front(m, e);
    *data = copy;
    *len = e->len;
    return true;
}

static void evict_to_fit(mem_map *m, size_t incoming)
{
    while (m->lru_tail && (m->bytes + incoming > m->max_bytes || m->entries + 1 > m->max_entries)) {
        remove_entry(m, find_slot(m, m->lru_tail->key, m->lru_tail->kind));
        m->evictions++;
    }
}

bool mem_put(mem_map *m, cache_key key, cache_kind kind, const void *data, size_t len)
{
    if (len > m->max_bytes)
        return false;
    mem_entry **slot = find_slot(m, key, kind);
    if (*slot)
        remove_entry(m, slot);
    evict_to_fit(m, len);
    mem_entry *e = calloc(1, sizeof *e);
    unsigned char *copy = e ? copy_payload(data, len) : NULL;
    if (!copy) {
        free(e);
        return false;
    }
    *e = (mem_entry){.key = key, .kind = kind, .data = copy, .len = len};
    slot = find_slot(m, key, kind); /* eviction may have moved the chain */
    e->chain = *slot;
    *slot = e;
    lru_push_front(m, e);
    m->bytes += len;
    m->entries++;
    return true;
}
