/* pipelining.c — the key loop's software pipeline (GPU targets only).
 * For every top-level `for`, with S = the schedule's stages (at least 1):
 *   - the for gets stages=S: its K/V tiles live in S shared-memory stage
 *     buffers and the loads of iteration i+S-1 are issued while iteration i
 *     computes;
 *   - each load of k or v in its body gets prefetch=1;
 *   - `wait %t {pending=S-1}` goes right before the first op that reads a
 *     prefetched tile %t (FA2: the K tile before QK^T, the V tile before
 *     P V), so the tile has landed while up to S-1 later stages stay in flight;
 *   - a `barrier` goes right before the yield: every thread is done with this
 *     stage's buffers before a later prefetch overwrites them.
 * The host target leaves the IR unchanged (no shared memory, no async
 * copies). docs/TILE_IR.md, "Pipelining", gives the exact meaning. */
#include "passes.h"

static bool reads(const tir_op *op, const tir_value *v)
{
    for (int i = 0; i < op->noperands; i++)
        if (op->operands[i] == v)
            return true;
    return false;
}

/* Splices `op` into `b` right before `at` (which is in `b`). */
static void insert_before(tir_block *b, tir_op *at, tir_op *op)
{
    tir_op **link = &b->first;
    while (*link && *link != at)
        link = &(*link)->next;
    op->next = at;
    *link = op;
}

/* A fresh op of `kind` with `nops` operands, outside any block. */
static tir_op *new_op(arena *a, tir_op_kind kind, int nops, tir_value *const *ops)
{
    tir_block scratch = {0};
    return tir_append(a, &scratch, kind, nops, ops, 0, NULL);
}

/* The first op after `load` in its block that reads its tile; the block's
 * last op (the yield) when none does. */
static tir_op *first_use(tir_block *b, tir_op *load)
{
    for (tir_op *o = load->next; o; o = o->next)
        if (reads(o, load->results[0]))
            return o;
    return b->last;
}

static bool pipeline_for(arena *a, tir_op *loop, int stages)
{
    tir_block *b = loop->body;
    if (!b || !b->last || b->last->kind != TIR_YIELD)
        return true; /* not the canonical shape: leave it to the verifier */
    loop->stages = stages;
    for (tir_op *o = b->first; o; o = o->next) {
        if (o->kind != TIR_LOAD || (o->tensor != TENSOR_K && o->tensor != TENSOR_V) || o->prefetch)
            continue;
        o->prefetch = true;
        tir_op *w = new_op(a, TIR_WAIT, 1, o->results);
        if (!w)
            return false;
        w->pending = stages - 1;
        insert_before(b, first_use(b, o), w);
    }
    tir_op *bar = new_op(a, TIR_BARRIER, 0, NULL);
    if (!bar)
        return false;
    insert_before(b, b->last, bar);
    return true;
}

bool pass_pipelining(tir_kernel *k, const recipe *r, strbuf *err)
{
    (void)r;
    if (k->arch == TARGET_HOST)
        return true;
    int stages = k->sched.stages < 1 ? 1 : k->sched.stages;
    for (tir_op *op = k->body->first; op; op = op->next)
        if (op->kind == TIR_FOR && op->stages == 0 && !pipeline_for(k->arena, op, stages)) {
            sb_puts(err, "out of memory in pass pipelining");
            return false;
        }
    return true;
}
