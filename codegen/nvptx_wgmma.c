/* nvptx_wgmma.c — warpgroup MMA over swizzled shared tiles (nvptx_wgmma.h).
 *
 * Descriptors: a K-major tile has SBO = 1024 (8-row groups) and a k16 step
 * moves the start 32 bytes inside the swizzle row (the next column block
 * every 4 steps); an MN-major B has LBO = the column-block stride (rows x
 * 128), SBO = 1024, and a k16 step moves 16 rows (2048 bytes).
 *
 * Each product is one inline asm whose outputs are the accumulators (tied
 * to their inputs when it accumulates): the IR holds one call per product
 * instead of one per step (copying 64 tied operands through each step took
 * a tenth of the LLVM compile time). */
#include "nvptx_wgmma.h"
#include "../support/strbuf.h"

/* Most inputs of one product: 128 tied accumulators, 64 A registers (16
 * steps x 4), 16 B descriptors and the scale flag; a group of products
 * (nv_wg_products) has at most 256 accumulators in all (the backward's
 * dV and dK at D = 128: 128), and the caller keeps its inputs under
 * NV_ASM_MAX_ARGS. */
enum { WG_MAXIN = 128 + 64 + 16 + 1, WG_MAXOUT = 256 };
_Static_assert((int)WG_MAXIN <= (int)NV_ASM_MAX_ARGS, "nv_asm takes every input of a product");

LLVMValueRef nv_wg_swizzle_offset(nv_ctx *nv, LLVMValueRef row, LLVMValueRef ch, int rows)
{
    LLVMBuilderRef b = nv->b;
    LLVMValueRef blk = LLVMBuildLShr(b, ch, nv_i32(nv, 3), "");
    LLVMValueRef c8 = LLVMBuildAnd(b, ch, nv_i32(nv, 7), "");
    LLVMValueRef sw = LLVMBuildXor(b, c8, LLVMBuildAnd(b, row, nv_i32(nv, 7), ""), "");
    LLVMValueRef off = LLVMBuildMul(b, blk, nv_i32(nv, rows * 128), "");
    off = LLVMBuildAdd(b, off, LLVMBuildShl(b, row, nv_i32(nv, 7), ""), "");
    return LLVMBuildAdd(b, off, LLVMBuildShl(b, sw, nv_i32(nv, 4), ""), "");
}

void nv_wg_smem_base(nv_ctx *nv, LLVMValueRef global, LLVMValueRef *smem, LLVMValueRef *smem32)
{
    LLVMValueRef a = LLVMBuildPtrToInt(nv->b, global, nv->i32, "");
    LLVMValueRef pad = LLVMBuildAnd(nv->b, LLVMBuildSub(nv->b, nv_i32(nv, 0), a, ""), nv_i32(nv, 1023), "");
    *smem = nv_gep(nv, global, pad);
    *smem32 = LLVMBuildAdd(nv->b, a, pad, "smem32");
}

/* A 128B-swizzle descriptor for the tile at shared byte address addr. */
static LLVMValueRef descriptor(nv_ctx *nv, LLVMValueRef addr, int lbo, int sbo)
{
    LLVMBuilderRef b = nv->b;
    LLVMValueRef a = LLVMBuildAnd(b, LLVMBuildLShr(b, addr, nv_i32(nv, 4), ""), nv_i32(nv, 0x3FFF), "");
    unsigned long long hi = ((unsigned long long)(lbo >> 4) << 16) | ((unsigned long long)(sbo >> 4) << 32) |
                            (1ULL << 62);
    return LLVMBuildOr(b, LLVMBuildZExt(b, a, nv->i64, ""), LLVMConstInt(nv->i64, hi, false), "");
}

static LLVMValueRef desc_add(nv_ctx *nv, LLVMValueRef d, int bytes)
{
    return bytes ? LLVMBuildAdd(nv->b, d, nv_i64(nv, bytes >> 4), "") : d;
}

void nv_wg_desc_kmajor(nv_ctx *nv, LLVMValueRef addr, int rows, int k0, int steps, LLVMValueRef *desc)
{
    LLVMValueRef d = descriptor(nv, addr, 16, 1024);
    for (int k = 0; k < steps; k++) {
        int ks = k0 / 16 + k;
        desc[k] = desc_add(nv, d, ks / 4 * rows * 128 + ks % 4 * 32);
    }
}

void nv_wg_steps_kmajor(int rows, int k0, int steps, int *step)
{
    int k0s = k0 / 16, first = k0s / 4 * rows * 128 + k0s % 4 * 32;
    for (int k = 0; k < steps; k++) {
        int ks = k0s + k;
        step[k] = (ks / 4 * rows * 128 + ks % 4 * 32 - first) >> 4;
    }
}

void nv_wg_steps_mnmajor(int steps, int *step)
{
    for (int k = 0; k < steps; k++)
        step[k] = k * 16 * 128 >> 4;
}

void nv_wg_desc_mnmajor(nv_ctx *nv, LLVMValueRef addr, int rows, int steps, LLVMValueRef *desc)
{
    LLVMValueRef d = descriptor(nv, addr, rows * 128, 1024);
    for (int k = 0; k < steps; k++)
        desc[k] = desc_add(nv, d, k * 16 * 128);
}

static void products(nv_ctx *nv, dtype dt, nv_wg_op *ops, int nops, bool async)
{
    const char *ty = dt == DT_F16 ? "f16" : "bf16";
    LLVMValueRef in[NV_ASM_MAX_ARGS];
    int nin = 0, nout = 0, base[NV_WG_MAXOPS], first_a[NV_WG_MAXOPS], first_b[NV_WG_MAXOPS];
    strbuf cons, text;
    sb_init(&cons);
    sb_init(&text);
    for (int o = 0; o < nops; o++) {
        base[o] = nout;
        for (int i = 0; i < ops[o].N / 2; i++, nout++)
            sb_printf(&cons, "%s=f", nout ? "," : "");
    }
    for (int o = 0; o < nops; o++)
        if (ops[o].accumulate)
            for (int i = 0; i < ops[o].N / 2; i++) {
                sb_printf(&cons, ",%d", base[o] + i);
                in[nin++] = ops[o].acc[i];
            }
    /* operand numbers: outputs, then inputs in order */
    for (int o = 0; o < nops; o++) {
        const nv_wg_op *op = &ops[o];
        int per_a = op->a_regs ? 4 : 1;
        first_a[o] = nout + nin;
        int na = op->a_regs || !op->a_step ? op->steps : 1, nb = op->b_step ? 1 : op->steps;
        for (int k = 0; k < na; k++)
            for (int r = 0; r < per_a; r++) {
                in[nin++] = op->a_regs ? op->a_regs[4 * k + r] : op->a_desc[k];
                sb_puts(&cons, op->a_regs ? ",r" : ",l");
            }
        first_b[o] = nout + nin;
        for (int k = 0; k < nb; k++) {
            in[nin++] = op->b_desc[k];
            sb_puts(&cons, ",l");
        }
    }
    int zero = nout + nin;
    in[nin++] = nv_i32(nv, 0);
    sb_puts(&cons, ",r,~{memory}");
    /* p_add: accumulate (true); p_first: the first step's scale-d. */
    sb_printf(&text, "{\n\t.reg .pred p_add, p_first;\n\tsetp.eq.b32 p_add, $%d, 0;\n\tsetp.ne.b32 p_first, $%d, 0;\n",
              zero, zero);
    for (int o = 0; o < nops; o++) /* the in-asm step descriptors */
        for (int k = 0; k < ops[o].steps; k++) {
            if (ops[o].a_step && !ops[o].a_regs)
                sb_printf(&text, "\t.reg .b64 wa%d_%d;\n\tadd.s64 wa%d_%d, $%d, %d;\n", o, k, o, k, first_a[o],
                          ops[o].a_step[k]);
            if (ops[o].b_step)
                sb_printf(&text, "\t.reg .b64 wb%d_%d;\n\tadd.s64 wb%d_%d, $%d, %d;\n", o, k, o, k, first_b[o],
                          ops[o].b_step[k]);
        }
    sb_puts(&text, "\twgmma.fence.sync.aligned;\n");
    for (int o = 0; o < nops; o++) {
        const nv_wg_op *op = &ops[o];
        int per_a = op->a_regs ? 4 : 1;
        for (int k = 0; k < op->steps; k++) {
            sb_printf(&text, "\twgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s {", op->N, ty, ty);
            for (int i = 0; i < op->N / 2; i++)
                sb_printf(&text, "%s$%d", i ? ", " : "", base[o] + i);
            int a = first_a[o] + per_a * k;
            if (op->a_regs)
                sb_printf(&text, "}, {$%d, $%d, $%d, $%d}", a, a + 1, a + 2, a + 3);
            else if (op->a_step)
                sb_printf(&text, "}, wa%d_%d", o, k);
            else
                sb_printf(&text, "}, $%d", a);
            if (op->b_step)
                sb_printf(&text, ", wb%d_%d", o, k);
            else
                sb_printf(&text, ", $%d", first_b[o] + k);
            sb_printf(&text, ", %s, 1, 1%s, %d;\n", k > 0 || op->accumulate ? "p_add" : "p_first",
                      op->a_regs ? "" : ", 0", op->trans_b);
        }
        if (async) /* one group per product: wait_group n leaves the last n running */
            sb_puts(&text, "\twgmma.commit_group.sync.aligned;\n");
    }
    if (async)
        sb_puts(&text, "}");
    else
        sb_puts(&text, "\twgmma.commit_group.sync.aligned;\n\twgmma.wait_group.sync.aligned 0;\n}");
    LLVMTypeRef out_tys[WG_MAXOUT];
    for (int i = 0; i < nout; i++)
        out_tys[i] = nv->f32;
    LLVMTypeRef ret = LLVMStructTypeInContext(nv->c, out_tys, (unsigned)nout, false);
    LLVMValueRef r = nv_asm(nv, ret, sb_cstr(&text), sb_cstr(&cons), in, nin);
    for (int o = 0; o < nops; o++)
        for (int i = 0; i < ops[o].N / 2; i++)
            ops[o].acc[i] = LLVMBuildExtractValue(nv->b, r, (unsigned)(base[o] + i), "");
    sb_free(&cons);
    sb_free(&text);
}

void nv_wg_products(nv_ctx *nv, dtype dt, nv_wg_op *ops, int nops)
{
    products(nv, dt, ops, nops, false);
}

void nv_wg_products_async(nv_ctx *nv, dtype dt, nv_wg_op *ops, int nops)
{
    products(nv, dt, ops, nops, true);
}

/* The values ride through the asm as tied operands: LLVM sees them defined
 * by the wait, so no read or copy of them is placed before it. */
void nv_wg_wait(nv_ctx *nv, int n, LLVMValueRef *vals, int count)
{
    LLVMValueRef in[NV_ASM_MAX_ARGS];
    LLVMTypeRef tys[WG_MAXOUT];
    strbuf cons, text;
    sb_init(&cons);
    sb_init(&text);
    for (int i = 0; i < count; i++) { /* f32 accumulators; i32: packed A registers of a product in flight */
        tys[i] = LLVMTypeOf(vals[i]);
        sb_printf(&cons, "%s=%s", i ? "," : "", tys[i] == nv->i32 ? "r" : "f");
    }
    for (int i = 0; i < count; i++) {
        sb_printf(&cons, ",%d", i);
        in[i] = vals[i];
    }
    sb_puts(&cons, ",~{memory}");
    sb_printf(&text, "wgmma.wait_group.sync.aligned %d;", n);
    LLVMTypeRef ret = LLVMStructTypeInContext(nv->c, tys, (unsigned)count, false);
    LLVMValueRef r = nv_asm(nv, ret, sb_cstr(&text), sb_cstr(&cons), in, count);
    for (int i = 0; i < count; i++)
        vals[i] = LLVMBuildExtractValue(nv->b, r, (unsigned)i, "");
    sb_free(&cons);
    sb_free(&text);
}

void nv_wg_pin_before_wait(nv_ctx *nv, LLVMValueRef smem32, LLVMValueRef *vals, int count)
{
    LLVMValueRef in[NV_ASM_MAX_ARGS];
    strbuf cons, text;
    sb_init(&cons);
    sb_init(&text);
    sb_puts(&text, "{\n\t.reg .pred p_pin;\n\t.reg .f32 f_pin;\n\t.reg .b32 r_pin;\n\tmov.f32 f_pin, 0f00000000;\n");
    for (int i = 0; i < count; i++) {
        sb_printf(&text, "\tadd.f32 f_pin, f_pin, $%d;\n", i + 1);
        sb_puts(&cons, "f,");
        in[i + 1] = vals[i];
    }
    in[0] = smem32;
    sb_puts(&text, "\tsetp.eq.f32 p_pin, f_pin, 0fFF800000;\n\t@p_pin ld.volatile.shared.u32 r_pin, [$0];\n}");
    strbuf all;
    sb_init(&all);
    sb_printf(&all, "r,%s~{memory}", sb_cstr(&cons));
    nv_asm(nv, NULL, sb_cstr(&text), sb_cstr(&all), in, count + 1);
    sb_free(&all);
    sb_free(&cons);
    sb_free(&text);
}

void nv_wg_product(nv_ctx *nv, dtype dt, int N, int steps, LLVMValueRef *a_desc, LLVMValueRef *a_regs,
                   LLVMValueRef *b_desc, bool accumulate, bool trans_b, LLVMValueRef *acc)
{
    nv_wg_op op = {N, steps, a_desc, a_regs, b_desc, accumulate, trans_b, acc, NULL, NULL};
    nv_wg_products(nv, dt, &op, 1);
}

void nv_wg_proxy_fence(nv_ctx *nv)
{
    nv_asm(nv, NULL, "fence.proxy.async.shared::cta;", "~{memory}", NULL, 0);
}
