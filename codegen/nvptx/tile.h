/*
 * tile.h — a tile-level builder for NVPTX kernels: typed register
 * fragments and shared-memory tiles, and operations named by data path,
 * so a kernel reads like its algorithm instead of a list of LLVM values.
 *
 *   global --nt_copy_g2s (cp.async, rows past the end zero-filled)--> shared
 *   global --nt_copy_tma (sm_90a, one thread, completes on an mbarrier)--> shared
 *   shared --nt_store_tma_box (sm_90a, one thread, a bulk group)--> global
 *   shared --nt_load (ldmatrix, .trans when the tile holds the operand
 *             transposed)--> fragment
 *   fragments and shared tiles --nt_mma (mma.sync m16n8k16; sm_90a
 *             swizzled B tiles: wgmma; nt_mma_async/nt_mma_wait: wgmma
 *             left running)--> accumulator fragment
 *   fragment --nt_store_shared / nt_store_global (row bounds)--> memory
 * plus element-wise maps (fragments and shared tiles), row reductions over
 * a quad, C -> A conversion (P reused as an A operand), barriers,
 * mbarriers and rings of them (tile_bar.c), and variables in allocas:
 * loop-carried fragments live in entry-block allocas, and SROA
 * (nvptx_pipeline.c) builds the phis, so a kernel never joins values by
 * hand.
 *
 * Layouts are mma.sync's, per warp (PTX ISA, "Matrix fragments for
 * mma.m16n8k16"); g = lane / 4, t4 = lane % 4:
 *   C (f32, rows % 16, cols % 8): 16x8 blocks (rb, cb), 4 f32 each,
 *     v[(rb * cols/8 + cb) * 4 + e] at row 16 rb + g + 8 (e >> 1),
 *     column 8 cb + 2 t4 + (e & 1);
 *   A (bf16/f16 pairs in i32, rows % 16, cols % 16): 16x16 blocks (rb, kb),
 *     v[(rb * cols/16 + kb) * 4 + i] holds row 16 rb + g + 8 (i & 1),
 *     columns 16 kb + 8 (i >> 1) + 2 t4 + {0, 1};
 *   B (pairs, rows = K % 16, cols = N % 16): 16x8 blocks (kb, nb),
 *     v[(kb * cols/8 + nb) * 2 + i] holds rows 16 kb + 8 i + 2 t4 + {0, 1},
 *     column 8 nb + g.
 * A wgmma accumulator of a warpgroup is, per warp, the C fragment of its
 * 16 rows (nvptx_wgmma.h), so element-wise code is shared.
 */
#ifndef ATTNC_CODEGEN_NVPTX_TILE_H
#define ATTNC_CODEGEN_NVPTX_TILE_H

#include "../nvptx_intrin.h"
#include "../../ir/schedule.h"

/* The builder: LLVM handles, the kernel, its shared memory and the
 * thread's coordinates (computed once in the entry block). */
typedef struct nt {
    nv_ctx nv;
    LLVMValueRef fn;
    LLVMBasicBlockRef entry; /* allocas go to its start */
    LLVMValueRef smem;       /* dynamic shared memory, ptr addrspace(3) */
    LLVMValueRef smem32;     /* its shared-window address (i32) */
    int threads;             /* CTA size: cooperative copies and maps split over it */
    target_arch arch;
    LLVMValueRef tid, lane, warp, g, t4;
    /* wgmma products waited at once (nt_mma, nt_mma_group) step their
     * descriptors inside the asm, as nt_mma_async always does (nv_wg_op's
     * a_step): loop-invariant descriptors then hold no registers across a
     * loop. false: one descriptor per k16 step. */
    bool wg_steps;
    const char *error; /* the first misuse of the builder (NULL: none); check before emitting */
} nt;

/* Opens fn's entry block, declares the dynamic shared memory (attnc_smem,
 * 128-byte aligned) and computes the thread's coordinates. */
void nt_begin(nt *t, nv_ctx nv, LLVMValueRef fn, int threads, target_arch arch);
/* The builder over a kernel already opened by its own code (the softmax
 * and backward skeletons): the builder is positioned in the function, whose
 * first block takes the allocas; smem is the base of its shared memory;
 * computes the thread's coordinates at the builder's position. */
void nt_attach(nt *t, nv_ctx nv, LLVMValueRef fn, LLVMValueRef smem, int threads, target_arch arch);
/* Makes t->warp lane 0's value (shfl.sync.idx, every thread of the warp
 * converged): ptxas then knows it uniform across the warp, so values made
 * from it alone (a warpgroup's wgmma descriptors, its rows' offsets) may
 * live in uniform registers instead of being moved there (R2UR) before
 * each wgmma, as CUTLASS's canonical warp-group index does. Call it right
 * after nt_begin/nt_attach, before t->warp is read. */
void nt_uniform_warp(nt *t);

/* ---- register fragments ---- */

enum { NT_FRAG_MAX = 512 }; /* a 64 x 256 accumulator (the softmax family's largest O) */
typedef enum { NT_A, NT_B, NT_C } nt_role;

typedef struct nt_frag {
    nt_role role;
    int rows, cols;
    dtype dt; /* C: DT_F32; A/B: DT_BF16 or DT_F16 */
    int n;    /* registers per thread */
    LLVMValueRef v[NT_FRAG_MAX];
} nt_frag;

/* A rows x cols accumulator of zeros. */
void nt_zero(nt *t, nt_frag *c, int rows, int cols);

/* Element-wise: f(v, row, col) for every element (row, col: i32 within the
 * fragment). On A/B fragments the pairs are unpacked to f32 and packed back. */
typedef LLVMValueRef (*nt_elem_fn)(nt *t, LLVMValueRef v, LLVMValueRef row, LLVMValueRef col, void *ud);
void nt_map(nt *t, nt_frag *f, nt_elem_fn fn, void *ud);

/* The fragment row of this thread's row slot i (0 .. rows/8 - 1) of a C
 * fragment: 16 (i / 2) + g + 8 (i % 2). */
LLVMValueRef nt_row(nt *t, int i);
/* Multiplies row slot i of C by s[i] (s NULL entries: unchanged). */
void nt_scale_rows(nt *t, nt_frag *c, LLVMValueRef *s);
/* Per row slot, the sum (max) of C's row over its columns, reduced
 * across the quad: out[rows / 8]. */
void nt_row_sum(nt *t, const nt_frag *c, LLVMValueRef *out);
void nt_row_max(nt *t, const nt_frag *c, LLVMValueRef *out);

/* An accumulator as the A operand (dt: DT_BF16 or DT_F16), the same
 * registers reused: C's columns become A's k. */
void nt_to_a(nt *t, nt_frag *a, const nt_frag *c, dtype dt);

/* ---- shared-memory tiles ---- */

typedef enum { NT_PAD, NT_SWIZZLE128 } nt_layout;

/* rows x cols elements of dt at byte offset `off` (i32) of the dynamic
 * shared memory. NT_PAD: row r at off + r * pitch (pitch in bytes, padded
 * so ldmatrix rows hit distinct banks). NT_SWIZZLE128: nvptx_wgmma.h's
 * 128-byte swizzle (pitch unused), for wgmma operands: 64-column blocks of
 * brows rows each (nt_tile: rows; a sub-tile keeps its parent's). */
typedef struct nt_smem {
    int rows, cols;
    dtype dt;
    int pitch;
    nt_layout layout;
    LLVMValueRef off;
    int brows;
} nt_smem;

nt_smem nt_tile(nt *t, LLVMValueRef off, int rows, int cols, dtype dt, int pitch);
/* A tile in the 128-byte swizzle (a wgmma operand, a TMA box). */
nt_smem nt_tile_sw(nt *t, LLVMValueRef off, int rows, int cols, dtype dt);
/* Column blocks blk .. blk + ncols / 64 of a swizzled tile (blk: i32, a
 * dynamic block index; 64 two-byte columns a block), all its rows. */
nt_smem nt_col_block(nt *t, nt_smem s, LLVMValueRef blk, int ncols);
/* The rows x cols sub-tile at (row0, col0) (i32, elements) of a tile;
 * of a swizzled one, row0 a multiple of 8 and col0 of 64 (a warpgroup's
 * 64 rows of a wgmma operand). */
nt_smem nt_sub(nt *t, nt_smem s, LLVMValueRef row0, LLVMValueRef col0, int rows, int cols);
/* Pointer to byte `off` (i32) of shared memory; nt_saddr: its shared-window
 * address (i32), as mbarrier, TMA and wgmma instructions take it. */
LLVMValueRef nt_sptr(nt *t, LLVMValueRef off);
LLVMValueRef nt_saddr(nt *t, LLVMValueRef off);
/* Bytes the tile's elements take (what a TMA copy of it transfers). */
int nt_bytes(nt_smem s);

/* ---- data paths ---- */

/* shared -> fragment (ldmatrix x4): the role operand equal to s
 * (transpose: to s^T). A from a row-major tile and B from a K-major one
 * use .trans exactly when they need it. cols (rows for B) multiple of 16. */
void nt_load(nt *t, nt_frag *f, nt_role role, nt_smem s, bool transpose);

/* An mma operand: a fragment, or a shared tile read as s or s^T (loaded
 * one k16 slab at a time, so the whole operand is never live). */
typedef struct nt_opnd {
    const nt_frag *frag;
    nt_smem smem;
    bool transpose;
} nt_opnd;
/* nt_reg of an accumulator (NT_C) as the A operand: rounded to the mma's
 * dtype one k16 slab at a time, just before its products (P in P V), so
 * the packed copy of the whole fragment is never live (nt_to_a packs it
 * all at once). */
nt_opnd nt_reg(const nt_frag *f);
nt_opnd nt_shared(nt_smem s, bool transpose);

/* acc (M x N, f32) += a (M x K) . b (K x N), bf16/f16 operands (dt).
 * mma.sync m16n8k16 over 16x8 blocks; on sm_90a, with a B tile in the
 * 128-byte swizzle and acc the warp's slice of a warpgroup's 64 x N,
 * warpgroup MMA (nvptx_wgmma.h) instead: the hook the softmax family's
 * wgmma products would take. */
void nt_mma(nt *t, nt_frag *acc, nt_opnd a, nt_opnd b, dtype dt);

/* A tile of global memory: element (r, c) at base + (off + (row0 + r) *
 * row_stride + c) * size(dt); rows r at or past `rows` (i32) are out of
 * bounds. off and row_stride: i64 elements; row0: i32 (kept apart from off
 * so the row products stay inside loops instead of being hoisted, one
 * register pair each). */
typedef struct nt_gtile {
    LLVMValueRef base, off, row0, row_stride, rows;
    dtype dt;
    /* Optional, for tiles whose rows are not evenly spaced (a 2-D/3-D box
     * of tokens, a dilation group, a tile past the loop's range): the i64
     * element offset of row `row`'s start (off, row0, row_stride and rows
     * then unused) and in *ok whether the row exists. */
    LLVMValueRef (*row_at)(nt *t, LLVMValueRef row, LLVMValueRef *ok, void *ud);
    void *ud;
} nt_gtile;

/* A tile of global memory as a TMA tensor map sees it: the map (a kernel
 * parameter) and the box's coordinates after its innermost (the column),
 * crd[0..n) innermost first (n <= 4). */
typedef struct nt_tmap {
    LLVMValueRef map;
    LLVMValueRef crd[4];
    int n;
} nt_tmap;

/* global -> shared by TMA (sm_90a; one thread issues it): dst (swizzled,
 * cols a multiple of 64) as cols / 64 boxes of 64 columns, box c at column
 * coordinate 64 c landing at dst.off + c * rows * 128, completing on the
 * mbarrier at shared address bar with its bytes (announce them first:
 * nt_mbar_expect_tx with nt_bytes). Rows past the tensor read as zeros. */
void nt_copy_tma(nt *t, nt_smem dst, const nt_tmap *src, LLVMValueRef bar);
/* One 64-column box of tensor map `map` at shared address dst (i32),
 * coordinates {col, crd[0..n)} innermost first, completing on bar: for
 * kernels that lay out their own shared memory (the backward's ring). */
void nt_copy_tma_box(nt *t, LLVMValueRef map, LLVMValueRef dst, LLVMValueRef bar, int col, const LLVMValueRef *crd,
                     int n);
/* shared -> global by TMA (sm_90a; one thread): one 64-column box of
 * tensor map `map` from shared address src (i32; the 128-byte swizzle, as
 * nt_copy_tma lays a box out), coordinates {col, crd[0..n)} innermost
 * first, in the thread's current bulk group; elements past the tensor are
 * not written. The issuing generic writes of src must be fenced for the
 * async proxy first (fence.proxy.async). nt_store_tma_wait_read commits
 * the group and waits until its shared reads are done (src reusable, the
 * block free to exit); the global writes complete on their own.
 * nt_store_tma_commit only commits (the thread's bulk groups run on), and
 * nt_store_tma_wait_reads waits for every committed group's shared reads:
 * the pair lets a thread go on while its stores read, and wait only
 * before it writes src again or exits. */
void nt_store_tma_box(nt *t, LLVMValueRef map, LLVMValueRef src, int col, const LLVMValueRef *crd, int n);
void nt_store_tma_wait_read(nt *t);
void nt_store_tma_commit(nt *t);
void nt_store_tma_wait_reads(nt *t);
/* The tile nt_copy_tma would copy (cols / 64 boxes of src) fetched into
 * L2 only (cp.async.bulk.prefetch.tensor: no shared memory, no barrier,
 * nothing to wait for; a box past the tensor fetches nothing). A hint: it
 * changes no value, only when a later copy of the tile finds it in L2. */
void nt_prefetch_tma(nt *t, const nt_tmap *src, int cols);

/* global -> shared, cooperatively over the CTA (t->tid of t->threads; a
 * copy of the builder with its own tid/threads lets a producer warpgroup
 * copy alone), 16 bytes a cp.async (one group; commit with nt_cp_commit):
 * out-of-bounds rows are zero-filled and read nothing (their source is
 * base). cols * size a multiple of 16; dst padded or in the 128-byte
 * swizzle (a wgmma operand). */
void nt_copy_g2s(nt *t, nt_smem dst, nt_gtile src);
void nt_cp_commit(nt *t);
void nt_cp_wait(nt *t, int groups);
void nt_barrier(nt *t);

/* In place over a shared tile, cooperatively: every element read as
 * `from` (bf16/f16), f(x, row, col) (fn NULL: x), written as s.dt; rows at
 * or past `rows` (i32, NULL: none) become zeros. */
void nt_smem_map(nt *t, nt_smem s, dtype from, LLVMValueRef rows, nt_elem_fn fn, void *ud);

/* fragment -> shared (C as s.dt pairs; 4-byte stores). */
void nt_store_shared(nt *t, const nt_frag *c, nt_smem s);
/* fragment -> global (C as g.dt pairs), rows past g.rows (or those
 * g.row_at says do not exist) not written. */
void nt_store_global(nt *t, const nt_frag *c, nt_gtile g);

/* The products of ops[0..n) (wgmma operands, as nt_mma takes them),
 * issued back to back and left running: one commit group each, in order,
 * so nt_mma_wait(t, k, ...) completes all but the last k. Their
 * accumulators are in flight: pass them through nt_mma_wait before any
 * other use. An accumulator of constant zeros is not read (S = Q K^T). */
typedef struct nt_mma_op {
    nt_frag *acc;
    nt_opnd a, b;
    /* Optional (nt_mma_async, an accumulator A): receives the packed A
     * registers the product reads, to pass through nt_mma_wait with the
     * accumulator so nothing reuses them while the product runs. */
    nt_frag *a_live;
} nt_mma_op;
enum { NT_MMA_MAXOPS = 2 };
void nt_mma_async(nt *t, const nt_mma_op *ops, int n, dtype dt);
/* The same products issued back to back under one wait (nt_mma of several:
 * the tensor cores start the second while the first drains). */
void nt_mma_group(nt *t, const nt_mma_op *ops, int n, dtype dt);
/* wgmma.wait_group pending: the fragments frags[0..n) (accumulators in
 * flight, or a_live registers) come back through the wait, valid after it. */
void nt_mma_wait(nt *t, int pending, nt_frag **frags, int n);
/* Orders this thread's generic-proxy shared writes (st.shared, cp.async)
 * before later async-proxy reads (wgmma operands, bulk copies): before the
 * barrier that publishes them. */
void nt_proxy_fence(nt *t);
/* setmaxnreg of the warpgroup (sm_90a): raise (inc) or lower its
 * registers per thread to regs, a producer warpgroup handing them to the
 * computing ones. */
void nt_setmaxnreg(nt *t, bool inc, int regs);

/* ---- mbarriers (sm_90a) and named barriers (tile_bar.c) ---- */

/* An mbarrier is 8 bytes of shared memory, named by its shared address
 * (i32, nt_saddr). Init (one thread, before the CTA barrier that publishes
 * them, after nt_mbar_init_fence); arrive; arrive announcing `bytes` of
 * TMA transfers (expect_tx); an arrival when this thread's cp.async copies
 * land; wait until the phase of parity `parity` (i32 0/1) completed. */
void nt_mbar_init(nt *t, LLVMValueRef bar, int count);
void nt_mbar_init_fence(nt *t);
void nt_mbar_arrive(nt *t, LLVMValueRef bar);
void nt_mbar_expect_tx(nt *t, LLVMValueRef bar, int bytes);
void nt_mbar_arrive_copies(nt *t, LLVMValueRef bar);
void nt_mbar_wait(nt *t, LLVMValueRef bar, LLVMValueRef parity);

/* Named barrier id (i32; 0 is nt_barrier's) over `threads` threads (a
 * multiple of 32): bar.sync waits for all of them, bar.arrive counts this
 * warp without waiting (a producer/consumer handover). */
void nt_bar_sync(nt *t, LLVMValueRef id, int threads);
void nt_bar_arrive(nt *t, LLVMValueRef id, int threads);

/* A ring of `stages` mbarriers from shared byte offset `off`, one per
 * pipeline slot: tile j (i32, counting from 0) uses slot j % stages in
 * round j / stages. The phase is the tile index's, (j / stages) & 1, so no
 * phase bit is carried across iterations. */
typedef struct nt_ring {
    int off, stages;
} nt_ring;
LLVMValueRef nt_ring_slot(nt *t, const nt_ring *r, LLVMValueRef j);
/* The shared address of slot's barrier. */
LLVMValueRef nt_ring_bar(nt *t, const nt_ring *r, LLVMValueRef slot);
/* Waits for the completion of tile j's round on its slot (a full ring:
 * its data landed). */
void nt_ring_wait(nt *t, const nt_ring *r, LLVMValueRef j);
/* From the second round on (j >= stages), waits for the round before tile
 * j's (an empty ring: the slot's previous tile released). */
void nt_ring_wait_prev(nt *t, const nt_ring *r, LLVMValueRef j);

/* ---- variables and control ---- */

/* A scalar variable: an entry-block alloca holding init. */
LLVMValueRef nt_var(nt *t, LLVMTypeRef ty, LLVMValueRef init, const char *name);
LLVMValueRef nt_get(nt *t, LLVMValueRef var);
void nt_set(nt *t, LLVMValueRef var, LLVMValueRef v);

/* A fragment variable (shape fixed by its initial value). */
typedef struct nt_fvar {
    LLVMValueRef slot;
    nt_role role;
    int rows, cols, n;
    dtype dt;
} nt_fvar;
nt_fvar nt_fvar_new(nt *t, const nt_frag *init);
void nt_fvar_get(nt *t, const nt_fvar *v, nt_frag *f);
void nt_fvar_set(nt *t, const nt_fvar *v, const nt_frag *f);

/* for (i = begin; i < end; i++) (signed i32): nt_for returns i in the body;
 * nt_for_end closes the loop and continues after it. nt_for_step: i +=
 * step (> 0), e.g. a CTA-strided scan. */
typedef struct nt_loop {
    LLVMValueRef var;
    LLVMBasicBlockRef head, done;
    LLVMValueRef back; /* the back edge (set by nt_for_end) */
    int step;
} nt_loop;
LLVMValueRef nt_for(nt *t, nt_loop *l, LLVMValueRef begin, LLVMValueRef end);
LLVMValueRef nt_for_step(nt *t, nt_loop *l, LLVMValueRef begin, LLVMValueRef end, int step);
void nt_for_end(nt *t, nt_loop *l);
/* Keeps a closed loop rolled (llvm.loop.unroll.disable on its back edge). */
void nt_loop_no_unroll(nt *t, const nt_loop *l);

/* The two f32 values of a packed pair of bf16/f16 (an i32 holding two
 * 16-bit elements, low half first). */
void nt_unpack_pair(nt *t, dtype dt, LLVMValueRef pair, LLVMValueRef x[2]);

/* if (cond) { ... } [else { ... }]: nt_else ends the then-part and opens
 * the else-part; nt_endif closes either. */
typedef struct nt_branch {
    LLVMBasicBlockRef other, join;
} nt_branch;
LLVMBasicBlockRef nt_if(nt *t, LLVMValueRef cond);
void nt_endif(nt *t, LLVMBasicBlockRef join);
nt_branch nt_if_else(nt *t, LLVMValueRef cond);
void nt_else(nt *t, const nt_branch *br);
void nt_endif_else(nt *t, const nt_branch *br);
/* Threads for which cond is false return here; the others go on. */
void nt_return_unless(nt *t, LLVMValueRef cond);

#endif
