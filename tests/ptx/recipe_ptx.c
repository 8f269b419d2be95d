/* recipe_ptx.c — a recipe file to PTX for tests (recipe_ptx.h). */
#include "recipe_ptx.h"

#include "frontend/frontend.h"
#include "runtime/compile/compile_job.h"

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
    diag_list diags;
    diag_list_init(&diags, a, path, text, len);
    recipe *r = frontend_parse(a, path, text, len, &diags);
    if (!r) {
        sb_printf(err, "%s does not parse", path);
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
