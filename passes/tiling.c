/* tiling.c — multi-dimensional tiling: the symbolic token extents Tq and Tk
 * become numbers from the schedule. For a token grid a query tile is a box
 * of q_tile[0] x q_tile[1] (x q_tile[2]) tokens and a key tile a box of
 * kv_tile[...] tokens, so a tile holds prod(q_tile) rows — tile shapes are
 * [tokens x head_dim]. Linear attention tiles by blocks of linear_block
 * tokens (one grid dim: the sequence). Boxes at the grid's edge are clipped
 * by the code generator (rows past the edge are neither loaded nor stored). */
#include "mask_analysis.h"
#include "passes.h"

typedef struct tiling {
    int tq, tk;
    int ndims;
    int qext[SCHED_MAX_DIMS], kext[SCHED_MAX_DIMS];
} tiling;

static int resolve(const tiling *t, int v)
{
    return v == TIR_DIM_TQ ? t->tq : v == TIR_DIM_TK ? t->tk : v;
}

static void tile_type(const tiling *t, tir_type *ty)
{
    ty->shape[0] = resolve(t, ty->shape[0]);
    ty->shape[1] = resolve(t, ty->shape[1]);
    if (ty->kind != TV_BOX || ty->box_ndims != 0 || ty->box_ext[0] == 0)
        return;
    const int *ext = ty->box_ext[0] == TIR_DIM_TQ ? t->qext : t->kext;
    ty->box_ndims = t->ndims;
    for (int d = 0; d < t->ndims; d++)
        ty->box_ext[d] = ext[d];
}

static void tile_op(tir_op *op, void *user)
{
    const tiling *t = user;
    for (int i = 0; i < op->nresults; i++)
        tile_type(t, &op->results[i]->type);
    if (op->body)
        for (int i = 0; i < op->body->nargs; i++)
            tile_type(t, &op->body->args[i]->type);
}

bool pass_tiling(tir_kernel *k, const recipe *r, strbuf *err)
{
    const schedule *s = &k->sched;
    tiling t = {0};
    if (k->family == FAMILY_LINEAR) {
        t.tq = t.tk = s->linear_block;
        t.ndims = 1;
        t.qext[0] = t.kext[0] = s->linear_block;
    } else {
        t.tq = schedule_q_tokens(s);
        t.tk = schedule_kv_tokens(s);
        t.ndims = s->ndims;
        for (int d = 0; d < s->ndims; d++) {
            t.qext[d] = s->q_tile[d];
            t.kext[d] = s->kv_tile[d];
        }
    }
    if (t.tq <= 0 || t.tk <= 0) {
        sb_printf(err, "tiling: empty tile (query %d tokens, key %d tokens)", t.tq, t.tk);
        return false;
    }
    tir_walk(k->body, tile_op, &t);
    /* dilation-group tiling for the forward of a dilated mask
     * (mask_dilation.c); backward kernels keep contiguous tiles */
    for (int d = 0; d < SCHED_MAX_DIMS; d++)
        k->dil[d] = 0;
    if (k->family == FAMILY_SOFTMAX && k->programs == PROG_DEFAULT) {
        int dil[SCHED_MAX_DIMS];
        if (!mask_group_dilation(k->arena, r, s, dil)) {
            sb_puts(err, "tiling: out of memory");
            return false;
        }
        for (int d = 0; d < SCHED_MAX_DIMS; d++)
            k->dil[d] = dil[d] > 1 ? dil[d] : 0;
    }
    return true;
}
