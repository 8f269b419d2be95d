/* tools_ptx.c — a recipe's GPU kernel as PTX for attnc's tools
 * (include/attnc_tools.h): the GPU's default schedule, lowering and the
 * NVPTX code generator, each stage timed. */
#include "runtime/include/attnc_tools.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "frontend/frontend.h"
#include "passes/pipeline.h"
#include "runtime/tools/tools_impl.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

tir_kernel *tools_gpu_lower(arena *a, const recipe *r, target_arch arch, const char *spec, double *lower_ms,
                            attnc_tools_result *res, strbuf *err)
{
    schedule s;
    int nd = r->grid_ndim > 0 ? r->grid_ndim : 1;
    strbuf why;
    sb_init(&why);
    *res = ATTNC_TOOLS_USER;
    tir_kernel *k = NULL;
    if (spec && !schedule_parse(spec, nd, &s, &why)) {
        sb_printf(err, "--schedule: %s", sb_cstr(&why));
    } else if (!frontend_target_ok(r, arch, &why)) {
        sb_puts(err, sb_cstr(&why));
    } else {
        if (!spec || s.is_auto)
            s = nvptx_default_schedule(lower_signature(a, r), arch);
        double t0 = now_ms();
        k = lower_recipe(a, r, &s, arch, &why);
        *lower_ms = now_ms() - t0;
        sb_puts(err, sb_cstr(&why));
        if (k)
            *res = ATTNC_TOOLS_OK;
        else if (!strstr(sb_cstr(&why), "schedule"))
            *res = ATTNC_TOOLS_INTERNAL;
    }
    sb_free(&why);
    return k;
}

attnc_tools_result tools_gpu_emit(const tir_kernel *k, target_arch arch, nvptx_kernel_info *info, strbuf *ptx,
                                  double *codegen_ms, strbuf *err)
{
    strbuf why;
    sb_init(&why);
    double t0 = now_ms();
    nvptx_status st = nvptx_emit_kernel(k, arch, info, ptx, &why);
    *codegen_ms = now_ms() - t0;
    if (st)
        sb_printf(err, "%s%s", st == NVPTX_UNSUPPORTED ? "not supported: " : "", sb_cstr(&why));
    sb_free(&why);
    return st ? ATTNC_TOOLS_INTERNAL : ATTNC_TOOLS_OK;
}

attnc_tools_result attnc_tools_ptx(const attnc_tools_recipe *tr, attnc_tools_arch arch, const char *sched,
                                   attnc_tools_ptx_out *out, strbuf *err)
{
    memset(out, 0, sizeof *out);
    sb_init(&out->ptx);
    const recipe *r = tools_recipe_of(tr);
    target_arch ta = (target_arch)arch;
    arena a;
    arena_init(&a, NULL);
    attnc_tools_result res;
    tir_kernel *k = tools_gpu_lower(&a, r, ta, sched, &out->lower_ms, &res, err);
    if (k) {
        nvptx_kernel_info info;
        res = tools_gpu_emit(k, ta, &info, &out->ptx, &out->codegen_ms, err);
        if (!res) {
            snprintf(out->name, sizeof out->name, "%s", info.name);
            out->threads = info.threads;
            out->smem_bytes = info.smem_bytes;
            out->ndims = info.ndims;
            memcpy(out->q_tile, info.q_tile, sizeof out->q_tile);
        }
    }
    arena_free_all(&a);
    return res;
}
