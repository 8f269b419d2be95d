/* test_ptx_dilation.c — the dilated neighborhoods of
 * tests/numeric/dilation_table.h and the issue-17 bench recipe through
 * NVPTX and ptxas for sm_80 (auto, mma.sync) and sm_90a (auto, wgmma, the
 * warp-specialised producer). Kernels tiled by dilation groups must report
 * their dilation for the launch grid and copy with cp.async, never TMA (a
 * strided tile is no TMA box); the undilated twin keeps its TMA producer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "numeric/dilation_table.h"
#include "ptxas_run.h"
#include "recipe_ptx.h"

/* per tile dims (1..3): sm_80 auto and mma.sync; sm_90a auto, wgmma and the producer warpgroup */
static const char *const specs[3][2][3] = {
    {{NULL, "q=64 kv=16 stages=3 warps=4 mma=sync", NULL},
     {NULL, "q=128 kv=64 warps=8 mma=wgmma", "q=128 kv=64 warps=8 mma=wgmma_ws"}},
    {{NULL, "q=4x16 kv=4x8 stages=3 warps=4 mma=sync", NULL},
     {NULL, "q=8x16 kv=8x8 warps=8 mma=wgmma", "q=8x16 kv=8x8 warps=8 mma=wgmma_ws"}},
    {{NULL, "q=1x4x16 kv=1x4x8 stages=3 warps=4 mma=sync", NULL},
     {NULL, "q=2x4x16 kv=2x4x8 warps=8 mma=wgmma", "q=2x4x16 kv=2x4x8 warps=8 mma=wgmma_ws"}},
};

static void assemble(const char *name, const char *path, int ndims, bool grouped, bool tma_allowed)
{
    const char *const(*sp)[3] = specs[ndims - 1];
    for (int arch = 0; arch < 2; arch++)
        for (int s = 0; s < 3; s++) {
            if (s && !sp[arch][s])
                continue;
            const char *an = arch ? "sm_90a" : "sm_80";
            arena a;
            arena_init(&a, NULL);
            strbuf err, ptx, log;
            sb_init(&err);
            sb_init(&ptx);
            sb_init(&log);
            nvptx_kernel_info info;
            nvptx_status st = recipe_ptx(&a, path, sp[arch][s], arch ? TARGET_SM90A : TARGET_SM80, &info, &ptx, &err);
            if (st == NVPTX_UNSUPPORTED && sp[arch][s]) { /* e.g. a tile wgmma cannot take */
                printf("  %-24s %-6s %-12s unsupported: %s\n", name, an, sp[arch][s], sb_cstr(&err));
            } else {
                if (st)
                    fail_msg("%s %s: %s", name, an, sb_cstr(&err));
                if (!ptxas_check(sb_cstr(&ptx), an, &log))
                    fail_msg("%s: ptxas %s rejected the PTX:\n%s", name, an, sb_cstr(&log));
                bool dil = info.dil[0] > 1 || info.dil[1] > 1 || info.dil[2] > 1;
                if (dil != grouped)
                    fail_msg("%s %s: dilation-group tiling %s", name, an, grouped ? "missing" : "unexpected");
                if (grouped && (info.tma || strstr(sb_cstr(&ptx), "cp.async.bulk.tensor")))
                    fail_msg("%s %s: a dilated kernel copies with TMA", name, an);
                if (!tma_allowed && info.tma)
                    fail_msg("%s %s: unexpected TMA", name, an);
                printf("  %-24s %-6s %-12s ok%s\n", name, an, sp[arch][s] ? sp[arch][s] : "auto",
                       info.tma ? " (TMA)" : "");
            }
            sb_free(&err);
            sb_free(&ptx);
            sb_free(&log);
            arena_free_all(&a);
        }
}

static void dilated_recipes(void **state)
{
    (void)state;
    char text[1024], path[128];
    for (size_t i = 0; i < sizeof dilation_cases / sizeof dilation_cases[0]; i++) {
        const dilation_case *u = &dilation_cases[i];
        snprintf(text, sizeof text, "recipe %s\n%s", u->name, u->text);
        snprintf(path, sizeof path, "/tmp/attnc_ptx_dil_%d_%s.attn", (int)getpid(), u->name);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assemble(u->name, path, u->ndims, u->grouped, true);
        unlink(path);
    }
    assemble("na2d_k9_dil3_d64", ATTNC_SOURCE_DIR "/bench/recipes/na2d_k9_dil3_d64.attn", 2, true, false);
    /* the undilated twin is a plain grid: mma=wgmma_ws takes its boxes by TMA (nvptx_fa2_ws.c) */
    assemble("na2d_k9_d64", ATTNC_SOURCE_DIR "/bench/recipes/na2d_k9_d64.attn", 2, false, true);
}

int main(void)
{
    if (!ptxas_available()) {
        printf("skipped: no ptxas\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(dilated_recipes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
