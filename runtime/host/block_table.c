/* block_table.c — per-shape block tables of a kernel; see block_table.h.
 * The cache is a few slots, replaced round-robin: a kernel is launched on a
 * handful of shapes, and a miss only costs one host-side table build. */
#include "runtime/host/block_table.h"

#include <string.h>

#include "passes/mask_analysis.h"

enum { BT_SLOTS = 4 };
#define BT_MAX_BYTES ((uint64_t)256 << 20) /* larger tables: visit everything */

typedef struct bt_slot {
    bool used;
    int64_t sizes[SZ_MAX];
    uint8_t *table; /* ctx allocation */
    size_t bytes;
} bt_slot;

struct block_table_cache {
    arena arena; /* the mask analysis */
    mask_info mi;
    bt_slot slot[BT_SLOTS];
    int next, builds;
};

static block_table_cache *cache_get(attnc_kernel *k)
{
    if (k->btab)
        return k->btab;
    block_table_cache *c = ctx_calloc(k->ctx, sizeof *c);
    if (!c)
        return NULL;
    arena_init(&c->arena, &k->ctx->heap);
    if (!mask_analyze(&c->arena, k->r, &k->sched, &c->mi)) {
        arena_free_all(&c->arena);
        ctx_free(k->ctx, c);
        return NULL;
    }
    k->btab = c;
    return c;
}

static void env_for(const attnc_kernel *k, const launch_problem *p, eval_env *env)
{
    memset(env, 0, sizeof *env);
    memcpy(env->sizes, p->sizes, sizeof env->sizes);
    env->grid_ndim = k->r->grid_ndim;
    env->param = NULL; /* runtime tensors unknown: their pairs read partial */
}

/* Builds the table of p's shape into slot s. False: out of memory. */
static bool build_slot(attnc_kernel *k, block_table_cache *c, const launch_problem *p, bt_slot *s)
{
    eval_env env;
    env_for(k, p, &env);
    int64_t nq[SCHED_MAX_DIMS], nk[SCHED_MAX_DIMS];
    int64_t tq = mask_tile_count(&c->mi, &env, true, nq), tk = mask_tile_count(&c->mi, &env, false, nk);
    ctx_free(k->ctx, s->table);
    *s = (bt_slot){0};
    memcpy(s->sizes, p->sizes, sizeof s->sizes);
    s->used = true;
    if (tq <= 0 || tk <= 0 || (uint64_t)tq > BT_MAX_BYTES / (uint64_t)tk)
        return true; /* no table: every tile, still correct */
    s->bytes = (size_t)(tq * tk);
    s->table = ctx_alloc(k->ctx, s->bytes);
    if (!s->table) {
        s->used = false;
        return false;
    }
    if (!mask_block_table_build(&c->mi, &env, s->table, s->bytes))
        memset(s->table, 1, s->bytes); /* cannot happen (sized above); stay correct */
    c->builds++;
    return true;
}

const uint8_t *block_table_for(attnc_kernel *k, const launch_problem *p, size_t *bytes, attnc_status *st)
{
    *st = ATTNC_OK;
    *bytes = 0;
    block_table_cache *c = cache_get(k);
    if (!c) {
        *st = kernel_error(k, ATTNC_ERR_NOMEM, "out of memory: block table analysis");
        return NULL;
    }
    for (int i = 0; i < BT_SLOTS; i++) {
        bt_slot *s = &c->slot[i];
        if (s->used && memcmp(s->sizes, p->sizes, sizeof s->sizes) == 0) {
            *bytes = s->bytes;
            return s->table;
        }
    }
    bt_slot *s = &c->slot[c->next];
    c->next = (c->next + 1) % BT_SLOTS;
    if (!build_slot(k, c, p, s)) {
        *st = kernel_error(k, ATTNC_ERR_NOMEM, "out of memory: block table of %zu bytes", s->bytes);
        return NULL;
    }
    *bytes = s->bytes;
    return s->table;
}

int block_table_builds(const attnc_kernel *k)
{
    return k->btab ? k->btab->builds : 0;
}

void block_table_cache_free(attnc_kernel *k)
{
    block_table_cache *c = k ? k->btab : NULL;
    if (!c)
        return;
    for (int i = 0; i < BT_SLOTS; i++)
        ctx_free(k->ctx, c->slot[i].table);
    arena_free_all(&c->arena);
    ctx_free(k->ctx, c);
    k->btab = NULL;
}
