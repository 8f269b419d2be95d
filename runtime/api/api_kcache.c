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

/* Emits PTX into j->ptx and j->info: the compile job's step, shared by
 * both paths. */
static attnc_status emit(compile_job *j, strbuf *err)
{
    attnc_status st = compile_job_attnc_status(compile_job_emit(j));
    if (st)
        sb_puts(err, sb_cstr(&j->err));
    return st;
}

typedef struct emit_job {
    compile_job *j;
    attnc_status st; /* the code generator's status when it failed */
    strbuf *err;
} emit_job;

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
    emit_job *e = user;
    compile_job *j = e->j;
    e->st = emit(j, e->err);
    *data = e->st ? NULL : kcache_pack(&j->info, sizeof j->info, &j->ptx, len);
    if (!e->st && !*data)
        e->st = ATTNC_ERR_NOMEM;
    if (!*data)
        sb_puts(err, "PTX generation failed");
    return *data != NULL;
}

/* Unpacks an entry; false when it cannot be one of ours. */
static bool unpack(const void *data, size_t len, target_arch arch, strbuf *ptx, nvptx_kernel_info *info)
{
    return kcache_unpack(data, len, info, sizeof *info, ptx) && info->arch == arch;
}

attnc_status kernel_ptx_cached(attnc_context *ctx, compile_job *j, cache_result *how, strbuf *note, strbuf *err)
{
    emit_job e = {j, ATTNC_OK, err};
    *how = CACHE_MISS;
    kcache *c = ctx_kernel_cache(ctx);
    cache_key key;
    if (!c || !cache_key_for_kernel(j->tk, &j->sched, nvptx_arch_name(j->arch), &key))
        return emit(j, err);
    void *data = NULL;
    size_t len = 0;
    cache_result res = cache_get_or_build(c, key, CACHE_PTX, build_entry, &e, &data, &len, note);
    if (res == CACHE_ERROR && e.st) /* the code generator failed: its message is in err */
        return e.st;
    sb_clear(&j->ptx);
    bool ok = res != CACHE_ERROR && unpack(data, len, j->arch, &j->ptx, &j->info);
    free(data);
    if (!ok) /* unusable cache: generate directly */
        return emit(j, err);
    *how = res;
    return ATTNC_OK;
}
