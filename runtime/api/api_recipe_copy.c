/* api_recipe_copy.c — deep copy of a typed recipe into a kernel's arena, so
 * a kernel never references the attnc_recipe it was built from. Shared
 * expression subtrees stay shared (a pointer map), so DAGs do not blow up. */
#include <stdint.h>
#include <string.h>

#include "runtime/api/api_internal.h"

static const char *copy_str(arena *a, const char *s)
{
    return s ? arena_strdup(a, s) : NULL;
}

enum { COPY_MAP_SLOTS = 8192 };

typedef struct copy_map {
    const expr **from;
    expr **to;
} copy_map;

static expr **map_slot(copy_map *m, const expr *e, bool *found)
{
    size_t h = ((uintptr_t)e >> 4) % COPY_MAP_SLOTS;
    for (size_t i = 0; i < COPY_MAP_SLOTS; i++) {
        size_t s = (h + i) % COPY_MAP_SLOTS;
        if (m->from[s] == e || !m->from[s]) {
            *found = m->from[s] == e;
            m->from[s] = e;
            return &m->to[s];
        }
    }
    *found = false;
    return NULL; /* full: copy without sharing */
}

static expr *copy_expr(arena *a, copy_map *m, const expr *e, int depth)
{
    if (!e || depth > 10000)
        return NULL;
    bool found;
    expr **slot = map_slot(m, e, &found);
    if (found)
        return *slot;
    expr *c = arena_dup(a, e, sizeof *e);
    if (slot)
        *slot = c;
    if (!c)
        return NULL;
    if (e->nargs > 0) {
        c->args = ARENA_ARRAY(a, expr *, e->nargs);
        if (!c->args)
            return NULL;
        for (int i = 0; i < e->nargs; i++) {
            c->args[i] = copy_expr(a, m, e->args[i], depth + 1);
            if (e->args[i] && !c->args[i])
                return NULL;
        }
    }
    return c;
}

recipe *kernel_recipe_copy(arena *a, const recipe *r)
{
    recipe *c = arena_dup(a, r, sizeof *r);
    if (!c)
        return NULL;
    c->name = copy_str(a, r->name);
    c->file = copy_str(a, r->file);
    for (int i = 0; i < 3; i++)
        c->grid_names[i] = copy_str(a, r->grid_names[i]);
    for (int i = 0; i < SZ_MAX; i++)
        c->sizes[i].name = copy_str(a, r->sizes[i].name);
    if (r->nparams > 0) {
        c->params = arena_dup(a, r->params, sizeof *r->params * (size_t)r->nparams);
        for (int i = 0; c->params && i < r->nparams; i++)
            c->params[i].name = copy_str(a, r->params[i].name);
    }
    copy_map m = {ARENA_ARRAY(a, const expr *, COPY_MAP_SLOTS), ARENA_ARRAY(a, expr *, COPY_MAP_SLOTS)};
    if (!m.from || !m.to)
        return NULL;
    c->mask = copy_expr(a, &m, r->mask, 0);
    c->score = copy_expr(a, &m, r->score, 0);
    c->mask_surface = copy_expr(a, &m, r->mask_surface, 0);
    c->score_origins = NULL; /* they point into the source recipe's arena */
    c->nscore_origins = 0;
    return a->failed ? NULL : c;
}
