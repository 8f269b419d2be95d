/* Unit tests for codegen/emit_expr.c: small expressions are JIT-compiled on
 * the host (i64 and i32 ints) and compared, on many inputs, with the fp64
 * reference interpreter (tests/reference/ref_expr.c). The NVPTX flavour is
 * emitted and verified as IR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>

#include "codegen/emit_expr.h"
#include "codegen/host_jit.h"
#include "reference/ref_expr.h"

/* Inputs of the test function: in[0..3] q.t,q.d0..2; in[4..7] k.*;
 * in[8 + size_id] sizes; in[30..32] head, kv_head, batch; fin[0] score. */
enum { IN_SIZE = 8, IN_HEAD = 30, IN_KV_HEAD = 31, IN_BATCH = 32, IN_COUNT = 33 };

static int32_t table_i32[5] = {7, -3, 11, 0, 42};
static float table_f32[3][4] = {{0.5f, -1.25f, 2.f, 3.5f}, {4.f, -8.f, 0.f, 1.f}, {9.f, 10.f, -11.f, 12.f}};

typedef struct harness {
    LLVMBuilderRef b;
    LLVMContextRef ctx;
    LLVMValueRef in, fin;
    LLVMTypeRef i64, int_ty, f32, ptr;
} harness;

static LLVMValueRef load_in(harness *h, int slot)
{
    LLVMValueRef idx = LLVMConstInt(h->i64, (unsigned long long)slot, false);
    LLVMValueRef p = LLVMBuildGEP2(h->b, h->i64, h->in, &idx, 1, "");
    return LLVMBuildLoad2(h->b, h->i64, p, ""); /* emit_expr narrows to int_ty */
}

static LLVMValueRef cb_coord(void *u, coord_side side, int dim)
{
    return load_in(u, (side == SIDE_Q ? 0 : 4) + dim + 1);
}

static LLVMValueRef cb_size(void *u, size_id id)
{
    return load_in(u, IN_SIZE + (int)id);
}

static LLVMValueRef cb_leaf(void *u, expr_kind k)
{
    harness *h = u;
    if (k == EX_SCORE)
        return LLVMBuildLoad2(h->b, h->f32, h->fin, "");
    return load_in(h, k == EX_HEAD ? IN_HEAD : k == EX_KV_HEAD ? IN_KV_HEAD : IN_BATCH);
}

static LLVMValueRef clamp(harness *h, LLVMValueRef i, int64_t n)
{
    LLVMValueRef lo = LLVMConstInt(h->int_ty, 0, false), hi = LLVMConstInt(h->int_ty, (unsigned long long)n - 1, false);
    i = LLVMBuildSelect(h->b, LLVMBuildICmp(h->b, LLVMIntSLT, i, lo, ""), lo, i, "");
    return LLVMBuildSelect(h->b, LLVMBuildICmp(h->b, LLVMIntSGT, i, hi, ""), hi, i, "");
}

/* param 0: i32 [5]; param 1: f32 [3, 4]; addresses baked in as constants. */
static LLVMValueRef cb_param(void *u, int param, LLVMValueRef *idx, int n)
{
    harness *h = u;
    LLVMTypeRef i32 = LLVMInt32TypeInContext(h->ctx);
    if (param == 0) {
        LLVMValueRef base = LLVMConstIntToPtr(LLVMConstInt(h->i64, (uintptr_t)table_i32, false), h->ptr);
        LLVMValueRef i = clamp(h, idx[0], 5);
        LLVMValueRef p = LLVMBuildGEP2(h->b, i32, base, &i, 1, "");
        return LLVMBuildLoad2(h->b, i32, p, "");
    }
    LLVMValueRef base = LLVMConstIntToPtr(LLVMConstInt(h->i64, (uintptr_t)table_f32, false), h->ptr);
    LLVMValueRef flat = LLVMBuildAdd(h->b, LLVMBuildMul(h->b, clamp(h, idx[0], 3), LLVMConstInt(h->int_ty, 4, false), ""),
                                     clamp(h, idx[1], 4), "");
    LLVMValueRef p = LLVMBuildGEP2(h->b, h->f32, base, &flat, 1, "");
    return LLVMBuildLoad2(h->b, h->f32, p, "");
}

typedef void (*test_fn)(const int64_t *in, const float *fin, int64_t *out_i, float *out_f);

/* Emits `void fN(in, fin, out_i, out_f)` computing e. */
static void emit_function(host_module *hm, const char *name, const expr *e, LLVMTypeRef int_ty, bool nvptx)
{
    harness h = {0};
    h.ctx = hm->ctx;
    h.i64 = LLVMInt64TypeInContext(h.ctx);
    h.f32 = LLVMFloatTypeInContext(h.ctx);
    h.ptr = LLVMPointerTypeInContext(h.ctx, 0);
    h.int_ty = int_ty;
    LLVMTypeRef params[4] = {h.ptr, h.ptr, h.ptr, h.ptr};
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(h.ctx), params, 4, false);
    LLVMValueRef fn = LLVMAddFunction(hm->module, name, fty);
    h.b = LLVMCreateBuilderInContext(h.ctx);
    LLVMPositionBuilderAtEnd(h.b, LLVMAppendBasicBlockInContext(h.ctx, fn, "entry"));
    h.in = LLVMGetParam(fn, 0);
    h.fin = LLVMGetParam(fn, 1);
    expr_env env = {h.ctx, hm->module, h.b, int_ty, nvptx, cb_coord, cb_size, cb_leaf, cb_param, &h, NULL};
    LLVMValueRef v = emit_expr(&env, e);
    assert_non_null(v);
    if (LLVMGetTypeKind(LLVMTypeOf(v)) == LLVMFloatTypeKind) {
        LLVMBuildStore(h.b, v, LLVMGetParam(fn, 3));
    } else {
        bool is_bool = LLVMGetIntTypeWidth(LLVMTypeOf(v)) == 1;
        LLVMValueRef w = is_bool ? LLVMBuildZExt(h.b, v, h.i64, "") : LLVMBuildSExt(h.b, v, h.i64, "");
        if (LLVMTypeOf(v) == h.i64)
            w = v;
        LLVMBuildStore(h.b, w, LLVMGetParam(fn, 2));
    }
    LLVMBuildRetVoid(h.b);
    LLVMDisposeBuilder(h.b);
}

/* ---- the expressions under test --------------------------------------- */

typedef struct cases {
    arena a;
    expr *e[64];
    int n;
    bool float_safe[64]; /* float result compared with a tolerance */
} cases;

static expr *qc(cases *c, int dim) { return ex_coord(&c->a, SIDE_Q, dim); }
static expr *kc(cases *c, int dim) { return ex_coord(&c->a, SIDE_K, dim); }
static expr *bin(cases *c, expr_binop op, expr *l, expr *r) { return ex_binary(&c->a, op, l, r); }
static expr *un(cases *c, expr_unop op, expr *x) { return ex_unary(&c->a, op, x); }
static expr *ci(cases *c, int64_t v) { return ex_int(&c->a, v); }
static expr *cf(cases *c, double v) { return ex_float(&c->a, v); }

static void add(cases *c, expr *e)
{
    assert_non_null(e);
    c->e[c->n++] = e;
}

static void build_int_cases(cases *c)
{
    for (int op = BIN_ADD; op <= BIN_OR; op++)
        add(c, bin(c, (expr_binop)op, qc(c, -1), kc(c, -1)));
    add(c, bin(c, BIN_DIV, qc(c, 0), ci(c, 0)));             /* zero divisor -> 0 */
    add(c, bin(c, BIN_MOD, qc(c, 0), ex_size(&c->a, SZ_GRID1)));
    add(c, bin(c, BIN_DIV, qc(c, 0), ci(c, -1)));
    add(c, un(c, UN_NEG, qc(c, 1)));
    add(c, un(c, UN_ABS, kc(c, 1)));
    add(c, un(c, UN_NOT, bin(c, BIN_LT, qc(c, -1), kc(c, -1))));
    add(c, un(c, UN_LOG2I, qc(c, -1)));
    add(c, un(c, UN_POW2I, bin(c, BIN_MOD, kc(c, -1), ci(c, 25))));
    add(c, un(c, UN_POW2I, ci(c, -3)));
    add(c, ex_select(&c->a, bin(c, BIN_GE, qc(c, 2), kc(c, 2)), ex_leaf(&c->a, EX_HEAD), ex_leaf(&c->a, EX_BATCH)));
    add(c, bin(c, BIN_AND, bin(c, BIN_LE, kc(c, -1), qc(c, -1)),
               bin(c, BIN_EQ, bin(c, BIN_MOD, kc(c, -1), ci(c, 4)), bin(c, BIN_MOD, ex_leaf(&c->a, EX_KV_HEAD), ci(c, 4)))));
    expr *idx = qc(c, 0);
    add(c, ex_param(&c->a, 0, TY_INT, 1, &idx));                   /* clamped table read */
    add(c, bin(c, BIN_EQ, ex_param(&c->a, 0, TY_INT, 1, &idx), ci(c, 11)));
    expr *shared = bin(c, BIN_MUL, qc(c, -1), ci(c, 3));            /* a DAG: shared subtree */
    add(c, bin(c, BIN_SUB, shared, bin(c, BIN_DIV, shared, ci(c, 7))));
    add(c, bin(c, BIN_LT, qc(c, 0), cf(c, 2.5)));                  /* mixed compare */
    add(c, un(c, UN_FLOOR, bin(c, BIN_DIV, un(c, UN_TO_FLOAT, qc(c, -1)), cf(c, 4.0))));
    add(c, bin(c, BIN_EQ, ex_bool(&c->a, true), bin(c, BIN_GT, qc(c, 1), ci(c, 0))));
}

static void build_float_cases(cases *c)
{
    expr *s = ex_leaf(&c->a, EX_SCORE);
    int first = c->n;
    add(c, bin(c, BIN_MUL, s, cf(c, 0.125)));
    add(c, bin(c, BIN_MUL, cf(c, 30.0), un(c, UN_TANH, bin(c, BIN_DIV, s, cf(c, 30.0))))); /* softcap */
    add(c, bin(c, BIN_SUB, s, bin(c, BIN_MUL, cf(c, 0.25), un(c, UN_ABS, bin(c, BIN_SUB, qc(c, -1), kc(c, -1))))));
    add(c, un(c, UN_EXP, bin(c, BIN_MUL, s, cf(c, 0.1))));
    add(c, un(c, UN_LOG, bin(c, BIN_ADD, un(c, UN_ABS, s), cf(c, 1.0))));
    add(c, un(c, UN_SQRT, bin(c, BIN_ADD, un(c, UN_ABS, s), cf(c, 0.5))));
    add(c, bin(c, BIN_MAX, s, bin(c, BIN_MIN, qc(c, 1), cf(c, 1.5))));
    add(c, bin(c, BIN_MOD, s, cf(c, 3.0)));
    expr *idx2[2] = {qc(c, 0), kc(c, 0)};
    add(c, bin(c, BIN_ADD, s, ex_param(&c->a, 1, TY_FLOAT, 2, idx2)));
    add(c, ex_select(&c->a, bin(c, BIN_GT, s, cf(c, 0)), s, ci(c, -2)));
    add(c, un(c, UN_TO_FLOAT, bin(c, BIN_DIV, qc(c, -1), ci(c, 3))));
    for (int i = first; i < c->n; i++)
        c->float_safe[i] = true;
}

/* ---- inputs and comparison ---------------------------------------------- */

static int64_t rand_coord(unsigned *seed)
{
    static const int64_t special[] = {0, 1, -1, 2, -7, 13, 63, 64, 100, -100, 1000, 1 << 20};
    int r = rand_r(seed);
    return (r & 1) ? special[(r >> 1) % 12] : (int64_t)(r % 2001) - 1000;
}

static void random_point(unsigned *seed, int64_t *in, float *fin, int64_t *sizes)
{
    for (int i = 0; i < IN_COUNT; i++)
        in[i] = rand_coord(seed);
    for (int i = 0; i < SZ_MAX; i++)
        sizes[i] = in[IN_SIZE + i] = 1 + rand_r(seed) % 50; /* sizes are positive */
    in[IN_SIZE + SZ_GRID1] = (rand_r(seed) & 1) ? -(1 + rand_r(seed) % 9) : in[IN_SIZE + SZ_GRID1];
    sizes[SZ_GRID1] = in[IN_SIZE + SZ_GRID1];
    fin[0] = (float)((rand_r(seed) % 20001) - 10000) / 137.0f;
}

static void check_case(cases *c, int i, test_fn fn, unsigned seed, bool narrow)
{
    for (int trial = 0; trial < 300; trial++) {
        int64_t in[IN_COUNT], sizes[SZ_MAX], out_i = -12345;
        float fin[1], out_f = NAN;
        random_point(&seed, in, fin, sizes);
        ref_view params[2] = {{DT_I32, table_i32, 1, {5}, {1}}, {DT_F32, table_f32, 2, {3, 4}, {4, 1}}};
        ref_point p = {in[0], in[4], {in[1], in[2], in[3]}, {in[5], in[6], in[7]}, in[IN_HEAD], in[IN_KV_HEAD],
                       in[IN_BATCH], fin[0], sizes, params, 2, 2};
        ref_val want = ref_eval(&p, c->e[i]);
        fn(in, fin, &out_i, &out_f);
        if (c->e[i]->type == TY_FLOAT) {
            double tol = 1e-5 * fabs(want.f) + 1e-5;
            if (!(fabs(out_f - want.f) <= tol))
                fail_msg("case %d trial %d: got %.9g want %.9g", i, trial, out_f, want.f);
        } else {
            int64_t w = narrow ? (int64_t)(int32_t)want.i : want.i;
            if (c->e[i]->type == TY_BOOL && narrow)
                w = want.i; /* bools do not depend on width for these small inputs */
            if (out_i != w)
                fail_msg("case %d trial %d: got %lld want %lld", i, trial, (long long)out_i, (long long)w);
        }
    }
}

static void run_cases(cases *c, unsigned bits)
{
    host_module hm;
    strbuf err;
    sb_init(&err);
    assert_true(host_module_create(&hm, "emit_expr_test", &err));
    LLVMTypeRef int_ty = LLVMIntTypeInContext(hm.ctx, bits);
    char name[32];
    for (int i = 0; i < c->n; i++) {
        snprintf(name, sizeof name, "f%d", i);
        emit_function(&hm, name, c->e[i], int_ty, false);
    }
    assert_true(host_module_finish(&hm, 2, &err));
    /* one JIT for all functions: f0 is looked up by host_jit_create, the rest by name */
    LLVMOrcLLJITRef jit;
    void *addr;
    assert_true(host_jit_create(&jit, &hm, "f0", &addr, &err));
    for (int i = 0; i < c->n; i++) {
        LLVMOrcExecutorAddress a = 0;
        snprintf(name, sizeof name, "f%d", i);
        LLVMErrorRef e = LLVMOrcLLJITLookup(jit, &a, name);
        assert_null(e);
        test_fn fn;
        void *pa = (void *)(uintptr_t)a;
        memcpy(&fn, &pa, sizeof fn);
        check_case(c, i, fn, 1234u + (unsigned)i, bits == 32);
    }
    host_jit_destroy(jit);
    sb_free(&err);
}

static void int_expressions_match_reference_i64(void **state)
{
    cases c = {0};
    arena_init(&c.a, NULL);
    build_int_cases(&c);
    run_cases(&c, 64);
    arena_free_all(&c.a);
}

static void float_expressions_match_reference(void **state)
{
    cases c = {0};
    arena_init(&c.a, NULL);
    build_float_cases(&c);
    run_cases(&c, 64);
    arena_free_all(&c.a);
}

/* i32 ints: inputs stay small, so results equal the i64 ones truncated. */
static void int_expressions_match_reference_i32(void **state)
{
    cases c = {0};
    arena_init(&c.a, NULL);
    build_int_cases(&c);
    build_float_cases(&c);
    run_cases(&c, 32);
    arena_free_all(&c.a);
}

static void extreme_division_never_traps(void **state)
{
    cases c = {0};
    arena_init(&c.a, NULL);
    add(&c, bin(&c, BIN_DIV, ci(&c, INT64_MIN), qc(&c, -1)));
    add(&c, bin(&c, BIN_MOD, ci(&c, INT64_MIN), qc(&c, -1)));
    add(&c, bin(&c, BIN_DIV, qc(&c, -1), un(&c, UN_NEG, ci(&c, 1))));
    add(&c, un(&c, UN_POW2I, bin(&c, BIN_ADD, qc(&c, -1), ci(&c, 70))));
    run_cases(&c, 64);
    arena_free_all(&c.a);
}

static void forms_and_null_leaves_are_refused(void **state)
{
    host_module hm;
    strbuf err;
    sb_init(&err);
    assert_true(host_module_create(&hm, "refuse", &err));
    arena a;
    arena_init(&a, NULL);
    expr *form = ex_bool(&a, true);
    form->kind = EX_FORM;
    LLVMBuilderRef b = LLVMCreateBuilderInContext(hm.ctx);
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(hm.ctx), NULL, 0, false);
    LLVMValueRef fn = LLVMAddFunction(hm.module, "g", fty);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(hm.ctx, fn, "entry"));
    expr_env env = {hm.ctx, hm.module, b, LLVMInt64TypeInContext(hm.ctx), false, NULL, NULL, NULL, NULL, NULL, NULL};
    assert_null(emit_expr(&env, form));
    assert_null(emit_expr(&env, ex_coord(&a, SIDE_Q, -1))); /* no coord callback */
    assert_null(emit_expr(NULL, form));
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
    host_module_dispose(&hm);
    arena_free_all(&a);
    sb_free(&err);
}

/* The NVPTX flavour uses NVVM intrinsics; the module must verify. */
static void nvptx_flavour_verifies(void **state)
{
    cases c = {0};
    arena_init(&c.a, NULL);
    build_int_cases(&c);
    build_float_cases(&c);
    host_module hm;
    strbuf err;
    sb_init(&err);
    assert_true(host_module_create(&hm, "nvptx_flavour", &err));
    LLVMSetTarget(hm.module, "nvptx64-nvidia-cuda");
    char name[32];
    for (int i = 0; i < c.n; i++) {
        snprintf(name, sizeof name, "f%d", i);
        emit_function(&hm, name, c.e[i], LLVMInt32TypeInContext(hm.ctx), true);
    }
    char *msg = NULL;
    bool bad = LLVMVerifyModule(hm.module, LLVMReturnStatusAction, &msg);
    if (bad)
        fail_msg("%s", msg);
    LLVMDisposeMessage(msg);
    char *text = host_module_print(&hm);
    assert_non_null(strstr(text, "llvm.nvvm.ex2.approx.f"));
    free(text);
    host_module_dispose(&hm);
    sb_free(&err);
    arena_free_all(&c.a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(int_expressions_match_reference_i64),
        cmocka_unit_test(float_expressions_match_reference),
        cmocka_unit_test(int_expressions_match_reference_i32),
        cmocka_unit_test(extreme_division_never_traps),
        cmocka_unit_test(forms_and_null_leaves_are_refused),
        cmocka_unit_test(nvptx_flavour_verifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
