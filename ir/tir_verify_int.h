/* tir_verify_int.h — shared between the verifier's files (internal). */
#ifndef ATTNC_IR_TIR_VERIFY_INT_H
#define ATTNC_IR_TIR_VERIFY_INT_H

#include "tile_ir.h"

typedef struct vctx {
    tir_kernel *k;
    strbuf *err;
    int index;   /* current op's index in print order */
    int counter; /* ops seen so far */
    const tir_op *op;
    tir_value **visible; /* defined values in enclosing scopes */
    int nvisible, cap;
    bool failed;
} vctx;

/* Records "op N `line`: operand i (%v): message" (operand -1: none;
 * -2 - r: result r) and returns false. */
bool tir_vfail(vctx *c, int operand, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool tir_vwant(vctx *c, int i, tir_value_kind kind);
bool tir_vsame_dim(int a, int b);
bool tir_vsame_shape(const tir_type *a, const tir_type *b);
const char *tir_vkind_name(tir_value_kind k);
bool verify_op_rules(vctx *c, const tir_op *op);
/* The backward ops (ir/tir_verify_bwd.c); true for ops it does not know. */
bool verify_bwd_rules(vctx *c, const tir_op *op);
const char *tir_tensor_label(tir_tensor t); /* its text name, "?" when out of range */
/* Pipeline markers (ir/tir_verify_pipe.c); owner: the for whose body holds op, or NULL. */
bool verify_pipe_rules(vctx *c, const tir_op *op, const tir_op *owner);

#endif
