/* recipe_ptx.c — a recipe file to PTX for tests (recipe_ptx.h). */
#include "recipe_ptx.h"

#include "frontend/frontend.h"
#include "passes/pipeline.h"

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
    schedule s = nvptx_default_schedule(lower_signature(a, r), arch);
    if (spec && !schedule_parse(spec, s.ndims, &s, err))
        return NVPTX_INTERNAL;
    tir_kernel *k = lower_recipe(a, r, &s, arch, err);
    if (!k)
        return NVPTX_INTERNAL;
    nvptx_kernel_info unused;
    return nvptx_emit_kernel(k, arch, info ? info : &unused, ptx, err);
}
