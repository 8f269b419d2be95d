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

/* The body of a loop that encodes sequence tensor i's rank-4 map
 * ({dim, tokens, heads, batch}, as runtime/cuda/cuda_tma.c) into tmap[i],
 * from the generated code's gd[4] (its extents), dim[i], rows[i] (box
 * rows) and the arrays named ptr and strd (its address, its strides in
 * elements); an extent-1 dim takes the packed stride. Returns from the
 * launcher when the driver refuses the map. indent: the body's spaces. */
void aot_put_seq_map(strbuf *c, const char *name, int indent, const char *ptr, const char *strd, int map_dtype,
                     int swizzle, int l2_promotion);

/* The backward program (aot_gen_bwd.c), with s->bwd.enabled: NAME_bwd_args
 * and the prototypes in the header; the image, NAME_backward and
 * NAME_backward_workspace_bytes in the source (after NAME_launch). */
void aot_bwd_render_header(const aot_spec *s, strbuf *h);
void aot_bwd_render_source(const aot_spec *s, strbuf *c);

#endif
