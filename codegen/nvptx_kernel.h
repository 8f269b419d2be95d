/*
 * nvptx_kernel.h — tile IR -> one PTX kernel: the single entry point behind
 * which GPU lowering strategies live. Today: FA2 (cp.async pipeline,
 * online softmax in registers; nvptx_fa2_*.c) whose products are mma.sync
 * m16n8k16 + ldmatrix (sm_80 and sm_90a) or, on sm_90a, warpgroup MMA
 * (wgmma) from 128-byte-swizzled tiles (nvptx_fa2_wgmma.c; schedule key
 * mma=auto|sync|wgmma); and the linear-attention kernel (nvptx_linear*.c).
 * TMA + mbarriers and warp specialisation would plug in as a further
 * strategy behind nvptx_emit_kernel() with the same kernel ABI.
 *
 * Kernel parameter ABI (what the runtime passes, in this order; the table
 * of kernel_abi.h states it once for the code generator, the launch and
 * the AOT generator: nvptx_kernel_abi):
 *   ptr q, k, v, o, lse          global; lse may be 0 (then not written)
 *   i64 q_stride[4], k_stride[4], v_stride[4], o_stride[4], lse_stride[3]
 *                                in elements; the last dim of q/k/v/o has
 *                                stride 1 and rows are 16-byte aligned
 *   i32 size[SZ_MAX]             ir/expr.h size ids (batch, heads, ...)
 *   per recipe param:            ptr (ndim > 0: contiguous row-major) or,
 *                                for a scalar, f32 (float dtypes) / i64 (ints)
 *   info.tma only: CUtensorMap q, k, v by value (128 bytes each),
 *                                128-byte swizzle, zero fill; a sequence:
 *                                rank 4 {dim, tokens, heads, batch}, box
 *                                {64, tile rows, 1, 1}; a 2-D grid: rank 5
 *                                {dim, x, y, heads, batch}, box {64, x ext,
 *                                y ext, 1, 1}; a 3-D grid: rank 5 {dim, x,
 *                                y, z, hb}, box {64, x, y, z ext, 1}, where
 *                                the kernel's hb coordinate is head + heads
 *                                * batch (kv_heads for k, v): see
 *                                runtime/cuda/cuda_tma.h for the strides
 * Launch: grid (nvptx_grid_x(), heads, batch), block (threads), dynamic
 * shared memory smem_bytes (over 48 KB needs the function attribute).
 */
#ifndef ATTNC_CODEGEN_NVPTX_KERNEL_H
#define ATTNC_CODEGEN_NVPTX_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "../ir/tile_ir.h"
#include "../support/strbuf.h"
#include "kernel_abi.h"

typedef enum { NVPTX_OK = 0, NVPTX_UNSUPPORTED = 1, NVPTX_INTERNAL = 2 } nvptx_status;
typedef enum { NVPTX_STRATEGY_FA2 = 0, NVPTX_STRATEGY_LINEAR = 1 } nvptx_strategy;

enum { NVPTX_MAX_PARAMS = 16 };
_Static_assert((int)NVPTX_MAX_PARAMS == (int)KABI_MAX_PARAMS, "one bound on a kernel's params");

typedef struct nvptx_kernel_info {
    char name[64];
    target_arch arch;
    nvptx_strategy strategy;
    int threads;    /* block size */
    int smem_bytes; /* dynamic shared memory */
    int ndims;      /* tile dims */
    int q_tile[3];
    int grid_x_fixed; /* > 0: grid.x is this (linear: Dv slices), not query tiles */
    int grid_ndim; /* recipe token grid dims (0: a sequence) */
    bool tma;      /* three CUtensorMaps (q, k, v) follow the ABI's params */
    bool o_tma;    /* ... and a fourth, o's: O is stored by TMA, boxes of 64 dims x 64 rows (a warpgroup's) */
    bool serial;   /* launches must not overlap: the kernel uses module-global scratch */
    int kv_rows;   /* tma: key/value tile tokens (the box height; q's is q_tile[0]) */
    /* a persistent kernel (schedule persist=1): it runs under any grid,
     * each block taking items (query tile, head, batch) from its flat
     * index on by the grid's size; cuda_module_launch gives it
     * min(items, SMs) blocks, a plain (x, heads, batch) grid runs it as
     * one item per block (AOT launchers) */
    bool persistent;
    int kv_tile[3]; /* key tile extents per tile dim (tma grid boxes) */
    bool cross;    /* kv_tokens may differ from tokens */
    dtype dt;
    int head_dim, head_dim_v;
    int nparams;
    bool param_scalar[NVPTX_MAX_PARAMS];
    bool param_float[NVPTX_MAX_PARAMS];
    /* dilation-group tiling (tile_ir.h dil; 0/1: none): along dim d the
     * query tiles are dil * ceil(ceil(L / dil) / q_tile) (nvptx_grid_x) */
    int dil[3];
} nvptx_kernel_info;

/* "sm_80" / "sm_90a"; NULL for the host. */
const char *nvptx_arch_name(target_arch arch);
/* "sm_80" (also sm_86, sm_87, sm_89, sm_100, sm_120) -> TARGET_SM80;
 * "sm_90a" (also sm_90) -> TARGET_SM90A. False for other names. One table (nvptx_target.c) holds
 * them: a name whose nvptx_arch_name() differs gets that arch's code. */
bool nvptx_arch_parse(const char *name, target_arch *out);
/* The accepted names, in order (at most cap); returns how many. */
int nvptx_arch_names(const char **names, int cap);
/* Appends the accepted names: "sm_80, sm_86, ...". */
void nvptx_arch_list(strbuf *sb);

/* Emits PTX for kernel k on arch; it reads nothing but k (ops, params,
 * sizes, linear attributes: what its printed text holds). Returns
 * NVPTX_UNSUPPORTED (with the reason) for kernels no strategy handles yet. */
nvptx_status nvptx_emit_kernel(const tir_kernel *k, target_arch arch, nvptx_kernel_info *info, strbuf *ptx,
                               strbuf *err);

/* The GPU schedule for `tile auto` (until the autotuner picks) of the
 * recipe whose kernel header is k (passes' lower_signature): k->sched (the
 * recipe's own tile section) when it names one, else per head dim, grid
 * dims and arch a default (sm_80: fits its shared memory; sm_90a, 1-D,
 * head dim <= 128: q=128 kv=128 warps=8, run with wgmma). k may be NULL
 * (1-D, head_dim 128). */
schedule nvptx_default_schedule(const tir_kernel *k, target_arch arch);

/* $ATTNC_GRID_TMA: -1 unset or 1 (mma=auto and mma=wgmma_ws copy grid
 * tile boxes with the TMA producer), 0 (grids never copy with TMA: auto
 * runs wgmma without a producer, mma=wgmma_ws a cp.async producer). It
 * changes kernels, so kernel cache keys include it. */
int nvptx_grid_tma_mode(void);
/* $ATTNC_DOC_FULL: -1 unset or 1 (the default: tiles inside the query
 * tile's own document take the full-tile test of the mask without its
 * document filter, nvptx_fa2_span.c; H200, 8 causal documents at 64k: 488
 * TFLOP/s against 319), 0 (every tile of the cut range is partial, ids
 * compared per element). Part of kernel cache keys. */
int nvptx_doc_full_mode(void);

/* $ATTNC_MASK_FRAMES (on by default, NVPTX_MASK_FRAMES_BY_DEFAULT: H200
 * radial attention at 31200 tokens 35.6 -> 14.1 ms): 1, also when unset (a
 * mask that reads the key only as k.t div F and k.t mod F, F >= the key
 * tile: radial, radial_token, gets its key-frame subtrees computed once per
 * tile and row, nvptx_fa2_frames.c), or 0 (the partial-tile mask is one
 * expression per element). Part of kernel cache keys. */
int nvptx_mask_frames_mode(void);

/* $ATTNC_OVL_SPLIT_PRODUCER (experimental, not measured): -1 unset, 0, or
 * 1 (under overlap with TMA the K and V rings are issued by two producer
 * threads, nvptx_fa2_ws.c). Part of kernel cache keys. */
int nvptx_ovl_split_mode(void);

/* $ATTNC_PERSIST_DYNAMIC (experimental; correct on the H100 but not faster:
 * 2026-12-06 run58, causal B=8 N=8192 +2% time): -1 unset, 0,
 * or 1 (persist=1 takes its items from a counter, a block's next item when
 * it starts one, pair-major, heaviest first: nvptx_fa2_persist.c; the
 * static snake keeps 132 (head, batch) pairs in flight, which lost 1.6x to
 * DRAM at B=8 N=8192, bench/RESULTS.md run48). The counter is a module
 * global, reset by each launch's last block: one launch of a kernel at a
 * time per context. Part of kernel cache keys. */
int nvptx_persist_dynamic_mode(void);
/* $ATTNC_ITEM_PAIRS: -1 unset, 0, or 1 (static rounds of persistent blocks
 * on a token sequence take a (head, batch) pair's query tiles together,
 * heaviest first, instead of all pairs' tiles of one rank together: the
 * blocks of a round share one pair's keys in L2; nvptx_fa2_persist.c).
 * Unset: where the union range's tile count does not grow with the query
 * tile (sinks || window; nvptx_plan.c pairs_order). Part of kernel cache
 * keys. */
int nvptx_item_pairs_mode(void);
/* $ATTNC_UNION_UNTESTED (NVPTX_UNION_UNTESTED_BY_DEFAULT): 1 or 0 (the
 * overlapped loop over a union range computes each tile, an empty one as a
 * masked partial tile, without a branch around empty tiles, as it does for
 * ranges of one box: nvptx_plan.c overlap_without_empty). Part of kernel
 * cache keys. */
int nvptx_union_untested_mode(void);

/* $ATTNC_PEEL_FIRST: 1 (also unset, the default) or 0. The overlapped key
 * loop (overlap=1) runs its first tile's S = Q K^T alone, before the loop,
 * and enters the loop with that tile's P V pending; at 0 the loop's first
 * iteration issues S with a P V of P = 0 (a wasted product, and S waits
 * for V's tile too). Part of kernel cache keys. */
int nvptx_peel_first_mode(void);

/* $ATTNC_PEEL_ALL: 1 (also unset, the default) or 0. The peel of
 * $ATTNC_PEEL_FIRST also in persistent blocks and in loops that test their
 * tiles for emptiness (an empty first tile is skipped, and the loop then
 * starts with nothing pending, as without the peel). Part of kernel cache
 * keys. */
int nvptx_peel_all_mode(void);

/* $ATTNC_O_STAGE: 1 (also unset, the default) or 0. Kernels with a producer
 * warpgroup (wgmma, one item a block) write O through shared memory, each
 * warpgroup into the bytes of its own Q rows, and store it in whole rows,
 * 16 bytes a thread (codegen/nvptx_fa2_ostage.c); at 0 each thread stores
 * its accumulator fragments, 4 bytes at a time. Part of kernel cache keys. */
int nvptx_o_stage_mode(void);
/* $ATTNC_O_TMA (opt-in; correct and level in time on the H100, 2026-12-06
 * run72): 1 stores the staged O of token-sequence kernels with TMA (one
 * thread a warpgroup issues a box of 64 rows per 64 dims; rows past the
 * sequence are clipped by the map) instead of 16-byte stores by every
 * thread; the kernel then takes o's tensor map after q's, k's and v's.
 * Part of kernel cache keys. */
int nvptx_o_tma_mode(void);

/* $ATTNC_TANH_APPROX: 1 (also unset, the default) or 0. tanh in scores and
 * their derivatives on the GPU: PTX tanh.approx.f32 (relative error at most
 * 2^-11), or at 0 the exponential form with an approximate reciprocal
 * (about 1 ulp of f32). Part of kernel and backward program cache keys. */
int nvptx_tanh_approx_mode(void);

/* $ATTNC_DOC_TABLE: -1 unset or 1 (the default: a document kernel's blocks
 * share each query tile's cut across heads through a module-global table
 * tagged per launch: the first block of a query tile scans and publishes,
 * later heads read it; nvptx_fa2_doc_table.c; launches of such a kernel are
 * serial; H100 2026-12-05: 8 documents at 64k 1.10-1.18x faster, 64
 * documents 1.29x), or 0 (every block scans). Part of kernel cache keys. */
int nvptx_doc_table_mode(void);

/* $ATTNC_FULL_RANGE: -1 unset (on for token grids: aligned GNA; off for
 * sequences), 0 (off), or 1 (on for sequences and documents too,
 * experimental; documents' not yet run on a GPU): runs of
 * full tiles in key loops of their own without mask or empty tests
 * (nvptx_fa2_coords.c fa2_key_loops; H100 run50: HunyuanVideo GNA 572 ->
 * 670 TFLOP/s on the overlapped loop). Part of kernel cache keys. */
int nvptx_full_range_mode(void);

/* $ATTNC_MASK_INSIDE: 1, else unset (off, experimental). On token
 * sequences a partial key tile that lies inside the sequence takes a copy
 * of the mask without the per-element key-bound test (one compare an
 * element fewer; a second copy of the mask's code). Part of kernel cache
 * keys. */
int nvptx_mask_inside_mode(void);

/* $ATTNC_TMA_SKIP_EMPTY (opt-in: no gain measured on the H200, radial
 * 35.46 ms against 35.57, sinks + window 1.204 against 1.202): -1 unset or 0, or 1
 * (the TMA producer of the forward's default loop copies no tile that the
 * class's empty test skips; it arrives on the slot's barrier instead,
 * nvptx_fa2_ws.c). Part of kernel cache keys. */
int nvptx_tma_skip_empty_mode(void);
/* $ATTNC_TMA_FENCE (experimental): -1 unset or 1 (the computing warps of
 * the TMA-producer kernel issue fence.proxy.async after each K/V slot
 * lands, a MEMBAR.ALL.CTA in the SASS), 0 (no fence: the async proxy wrote
 * the slot and the wgmma reads it through the async proxy, the mbarrier's
 * completion orders them; overlap=1|2 never fences). Part of kernel cache
 * keys. */
int nvptx_tma_fence_mode(void);
/* $ATTNC_WS_MAXNREG (experimental): -1 unset (the schedule's regs= decides),
 * 1 (the forward's producer warpgroup hands its registers to the computing
 * warps with setmaxnreg, nvptx_fa2_ws.c, whatever the schedule says) or 0
 * (no setmaxnreg: every warp keeps the launch's share, at most 168
 * registers at 384 threads, as regs=even). Part of kernel cache keys. */
int nvptx_ws_maxnreg_mode(void);
/* $ATTNC_TMA_L2_AHEAD (experimental, opt-in, not yet run on a GPU): -1
 * unset (or out of range), 0 (off), else N in 1..4: the TMA producer of
 * the forward fetches K and V of tile j + N into L2 (nt_prefetch_tma) before
 * it waits for tile j's ring slot, so a tile that misses L2 (HunyuanVideo
 * GNA's windows: 89% L2 hits) is on its way from DRAM while the slot is
 * still busy. Part of kernel cache keys. */
int nvptx_tma_l2_ahead_mode(void);
/* $ATTNC_NARROW_FIRST (on by default, NVPTX_NARROW_FIRST_BY_DEFAULT: H200
 * sinks(4) || window 2047 at N = 32768 +2%): 1, also when unset (a union
 * range's first tile that keeps nothing past its first 16 keys, sinks(4) ||
 * window, is computed on those 16 keys only: an eighth of a tile's
 * products; nvptx_fa2_narrow.c), or 0. Part of kernel cache keys. */
int nvptx_narrow_first_mode(void);
/* $ATTNC_O_DEFER (NVPTX_O_DEFER_BY_DEFAULT, on): 1 or 0. Persistent blocks on
 * the overlapped loop with staged O (static items)
 * normalise each item's O into its staging bytes after the last P V and
 * store it (and the LSE) in the next item, while that item's first
 * S = Q K^T runs, so the tensor cores do not idle through the stores
 * (nvptx_fa2_overlap.c). Part of kernel cache keys. */
int nvptx_o_defer_mode(void);
/* $ATTNC_SCALE_FMA (on by default, NVPTX_SCALE_FMA_BY_DEFAULT): -1 unset, 0, or 1
 * (a score s * c with a constant c > 0, the default `s * scale`, keeps raw
 * s in registers; the softmax takes the row max of raw s and exponentiates
 * exp2(fma(s, c, -m)): one FFMA per score instead of FMUL then FADD, as
 * FlashAttention-3 does; nvptx_fa2_softmax.c). Part of kernel cache keys. */
int nvptx_scale_fma_mode(void);
/* $ATTNC_SKIP_RESCALE: -1 unset or outside 0..2 (then the overlapped key
 * loop, overlap=1, takes 2 and every other loop 0:
 * NVPTX_SKIP_RESCALE_OVERLAP_DEFAULT, fa_plan_from_tir), 0, 1 (the online
 * softmax multiplies O by alpha only where some row of the warp has a new
 * max, a warp vote per key tile: alpha is exactly 1 otherwise, so the
 * result is bit-identical), or 2 (1, and a
 * row keeps its max while a tile's max exceeds it by at most 8 in log2
 * units: exponentials up to 256, rescales rare; O and LSE equal up to
 * rounding; nvptx_fa2_softmax.c). Part of kernel cache keys. */
int nvptx_skip_rescale_mode(void);
/* $ATTNC_UNIFORM_WARP (opt-in, NVPTX_UNIFORM_WARP_BY_DEFAULT): -1 unset, 0,
 * or 1 (the softmax family's forward and backward kernels take their warp
 * index from lane 0 through shfl.sync.idx, so ptxas knows it uniform and
 * computes the wgmma descriptors of each warpgroup's tiles in uniform
 * registers rather than moving them there before every wgmma;
 * nt_uniform_warp). Part of kernel cache keys and the backward's. */
int nvptx_uniform_warp_mode(void);
/* $ATTNC_MAX_TREE (opt-in, NVPTX_MAX_TREE_BY_DEFAULT; slower on the H100,
 * 2026-12-06 run74: causal +2-5%): -1 unset, 0, or 1
 * (the forward's row max over a key tile as a balanced tree of max.f32,
 * depth log2(Tk/4) + 1, instead of a chain of Tk/4 dependent maxima: the
 * exponentials of a tile wait for its max, and ptxas does not reassociate
 * the chain. The same value: max is exact in any order;
 * nvptx_fa2_softmax.c). Part of kernel cache keys. */
int nvptx_max_tree_mode(void);
/* $ATTNC_Q_REGS: -1 unset, 0, or 1 (warp-specialized wgmma kernels load
 * each warp's 16 Q rows into registers once Q landed, as the A operand of
 * S = Q K^T (the "RS" form): each S product then reads only K from shared
 * memory, a third less of its operand traffic; 32 more registers at D =
 * 128; nvptx_fa2_wgmma.c). Persistent blocks then free Q's bytes as soon
 * as the fragments are loaded, so the next item's Q and keys arrive under
 * the current item. The plain loop carries the fragments from tile to tile
 * through an XOR with an opaque zero: without it ptxas 13.0 gave Q's
 * registers to P (wrong results, 2026-12-06 run75; test_ptx_overlap
 * q_fragments_kept checks the SASS). Unset: on where fa_plan_q_regs says
 * (the overlapped loop, two computing warpgroups, D <= 128, key tiles <=
 * 128, no document cut unless its boundary tiles take bit words
 * ($ATTNC_DOC_BITS), token sequences; H100: causal and dense D=128 2-3%
 * faster, sinks + window on persistent blocks 3-7%); 1: every
 * warp-specialized TMA kernel of one row block a warp; 0: none. Part of
 * kernel cache keys. */
int nvptx_q_regs_mode(void);
/* $ATTNC_DOC_BITS: -1 unset, 0, or 1 (default 1): the forward's partial
 * key tiles across a document boundary build the document filter as one
 * bit word a row from two id loads a lane and shuffles in a rolled loop
 * (nvptx_fa2_doc_bits.c), instead of one id load per score element; 0:
 * the element loads. Part of kernel cache keys. */
int nvptx_doc_bits_mode(void);

/* $ATTNC_LIN_SEGMENTS (opt-in): -1 unset (inter=chain kernels run at most
 * 16 segments per (batch, head)), else N in 1..64 (clamped): at most N;
 * the busy-CTA and slot budget stays 128 (nvptx_linear.h), so N > 16 only
 * changes B H < 8. Part of kernel cache keys. */
int nvptx_lin_segments_mode(void);
/* $ATTNC_LIN_INCLUSIVE (experimental, opt-in): -1 unset, 0, or 1 (with
 * more than 16 segments, each segment also publishes its inclusive end
 * state and the look-back walks backwards, stopping at the first
 * inclusive one: a bounded look-back; nvptx_linear_handoff.c). Part of
 * kernel cache keys. */
int nvptx_lin_inclusive_mode(void);
/* $ATTNC_BWD_LINEAR_FUSED (on by default,
 * NVPTX_BWD_LINEAR_FUSED_BY_DEFAULT): 1, also when unset (the linear
 * backward's dK and dV scans run as one fused scan where it applies: sm_90a,
 * no decay gradient; nvptx_linear_bwd.c), or 0 (three separate scans). The
 * linear backward's PTX is emitted per build, never looked up by key. */
int nvptx_bwd_linear_fused_mode(void);
/* $ATTNC_BWD_DOC_SPAN: the default level when unset or outside 0..2
 * (NVPTX_BWD_DOC_SPAN_BY_DEFAULT, 2); 0 (the GPU backward visits the hull of each range, every
 * causal tile pair of a document mask), 1 (the document span cut in the
 * backward too, nvptx_bwd_span.c: the dQ kernel cuts each query tile's
 * key range as the forward does, with its full tiles inside one document
 * unless ATTNC_DOC_FULL=0; the dK/dV kernel each key tile's query range,
 * transposed; the host's backward tile count follows it, tools_pairs.c),
 * 2 (1, and the dK/dV kernel's full tiles inside one document too: ptxas
 * spills 48 bytes in the producer ring's kernel at D = 128, none at 1).
 * Part of the backward's cache key, as every $ATTNC_BWD_* is
 * (cuda_bwd_job.c). */
int nvptx_bwd_doc_span_mode(void);
/* The GPU backward's dK/dV producer ring (nvptx_bwd_ring.c) switches,
 * part of kernel cache keys (the backward's own key holds every
 * $ATTNC_BWD_* too, cuda_bwd_job.c):
 * $ATTNC_BWD_RING_RELEASE: -1 unset or 1 (the default: every computing
 *   thread arrives on the stage's empty barrier, each one's own reads of
 *   lse and delta released by its own arrive, as compute-sanitizer's
 *   racecheck follows them), 0 (lane 0 of each computing warp arrives,
 *   after the barrier of the computing threads in the bulk dQ);
 * the others opt-in:
 * $ATTNC_BWD_RING_TMA_FIRST: -1 unset or 0, 1 (the producer issues Q and
 *   dO's TMA before its lanes load lse and delta, not after);
 * $ATTNC_BWD_RING_STAGES: -1 unset (2), 2 or 3 query tiles in flight;
 * $ATTNC_BWD_DS_BUFS: -1 unset (1), 1 or 2 dS tiles (two: pair n stores
 *   dS into buffer n % 2, and the barrier of the computing threads at the
 *   top of each pair goes);
 * $ATTNC_BWD_DQF_BUFS: -1 unset (2 where they fit), 1 or 2 f32 dQ tiles of
 *   the bulk dQ (at most: where shared memory holds them);
 * $ATTNC_BWD_DQ_WRITER: -1 unset or 0, 1 (the producer warpgroup's second
 *   warp issues the bulk dQ reductions, FA3's dQ writer: the computing
 *   warps hand it their f32 tile by named barriers instead of waiting for
 *   each other and issuing; one f32 tile). */
int nvptx_bwd_ring_release_mode(void);
int nvptx_bwd_ring_tma_first_mode(void);
int nvptx_bwd_dq_writer_mode(void);
int nvptx_bwd_ring_stages_mode(void);
int nvptx_bwd_ds_bufs_mode(void);
int nvptx_bwd_dqf_bufs_mode(void);
/* $ATTNC_BWD_DQ_DEFER: -1 unset or 0, 1 (opt-in): the producer ring's
 * dK/dV pair issues its dQ product at the start of the next pair, ahead of
 * that pair's Sᵀ, and stores and reduces the f32 block while Sᵀ runs
 * (nvptx_bwd_wgmma.c gw_dqd_*), instead of waiting for it at the end of its
 * own pair. */
int nvptx_bwd_dq_defer_mode(void);
/* $ATTNC_BWD_STAT_EARLY: -1 unset, 0, or 1 (opt-in; correct but slower on the
 * H100, 2026-12-06 run75: dense 565 -> 549 backward TFLOP/s): the pipelined
 * dK/dV pair loads its lse and delta values from shared memory right after
 * issuing Sᵀ (and dPᵀ), not after waiting for them: Nsight Compute on the
 * H100 (2026-12-06 run74, dense D=128) put 11% of the dK/dV kernel's stall
 * samples on the exponentials' and dS's waits for those loads. */
int nvptx_bwd_stat_early_mode(void);
/* $ATTNC_BWD_PARTS: whether the GPU backward walks the parts of union
 * masks (causal && (sinks || window)) instead of their hull: the dQ
 * kernel the forward's key parts, the dK/dV kernel the q_range's
 * transposed parts (nvptx_bwd_parts.c). Unset: opt-in (off) until
 * measured on the GPU; 1 on, 0 off. Part of the backward's cache keys (as
 * every $ATTNC_BWD_*); `attnc bench --pairs-only` counts follow it. */
bool nvptx_bwd_parts_on(void);

/* grid.x: the number of query tiles for sizes indexed by size_id. */
int64_t nvptx_grid_x(const nvptx_kernel_info *info, const int64_t *sizes);
/* Tiles of `tile` over the token extent (sizes[tok_id], or the grid dims
 * when grid_ndim > 0): per dim dil * ceil(ceil(L / dil) / tile) (dil NULL
 * or <= 1: none); the forward and backward grid rules both count this way. */
int64_t nvptx_tiles_over(int ndims, int grid_ndim, const int *tile, const int *dil, const int64_t *sizes, int tok_id);

/* The kernel's parameter-role table (kernel_abi.h): its params' kinds and
 * whether it takes tensor maps. */
void nvptx_kernel_abi(const nvptx_kernel_info *info, kernel_abi *out);

#endif
