/* recipe_ptx.c — a recipe file or text to PTX for tests (recipe_ptx.h). */
#include "recipe_ptx.h"
#include "ptxas_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "runtime/compile/compile_job.h"

nvptx_status recipe_text_ptx(arena *a, const char *name, const char *text, size_t len, const char *spec,
                             target_arch arch, nvptx_kernel_info *info, strbuf *ptx, strbuf *err)
{
    diag_list diags;
    diag_list_init(&diags, a, name, text, len);
    recipe *r = frontend_parse(a, name, text, len, &diags);
    if (!r) {
        sb_printf(err, "%s does not parse", name);
        return NVPTX_INTERNAL;
    }
    compile_job j;
    compile_job_init(&j, r, arch);
    j.schedule_text = spec;
    j.a = a;
    job_status st = compile_job_run(&j);
    if (st)
        sb_puts(err, sb_cstr(&j.err));
    else
        sb_append(ptx, j.ptx.data, j.ptx.len);
    if (!st && info)
        *info = j.info;
    compile_job_free(&j);
    return st == JOB_OK ? NVPTX_OK : st == JOB_UNSUPPORTED && j.failed == JOB_STEP_EMIT ? NVPTX_UNSUPPORTED
                                                                                    : NVPTX_INTERNAL;
}

nvptx_status recipe_ptx(arena *a, const char *path, const char *spec, target_arch arch, nvptx_kernel_info *info,
                        strbuf *ptx, strbuf *err)
{
    size_t len;
    const char *why = NULL;
    char *text = frontend_read_file(a, path, &len, &why);
    if (!text) {
        sb_printf(err, "%s: %s", path, why ? why : "unreadable");
        return NVPTX_INTERNAL;
    }
    return recipe_text_ptx(a, path, text, len, spec, arch, info, ptx, err);
}

nvptx_status bench_recipe_ptx(arena *a, const char *file, const char *spec, target_arch arch, nvptx_kernel_info *info,
                              strbuf *ptx, strbuf *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bench/recipes/%s", ATTNC_SOURCE_DIR, file);
    return recipe_ptx(a, path, spec, arch, info, ptx, err);
}

nvptx_status bench_recipe_ptx_env(arena *a, const char *file, const char *spec, const char *name, const char *value,
                                  strbuf *ptx, strbuf *err)
{
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
    nvptx_status st = bench_recipe_ptx(a, file, spec, TARGET_SM90A, NULL, ptx, err);
    unsetenv(name);
    return st;
}

bool bench_recipe_ptx_env_spills(const char *file, const char *spec, const char *name, const char *value, strbuf *ptx,
                                 int *spill, strbuf *err)
{
    arena a;
    arena_init(&a, NULL);
    bool ok = bench_recipe_ptx_env(&a, file, spec, name, value, ptx, err) == NVPTX_OK;
    arena_free_all(&a);
    if (ok) {
        strbuf log;
        sb_init(&log);
        ok = ptxas_spills(sb_cstr(ptx), "sm_90a", spill, &log);
        if (!ok)
            sb_printf(err, "ptxas refused it:\n%s", sb_cstr(&log));
        sb_free(&log);
    }
    return ok;
}

bool bench_recipe_refused(const char *file, const char *spec, target_arch arch, const char *why, strbuf *msg)
{
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx;
    sb_init(&err);
    sb_init(&ptx);
    nvptx_status st = bench_recipe_ptx(&a, file, spec, arch, NULL, &ptx, &err);
    bool ok = st != NVPTX_OK && strstr(sb_cstr(&err), why) != NULL;
    if (st == NVPTX_OK)
        sb_printf(msg, "[%s]: accepted, want a refusal saying '%s'", spec, why);
    else if (!ok)
        sb_printf(msg, "[%s]: status %d, '%s' does not say '%s'", spec, (int)st, sb_cstr(&err), why);
    sb_free(&err);
    sb_free(&ptx);
    arena_free_all(&a);
    return ok;
}
