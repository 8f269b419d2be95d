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

#include "../frontend/recipe.h"
#include "../ir/tile_ir.h"
#include "../support/arena.h"
#include "../support/strbuf.h"

enum { HT_Q, HT_K, HT_V, HT_O, HT_LSE, HT_COUNT };

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
    const tir_op *range_op; /* the KV_RANGE op (block table mode), in the tile IR arena */
    /* the program grid, for host_kernel_programs */
    bool linear;                  /* programs are (batch, head) */
    int grid_ndim;                /* 0: query tiles along tokens */
    int q_tile[SCHED_MAX_DIMS];   /* query tile extent per dim */
} host_kernel;

/* Builds and JIT-compiles. `opt_level` 0..3. On failure returns false with
 * the reason in err and leaves *out empty. */
bool host_codegen_build(arena *a, const tir_kernel *tk, const recipe *r, int opt_level, host_kernel *out,
                        strbuf *err);
/* Also returns the LLVM IR text (optimised) when ir_text is not NULL (free()). */
bool host_codegen_build_ir(arena *a, const tir_kernel *tk, const recipe *r, int opt_level, host_kernel *out,
                           char **ir_text, strbuf *err);
/* The same without the JIT: generates, verifies and (opt_level > 0)
 * optimises the module, then drops it; out->jit and out->fn stay NULL.
 * For the pipeline fuzzer (tests/fuzz/fuzz_pipeline.c). */
bool host_codegen_emit_ir(arena *a, const tir_kernel *tk, const recipe *r, int opt_level, host_kernel *out,
                          char **ir_text, strbuf *err);
void host_kernel_release(host_kernel *hk);
/* Number of programs of a launch with these sizes (indexed by size_id;
 * every size >= 0); -1 when the count overflows int64. */
int64_t host_kernel_programs(const host_kernel *hk, const int64_t *sizes);

#endif
