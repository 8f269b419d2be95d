/* tir_verify_pipe.c — verifier rules for the software-pipeline markers
 * (docs/TILE_IR.md, "Pipelining"): `for {stages}`, `load {prefetch}`,
 * `wait`, `barrier`. Checked for every op, with the `for` whose body holds
 * it (NULL at the kernel's top level). */
#include "tir_verify_int.h"

enum { TIR_MAX_STAGES = 8 };

/* True when `op` is in `b` (directly, not in a nested body). */
static bool in_block(const tir_block *b, const tir_op *op)
{
    for (const tir_op *o = b ? b->first : NULL; o; o = o->next)
        if (o == op)
            return true;
    return false;
}

static bool uses(const tir_op *op, const tir_value *v)
{
    for (int i = 0; i < op->noperands; i++)
        if (op->operands[i] == v)
            return true;
    return false;
}

static bool pipelined(const tir_op *owner)
{
    return owner && owner->kind == TIR_FOR && owner->stages >= 1;
}

/* wait %t: %t comes from a prefetched load of the same loop body, nothing
 * between that load and the wait reads %t, pending < stages. */
static bool verify_wait(vctx *c, const tir_op *op, const tir_op *owner)
{
    if (!pipelined(owner))
        return tir_vfail(c, -1, "wait must be in the body of a for with stages >= 1");
    if (op->noperands != 1)
        return tir_vfail(c, -1, "wait takes exactly one operand (the prefetched tile)");
    const tir_op *load = op->operands[0]->def;
    if (!load || load->kind != TIR_LOAD || !load->prefetch || !in_block(owner->body, load))
        return tir_vfail(c, 0, "wait must name a prefetched load of the same loop body");
    for (const tir_op *o = load->next; o && o != op; o = o->next)
        if (uses(o, op->operands[0]))
            return tir_vfail(c, 0, "the tile is used before its wait (op `%s`)", tir_op_name(o->kind));
    if (op->pending < 0 || op->pending >= owner->stages)
        return tir_vfail(c, -1, "wait pending=%d must be in [0, stages-1 = %d]", op->pending, owner->stages - 1);
    return true;
}

/* Attributes only the op kinds that print them may carry (else they would
 * be lost by a print/parse round trip). */
static bool verify_attr_owner(vctx *c, const tir_op *op)
{
    if (op->prefetch && op->kind != TIR_LOAD)
        return tir_vfail(c, -1, "prefetch is an attribute of load only");
    if (op->stages && op->kind != TIR_FOR)
        return tir_vfail(c, -1, "stages is an attribute of for only");
    if (op->pending && op->kind != TIR_WAIT)
        return tir_vfail(c, -1, "pending is an attribute of wait only");
    return true;
}

bool verify_pipe_rules(vctx *c, const tir_op *op, const tir_op *owner)
{
    if (!verify_attr_owner(c, op))
        return false;
    switch (op->kind) {
    case TIR_FOR:
        if (op->stages < 0 || op->stages > TIR_MAX_STAGES)
            return tir_vfail(c, -1, "for stages=%d must be in [0, %d] (0: not pipelined)", op->stages, TIR_MAX_STAGES);
        return true;
    case TIR_LOAD:
        if (op->prefetch && !pipelined(owner))
            return tir_vfail(c, -1, "a prefetched load must be in the body of a for with stages >= 1");
        return true;
    case TIR_WAIT:
        return verify_wait(c, op, owner);
    case TIR_BARRIER:
        if (op->noperands != 0)
            return tir_vfail(c, -1, "barrier takes no operands");
        if (!owner)
            return tir_vfail(c, -1, "barrier must be inside a for body (it guards a reused buffer)");
        return true;
    default:
        return true;
    }
}
