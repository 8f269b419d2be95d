/* tools_ptx.c — a recipe's GPU kernel as PTX for attnc's tools
 * (include/attnc_tools.h): the compile job (runtime/compile), each stage
 * timed, its status mapped to the tools' results. */
#include "runtime/include/attnc_tools.h"

#include <stdio.h>
#include <string.h>

#include "runtime/tools/tools_impl.h"

attnc_tools_result tools_gpu_compile(compile_job *j, const char *spec, bool emit, strbuf *err)
{
    j->schedule_text = spec;
    job_status st = emit ? compile_job_run(j) : compile_job_lower(j);
    if (!st)
        return ATTNC_TOOLS_OK;
    switch (j->failed) {
    case JOB_STEP_PARSE: sb_printf(err, "--schedule: %s", sb_cstr(&j->err)); return ATTNC_TOOLS_USER;
    case JOB_STEP_TARGET:
    case JOB_STEP_SCHEDULE: sb_puts(err, sb_cstr(&j->err)); return ATTNC_TOOLS_USER;
    case JOB_STEP_EMIT:
        sb_printf(err, "%s%s", st == JOB_UNSUPPORTED ? "not supported: " : "", sb_cstr(&j->err));
        return ATTNC_TOOLS_INTERNAL;
    default: sb_puts(err, sb_cstr(&j->err)); return ATTNC_TOOLS_INTERNAL;
    }
}

attnc_tools_result attnc_tools_ptx(const attnc_tools_recipe *tr, attnc_tools_arch arch, const char *sched,
                                   attnc_tools_ptx_out *out, strbuf *err)
{
    memset(out, 0, sizeof *out);
    sb_init(&out->ptx);
    compile_job j;
    compile_job_init(&j, tools_recipe_of(tr), (target_arch)arch);
    attnc_tools_result res = tools_gpu_compile(&j, sched, true, err);
    out->lower_ms = j.lower_ms;
    out->codegen_ms = j.codegen_ms;
    if (!res) {
        sb_append(&out->ptx, j.ptx.data, j.ptx.len);
        snprintf(out->name, sizeof out->name, "%s", j.info.name);
        out->threads = j.info.threads;
        out->smem_bytes = j.info.smem_bytes;
        out->ndims = j.info.ndims;
        memcpy(out->q_tile, j.info.q_tile, sizeof out->q_tile);
        if (out->ptx.failed)
            res = ATTNC_TOOLS_INTERNAL;
    }
    compile_job_free(&j);
    return res;
}
