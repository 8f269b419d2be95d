/* api_backends.c — the table of backends (api_backend.h). */
#include <stddef.h>

#include "runtime/api/api_backend.h"

static const backend_ops *const backends[] = {&host_backend_ops, &cuda_backend_ops};

const backend_ops *backend_find(attnc_backend id)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (backends[i]->id == id)
            return backends[i];
    return NULL;
}
