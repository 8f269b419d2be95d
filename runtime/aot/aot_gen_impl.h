/* aot_gen_impl.h — shared by the AOT generator files (internal). */
#ifndef ATTNC_RUNTIME_AOT_GEN_IMPL_H
#define ATTNC_RUNTIME_AOT_GEN_IMPL_H

#include "runtime/aot/aot.h"

const char *aot_c_type(aot_type t);
/* FNV-1a 64: the generated code re-computes it without any library. */
uint64_t aot_fnv1a(const void *data, size_t n);
void aot_render_source(const aot_spec *s, strbuf *c);
/* The rest of a byte array's definition whose declarator was just printed
 * ("[n + 1] = {...};", NUL-terminated: PTX readers need a C string). */
void aot_put_bytes(strbuf *c, const unsigned char *p, size_t n);
/* The ABI part of the header comment (aot_gen_doc.c). */
void aot_render_abi(const aot_spec *s, strbuf *h);
/* Appends tmpl with every "@N@" replaced by name. */
void aot_put_template(strbuf *c, const char *tmpl, const char *name);
/* Recipe kernels (aot_gen_attn.c): the checks, NAME_grid and NAME_validate;
 * and the start of NAME_launch up to `la`, the args the kernel gets. */
void aot_attn_render(const aot_spec *s, strbuf *c);
void aot_attn_launch_start(const aot_spec *s, strbuf *c);

/* The backward program (aot_gen_bwd.c), with s->bwd.enabled: NAME_bwd_args
 * and the prototypes in the header; the image, NAME_backward and
 * NAME_backward_workspace_bytes in the source (after NAME_launch). */
void aot_bwd_render_header(const aot_spec *s, strbuf *h);
void aot_bwd_render_source(const aot_spec *s, strbuf *c);

#endif
