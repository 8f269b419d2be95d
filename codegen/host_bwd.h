/*
 * host_bwd.h — the host generator's state for backward programs, shared by
 * host_backward.c (signature, program grids, q-range loops),
 * host_ops_backward.c (the backward's ops) and host_ops_memory.c (its
 * tensors). Internal to codegen/.
 */
#ifndef ATTNC_CODEGEN_HOST_BWD_H
#define ATTNC_CODEGEN_HOST_BWD_H

#include "host_gen.h"

typedef struct hbwd {
    LLVMValueRef *dparam;          /* [nparams]: gradient pointers (NULL param: not a float param) */
    LLVMValueRef (*dparam_stride)[4];
    LLVMValueRef *slots;           /* [nparams]: slot buffers */
    LLVMValueRef ws[TENSOR_COUNT]; /* workspace buffers by tensor */
    LLVMValueRef nslots;
    LLVMValueRef program;          /* the current program index */
    LLVMValueRef slot;             /* programs=slots: this program's slot */
    LLVMValueRef ktile[SCHED_MAX_DIMS]; /* programs=kvtiles: the key tile index per dim */
} hbwd;

/* An i64 stack slot in the entry block. */
LLVMValueRef hbwd_alloca_i64(hgen *g);
/* Elements of param p (product of its shape), i64. */
LLVMValueRef hbwd_param_numel(hgen *g, int p);
/* Workspace rows/tiles: element offset of (batch, head, t, col) in a
 * contiguous f32 [batch, heads, T, cols] buffer, T the box side's tokens. */
LLVMValueRef hbwd_ws_offset(hgen *g, bool kside, LLVMValueRef t, LLVMValueRef col, int cols);

#endif
