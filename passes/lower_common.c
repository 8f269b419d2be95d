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
    k->nparams = r->nparams;
    if (r->nparams > 0) {
        k->param_names = ARENA_ARRAY(k->arena, const char *, r->nparams);
        k->param_dtypes = ARENA_ARRAY(k->arena, dtype, r->nparams);
        if (!k->param_names || !k->param_dtypes)
            return false;
        for (int i = 0; i < r->nparams; i++) {
            k->param_names[i] = r->params[i].name;
            k->param_dtypes[i] = r->params[i].dtype;
        }
    }
    return k->name != NULL;
}
