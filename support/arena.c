/* arena.c — chunked bump allocator; see arena.h for the contract. */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ARENA_CHUNK_MIN = 64 * 1024, ARENA_ALIGN = 16 };

struct arena_chunk {
    arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *heap_malloc(const heap_alloc *h, size_t size)
{
    return h ? h->alloc(h->user, size) : malloc(size);
}

void heap_release(const heap_alloc *h, void *p)
{
    if (!p)
        return;
    if (h)
        h->free(h->user, p);
    else
        free(p);
}

void arena_init(arena *a, const heap_alloc *heap)
{
    memset(a, 0, sizeof *a);
    a->heap = heap;
}

void arena_free_all(arena *a)
{
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *next = c->next;
        heap_release(a->heap, c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

static arena_chunk *arena_grow(arena *a, size_t need)
{
    size_t cap = need > ARENA_CHUNK_MIN ? need : ARENA_CHUNK_MIN;
    if (cap > SIZE_MAX - sizeof(arena_chunk))
        return NULL;
    arena_chunk *c = heap_malloc(a->heap, sizeof(arena_chunk) + cap);
    if (!c)
        return NULL;
    c->next = a->head;
    c->used = 0;
    c->cap = cap;
    a->head = c;
    return c;
}

void *arena_alloc(arena *a, size_t size)
{
    if (a->failed)
        return NULL;
    size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (rounded < size || (a->limit && a->total + rounded > a->limit)) {
        a->failed = true;
        return NULL;
    }
    arena_chunk *c = a->head;
    if (!c || c->cap - c->used < rounded) {
        c = arena_grow(a, rounded);
        if (!c) {
            a->failed = true;
            return NULL;
        }
    }
    void *p = c->data + c->used;
    c->used += rounded;
    a->total += rounded;
    memset(p, 0, size);
    return p;
}

void *arena_dup(arena *a, const void *src, size_t size)
{
    void *p = arena_alloc(a, size);
    if (p && size)
        memcpy(p, src, size);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

char *arena_strdup(arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n < 0 ? NULL : arena_alloc(a, (size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}
