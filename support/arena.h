/*
 * arena.h — bump allocation for compiler data.
 *
 * Everything a compilation creates (tokens, typed recipe, expression trees,
 * tile IR) lives in one arena and dies with it in one call. Objects that
 * outlive a compilation (kernels, cache entries) use the heap directly.
 * Allocation failure is reported by a NULL return and a sticky `failed` flag,
 * so callers can check once at the end of a phase instead of after every call.
 */
#ifndef ATTNC_SUPPORT_ARENA_H
#define ATTNC_SUPPORT_ARENA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct arena_chunk arena_chunk;

/* A pluggable allocator; tests install one that fails after N calls. */
typedef struct heap_alloc {
    void *(*alloc)(void *user, size_t size);
    void (*free)(void *user, void *ptr);
    void *user;
} heap_alloc;

typedef struct arena {
    arena_chunk *head;
    const heap_alloc *heap; /* NULL: malloc/free */
    size_t total;           /* bytes handed out, for limits and statistics */
    size_t limit;           /* 0: unlimited; otherwise allocations past it fail */
    bool failed;            /* set once any allocation failed */
} arena;

void arena_init(arena *a, const heap_alloc *heap);
void arena_free_all(arena *a);

/* Zeroed, 16-byte aligned; NULL (and a->failed) on failure. */
void *arena_alloc(arena *a, size_t size);
void *arena_dup(arena *a, const void *src, size_t size);
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_strdup(arena *a, const char *s);
/* printf into the arena. */
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Allocation through the heap_alloc (or malloc when NULL). */
void *heap_malloc(const heap_alloc *h, size_t size);
void heap_release(const heap_alloc *h, void *p);

#define ARENA_NEW(a, T) ((T *)arena_alloc((a), sizeof(T)))
#define ARENA_ARRAY(a, T, n) ((T *)arena_alloc((a), sizeof(T) * (size_t)(n)))

#endif
