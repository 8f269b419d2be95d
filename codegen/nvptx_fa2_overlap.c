/* nvptx_fa2_overlap.c — the key loop of the wgmma kernel with a producer
 * warpgroup when the schedule asks for overlap (plan->overlap, nvptx_fa2.h).
 *
 * overlap=1 (intra-warpgroup): the products of P_{j-1} V_{j-1} wait a tile,
 * so that each iteration issues two independent products back to back,
 *
 *   S_j = Q K_j^T; O += P_{j-1} V_{j-1}     (async, one commit group each)
 *   wait_group 1 (S_j ready); score, mask, softmax of S_j -> P_j, alpha_j
 *   wait_group 0; release slot j-1; O *= alpha_j; pack P_j
 *
 * and the tensor cores work on P V while the warps exponentiate S. The
 * order of the sums changes, not their value: O_j = (O_{j-1} + P_{j-1}
 * V_{j-1}) alpha_j. The loop carries, in variables of the tile builder
 * (allocas: LLVM builds the phis), m, l, O, P packed (an A fragment, Tk/4
 * registers), its tile and whether it is pending; with none pending (the first tile, after an
 * empty one) P is 0 and the product runs on the current tile's V (resident:
 * 0 V adds nothing, as for masked keys). The last P V runs after the loop.
 * K and V have rings of their own (nvptx_fa2_ws.c): K_j is released once
 * S_j is done, V_j after its P V a tile later, so with stages=2 the
 * producer still loads each a tile ahead.
 *
 * What ptxas needs to keep the products asynchronous (sm_90a):
 *  - no register a wgmma reads is written while it runs: P_j is packed
 *    after wait_group 0, into the registers P_{j-1} V_{j-1} read (packing
 *    it before made ptxas serialize every wgmma, C7513), and so is O
 *    rescaled; P_j rides through the wait (nv_wg_wait), so that LLVM cannot
 *    pack it earlier;
 *  - ptxas schedules a wait as early as its block allows, here above the
 *    whole softmax (the packing and the rescale depend on it): the row sums,
 *    which need every exponential, are pinned before it
 *    (nv_wg_pin_before_wait).
 *
 * overlap=2 adds ping-pong (FA3's schedule): the two computing warpgroups
 * take turns to issue their products (named barriers, nvptx_fa2_ws.c), so
 * one's products run while the other does its softmax. Both tiles (K_j and
 * the V of the product) are waited for before the turn, which is held only
 * to issue.
 *
 * Only the products and the waits are new here (nt_mma_async, nt_mma_wait:
 * nvptx_fa2_wgmma.c); score, mask and softmax are nvptx_fa2.c's and
 * nvptx_fa2_softmax.c's. */
#include <math.h>

#include "nvptx_fa2.h"

/* A deferred store ($ATTNC_O_DEFER): variables of the computing warps'
 * item loop. on: the previous item's O waits, normalised, in its staging
 * bytes, and its rows' LSE here, to be stored; x, head, batch: that item. */
typedef struct ov_defer {
    LLVMValueRef on, x, head, batch, lse[2];
} ov_defer;

/* The loop's variables (MR = 1 under wgmma: one row slot pair). */
typedef struct ov_vars {
    LLVMValueRef m[2], l[2]; /* row max and sum per row slot */
    nt_fvar o;               /* the O accumulator, 16 x Dv */
    nt_fvar pp;              /* P of the pending tile, packed: the A fragment of its P V */
    LLVMValueRef pj;         /* its tile index (its V: slot pj % stages) */
    LLVMValueRef pend;       /* i1: a P V is pending */
    bool peel;               /* the next run of tiles starts with first_tile (code generation) */
    ov_defer *d;             /* the deferred store ($ATTNC_O_DEFER), or NULL */
    bool hook;               /* code generation: first_tile runs the deferred store under its S */
    bool settled;            /* code generation: this item's deferred store is emitted */
} ov_vars;

/* P packed, all zeros: the A operand of the product issued with none pending. */
static void zero_p(fa2 *f, nt_frag *pa)
{
    pa->role = NT_A;
    pa->rows = 16;
    pa->cols = f->p->Tk;
    pa->dt = f->p->dt;
    pa->n = f->p->Tk / 4;
    for (int i = 0; i < pa->n; i++)
        pa->v[i] = nv_i32(&f->nv, 0);
}

/* The variables as a key loop starts them: m = -inf, l = 0, O = 0, nothing
 * pending (P = 0). vars_reset sets them again for the next item of a
 * deferred store. */
static void vars_reset(fa2 *f, ov_vars *v)
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    for (int h = 0; h < 2; h++) {
        nt_set(t, v->m[h], nv_f32(nv, -INFINITY));
        nt_set(t, v->l[h], nv_f32(nv, 0));
    }
    nt_frag o, pa;
    nt_zero(t, &o, 16, f->p->Dv);
    nt_fvar_set(t, &v->o, &o);
    zero_p(f, &pa);
    nt_fvar_set(t, &v->pp, &pa);
    nt_set(t, v->pj, nv_i32(nv, 0));
    nt_set(t, v->pend, LLVMConstInt(nv->i1, 0, false));
}

static void vars_new(fa2 *f, ov_vars *v)
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    for (int h = 0; h < 2; h++) {
        v->m[h] = nt_var(t, nv->f32, NULL, "m");
        v->l[h] = nt_var(t, nv->f32, NULL, "l");
    }
    nt_frag o, pa; /* the fragment variables take their shapes from these (vars_reset stores them again) */
    nt_zero(t, &o, 16, f->p->Dv);
    v->o = nt_fvar_new(t, &o);
    zero_p(f, &pa);
    v->pp = nt_fvar_new(t, &pa);
    v->pj = nt_var(t, nv->i32, NULL, "pj");
    v->pend = nt_var(t, nv->i1, NULL, "pend");
    v->d = NULL;
    v->hook = v->settled = false;
    vars_reset(f, v);
}

static LLVMValueRef vslot(fa2 *f, LLVMValueRef j)
{
    return LLVMBuildURem(f->nv.b, fa2_ws_ring_index(f, j), nv_i32(&f->nv, f->p->stages), "");
}

/* The pending P V, waited for, and its slot released (if one is pending). */
static void flush(fa2 *f, ov_vars *v)
{
    nt *t = &f->t;
    LLVMBasicBlockRef join = nt_if(t, nt_get(t, v->pend));
    LLVMValueRef pj = nt_get(t, v->pj);
    nt_frag o, pa;
    nt_fvar_get(t, &v->o, &o);
    nt_fvar_get(t, &v->pp, &pa);
    fa2_ws_wait_v(f, pj);
    fa2_wgmma_pv_packed(f, &pa, vslot(f, pj), &o);
    fa2_ws_release_v(f, pj, NULL);
    nt_fvar_set(t, &v->o, &o);
    nt_endif(t, join);
    nt_set(t, v->pend, LLVMConstInt(f->nv.i1, 0, false));
    zero_p(f, &pa);
    nt_fvar_set(t, &v->pp, &pa);
}

/* An empty tile j: nothing of it is computed, the pending P V is completed
 * (a later tile may need its slot) and the tile's K and V handed back (V
 * once it landed: a phase of its barrier must complete before the producer
 * may start the next on that slot). */
static void skip_tile(fa2 *f, ov_vars *v, LLVMValueRef j)
{
    if (f->p->overlap == 2)
        fa2_ws_turn_pass(f);
    flush(f, v);
    fa2_ws_release_slot(f, f->slot, NULL);
    fa2_ws_wait_v(f, j);
    fa2_ws_release_v(f, j, NULL);
}

/* m and l of the row slots as the softmax code's [mi][h] arrays, and back. */
static void get_ml(fa2 *f, const ov_vars *v, LLVMValueRef m[FA_MAXMR][2], LLVMValueRef l[FA_MAXMR][2])
{
    for (int h = 0; h < 2; h++) {
        m[0][h] = nt_get(&f->t, v->m[h]);
        l[0][h] = nt_get(&f->t, v->l[h]);
    }
}

static void set_ml(fa2 *f, const ov_vars *v, LLVMValueRef m[FA_MAXMR][2], LLVMValueRef l[FA_MAXMR][2])
{
    for (int h = 0; h < 2; h++) {
        nt_set(&f->t, v->m[h], m[0][h]);
        nt_set(&f->t, v->l[h], l[0][h]);
    }
}

/* P_j (the score fragment after its softmax) packed as the pending
 * product's A operand, tile j's. */
static void set_pending(fa2 *f, ov_vars *v, const nt_frag *s, LLVMValueRef j)
{
    nt *t = &f->t;
    nt_frag pa;
    nt_to_a(t, &pa, s, f->p->dt);
    nt_fvar_set(t, &v->pp, &pa);
    nt_set(t, v->pj, j);
    nt_set(t, v->pend, LLVMConstInt(f->nv.i1, 1, false));
}

static void compute_tile(fa2 *f, ov_vars *v, LLVMValueRef j)
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    LLVMValueRef pend = nt_get(t, v->pend), pj = nt_get(t, v->pj);
    LLVMValueRef sa[FA_MAXMR][FA_MAXN][4], m[FA_MAXMR][2], l[FA_MAXMR][2], alpha[FA_MAXMR][2], acc[FA_MAXMR][FA_MAXN][4];
    nt_frag s, o, pa; /* pa: 0 when none is pending */
    nt_fvar_get(t, &v->pp, &pa);
    nt_fvar_get(t, &v->o, &o);
    LLVMValueRef vj = LLVMBuildSelect(nv->b, pend, pj, j, ""); /* resident: the loop body waited */
    fa2_wgmma_issue(f, f->slot, f->p->Tk, &s, &pa, vslot(f, vj), &o);
    if (f->p->overlap == 2)
        fa2_ws_turn_pass(f);
    nt_frag *first[1] = {&s};
    nt_mma_wait(t, 1, first, 1);
    fa2_ws_release_slot(f, f->slot, NULL); /* K_j: S_j is done with it */
    fa2_unfrag(&s, sa);
    fa2_score_and_mask(f, sa);
    get_ml(f, v, m, l);
    fa2_softmax_alpha(f, sa, m, l, alpha);
    LLVMValueRef sums[2] = {l[0][0], l[0][1]};
    nv_wg_pin_before_wait(nv, f->smem32, sums, 2);
    fa2_frag(f, &s, sa, f->p->Tk);
    nt_frag *both[2] = {&o, &s};
    nt_mma_wait(t, 0, both, 2);
    fa2_ws_release_v(f, pj, pend);
    fa2_unfrag(&o, acc);
    fa2_rescale(f, alpha, acc);
    fa2_frag(f, &o, acc, f->p->Dv);
    set_pending(f, v, &s, j);
    set_ml(f, v, m, l);
    nt_fvar_set(t, &v->o, &o);
}

/* The loop's first tile, peeled ($ATTNC_PEEL_FIRST, on by default), with
 * nothing pending: S_j = Q K_j^T alone, its softmax, P_j packed and
 * pending, so that the loop's first iteration issues S_{j+1} with a real
 * P_j V_j (without the peel it issues S_j with P = 0 times V_j: a product
 * that adds nothing, and S_j waits for V_j as well). O is 0, so alpha
 * rescales nothing, unless the narrow first tile (nvptx_fa2_narrow.c) ran
 * before: then O holds its product and is rescaled. K_j acquired. */
static void defer_settle(fa2 *f, ov_vars *v);

static void first_tile(fa2 *f, ov_vars *v, LLVMValueRef j)
{
    LLVMValueRef sa[FA_MAXMR][FA_MAXN][4], m[FA_MAXMR][2], l[FA_MAXMR][2], alpha[FA_MAXMR][2];
    nt *t = &f->t;
    if (v->hook) { /* the previous item's store while S runs */
        nt_frag s;
        fa2_wgmma_issue_qk(f, f->slot, &s);
        defer_settle(f, v);
        nt_frag *one[1] = {&s};
        nt_mma_wait(t, 0, one, 1);
        fa2_unfrag(&s, sa);
    } else {
        fa2_wgmma_qk(f, sa);
    }
    fa2_ws_release_slot(f, f->slot, NULL); /* K_j: S_j is done with it */
    fa2_score_and_mask(f, sa);
    get_ml(f, v, m, l);
    fa2_softmax_alpha(f, sa, m, l, alpha);
    if (fa2_narrow_first_on(f)) {
        LLVMValueRef acc[FA_MAXMR][FA_MAXN][4];
        nt_frag o;
        nt_fvar_get(t, &v->o, &o);
        fa2_unfrag(&o, acc);
        fa2_rescale(f, alpha, acc);
        fa2_frag(f, &o, acc, f->p->Dv);
        nt_fvar_set(t, &v->o, &o);
    }
    nt_frag s;
    fa2_frag(f, &s, sa, f->p->Tk);
    set_pending(f, v, &s, j);
    set_ml(f, v, m, l);
}

/* The narrow tile j (nvptx_fa2_narrow.c; f->p its narrow plan), K
 * acquired, nothing pending: synchronously, m, l and O into the loop's
 * variables, K and V released. */
static void narrow_sync(fa2 *f, const ov_vars *v, LLVMValueRef j0)
{
    nt *t = &f->t;
    fa2_ws_wait_v(f, j0);
    LLVMValueRef sa[FA_MAXMR][FA_MAXN][4], m[FA_MAXMR][2], l[FA_MAXMR][2], acc[FA_MAXMR][FA_MAXN][4];
    nt_frag o;
    nt_fvar_get(t, &v->o, &o);
    fa2_unfrag(&o, acc);
    get_ml(f, v, m, l);
    fa2_wgmma_qk(f, sa);
    fa2_ws_release_slot(f, f->slot, NULL); /* K_0: its product is done */
    fa2_score_and_mask(f, sa);
    fa2_softmax(f, sa, m, l, acc);
    fa2_wgmma_pv(f, sa, acc);
    fa2_ws_release_v(f, j0, NULL);
    set_ml(f, v, m, l);
    fa2_frag(f, &o, acc, f->p->Dv);
    nt_fvar_set(t, &v->o, &o);
}

/* The narrow first tile: tile 0 (fa2_narrow_first's body). */
static void narrow_step(fa2 *f, void *vars)
{
    narrow_sync(f, vars, nv_i32(&f->nv, 0));
}

/* Tile j (K acquired) by step, or, where the loop tests tiles for
 * emptiness (tested), skipped when empty. */
static void tile_unless_empty(fa2 *f, ov_vars *v, LLVMValueRef j, bool tested,
                              void (*step)(fa2 *, ov_vars *, LLVMValueRef))
{
    if (!tested) {
        step(f, v, j);
        return;
    }
    nt_branch br = nt_if_else(&f->t, fa2_tile_empty(f));
    skip_tile(f, v, j);
    nt_else(&f->t, &br);
    step(f, v, j);
    nt_endif_else(&f->t, &br);
}

/* Tiles [lo, hi) of the loop; full: a run of full tiles, emitted without
 * mask or empty tests (fa2_key_loops). The pending P V carries from
 * one such loop into the next through v. */
static void overlap_tiles(fa2 *f, void *user, LLVMValueRef lo, LLVMValueRef hi, bool full)
{
    ov_vars *v = user;
    nt *t = &f->t;
    LLVMBuilderRef b = f->nv.b;
    f->all_full = full;
    /* the first run's first tile, when the run tests no tile for emptiness
     * (nothing is pending yet: vars_new, or after the narrow first tile) */
    bool tested = f->p->empty && !f->p->empty_untested && !full;
    if (v->peel && (!tested || nvptx_peel_all_mode() == 1)) {
        LLVMValueRef any = LLVMBuildICmp(b, LLVMIntSLT, lo, hi, "");
        LLVMBasicBlockRef join = nt_if(t, any);
        fa2_ws_acquire(f, lo);
        v->hook = v->d != NULL;
        tile_unless_empty(f, v, lo, tested, first_tile); /* empty: the loop starts with nothing pending */
        v->hook = false;
        nt_endif(t, join);
        lo = LLVMBuildSelect(b, any, LLVMBuildAdd(b, lo, nv_i32(&f->nv, 1), ""), lo, "");
    }
    v->peel = false;
    if (v->d && !v->settled) { /* no peel, or it had no tile or an empty one: before the loop's first product */
        defer_settle(f, v);
        v->settled = true;
    }
    nt_loop kv;
    LLVMValueRef j = nt_for(t, &kv, lo, hi);
    fa2_ws_acquire(f, j);
    /* V of the product (the pending tile's, else this one's: P = 0) */
    fa2_ws_wait_v(f, LLVMBuildSelect(b, nt_get(t, v->pend), nt_get(t, v->pj), j, ""));
    if (f->p->overlap == 2)
        fa2_ws_turn_wait(f);
    tile_unless_empty(f, v, j, tested, compute_tile);
    nt_for_end(t, &kv);
    f->all_full = false;
}

/* The key loop of one item into v, its last P V done (v->d: the previous
 * item's store deferred into it). */
static void item_keys(fa2 *f, ov_vars *v)
{
    bool pingpong = f->p->overlap == 2;
    if (pingpong)
        fa2_ws_turn_init(f);
    /* not under ping-pong (the turns start in the loop), and in persistent
     * blocks only under $ATTNC_PEEL_ALL=1 (ptxas spilled 8-16 more bytes per
     * item there, before Q's fragments stayed in registers) */
    v->peel = !pingpong && nvptx_peel_first_mode() != 0 && (!f->p->persist || nvptx_peel_all_mode() == 1);
    v->settled = false;
    LLVMValueRef first = fa2_narrow_first(f, narrow_step, v);
    fa2_key_loops(f, overlap_tiles, v, first, f->r_total); /* runs of full tiles in loops of their own under $ATTNC_FULL_RANGE=1 */
    if (pingpong)
        fa2_ws_turn_end(f);
    if (f->p->persist && !f->p->q_regs) /* every S = Q K^T is done (with Q in registers: fa2_ws_q_wait) */
        fa2_ws_q_done(f);
    flush(f, v);
}

/* O normalised and stored, and the LSE, from v, for f's item. */
static void finalize_vars(fa2 *f, const ov_vars *v)
{
    LLVMValueRef m[FA_MAXMR][2], l[FA_MAXMR][2], acc[FA_MAXMR][FA_MAXN][4];
    nt_frag o;
    get_ml(f, v, m, l);
    nt_fvar_get(&f->t, &v->o, &o);
    fa2_unfrag(&o, acc);
    fa2_finalize(f, m, l, acc);
}

void fa2_overlap_loop(fa2 *f)
{
    ov_vars v;
    vars_new(f, &v);
    item_keys(f, &v);
    finalize_vars(f, &v);
}

/* The deferred store ($ATTNC_O_DEFER). Persistent blocks finalize each
 * item after its last P V: the tensor cores idle while O is normalised,
 * staged and stored, then the next item's first S = Q K^T waits alone.
 * Here the item's O is normalised into its staging bytes (and the LSE
 * kept) after its last P V, and the store of both, whose barrier and
 * global stores are most of the finalize, runs in the next item under its
 * first S (the peeled tile issues S, stores, then waits for S) or, when
 * the next item has no such tile, before its loop; the block's last item
 * is stored after the item loop. The store runs with that item's query
 * tile, head and batch set again and its coordinates recomputed
 * (fa2_coords_init), f's fields restored after. Only registers that no
 * product defines cross into the next item (ptxas 13.0 waited for the S
 * product where the deferred half read O's accumulators: C7517). */
bool fa2_defer_on(const fa2 *f)
{
    return nvptx_o_defer_mode() == 1 && f->p->persist && f->p->overlap == 1 && fa2_ostage_on(f) &&
           !fa2_items_dynamic(f);
}

/* f's fields of the current item back after a store for another (the
 * tile builder, the LLVM context and the failure flag carry on). */
static void restore_item(fa2 *f, const fa2 *item)
{
    nv_ctx nv = f->nv;
    nt t = f->t;
    bool failed = f->failed;
    *f = *item;
    f->nv = nv;
    f->t = t;
    f->failed = failed;
}

/* The deferred store, if one is pending. */
static void defer_settle(fa2 *f, ov_vars *v)
{
    nt *t = &f->t;
    const ov_defer *d = v->d;
    LLVMBasicBlockRef join = nt_if(t, nt_get(t, d->on));
    fa2 item = *f; /* ~9 KB */
    f->cta_x = nt_get(t, d->x);
    fa2_set_head(f, nt_get(t, d->head));
    f->batch = nt_get(t, d->batch);
    fa2_coords_init(f);
    LLVMValueRef lse[2] = {nt_get(t, d->lse[0]), nt_get(t, d->lse[1])};
    fa2_finalize_store(f, lse);
    restore_item(f, &item);
    nt_set(t, d->on, LLVMConstInt(f->nv.i1, 0, false));
    nt_endif(t, join);
}

/* The item's O normalised into its staging bytes, its LSE, query tile,
 * head and batch kept for the deferred store; v reset for the next item. */
static void defer_stage(fa2 *f, ov_vars *v)
{
    nt *t = &f->t;
    const ov_defer *d = v->d;
    LLVMValueRef m[FA_MAXMR][2], l[FA_MAXMR][2], acc[FA_MAXMR][FA_MAXN][4], lse[2];
    nt_frag o;
    get_ml(f, v, m, l);
    nt_fvar_get(t, &v->o, &o);
    fa2_unfrag(&o, acc);
    fa2_finalize_stage(f, m, l, acc, lse);
    for (int h = 0; h < 2; h++)
        nt_set(t, d->lse[h], lse[h]);
    nt_set(t, d->on, LLVMConstInt(f->nv.i1, 1, false));
    nt_set(t, d->x, f->cta_x);
    nt_set(t, d->head, f->head);
    nt_set(t, d->batch, f->batch);
    vars_reset(f, v);
}

void fa2_overlap_items(fa2 *f)
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    ov_vars v;
    ov_defer d = {
        .on = nt_var(t, nv->i1, LLVMConstInt(nv->i1, 0, false), "defer"),
        .x = nt_var(t, nv->i32, nv_i32(nv, 0), "defer.x"),
        .head = nt_var(t, nv->i32, nv_i32(nv, 0), "defer.head"),
        .batch = nt_var(t, nv->i32, nv_i32(nv, 0), "defer.batch"),
        .lse = {nt_var(t, nv->f32, nv_f32(nv, 0), "defer.lse"), nt_var(t, nv->f32, nv_f32(nv, 0), "defer.lse")},
    };
    vars_new(f, &v);
    v.d = &d;
    fa2_items items = {.producer = false};
    fa2_items_begin(f, &items);
    fa2_ws_q_wait(f);
    item_keys(f, &v);
    defer_stage(f, &v);
    fa2_items_end(f, &items);
    defer_settle(f, &v); /* the block's last item */
    if (fa2_ostage_on(f))
        fa2_ostage_exit(f);
}
