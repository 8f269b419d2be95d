/*
 * host_call.h — call a JIT-compiled host kernel through libffi, with an
 * argument list built from its signature (codegen/host_codegen.h): each
 * argument is a pointer or an int64 by its role, and the function returns
 * an int32 status.
 */
#ifndef ATTNC_RUNTIME_HOST_CALL_H
#define ATTNC_RUNTIME_HOST_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include "codegen/host_codegen.h"

typedef union host_value {
    void *p;
    int64_t i;
} host_value;

/* Calls fn(vals...) typed by sig; *ret gets the kernel's return value.
 * Returns false when libffi cannot prepare the call (nargs over
 * HOST_MAX_ARGS or an ABI error). */
bool host_call(void *fn, const host_arg *sig, int nargs, const host_value *vals, int32_t *ret);

#endif
