/* host_codegen.c — tile IR -> one LLVM function for the host, then JIT.
 *
 * The function's parameters follow the recipe (host_codegen.h lists the
 * order and host_kernel.args records it for the libffi call). Its body is
 * one loop over the program range [first, last) that splits each program
 * index into batch, head and the query tile per grid dim (softmax), around
 * the kernel's op list, which the op files lower one op at a time
 * (host_ops_*.c). */
#include <string.h>

#include "host_gen.h"
#include "host_jit.h"

static const char *const KERNEL_SYMBOL = "attnc_host_kernel";

bool host_arg_add(host_kernel *hk, host_arg_role role, int which, int dim)
{
    if (hk->nargs >= HOST_MAX_ARGS)
        return false;
    hk->args[hk->nargs++] = (host_arg){role, which, dim};
    return true;
}

/* The KV_RANGE op in block-table mode, searched through nested blocks. */
static const tir_op *find_block_table_range(const tir_block *b)
{
    for (const tir_op *op = b ? b->first : NULL; op; op = op->next) {
        if (op->kind == TIR_KV_RANGE && op->range_mode == RANGE_BLOCK_TABLE)
            return op;
        const tir_op *in = find_block_table_range(op->body);
        if (in)
            return in;
    }
    return NULL;
}

/* The document-id param of a KV_RANGE with a span (forward kernels), or -1. */
static int find_span_param(const tir_block *b)
{
    for (const tir_op *op = b ? b->first : NULL; op; op = op->next) {
        if (op->kind == TIR_KV_RANGE && op->span && op->range_mode == RANGE_BOUNDS) /* tables: no cut here */
            return op->span_param;
        int in = find_span_param(op->body);
        if (in >= 0)
            return in;
    }
    return -1;
}

bool host_plan_inputs(const tir_kernel *k, host_kernel *hk, int ntensors)
{
    bool ok = true;
    for (int t = 0; t < ntensors; t++) {
        ok &= host_arg_add(hk, HROLE_TENSOR, t, 0);
        for (int d = 0; d < 4; d++)
            ok &= host_arg_add(hk, HROLE_STRIDE, t, d);
    }
    for (int s = SZ_BATCH; s <= SZ_KV_TOKENS; s++)
        ok &= host_arg_add(hk, HROLE_SIZE, s, 0);
    for (int d = 0; d < k->grid_ndim; d++)
        ok &= host_arg_add(hk, HROLE_SIZE, SZ_GRID0 + d, 0);
    for (int s = SZ_EXTRA0; s < k->nsizes && s < SZ_MAX; s++)
        ok &= host_arg_add(hk, HROLE_SIZE, s, 0);
    for (int p = 0; p < k->nparams; p++) {
        ok &= host_arg_add(hk, HROLE_PARAM, p, 0);
        for (int d = 0; d < k->params[p].ndim; d++)
            ok &= host_arg_add(hk, HROLE_PARAM_STRIDE, p, d);
        for (int d = 0; d < k->params[p].ndim; d++)
            ok &= host_arg_add(hk, HROLE_PARAM_SHAPE, p, d);
    }
    return ok;
}

/* The argument list, in order; see host_codegen.h. */
static bool plan_signature(const tir_kernel *k, host_kernel *hk)
{
    bool ok = host_plan_inputs(k, hk, HT_FWD_COUNT);
    if (hk->block_table)
        ok &= host_arg_add(hk, HROLE_BLOCK_TABLE, 0, 0);
    if (hk->span_param >= 0)
        ok &= host_arg_add(hk, HROLE_SPANS, hk->span_param, 0);
    ok &= host_arg_add(hk, HROLE_SCRATCH, 0, 0);
    ok &= host_arg_add(hk, HROLE_PROGRAM_FIRST, 0, 0);
    ok &= host_arg_add(hk, HROLE_PROGRAM_LAST, 0, 0);
    return ok;
}

static void init_types(hgen *g)
{
    g->i1 = LLVMInt1TypeInContext(g->ctx);
    g->i8 = LLVMInt8TypeInContext(g->ctx);
    g->i16 = LLVMInt16TypeInContext(g->ctx);
    g->i32 = LLVMInt32TypeInContext(g->ctx);
    g->i64 = LLVMInt64TypeInContext(g->ctx);
    g->f32 = LLVMFloatTypeInContext(g->ctx);
    g->ptr = LLVMPointerTypeInContext(g->ctx, 0);
}

/* Declares the function and binds each parameter to its role. */
static bool declare_function(hgen *g, const host_kernel *hk)
{
    LLVMTypeRef types[HOST_MAX_ARGS];
    for (int i = 0; i < hk->nargs; i++) {
        host_arg_role ro = hk->args[i].role;
        bool p = ro == HROLE_TENSOR || ro == HROLE_PARAM || ro == HROLE_BLOCK_TABLE || ro == HROLE_SCRATCH ||
                 ro == HROLE_DPARAM || ro == HROLE_WS || ro == HROLE_SPANS;
        types[i] = p ? g->ptr : g->i64;
    }
    LLVMTypeRef fty = LLVMFunctionType(g->i32, types, (unsigned)hk->nargs, false);
    g->fn = LLVMAddFunction(g->mod, KERNEL_SYMBOL, fty);
    int np = g->tk->nparams > 0 ? g->tk->nparams : 1;
    g->param_ptr = ARENA_ARRAY(g->a, LLVMValueRef, np);
    g->param_stride = arena_alloc(g->a, sizeof *g->param_stride * (size_t)np);
    g->param_shape = arena_alloc(g->a, sizeof *g->param_shape * (size_t)np);
    if (!g->param_ptr || !g->param_stride || !g->param_shape)
        return hgen_fail(g, "out of memory");
    for (int i = 0; i < hk->nargs; i++) {
        LLVMValueRef v = LLVMGetParam(g->fn, (unsigned)i);
        const host_arg *a = &hk->args[i];
        switch (a->role) {
        case HROLE_TENSOR: g->tensor[a->which] = v; break;
        case HROLE_STRIDE: g->stride[a->which][a->dim] = v; break;
        case HROLE_SIZE: g->size[a->which] = v; break;
        case HROLE_PARAM: g->param_ptr[a->which] = v; break;
        case HROLE_PARAM_STRIDE: g->param_stride[a->which][a->dim] = v; break;
        case HROLE_PARAM_SHAPE: g->param_shape[a->which][a->dim] = v; break;
        case HROLE_BLOCK_TABLE: g->block_table = v; break;
        case HROLE_SPANS: g->spans = v; break;
        case HROLE_SCRATCH: g->scratch = v; break;
        case HROLE_PROGRAM_FIRST: g->first = v; break;
        case HROLE_PROGRAM_LAST: g->last = v; break;
        default:
            if (!host_bwd_bind(g, a, v))
                return false;
            break;
        }
    }
    for (int s = 0; s < SZ_MAX; s++) /* sizes the recipe does not pass read as 1 */
        if (!g->size[s])
            g->size[s] = hc_i64(g, 1);
    return true;
}

bool host_emit_block(hgen *g, const tir_block *b)
{
    for (const tir_op *op = b ? b->first : NULL; op && !g->failed; op = op->next) {
        switch (op->kind) {
        case TIR_LOAD:
        case TIR_STORE:
        case TIR_FILL:
        case TIR_CONVERT: host_op_memory(g, op); break;
        case TIR_QTILE:
        case TIR_KV_RANGE:
        case TIR_FOR:
        case TIR_YIELD:
        case TIR_TILE_CLASS: host_op_control(g, op); break;
        case TIR_DOT:
        case TIR_ADD: host_op_dot(g, op); break;
        case TIR_SCORE:
        case TIR_SOFTMAX_UPDATE:
        case TIR_RESCALE:
        case TIR_FINALIZE: host_op_softmax(g, op); break;
        case TIR_FEATURE_MAP:
        case TIR_DECAY_MASK:
        case TIR_STATE_APPLY:
        case TIR_STATE_UPDATE: host_op_linear(g, op); break;
        case TIR_WAIT:
        case TIR_BARRIER: break; /* one thread, no async copies: nothing to wait for */
        case TIR_KVTILE:
        case TIR_Q_RANGE:
        case TIR_ROW_DOT:
        case TIR_ROW_SUM:
        case TIR_ROW_DIV:
        case TIR_SOFTMAX_P:
        case TIR_SCORE_GRAD:
        case TIR_PARAM_GRAD:
        case TIR_SLOT_REDUCE:
        case TIR_FEATURE_GRAD:
        case TIR_NORM_GRAD:
        case TIR_GATE_GRAD:
        case TIR_HEAD_SUM: host_op_backward(g, op); break;
        default: hgen_fail(g, "internal error: host codegen: unknown op kind %d", (int)op->kind); break;
        }
    }
    return !g->failed;
}

/* Splits program index p into its query tile per grid dim (last dim
 * fastest), head and batch: the order of host_kernel_programs. */
static void split_program(hgen *g, LLVMValueRef p)
{
    LLVMValueRef rem = p;
    for (int d = g->linear ? -1 : g->nd - 1; d >= 0; d--) {
        LLVMValueRef n = hdil(g, d) > 1 ? hdil_qtiles_along(g, d, g->tk->sched.q_tile[d])
                                        : hgen_tiles_along(g, false, d, g->tk->sched.q_tile[d]);
        g->qtile[d] = LLVMBuildURem(g->b, rem, n, "qtile");
        rem = LLVMBuildUDiv(g->b, rem, n, "");
    }
    g->head = LLVMBuildURem(g->b, rem, g->size[SZ_HEADS], "head");
    g->batch = LLVMBuildUDiv(g->b, rem, g->size[SZ_HEADS], "batch");
    LLVMValueRef group = LLVMBuildSDiv(g->b, g->size[SZ_HEADS], hgen_imax(g, g->size[SZ_KV_HEADS], hc_i64(g, 1)), "");
    g->kv_head = LLVMBuildSDiv(g->b, g->head, hgen_imax(g, group, hc_i64(g, 1)), "kv_head");
}

static bool emit_body(hgen *g)
{
    g->entry = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "entry");
    LLVMPositionBuilderAtEnd(g->b, g->entry);
    hloop l = hgen_loop_begin(g, g->first, g->last);
    split_program(g, l.iv);
    bool ok = host_emit_block(g, g->tk->body);
    hgen_loop_end(g, &l);
    LLVMBuildRet(g->b, LLVMConstInt(g->i32, 0, false));
    return ok;
}

static bool generate(hgen *g, host_module *hm, host_kernel *hk)
{
    g->ctx = hm->ctx;
    g->mod = hm->module;
    init_types(g);
    g->b = LLVMCreateBuilderInContext(g->ctx);
    bool ok = declare_function(g, hk) && (hk->bwd.is_bwd ? host_bwd_emit_body(g) : emit_body(g));
    LLVMDisposeBuilder(g->b);
    hk->scratch_bytes = g->scratch_bytes;
    return ok && !g->failed;
}

/* Generates, verifies and optimises the module into hm (disposed on failure). */
static bool emit_module(arena *a, const tir_kernel *tk, int opt_level, host_kernel *out,
                        host_module *hm, char **ir_text, strbuf *err)
{
    memset(out, 0, sizeof *out);
    if (ir_text)
        *ir_text = NULL;
    out->args = ARENA_ARRAY(a, host_arg, HOST_MAX_ARGS);
    out->range_op = tk->family == FAMILY_LINEAR ? NULL : find_block_table_range(tk->body);
    out->block_table = out->range_op != NULL;
    out->bwd.is_bwd = tk->programs != PROG_DEFAULT;
    out->span_param = out->bwd.is_bwd || tk->family == FAMILY_LINEAR || tk->grid_ndim ? -1 : find_span_param(tk->body);
    if (out->span_param >= tk->nparams || (out->span_param >= 0 && tk->params[out->span_param].dtype != DT_I32 &&
                                          tk->params[out->span_param].dtype != DT_I64))
        out->span_param = -1; /* not a document-id param: the range without the cut */
    out->bwd.programs = tk->programs;
    out->bwd.grid_ndim = tk->grid_ndim;
    out->bwd.param = tk->param;
    for (int d = 0; d < SCHED_MAX_DIMS; d++) {
        out->bwd.q_tile[d] = tk->sched.q_tile[d];
        out->bwd.kv_tile[d] = tk->sched.kv_tile[d];
    }
    out->linear = tk->family == FAMILY_LINEAR;
    out->grid_ndim = tk->grid_ndim;
    for (int d = 0; d < SCHED_MAX_DIMS; d++) {
        out->q_tile[d] = tk->sched.q_tile[d];
        out->dil[d] = tir_kernel_dil(tk, d);
    }
    if (!out->args || !(out->bwd.is_bwd ? host_bwd_plan(tk, out) : plan_signature(tk, out))) {
        sb_puts(err, out->args ? "too many kernel arguments for the host backend" : "out of memory");
        return false;
    }
    hgen *g = ARENA_NEW(a, hgen);
    if (!g || !host_module_create(hm, tk->name ? tk->name : "attnc", err)) {
        if (!g)
            sb_puts(err, "out of memory");
        return false;
    }
    g->a = a;
    g->err = err;
    g->tk = tk;
    g->nd = tk->grid_ndim > 0 ? tk->grid_ndim : 1;
    g->linear = tk->family == FAMILY_LINEAR;
    bool ok = generate(g, hm, out) && host_module_finish(hm, opt_level, err);
    if (ok && ir_text)
        *ir_text = host_module_print(hm);
    if (!ok)
        host_module_dispose(hm);
    return ok;
}

bool host_codegen_build_ir(arena *a, const tir_kernel *tk, int opt_level, host_kernel *out,
                           char **ir_text, strbuf *err)
{
    host_module hm;
    if (!emit_module(a, tk, opt_level, out, &hm, ir_text, err))
        return false;
    return host_jit_create(&out->jit, &hm, KERNEL_SYMBOL, &out->fn, err);
}

bool host_codegen_emit_ir(arena *a, const tir_kernel *tk, int opt_level, host_kernel *out,
                          char **ir_text, strbuf *err)
{
    host_module hm;
    if (!emit_module(a, tk, opt_level, out, &hm, ir_text, err))
        return false;
    host_module_dispose(&hm);
    return true;
}

bool host_codegen_build(arena *a, const tir_kernel *tk, int opt_level, host_kernel *out, strbuf *err)
{
    return host_codegen_build_ir(a, tk, opt_level, out, NULL, err);
}

void host_kernel_release(host_kernel *hk)
{
    if (hk && hk->jit) {
        host_jit_destroy(hk->jit);
        hk->jit = NULL;
        hk->fn = NULL;
    }
}

int64_t host_kernel_programs(const host_kernel *hk, const int64_t *sizes)
{
    int64_t n;
    if (__builtin_mul_overflow(sizes[SZ_BATCH], sizes[SZ_HEADS], &n))
        return -1;
    int nd = hk->grid_ndim > 0 ? hk->grid_ndim : 1;
    for (int d = 0; !hk->linear && d < nd; d++) {
        int64_t extent = hk->grid_ndim > 0 ? sizes[SZ_GRID0 + d] : sizes[SZ_TOKENS];
        int64_t tile = hk->q_tile[d] > 0 ? hk->q_tile[d] : 1, dil = hk->dil[d] > 1 ? hk->dil[d] : 1;
        int64_t len = extent / dil + (extent % dil != 0); /* dilation group 0's length */
        if (__builtin_mul_overflow(n, dil * (len / tile + (len % tile != 0)), &n))
            return -1;
    }
    return n;
}
