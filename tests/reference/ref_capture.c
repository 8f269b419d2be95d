/* ref_capture.c — host memory that keeps copies of downloaded outputs. */
#include "ref_capture.h"

#include <stdlib.h>
#include <string.h>

static void *cap_alloc(void *user, size_t n)
{
    (void)user;
    return malloc(n);
}

static void cap_free(void *user, void *p)
{
    (void)user;
    free(p);
}

static bool cap_upload(void *user, void *dst, const void *src, size_t n)
{
    (void)user;
    memcpy(dst, src, n);
    return true;
}

static bool cap_download(void *user, void *dst, const void *src, size_t n)
{
    ref_capture *c = user;
    memcpy(dst, src, n);
    if (c->n < 2 && (c->out[c->n] = malloc(n ? n : 1))) {
        memcpy(c->out[c->n], src, n);
        c->bytes[c->n++] = n;
    }
    return true;
}

static bool cap_sync(void *user)
{
    (void)user;
    return true;
}

ref_mem_ops ref_capture_ops(ref_capture *c)
{
    return (ref_mem_ops){cap_alloc, cap_free, cap_upload, cap_download, cap_sync, c};
}

bool ref_capture_same(const ref_capture *a, const ref_capture *b)
{
    if (a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++)
        if (a->bytes[i] != b->bytes[i] || memcmp(a->out[i], b->out[i], a->bytes[i]))
            return false;
    return true;
}

void ref_capture_clear(ref_capture *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->out[i]);
    memset(c, 0, sizeof *c);
}
