/* tir_build.c — constructing tile IR: kernels, blocks, values, ops, and the
 * canonical renumbering. See tile_ir.h for the data model. */
#include "tile_ir.h"

#include <string.h>

static const struct {
    const char *name;
    int min_ops, nres;
    bool body;
} op_info[] = {
#define X(id, name, nopnd, nres, body) {name, nopnd, nres, body},
    TIR_OPS(X)
#undef X
};

const char *tir_op_name(tir_op_kind k)
{
    return (unsigned)k < TIR_OP_COUNT ? op_info[k].name : "?";
}

tir_op_kind tir_op_from_name(const char *name, bool *ok)
{
    for (int i = 0; i < TIR_OP_COUNT; i++) {
        if (!strcmp(op_info[i].name, name)) {
            *ok = true;
            return (tir_op_kind)i;
        }
    }
    *ok = false;
    return TIR_OP_COUNT;
}

int tir_op_min_operands(tir_op_kind k)
{
    return (unsigned)k < TIR_OP_COUNT ? op_info[k].min_ops : 0;
}

int tir_op_num_results(tir_op_kind k)
{
    return (unsigned)k < TIR_OP_COUNT ? op_info[k].nres : 0;
}

tir_kernel *tir_kernel_new(arena *a, const char *name)
{
    tir_kernel *k = ARENA_NEW(a, tir_kernel);
    if (!k)
        return NULL;
    k->name = arena_strdup(a, name ? name : "kernel");
    k->body = tir_block_new(a);
    k->arena = a;
    k->arch = TARGET_HOST;
    k->param = -1;
    k->nsizes = SZ_EXTRA0;
    k->linear.decay_param = -1;
    return k->body && k->name ? k : NULL;
}

void tir_kernel_range_env(const tir_kernel *k, range_env *env)
{
    range_env_init(env, k->grid_ndim, k->size_fixed);
    env->nparams = k->nparams < RANGE_MAX_PARAMS ? k->nparams : RANGE_MAX_PARAMS;
    for (int i = 0; i < env->nparams; i++)
        env->param_dtype[i] = k->params[i].dtype;
}

bool tir_kernel_dilated(const tir_kernel *k)
{
    for (int d = 0; d < SCHED_MAX_DIMS; d++)
        if (k->dil[d] > 1)
            return true;
    return false;
}

int tir_kernel_dil(const tir_kernel *k, int d)
{
    return d >= 0 && d < SCHED_MAX_DIMS && k->dil[d] > 1 ? k->dil[d] : 1;
}

tir_block *tir_block_new(arena *a)
{
    return ARENA_NEW(a, tir_block);
}

tir_value *tir_value_new(arena *a, tir_type t)
{
    tir_value *v = ARENA_NEW(a, tir_value);
    if (v)
        v->type = t;
    return v;
}

tir_op *tir_append(arena *a, tir_block *b, tir_op_kind kind, int nops, tir_value *const *ops, int nres,
                   const tir_type *res_types)
{
    if (!b || nops > TIR_MAX_OPERANDS || nres > TIR_MAX_RESULTS)
        return NULL;
    for (int i = 0; i < nops; i++)
        if (!ops[i])
            return NULL;
    tir_op *op = ARENA_NEW(a, tir_op);
    if (!op)
        return NULL;
    op->kind = kind;
    op->param = -1;
    op->noperands = nops;
    for (int i = 0; i < nops; i++)
        op->operands[i] = ops[i];
    op->nresults = nres;
    for (int i = 0; i < nres; i++) {
        op->results[i] = tir_value_new(a, res_types[i]);
        if (!op->results[i])
            return NULL;
        op->results[i]->def = op;
    }
    if (b->last)
        b->last->next = op;
    else
        b->first = op;
    b->last = op;
    return op;
}

tir_value *tir_block_add_arg(arena *a, tir_block *b, tir_type t)
{
    if (!b || b->nargs >= TIR_MAX_OPERANDS)
        return NULL;
    tir_value *v = tir_value_new(a, t);
    if (v)
        b->args[b->nargs++] = v;
    return v;
}

tir_type tir_tile_type(int rows, int cols, dtype dt, tir_space sp)
{
    tir_type t = {0};
    t.kind = TV_TILE;
    t.dt = dt;
    t.shape[0] = rows;
    t.shape[1] = cols;
    t.space = sp;
    return t;
}

tir_type tir_rows_type(int rows)
{
    tir_type t = {0};
    t.kind = TV_ROWS;
    t.dt = DT_F32;
    t.shape[0] = rows;
    t.space = SPACE_REG;
    return t;
}

tir_type tir_simple_type(tir_value_kind kind)
{
    tir_type t = {0};
    t.kind = kind;
    t.dt = DT_I32;
    return t;
}

static void renumber_block(tir_block *b, int *next)
{
    for (tir_op *op = b ? b->first : NULL; op; op = op->next) {
        for (int i = 0; i < op->nresults; i++)
            op->results[i]->id = (*next)++;
        if (op->body) {
            for (int i = 0; i < op->body->nargs; i++)
                op->body->args[i]->id = (*next)++;
            renumber_block(op->body, next);
        }
    }
}

void tir_renumber(tir_kernel *k)
{
    int next = 0;
    renumber_block(k->body, &next);
}

void tir_walk(tir_block *b, tir_op_visitor fn, void *user)
{
    for (tir_op *op = b ? b->first : NULL; op; op = op->next) {
        fn(op, user);
        if (op->body)
            tir_walk(op->body, fn, user);
    }
}
