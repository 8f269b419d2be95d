/* nvptx_bwd_wgmma.c — the backward's warpgroup-MMA products (nvptx_bwd.h,
 * bp->wg): every product of the backward has a forward shape, so they are
 * the tile builder's wgmma products (nvptx/tile.h: nt_mma, nt_mma_group,
 * nt_mma_async / nt_mma_wait), as the forward's, over other tiles:
 *
 *   dK/dV kernel (a warpgroup per 64 keys)   dQ kernel (one warpgroup)
 *   Sᵀ  = K Qᵀ    both K-major in shared     S  = Q Kᵀ
 *   dPᵀ = V dOᵀ   both K-major in shared     dP = dO Vᵀ
 *   dV += Pᵀ dO   Pᵀ registers, dO MN-major  dQ += dS K  (K MN-major)
 *   dK += dSᵀ Q   dSᵀ registers, Q MN-major
 *
 * One swizzled copy of each tile serves both majors (a Q tile is the
 * K-major B of Sᵀ and the MN-major B of dK). The accumulators have the
 * mma.sync layout per warp, so scores, masks and gradients are the
 * mma.sync kernels' code. Shared layout: the mma.sync layout's regions
 * without padding, each 1024-byte aligned, plus the alignment slack; the
 * dK/dV kernel's dQ by bulk reduction adds one or two f32 Tq x D tiles.
 *
 * dQ in the dK/dV kernel (atomic or bulk) is a fifth product, dQ = dS K
 * (dS from shared, K MN-major), one 64-column block of dQ at a time (32
 * accumulator registers on top of dK and dV instead of D/2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvptx_bwd_impl.h"
#include "../ir/target_info.h"

static LLVMValueRef c32(gbw *g, int v)
{
    return nv_i32(&g->f.nv, v);
}

static int align1k(int v)
{
    return (v + 1023) & ~1023;
}

void gw_layout(gbw *g, nvptx_bwd_kind kind)
{
    const fa_plan *p = g->f.p;
    g->pitch_q = g->pitch_k = g->pitch_v = g->pitch_do = g->pitch_ds = GB_SWIZZLED;
    g->off_k = 0;
    g->off_v = p->Tk * p->D * 2;
    int kv = g->off_v + p->Tk * p->Dv * 2;
    g->bank_lo[0] = 0, g->bank_hi[0] = g->bank_size[0] = kv;
    g->off_q = kv * (kind == BWK_DQ ? 2 : 1);
    g->off_do = g->off_q + p->Tq * p->D * 2;
    g->off_lse = g->off_do + p->Tq * p->Dv * 2;
    g->off_delta = g->off_lse + 4 * p->Tq;
    int qs = align1k(g->off_delta + 4 * p->Tq - g->off_q);
    g->bank_lo[1] = g->off_q, g->bank_hi[1] = g->off_q + qs, g->bank_size[1] = qs;
    bool ring = kind == BWK_DKV && g->bp->producer;
    g->off_ds = g->off_q + qs * (kind == BWK_DKV ? (ring ? g->bp->stages : 2) : 1);
    int ds = kind == BWK_DKV && g->bp->atomics ? p->Tq * p->Tk * 2 : 0, nds = ring ? g->bp->ds_bufs : 1;
    if (nds == 2) /* pair n's dS in buffer n % 2 (q_tiles_ring sets bank_dyn[2]) */
        g->bank_lo[2] = g->off_ds, g->bank_hi[2] = g->off_ds + ds, g->bank_size[2] = ds;
    g->off_dqf = g->off_ds + nds * ds;
    /* the scan words (producer: no inverse q range, they hold the ring's
     * 2 x stages mbarriers), the slack of gw_smem_base */
    /* then the document span's cut and run (nvptx_bwd_span.c): 16 bytes past them */
    int bars = 16 * g->bp->stages + (g->bp->dq_writer ? 16 : 0), span = g->bp->doc_param >= 0 ? 16 : 0;
    int scan = ring ? bars + span : 24 + (span ? span : 8); /* mbarriers, the writer's slot */
    int tile = p->Tq * p->D * 4, tail = (scan > 32 ? scan : 32) + 1024;
    g->dqf_bufs = 0;
    if (kind == BWK_DKV && g->bp->bulk) /* double-buffered where it fits (D = 128, 128 keys: 216 KB) */
        g->dqf_bufs = g->bp->dqf_max > 1 &&
                              g->off_dqf + 2 * tile + tail <= target_info_of(TARGET_SM90A)->smem_block_optin
                          ? 2
                          : 1;
    g->off_scan = g->off_dqf + g->dqf_bufs * tile;
    g->off_bar = g->off_scan;
    g->off_span = g->off_scan + (ring ? bars : 24);
    g->smem = g->off_scan + tail;
}

void gw_smem_base(gbw *g)
{
    LLVMSetAlignment(g->f.smem, 1024);
    nv_wg_smem_base(&g->f.nv, g->f.smem, &g->f.smem, &g->f.smem32);
}

void gb_tiles_landed(gbw *g)
{
    nt_cp_wait(&g->f.t, 0);
    if (g->bp->wg)
        nt_proxy_fence(&g->f.t);
}

/* The shared-window address of region offset off (banks applied). */
static LLVMValueRef addr(gbw *g, int off)
{
    return nt_saddr(&g->f.t, gb_smem_off(g, off, NULL));
}

static LLVMValueRef wg_index(gbw *g)
{
    return LLVMBuildLShr(g->f.nv.b, g->f.warp, c32(g, 2), "wg");
}

/* The tile builder of the kernel (gb_ids attached it). Overlap >= 1:
 * descriptors stepped inside the asm (nt.wg_steps): the K and V tiles' 16
 * hoisted 64-bit descriptors held 32 registers over the dK/dV kernel's
 * whole loop. */
static nt *tb(gbw *g)
{
    g->f.t.wg_steps = g->bp->overlap >= 1;
    return &g->f.t;
}

/* The swizzled tile of rows x cols elements at region offset off. */
static nt_smem tile(gbw *g, int off, int rows, int cols)
{
    return nt_tile_sw(&g->f.t, gb_smem_off(g, off, NULL), rows, cols, g->f.p->dt);
}

/* A 16 x cols accumulator of the warp as a fragment, and back. */
static void to_frag(nt_frag *f, LLVMValueRef (*acc)[4], int cols)
{
    *f = (nt_frag){.role = NT_C, .rows = 16, .cols = cols, .dt = DT_F32, .n = cols / 2};
    for (int i = 0; i < cols / 2; i++)
        f->v[i] = acc[i / 4][i % 4];
}

static void from_frag(const nt_frag *f, LLVMValueRef (*acc)[4])
{
    for (int i = 0; i < f->n; i++)
        acc[i / 4][i % 4] = f->v[i];
}

/* acc = A·Bᵀ (zeros in: not read) of gw_ss: A this warpgroup's 64 rows of
 * the K-major tile at off_a, B the K-major tile at off_b (read
 * transposed). */
static nt_mma_op ss_op(gbw *g, nt_frag *acc, int off_a, int rows_a, int off_b, int k, int n)
{
    nt *t = &g->f.t;
    nt_zero(t, acc, 16, n);
    LLVMValueRef row0 = LLVMBuildMul(g->f.nv.b, wg_index(g), c32(g, 64), "");
    nt_smem a = nt_sub(t, tile(g, off_a, rows_a, k), row0, c32(g, 0), 64, k);
    return (nt_mma_op){acc, nt_shared(a, false), nt_shared(tile(g, off_b, n, k), true), NULL};
}

/* slots += A·B of gw_accumulate: A the accumulator a_src (k columns) as
 * registers, B the MN-major tile at off_b (k rows, n columns). */
static nt_mma_op rs_op(gbw *g, nt_frag *acc, nt_frag *a, LLVMValueRef (*slots)[4], LLVMValueRef (*a_src)[4], int k,
                       int off_b, int n)
{
    LLVMValueRef v[FA_MAXN][4];
    gb_read(g, slots, n / 8, v);
    to_frag(acc, v, n);
    to_frag(a, a_src, k);
    return (nt_mma_op){acc, nt_reg(a), nt_shared(tile(g, off_b, k, n), false), NULL};
}

static void rs_done(gbw *g, const nt_frag *acc, LLVMValueRef (*slots)[4])
{
    LLVMValueRef v[FA_MAXN][4];
    from_frag(acc, v);
    gb_write(g, slots, acc->cols / 8, v);
}

void gw_ss(gbw *g, LLVMValueRef (*acc)[4], int off_a, int rows_a, int off_b, int k, int n)
{
    nt_frag c;
    nt_mma_op op = ss_op(g, &c, off_a, rows_a, off_b, k, n);
    nt_mma_group(tb(g), &op, 1, g->f.p->dt);
    from_frag(&c, acc);
}

void gw_ss2(gbw *g, LLVMValueRef (*acc0)[4], int off_a0, int off_b0, int k0, LLVMValueRef (*acc1)[4], int off_a1,
            int off_b1, int k1, int rows_a, int n)
{
    nt_frag c[2];
    nt_mma_op ops[2] = {ss_op(g, &c[0], off_a0, rows_a, off_b0, k0, n), ss_op(g, &c[1], off_a1, rows_a, off_b1, k1, n)};
    nt_mma_group(tb(g), ops, 2, g->f.p->dt);
    from_frag(&c[0], acc0);
    from_frag(&c[1], acc1);
}

void gw_accumulate(gbw *g, LLVMValueRef (*slots)[4], LLVMValueRef (*a_src)[4], int k, int off_b, int n)
{
    nt_frag c, a;
    nt_mma_op op = rs_op(g, &c, &a, slots, a_src, k, off_b, n);
    nt_mma_group(tb(g), &op, 1, g->f.p->dt);
    rs_done(g, &c, slots);
}

void gw_accumulate_ss(gbw *g, LLVMValueRef (*slots)[4], LLVMValueRef (*a_src)[4], int k, int off_b, int n,
                      LLVMValueRef (*acc)[4], int off_a1, int rows_a1, int off_b1, int k1, int n1)
{
    nt_frag c[2], a;
    nt_mma_op ops[2] = {rs_op(g, &c[0], &a, slots, a_src, k, off_b, n), ss_op(g, &c[1], off_a1, rows_a1, off_b1, k1, n1)};
    nt_mma_group(tb(g), ops, 2, g->f.p->dt);
    rs_done(g, &c[0], slots);
    from_frag(&c[1], acc);
}

void gw_accumulate2(gbw *g, int k, LLVMValueRef (*slots0)[4], LLVMValueRef (*a_src0)[4], int off_b0, int n0,
                    LLVMValueRef (*slots1)[4], LLVMValueRef (*a_src1)[4], int off_b1, int n1)
{
    nt_frag c[2], a[2];
    nt_mma_op ops[2] = {rs_op(g, &c[0], &a[0], slots0, a_src0, k, off_b0, n0),
                        rs_op(g, &c[1], &a[1], slots1, a_src1, k, off_b1, n1)};
    nt_mma_group(tb(g), ops, 2, g->f.p->dt);
    rs_done(g, &c[0], slots0);
    rs_done(g, &c[1], slots1);
}

void gw_ss2_async(gbw *g, LLVMValueRef (*acc0)[4], int off_a0, int off_b0, int k0, LLVMValueRef (*acc1)[4],
                  int off_a1, int off_b1, int k1, int rows_a, int n)
{
    nt_frag c[2];
    nt_mma_op ops[2] = {ss_op(g, &c[0], off_a0, rows_a, off_b0, k0, n), ss_op(g, &c[1], off_a1, rows_a, off_b1, k1, n)};
    nt_mma_async(tb(g), ops, 2, g->f.p->dt);
    from_frag(&c[0], acc0);
    from_frag(&c[1], acc1);
}

void gw_ss_async(gbw *g, LLVMValueRef (*acc)[4], int off_a, int rows_a, int off_b, int k, int n)
{
    nt_frag c;
    nt_mma_op op = ss_op(g, &c, off_a, rows_a, off_b, k, n);
    nt_mma_async(tb(g), &op, 1, g->f.p->dt);
    from_frag(&c, acc);
}

void gw_wait_acc(gbw *g, int n, LLVMValueRef (*acc)[4], int ncols)
{
    nt_frag c, *list = &c;
    to_frag(&c, acc, ncols);
    nt_mma_wait(tb(g), n, &list, 1);
    from_frag(&c, acc);
}

void gw_accumulate_async(gbw *g, LLVMValueRef (*slots)[4], LLVMValueRef (*a_src)[4], int k, int off_b, int n,
                         gw_pend *pend)
{
    int i = pend->n++;
    nt_frag a;
    nt_mma_op op = rs_op(g, &pend->op[i].acc, &a, slots, a_src, k, off_b, n);
    op.a_live = &pend->op[i].a;
    nt_mma_async(tb(g), &op, 1, g->f.p->dt);
    pend->op[i].slots = slots;
}

/* Every value rides through one wait: the accumulators come back valid,
 * the A registers stay untouched until the products are done. The last n
 * products stay running (and in pend). */
void gw_pend_wait(gbw *g, gw_pend *pend, int n, nt_frag *extra)
{
    nt_frag *list[1 + 2 * GW_MAXPEND];
    int count = 0, done = pend->n - n;
    if (extra)
        list[count++] = extra;
    for (int o = 0; o < done; o++) {
        list[count++] = &pend->op[o].acc;
        list[count++] = &pend->op[o].a;
    }
    nt_mma_wait(tb(g), n, list, count);
    for (int o = 0; o < done; o++)
        rs_done(g, &pend->op[o].acc, pend->op[o].slots);
    for (int o = done; o < pend->n; o++)
        pend->op[o - done] = pend->op[o];
    pend->n = n;
}

/* The same by stmatrix .trans (bulk dQ): each 8x8 block of dSᵀ (keys x
 * queries) goes out transposed, a 16-byte row of 8 keys per query, so a
 * thread issues Tq/16 x4 stores where scalar ones take Tq/2, and the
 * registers are the packed A fragments of dK += dSᵀ Q (gb_pack_a: keys
 * +0/+8 x queries +0/+8). Lane l names row l % 8 of matrix l / 8; the 16
 * queries of step kk add kk·16 rows (2048 bytes, the same swizzle phase),
 * so one base address serves every step. (The scalar stores' 32 swizzled
 * addresses are loop-invariant: LLVM hoisted them out of the query loop
 * and ptxas spilled 64 bytes in causal D=128.) */
static void store_ds_stmatrix(gbw *g, LLVMValueRef (*ds)[4])
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef m = LLVMBuildLShr(b, f->lane, c32(g, 3), "");
    LLVMValueRef q = LLVMBuildAdd(b, LLVMBuildAnd(b, f->lane, c32(g, 7), ""),
                                  LLVMBuildShl(b, LLVMBuildLShr(b, m, c32(g, 1), ""), c32(g, 3), ""), "");
    LLVMValueRef ch = LLVMBuildAdd(b, LLVMBuildShl(b, f->warp, c32(g, 1), ""), LLVMBuildAnd(b, m, c32(g, 1), ""), "");
    LLVMValueRef base = LLVMBuildAdd(b, addr(g, g->off_ds), nv_wg_swizzle_offset(nv, q, ch, f->p->Tq), "");
    for (int kk = 0; kk < f->p->Tq / 16; kk++) {
        LLVMValueRef a[5];
        a[0] = LLVMBuildAdd(b, base, c32(g, kk * 16 * 128), "");
        gb_pack_a(g, ds, kk, &a[1]);
        nv_asm(nv, NULL, "stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [$0], {$1, $2, $3, $4};", "r,r,r,r,r,~{memory}",
               a, 5);
    }
}

/* dSᵀ (this warp's 16 keys x the tile's queries) -> shared as the swizzled
 * K-major tile dS [query][key]: by stmatrix under bulk dQ unless
 * $ATTNC_BWD_DS_STORE=scalar (a check of the stmatrix path on the GPU),
 * else by scalar stores. */
void gw_store_ds(gbw *g, LLVMValueRef (*ds)[4])
{
    const char *how = getenv("ATTNC_BWD_DS_STORE");
    if (g->bp->ds_split) /* the other warpgroup's dQ products are done with the last dS */
        gr_ds_wait(g);
    if (g->bp->bulk && !(how && !strcmp(how, "scalar"))) {
        store_ds_stmatrix(g, ds);
        return;
    }
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    LLVMBuilderRef b = nv->b;
    LLVMTypeRef et = p->dt == DT_F16 ? nv->f16 : nv->bf16;
    LLVMValueRef key0 = LLVMBuildAdd(b, LLVMBuildMul(b, f->warp, c32(g, 16), ""), f->g, "");
    for (int nb = 0; nb < p->Tq / 8; nb++)
        for (int e = 0; e < 4; e++) {
            LLVMValueRef q = LLVMBuildAdd(b, LLVMBuildShl(b, f->t4, c32(g, 1), ""), c32(g, nb * 8 + (e & 1)), "");
            LLVMValueRef key = LLVMBuildAdd(b, key0, c32(g, 8 * (e >> 1)), "");
            LLVMValueRef at = nv_wg_swizzle_offset(nv, q, LLVMBuildLShr(b, key, c32(g, 3), ""), p->Tq);
            at = LLVMBuildAdd(b, at, LLVMBuildShl(b, LLVMBuildAnd(b, key, c32(g, 7), ""), c32(g, 1), ""), "");
            LLVMBuildStore(b, LLVMBuildFPTrunc(b, ds[nb][e], et, ""), gb_smem_at(g, g->off_ds, at));
        }
}

/* Warpgroup w adds dS[:, its 64 keys] K[its 64 keys, :] (m64 = the 64
 * queries) into dQacc: every warpgroup works, and the sum over them is the
 * accumulator's. One 64-column block of dQ at a time: 32 accumulator
 * registers on top of dK and dV instead of D/2. */
void gw_dq_atomic(gbw *g, LLVMValueRef (*ds)[4])
{
    fa2 *f = &g->f;
    const fa_plan *p = f->p;
    LLVMBuilderRef b = f->nv.b;
    nt t = *tb(g);
    t.wg_steps = false; /* a descriptor per step, hoisted out of the column loop */
    gw_store_ds(g, ds);
    nt_proxy_fence(&t);
    nt_barrier(&t);
    LLVMValueRef wg = wg_index(g);
    /* dS columns 64w.. are column block w of the dS tile */
    nt_smem dsw = nt_col_block(&t, tile(g, g->off_ds, p->Tq, p->Tk), wg, 64);
    /* K rows 64w.. */
    nt_smem kw = nt_sub(&t, tile(g, g->off_k, p->Tk, p->D), LLVMBuildMul(b, wg, c32(g, 64), ""), c32(g, 0), 64, p->D);
    LLVMValueRef row0 = LLVMBuildMul(b, LLVMBuildAnd(b, f->warp, c32(g, 3), ""), c32(g, 16), "");
    for (int cb = 0; cb < p->D / 64; cb++) {
        nt_frag acc;
        LLVMValueRef v[8][4];
        nt_zero(&t, &acc, 16, 64);
        nt_mma(&t, &acc, nt_shared(dsw, false), nt_shared(nt_col_block(&t, kw, c32(g, cb), 64), false), p->dt);
        from_frag(&acc, v);
        gb_dq_red(g, row0, 0, cb * 64, 64, v);
    }
}

/* ---- dQ by bulk reduction ----
 *
 * Each pair's dQ contribution dS K (Tq x D, f32) is formed in a shared
 * tile and added to the query tile's block of the tile-contiguous
 * accumulator by cp.reduce.async.bulk .add.f32 (the L2 adds; one
 * instruction per 16 KB instead of 8192 red.global.add.f32).
 *
 * The warpgroups split dQ by 64-column blocks, not by keys: warpgroup w
 * computes the column blocks cb = w, w + W, ... (W warpgroups) as
 * dS[:, all Tk keys] K[all keys, cb] (k = Tk), where the atomic path has
 * each sum its own 64 keys over every column. The products are the same
 * size, but every element of the shared tile then has exactly one writer:
 * no read-add-write pass, no race, and no barrier between the
 * warpgroups, only a named barrier of each warpgroup's 128 threads before
 * its first thread issues the reduction of its own blocks. (D = 64 with
 * two warpgroups: one block, the second warpgroup skips it.)
 *
 * The shared tile is in the accumulator fragment's order, which the
 * global block keeps (attnc_bwd_dq_cvt undoes it, gw_dqf_coords): column
 * block cb, 16-row block r (warp r of the warpgroup), 8-column block nb,
 * lane, element: a warp stores each nb as one 512-byte run of st.v4
 * (conflict-free), where row-major rows 512 bytes apart would hit the
 * same banks 8 ways.
 *
 * dS is in shared memory already (gw_store_ds, before dK += dSᵀ Q: its
 * f32 values then die before that product, not after it).
 *
 * Buffers: with two, pair n writes buffer n % 2; each warpgroup's first
 * thread, the only one with bulk groups, waits until at most one group
 * (the previous pair's, the other buffer) may still read shared memory
 * before the block barrier that publishes dS, so after it every thread
 * may overwrite buffer n % 2. With one buffer it waits for all. */

enum { DQF_ROWBLK = 16 * 64 * 4, DQF_NB = 32 * 16 }; /* bytes: a warp's 16 x 64 block, one 8-column run */

/* This pair's query tile, row-major over the tile dims (gb_q_tiles). */
static LLVMValueRef q_tile_index(gbw *g)
{
    fa2 *f = &g->f;
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef nqt[3], t = c32(g, 0);
    gb_q_tiles(g, nqt);
    for (int d = 0; d < f->p->ndims; d++) {
        LLVMValueRef qi = LLVMBuildUDiv(b, f->q_org[d], c32(g, f->p->q_ext[d]), "");
        t = LLVMBuildAdd(b, LLVMBuildMul(b, t, nqt[d], ""), qi, "");
    }
    return t;
}

static void store_v4(gbw *g, LLVMValueRef at, LLVMValueRef *v)
{
    nv_ctx *nv = &g->f.nv;
    LLVMValueRef vec = LLVMGetUndef(LLVMVectorType(nv->f32, 4));
    for (int e = 0; e < 4; e++)
        vec = LLVMBuildInsertElement(nv->b, vec, v[e], c32(g, e), "");
    LLVMSetAlignment(LLVMBuildStore(nv->b, vec, at), 16);
}

/* The product of dQ's column block cb (dynamic): dS [query][key], K-major
 * over all Tk keys, times K's column block cb (MN-major). */
static nt_mma_op dqf_op(gbw *g, nt_frag *acc, LLVMValueRef cb)
{
    const fa_plan *p = g->f.p;
    nt *t = &g->f.t;
    nt_zero(t, acc, 16, 64);
    nt_smem k = nt_col_block(t, tile(g, g->off_k, p->Tk, p->D), cb, 64);
    return (nt_mma_op){acc, nt_shared(tile(g, g->off_ds, p->Tq, p->Tk), false), nt_shared(k, false), NULL};
}

/* Block cb's accumulators (flat) into the f32 tile at buffer offset buf. */
static void dqf_store(gbw *g, LLVMValueRef cb, LLVMValueRef buf, LLVMValueRef *flat)
{
    fa2 *f = &g->f;
    LLVMBuilderRef b = f->nv.b;
    LLVMValueRef at = LLVMBuildMul(b, cb, c32(g, f->p->Tq * 64 * 4), "");
    at = LLVMBuildAdd(b, at, LLVMBuildMul(b, LLVMBuildAnd(b, f->warp, c32(g, 3), ""), c32(g, DQF_ROWBLK), ""), "");
    at = LLVMBuildAdd(b, at, LLVMBuildShl(b, f->lane, c32(g, 4), ""), "");
    at = LLVMBuildAdd(b, at, buf, "");
    for (int nb = 0; nb < 8; nb++)
        store_v4(g, gb_smem_at(g, g->off_dqf + nb * DQF_NB, at), &flat[4 * nb]);
}

/* The dQ writer's named barriers (bp->dq_writer; ids past the ring's 3..5)
 * of warpgroup w: its 128 threads and the writer warp. */
enum { DQW_FULL = 6, DQW_EMPTY = 8, DQW_THREADS = 128 + 32 };

static LLVMValueRef dqw_id(gbw *g, int base, LLVMValueRef wg)
{
    return LLVMBuildAdd(g->f.nv.b, wg, c32(g, base), "");
}

/* Whether warpgroup wg has dQ blocks (wg < D / 64; all of them unless
 * D = 64 with two warpgroups). */
static LLVMValueRef has_blocks(gbw *g, LLVMValueRef wg)
{
    return LLVMBuildICmp(g->f.nv.b, LLVMIntULT, wg, c32(g, g->f.p->D / 64), "");
}

/* The writer's slot (8 bytes after the ring's mbarriers): the pair's head
 * and first query row (both live in the computing warps already: nothing
 * to compute there), head -1 when the computing warps are done. Thread 0
 * stores it by a predicated st.shared: no branch around it, so no aligned
 * barrier after it can be duplicated into divergent paths. */
static LLVMValueRef dqw_slot(gbw *g)
{
    return addr(g, g->off_bar + 16 * g->bp->stages);
}

static void dqw_put(gbw *g, LLVMValueRef head, LLVMValueRef row)
{
    LLVMValueRef args[4] = {dqw_slot(g), head, row, g->f.tid};
    nv_asm(&g->f.nv, NULL, "{ .reg .pred p; setp.eq.u32 p, $3, 0; @p st.shared.v2.u32 [$0], {$1, $2}; }",
           "r,r,r,r,~{memory}", args, 4);
}

/* Pair `pairs`'s f32 dQ tile: its byte offset from off_dqf (two tiles alternate). */
static LLVMValueRef dqf_buf(gbw *g, LLVMValueRef pairs)
{
    LLVMBuilderRef b = g->f.nv.b;
    if (g->dqf_bufs != 2)
        return c32(g, 0);
    return LLVMBuildMul(b, LLVMBuildAnd(b, pairs, c32(g, 1), ""), c32(g, g->f.p->Tq * g->f.p->D * 4), "");
}

/* Until at most dqf_bufs - 1 bulk reductions may still read shared memory
 * (a no-op in threads without bulk groups). */
static void dqf_read_wait(gbw *g)
{
    char text[64];
    snprintf(text, sizeof text, "cp.async.bulk.wait_group.read %d;", g->dqf_bufs - 1);
    nv_asm(&g->f.nv, NULL, text, "~{memory}", NULL, 0);
}

/* One block's bulk reduction: bytes of shared f32 at src added into dst. */
static void dqf_reduce(gbw *g, LLVMValueRef dst, LLVMValueRef src, int bytes)
{
    char text[128];
    snprintf(text, sizeof text, "cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [$0], [$1], %d;", bytes);
    LLVMValueRef args[2] = {dst, src};
    nv_asm(&g->f.nv, NULL, text, "l,r,~{memory}", args, 2);
}

bool gw_dq_bulk_late_dk(const gbw *g)
{
    const fa_plan *p = g->f.p;
    return g->bp->bulk && p->Tk / 64 <= p->D / 64;
}

bool gw_dq_bulk_takes_dk(const gbw *g)
{
    const fa_plan *p = g->f.p;
    return g->bp->bulk && g->bp->overlap == 2 && (p->D / 64) % (p->Tk / 64) == 0;
}

void gw_dq_bulk(gbw *g, LLVMValueRef (*dk)[4], LLVMValueRef (*ds)[4], gw_pend *pend)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    LLVMBuilderRef b = nv->b;
    int W = p->Tk / 64, ncb = p->D / 64, blk = p->Tq * 64 * 4;
    LLVMValueRef pairs = LLVMBuildLoad2(b, nv->i32, g->dq_pairs, "");
    LLVMValueRef buf = dqf_buf(g, pairs);
    nt *t = tb(g);
    nt_proxy_fence(t); /* gw_store_ds's stores before the products' reads */
    bool writer = g->bp->dq_writer; /* the writer warp has the bulk groups */
    if (!writer)
        dqf_read_wait(g);
    if (g->bp->producer) /* the producer warpgroup takes no part */
        gr_sync(g);
    else
        nt_barrier(t); /* dS published; this pair's buffer free */
    if (pend && pend->n && W > ncb) /* the first block is guarded: no wait shared with it */
        gw_pend_wait(g, pend, 0, NULL);
    LLVMValueRef wg = wg_index(g);
    for (int j = 0; j * W < ncb; j++) {
        LLVMValueRef cb = LLVMBuildAdd(b, wg, c32(g, j * W), "");
        bool guard = (j + 1) * W > ncb;
        LLVMBasicBlockRef join = guard ? nv_if(nv, LLVMBuildICmp(b, LLVMIntULT, cb, c32(g, ncb), ""), "dqf") : NULL;
        nt_frag x, y[2];
        nt_mma_op ops[2] = {dqf_op(g, &x, cb)};
        if (pend && pend->n && j == 0) { /* the running products under this block's wait */
            nt_mma_async(t, ops, 1, p->dt);
            if (dk) /* dK += dSᵀ Q behind it, left running while the block is stored */
                gw_accumulate_async(g, dk, ds, p->Tq, g->off_q, p->D, pend);
            gw_pend_wait(g, pend, dk ? 1 : 0, &x);
        } else if (dk && j == 0) { /* dK += dSᵀ Q under the same wait (every warpgroup has a block j = 0) */
            ops[1] = rs_op(g, &y[0], &y[1], dk, ds, p->Tq, g->off_q, p->D);
            nt_mma_group(t, ops, 2, p->dt);
            rs_done(g, &y[0], dk);
        } else {
            nt_mma_group(t, ops, 1, p->dt);
        }
        if (writer && j == 0) /* the writer's copies of the last tile read it */
            nt_bar_sync(t, dqw_id(g, DQW_EMPTY, wg), DQW_THREADS);
        dqf_store(g, cb, buf, x.v);
        if (join)
            nv_endif(nv, join);
    }
    if (g->bp->ds_split) /* this warpgroup's dQ products no longer read dS */
        gr_ds_done(g);
    nt_proxy_fence(t); /* the st.shared above before the bulk copy's reads */
    if (writer) { /* the tile to the writer, no waiting (1-D: the tile's first row is q_org) */
        dqw_put(g, f->head, f->q_org[0]);
        LLVMBasicBlockRef jw = W > ncb ? nv_if(nv, has_blocks(g, wg), "dqw.full") : NULL;
        nt_bar_arrive(t, dqw_id(g, DQW_FULL, wg), DQW_THREADS);
        if (jw)
            nv_endif(nv, jw);
        LLVMBuildStore(b, LLVMBuildAdd(b, pairs, c32(g, 1), ""), g->dq_pairs);
        return;
    }
    nt_bar_sync(t, LLVMBuildAdd(b, wg, c32(g, 1), ""), 128);
    LLVMValueRef lead = LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildAnd(b, f->tid, c32(g, 127), ""), c32(g, 0), "");
    LLVMBasicBlockRef jl = nv_if(nv, lead, "dqf.issue");
    LLVMValueRef tile = LLVMBuildMul(b, q_tile_index(g), c32(g, p->Tq), "");
    LLVMValueRef dst0 = gb_dqacc_rows(g, f->head, tile);
    LLVMValueRef src0 = LLVMBuildAdd(b, addr(g, g->off_dqf), buf, "");
    for (int j = 0; j * W < ncb; j++) {
        LLVMValueRef cb = LLVMBuildAdd(b, wg, c32(g, j * W), "");
        bool guard = (j + 1) * W > ncb;
        LLVMBasicBlockRef join = guard ? nv_if(nv, LLVMBuildICmp(b, LLVMIntULT, cb, c32(g, ncb), ""), "dqf") : NULL;
        LLVMValueRef off = LLVMBuildMul(b, cb, c32(g, blk), "");
        LLVMValueRef dst = nv_gep(nv, dst0, LLVMBuildZExt(b, off, nv->i64, ""));
        dqf_reduce(g, dst, LLVMBuildAdd(b, src0, off, ""), blk);
        if (join)
            nv_endif(nv, join);
    }
    nv_asm(nv, NULL, "cp.async.bulk.commit_group;", "~{memory}", NULL, 0);
    nv_endif(nv, jl);
    LLVMBuildStore(b, LLVMBuildAdd(b, pairs, c32(g, 1), ""), g->dq_pairs);
}

/* bp->dq_defer. gw_dq_bulk waits for a pair's dQ product at the pair's end,
 * then stores, fences, synchronizes and issues the block's reduction before
 * the next pair's first product: the tensor cores idle meanwhile (both
 * warpgroups meet at the dS barrier, so neither fills the gap). Deferred,
 * pair i runs
 *
 *   dQ_{i-1} = dS_{i-1} K (its block cb = the warpgroup), Sᵀ_i    issued
 *   wait 1: dQ_{i-1} done; its f32 block -> shared (if pending); fence
 *   barrier of the computing threads: both warpgroups' dQ_{i-1} are done
 *     with dS (so dS_i may be stored) and every block is in shared memory
 *   first thread of each warpgroup: the block's bulk reduction
 *   ... Pᵀ_i, dV_i, dPᵀ_i, dSᵀ_i -> shared, dK_i issued ...
 *   publish: fence (dS before the async proxy's reads), this pair's f32
 *     tile read by its last reduction, barrier (dS published)
 *
 * and the tensor cores run Sᵀ_i while the block goes out. The dQ product
 * leaves no wgmma in flight across the loop's back edge (ptxas keeps the
 * products asynchronous only within straight pipelines) and runs
 * unconditionally: with none pending (a CTA's first pair) it reads
 * whatever shared memory holds and its result is dropped.
 *
 * Buffers: the block of pair i goes to tile (i % bufs) in pair i + 1; the
 * reductions committed at pair i's publish are those up to pair i - 1's,
 * so waiting there until bufs - 1 may still read frees that tile. */
void gw_dqd_begin(gbw *g)
{
    nt *t = tb(g);
    nv_ctx *nv = &g->f.nv;
    g->dqd_pend = nt_var(t, nv->i1, LLVMConstInt(nv->i1, 0, false), "dqd.pend");
    g->dqd_dst = nt_var(t, LLVMTypeOf(g->bt[BT_DQACC]), LLVMConstNull(LLVMTypeOf(g->bt[BT_DQACC])), "dqd.dst");
    g->dqd_buf = nt_var(t, nv->i32, c32(g, 0), "dqd.buf");
}

void gw_dqd_issue(gbw *g, nt_frag *x)
{
    nt_mma_op op = dqf_op(g, x, wg_index(g));
    nt_mma_async(tb(g), &op, 1, g->f.p->dt);
}

void gw_dqd_flush(gbw *g, nt_frag *x, int running)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    nt *t = tb(g);
    int blk = f->p->Tq * 64 * 4;
    nt_frag *list[1] = {x};
    nt_mma_wait(t, running, list, 1);
    LLVMValueRef pend = nt_get(t, g->dqd_pend), buf = nt_get(t, g->dqd_buf), cb = wg_index(g);
    LLVMBasicBlockRef join = nv_if(nv, pend, "dqd.store");
    dqf_store(g, cb, buf, x->v);
    nv_endif(nv, join);
    nt_proxy_fence(t); /* the st.shared above before the bulk copy's reads */
    gr_sync(g);
    LLVMValueRef lead = LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildAnd(b, f->tid, c32(g, 127), ""), c32(g, 0), "");
    LLVMBasicBlockRef jl = nv_if(nv, LLVMBuildAnd(b, lead, pend, ""), "dqd.issue");
    LLVMValueRef off = LLVMBuildMul(b, cb, c32(g, blk), "");
    LLVMValueRef dst = nv_gep(nv, nt_get(t, g->dqd_dst), LLVMBuildZExt(b, off, nv->i64, ""));
    dqf_reduce(g, dst, LLVMBuildAdd(b, LLVMBuildAdd(b, addr(g, g->off_dqf), buf, ""), off, ""), blk);
    nv_asm(nv, NULL, "cp.async.bulk.commit_group;", "~{memory}", NULL, 0);
    nv_endif(nv, jl);
    nt_set(t, g->dqd_pend, LLVMConstInt(nv->i1, 0, false));
}

void gw_dqd_publish(gbw *g)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    nt *t = tb(g);
    nt_proxy_fence(t); /* gw_store_ds's stores before the next pair's dQ product reads them */
    dqf_read_wait(g);
    gr_sync(g);
    LLVMValueRef pairs = LLVMBuildLoad2(b, nv->i32, g->dq_pairs, "");
    nt_set(t, g->dqd_buf, dqf_buf(g, pairs));
    nt_set(t, g->dqd_dst, gb_dqacc_rows(g, f->head, LLVMBuildMul(b, q_tile_index(g), c32(g, f->p->Tq), "")));
    nt_set(t, g->dqd_pend, LLVMConstInt(nv->i1, 1, false));
    LLVMBuildStore(b, LLVMBuildAdd(b, pairs, c32(g, 1), ""), g->dq_pairs);
}

void gw_dqd_end(gbw *g)
{
    nt_frag x;
    gw_dqd_issue(g, &x);
    gw_dqd_flush(g, &x, 0);
}

void gw_dq_bulk_drain(gbw *g)
{
    nv_asm(&g->f.nv, NULL, "cp.async.bulk.wait_group 0;", "~{memory}", NULL, 0);
}

void gw_dq_writer_begin(gbw *g)
{
    nv_ctx *nv = &g->f.nv;
    LLVMValueRef wg = wg_index(g);
    LLVMValueRef w0 = LLVMBuildICmp(nv->b, LLVMIntEQ, LLVMBuildAnd(nv->b, g->f.warp, c32(g, 3), ""), c32(g, 0), "");
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildAnd(nv->b, w0, has_blocks(g, wg), ""), "dqw.begin");
    nt_bar_arrive(tb(g), dqw_id(g, DQW_EMPTY, wg), DQW_THREADS);
    nv_endif(nv, join);
}

void gw_dq_writer_end(gbw *g)
{
    nv_ctx *nv = &g->f.nv;
    LLVMValueRef wg = wg_index(g);
    LLVMBasicBlockRef join = nv_if(nv, has_blocks(g, wg), "dqw.end");
    nt_bar_sync(tb(g), dqw_id(g, DQW_EMPTY, wg), DQW_THREADS);
    dqw_put(g, c32(g, -1), c32(g, 0)); /* thread 0's, after the writer read the last pair's */
    nt_bar_arrive(tb(g), dqw_id(g, DQW_FULL, wg), DQW_THREADS);
    nv_endif(nv, join);
}

void gw_dq_writer_run(gbw *g)
{
    fa2 *f = &g->f;
    nv_ctx *nv = &f->nv;
    const fa_plan *p = f->p;
    LLVMBuilderRef b = nv->b;
    int W = p->Tk / 64, ncb = p->D / 64, blk = p->Tq * 64 * 4, nw = W < ncb ? W : ncb;
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(nv->c, f->fn, "dqw.loop");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(nv->c, f->fn, "dqw.pair");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(nv->c, f->fn, "dqw.done");
    LLVMBuildBr(b, head);
    LLVMPositionBuilderAtEnd(b, head);
    for (int w = 0; w < nw; w++)
        nt_bar_sync(tb(g), c32(g, DQW_FULL + w), DQW_THREADS);
    LLVMValueRef slot = dqw_slot(g);
    LLVMValueRef head_ = LLVMBuildLoad2(b, nv->i32, nv_gep(nv, f->smem, LLVMBuildSub(b, slot, f->smem32, "")), "");
    LLVMValueRef row = LLVMBuildLoad2(b, nv->i32, nv_gep(nv, f->smem, LLVMBuildSub(b, LLVMBuildAdd(b, slot, c32(g, 4), ""), f->smem32, "")), "");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, head_, c32(g, 0), ""), done, body);
    LLVMPositionBuilderAtEnd(b, body);
    LLVMValueRef dst = LLVMBuildPtrToInt(b, gb_dqacc_rows(g, head_, row), nv->i64, "");
    /* lane 0's copies predicated inside each asm: straight-line code
     * between the warp's aligned barriers */
    char text[256];
    snprintf(text, sizeof text,
             "{ .reg .pred p; setp.eq.u32 p, $2, 0; "
             "@p cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [$0], [$1], %d; }",
             blk);
    LLVMValueRef src0 = addr(g, g->off_dqf);
    for (int cb = 0; cb < ncb; cb++) {
        LLVMValueRef args[3] = {LLVMBuildAdd(b, dst, nv_i64(nv, (long long)cb * blk), ""),
                                LLVMBuildAdd(b, src0, c32(g, cb * blk), ""), f->lane};
        nv_asm(nv, NULL, text, "l,r,r,~{memory}", args, 3);
    }
    nv_asm(nv, NULL,
           "{ .reg .pred p; setp.eq.u32 p, $0, 0; @p cp.async.bulk.commit_group; "
           "@p cp.async.bulk.wait_group.read 0; }",
           "r,~{memory}", &f->lane, 1);
    for (int w = 0; w < nw; w++) /* the tiles may be stored again */
        nt_bar_arrive(tb(g), c32(g, DQW_EMPTY + w), DQW_THREADS);
    LLVMBuildBr(b, head);
    LLVMPositionBuilderAtEnd(b, done);
    gw_dq_bulk_drain(g);
}

void gw_dqf_coords(gbw *g, LLVMValueRef pos, LLVMValueRef *row, LLVMValueRef *col)
{
    LLVMBuilderRef b = g->f.nv.b;
    int rb = g->f.p->Tq / 16, rbits = rb == 4 ? 2 : rb == 2 ? 1 : 0;
    LLVMValueRef h = LLVMBuildAnd(b, pos, c32(g, 1), "");
    LLVMValueRef lane = LLVMBuildAnd(b, LLVMBuildLShr(b, pos, c32(g, 1), ""), c32(g, 31), "");
    LLVMValueRef nb = LLVMBuildAnd(b, LLVMBuildLShr(b, pos, c32(g, 6), ""), c32(g, 7), "");
    LLVMValueRef r16 = LLVMBuildAnd(b, LLVMBuildLShr(b, pos, c32(g, 9), ""), c32(g, rb - 1), "");
    LLVMValueRef cb = LLVMBuildLShr(b, pos, c32(g, 9 + rbits), "");
    *row = LLVMBuildAdd(b, LLVMBuildShl(b, r16, c32(g, 4), ""), LLVMBuildLShr(b, lane, c32(g, 2), ""), "");
    *row = LLVMBuildAdd(b, *row, LLVMBuildShl(b, h, c32(g, 3), ""), "");
    *col = LLVMBuildAdd(b, LLVMBuildShl(b, cb, c32(g, 6), ""), LLVMBuildShl(b, nb, c32(g, 3), ""), "");
    *col = LLVMBuildAdd(b, *col, LLVMBuildShl(b, LLVMBuildAnd(b, lane, c32(g, 3), ""), c32(g, 1), ""), "");
}
