/* tir_verify.c — the tile IR verifier. Checks, op by op in print order:
 * operand and result counts, every operand defined before use in an
 * enclosing scope, operand kinds (tile, rows, box, range, class), shapes
 * (dot, rescale, softmax_update, state ops ...), attributes (tensors,
 * params, expressions present), `for` body arguments against its inits and
 * results, and `yield` arity and types. A failure names the op (index in
 * print order and its printed line), the operand and the rule. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tir_verify_int.h"

bool tir_vfail(vctx *c, int operand, const char *fmt, ...)
{
    if (c->failed)
        return false;
    c->failed = true;
    sb_printf(c->err, "op %d `", c->index);
    tir_print_op_line(c->err, c->k, c->op);
    sb_puts(c->err, "`: ");
    if (operand >= 0)
        sb_printf(c->err, "operand %d (%%%d): ", operand, c->op->operands[operand] ? c->op->operands[operand]->id : -1);
    else if (operand < -1)
        sb_printf(c->err, "result %d: ", -operand - 2);
    va_list ap;
    va_start(ap, fmt);
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sb_puts(c->err, buf);
    return false;
}

static bool push(vctx *c, tir_value *v)
{
    if (c->nvisible == c->cap) {
        int cap = c->cap ? c->cap * 2 : 64;
        tir_value **p = realloc(c->visible, sizeof *p * (size_t)cap);
        if (!p)
            return tir_vfail(c, -1, "verifier out of memory");
        c->visible = p;
        c->cap = cap;
    }
    c->visible[c->nvisible++] = v;
    return true;
}

static bool is_visible(const vctx *c, const tir_value *v)
{
    for (int i = c->nvisible - 1; i >= 0; i--)
        if (c->visible[i] == v)
            return true;
    return false;
}

const char *tir_vkind_name(tir_value_kind k)
{
    static const char *n[] = {"tile", "rows", "box", "range", "class"};
    return n[k];
}

bool tir_vwant(vctx *c, int i, tir_value_kind kind)
{
    const tir_value *v = c->op->operands[i];
    if (v->type.kind != kind)
        return tir_vfail(c, i, "must be a %s, not a %s", tir_vkind_name(kind), tir_vkind_name(v->type.kind));
    return true;
}

/* Extents agree when equal or either is unknown (0). */
bool tir_vsame_dim(int a, int b)
{
    return a == b || a == 0 || b == 0;
}

bool tir_vsame_shape(const tir_type *a, const tir_type *b)
{
    return tir_vsame_dim(a->shape[0], b->shape[0]) && (a->kind == TV_ROWS || tir_vsame_dim(a->shape[1], b->shape[1]));
}

static bool same_type(const tir_type *a, const tir_type *b)
{
    if (a->kind != b->kind || a->dt != b->dt || a->shape[0] != b->shape[0] || a->shape[1] != b->shape[1])
        return false;
    if (a->space != b->space || a->layout != b->layout || a->box_ndims != b->box_ndims)
        return false;
    for (int i = 0; i < SCHED_MAX_DIMS; i++)
        if (a->box_ext[i] != b->box_ext[i])
            return false;
    return true;
}


static bool verify_block(vctx *c, tir_block *b, tir_op *owner, int owner_index);

static bool verify_for(vctx *c, tir_op *op)
{
    tir_block *b = op->body;
    if (!b)
        return tir_vfail(c, -1, "a for needs a body");
    if (op->nresults != op->noperands - 1)
        return tir_vfail(c, -1, "a for has one result per init: %d inits, %d results", op->noperands - 1, op->nresults);
    if (b->nargs != op->noperands)
        return tir_vfail(c, -1, "for body args: expected %d (the kv box, then one per init), found %d", op->noperands, b->nargs);
    if (b->args[0]->type.kind != TV_BOX)
        return tir_vfail(c, -1, "for body arg 0 (%%%d) must be the key box", b->args[0]->id);
    for (int i = 1; i < op->noperands; i++) {
        if (!same_type(&b->args[i]->type, &op->operands[i]->type))
            return tir_vfail(c, i, "for body arg %d (%%%d) must have the init's type", i, b->args[i]->id);
        if (!same_type(&op->results[i - 1]->type, &op->operands[i]->type))
            return tir_vfail(c, -2 - (i - 1), "for result must have the type of init %d", i);
    }
    int mark = c->nvisible, index = c->index;
    for (int i = 0; i < b->nargs; i++)
        if (!push(c, b->args[i]))
            return false;
    bool ok = verify_block(c, b, op, index);
    c->nvisible = mark;
    return ok;
}

static bool verify_yield(vctx *c, tir_op *op, tir_op *owner, bool last)
{
    if (!owner || !last)
        return tir_vfail(c, -1, "yield must be the last op of a for body");
    if (op->noperands != owner->nresults)
        return tir_vfail(c, -1, "yield arity: %d values for a for with %d results", op->noperands, owner->nresults);
    for (int i = 0; i < op->noperands; i++)
        if (!same_type(&op->operands[i]->type, &owner->results[i]->type))
            return tir_vfail(c, i, "yield value type differs from for result %d", i);
    return true;
}

static bool verify_op(vctx *c, tir_op *op, tir_op *owner)
{
    c->op = op;
    c->index = c->counter++;
    if ((unsigned)op->kind >= TIR_OP_COUNT)
        return tir_vfail(c, -1, "unknown op kind %d", (int)op->kind);
    if (op->noperands < tir_op_min_operands(op->kind) || op->noperands > TIR_MAX_OPERANDS)
        return tir_vfail(c, -1, "%s needs at least %d operands, has %d", tir_op_name(op->kind),
                    tir_op_min_operands(op->kind), op->noperands);
    for (int i = 0; i < op->noperands; i++) {
        if (!op->operands[i])
            return tir_vfail(c, i, "missing operand");
        if (!is_visible(c, op->operands[i]))
            return tir_vfail(c, i, "value used before its definition (or outside its scope)");
    }
    if (op->kind != TIR_FOR && op->kind != TIR_FINALIZE && op->nresults != tir_op_num_results(op->kind))
        return tir_vfail(c, -1, "%s has %d results, not %d", tir_op_name(op->kind), tir_op_num_results(op->kind),
                    op->nresults);
    if ((op->body != NULL) != (op->kind == TIR_FOR))
        return tir_vfail(c, -1, "only for has a body");
    if (!verify_pipe_rules(c, op, owner))
        return false;
    if (op->kind == TIR_YIELD)
        return verify_yield(c, op, owner, op->next == NULL);
    if (op->kind == TIR_FOR && !verify_for(c, op))
        return false;
    if (op->kind != TIR_FOR && !verify_op_rules(c, op))
        return false;
    for (int i = 0; i < op->nresults; i++)
        if (!op->results[i] || !push(c, op->results[i]))
            return c->failed ? false : tir_vfail(c, -2 - i, "missing result");
    return true;
}

static bool verify_block(vctx *c, tir_block *b, tir_op *owner, int owner_index)
{
    int mark = c->nvisible;
    bool yielded = false;
    for (tir_op *op = b->first; op; op = op->next) {
        if (!verify_op(c, op, owner))
            return false;
        yielded = op->kind == TIR_YIELD;
    }
    if (owner && !yielded) {
        c->op = owner;
        c->index = owner_index;
        return tir_vfail(c, -1, "for body does not end with yield");
    }
    c->nvisible = mark;
    return true;
}

bool tir_verify(tir_kernel *k, strbuf *err)
{
    tir_renumber(k);
    vctx c = {.k = k, .err = err};
    if ((unsigned)k->programs >= PROG_COUNT || (k->programs == PROG_ELEMS && (k->param < 0 || k->param >= k->nparams))) {
        sb_printf(err, "kernel programs=%d elems_param=%d: not a program grid of this kernel", (int)k->programs, k->param);
        return false;
    }
    bool ok = k->body && verify_block(&c, k->body, NULL, -1);
    if (!k->body)
        sb_puts(err, "kernel has no body");
    free(c.visible);
    return ok;
}
