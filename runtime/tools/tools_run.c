/* tools_run.c — what `attnc run` and `attnc bench` need besides the public
 * API (include/attnc_tools.h): the typed recipe the fp64 reference reads,
 * device buffers and timers, files and kernels. */
#include "runtime/include/attnc_tools.h"

#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "runtime/api/api_internal.h"
#include "runtime/api/api_typed.h"
#include "runtime/cuda/cuda_module.h"

const struct recipe *attnc_tools_recipe_typed(const attnc_recipe *r)
{
    return attnc_recipe_typed(r);
}

attnc_status attnc_tools_dev_alloc(uint64_t *out, size_t bytes, strbuf *err)
{
    return cuda_mem_alloc(out, bytes, err);
}

void attnc_tools_dev_free(uint64_t p)
{
    cuda_mem_free(p);
}

attnc_status attnc_tools_dev_upload(uint64_t dst, const void *src, size_t bytes, strbuf *err)
{
    return cuda_memcpy_htod(dst, src, bytes, err);
}

attnc_status attnc_tools_dev_download(void *dst, uint64_t src, size_t bytes, strbuf *err)
{
    return cuda_memcpy_dtoh(dst, src, bytes, err);
}

attnc_status attnc_tools_dev_memset8(uint64_t dst, unsigned char v, size_t bytes, strbuf *err)
{
    return cuda_memset8(dst, v, bytes, err);
}

attnc_status attnc_tools_dev_sync(strbuf *err)
{
    return cuda_synchronize(err);
}

_Static_assert(sizeof(attnc_tools_timer) == sizeof(cuda_timer), "attnc_tools_timer mirrors cuda_timer");

attnc_status attnc_tools_timer_start(attnc_tools_timer *t, strbuf *err)
{
    cuda_timer c;
    attnc_status st = cuda_timer_start(&c, err);
    t->start = c.start;
    t->stop = c.stop;
    return st;
}

attnc_status attnc_tools_timer_stop(attnc_tools_timer *t, double *ms, strbuf *err)
{
    cuda_timer c = {t->start, t->stop};
    attnc_status st = cuda_timer_stop(&c, ms, err);
    t->start = c.start;
    t->stop = c.stop;
    return st;
}

char *attnc_tools_read_file(const char *path, size_t *len, strbuf *why)
{
    arena a;
    arena_init(&a, NULL);
    const char *err = NULL;
    char *text = frontend_read_file(&a, path, len, &err);
    char *copy = text ? malloc(*len + 1) : NULL;
    if (copy)
        memcpy(copy, text, *len + 1);
    else
        sb_puts(why, err ? err : "cannot read");
    arena_free_all(&a);
    return copy;
}

bool attnc_tools_kernel_from_cubin(const attnc_kernel *k)
{
    return k->backend == ATTNC_BACKEND_CUDA && k->backend_data && cuda_module_from_cubin(k->backend_data);
}
