/* pipeline.c — the pass table and the driver that runs it. Reading
 * pass_list top to bottom is reading the whole lowering. */
#include "pipeline.h"

#include <string.h>

#include "../frontend/frontend.h"
#include "lower_common.h"
#include "passes.h"

static const pass_info pass_list[] = {
    {"lower", "recipe -> canonical tile IR (softmax or linear family)", pass_lower},
    {"tiling", "query/key tiles become boxes of tokens: extents from the schedule", pass_tiling},
    {"mask_analysis", "interval arithmetic: key-tile ranges, full/empty tile classes", pass_mask_analysis},
    {"fusion", "fold scale*log2(e) into the score; exp2 softmax; P stays in registers", pass_fusion},
    {"layout", "memory spaces and register layouts for the target", pass_layout},
    {"pipelining", "GPU: prefetch K/V stages ahead, waits before first use, barrier before reuse", pass_pipelining},
    {NULL, NULL, NULL},
};

const pass_info *pass_table(void)
{
    return pass_list;
}

int pass_count(void)
{
    return (int)(sizeof pass_list / sizeof *pass_list) - 1;
}

const pass_info *pass_find(const char *name)
{
    for (const pass_info *p = pass_list; name && p->name; p++)
        if (!strcmp(p->name, name))
            return p;
    return NULL;
}

bool pass_lower(tir_kernel *k, const recipe *r, strbuf *err)
{
    return r->family == FAMILY_LINEAR ? lower_linear(k, r, err) : lower_softmax(k, r, err);
}

/* Halves the largest extent of a tile (the last dim on ties). */
static bool halve(int *ext, int n, int min_tokens)
{
    int tokens = 1, best = n - 1;
    for (int d = 0; d < n; d++) {
        tokens *= ext[d];
        if (ext[d] > ext[best])
            best = d;
    }
    if (tokens / 2 < min_tokens || ext[best] < 2)
        return false;
    ext[best] /= 2;
    return true;
}

/* The default schedule, made legal for large head dims: fewer stages first,
 * then smaller key tiles, then smaller query tiles. */
static void shrink_to_fit(schedule *s, const recipe *r, target_arch arch)
{
    for (int i = 0; i < 16; i++) {
        strbuf why;
        sb_init(&why);
        bool ok = schedule_check(s, arch, r->head_dim > r->head_dim_v ? r->head_dim : r->head_dim_v,
                                 dtype_size(r->qkv_dtype), &why);
        sb_free(&why);
        if (ok)
            return;
        if (s->stages > 1)
            s->stages--;
        else if (!halve(s->kv_tile, s->ndims, 16) && !halve(s->q_tile, s->ndims, 16 * s->warps))
            return;
    }
}

schedule pipeline_schedule(const recipe *r, const schedule *s, target_arch arch)
{
    int nd = r->grid_ndim > 0 ? r->grid_ndim : 1;
    if (s && !s->is_auto)
        return *s;
    if (!r->sched.is_auto && r->sched.ndims == nd)
        return r->sched;
    schedule d = schedule_default(nd, arch, r->family == FAMILY_LINEAR);
    if (r->family == FAMILY_LINEAR && r->linear.block > 0)
        d.linear_block = r->linear.block;
    shrink_to_fit(&d, r, arch);
    return d;
}

static bool check_schedule(const recipe *r, const schedule *s, target_arch arch, strbuf *err)
{
    if (!frontend_target_ok(r, arch, err)) /* before the schedule: f32 on a GPU is no tiling problem */
        return false;
    int nd = r->grid_ndim > 0 ? r->grid_ndim : 1;
    if (s->ndims != nd) {
        sb_printf(err, "schedule has %d tile dims but the recipe's token grid has %d", s->ndims, nd);
        return false;
    }
    strbuf why;
    sb_init(&why);
    bool ok = schedule_check(s, arch, r->head_dim, dtype_size(r->qkv_dtype), &why);
    if (!ok)
        sb_printf(err, "illegal schedule: %s", sb_cstr(&why));
    sb_free(&why);
    return ok;
}

static bool run_pass(const pass_info *p, tir_kernel *k, const recipe *r, strbuf *err)
{
    if (!p->run(k, r, err))
        return false;
    if (k->arena->failed) {
        sb_printf(err, "out of memory in pass %s", p->name);
        return false;
    }
#ifndef NDEBUG
    strbuf why;
    sb_init(&why);
    bool ok = tir_verify(k, &why);
    if (!ok)
        sb_printf(err, "internal: the IR after pass %s is invalid: %s", p->name, sb_cstr(&why));
    sb_free(&why);
    return ok;
#else
    return true;
#endif
}

/* "// after PASS" and the IR, or "// after PASS (unchanged)" when the pass
 * left the text as it was. */
static void dump_after(strbuf *dump, tir_kernel *k, const char *name, strbuf *prev, strbuf *cur)
{
    sb_clear(cur);
    tir_print(cur, k);
    if (prev->len && !strcmp(sb_cstr(prev), sb_cstr(cur))) {
        sb_printf(dump, "// after %s (unchanged)\n", name);
        return;
    }
    sb_printf(dump, "// after %s\n", name);
    sb_puts(dump, sb_cstr(cur));
    strbuf t = *prev;
    *prev = *cur;
    *cur = t;
}

tir_kernel *lower_recipe_until(arena *a, const recipe *r, const schedule *s, target_arch arch,
                               const char *after_pass, strbuf *dump, strbuf *err)
{
    if (after_pass && !pass_find(after_pass)) {
        sb_printf(err, "unknown pass '%s' (attnc ir --list-passes)", after_pass);
        return NULL;
    }
    schedule sched = pipeline_schedule(r, s, arch);
    if (!check_schedule(r, &sched, arch, err))
        return NULL;
    tir_kernel *k = tir_kernel_new(a, r->name);
    if (!k || !lower_kernel_header(k, r)) {
        sb_puts(err, "out of memory");
        return NULL;
    }
    k->sched = sched;
    k->arch = arch;
    strbuf prev, cur;
    sb_init(&prev);
    sb_init(&cur);
    bool ok = true;
    for (const pass_info *p = pass_list; ok && p->name; p++) {
        ok = run_pass(p, k, r, err);
        if (ok && dump)
            dump_after(dump, k, p->name, &prev, &cur);
        if (after_pass && !strcmp(after_pass, p->name))
            break;
    }
    sb_free(&prev);
    sb_free(&cur);
    return ok ? k : NULL;
}

tir_kernel *lower_signature(arena *a, const recipe *r)
{
    tir_kernel *k = r ? tir_kernel_new(a, r->name) : NULL;
    if (!k || !lower_kernel_header(k, r))
        return NULL;
    k->sched = r->sched;
    return k;
}

tir_kernel *lower_recipe(arena *a, const recipe *r, const schedule *s, target_arch arch, strbuf *err)
{
    return lower_recipe_until(a, r, s, arch, NULL, NULL, err);
}
