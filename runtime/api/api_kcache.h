/*
 * api_kcache.h — the context's kernel cache and the cached PTX of a GPU
 * kernel build.
 *
 * The cache is opened on the first GPU build of a context (folder: see
 * cache.h; $ATTNC_CACHE_DIR wins). When the disk folder cannot be used the
 * context keeps a memory-only cache and no error is reported.
 *
 * A PTX entry is the nvptx_kernel_info the code generator returned
 * followed by the PTX text (the key holds the attnc, LLVM and code
 * generator versions, so the struct layout cannot change under a key).
 * Key: cache_key_for_kernel(tile IR, schedule, arch): code generation
 * reads only the tile IR kernel, which carries everything of the recipe.
 */
#ifndef ATTNC_RUNTIME_API_KCACHE_H
#define ATTNC_RUNTIME_API_KCACHE_H

#include "codegen/nvptx_kernel.h"
#include "runtime/api/api_internal.h"
#include "runtime/cache/cache.h"
#include "runtime/compile/compile_job.h"

/* The context's cache, opened on first use; NULL only when even a memory
 * cache cannot be made (out of memory). */
kcache *ctx_kernel_cache(attnc_context *ctx);
void ctx_kernel_cache_close(attnc_context *ctx);

/* The PTX (into j->ptx) and launch info (j->info) of the lowered job j,
 * through the context's cache (emitted directly, compile_job_emit, when
 * there is none). *how says where it came from
 * (CACHE_MISS: built here; CACHE_CORRUPT: a damaged entry was dropped and
 * rebuilt, `note` says why). Returns the code generator's status with its
 * message in err. */
attnc_status kernel_ptx_cached(attnc_context *ctx, compile_job *j, cache_result *how, strbuf *note, strbuf *err);

/* An entry's payload: n bytes of launch info, then the text (PTX). pack
 * returns it malloc'ed (NULL: out of memory); unpack copies it back, false
 * when data is too short to be one. */
void *kcache_pack(const void *info, size_t n, const strbuf *text, size_t *len);
bool kcache_unpack(const void *data, size_t len, void *info, size_t n, strbuf *text);

#endif
