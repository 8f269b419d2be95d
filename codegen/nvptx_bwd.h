/*
 * nvptx_bwd.h — the softmax family's backward on the GPU: one PTX module
 * holding the kernels of the backward program (passes/lower_backward.h),
 * run in order by the runtime (runtime/cuda/cuda_program.h):
 *
 *   attnc_bwd_pre     grid (ceil(tokens/8), heads, batch), 256 threads:
 *                     delta = rowsum(dO ∘ O) (fp32 workspace), one warp a
 *                     row; with atomics it also zeroes the row's dQ
 *                     accumulator
 *   attnc_bwd_dkv     grid (key tiles, kv heads, batch): one CTA per key
 *                     tile keeps dK, dV in registers over every query head
 *                     of its kv head and the query tiles that see the tile
 *                     (mask analysis' transposed q_range), recomputing
 *                     S, P = exp(S - LSE), dP, dS; with atomics it also adds
 *                     dS K into the fp32 dQ accumulator (red.global.add.f32;
 *                     bulk: each warpgroup's dS K columns into an f32 tile
 *                     in shared memory, added to the accumulator's query
 *                     tile by one cp.reduce.async.bulk per 64 columns)
 *   attnc_bwd_dq      (NVPTX_BWD_DQ_KERNEL) grid (query tiles, heads,
 *                     batch): dQ of a query tile over its key tiles, in a
 *                     fixed order (deterministic)
 *   attnc_bwd_dq_cvt  (atomic or bulk dQ) dQ accumulator -> dq's dtype
 *   attnc_bwd_dparam  (float params the score reads, i.e. with gradients)
 *                     grid (ceil(max numel/256), params with gradients):
 *                     each d<param> element = the f64 sum, in slice order,
 *                     of the f32 slices the dkv kernel's warps filled (one
 *                     slice per warp of each dkv CTA, nvptx_bwd_param.c),
 *                     rounded to f32, then to the param's dtype
 *                     (deterministic; with the per-launch `atomic` flag
 *                     one red.global.add accumulator instead)
 *
 * Products are mma.sync m16n8k16 (bf16/f16 -> f32; sm_80 and sm_90a), or
 * on sm_90a under a schedule with mma=wgmma warpgroup MMA
 * (nvptx_bwd_wgmma.c): the same kernels and loops, with the products
 * m64nNk16 over 128-byte-swizzled shared tiles. The dK/dV kernel's
 * warpgroups own 64 keys each: Sᵀ = K Qᵀ and dPᵀ = V dOᵀ read both operands
 * from shared memory, dV += Pᵀ dO and dK += dSᵀ Q take Pᵀ, dSᵀ from
 * registers; the dQ kernel's one warpgroup computes S = Q Kᵀ, dP = dO Vᵀ
 * and dQ += dS K likewise. The runtime picks it with ATTNC_BWD_MMA=wgmma|sync|auto
 * (docs/runtime.md; auto, the default, takes wgmma wherever it serves).
 * Every kernel takes the same parameters (NVPTX_BWD_ABI below).
 */
#ifndef ATTNC_CODEGEN_NVPTX_BWD_H
#define ATTNC_CODEGEN_NVPTX_BWD_H

#include "nvptx_kernel.h"

/* Kernel parameters: the role table of kernel_abi.h (kernel_abi_backward,
 * nvptx_bwd_kernel_abi), in order:
 *   ptr q, k, v, o, lse, do, dq, dk, dv, then the workspace regions
 *        (kabi_ws: delta f32 [batch, heads, tokens]; dqacc f32 [batch,
 *         heads, tokens, head_dim], both contiguous; bulk dQ: dqacc is
 *         f32 [batch, heads, query tiles, Tq x head_dim] instead, each
 *         tile's block in wgmma fragment order (nvptx_bwd_wgmma.c), rows
 *         past the sequence included: nvptx_bwd_ws_rows)
 *   i64 strides (elements): q[4] k[4] v[4] o[4] lse[3] do[4] dq[4] dk[4] dv[4]
 *   i32 size[SZ_MAX]
 *   per recipe param as the forward (nvptx_kernel.h)
 *   per param with a gradient (info.grad_param order): ptr d<param>
 *        (contiguous, the param's dtype), ptr its slices (f32 workspace,
 *        nvptx_bwd_param_slices() x numel, contiguous), i32 atomic (1: the
 *        slices pointer is one f32 accumulator of numel that attnc_bwd_pre
 *        zeroes, with a grid of at least 1 in x, and dkv adds into with
 *        red.global.add.f32: not deterministic)
 * q, k, v, o, do need 16-byte rows (as the forward); dq, dk, dv 4-byte
 * aligned pairs of elements (even strides). The generators index the
 * pointers by BT_*: the table's tensors, then its workspace regions. */
enum { BT_Q, BT_K, BT_V, BT_O, BT_LSE, BT_DO, BT_DQ, BT_DK, BT_DV, BT_DELTA, BT_DQACC, BT_N };
_Static_assert((int)BT_DO == (int)KABI_DO && (int)BT_DV == (int)KABI_DV &&
                   (int)BT_DELTA == (int)KABI_ALL_TENSORS + (int)KABI_WS_DELTA &&
                   (int)BT_N == (int)KABI_ALL_TENSORS + (int)KABI_NWS,
               "BT_* are kernel_abi.h's tensors, then its workspace regions");
enum { NVPTX_BWD_MAX_KERNELS = 4 };

/* BWK_LIN_*: the linear family's program (nvptx_linear_bwd.c). */
typedef enum { BWK_PRE, BWK_DKV, BWK_DQ, BWK_DQ_CVT, BWK_DPARAM, BWK_LIN_DQ, BWK_LIN_DK, BWK_LIN_DV, BWK_LIN_DKV, BWK_LIN_GATE } nvptx_bwd_kind;

/* How dQ is formed (nvptx_bwd_emit; the runtime's $ATTNC_BWD_DQ):
 * KERNEL  attnc_bwd_dq recomputes S and dP per query tile (7 products a
 *         tile pair in all; deterministic);
 * ATOMIC  the dK/dV kernel adds dS K into the f32 accumulator by scalar
 *         red.global.add.f32, attnc_bwd_dq_cvt converts (5 products);
 * BULK    (mma=wgmma only) the same products, the sum going through an f32
 *         tile in shared memory and cp.reduce.async.bulk .add.f32 into the
 *         tile-contiguous accumulator (5 products; not deterministic).
 * KERNEL and ATOMIC keep the values false and true of the former bool. */
typedef enum { NVPTX_BWD_DQ_KERNEL, NVPTX_BWD_DQ_ATOMIC, NVPTX_BWD_DQ_BULK } nvptx_bwd_dq;

typedef struct nvptx_bwd_kernel {
    char name[64];
    nvptx_bwd_kind kind;
    int threads, smem_bytes;
} nvptx_bwd_kernel;

typedef struct nvptx_bwd_info {
    target_arch arch;
    int nkernels;
    nvptx_bwd_kernel kernels[NVPTX_BWD_MAX_KERNELS];
    int ndims, grid_ndim;
    int q_tile[3], kv_tile[3];
    bool atomics; /* dQ through the fp32 accumulator (not deterministic): atomic or bulk */
    bool dq_bulk; /* NVPTX_BWD_DQ_BULK: the accumulator is tile-contiguous */
    bool wgmma;   /* products by warpgroup MMA (else mma.sync) */
    dtype dt;
    int head_dim, head_dim_v;
    int nparams;
    bool param_scalar[NVPTX_MAX_PARAMS];
    bool param_float[NVPTX_MAX_PARAMS];
    int ngrad;                          /* params with gradients (then kernels[3] is attnc_bwd_dparam) */
    int grad_param[NVPTX_MAX_PARAMS];   /* their recipe param indices, in ABI order */
    int dkv_warps;                      /* warps of a dkv CTA (slices per CTA) */
    bool producer; /* NVPTX_BWD_PRODUCER took: the table ends in the q and do tensor maps (kernel_abi_backward) */
    bool dq_defer; /* $ATTNC_BWD_DQ_DEFER took: a pair's dQ product issued by the next pair */
    bool linear;                        /* the linear family's program (nvptx_linear_bwd.c) */
    int lin_grid_x;                     /* its scan kernels' grid x (chain segments) */
    bool lin_per_head;                  /* its gate kernel: grid (1, heads, 1), else (1, heads, batch) */
} nvptx_bwd_info;

/* The GPU backward's schedule for the recipe whose kernel header is k
 * (passes' lower_signature; its sched: the recipe's tile section): 64-token query and key tiles (8x8,
 * 4x4x4 on grids; 32-token tiles for head dims over 128), mma.sync; tiles
 * of `base` are kept when they fit (query tiles of 16..64 tokens, key
 * tiles of 16..128; emission refuses what overflows shared memory). */
schedule nvptx_bwd_schedule(const tir_kernel *k, const schedule *base, target_arch arch);

/* The schedule for products `want`: MMA_SYNC is nvptx_bwd_schedule;
 * MMA_WGMMA and MMA_AUTO give mma=wgmma where nvptx_bwd_wgmma_fits (query
 * tiles of 64 tokens, key tiles of 64 (explicit 128 kept; grids: the 64-token
 * boxes)), else the mma.sync schedule (the fallback). */
schedule nvptx_bwd_schedule_mma(const tir_kernel *k, const schedule *base, target_arch arch, mma_kind want);

/* The dK/dV kernel's own schedule under the wgmma schedule s (the dQ
 * kernel's), where it differs (true; *out set): `keys` and `box` are the
 * runtime's $ATTNC_BWD_DKV_KEYS and $ATTNC_BWD_DKV_BOX (NULL: unset).
 * box "wide" or unset, under a grid's default 64-token boxes: 128-key
 * boxes (two warpgroups share each query box), 2-D q=8x8 kv=8x16, 3-D
 * q=4x2x8 kv=4x4x8; "off": the schedule's boxes; "kv=8x16" or "q=8x8
 * kv=8x16": those boxes where they have s's dims. Otherwise (no box that
 * applies) a 1-D s of 64 keys gets 128 keys unless keys is other than
 * "128". The result must fit the wgmma backward (64 query, 64 or 128 key
 * tokens, powers of two), else false.
 * On true s takes out's query box: the dQ kernel and the launch grids
 * (nvptx_bwd_info's q_tile) must tile the queries as the dK/dV kernel
 * does; lower the dQ program under s after this call. */
bool nvptx_bwd_dkv_schedule(const tir_kernel *k, schedule *s, target_arch arch, const char *keys, const char *box,
                            schedule *out);

/* Whether the wgmma backward serves kernel header k under the tiles of s on arch: sm_90a,
 * bf16/f16, head dims 64 or 128, 64 query tokens, 64 or 128 key tokens. */
bool nvptx_bwd_wgmma_fits(const tir_kernel *k, const schedule *s, target_arch arch);

/* How much the wgmma kernels overlap (mma.sync ignores it):
 * 0: every product waits for itself, the dK/dV kernel reads the next query
 *    tile's lse/delta rows from global memory before computing the current
 *    one (the loads stall the warpgroup);
 * 1 (the default): those rows are loaded into registers before the current
 *    tile and stored to shared memory after it; the k16 steps' descriptors
 *    are formed inside each product's asm (fewer registers: fewer spills
 *    in nearly every shipped recipe);
 * 2: 1, and independent products share one wait: dK/dV
 *    kernel dV += Pᵀ dO with dPᵀ = V dOᵀ (3 waits a tile instead of 4),
 *    dQ kernel S with dP (2 instead of 3; 64-key tiles only);
 * 3: 2, but the dK/dV kernel pairs Sᵀ with dPᵀ and dV with dK (2 waits;
 *    Sᵀ, dPᵀ, dK and dV live at once: ptxas spills at D = 128);
 * 4 (NVPTX_BWD_OVERLAP_PIPE, $ATTNC_BWD_PIPE=1; opt-in: H200 dense +6%, causal -5%):
 *    1, but the dK/dV kernel issues the next query tile's copies while
 *    Sᵀ runs and leaves its accumulating products running:
 *    dPᵀ = V dOᵀ and dV += Pᵀ dO issued back to back, dV running while
 *    dSᵀ is computed and stored, dK += dSᵀ Q running across the barrier
 *    that publishes dS, both waited with the first dQ block (bulk dQ);
 *    the dQ kernel as at 1;
 * 5 (NVPTX_BWD_OVERLAP_PIPE_SDP, $ATTNC_BWD_PIPE=2; the producer's default): 4, with Sᵀ
 *    issued together with dPᵀ and Pᵀ computed while dPᵀ runs (FA3's order;
 *    more registers: spills at D = 128 without the producer);
 * 6, 7 (_PIPE_LATE, _PIPE_SDP_LATE; $ATTNC_BWD_PIPE=3, 4; opt-in): 4, 5
 *    with dK issued after the barrier, behind the first dQ block, and
 *    left running while that block goes to shared memory (FA3's order). */
enum {
    NVPTX_BWD_OVERLAP_DEFAULT = 1,
    /* A flag or-ed into the level (the runtime's default; $ATTNC_BWD_PRODUCER=0
     * turns it off): the
     * dK/dV kernel gets a producer warpgroup that copies the Q and dO
     * tiles by TMA, lse and delta by its warp's loads, into a two-stage
     * ring under full/empty mbarriers (nvptx_bwd_ring.c); its computing
     * warpgroups wait on those instead of CTA-wide barriers. H200
     * (2026-12-03, B=1 H=16 N=16384 D=128, backward TFLOP/s): causal 550
     * (PIPE_SDP order; 378 without), dense 530 (338). Taken where
     * it serves: wgmma, bulk dQ, sequences (no grids), 128-key dK/dV
     * tiles (the default there), no param gradients, no inverse q range,
     * D = Dv = 64 or 128 (else ignored; nvptx_bwd_info.producer says
     * which). */
    NVPTX_BWD_PRODUCER = 0x100,
    /* With it ($ATTNC_BWD_PRODUCER=2; opt-in): the computing warpgroups
     * drop the barrier at the top of each query tile; each one instead
     * waits, before storing the next dS, for the other's signal that its
     * dQ products no longer read this one (bar.arrive / bar.sync pairs). */
    NVPTX_BWD_PRODUCER_DS_SPLIT = 0x200,
    /* The level was not asked for (no $ATTNC_BWD_OVERLAP / $ATTNC_BWD_PIPE):
     * where the producer is taken its pair runs NVPTX_BWD_OVERLAP_PIPE_SDP
     * (FA3's order: no spills with the producer's 240 registers; H200
     * causal 550 / dense 530 against 558 / 518 under PIPE), elsewhere the
     * level or-ed with it. */
    NVPTX_BWD_LEVEL_UNSET = 0x400,
    NVPTX_BWD_OVERLAP_PIPE = 4,
    NVPTX_BWD_OVERLAP_PIPE_SDP = 5,
    NVPTX_BWD_OVERLAP_PIPE_LATE = 6,
    NVPTX_BWD_OVERLAP_PIPE_SDP_LATE = 7
};

/* Emits the module of the backward program prog (lower_backward under
 * nvptx_bwd_schedule; params and sizes from its kernels): dQ as `dq` says
 * (BULK needs the wgmma schedule, else NVPTX_UNSUPPORTED); overlap as
 * above. dq_prog non-NULL: the dQ kernel comes
 * from that program (the same recipe lowered under other key tiles, the
 * same products), so the dK/dV kernel can take 128-key tiles (two
 * warpgroups sharing each Q/dO tile) while the dQ kernel keeps 64 (128
 * spill there). NVPTX_UNSUPPORTED with the reason for recipes it does not
 * handle. */
nvptx_status nvptx_bwd_emit(const tir_program *prog, const tir_program *dq_prog, target_arch arch,
                            nvptx_bwd_dq dq, int overlap, nvptx_bwd_info *info, strbuf *ptx, strbuf *err);

/* The linear family's backward (causal, identity feature map, no
 * normaliser, heads == kv_heads, tokens == kv_tokens; nvptx_linear_bwd.c)
 * for the kernel header k (lower_signature) with ngrad param gradients
 * (grad_param: recipe param indices; only the decay param can have one):
 *   attnc_lin_bwd_dq  dQ = the forward's scan with (q, k, v) = (dO, V, K),
 *                     plus q·dq per token into the workspace
 *   attnc_lin_bwd_dk  dK = the scan backwards in time with (dO... ):
 *                     (q, k, v) = (V, dO, Q), plus k·dk
 *   attnc_lin_bwd_dv  dV = backwards with (q, k, v) = (K, Q, dO)
 *   attnc_lin_bwd_dkv (fused, D = Dv, where its shared memory fits: sm_90a)
 *                     replaces dk and dv: the dv scan also forms dK from
 *                     its state (read transposed), k·dk from staged K
 *   attnc_lin_bwd_gate (with a gradient) d log a = reverse cumsum of
 *                     q·dq - k·dk, into d<decay> (per head: / λ, summed
 *                     over batch and tokens)
 * The scans are the forward's inter=chain kernel (nvptx_linear.h); the
 * workspace's delta region holds 4 f32 per token (q·dq, k·dk, one partial
 * per column group each). */
nvptx_status nvptx_linear_bwd_emit(const tir_kernel *k, target_arch arch, int ngrad, const int *grad_param,
                                   bool fused, nvptx_bwd_info *info, strbuf *ptx, strbuf *err);

/* The role table of every kernel of the program (kernel_abi.h). */
void nvptx_bwd_kernel_abi(const nvptx_bwd_info *info, kernel_abi *out);

/* Rows per (batch, head) of a grid or workspace rule (nvptx_bwd_rows):
 * the tokens, or every row of the query tiles (query tiles x Tq, Tq the
 * product of q_tile over the tile dims: the bulk dQ accumulator's rows,
 * those past the sequence included; never fewer than the tokens). */
typedef enum { BWR_TOKENS, BWR_Q_TILE_ROWS } nvptx_bwd_row_kind;
int64_t nvptx_bwd_rows(const nvptx_bwd_info *info, nvptx_bwd_row_kind kind, const int64_t *sizes);

/* A kernel's launch grid as a rule, for the runtime and the AOT launcher:
 * x = ceil(size[x_size] * x_mul / x_div) (ROWS), ceil(the query tiles'
 * rows (BWR_Q_TILE_ROWS) * x_mul / x_div) (Q_TILE_ROWS: attnc_bwd_pre and
 * attnc_bwd_dq_cvt under bulk dQ), the query or key tiles of the sizes
 * (Q_TILES, KV_TILES: nvptx_bwd_grid_x), or ceil(the largest gradient's
 * numel / x_div) (PARAM_ELEMS); y = size[y_size] (-1: the params with
 * gradients); z = size[z_size] (-1: 1). */
typedef enum { BWG_ROWS, BWG_Q_TILES, BWG_KV_TILES, BWG_PARAM_ELEMS, BWG_Q_TILE_ROWS, BWG_FIXED } nvptx_bwd_grid_kind; /* FIXED: x = x_mul */
typedef struct nvptx_bwd_grid {
    nvptx_bwd_grid_kind x;
    int x_size, x_mul, x_div;
    int y_size, z_size;
} nvptx_bwd_grid;
nvptx_bwd_grid nvptx_bwd_grid_rule(const nvptx_bwd_info *info, nvptx_bwd_kind kind);

/* Workspace region r holds batch x heads x nvptx_bwd_rows(its row kind)
 * rows of nvptx_bwd_ws_row_floats f32 values (0: the program does not use
 * it). The runtime and the AOT launcher lay the regions out in kabi_ws
 * order, each rounded up to 256 bytes (nvptx_bwd_ws_bytes), then each
 * param gradient's slices (nvptx_bwd_param_slices x numel f32, rounded up
 * to 256 bytes). */
int64_t nvptx_bwd_ws_row_floats(const nvptx_bwd_info *info, kabi_ws r);
nvptx_bwd_row_kind nvptx_bwd_ws_rows(const nvptx_bwd_info *info, kabi_ws r);
int64_t nvptx_bwd_ws_bytes(const nvptx_bwd_info *info, kabi_ws r, const int64_t *sizes);

/* Grid x of a kernel for sizes indexed by size_id (not attnc_bwd_dparam). */
int64_t nvptx_bwd_grid_x(const nvptx_bwd_info *info, nvptx_bwd_kind kind, const int64_t *sizes);
/* attnc_bwd_dparam's grid x for the largest param with a gradient. */
int64_t nvptx_bwd_dparam_grid_x(int64_t max_numel);

/* Slices of each param gradient (f32 x numel each) the dkv kernel fills. */
int64_t nvptx_bwd_param_slices(const nvptx_bwd_info *info, const int64_t *sizes);

#endif
