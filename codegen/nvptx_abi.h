/*
 * nvptx_abi.h — the kernel parameter list every NVPTX strategy shares.
 *
 * The order is the launch ABI documented in nvptx_kernel.h: five global
 * pointers (q, k, v, o, lse), their strides in elements (4 each, 3 for lse),
 * the SZ_MAX launch sizes (i32), then one argument per recipe param (a
 * global pointer for tensors; f32 or i64 for scalars). The declaration
 * walks the role table of kernel_abi.h, which the runtime's argument
 * packing and the AOT generator walk too.
 */
#ifndef ATTNC_CODEGEN_NVPTX_ABI_H
#define ATTNC_CODEGEN_NVPTX_ABI_H

#include "nvptx_intrin.h"
#include "nvptx_kernel.h"

typedef struct nvptx_abi_args {
    LLVMValueRef fn;
    LLVMValueRef tens[KABI_ALL_TENSORS];      /* global pointers: q, k, v, o, lse (backward: do, dq, dk, dv) */
    LLVMValueRef stride[KABI_ALL_TENSORS][4]; /* i64 strides in elements (lse uses 3) */
    LLVMValueRef size[SZ_MAX]; /* i32 */
    LLVMValueRef param[NVPTX_MAX_PARAMS];
    LLVMValueRef tmap[KABI_NMAPS]; /* with tensor maps: the CUtensorMap params in table order (ptr byval) */
    LLVMValueRef ws[KABI_NWS];     /* backward: the workspace regions' pointers */
    /* backward, by gradient index: d<param> pointer, its slices, the i32 mode */
    LLVMValueRef dparam[NVPTX_MAX_PARAMS], dslices[NVPTX_MAX_PARAMS], dmode[NVPTX_MAX_PARAMS];
} nvptx_abi_args;

/* Adds the kernel function `name` with the parameters of the role table
 * abi (types and, for maps, byval + grid_constant) and returns them by role. */
void nvptx_abi_declare_table(nv_ctx *nv, const kernel_abi *abi, const char *name, nvptx_abi_args *out);

/* Adds the kernel function `name` with the ABI's parameters for kernel k's
 * params (k NULL: none) and returns its arguments. */
void nvptx_abi_declare(nv_ctx *nv, const tir_kernel *k, const char *name, nvptx_abi_args *out);
/* One param's kernel argument: a global pointer for a tensor, f32 for a
 * float scalar, i64 for an int scalar (the forward and backward ABIs). */
LLVMTypeRef nvptx_abi_param_type(nv_ctx *nv, const tir_param *rp);
kabi_type nvptx_abi_param_kind(const tir_param *rp);
/* info's nparams and per-param kinds for k's params (NULL: none), as the
 * declaration types them. */
void nvptx_abi_describe_params(const tir_kernel *k, nvptx_kernel_info *info);

/* The same followed by three CUtensorMaps (q, k, v), and o's with o_tma,
 * passed by value: 128 bytes each, 64-byte aligned, kept in the parameter
 * space (grid_constant) so TMA can read them where they are. */
void nvptx_abi_declare_tma(nv_ctx *nv, const tir_kernel *k, const char *name, bool o_tma, nvptx_abi_args *out);

#endif
