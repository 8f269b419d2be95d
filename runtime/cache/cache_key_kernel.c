/* cache_key_kernel.c — the cache key of a lowered kernel: its canonical tile
 * IR text (tir_print renumbers values, so equal kernels print equal; code
 * generation reads nothing else of the recipe), the printed schedule and
 * the arch (with $ATTNC_GRID_TMA, $ATTNC_DOC_FULL and $ATTNC_OVL_SPLIT_PRODUCER
 * when set: they change kernels); see cache.h. */
#include <stdio.h>

#include "codegen/nvptx_kernel.h"
#include "ir/tile_ir.h"
#include "runtime/cache/cache.h"

bool cache_key_for_kernel(tir_kernel *k, const schedule *s, const char *arch, cache_key *out)
{
    strbuf ir, sched;
    sb_init(&ir);
    sb_init(&sched);
    tir_print(&ir, k);
    schedule_print(&sched, s);
    bool ok = !ir.failed && !sched.failed;
    if (ok) {
        char with_env[96];
        int grid_tma = nvptx_grid_tma_mode(), doc_full = nvptx_doc_full_mode(), split = nvptx_ovl_split_mode();
        if (arch && (grid_tma >= 0 || doc_full >= 0 || split >= 0)) {
            int n = snprintf(with_env, sizeof with_env, "%s", arch);
            if (grid_tma >= 0 && n >= 0 && n < (int)sizeof with_env)
                n += snprintf(with_env + n, sizeof with_env - (size_t)n, " grid_tma=%d", grid_tma);
            if (doc_full >= 0 && n >= 0 && n < (int)sizeof with_env)
                n += snprintf(with_env + n, sizeof with_env - (size_t)n, " doc_full=%d", doc_full);
            if (split >= 0 && n >= 0 && n < (int)sizeof with_env)
                snprintf(with_env + n, sizeof with_env - (size_t)n, " ovl_split=%d", split);
            arch = with_env;
        }
        cache_key_parts p = {sb_cstr(&ir), sb_cstr(&sched), arch, NULL};
        *out = cache_key_make(&p);
    }
    sb_free(&ir);
    sb_free(&sched);
    return ok;
}
