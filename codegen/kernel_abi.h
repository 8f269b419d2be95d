/*
 * kernel_abi.h — a GPU forward kernel's parameter list as one table of
 * roles, the single statement of the launch ABI (nvptx_kernel.h describes
 * it in words): the code generator declares the kernel from it
 * (nvptx_abi.c), the CUDA launch marshals arguments by it
 * (runtime/cuda_launch.c) and the AOT generator names its args struct's
 * fields by it (runtime/aot_recipe.c). A kernel's table follows from its
 * nvptx_kernel_info (nvptx_kernel_abi); adding a role here is the one edit
 * the three need. Plain C: no LLVM, nothing of the recipe but counts.
 */
#ifndef ATTNC_CODEGEN_KERNEL_ABI_H
#define ATTNC_CODEGEN_KERNEL_ABI_H

#include <stdbool.h>

#include "../ir/expr.h"

/* The attention tensors, listed once (kabi_tensors). */
typedef enum { KABI_Q, KABI_K, KABI_V, KABI_O, KABI_LSE, KABI_NTENSORS } kabi_tensor;

/* A tensor's last dim: the q/k head dim, the v/o one, or none (lse: one
 * f32 per row). */
typedef enum { KABI_DIM_QK, KABI_DIM_V, KABI_DIM_NONE } kabi_dim;

typedef struct kabi_tensor_info {
    const char *name;        /* "q", ..., "lse" */
    const char *stride_name; /* "q_stride", ... */
    int rank;                /* its strides: 4 ([batch, heads, tokens, dim]); lse 3 */
    bool kv;                 /* [batch, kv_heads, kv_tokens, .] (k, v), else heads and tokens */
    kabi_dim dim;            /* KABI_DIM_NONE: f32 rows; else the recipe's dtype, unit last stride */
    bool output;             /* the kernel writes it (o, lse) */
    bool optional;           /* may be NULL: not written (lse) */
} kabi_tensor_info;
extern const kabi_tensor_info kabi_tensors[KABI_NTENSORS];

typedef enum {
    KABI_TENSOR,  /* tensor `which`: its global base pointer (lse may be 0: not written) */
    KABI_STRIDES, /* tensor `which`'s strides in elements, outermost first (count = rank) */
    KABI_SIZES,   /* the launch sizes by size_id (count = SZ_MAX) */
    KABI_PARAM,   /* recipe param `which`: a pointer (contiguous row-major) or a scalar */
    KABI_TMAP,    /* tensor `which`'s CUtensorMap, by value in the parameter space */
} kabi_role;

/* The type of each kernel parameter an entry stands for. */
typedef enum {
    KABI_PTR, /* global pointer */
    KABI_I64,
    KABI_I32,
    KABI_F32,
    KABI_MAP, /* 128 bytes, 64-byte aligned, byval + grid_constant */
} kabi_type;

typedef struct kabi_entry {
    kabi_role role;
    kabi_type type;
    int which; /* the tensor (TENSOR, STRIDES, TMAP) or param index (PARAM) */
    int count; /* kernel parameters in a row: strides rank, SZ_MAX sizes, else 1 */
} kabi_entry;

enum {
    KABI_MAX_PARAMS = 16, /* recipe params a kernel takes (NVPTX_MAX_PARAMS) */
    KABI_NMAPS = 3,       /* tensor maps: q, k, v */
    KABI_MAX_ENTRIES = 2 * KABI_NTENSORS + 1 + KABI_MAX_PARAMS + KABI_NMAPS,
    KABI_MAX_ARGS = KABI_NTENSORS + 4 * KABI_NTENSORS + SZ_MAX + KABI_MAX_PARAMS + KABI_NMAPS,
};

typedef struct kernel_abi {
    int n;
    kabi_entry e[KABI_MAX_ENTRIES];
} kernel_abi;

/* A param's argument type: a pointer for a tensor, f32 for a float scalar,
 * i64 for an integer one. */
kabi_type kabi_param_type(bool scalar, bool is_float);

/* The forward kernel's table: the tensors' pointers, their strides, the
 * sizes, one entry per param (types[i]), then with tma the q, k, v maps. */
void kernel_abi_forward(kernel_abi *out, int nparams, const kabi_type *types, bool tma);

/* Kernel parameters in all (entries expanded by count). */
int kernel_abi_nargs(const kernel_abi *a);

#endif
