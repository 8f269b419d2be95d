/* lower_common.c — see lower_common.h. */
#include "lower_common.h"

#include <ctype.h>
#include <string.h>

tir_op *lower_emit(lower_ctx *c, tir_op_kind kind, tir_value *const *ops, int nops, const tir_type *res, int nres)
{
    tir_op *op = c->failed ? NULL : tir_append(c->a, c->b, kind, nops, ops, nres, res);
    if (!op)
        c->failed = true;
    return op;
}

tir_value *lower_emit1(lower_ctx *c, tir_op_kind kind, tir_value *const *ops, int nops, tir_type res)
{
    tir_op *op = lower_emit(c, kind, ops, nops, &res, 1);
    return op ? op->results[0] : NULL;
}

tir_type lower_box(int ext_code)
{
    tir_type t = tir_simple_type(TV_BOX);
    t.box_ext[0] = ext_code;
    return t;
}

/* Kernel names print bare in the IR text: keep [A-Za-z0-9_.-] only. */
static char *sanitize(arena *a, const char *name)
{
    char *s = arena_strdup(a, name && *name ? name : "recipe");
    for (char *p = s; p && *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
            *p = '_';
    return s;
}

bool lower_kernel_header(tir_kernel *k, const recipe *r)
{
    k->name = sanitize(k->arena, r->name);
    k->family = r->family;
    k->qkv_dtype = r->qkv_dtype;
    k->head_dim = r->head_dim;
    k->head_dim_v = r->head_dim_v;
    k->grid_ndim = r->grid_ndim;
    k->cross = r->cross;
    k->nsizes = r->nsizes > SZ_EXTRA0 ? (r->nsizes < SZ_MAX ? r->nsizes : SZ_MAX) : SZ_EXTRA0;
    for (int i = 0; i < SZ_MAX; i++)
        k->size_fixed[i] = r->sizes[i].fixed > 0 ? r->sizes[i].fixed : 0;
    if (r->family == FAMILY_LINEAR)
        k->linear = r->linear;
    k->nparams = r->nparams;
    if (r->nparams > 0) {
        k->params = ARENA_ARRAY(k->arena, tir_param, r->nparams);
        if (!k->params)
            return false;
        for (int i = 0; i < r->nparams; i++) {
            const recipe_param *rp = &r->params[i];
            tir_param *p = &k->params[i];
            p->name = rp->name;
            p->dtype = rp->dtype;
            p->ndim = rp->ndim;
            memcpy(p->dims, rp->dims, sizeof p->dims);
            memcpy(p->const_dims, rp->const_dims, sizeof p->const_dims);
        }
    }
    return k->name != NULL;
}
