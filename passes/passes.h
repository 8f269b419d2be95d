/* passes.h — the run functions of the passes, in pipeline order (the table
 * that names them is in pipeline.c). Each transforms the kernel in place and
 * returns false with a message in err on failure. */
#ifndef ATTNC_PASSES_PASSES_H
#define ATTNC_PASSES_PASSES_H

#include "pass_table.h"

bool lower_softmax(tir_kernel *k, const recipe *r, strbuf *err);
bool lower_linear(tir_kernel *k, const recipe *r, strbuf *err);
bool pass_lower(tir_kernel *k, const recipe *r, strbuf *err);
bool pass_tiling(tir_kernel *k, const recipe *r, strbuf *err);
bool pass_mask_analysis(tir_kernel *k, const recipe *r, strbuf *err);
bool pass_fusion(tir_kernel *k, const recipe *r, strbuf *err);
bool pass_layout(tir_kernel *k, const recipe *r, strbuf *err);
bool pass_pipelining(tir_kernel *k, const recipe *r, strbuf *err);

#endif
