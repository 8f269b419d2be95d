/* cache_key_kernel.c — the cache key of a lowered kernel: its canonical tile
 * IR text (tir_print renumbers values, so equal kernels print equal; code
 * generation reads nothing else of the recipe), the printed schedule and
 * the arch (with $ATTNC_GRID_TMA when set: it changes grid kernels); see
 * cache.h. */
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
        char with_env[64];
        int grid_tma = nvptx_grid_tma_mode();
        if (arch && grid_tma >= 0) {
            snprintf(with_env, sizeof with_env, "%s grid_tma=%d", arch, grid_tma);
            arch = with_env;
        }
        cache_key_parts p = {sb_cstr(&ir), sb_cstr(&sched), arch, NULL};
        *out = cache_key_make(&p);
    }
    sb_free(&ir);
    sb_free(&sched);
    return ok;
}
