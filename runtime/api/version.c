/* version.c — version and status strings of the public API. */
#include "runtime/include/attnc.h"

#define ATTNC_STR2(x) #x
#define ATTNC_STR(x) ATTNC_STR2(x)

const char *attnc_version(void)
{
    return ATTNC_STR(ATTNC_VERSION_MAJOR) "." ATTNC_STR(ATTNC_VERSION_MINOR) "." ATTNC_STR(ATTNC_VERSION_PATCH);
}

int attnc_version_number(void)
{
    return ATTNC_VERSION_NUMBER;
}

const char *attnc_status_string(attnc_status s)
{
    switch (s) {
    case ATTNC_OK: return "ok";
    case ATTNC_ERR_RECIPE: return "recipe error";
    case ATTNC_ERR_INVALID_ARGUMENT: return "invalid argument";
    case ATTNC_ERR_UNSUPPORTED: return "unsupported";
    case ATTNC_ERR_NO_DRIVER: return "no CUDA driver";
    case ATTNC_ERR_NOMEM: return "out of memory";
    case ATTNC_ERR_CUDA: return "CUDA driver error";
    case ATTNC_ERR_IO: return "I/O error";
    case ATTNC_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}
