/*
 * target_info.h — what each code target offers, one row per arch: the one
 * place the shared-memory budget, register file, MMA kinds, TMA and block
 * size limits are written down. Schedule legality (schedule.c), the code
 * generators' shared-memory checks, the CUDA loaders and the AOT generator
 * read it instead of spelling the numbers out.
 *
 * Numbers are the CUDA programming guide's (compute capability tables):
 * sm_80 code is compiled for A100-class parts (8.0: 163 KiB of opt-in
 * shared memory per block) and JIT-run on later GPUs, sm_90a for Hopper
 * (227 KiB).
 */
#ifndef ATTNC_IR_TARGET_INFO_H
#define ATTNC_IR_TARGET_INFO_H

#include <stdbool.h>

#include "schedule.h"

/* Matrix-multiply instruction families a target has (bits). */
enum {
    TARGET_MMA_SYNC = 1 << 0,  /* mma.sync m16n8k16 + ldmatrix (sm_80 and up) */
    TARGET_MMA_WGMMA = 1 << 1, /* warpgroup MMA from shared memory (sm_90a) */
};

typedef struct target_info {
    target_arch arch;
    const char *name;         /* "sm_80", "sm_90a"; NULL for the host */
    int smem_block_optin;     /* bytes of dynamic shared memory per block with the opt-in attribute */
    int smem_block_default;   /* bytes a block may use without the attribute (48 KiB) */
    int regs_per_sm;          /* 32-bit registers per SM */
    int regs_per_thread;      /* most 32-bit registers one thread can have */
    int max_threads;          /* per block */
    unsigned mma;             /* TARGET_MMA_* bits; 0 on the host */
    bool tma;                 /* cp.async.bulk.tensor (tensor memory accelerator) */
} target_info;

/* The row for arch (never NULL: an unknown arch gets the host's row). */
const target_info *target_info_of(target_arch arch);

/* The most dynamic shared memory any GPU target allows one block: what a
 * launcher that does not know its arch can accept. */
int target_smem_block_max(void);
/* The most threads any GPU target allows one block. */
int target_block_threads_max(void);

#endif
