/* api_kcache.c — the context's kernel cache (opened lazily, memory-only
 * when the disk is unusable) and GPU PTX generation through it. See
 * api_kcache.h for the entry layout and key. */
#include <stdlib.h>
#include <string.h>

#include "runtime/api/api_kcache.h"

kcache *ctx_kernel_cache(attnc_context *ctx)
{
    if (ctx->cache_tried)
        return ctx->cache;
    ctx->cache_tried = true;
    strbuf err;
    sb_init(&err);
    ctx->cache = cache_open(NULL, &err);
    if (!ctx->cache) { /* no usable folder: keep a memory-only cache, silently */
        cache_options mem_only = {.dir = ""};
        ctx->cache = cache_open(&mem_only, &err);
    }
    sb_free(&err);
    return ctx->cache;
}

void ctx_kernel_cache_close(attnc_context *ctx)
{
    cache_close(ctx->cache);
    ctx->cache = NULL;
    ctx->cache_tried = false;
}

typedef struct emit_job {
    tir_kernel *tk;
    const recipe *r;
    target_arch arch;
    attnc_status st; /* the code generator's status when it failed */
    strbuf *err;
} emit_job;

static attnc_status map_codegen(nvptx_status s)
{
    return s == NVPTX_OK ? ATTNC_OK : s == NVPTX_UNSUPPORTED ? ATTNC_ERR_UNSUPPORTED : ATTNC_ERR_INTERNAL;
}

/* Emits PTX into ptx and info; the shared step of both paths. */
static attnc_status emit(const emit_job *j, strbuf *ptx, nvptx_kernel_info *info)
{
    attnc_status st = map_codegen(nvptx_emit_kernel(j->tk, j->r, j->arch, info, ptx, j->err));
    if (!st && ptx->failed)
        st = ATTNC_ERR_NOMEM;
    return st;
}

void *kcache_pack(const void *info, size_t n, const strbuf *text, size_t *len)
{
    unsigned char *buf = malloc(n + text->len);
    if (!buf)
        return NULL;
    memcpy(buf, info, n);
    if (text->len)
        memcpy(buf + n, text->data, text->len);
    *len = n + text->len;
    return buf;
}

bool kcache_unpack(const void *data, size_t len, void *info, size_t n, strbuf *text)
{
    if (!data || len <= n)
        return false;
    memcpy(info, data, n);
    sb_append(text, (const char *)data + n, len - n);
    return !text->failed;
}

/* cache_build_fn: payload = info bytes then the PTX text. */
static bool build_entry(void *user, void **data, size_t *len, strbuf *err)
{
    emit_job *j = user;
    strbuf ptx;
    sb_init(&ptx);
    nvptx_kernel_info info;
    memset(&info, 0, sizeof info);
    j->st = emit(j, &ptx, &info);
    *data = j->st ? NULL : kcache_pack(&info, sizeof info, &ptx, len);
    if (!j->st && !*data)
        j->st = ATTNC_ERR_NOMEM;
    if (!*data)
        sb_puts(err, "PTX generation failed");
    sb_free(&ptx);
    return *data != NULL;
}

/* Unpacks an entry; false when it cannot be one of ours. */
static bool unpack(const void *data, size_t len, target_arch arch, strbuf *ptx, nvptx_kernel_info *info)
{
    return kcache_unpack(data, len, info, sizeof *info, ptx) && info->arch == arch;
}

attnc_status kernel_ptx_cached(attnc_context *ctx, tir_kernel *tk, const recipe *r, const schedule *s,
                               target_arch arch, const char *recipe_hash, strbuf *ptx, nvptx_kernel_info *info,
                               cache_result *how, strbuf *note, strbuf *err)
{
    emit_job j = {tk, r, arch, ATTNC_OK, err};
    *how = CACHE_MISS;
    kcache *c = recipe_hash && recipe_hash[0] ? ctx_kernel_cache(ctx) : NULL;
    cache_key key;
    if (!c || !cache_key_for_kernel(tk, s, nvptx_arch_name(arch), recipe_hash, &key))
        return emit(&j, ptx, info);
    void *data = NULL;
    size_t len = 0;
    cache_result res = cache_get_or_build(c, key, CACHE_PTX, build_entry, &j, &data, &len, note);
    if (res == CACHE_ERROR && j.st) /* the code generator failed: its message is in err */
        return j.st;
    bool ok = res != CACHE_ERROR && unpack(data, len, arch, ptx, info);
    free(data);
    if (!ok) { /* unusable cache: generate directly */
        sb_clear(ptx);
        return emit(&j, ptx, info);
    }
    *how = res;
    return ATTNC_OK;
}
