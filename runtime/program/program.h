/*
 * program.h — programs of kernels over partial attentions (internal).
 *
 *  - program_global.c: a forward kernel at global coordinates
 *    (ATTNC_BUILD_GLOBAL_COORDS), by rewriting its recipe copy;
 *  - program_run.c: the pieces every program uses — backend memory
 *    (host or device), one partial launch of a global kernel over views of
 *    the caller's tensors, and the LSE merge (codegen/merge_kernel.h) on
 *    the CPU or the GPU;
 *  - program_split.c: attnc_program_* (attnc.h), attention over K/V split
 *    into ranges plus the merge;
 *  - program_cp.c: attnc_cp_* (context parallelism: ring, zigzag, Ulysses,
 *    grid slabs; simulated ranks), program_nccl.c its NCCL transport.
 */
#ifndef ATTNC_RUNTIME_PROGRAM_H
#define ATTNC_RUNTIME_PROGRAM_H

#include "codegen/merge_kernel.h"
#include "runtime/api/api_internal.h"

attnc_status recipe_globalize(arena *a, recipe *r, strbuf *err);
/* The size a neighborhood window's dim d must fit in: the grid dim or
 * tokens, or for a global kernel's sharded axis the whole problem's extent. */
int recipe_window_size(const recipe *r, int d);

/* Memory of a backend: host (the context's allocator) or device. */
typedef struct pmem {
    attnc_context *ctx;
    bool gpu;
    void *stream;
} pmem;
void *pm_alloc(pmem *m, size_t bytes, strbuf *err);
void pm_free(pmem *m, void *p);
/* height rows of width bytes, each at its pitch (host memcpy or a device copy on m->stream). */
attnc_status pm_copy2d(pmem *m, void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                       size_t height, strbuf *err);

/* Where a partial launch puts its block: offsets and the whole problem's
 * extents (sizes the global kernel has are set, the others ignored). */
typedef struct pblock {
    int64_t q_offset, k_offset, head_offset;
    int64_t tokens, kv_tokens, heads, grid0; /* global extents */
    int64_t rows; /* > 0: the block's outer grid extent (a padded slab), else the args' */
} pblock;

/* Launches global kernel k with base's params and sizes, these tensor views
 * (q, k, v, o, lse; lse may be NULL) and block b. */
attnc_status prog_launch_part(attnc_kernel *k, const attnc_args *base, const attnc_tensor *const views[5],
                              const pblock *b, void *stream);

/* The same, validation only (nothing runs). */
attnc_status prog_validate_part(attnc_kernel *k, const attnc_args *base, const attnc_tensor *const views[5],
                                const pblock *b);

/* The LSE merge on one backend. */
typedef struct pmerge {
    bool gpu;
    dtype dt;
    merge_host host;
    struct cuda_program *prog; /* the GPU kernel (cuda_program.h) */
} pmerge;
attnc_status pmerge_init(pmerge *m, bool gpu, dtype dt, strbuf *err);
/* po/plse: nparts contiguous partials of [batch, heads, tokens, dv] / [batch, heads, tokens]. */
attnc_status pmerge_run(pmerge *m, const void *po, const float *plse, int64_t nparts, const int64_t bhtd[4],
                        const attnc_tensor *o, const attnc_tensor *lse, void *stream, strbuf *err);
void pmerge_free(pmerge *m);

/* A contiguous 4-D (or 3-D) tensor descriptor. */
attnc_tensor prog_dense(attnc_dtype dt, void *data, int ndim, const int64_t *shape);
size_t prog_esize(attnc_dtype dt);

#endif
