/*
 * nvptx_wgmma.h — warpgroup MMA (wgmma.mma_async m64nNk16, bf16/f16 ->
 * f32, sm_90a) over 128-byte-swizzled shared tiles, shared by the forward
 * (nvptx_fa2_wgmma.c) and the backward (nvptx_bwd_wgmma*.c).
 *
 * A swizzled tile of R rows and C two-byte columns (C a multiple of 64) is
 * C/64 column blocks of R rows x 128 bytes; 16-byte chunk c of row r sits
 * at chunk position c ^ (r % 8). Tiles start 1024-byte aligned. Such a tile
 * serves as a K-major operand (rows are M or N, columns K: A of A·Bᵀ or B
 * of A·Bᵀ) and as an MN-major B (rows are K, columns N: B of A·B).
 *
 * Accumulators: warp w % 4 of the warpgroup owns rows 16(w % 4).. of the
 * 64, and each 8-column block is laid out as an m16n8 mma.sync accumulator
 * (acc[4 nb + e] is element e of block nb), so element-wise code is the
 * mma.sync code. A register A operand is packed as mma.sync's A fragment.
 */
#ifndef ATTNC_CODEGEN_NVPTX_WGMMA_H
#define ATTNC_CODEGEN_NVPTX_WGMMA_H

#include "nvptx_intrin.h"

/* Most k16 steps of one product (K up to 256). */
enum { NV_WG_MAXSTEPS = 16 };

/* Byte offset of 16-byte chunk ch of row `row` in a swizzled tile of
 * `rows` rows (i32 values). */
LLVMValueRef nv_wg_swizzle_offset(nv_ctx *nv, LLVMValueRef row, LLVMValueRef ch, int rows);

/* The dynamic shared base rounded up to 1024 bytes (the launch reserves
 * 1024 bytes of slack): *smem the pointer, *smem32 its shared-window
 * address (i32). */
void nv_wg_smem_base(nv_ctx *nv, LLVMValueRef global, LLVMValueRef *smem, LLVMValueRef *smem32);

/* Descriptors of `steps` k16 steps over a K-major tile at shared address
 * addr (i32, the first row the product reads) of a tile with `rows` rows,
 * starting at column k0 (a multiple of 16). */
void nv_wg_desc_kmajor(nv_ctx *nv, LLVMValueRef addr, int rows, int k0, int steps, LLVMValueRef *desc);

/* The same over an MN-major B: addr is the tile's row k0 (the first K
 * row), `rows` the tile's rows (the column-block stride). */
void nv_wg_desc_mnmajor(nv_ctx *nv, LLVMValueRef addr, int rows, int steps, LLVMValueRef *desc);

/* acc[N/2] (+)= A·B over `steps` k16 steps as one inline asm (fence, the
 * steps, commit, wait 0), so LLVM cannot move a register access into the
 * asynchronous window. A: descriptors a_desc[k] or registers a_regs[4k..]
 * (a_regs non-NULL); B: b_desc[k], MN-major when trans_b. accumulate:
 * add to acc (else acc's inputs are ignored). */
void nv_wg_product(nv_ctx *nv, dtype dt, int N, int steps, LLVMValueRef *a_desc, LLVMValueRef *a_regs,
                   LLVMValueRef *b_desc, bool accumulate, bool trans_b, LLVMValueRef *acc);

/* One product of a group (nv_wg_products); the arguments of nv_wg_product. */
typedef struct nv_wg_op {
    int N, steps;
    LLVMValueRef *a_desc, *a_regs, *b_desc;
    bool accumulate, trans_b;
    LLVMValueRef *acc; /* N/2 accumulators, in (accumulate) and out */
    /* Non-NULL: a_desc[0] (b_desc[0]) is the first step's descriptor and
     * step k's is it + a_step[k] (nv_wg_steps_*), added inside the asm: the
     * steps' descriptors hold registers only during the product (LLVM
     * hoists loop-invariant ones out of loops, 2 registers each). */
    const int *a_step, *b_step;
} nv_wg_op;

/* The descriptor offsets of nv_wg_desc_kmajor's (nv_wg_desc_mnmajor's)
 * steps from its first, for nv_wg_op's a_step/b_step. */
void nv_wg_steps_kmajor(int rows, int k0, int steps, int *step);
void nv_wg_steps_mnmajor(int steps, int *step);

/* Most products of one group. */
enum { NV_WG_MAXOPS = 2 };

/* Independent products issued back to back in one inline asm (one fence,
 * every product's steps, one commit, wait 0): the tensor cores start the
 * second while the first drains, one wait for both. Products must not
 * write what another reads; nv_wg_product is the group of one. */
void nv_wg_products(nv_ctx *nv, dtype dt, nv_wg_op *ops, int nops);

/* nv_wg_products without the wait (overlapped key loop): one commit group
 * per product, in order, so wgmma.wait_group n leaves the last n running.
 * The outputs in ops[].acc are in flight: pass them through nv_wg_wait
 * before any other use (a copy of them before the wait would read them). */
void nv_wg_products_async(nv_ctx *nv, dtype dt, nv_wg_op *ops, int nops);

/* wgmma.wait_group n; vals[0..count) (in-flight outputs, at most 256) come
 * back as the asm's outputs, tied to its inputs: valid once it returns.
 * f32 values, or i32 ones (the packed A registers of a product in flight:
 * tied, so nothing reuses them before the wait). */
void nv_wg_wait(nv_ctx *nv, int n, LLVMValueRef *vals, int count);

/* Keeps the computation of vals[0..count) (f32) before the next
 * wgmma.wait_group: ptxas schedules a wait as early as its block allows,
 * above independent work (the softmax the products were meant to overlap),
 * but not above a volatile shared load; so one is issued here, predicated
 * on a test of vals that never holds (their sum equal to -inf: vals are
 * sums of exponentials, >= 0 or NaN), at shared address smem32 (i32, any
 * readable address). Costs an add per value, a compare and a predicated-off
 * load. */
void nv_wg_pin_before_wait(nv_ctx *nv, LLVMValueRef smem32, LLVMValueRef *vals, int count);

/* Orders this thread's generic-proxy shared writes (cp.async, st.shared)
 * before later async-proxy (wgmma) reads; issue before the barrier. */
void nv_wg_proxy_fence(nv_ctx *nv);

#endif
