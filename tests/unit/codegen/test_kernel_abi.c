/* The forward and backward kernels' parameter-role tables
 * (codegen/kernel_abi.h), the kernel nvptx_abi.c declares from them (one
 * LLVM parameter per table slot, of the slot's type, in table order; tensor
 * maps byval and last) and kernel_abi_marshal's walk (one argument per
 * slot, each value from its role). */
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
    kernel_abi_forward(&a, 2, types, false, false);
    assert_int_equal(a.n, 2 * KABI_NTENSORS + 1 + 2);
    assert_int_equal(kernel_abi_nargs(&a), 5 + 19 + SZ_MAX + 2); /* lse has 3 strides */
    assert_int_equal(a.e[KABI_LSE].role, KABI_TENSOR);
    assert_int_equal(a.e[KABI_NTENSORS + KABI_LSE].count, 3);
    assert_int_equal(a.e[2 * KABI_NTENSORS].role, KABI_SIZES);
    assert_int_equal(a.e[a.n - 1].role, KABI_PARAM);
    assert_int_equal(a.e[a.n - 1].type, KABI_F32);
    kernel_abi_forward(&a, 2, types, true, false); /* q, k, v */
    assert_int_equal(kernel_abi_nargs(&a), 5 + 19 + SZ_MAX + 2 + 3);
    for (int t = 0; t < 3; t++) {
        assert_int_equal(a.e[a.n - 3 + t].role, KABI_TMAP);
        assert_int_equal(a.e[a.n - 3 + t].which, KABI_Q + t);
    }
    kernel_abi_forward(&a, 2, types, true, true); /* and o's */
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
        if (tma)
            nvptx_abi_declare_tma(&nv, &r, "k", false, &args);
        else
            nvptx_abi_declare(&nv, &r, "k", &args);
        kabi_type types[3] = {KABI_PTR, KABI_F32, KABI_I64};
        kernel_abi a;
        kernel_abi_forward(&a, 3, types, tma, false);
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

/* The backward program's table (nvptx_bwd.h's order): 9 tensors, the
 * workspace regions, 9 strides (lse 3), sizes, params, then per gradient
 * d<param>, slices, mode. */
static void backward_table_lists_the_abi(void **state)
{
    (void)state;
    kabi_type types[2] = {KABI_PTR, KABI_F32};
    kernel_abi a;
    kernel_abi_backward(&a, 2, types, 1, false);
    assert_int_equal(a.n, 2 * KABI_ALL_TENSORS + KABI_NWS + 1 + 2 + KABI_GRAD_ROLES);
    assert_int_equal(kernel_abi_nargs(&a), 9 + KABI_NWS + 35 + SZ_MAX + 2 + 3);
    assert_int_equal(a.e[KABI_DO].role, KABI_TENSOR);
    assert_int_equal(a.e[KABI_ALL_TENSORS + KABI_WS_DQACC].role, KABI_WS);
    assert_int_equal(a.e[KABI_ALL_TENSORS + KABI_NWS + KABI_LSE].count, 3);
    assert_int_equal(a.e[a.n - 3].role, KABI_DPARAM);
    assert_int_equal(a.e[a.n - 1].role, KABI_DMODE);
    assert_int_equal(a.e[a.n - 1].type, KABI_I32);
    assert_string_equal(kabi_tensors[KABI_DO].name, "do");
    assert_string_equal(kabi_tensors[KABI_DO].field, "dout");
    assert_true(kabi_tensors[KABI_DK].kv && kabi_tensors[KABI_DK].output);

    /* the marshalled arguments carry each role's value */
    kabi_values v;
    memset(&v, 0, sizeof v);
    for (int t = 0; t < KABI_ALL_TENSORS; t++)
        v.ptr[t] = 0x1000u * (unsigned)(t + 1), v.stride[t][0] = 100 + t;
    v.ws[KABI_WS_DELTA] = 0xd0, v.ws[KABI_WS_DQACC] = 0xd1;
    v.size[SZ_TOKENS] = 77;
    v.param_ptr[0] = 0xabc, v.param_scalar[1] = 0.5;
    v.dparam[0] = 0xdd, v.dslices[0] = 0xee, v.dmode[0] = 1;
    kabi_slot slot[KABI_MAX_ARGS];
    void *args[KABI_MAX_ARGS];
    int n = kernel_abi_marshal(&a, &v, slot, args, NULL);
    assert_int_equal(n, kernel_abi_nargs(&a));
    assert_int_equal(((kabi_slot *)args[KABI_DV])->p, 0x9000u);
    assert_int_equal(((kabi_slot *)args[KABI_ALL_TENSORS + KABI_WS_DQACC])->p, 0xd1);
    assert_int_equal(((kabi_slot *)args[KABI_ALL_TENSORS + KABI_NWS + 4 * 4 + 3])->i64, 105); /* do's stride[0] */
    int sizes = 9 + KABI_NWS + 35;
    assert_int_equal(((kabi_slot *)args[sizes + SZ_TOKENS])->i32, 77);
    assert_int_equal(((kabi_slot *)args[sizes + SZ_MAX])->p, 0xabc);
    assert_true(((kabi_slot *)args[sizes + SZ_MAX + 1])->f32 == 0.5f);
    assert_int_equal(((kabi_slot *)args[n - 3])->p, 0xdd);
    assert_int_equal(((kabi_slot *)args[n - 2])->p, 0xee);
    assert_int_equal(((kabi_slot *)args[n - 1])->i32, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_lists_the_abi),
        cmocka_unit_test(declaration_follows_the_table),
        cmocka_unit_test(backward_table_lists_the_abi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
