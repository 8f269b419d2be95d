/* target_check.c — what a recipe needs of its target (frontend.h). */
#include "frontend.h"

const char *frontend_target_problem(const recipe *r, target_arch arch, src_loc *loc)
{
    *loc = r->qkv_dtype_loc;
    if (arch != TARGET_HOST && r->qkv_dtype == DT_F32)
        return "f32 inputs run on the CPU backend only; use bf16 or f16 for the GPU";
    return NULL;
}

bool frontend_target_ok(const recipe *r, target_arch arch, strbuf *err)
{
    src_loc loc;
    const char *why = frontend_target_problem(r, arch, &loc);
    if (why)
        sb_printf(err, "%s:%d:%d: %s", r->file ? r->file : "<recipe>", loc.line, loc.col, why);
    return why == NULL;
}
