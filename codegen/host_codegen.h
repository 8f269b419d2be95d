/*
 * host_codegen.h — tile IR -> LLVM IR for the host CPU, JIT-compiled.
 *
 * host_codegen_build() turns a scheduled tile IR kernel (passes' output for
 * TARGET_HOST) into one function that runs the programs [first, last) of
 * the grid (query tiles x heads x batch for softmax; heads x batch for
 * linear attention):
 *
 *   int32_t attnc_host_kernel(<args in the order of host_kernel.args>)
 *
 * Every argument is a pointer or an int64; host_kernel.args says which is
 * which, so the runtime can build the libffi call from the list alone:
 *   q, k, v, o, lse pointers, each followed by its 4 strides (elements; lse
 *   uses 3); then the sizes batch, heads, kv_heads, tokens, kv_tokens, the
 *   grid dims and the extra sizes; then per recipe param its pointer, its
 *   strides and its shape; then, for RANGE_BLOCK_TABLE kernels, the table of
 *   visited kv tiles built by the runtime (HROLE_BLOCK_TABLE); last, the
 *   scratch block (HROLE_SCRATCH) the runtime allocates with the context's
 *   allocator, so generated code never allocates; then the program range
 *   first, last (HROLE_PROGRAM_FIRST/LAST).
 * Programs are numbered row-major over (batch, head, query tile per grid
 * dim) — (batch, head) for linear attention — and host_kernel_programs()
 * says how many a launch has. Each program writes only its own rows of o
 * and lse and reads the rest, so disjoint ranges may run on different
 * threads at once, each with its own scratch block, and the result does not
 * depend on how the range is split.
 * lse may be NULL (not written). The function returns 0.
 * Tiles are f32 row-major arrays in the scratch block; loads from bf16/f16
 * are exact, stores round to nearest even.
 */
#ifndef ATTNC_CODEGEN_HOST_CODEGEN_H
#define ATTNC_CODEGEN_HOST_CODEGEN_H

#include <stdbool.h>
#include <stdint.h>

#include "../ir/tile_ir.h"
#include "../support/arena.h"
#include "../support/strbuf.h"

/* Tensors by position in the signature: the forward's five, then the
 * backward program's (host_backward.c). */
enum { HT_Q, HT_K, HT_V, HT_O, HT_LSE, HT_DO, HT_DQ, HT_DK, HT_DV, HT_COUNT };
enum { HT_FWD_COUNT = HT_LSE + 1 };

typedef enum {
    HROLE_TENSOR,       /* pointer; which = HT_* */
    HROLE_STRIDE,       /* int64; which = HT_*, dim */
    HROLE_SIZE,         /* int64; which = size_id */
    HROLE_PARAM,        /* pointer; which = param index */
    HROLE_PARAM_STRIDE, /* int64; which = param, dim */
    HROLE_PARAM_SHAPE,  /* int64; which = param, dim */
    HROLE_BLOCK_TABLE,  /* pointer: u8 [q tiles][kv tiles], nonzero = visit */
    HROLE_SCRATCH,      /* pointer: host_kernel.scratch_bytes, 64-byte aligned, from the runtime */
    HROLE_PROGRAM_FIRST, /* int64: the first program to run */
    HROLE_PROGRAM_LAST,  /* int64: one past the last program to run */
    /* backward programs only (host_backward.c) */
    HROLE_DPARAM,        /* pointer: the gradient of float param `which` (NULL: not computed) */
    HROLE_DPARAM_STRIDE, /* int64; which = param, dim */
    HROLE_WS,            /* pointer: workspace buffer `which` (a tir_tensor; TENSOR_SLOTS: of param `dim`) */
    HROLE_NSLOTS,        /* int64: slots of the param gradients (programs=slots) */
    HROLE_SPANS,         /* pointer: int64 [batch][q tiles][2] document spans (runtime/host/doc_spans.h) */
} host_arg_role;

typedef struct host_arg {
    host_arg_role role;
    int which, dim;
} host_arg;

enum { HOST_MAX_ARGS = 256 };

typedef struct host_kernel {
    struct LLVMOrcOpaqueLLJIT *jit; /* LLVMOrcLLJITRef, spelled so this header needs no LLVM */
    void *fn;
    int nargs;
    host_arg *args; /* [nargs], in the kernel's arena */
    size_t scratch_bytes; /* size of the HROLE_SCRATCH block */
    bool block_table; /* needs HROLE_BLOCK_TABLE */
    int span_param;   /* >= 0: needs HROLE_SPANS, the spans of this document-id param */
    const tir_op *range_op; /* the KV_RANGE op (block table mode), in the tile IR arena */
    /* backward kernels: the program grid (host_bwd_programs) */
    struct {
        bool is_bwd;
        tir_programs programs;
        int grid_ndim, param;
        int q_tile[SCHED_MAX_DIMS], kv_tile[SCHED_MAX_DIMS];
    } bwd;
    /* the program grid, for host_kernel_programs */
    bool linear;                  /* programs are (batch, head) */
    int grid_ndim;                /* 0: query tiles along tokens */
    int q_tile[SCHED_MAX_DIMS];   /* query tile extent per dim */
    int dil[SCHED_MAX_DIMS];      /* dilation-group tiling (tile_ir.h dil; 0/1: none) */
} host_kernel;

/* Builds and JIT-compiles. `opt_level` 0..3. On failure returns false with
 * the reason in err and leaves *out empty. */
bool host_codegen_build(arena *a, const tir_kernel *tk, int opt_level, host_kernel *out,
                        strbuf *err);
/* Also returns the LLVM IR text (optimised) when ir_text is not NULL (free()). */
bool host_codegen_build_ir(arena *a, const tir_kernel *tk, int opt_level, host_kernel *out,
                           char **ir_text, strbuf *err);
/* The same without the JIT: generates, verifies and (opt_level > 0)
 * optimises the module, then drops it; out->jit and out->fn stay NULL.
 * For the pipeline fuzzer (tests/fuzz/fuzz_pipeline.c). */
bool host_codegen_emit_ir(arena *a, const tir_kernel *tk, int opt_level, host_kernel *out,
                          char **ir_text, strbuf *err);
void host_kernel_release(host_kernel *hk);
/* Number of programs of a launch with these sizes (indexed by size_id;
 * every size >= 0); -1 when the count overflows int64. */
int64_t host_kernel_programs(const host_kernel *hk, const int64_t *sizes);

/* ---- backward programs (host_backward.c) ----
 * A kernel of a backward program (tile IR programs != PROG_DEFAULT) gets
 * one signature shared by every kernel of the program: q, k, v, o, lse,
 * do, dq, dk, dv with 4 strides each; the sizes; per param its pointer,
 * strides and shape; per float param its gradient's pointer and strides;
 * the block table (NULL: every tile); the workspace buffers (delta, qdq,
 * kdk, dox, dkh, dvh, then per float param its slots); the slot count;
 * the scratch block; the program range [first, last). Programs are
 * numbered row-major over the kernel's grid (tile_ir.h tir_programs);
 * each program writes only its own outputs, so ranges may run on
 * different threads and the results never depend on how they are split. */
/* Programs of a backward kernel for these sizes (size_id-indexed), slot
 * count and param element counts (numel[p]). -1 on overflow. */
int64_t host_bwd_programs(const host_kernel *hk, const int64_t *sizes, int64_t nslots, const int64_t *numel);

#endif
