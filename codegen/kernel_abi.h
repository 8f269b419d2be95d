/*
 * kernel_abi.h — a GPU kernel's parameter list as one table of roles, the
 * single statement of the launch ABI (nvptx_kernel.h and nvptx_bwd.h
 * describe it in words): the code generator declares the kernel from it
 * (nvptx_abi.c), the CUDA launches marshal arguments by it
 * (kernel_abi_marshal: runtime/cuda/cuda_launch.c, cuda_backward.c) and the
 * AOT generator names its args structs' fields and writes its launchers'
 * parameter arrays by it (runtime/aot/). The forward kernel's table follows
 * from its nvptx_kernel_info (nvptx_kernel_abi), the backward program's
 * kernels' from nvptx_bwd_info (nvptx_bwd_kernel_abi). Adding a role, a
 * tensor or a workspace region here is the one edit the three need. Plain
 * C: no LLVM, nothing of the recipe but counts.
 */
#ifndef ATTNC_CODEGEN_KERNEL_ABI_H
#define ATTNC_CODEGEN_KERNEL_ABI_H

#include <stdbool.h>

#include "../ir/expr.h"

#include <stdint.h>

/* The attention tensors, listed once (kabi_tensors): the forward's five,
 * then the backward's dO and the gradients. */
typedef enum {
    KABI_Q,
    KABI_K,
    KABI_V,
    KABI_O,
    KABI_LSE,
    KABI_NTENSORS, /* the forward's */
    KABI_DO = KABI_NTENSORS,
    KABI_DQ,
    KABI_DK,
    KABI_DV,
    KABI_ALL_TENSORS,
} kabi_tensor;

/* A tensor's last dim: the q/k head dim, the v/o one, or none (lse: one
 * f32 per row). */
typedef enum { KABI_DIM_QK, KABI_DIM_V, KABI_DIM_NONE } kabi_dim;

typedef struct kabi_tensor_info {
    const char *name;        /* "q", ..., "lse", "do", "dq", ... (attnc_args names) */
    const char *field;       /* its C field in AOT args ("do" is a C keyword: "dout") */
    const char *stride_name; /* "q_stride", ... (the C field of its strides) */
    int rank;                /* its strides: 4 ([batch, heads, tokens, dim]); lse 3 */
    bool kv;                 /* [batch, kv_heads, kv_tokens, .] (k, v), else heads and tokens */
    kabi_dim dim;            /* KABI_DIM_NONE: f32 rows; else the recipe's dtype, unit last stride */
    bool output;             /* the kernel writes it (o, lse; dq, dk, dv) */
    bool optional;           /* forward: may be NULL, not written (lse) */
} kabi_tensor_info;
extern const kabi_tensor_info kabi_tensors[KABI_ALL_TENSORS];

/* Regions of a program's workspace a kernel takes as pointers: contiguous
 * f32, allocated by the runtime (or the AOT launcher's caller), never
 * arguments of the user's. */
typedef enum {
    KABI_WS_DELTA, /* f32 [batch, heads, tokens]: rowsum(dO * O) */
    KABI_WS_DQACC, /* f32 [batch, heads, tokens, head_dim]: the atomic dQ accumulator */
    KABI_NWS,
} kabi_ws;

typedef struct kabi_ws_info {
    const char *name;   /* "delta", ... */
    const char *layout; /* what it holds, for the AOT header */
} kabi_ws_info;
extern const kabi_ws_info kabi_workspaces[KABI_NWS];

typedef enum {
    KABI_TENSOR,  /* tensor `which`: its global base pointer (lse may be 0: not written) */
    KABI_STRIDES, /* tensor `which`'s strides in elements, outermost first (count = rank) */
    KABI_SIZES,   /* the launch sizes by size_id (count = SZ_MAX) */
    KABI_PARAM,   /* recipe param `which`: a pointer (contiguous row-major) or a scalar */
    KABI_TMAP,    /* tensor `which`'s CUtensorMap, by value in the parameter space */
    KABI_WS,      /* workspace region `which` (kabi_ws): its base pointer */
    KABI_DPARAM,  /* param gradient `which` (the which-th param with one): ptr d<param>, the param's dtype */
    KABI_DSLICES, /* its f32 slices in the workspace (nvptx_bwd.h) */
    KABI_DMODE,   /* i32: 1 = the slices pointer is one accumulator added into atomically */
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
    int which; /* the tensor (TENSOR, STRIDES, TMAP), param index (PARAM), region (WS) or
                  gradient index (DPARAM, DSLICES, DMODE) */
    int count; /* kernel parameters in a row: strides rank, SZ_MAX sizes, else 1 */
} kabi_entry;

enum {
    KABI_MAX_PARAMS = 16, /* recipe params a kernel takes (NVPTX_MAX_PARAMS) */
    KABI_NMAPS = 4,       /* tensor maps: q, k, v and o (forward, o when it stores O by TMA); q, do (backward's producer) */
    KABI_GRAD_ROLES = 3,  /* entries per param gradient: DPARAM, DSLICES, DMODE */
    KABI_MAX_ENTRIES = 2 * KABI_ALL_TENSORS + KABI_NWS + 1 + (1 + KABI_GRAD_ROLES) * KABI_MAX_PARAMS + KABI_NMAPS,
    KABI_MAX_ARGS = 5 * KABI_ALL_TENSORS + KABI_NWS + SZ_MAX + (1 + KABI_GRAD_ROLES) * KABI_MAX_PARAMS + KABI_NMAPS,
};

typedef struct kernel_abi {
    int n;
    kabi_entry e[KABI_MAX_ENTRIES];
} kernel_abi;

/* A param's argument type: a pointer for a tensor, f32 for a float scalar,
 * i64 for an integer one. */
kabi_type kabi_param_type(bool scalar, bool is_float);

/* types[i] for n params described by their scalar and float flags. */
void kabi_param_types(int n, const bool *scalar, const bool *is_float, kabi_type *types);

/* The forward kernel's table: the tensors' pointers, their strides, the
 * sizes, one entry per param (types[i]), then with tma the q, k, v maps,
 * and with o_tma too (O stored by TMA) o's map. */
void kernel_abi_forward(kernel_abi *out, int nparams, const kabi_type *types, bool tma, bool o_tma);

/* The backward program's kernels' table (every kernel of the program
 * takes the same one, nvptx_bwd.h): the pointers of q, k, v, o, lse, do,
 * dq, dk, dv, the workspace regions, the strides of the nine tensors, the
 * sizes, one entry per param (types[i]), then per param with a gradient
 * DPARAM, DSLICES, DMODE, then with tma the q and do maps (the dK/dV
 * kernel's TMA producer, $ATTNC_BWD_PRODUCER). */
void kernel_abi_backward(kernel_abi *out, int nparams, const kabi_type *types, int ngrad, bool tma);

/* Kernel parameters in all (entries expanded by count). */
int kernel_abi_nargs(const kernel_abi *a);

/* What a launch passes, by role; a table takes the parts it lists. */
typedef struct kabi_values {
    uint64_t ptr[KABI_ALL_TENSORS];       /* device pointers */
    int64_t stride[KABI_ALL_TENSORS][4]; /* elements; rank-3 tensors use [0..2] */
    int64_t size[SZ_MAX];                 /* by size_id */
    uint64_t param_ptr[KABI_MAX_PARAMS];  /* tensor params */
    double param_scalar[KABI_MAX_PARAMS]; /* scalar params (f32 or i64 in the kernel) */
    uint64_t ws[KABI_NWS];                /* workspace regions */
    uint64_t dparam[KABI_MAX_PARAMS], dslices[KABI_MAX_PARAMS]; /* by gradient index */
    int32_t dmode[KABI_MAX_PARAMS];
} kabi_values;

/* One kernel parameter's value; the driver reads each through a pointer. */
typedef union kabi_slot {
    uint64_t p;
    int64_t i64;
    int32_t i32;
    float f32;
} kabi_slot;

/* Fills slots[] and args[] (a pointer to each kernel parameter, in table
 * order) from v; the i-th TMAP entry's arg is maps[i] (encoded by the
 * caller, in table order; NULL when the table has none). Returns the parameter count. */
int kernel_abi_marshal(const kernel_abi *a, const kabi_values *v, kabi_slot *slots, void **args, void *const *maps);

#endif
