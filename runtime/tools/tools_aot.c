/* tools_aot.c — `attnc compile`'s ahead-of-time output for attnc's tools
 * (include/attnc_tools.h): from a recipe, or from PTX and its launch
 * signature, over aot_recipe.h. */
#include "runtime/include/attnc_tools.h"

#include <stdio.h>
#include <stdlib.h>

#include "passes/lower_backward.h"
#include "runtime/aot/aot_recipe.h"
#include "runtime/tools/tools_impl.h"

/* AOT_USER and AOT_PTXAS are the input's fault; the rest attnc's or the
 * system's (AOT_INTERNAL's message gets "internal error: "). */
static attnc_tools_result map_aot(aot_result r, strbuf *why, strbuf *err)
{
    if (r != AOT_OK)
        sb_printf(err, "%s%s", r == AOT_INTERNAL ? "internal error: " : "", sb_cstr(why));
    return r == AOT_OK ? ATTNC_TOOLS_OK : r == AOT_USER || r == AOT_PTXAS ? ATTNC_TOOLS_USER : ATTNC_TOOLS_INTERNAL;
}

static bool parse_block(const char *text, int block[3])
{
    block[0] = block[1] = block[2] = 1;
    int n = sscanf(text, "%d,%d,%d", &block[0], &block[1], &block[2]);
    return n >= 1 && block[0] > 0 && block[1] > 0 && block[2] > 0;
}

attnc_tools_result attnc_tools_aot_from_ptx(const attnc_tools_aot_ptx *in, const char *dir, strbuf *note, strbuf *err)
{
    aot_param params[64];
    char names[4096];
    aot_spec s = {.name = in->name ? in->name : in->entry, .entry = in->entry, .arch = in->arch ? in->arch : "sm_80",
                  .ptx = in->ptx, .ptx_len = in->len, .params = params, .dyn_smem = in->smem, .recipe = in->source};
    s.nparams = aot_parse_signature(in->signature, params, 64, names, sizeof names, err);
    if (s.nparams < 0 || !aot_parse_grid(in->grid, params, s.nparams, s.grid, err))
        return ATTNC_TOOLS_USER;
    if (!parse_block(in->block, s.block)) {
        sb_puts(err, "bad --block (write X[,Y[,Z]] with positive numbers)");
        return ATTNC_TOOLS_USER;
    }
    if (!aot_check_spec(&s, err))
        return ATTNC_TOOLS_USER;
    strbuf why;
    sb_init(&why);
    attnc_tools_result res = map_aot(aot_write_with_cubin(&s, dir, note, &why), &why, err);
    sb_free(&why);
    return res;
}

bool attnc_tools_schedule_parses(const attnc_tools_recipe *tr, const char *text, strbuf *err)
{
    const recipe *r = tools_recipe_of(tr);
    schedule s;
    return schedule_parse(text, r->grid_ndim > 0 ? r->grid_ndim : 1, &s, err);
}

attnc_tools_result attnc_tools_aot_recipe(const attnc_tools_recipe *tr, const char *sched, attnc_tools_arch arch,
                                          const char *name, const char *dir, bool backward, const char *no_grad,
                                          strbuf *note, strbuf *err)
{
    const recipe *r0 = tools_recipe_of(tr);
    schedule s;
    if (sched && !schedule_parse(sched, r0->grid_ndim > 0 ? r0->grid_ndim : 1, &s, err))
        return ATTNC_TOOLS_USER;
    recipe copy; /* the constants marked on a copy (the recipe is shared) */
    recipe_param *params;
    if (!backward_recipe_no_grad(r0, no_grad, &copy, &params, err))
        return ATTNC_TOOLS_USER;
    strbuf why;
    sb_init(&why);
    attnc_tools_result res = map_aot(
        aot_compile_recipe(&copy, sched ? &s : NULL, (target_arch)arch, name, dir, backward, note, &why), &why, err);
    sb_free(&why);
    free(params);
    return res;
}
