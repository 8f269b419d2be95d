/* lower_bwd_common.c — see lower_bwd_common.h. */
#include "lower_bwd_common.h"

#include <stdio.h>
#include <string.h>

tir_kernel *bwd_kernel_new(arena *a, const recipe *r, const schedule *s, const char *suffix, tir_programs progs)
{
    tir_kernel *k = tir_kernel_new(a, r->name);
    if (!k || !lower_kernel_header(k, r))
        return NULL;
    size_t n = strlen(k->name) + strlen(suffix) + 2;
    char *name = arena_alloc(a, n);
    if (!name)
        return NULL;
    snprintf(name, n, "%s.%s", k->name, suffix);
    k->name = name;
    k->sched = *s;
    k->programs = progs;
    return k;
}

bool bwd_program_add(tir_program *p, tir_kernel *k, strbuf *err)
{
    if (!k || p->nkernels == TIR_MAX_KERNELS) {
        sb_puts(err, k ? "internal: too many backward kernels" : "out of memory while lowering the backward");
        return false;
    }
    p->kernels[p->nkernels++] = k;
    return true;
}

tir_type bwd_tile(int rows, int cols, dtype dt)
{
    return tir_tile_type(rows, cols, dt, SPACE_REG);
}

tir_value *bwd_load(lower_ctx *c, tir_value *box, tir_tensor t, tir_type ty)
{
    tir_value *v = lower_emit1(c, TIR_LOAD, OPS(box), ty);
    if (v)
        v->def->tensor = t;
    return v;
}

void bwd_store(lower_ctx *c, tir_value *box, tir_value *v, tir_tensor t)
{
    tir_op *op = lower_emit(c, TIR_STORE, OPS(box, v), NULL, 0);
    if (op)
        op->tensor = t;
}

tir_value *bwd_fill0(lower_ctx *c, tir_type t)
{
    tir_op *op = lower_emit(c, TIR_FILL, NULL, 0, &t, 1);
    return op ? op->results[0] : NULL;
}

tir_value *bwd_dot(lower_ctx *c, tir_value *a, tir_value *b, tir_value *acc, bool ta, bool tb, tir_type ty)
{
    tir_value *v = acc ? lower_emit1(c, TIR_DOT, OPS(a, b, acc), ty) : lower_emit1(c, TIR_DOT, OPS(a, b), ty);
    if (v) {
        v->def->trans_a = ta;
        v->def->trans_b = tb;
    }
    return v;
}

tir_op *bwd_open_for(lower_ctx *c, tir_value *range, tir_value *const *inits, int n, int box_code, tir_value **args,
                     lower_ctx *inner)
{
    tir_value *ops[3] = {range, n > 0 ? inits[0] : NULL, n > 1 ? inits[1] : NULL};
    tir_type res[2] = {tir_simple_type(TV_TILE), tir_simple_type(TV_TILE)};
    for (int i = 0; i < n; i++)
        res[i] = inits[i] ? inits[i]->type : tir_simple_type(TV_TILE);
    tir_op *loop = lower_emit(c, TIR_FOR, ops, 1 + n, res, n);
    if (!loop)
        return NULL;
    loop->body = tir_block_new(c->a);
    args[0] = tir_block_add_arg(c->a, loop->body, lower_box(box_code));
    for (int i = 0; i < n; i++)
        args[1 + i] = tir_block_add_arg(c->a, loop->body, res[i]);
    for (int i = 0; i <= n; i++)
        if (!args[i])
            c->failed = true;
    *inner = *c;
    inner->b = loop->body;
    return c->failed ? NULL : loop;
}
