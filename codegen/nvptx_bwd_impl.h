/*
 * nvptx_bwd_impl.h — internal state of the GPU backward's generators
 * (nvptx_bwd.h): the plan read off the backward program and the per-kernel
 * emission state, which embeds the forward's (nvptx_fa2.h) to reuse its
 * coordinates, key ranges, tile classes and expression environment.
 */
#ifndef ATTNC_CODEGEN_NVPTX_BWD_IMPL_H
#define ATTNC_CODEGEN_NVPTX_BWD_IMPL_H

#include "nvptx_bwd.h"
#include "nvptx_fa2.h"


enum { BWD_MAX_SITES = 8, GB_PG_ELEMS = 64, GB_BANKS = 3 };

/* A param read of the score with a gradient (the program's param_grad). */
typedef struct bwd_site {
    int param;
    const expr *site;    /* EX_PARAM with its index args */
    const expr *partial; /* d score / d that element */
} bwd_site;

typedef struct bwd_plan {
    fa_plan fp;        /* tiles, score, mask, class, the forward's key range (dq kernel) */
    const expr *dscore; /* d score / d s */
    /* > 0 under $ATTNC_SCALE_FMA=1 where the score is s * c (fp.score_k)
     * with no param gradient, so d score / d s is the constant c: dS is
     * formed as P (dP - delta) without c and without a select (P is 0
     * where it must be 0, and the factors are finite there), and dK and dQ
     * take c once, at their stores (gb_store_pair) */
    float ds_factor;
    tir_range_mode qmode; /* the dkv kernel's q_range */
    int q_ndims;
    const expr *qlo[3], *qhi[3]; /* BOUNDS: q tile indices over the key box; INVERSE: unused */
    /* BOUNDS of a union ($ATTNC_BWD_PARTS): 0 or 2..TIR_MAX_PARTS parts
     * inside qlo/qhi, the q_range's (nvptx_bwd_parts.c; an inverse q range
     * with parts is read as bounds with NULL qlo/qhi: every query tile) */
    int q_nparts;
    const expr *qplo[TIR_MAX_PARTS][3], *qphi[TIR_MAX_PARTS][3];
    bool group;
    bool atomics; /* dQ into the f32 accumulator from the dK/dV kernel (atomic or bulk) */
    bool bulk;    /* ... through shared f32 tiles and cp.reduce.async.bulk (wg only) */
    bool wg; /* warpgroup MMA (nvptx_bwd_wgmma.c) */
    int nsites, ngrad;
    bwd_site sites[BWD_MAX_SITES];
    int grad_param[NVPTX_MAX_PARAMS]; /* the params with gradients, in ABI order */
    int overlap; /* wg only: NVPTX_BWD_OVERLAP levels (nvptx_bwd.h) */
    bool producer; /* NVPTX_BWD_PRODUCER taken: the dkv kernel's ring (nvptx_bwd_ring.c) */
    bool ds_split; /* NVPTX_BWD_PRODUCER_DS_SPLIT with it, two computing warpgroups */
    /* producer only (nvptx_kernel.h's $ATTNC_BWD_RING_* switches) */
    int stages;        /* query tiles in the ring (2, 3) */
    int ds_bufs;       /* dS tiles (1, 2: pair n stores buffer n % 2; not with ds_split) */
    bool release_all;  /* every computing thread arrives on empty (else lane 0 of each warp) */
    bool tma_first;    /* the producer issues Q and dO's TMA before loading lse and delta */
    bool dq_writer;    /* the producer warpgroup's second warp issues the bulk dQ reductions */
    int dqf_max;       /* bulk dQ: f32 tiles at most (1, 2) */
    bool dq_defer;     /* $ATTNC_BWD_DQ_DEFER: a pair's dQ product issued by the next pair (gw_dqd_*) */
    /* $ATTNC_BWD_DOC_SPAN=1 or 2 on a document mask: >= 0, the document ids
     * cutting the dQ kernel's key ranges and the dK/dV kernel's query
     * ranges (nvptx_bwd_span.c); -1 otherwise */
    int doc_param;
    const expr *doc_full; /* with it: the dQ kernel's full test inside one document (fa_plan.span_full), or NULL */
} bwd_plan;

typedef struct gbw {
    fa2 f; /* the forward's state: coordinates, expression environment */
    const bwd_plan *bp;
    fa_plan dq_plan; /* the dQ kernel under bp->doc_param: bp->fp with the span (f.p points here) */
    bool span_cut; /* dkv under bp->doc_param: the q ranges are cut (gb_dkv_span_tiles) */
    LLVMValueRef bt[BT_N];
    LLVMValueRef bstride[BT_N][4];
    LLVMBasicBlockRef entry; /* allocas only; branches to the body at the end */
    int pitch_q, pitch_k, pitch_v, pitch_do, pitch_ds;
    int off_k, off_v, off_q, off_do, off_ds, off_lse, off_delta, off_scan, smem;
    int off_span; /* dkv: four i32, the document span's query tiles and run (nvptx_bwd_span.c) */
    int off_dqf, dqf_bufs;  /* bulk dQ: dqf_bufs f32 Tq x D tiles at off_dqf */
    LLVMValueRef dq_pairs;  /* bulk dQ: i32 slot, the pairs this CTA has reduced (buffer parity) */
    /* bp->dq_defer: variables of the pair whose dS waits in shared memory
     * for its dQ product: whether there is one (i1), its accumulator rows
     * (pointer) and its f32 tile's offset (i32) */
    LLVMValueRef dqd_pend, dqd_dst, dqd_buf;
    LLVMValueRef key_flat;  /* dkv: this CTA's flat key tile index (ctaid.x unless remapped) */
    /* Double-buffered regions: [bank_lo[i], bank_hi[i]) is moved by
     * bank_dyn[i] bytes (NULL: not moved) in every gb_smem_at: K/V (the dQ
     * kernel), the Q bank, dS (ds_bufs 2). */
    int bank_lo[GB_BANKS], bank_hi[GB_BANKS], bank_size[GB_BANKS];
    LLVMValueRef bank_dyn[GB_BANKS];
    LLVMValueRef key_c[2][3], key_t[2]; /* dkv: this thread's key rows (g, g+8 of its warp) */
    /* param gradients (nvptx_bwd_param.c), per grad_param[j] */
    LLVMValueRef dparam[NVPTX_MAX_PARAMS], pacc[NVPTX_MAX_PARAMS], pslice[NVPTX_MAX_PARAMS];
    LLVMValueRef patomic[NVPTX_MAX_PARAMS]; /* i32 != 0: one accumulator, red.global.add (this launch) */
    LLVMValueRef pg_idx[BWD_MAX_SITES][GB_PG_ELEMS], pg_val[BWD_MAX_SITES][GB_PG_ELEMS];
    int pg_n;
    int off_bar; /* producer: the ring's mbarriers full[stages], empty[stages] (in the scan words) */
    /* dkv with q parts: per normalised part its first query tile and tile
     * counts per dim, and the loop index of its first tile (gb_q_parts) */
    LLVMValueRef qp_lo[TIR_MAX_PARTS][3], qp_cnt[TIR_MAX_PARTS][3], qp_base[TIR_MAX_PARTS];
} gbw;

/* Tile pitch of swizzled tiles (wgmma; nvptx_wgmma.h) in gb_load_rows. */
enum { GB_SWIZZLED = -1 };

/* nvptx_bwd_util.c */
LLVMValueRef gb_alloca(gbw *g); /* an f32 slot in the entry block */
void gb_declare(gbw *g, const char *name);
void gb_finish(gbw *g, int threads);
void gb_ids(gbw *g, bool kv_grid);
void gb_extents(gbw *g); /* qext, kext, nkt */
LLVMValueRef gb_smem_off(gbw *g, int off, LLVMValueRef dyn); /* byte offset (i32), banks applied */
LLVMValueRef gb_smem_at(gbw *g, int off, LLVMValueRef dyn);
LLVMValueRef gb_elem_ptr(gbw *g, int t, LLVMValueRef head, LLVMValueRef tok, LLVMValueRef col, int esize);
/* cp.async of a tile's rows (zeros outside the grid); the caller commits. */
void gb_load_rows(gbw *g, int t, const int *ext, LLVMValueRef org[3], const LLVMValueRef *bounds, LLVMValueRef head,
                  int rows, int cols, int pitch, int off);
/* lse and delta of the query tile's rows -> shared memory (-inf and 0
 * outside the grid) */
void gb_load_stats(gbw *g, LLVMValueRef org[3], LLVMValueRef head);
/* The same by n threads numbered id (0..n) */
void gb_load_stats_by(gbw *g, LLVMValueRef org[3], LLVMValueRef head, LLVMValueRef id, int n);
/* The same in two halves, so the global loads' latency hides behind other
 * work: fetch loads them into f32 slots (gb_alloca), put stores the slots
 * to shared memory (banks as at the put). */
enum { GB_STAT_ROWS = 1 }; /* rows per thread: Tq <= 64 <= threads (wgmma) */
void gb_fetch_stats(gbw *g, LLVMValueRef org[3], LLVMValueRef head, LLVMValueRef slots[GB_STAT_ROWS][2]);
void gb_put_stats(gbw *g, LLVMValueRef slots[GB_STAT_ROWS][2]);
LLVMValueRef gb_stat(gbw *g, int off, LLVMValueRef row);
typedef struct gb_loop {
    LLVMValueRef iv;
    LLVMBasicBlockRef header, body, done;
} gb_loop;
/* for (iv = lo; iv < hi; iv++): begin leaves the builder in the body. */
gb_loop gb_loop_begin(gbw *g, LLVMValueRef lo, LLVMValueRef hi);
void gb_loop_end(gbw *g, gb_loop *l);
void gb_ldsm_a(gbw *g, int off, int pitch, LLVMValueRef dyn_row0, int row0, int k0, LLVMValueRef a[4]);
void gb_ldsm_b(gbw *g, int off, int pitch, int n0, int k0, LLVMValueRef b0[2], LLVMValueRef b1[2]);
void gb_ldsm_bt(gbw *g, int off, int pitch, int k0, int n0, LLVMValueRef b0[2], LLVMValueRef b1[2]);
void gb_pack_a(gbw *g, LLVMValueRef (*acc)[4], int kk, LLVMValueRef a[4]);
void gb_slots(gbw *g, LLVMValueRef (*slot)[4], int nblocks, bool zero);
void gb_read(gbw *g, LLVMValueRef (*slot)[4], int nblocks, LLVMValueRef (*v)[4]);
void gb_write(gbw *g, LLVMValueRef (*slot)[4], int nblocks, LLVMValueRef (*v)[4]);
/* The element-wise pass over the current pair twice: fn(g, ud, true) on
 * the partial tile's path (fa2_tile_partial: masks, keys past the end),
 * fn(g, ud, false) on the full tile's; both kernels' P. */
typedef void (*gb_path_fn)(gbw *g, void *ud, bool masked);
void gb_tile_paths(gbw *g, gb_path_fn fn, void *ud);
void gb_set_elem(gbw *g, LLVMValueRef qc[3], LLVMValueRef qt, LLVMValueRef kc[3], LLVMValueRef kt, LLVMValueRef s);
LLVMValueRef gb_prob(gbw *g, LLVMValueRef s, LLVMValueRef lse, bool masked, LLVMValueRef kin);
LLVMValueRef gb_dscore(gbw *g, LLVMValueRef p, LLVMValueRef dp, LLVMValueRef delta);
void gb_store_pair(gbw *g, int t, LLVMValueRef head, LLVMValueRef tok, LLVMValueRef col, LLVMValueRef lo,
                   LLVMValueRef hi);

/* param gradients (nvptx_bwd_param.c) */
bool gb_pgrad_read(bwd_plan *bp, const tir_op *op); /* a param_grad op; false: too many */
/* the declared gradient arguments (by gradient index) into dparam, pacc, patomic */
void gb_pgrad_bind(gbw *g, const LLVMValueRef *dparam, const LLVMValueRef *slices, const LLVMValueRef *mode);
void gb_pgrad_begin(gbw *g); /* dkv: this warp's slices, zeroed */
void gb_pgrad_elem(gbw *g, int e, LLVMValueRef p, LLVMValueRef dp, LLVMValueRef delta);
void gb_pgrad_flush(gbw *g); /* dkv: the pair's addends into the slices */
void gb_emit_dparam(gbw *g);
void gb_pgrad_zero(gbw *g); /* pre: the atomic accumulators */
int gb_dparam_threads(void);

/* v (i32 or i64) clamped into [lo, hi], as i32 */
LLVMValueRef gb_clamp(gbw *g, LLVMValueRef v, LLVMValueRef lo, LLVMValueRef hi);
/* Query-tile bounds from a q_range's expressions over the key box (f's
 * mode EXM_BOX), clamped to lo in [0, last + 1] and hi in [-1, last]. */
void gb_q_bounds(gbw *g, const expr *lo_e, const expr *hi_e, LLVMValueRef last, LLVMValueRef *lo, LLVMValueRef *hi);

/* the document span cut of the dK/dV kernel (nvptx_bwd_span.c, bp->doc_param
 * >= 0): the first and last query tile the documents of the key tile set
 * in f (k_lo, k_hi) reach, into the words at off_span, by every thread of
 * the CTA (the producer's too) before the head loop; span_tiles reads them
 * back (kept in shared memory, not in two registers live across the
 * loops: ptxas spilled up to 200 bytes more in the wgmma dK/dV kernels) */
void gb_dkv_doc_span(gbw *g);
void gb_dkv_span_tiles(gbw *g, LLVMValueRef *lo, LLVMValueRef *hi);
/* f's run_lo / run_hi (the key tile's run of queries, fa2_tile_partial)
 * from the words, where the dK/dV kernel cuts and p->span_full is set */
void gb_dkv_span_run(gbw *g);
/* Whether the dK/dV kernel's query bounds (bp->qlo / qhi) serve every head
 * of the kv head: they read no query head. */
bool gb_q_bounds_headless(const bwd_plan *bp);

/* union parts (nvptx_bwd_parts.c, $ATTNC_BWD_PARTS) */
/* A kv_range's parts into bp->fp (the dQ kernel's walk), a q_range's into
 * bp->q_nparts/qplo/qphi; nothing when the switch is off or a bound is
 * missing (the hull). */
void gb_parts_read(const tir_op *op, bwd_plan *bp);
/* dkv, q_nparts > 0, the key box set: the parts over it, clamped to
 * [0, last], clipped to the hull [lo, hi] and normalised into g->qp_*;
 * returns the tiles of their union (the loop's count). */
LLVMValueRef gb_q_parts(gbw *g, const LLVMValueRef *lo, const LLVMValueRef *hi, const LLVMValueRef *last);
/* The part loop index j falls in: its first tile and counts per dim into
 * lo/cnt; returns j less the part's base (an index into that box). */
LLVMValueRef gb_q_part(gbw *g, LLVMValueRef j, LLVMValueRef *lo, LLVMValueRef *cnt);

/* the kernels (nvptx_bwd_small.c, nvptx_bwd_dkv.c, nvptx_bwd_dq.c) */
void gb_emit_pre(gbw *g);
void gb_emit_cvt(gbw *g);
void gb_emit_dkv(gbw *g);
void gb_emit_dq(gbw *g);
int gb_pre_rows(void);
int gb_cvt_threads(void);
/* The query tiles of the problem: per dim nqt[d], and their product
 * (needs gb_extents). */
LLVMValueRef gb_q_tiles(gbw *g, LLVMValueRef nqt[3]);
/* Bulk dQ: the tile-contiguous accumulator (nvptx_bwd.h) of this batch and
 * `head` at row `row` of the head's tiles (tile t's rows start at t Tq). */
LLVMValueRef gb_dqacc_rows(gbw *g, LLVMValueRef head, LLVMValueRef row);
/* dQacc rows row0 (+ dyn_row0) + g and + 8 of the query tile, columns
 * c0 .. c0 + ncols += acc (this warp's 16-row block), by
 * red.global.add.f32 */
void gb_dq_red(gbw *g, LLVMValueRef dyn_row0, int row0, int c0, int ncols, LLVMValueRef (*acc)[4]);

/* the dK/dV kernel's producer ring (nvptx_bwd_ring.c, bp->producer):
 * stage it % 2 of the Q bank holds the it-th query tile the CTA visits
 * (over every head of the group, in the consumers' order) */
enum { GR_PRODUCER_THREADS = 128 };
void gr_init(gbw *g);              /* the mbarriers (thread 0), then a CTA barrier */
LLVMValueRef gr_is_producer(gbw *g); /* tid >= the computing threads */
/* setmaxnreg down; all but the first producer warp return, but the second
 * under bp->dq_writer, which goes to *writer (NULL otherwise) */
void gr_producer_start(gbw *g, LLVMBasicBlockRef *writer);
void gr_consumer_start(gbw *g);    /* setmaxnreg up */
/* producer warp: wait until stage it % 2 is free, then fill it with the
 * query box set in f (q_org, head): lse, delta by the 32 lanes, Q and dO by
 * lane 0's TMA; every lane arrives on full */
void gr_fill(gbw *g, LLVMValueRef it);
/* computing threads: wait until stage it % 2 holds tile it; bank_dyn[1] set */
void gr_acquire(gbw *g, LLVMValueRef it);
void gr_release(gbw *g, LLVMValueRef it); /* lane 0 of each computing warp arrives on empty */
void gr_sync(gbw *g);                     /* a named barrier of the computing threads (not the producer's) */
/* ds_split: before storing dS (after the CTA's first pair), wait until the
 * other warpgroup's dQ products stopped reading the last one; after this
 * warpgroup's dQ products, signal the other; gr_ds_end after the loop takes
 * the other's last signal (every bar.arrive matched). */
void gr_ds_wait(gbw *g);
void gr_ds_done(gbw *g);
void gr_ds_end(gbw *g);

/* the wgmma products (nvptx_bwd_wgmma.c), in place of the mma.sync ones
 * under bp->wg */
void gw_layout(gbw *g, nvptx_bwd_kind kind);
void gw_smem_base(gbw *g);
/* cp.async wait 0, then (wgmma) the proxy fence: before the barrier that
 * publishes the tiles */
void gb_tiles_landed(gbw *g);
/* acc = A·Bᵀ: A the 64 rows of this warpgroup of the K-major tile at off_a
 * (rows_a rows), B the n-row K-major tile at off_b, over k columns. */
void gw_ss(gbw *g, LLVMValueRef (*acc)[4], int off_a, int rows_a, int off_b, int k, int n);
/* slots += A·B: A packed from a_src (the accumulator layout, k columns), B
 * the MN-major tile at off_b (k rows, n columns). */
void gw_accumulate(gbw *g, LLVMValueRef (*slots)[4], LLVMValueRef (*a_src)[4], int k, int off_b, int n);
/* Two products of gw_ss's shape (the same rows_a and n) under one wait. */
void gw_ss2(gbw *g, LLVMValueRef (*acc0)[4], int off_a0, int off_b0, int k0, LLVMValueRef (*acc1)[4], int off_a1,
            int off_b1, int k1, int rows_a, int n);
/* gw_accumulate and gw_ss (acc from off_a1, off_b1) under one wait. */
void gw_accumulate_ss(gbw *g, LLVMValueRef (*slots)[4], LLVMValueRef (*a_src)[4], int k, int off_b, int n,
                      LLVMValueRef (*acc)[4], int off_a1, int rows_a1, int off_b1, int k1, int n1);
/* Two of gw_accumulate (the same k) under one wait. */
void gw_accumulate2(gbw *g, int k, LLVMValueRef (*slots0)[4], LLVMValueRef (*a_src0)[4], int off_b0, int n0,
                    LLVMValueRef (*slots1)[4], LLVMValueRef (*a_src1)[4], int off_b1, int n1);
/* Products left running (overlap NVPTX_BWD_OVERLAP_PIPE): each one's
 * in-flight accumulators and the A registers it reads, waited together by
 * gw_pend_wait. */
enum { GW_MAXPEND = 2 };
typedef struct gw_pend {
    int n;
    struct {
        LLVMValueRef (*slots)[4];
        nt_frag acc, a; /* in flight: the accumulator, the packed A it reads */
    } op[GW_MAXPEND];
} gw_pend;
/* gw_ss2 issued without a wait: two commit groups (the first product's,
 * then the second's); acc0, acc1 are in flight until gw_wait_acc. */
void gw_ss2_async(gbw *g, LLVMValueRef (*acc0)[4], int off_a0, int off_b0, int k0, LLVMValueRef (*acc1)[4],
                  int off_a1, int off_b1, int k1, int rows_a, int n);
/* gw_ss issued as its own commit group, not waited (acc in flight). */
void gw_ss_async(gbw *g, LLVMValueRef (*acc)[4], int off_a, int rows_a, int off_b, int k, int n);
/* wgmma.wait_group n; acc (ncols columns, in flight) valid after it. */
void gw_wait_acc(gbw *g, int n, LLVMValueRef (*acc)[4], int ncols);
/* gw_accumulate issued as its own commit group, not waited: added to pend. */
void gw_accumulate_async(gbw *g, LLVMValueRef (*slots)[4], LLVMValueRef (*a_src)[4], int k, int off_b, int n,
                         gw_pend *pend);
/* wgmma.wait_group n over pend's products but its last n (and extra,
 * NULL or an accumulator in flight too, issued before those n), then their
 * accumulators into their slots; pend keeps the last n. */
void gw_pend_wait(gbw *g, gw_pend *pend, int n, nt_frag *extra);
/* the dK/dV kernel's atomic dQ: dS -> shared, dQacc += dS K */
void gw_dq_atomic(gbw *g, LLVMValueRef (*ds)[4]);
/* dSᵀ (the accumulator layout) -> shared as the K-major tile dS */
void gw_store_ds(gbw *g, LLVMValueRef (*ds)[4]);
/* the same by bulk reduction of shared f32 tiles, dS stored already
 * (gw_store_ds; the query box is the current pair's); gw_dq_bulk_drain
 * before the kernel returns. dk non-NULL (where gw_dq_bulk_takes_dk):
 * also dK += dSᵀ Q, under the first dQ block's wait. pend non-NULL:
 * products still running (gw_accumulate_async), waited with the first dQ
 * block (so they run across the barrier that publishes dS); with dk too
 * (where gw_dq_bulk_late_dk), dK += dSᵀ Q is issued behind the first dQ
 * block and left running in pend while that block is stored. */
void gw_dq_bulk(gbw *g, LLVMValueRef (*dk)[4], LLVMValueRef (*ds)[4], gw_pend *pend);
bool gw_dq_bulk_takes_dk(const gbw *g);
bool gw_dq_bulk_late_dk(const gbw *g); /* every warpgroup has a first dQ block */
void gw_dq_bulk_drain(gbw *g);
/* bp->dq_defer (nvptx_bwd_wgmma.c has the order): gw_dqd_begin makes the
 * variables (before the pairs); each pair issues the previous pair's dQ
 * product (gw_dqd_issue, always: with none pending its result is dropped),
 * then its own Sᵀ, then gw_dqd_flush(running = 1) waits for the dQ product
 * alone, stores and reduces its block; after dK is issued gw_dqd_publish
 * publishes dS for the next pair's dQ product; gw_dqd_end completes the
 * last one after the pairs. */
void gw_dqd_begin(gbw *g);
void gw_dqd_issue(gbw *g, nt_frag *x);
void gw_dqd_flush(gbw *g, nt_frag *x, int running);
void gw_dqd_publish(gbw *g);
void gw_dqd_end(gbw *g);
/* bp->dq_writer: the computing warpgroups store their f32 dQ blocks and
 * hand them to the producer warpgroup's second warp, which issues the
 * bulk reductions (FA3's dQ writer): per warpgroup w with blocks, named
 * barriers full[w] (its 128 threads bar.arrive after the stores, thread 0
 * having put the accumulator rows' address in a shared slot; the writer
 * bar.sync) and empty[w] (the writer bar.arrive once the copies read the
 * tile, the 128 bar.sync before the next stores). begin: warp 0 of each
 * such warpgroup takes empty's first arrival (before the first pair);
 * end: after the last pair the warpgroup takes the writer's last arrival,
 * thread 0 puts 0 in the slot and full is arrived once more, which ends
 * the writer's loop (every arrive matched). run: the writer's loop, then
 * its bulk groups drained. */
void gw_dq_writer_begin(gbw *g);
void gw_dq_writer_end(gbw *g);
void gw_dq_writer_run(gbw *g);
/* Bulk dQ: row and column in the query tile of f32 pair `pos` (elements
 * 2 pos, 2 pos + 1) of a tile's accumulator block. */
void gw_dqf_coords(gbw *g, LLVMValueRef pos, LLVMValueRef *row, LLVMValueRef *col);

#endif
