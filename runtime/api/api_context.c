/* api_context.c — contexts, the allocator every heap block goes through,
 * and error messages kept on the context or kernel (fixed buffers, so
 * reporting never allocates). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/api/api_kcache.h"

static void *default_alloc(void *user, size_t n)
{
    (void)user;
    return malloc(n);
}

static void default_free(void *user, void *p)
{
    (void)user;
    free(p);
}

attnc_status attnc_context_create(attnc_context **out, const attnc_allocator *allocator)
{
    if (!out)
        return ATTNC_ERR_INVALID_ARGUMENT;
    *out = NULL;
    attnc_allocator a = {default_alloc, default_free, NULL};
    if (allocator) {
        if (!allocator->alloc || !allocator->free)
            return ATTNC_ERR_INVALID_ARGUMENT;
        a = *allocator;
    }
    attnc_context *ctx = a.alloc(a.user, sizeof *ctx);
    if (!ctx)
        return ATTNC_ERR_NOMEM;
    memset(ctx, 0, sizeof *ctx);
    pthread_mutex_init(&ctx->lock, NULL);
    ctx->alloc = a;
    ctx->heap = (heap_alloc){a.alloc, a.free, a.user};
    *out = ctx;
    return ATTNC_OK;
}

void attnc_context_destroy(attnc_context *ctx)
{
    if (!ctx)
        return;
    ctx_kernel_cache_close(ctx);
    ctx_tune_close(ctx);
    pthread_mutex_destroy(&ctx->lock);
    ctx->alloc.free(ctx->alloc.user, ctx);
}

const char *attnc_context_errmsg(const attnc_context *ctx)
{
    return ctx ? ctx->errmsg : "no context (NULL)";
}

void *ctx_alloc(attnc_context *ctx, size_t n)
{
    return ctx->alloc.alloc(ctx->alloc.user, n ? n : 1);
}

void *ctx_calloc(attnc_context *ctx, size_t n)
{
    void *p = ctx_alloc(ctx, n);
    if (p)
        memset(p, 0, n ? n : 1);
    return p;
}

void ctx_free(attnc_context *ctx, void *p)
{
    if (p)
        ctx->alloc.free(ctx->alloc.user, p);
}

void ctx_clear_error(attnc_context *ctx)
{
    ctx->errmsg[0] = 0;
}

attnc_status ctx_error(attnc_context *ctx, attnc_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
    return st;
}

attnc_status kernel_error(attnc_kernel *k, attnc_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->errmsg, sizeof k->errmsg, fmt, ap);
    va_end(ap);
    memcpy(k->ctx->errmsg, k->errmsg, sizeof k->errmsg);
    return st;
}

const char *attnc_kernel_errmsg(const attnc_kernel *k)
{
    return k ? k->errmsg : "no kernel (NULL)";
}
