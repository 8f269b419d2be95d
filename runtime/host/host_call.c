/* host_call.c — the libffi call of a host kernel; see host_call.h. The cif
 * is prepared per call on the stack: it costs far less than the kernel. */
#include "runtime/host/host_call.h"

#include <ffi.h>
#include <string.h>

static bool is_pointer(host_arg_role role)
{
    return role == HROLE_TENSOR || role == HROLE_PARAM || role == HROLE_BLOCK_TABLE || role == HROLE_SPANS ||
           role == HROLE_SCRATCH ||
           role == HROLE_DPARAM || role == HROLE_WS;
}

bool host_call(void *fn, const host_arg *sig, int nargs, const host_value *vals, int32_t *ret)
{
    if (!fn || nargs < 0 || nargs > HOST_MAX_ARGS)
        return false;
    ffi_type *types[HOST_MAX_ARGS];
    void *values[HOST_MAX_ARGS];
    for (int i = 0; i < nargs; i++) {
        types[i] = is_pointer(sig[i].role) ? &ffi_type_pointer : &ffi_type_sint64;
        values[i] = is_pointer(sig[i].role) ? (void *)&vals[i].p : (void *)&vals[i].i;
    }
    ffi_cif cif;
    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, (unsigned)nargs, &ffi_type_sint32, types) != FFI_OK)
        return false;
    ffi_arg result = 0; /* libffi widens small integer returns to ffi_arg */
    void (*entry)(void);
    memcpy(&entry, &fn, sizeof entry); /* object pointer -> function pointer */
    ffi_call(&cif, entry, &result, values);
    *ret = (int32_t)result;
    return true;
}
