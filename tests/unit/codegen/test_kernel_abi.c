/* The forward kernel's parameter-role table (codegen/kernel_abi.h) and the
 * kernel nvptx_abi.c declares from it: one LLVM parameter per table slot,
 * of the slot's type, in table order; tensor maps byval and last. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "codegen/nvptx_abi.h"

static void table_lists_the_abi(void **state)
{
    (void)state;
    kabi_type types[2] = {KABI_PTR, KABI_F32};
    kernel_abi a;
    kernel_abi_forward(&a, 2, types, false);
    assert_int_equal(a.n, 2 * KABI_NTENSORS + 1 + 2);
    assert_int_equal(kernel_abi_nargs(&a), 5 + 19 + SZ_MAX + 2); /* lse has 3 strides */
    assert_int_equal(a.e[KABI_LSE].role, KABI_TENSOR);
    assert_int_equal(a.e[KABI_NTENSORS + KABI_LSE].count, 3);
    assert_int_equal(a.e[2 * KABI_NTENSORS].role, KABI_SIZES);
    assert_int_equal(a.e[a.n - 1].role, KABI_PARAM);
    assert_int_equal(a.e[a.n - 1].type, KABI_F32);
    kernel_abi_forward(&a, 2, types, true);
    assert_int_equal(kernel_abi_nargs(&a), 5 + 19 + SZ_MAX + 2 + KABI_NMAPS);
    for (int t = 0; t < KABI_NMAPS; t++) {
        assert_int_equal(a.e[a.n - KABI_NMAPS + t].role, KABI_TMAP);
        assert_int_equal(a.e[a.n - KABI_NMAPS + t].which, KABI_Q + t);
    }
    assert_int_equal(kabi_param_type(false, true), KABI_PTR);
    assert_int_equal(kabi_param_type(true, false), KABI_I64);
    assert_string_equal(kabi_tensors[KABI_LSE].stride_name, "lse_stride");
}

/* Declares the kernel for a recipe with a tensor param and two scalars and
 * checks each LLVM parameter against its table slot. */
static void declaration_follows_the_table(void **state)
{
    (void)state;
    tir_param ps[3] = {{.name = "doc", .dtype = DT_I32, .ndim = 1},
                       {.name = "s", .dtype = DT_F32, .ndim = 0},
                       {.name = "n", .dtype = DT_I64, .ndim = 0}};
    tir_kernel r;
    memset(&r, 0, sizeof r);
    r.params = ps;
    r.nparams = 3;
    for (int tma = 0; tma < 2; tma++) {
        LLVMContextRef c = LLVMContextCreate();
        LLVMModuleRef m = LLVMModuleCreateWithNameInContext("t", c);
        LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
        nv_ctx nv;
        nv_ctx_init(&nv, c, m, b);
        nvptx_abi_args args;
        memset(&args, 0, sizeof args);
        (tma ? nvptx_abi_declare_tma : nvptx_abi_declare)(&nv, &r, "k", &args);
        kabi_type types[3] = {KABI_PTR, KABI_F32, KABI_I64};
        kernel_abi a;
        kernel_abi_forward(&a, 3, types, tma);
        assert_int_equal((int)LLVMCountParams(args.fn), kernel_abi_nargs(&a));
        unsigned k = 0;
        for (int e = 0; e < a.n; e++)
            for (int i = 0; i < a.e[e].count; i++, k++) {
                LLVMTypeRef ty = LLVMTypeOf(LLVMGetParam(args.fn, k));
                switch (a.e[e].type) {
                case KABI_PTR: assert_ptr_equal(ty, nv.pg); break;
                case KABI_I64: assert_ptr_equal(ty, nv.i64); break;
                case KABI_I32: assert_ptr_equal(ty, nv.i32); break;
                case KABI_F32: assert_ptr_equal(ty, nv.f32); break;
                case KABI_MAP: assert_int_equal(LLVMGetTypeKind(ty), LLVMPointerTypeKind); break;
                }
            }
        assert_ptr_equal(args.tens[KABI_LSE], LLVMGetParam(args.fn, KABI_LSE));
        assert_ptr_equal(args.stride[KABI_LSE][2], LLVMGetParam(args.fn, KABI_NTENSORS + 18));
        assert_ptr_equal(args.param[2], LLVMGetParam(args.fn, (unsigned)(5 + 19 + SZ_MAX + 2)));
        if (tma)
            assert_ptr_equal(args.tmap[2], LLVMGetParam(args.fn, k - 1));
        LLVMDisposeBuilder(b);
        LLVMDisposeModule(m);
        LLVMContextDispose(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_lists_the_abi),
        cmocka_unit_test(declaration_follows_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
