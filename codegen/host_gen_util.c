/* host_gen_util.c — the host generator's small tools: the value map,
 * scratch buffers, element access, counted loops and ifs. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "host_gen.h"

const char *hgen_op_name(tir_op_kind k)
{
    static const char *names[] = {
#define X(id, name, nopnd, nres, body) name,
        TIR_OPS(X)
#undef X
    };
    return (unsigned)k < TIR_OP_COUNT ? names[k] : "?";
}

bool hgen_fail(hgen *g, const char *fmt, ...)
{
    if (!g->failed) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        sb_puts(g->err, buf);
    }
    g->failed = true;
    return false;
}

static hval **map_slot(hgen *g, const tir_value *v, bool insert)
{
    size_t h = ((uintptr_t)v >> 4) % HGEN_MAP_SLOTS;
    for (size_t i = 0; i < HGEN_MAP_SLOTS; i++) {
        size_t s = (h + i) % HGEN_MAP_SLOTS;
        if (g->map_key[s] == v)
            return &g->map_val[s];
        if (!g->map_key[s]) {
            if (!insert)
                return NULL;
            g->map_key[s] = v;
            return &g->map_val[s];
        }
    }
    return NULL;
}

hval *hgen_val(hgen *g, const tir_value *v)
{
    hval **s = v ? map_slot(g, v, false) : NULL;
    if (!s || !*s) {
        hgen_fail(g, "internal error: host codegen: operand %%%d has no value", v ? v->id : -1);
        return NULL;
    }
    return *s;
}

hval *hgen_def(hgen *g, const tir_value *v)
{
    hval **s = map_slot(g, v, true);
    if (!s) {
        hgen_fail(g, "internal error: host codegen: more than %d values", HGEN_MAP_SLOTS);
        return NULL;
    }
    if (!*s)
        *s = ARENA_NEW(g->a, hval);
    if (!*s)
        hgen_fail(g, "out of memory");
    else
        memset(*s, 0, sizeof **s);
    return *s;
}

LLVMValueRef hgen_buffer(hgen *g, int rows, int cols)
{
    size_t bytes = (size_t)rows * (size_t)cols * sizeof(float);
    bytes = (bytes + 63) & ~(size_t)63; /* keep every buffer 64-byte aligned */
    LLVMValueRef off = hc_i64(g, (int64_t)g->scratch_bytes);
    g->scratch_bytes += bytes;
    return LLVMBuildGEP2(g->b, g->i8, g->scratch, &off, 1, "tile");
}

hval *hgen_tile(hgen *g, const tir_value *v, int rows, int cols)
{
    hval *h = hgen_def(g, v);
    if (!h)
        return NULL;
    h->kind = v->type.kind == TV_ROWS ? TV_ROWS : TV_TILE;
    h->rows = rows;
    h->cols = cols;
    h->buf = hgen_buffer(g, rows, cols);
    return h;
}

LLVMValueRef hc_i64(hgen *g, int64_t v)
{
    return LLVMConstInt(g->i64, (unsigned long long)v, true);
}

LLVMValueRef hc_f32(hgen *g, double v)
{
    return LLVMConstReal(g->f32, v);
}

LLVMValueRef hgen_elem(hgen *g, const hval *t, LLVMValueRef row, LLVMValueRef col)
{
    LLVMValueRef idx = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, row, hc_i64(g, t->cols), ""), col, "");
    return LLVMBuildGEP2(g->b, g->f32, t->buf, &idx, 1, "");
}

LLVMValueRef hgen_load_elem(hgen *g, const hval *t, LLVMValueRef row, LLVMValueRef col)
{
    return LLVMBuildLoad2(g->b, g->f32, hgen_elem(g, t, row, col), "");
}

void hgen_store_elem(hgen *g, const hval *t, LLVMValueRef row, LLVMValueRef col, LLVMValueRef x)
{
    LLVMBuildStore(g->b, x, hgen_elem(g, t, row, col));
}

void hgen_copy(hgen *g, const hval *dst, const hval *src)
{
    if (dst->buf == src->buf)
        return;
    int64_t n = (int64_t)(src->rows < dst->rows ? src->rows : dst->rows) * (src->cols < dst->cols ? src->cols : dst->cols);
    if (src->cols != dst->cols)
        n = 0; /* shapes differ: the verifier forbids it; copy nothing rather than garbage */
    LLVMBuildMemMove(g->b, dst->buf, 64, src->buf, 64, hc_i64(g, n * (int64_t)sizeof(float)));
}

static LLVMValueRef call_intrinsic(hgen *g, const char *name, LLVMValueRef *args, int n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(g->mod, id, &g->f32, 1);
    LLVMTypeRef fty = LLVMIntrinsicGetType(g->ctx, id, &g->f32, 1);
    return LLVMBuildCall2(g->b, fty, fn, args, (unsigned)n, "");
}

LLVMValueRef hgen_call_f32(hgen *g, const char *intrinsic, LLVMValueRef x)
{
    return call_intrinsic(g, intrinsic, &x, 1);
}

LLVMValueRef hgen_call_f32_2(hgen *g, const char *intrinsic, LLVMValueRef x, LLVMValueRef y)
{
    LLVMValueRef args[2] = {x, y};
    return call_intrinsic(g, intrinsic, args, 2);
}

LLVMValueRef hgen_imin(hgen *g, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, a, b, ""), a, b, "");
}

LLVMValueRef hgen_imax(hgen *g, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(g->b, LLVMBuildICmp(g->b, LLVMIntSGT, a, b, ""), a, b, "");
}

LLVMValueRef hgen_entry_alloca(hgen *g, LLVMTypeRef ty, LLVMValueRef count, const char *name)
{
    LLVMBuilderRef eb = LLVMCreateBuilderInContext(g->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(g->entry);
    if (first)
        LLVMPositionBuilderBefore(eb, first);
    else
        LLVMPositionBuilderAtEnd(eb, g->entry);
    LLVMValueRef slot = count ? LLVMBuildArrayAlloca(eb, ty, count, name) : LLVMBuildAlloca(eb, ty, name);
    LLVMDisposeBuilder(eb);
    return slot;
}

LLVMValueRef hgen_alloca_f32(hgen *g)
{
    return hgen_entry_alloca(g, g->f32, NULL, "acc");
}

LLVMValueRef hgen_block_table_at(hgen *g, LLVMValueRef idx)
{
    LLVMValueRef one = LLVMGetNamedGlobal(g->mod, "attnc_bt_one");
    if (!one) {
        one = LLVMAddGlobal(g->mod, g->i8, "attnc_bt_one");
        LLVMSetInitializer(one, LLVMConstInt(g->i8, 1, false));
        LLVMSetGlobalConstant(one, true);
        LLVMSetLinkage(one, LLVMPrivateLinkage);
    }
    LLVMValueRef at = LLVMBuildGEP2(g->b, g->i8, g->block_table, &idx, 1, "");
    LLVMValueRef is_null = LLVMBuildIsNull(g->b, g->block_table, "");
    return LLVMBuildLoad2(g->b, g->i8, LLVMBuildSelect(g->b, is_null, one, at, ""), "bt");
}

bool hgen_emit_if_entry(hgen *g, const tir_op *op, LLVMValueRef e)
{
    hif h = hgen_if_begin(g, LLVMBuildICmp(g->b, LLVMIntNE, e, LLVMConstInt(g->i8, 0, false), ""));
    LLVMValueRef saved = g->bt_entry;
    g->bt_entry = e;
    bool ok = host_emit_block(g, op->body);
    g->bt_entry = saved;
    hgen_if_end(g, &h);
    return ok;
}

hval *hgen_range_def(hgen *g, const tir_op *op, hval **box)
{
    *box = hgen_val(g, op->operands[0]);
    hval *rg = hgen_def(g, op->results[0]);
    if (!*box || !rg)
        return NULL;
    rg->kind = TV_RANGE;
    rg->nd = g->nd;
    return rg;
}

hloop hgen_loop_begin(hgen *g, LLVMValueRef lo, LLVMValueRef hi)
{
    hloop l;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->b);
    l.head = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "loop");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "body");
    l.exit = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "done");
    LLVMBuildBr(g->b, l.head);
    LLVMPositionBuilderAtEnd(g->b, l.head);
    l.phi = LLVMBuildPhi(g->b, g->i64, "i");
    LLVMAddIncoming(l.phi, &lo, &pre, 1);
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, l.phi, hi, ""), body, l.exit);
    LLVMPositionBuilderAtEnd(g->b, body);
    l.iv = l.phi;
    return l;
}

void hgen_loop_end(hgen *g, hloop *l)
{
    LLVMValueRef next = LLVMBuildAdd(g->b, l->phi, hc_i64(g, 1), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->b);
    LLVMBuildBr(g->b, l->head);
    LLVMAddIncoming(l->phi, &next, &latch, 1);
    LLVMPositionBuilderAtEnd(g->b, l->exit);
}

hif hgen_if_begin(hgen *g, LLVMValueRef cond)
{
    hif h;
    h.then = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "then");
    h.merge = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "merge");
    LLVMBuildCondBr(g->b, cond, h.then, h.merge);
    LLVMPositionBuilderAtEnd(g->b, h.then);
    return h;
}

void hgen_if_end(hgen *g, hif *h)
{
    LLVMBuildBr(g->b, h->merge);
    LLVMPositionBuilderAtEnd(g->b, h->merge);
}
