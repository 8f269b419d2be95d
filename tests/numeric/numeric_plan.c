/* numeric_plan.c — the shapes, dtypes and schedules of each recipe's
 * numeric check; see numeric_plan.h. */
#include "numeric_plan.h"

#include <string.h>

#include "frontend/forms.h"

static int64_t form_arg(const expr *e, int form, int i)
{
    if (!e)
        return 0;
    if (e->kind == EX_FORM && e->u.form == form && i < e->nargs)
        return e->args[i]->u.ival;
    for (int j = 0; j < e->nargs; j++) {
        int64_t v = form_arg(e->args[j], form, i);
        if (v)
            return v;
    }
    return 0;
}

static bool grid_fixed(const recipe *r)
{
    for (int d = 0; d < r->grid_ndim; d++)
        if (r->sizes[SZ_GRID0 + d].fixed <= 0)
            return false;
    return r->grid_ndim > 0;
}

/* Three shapes (batch, heads, kv_heads, tokens or grid) that do not divide
 * the tiles; `slow` makes them bigger. */
static void base_shapes(const recipe *r, bool slow, ref_shape *s)
{
    static const int64_t bh[3][3] = {{1, 2, 1}, {2, 4, 2}, {1, 6, 3}};
    static const int64_t tokens[3] = {77, 130, 203}, tokens_slow[3] = {513, 1000, 777};
    int64_t mins[3];
    ref_min_extents(r, mins);
    int64_t heads_min = form_arg(r->mask_surface, FORM_STRIDED_HEADS, 0);
    int64_t frame = form_arg(r->mask_surface, FORM_RADIAL, 0);
    if (!frame)
        frame = form_arg(r->mask_surface, FORM_RADIAL_VIDEO, 0);
    for (int i = 0; i < 3; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].batch = bh[i][0];
        s[i].heads = heads_min > bh[i][1] ? heads_min : bh[i][1];
        s[i].kv_heads = r->gqa ? bh[i][2] : 0;
        if (r->gqa && s[i].heads % bh[i][2])
            s[i].kv_heads = 1;
        s[i].tokens = (slow ? tokens_slow : tokens)[i];
        if (mins[0] > s[i].tokens && r->grid_ndim == 0)
            s[i].tokens = mins[0] + 5 + 7 * i;
        s[i].bshd = i == 1;
        for (int d = 0; d < r->grid_ndim; d++) {
            int64_t base = mins[d] > 0 ? mins[d] : 4;
            s[i].grid[d] = base + (slow ? 9 : 1) + (i * 3 + d * 2) % 7;
        }
    }
    if (frame > 0) { /* radial: within one frame, then across frames */
        int64_t t[3] = {300, frame - 460, frame + 41};
        for (int i = 0; i < 3; i++) {
            s[i].tokens = slow ? 2 * frame + 77 * i : t[i];
            s[i].batch = 1;
            s[i].heads = i == 0 ? 2 : 1;
        }
    }
    if (grid_fixed(r)) /* big fixed grids: few heads */
        for (int i = 0; i < 3; i++) {
            s[i].batch = slow ? 2 : 1;
            s[i].heads = slow ? 2 : 1;
            s[i].kv_heads = r->gqa ? 1 : 0;
            memset(s[i].grid, 0, sizeof s[i].grid); /* the recipe's own extents */
        }
}

static void alt_schedules(const recipe *r, const char **out)
{
    static const char *seq[2] = {"q=16 kv=32", "q=64 kv=16"};
    static const char *g2[2] = {"q=4x8 kv=8x4", "q=8x16 kv=8x8"};
    static const char *g3[2] = {"q=1x4x8 kv=1x8x4", "q=2x4x4 kv=1x4x8"};
    static const char *lin[2] = {"block=16", "block=32"};
    const char **s = r->family == FAMILY_LINEAR ? lin : r->grid_ndim == 2 ? g2 : r->grid_ndim == 3 ? g3 : seq;
    out[0] = s[0];
    out[1] = s[1];
}

int numeric_plan(const char *name, const recipe *r, bool slow, numeric_case *c)
{
    (void)name;
    ref_shape s[3];
    base_shapes(r, slow, s);
    const char *alt[2];
    alt_schedules(r, alt);
    int n = 0;
    for (int i = 0; i < 3; i++)
        c[n++] = (numeric_case){s[i], r->qkv_dtype, NULL};
    if (slow) { /* bigger shapes under one other schedule too */
        c[n++] = (numeric_case){s[0], r->qkv_dtype, alt[1]};
        return n;
    }
    /* big fixed grids (thousands of tokens) get one other dtype and one
     * other schedule; everything else both other dtypes and two schedules */
    bool big = grid_fixed(r);
    static const dtype all[3] = {DT_BF16, DT_F16, DT_F32};
    for (int i = 0, extra = 0; i < 3 && (!big || extra < 1); i++)
        if (all[i] != r->qkv_dtype) {
            c[n++] = (numeric_case){s[0], all[i], NULL};
            extra++;
        }
    for (int i = 0; i < (big ? 1 : 2); i++)
        c[n++] = (numeric_case){s[1], r->qkv_dtype, alt[i]};
    return n;
}
