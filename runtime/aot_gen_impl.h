/* aot_gen_impl.h — shared by the AOT generator files (internal). */
#ifndef ATTNC_RUNTIME_AOT_GEN_IMPL_H
#define ATTNC_RUNTIME_AOT_GEN_IMPL_H

#include "aot.h"

const char *aot_c_type(aot_type t);
/* FNV-1a 64: the generated code re-computes it without any library. */
uint64_t aot_fnv1a(const void *data, size_t n);
void aot_render_source(const aot_spec *s, strbuf *c);

#endif
