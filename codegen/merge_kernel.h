/*
 * merge_kernel.h — the LSE merge: P partial attentions of the same queries
 * over disjoint key sets, (O_i, LSE_i), combined into the exact result
 *
 *   LSE = log Σ_i exp(LSE_i),   O = Σ_i exp(LSE_i − LSE) · O_i
 *
 * computed as m = max_i LSE_i, w_i = exp(LSE_i − m), O = Σ w_i O_i / Σ w_i,
 * LSE = m + log Σ w_i. A partial with LSE_i = −inf (no key kept) adds
 * nothing; when every partial is −inf the row gets O = 0 and LSE = −inf,
 * and a NaN LSE_i makes the row NaN — the forward kernel's conventions for
 * the same row over all keys (docs/recipe-language.md §3.10).
 *
 * One function, the same body on both targets:
 *
 *   attnc_merge(po, plse, o, lse, nparts, rows, dv, heads, tokens,
 *               os0, os1, os2, os3, ls0, ls1, ls2, first, last)
 *
 * po: the partial outputs, dtype dt, contiguous [nparts][rows][dv];
 * plse: f32 [nparts][rows]; rows = batch·heads·tokens, row r = (b, h, t)
 * row-major. o is written through its strides (elements; dtype dt), lse
 * (f32, may be NULL) through its three. Elements (row, column) numbered
 * r·dv + c, the range [first, last) of them is computed: on the host one
 * call runs the range; on the GPU thread i of the launch computes element
 * first + ctaid.x·MERGE_BLOCK + tid.x (blocks of MERGE_BLOCK threads).
 * Arithmetic in f32; exp/log are ex2/lg2 approximations on the GPU.
 */
#ifndef ATTNC_CODEGEN_MERGE_KERNEL_H
#define ATTNC_CODEGEN_MERGE_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "../ir/expr.h"
#include "../ir/schedule.h"
#include "../support/strbuf.h"

enum { MERGE_BLOCK = 256 };
#define MERGE_SYMBOL "attnc_merge"

typedef void (*merge_host_fn)(const void *po, const float *plse, void *o, float *lse, int64_t nparts, int64_t rows,
                              int64_t dv, int64_t heads, int64_t tokens, int64_t os0, int64_t os1, int64_t os2,
                              int64_t os3, int64_t ls0, int64_t ls1, int64_t ls2, int64_t first, int64_t last);

typedef struct merge_host {
    struct LLVMOrcOpaqueLLJIT *jit;
    merge_host_fn fn;
} merge_host;

/* JIT-compiles the host function for element type dt (bf16, f16, f32). */
bool merge_host_build(dtype dt, merge_host *out, strbuf *err);
void merge_host_release(merge_host *m);
/* PTX text of the GPU kernel for dt and arch. */
bool merge_ptx(dtype dt, target_arch arch, strbuf *ptx, strbuf *err);

#endif
