/*
 * cuda_bwd_job.h — the GPU backward program's compile job, shared by the
 * CUDA backend's build (cuda_backward.c) and AOT output (runtime/aot/):
 * the schedule (nvptx_bwd_schedule_mma under $ATTNC_BWD_MMA), the lowering
 * (and the dK/dV kernel's own lowering: 128 keys, $ATTNC_BWD_DKV_KEYS, or the
 * grid boxes of $ATTNC_BWD_DKV_BOX; nvptx_bwd_dkv_schedule), the dQ mode
 * ($ATTNC_BWD_DQ=kernel|atomic|bulk or the older $ATTNC_BWD_DQ_ATOMIC=1;
 * always the dQ kernel in a deterministic build, bulk only under the
 * wgmma schedule), the overlap
 * level ($ATTNC_BWD_OVERLAP, $ATTNC_BWD_PIPE) and the dK/dV kernel's TMA
 * producer ($ATTNC_BWD_PRODUCER, on by default where it serves), then one
 * module of PTX, through the
 * context's kernel cache when one is given.
 *
 * Cache entries (CACHE_PTX): nvptx_bwd_info then the PTX text. Key: the
 * printed tile IR of the program (and of the dK/dV program when split),
 * the schedule, the arch, the recipe text's hash, and the variant: the
 * resolved choices above, the deterministic flag and every ATTNC_BWD_*
 * variable of the environment (so a variable added later changes keys
 * without an edit here).
 */
#ifndef ATTNC_RUNTIME_CUDA_BWD_JOB_H
#define ATTNC_RUNTIME_CUDA_BWD_JOB_H

#include "codegen/nvptx_bwd.h"
#include "runtime/api/api_internal.h"
#include "runtime/cache/cache.h"

typedef struct cuda_bwd_job {
    const recipe *r;
    const schedule *base; /* explicit tiles to keep (NULL: the GPU backward's defaults) */
    target_arch arch;
    bool deterministic; /* ATTNC_BUILD_DETERMINISTIC: no atomic dQ */
    attnc_context *ctx; /* with a non-empty recipe_hash: through ctx's kernel cache */
    const char *recipe_hash;
} cuda_bwd_job;

typedef struct cuda_bwd_out {
    schedule sched;        /* the program's schedule (the dQ kernel's when split) */
    /* printed, with " (dK/dV kv=128)" (grids: " (dK/dV kv=8x16)") when
     * split, " (dQ bulk)" under bulk dQ, " (TMA producer)" where the
     * dK/dV kernel took it */
    char sched_text[128];
    nvptx_bwd_info info;
    strbuf ptx;            /* the module (the caller frees it) */
    cache_result how;      /* CACHE_MISS: emitted here (or no cache) */
    char note[256];        /* a damaged cache entry that was rebuilt, else "" */
} cuda_bwd_out;

/* Compiles the program; lowering memory comes from a. Returns the code
 * generator's status mapped to attnc_status with the reason in err. */
attnc_status cuda_bwd_compile(arena *a, const cuda_bwd_job *j, cuda_bwd_out *out, strbuf *err);

/* The variant text of the cache key (see above), for tests. */
void cuda_bwd_variant(const cuda_bwd_job *j, strbuf *out);

#endif
