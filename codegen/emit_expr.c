/*
 * emit_expr.c — scalar expression IR -> LLVM IR with the exact semantics of
 * ir/expr.h, for the host and the NVPTX targets (contract: emit_expr.h).
 *
 * Every value is normalised to one of three LLVM types: i1 (bool), env->int_ty
 * (int) and float (f32). No branches are emitted — only selects — so the
 * whole expression lands in the builder's current block; that is what lets a
 * per-call memo table share DAG subtrees safely. Integer division and modulo
 * never trap: a zero divisor yields 0 and INT_MIN / -1 wraps.
 */
#include "emit_expr.h"
#include "nvptx_kernel.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { MEMO_SLOTS = 256 };

typedef struct emitter {
    expr_env *env;
    LLVMBuilderRef b;
    LLVMTypeRef f32, i1;
    const expr *memo_key[MEMO_SLOTS];
    LLVMValueRef memo_val[MEMO_SLOTS];
} emitter;

static LLVMValueRef emit(emitter *em, const expr *e);

/* ---- types and conversions ---------------------------------------------- */

static bool is_bool(emitter *em, LLVMValueRef v)
{
    return LLVMTypeOf(v) == em->i1;
}

static bool is_float(LLVMValueRef v)
{
    LLVMTypeKind k = LLVMGetTypeKind(LLVMTypeOf(v));
    return k == LLVMFloatTypeKind || k == LLVMDoubleTypeKind || k == LLVMHalfTypeKind ||
           k == LLVMBFloatTypeKind;
}

/* Callbacks may hand back an integer of another width or a double; bring
 * every leaf to the three canonical types. */
static LLVMValueRef normalise(emitter *em, LLVMValueRef v)
{
    if (!v)
        return NULL;
    LLVMTypeRef t = LLVMTypeOf(v);
    if (t == em->i1 || t == em->env->int_ty || t == em->f32)
        return v;
    if (is_float(v))
        return LLVMBuildFPCast(em->b, v, em->f32, "");
    if (LLVMGetTypeKind(t) == LLVMIntegerTypeKind)
        return LLVMBuildIntCast2(em->b, v, em->env->int_ty, true, "");
    return NULL;
}

static LLVMValueRef to_float(emitter *em, LLVMValueRef v)
{
    if (is_float(v))
        return v;
    if (is_bool(em, v))
        return LLVMBuildUIToFP(em->b, v, em->f32, "");
    return LLVMBuildSIToFP(em->b, v, em->f32, "");
}

static LLVMValueRef to_int(emitter *em, LLVMValueRef v)
{
    if (is_bool(em, v))
        return LLVMBuildZExt(em->b, v, em->env->int_ty, "");
    return v; /* floats become ints only through `floor` */
}

static LLVMValueRef to_bool(emitter *em, LLVMValueRef v)
{
    if (is_bool(em, v))
        return v;
    if (is_float(v))
        return LLVMBuildFCmp(em->b, LLVMRealUNE, v, LLVMConstReal(em->f32, 0.0), "");
    return LLVMBuildICmp(em->b, LLVMIntNE, v, LLVMConstInt(em->env->int_ty, 0, false), "");
}

static LLVMValueRef iconst(emitter *em, int64_t v)
{
    return LLVMConstInt(em->env->int_ty, (unsigned long long)v, true);
}

static LLVMValueRef fconst(emitter *em, double v)
{
    return LLVMConstReal(em->f32, v);
}

static unsigned int_bits(emitter *em)
{
    return LLVMGetIntTypeWidth(em->env->int_ty);
}

/* ---- intrinsics ----------------------------------------------------------- */

/* Calls an overloaded (or plain, when ntys == 0) intrinsic by name. */
static LLVMValueRef call_intrinsic(emitter *em, const char *name, LLVMTypeRef *tys, int ntys,
                                   LLVMValueRef *args, int nargs)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    if (!id)
        return NULL;
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(em->env->module, id, tys, (size_t)ntys);
    LLVMTypeRef fty = LLVMIntrinsicGetType(em->env->ctx, id, tys, (size_t)ntys);
    return LLVMBuildCall2(em->b, fty, fn, args, (unsigned)nargs, "");
}

static LLVMValueRef call_f32(emitter *em, const char *name, LLVMValueRef x)
{
    return call_intrinsic(em, name, &em->f32, 1, &x, 1);
}

static LLVMValueRef call_f32_2(emitter *em, const char *name, LLVMValueRef x, LLVMValueRef y)
{
    LLVMValueRef args[2] = {x, y};
    return call_intrinsic(em, name, &em->f32, 1, args, 2);
}

static LLVMValueRef call_nvvm(emitter *em, const char *name, LLVMValueRef x)
{
    return call_intrinsic(em, name, NULL, 0, &x, 1);
}

/* ---- float math ----------------------------------------------------------- */

static LLVMValueRef emit_exp(emitter *em, LLVMValueRef x)
{
    if (!em->env->nvptx)
        return call_f32(em, "llvm.exp", x);
    LLVMValueRef y = LLVMBuildFMul(em->b, x, fconst(em, 1.4426950408889634), "");
    return call_nvvm(em, "llvm.nvvm.ex2.approx.f", y);
}

static LLVMValueRef emit_log(emitter *em, LLVMValueRef x)
{
    if (!em->env->nvptx)
        return call_f32(em, "llvm.log", x);
    LLVMValueRef y = call_nvvm(em, "llvm.nvvm.lg2.approx.f", x);
    return LLVMBuildFMul(em->b, y, fconst(em, 0.6931471805599453), "");
}

/* NVPTX: PTX's tanh.approx.f32 (one MUFU.TANH; $ATTNC_TANH_APPROX, on by
 * default: nvptx_kernel.h), inline (LLVM 19 has no intrinsic for it); no
 * side effects, so LLVM may share or hoist it. */
static LLVMValueRef tanh_approx(emitter *em, LLVMValueRef x)
{
    LLVMTypeRef fty = LLVMFunctionType(em->f32, &em->f32, 1, false);
    static const char text[] = "tanh.approx.f32 $0, $1;", cons[] = "=f,f";
    LLVMValueRef fn = LLVMGetInlineAsm(fty, (char *)text, sizeof text - 1, (char *)cons, sizeof cons - 1, false,
                                       false, LLVMInlineAsmDialectATT, false);
    return LLVMBuildCall2(em->b, fty, fn, &x, 1, "tanh");
}

/* NVPTX, $ATTNC_TANH_APPROX=0: tanh(x) = sign(x) * (1 - 2 / (2^(2|x| log2 e)
 * + 1)) with an approximate reciprocal (an IEEE division put a slow-path
 * branch per score in key loops); saturates to +-1 when the exponential
 * overflows (1/inf = 0), exact 0 at 0. */
static LLVMValueRef emit_tanh(emitter *em, LLVMValueRef x)
{
    if (!em->env->nvptx)
        return call_f32(em, "llvm.tanh", x);
    if (nvptx_tanh_approx_mode() != 0)
        return tanh_approx(em, x);
    LLVMValueRef ax = call_f32(em, "llvm.fabs", x);
    LLVMValueRef y = LLVMBuildFMul(em->b, ax, fconst(em, 2.0 * 1.4426950408889634), "");
    LLVMValueRef e = call_nvvm(em, "llvm.nvvm.ex2.approx.f", y);
    LLVMValueRef den = LLVMBuildFAdd(em->b, e, fconst(em, 1.0), "");
    LLVMValueRef q = LLVMBuildFMul(em->b, fconst(em, 2.0), call_nvvm(em, "llvm.nvvm.rcp.approx.ftz.f", den), "");
    LLVMValueRef t = LLVMBuildFSub(em->b, fconst(em, 1.0), q, "");
    return call_f32_2(em, "llvm.copysign", t, x);
}

static LLVMValueRef emit_sqrt(emitter *em, LLVMValueRef x)
{
    if (!em->env->nvptx)
        return call_f32(em, "llvm.sqrt", x);
    return call_nvvm(em, "llvm.nvvm.sqrt.approx.f", x);
}

/* ---- integer helpers ------------------------------------------------------ */

/* A divisor that is safe for sdiv/srem: 0 and -1 replaced by 1 (the callers
 * patch those two cases with selects). */
static LLVMValueRef safe_divisor(emitter *em, LLVMValueRef d, LLVMValueRef *is_zero, LLVMValueRef *is_m1)
{
    *is_zero = LLVMBuildICmp(em->b, LLVMIntEQ, d, iconst(em, 0), "");
    *is_m1 = LLVMBuildICmp(em->b, LLVMIntEQ, d, iconst(em, -1), "");
    LLVMValueRef bad = LLVMBuildOr(em->b, *is_zero, *is_m1, "");
    return LLVMBuildSelect(em->b, bad, iconst(em, 1), d, "");
}

/* True when the truncated remainder r is nonzero and its sign differs from
 * the divisor's: then floor division is one less and floor modulo r + d. */
static LLVMValueRef needs_floor_fix(emitter *em, LLVMValueRef r, LLVMValueRef d)
{
    LLVMValueRef nz = LLVMBuildICmp(em->b, LLVMIntNE, r, iconst(em, 0), "");
    LLVMValueRef x = LLVMBuildXor(em->b, r, d, "");
    LLVMValueRef neg = LLVMBuildICmp(em->b, LLVMIntSLT, x, iconst(em, 0), "");
    return LLVMBuildAnd(em->b, nz, neg, "");
}

static LLVMValueRef emit_floor_div(emitter *em, LLVMValueRef a, LLVMValueRef d)
{
    LLVMValueRef is_zero, is_m1;
    LLVMValueRef sd = safe_divisor(em, d, &is_zero, &is_m1);
    LLVMValueRef q = LLVMBuildSDiv(em->b, a, sd, "");
    LLVMValueRef r = LLVMBuildSRem(em->b, a, sd, "");
    LLVMValueRef fix = needs_floor_fix(em, r, sd);
    q = LLVMBuildSelect(em->b, fix, LLVMBuildSub(em->b, q, iconst(em, 1), ""), q, "");
    q = LLVMBuildSelect(em->b, is_m1, LLVMBuildSub(em->b, iconst(em, 0), a, ""), q, "");
    return LLVMBuildSelect(em->b, is_zero, iconst(em, 0), q, "");
}

static LLVMValueRef emit_floor_mod(emitter *em, LLVMValueRef a, LLVMValueRef d)
{
    LLVMValueRef is_zero, is_m1;
    LLVMValueRef sd = safe_divisor(em, d, &is_zero, &is_m1);
    LLVMValueRef r = LLVMBuildSRem(em->b, a, sd, "");
    LLVMValueRef fix = needs_floor_fix(em, r, sd);
    r = LLVMBuildSelect(em->b, fix, LLVMBuildAdd(em->b, r, sd, ""), r, "");
    LLVMValueRef bad = LLVMBuildOr(em->b, is_zero, is_m1, "");
    return LLVMBuildSelect(em->b, bad, iconst(em, 0), r, "");
}

/* Float `%`: a - b * floor(a / b), 0 for b == 0 (mirrors the int rule). */
static LLVMValueRef emit_float_mod(emitter *em, LLVMValueRef a, LLVMValueRef d)
{
    LLVMValueRef q = call_f32(em, "llvm.floor", LLVMBuildFDiv(em->b, a, d, ""));
    LLVMValueRef r = LLVMBuildFSub(em->b, a, LLVMBuildFMul(em->b, d, q, ""), "");
    LLVMValueRef zero = LLVMBuildFCmp(em->b, LLVMRealOEQ, d, fconst(em, 0.0), "");
    return LLVMBuildSelect(em->b, zero, fconst(em, 0.0), r, "");
}

/* On NVPTX a division by a constant multiplies by its reciprocal (rounded
 * once more: within 1.5 ulp; exact for powers of two): an IEEE division
 * there is a branch to a slow path per element, which in a key loop cost
 * softcap's x / cap a third of the loop (H100 2026-12-06, D=256). Other
 * divisors, and the CPU, divide exactly. */
static LLVMValueRef emit_float_div(emitter *em, LLVMValueRef a, LLVMValueRef d)
{
    if (em->env->nvptx && LLVMIsAConstantFP(d)) {
        LLVMBool lost;
        double c = LLVMConstRealGetDouble(d, &lost), r = 1.0 / c;
        if (c != 0 && isfinite(c) && fabs(r) >= FLT_MIN && fabs(r) <= FLT_MAX)
            return LLVMBuildFMul(em->b, a, fconst(em, r), "");
    }
    return LLVMBuildFDiv(em->b, a, d, "");
}

/* floor(log2(x)) for x >= 1, else 0. */
static LLVMValueRef emit_ilog2(emitter *em, LLVMValueRef x)
{
    LLVMValueRef args[2] = {x, LLVMConstInt(em->i1, 0, false)};
    LLVMTypeRef ty = em->env->int_ty;
    LLVMValueRef lz = call_intrinsic(em, "llvm.ctlz", &ty, 1, args, 2);
    LLVMValueRef r = LLVMBuildSub(em->b, iconst(em, (int64_t)int_bits(em) - 1), lz, "");
    LLVMValueRef pos = LLVMBuildICmp(em->b, LLVMIntSGE, x, iconst(em, 1), "");
    return LLVMBuildSelect(em->b, pos, r, iconst(em, 0), "");
}

/* 2^x for 0 <= x <= 62 (bits - 2 for narrower ints), 0 below, 2^62 above. */
static LLVMValueRef emit_ipow2(emitter *em, LLVMValueRef x)
{
    int64_t top = (int64_t)int_bits(em) - 2;
    LLVMValueRef big = LLVMBuildICmp(em->b, LLVMIntSGT, x, iconst(em, top), "");
    LLVMValueRef neg = LLVMBuildICmp(em->b, LLVMIntSLT, x, iconst(em, 0), "");
    LLVMValueRef sh = LLVMBuildSelect(em->b, big, iconst(em, top), x, "");
    sh = LLVMBuildSelect(em->b, neg, iconst(em, 0), sh, "");
    LLVMValueRef p = LLVMBuildShl(em->b, iconst(em, 1), sh, "");
    return LLVMBuildSelect(em->b, neg, iconst(em, 0), p, "");
}

/* float -> int: floor, saturating, NaN -> 0 (never poison). */
static LLVMValueRef emit_floor(emitter *em, LLVMValueRef x)
{
    if (!is_float(x))
        return to_int(em, x);
    LLVMValueRef f = call_f32(em, "llvm.floor", x);
    LLVMTypeRef tys[2] = {em->env->int_ty, em->f32};
    return call_intrinsic(em, "llvm.fptosi.sat", tys, 2, &f, 1);
}

/* ---- unary ---------------------------------------------------------------- */

static LLVMValueRef emit_neg_abs(emitter *em, expr_unop op, LLVMValueRef x)
{
    if (is_float(x)) {
        if (op == UN_NEG)
            return LLVMBuildFNeg(em->b, x, "");
        return call_f32(em, "llvm.fabs", x);
    }
    x = to_int(em, x);
    LLVMValueRef n = LLVMBuildSub(em->b, iconst(em, 0), x, "");
    if (op == UN_NEG)
        return n;
    LLVMValueRef lt = LLVMBuildICmp(em->b, LLVMIntSLT, x, iconst(em, 0), "");
    return LLVMBuildSelect(em->b, lt, n, x, "");
}

static LLVMValueRef emit_unary(emitter *em, const expr *e)
{
    LLVMValueRef x = emit(em, e->args[0]);
    if (!x)
        return NULL;
    switch (e->u.unop) {
    case UN_NEG:
    case UN_ABS:
        return emit_neg_abs(em, e->u.unop, x);
    case UN_NOT:
        return LLVMBuildNot(em->b, to_bool(em, x), "");
    case UN_EXP:
        return emit_exp(em, to_float(em, x));
    case UN_LOG:
        return emit_log(em, to_float(em, x));
    case UN_TANH:
        return emit_tanh(em, to_float(em, x));
    case UN_SQRT:
        return emit_sqrt(em, to_float(em, x));
    case UN_TO_FLOAT:
        return to_float(em, x);
    case UN_FLOOR:
        return emit_floor(em, x);
    case UN_LOG2I:
        return emit_ilog2(em, to_int(em, x));
    case UN_POW2I:
        return emit_ipow2(em, to_int(em, x));
    case UN_COUNT:
        break;
    }
    return NULL;
}

/* ---- binary --------------------------------------------------------------- */

static LLVMValueRef emit_float_arith(emitter *em, expr_binop op, LLVMValueRef l, LLVMValueRef r)
{
    switch (op) {
    case BIN_ADD: return LLVMBuildFAdd(em->b, l, r, "");
    case BIN_SUB: return LLVMBuildFSub(em->b, l, r, "");
    case BIN_MUL: return LLVMBuildFMul(em->b, l, r, "");
    case BIN_DIV: return emit_float_div(em, l, r);
    case BIN_MOD: return emit_float_mod(em, l, r);
    case BIN_MIN: return call_f32_2(em, "llvm.minnum", l, r);
    case BIN_MAX: return call_f32_2(em, "llvm.maxnum", l, r);
    default: return NULL;
    }
}

static LLVMValueRef emit_int_arith(emitter *em, expr_binop op, LLVMValueRef l, LLVMValueRef r)
{
    switch (op) {
    case BIN_ADD: return LLVMBuildAdd(em->b, l, r, "");
    case BIN_SUB: return LLVMBuildSub(em->b, l, r, "");
    case BIN_MUL: return LLVMBuildMul(em->b, l, r, "");
    case BIN_DIV: return emit_floor_div(em, l, r);
    case BIN_MOD: return emit_floor_mod(em, l, r);
    case BIN_MIN:
        return LLVMBuildSelect(em->b, LLVMBuildICmp(em->b, LLVMIntSLT, l, r, ""), l, r, "");
    case BIN_MAX:
        return LLVMBuildSelect(em->b, LLVMBuildICmp(em->b, LLVMIntSGT, l, r, ""), l, r, "");
    default: return NULL;
    }
}

/* Ordered predicates for all but `!=`, which is true for NaN as in C. */
static LLVMValueRef emit_compare(emitter *em, expr_binop op, LLVMValueRef l, LLVMValueRef r)
{
    static const LLVMRealPredicate fp[] = {LLVMRealOLT, LLVMRealOLE, LLVMRealOGT,
                                           LLVMRealOGE, LLVMRealOEQ, LLVMRealUNE};
    static const LLVMIntPredicate ip[] = {LLVMIntSLT, LLVMIntSLE, LLVMIntSGT,
                                          LLVMIntSGE, LLVMIntEQ,  LLVMIntNE};
    int k = (int)op - (int)BIN_LT;
    if (is_float(l) || is_float(r))
        return LLVMBuildFCmp(em->b, fp[k], to_float(em, l), to_float(em, r), "");
    /* bools compare as 0/1 ints (false < true) */
    return LLVMBuildICmp(em->b, ip[k], to_int(em, l), to_int(em, r), "");
}

static LLVMValueRef emit_binary(emitter *em, const expr *e)
{
    LLVMValueRef l = emit(em, e->args[0]);
    LLVMValueRef r = emit(em, e->args[1]);
    if (!l || !r)
        return NULL;
    expr_binop op = e->u.binop;
    if (op == BIN_AND)
        return LLVMBuildAnd(em->b, to_bool(em, l), to_bool(em, r), "");
    if (op == BIN_OR)
        return LLVMBuildOr(em->b, to_bool(em, l), to_bool(em, r), "");
    if (op >= BIN_LT && op <= BIN_NE)
        return emit_compare(em, op, l, r);
    if (is_float(l) || is_float(r))
        return emit_float_arith(em, op, to_float(em, l), to_float(em, r));
    return emit_int_arith(em, op, to_int(em, l), to_int(em, r));
}

/* ---- select, params, leaves ------------------------------------------------ */

static LLVMValueRef emit_select(emitter *em, const expr *e)
{
    LLVMValueRef c = emit(em, e->args[0]);
    LLVMValueRef t = emit(em, e->args[1]);
    LLVMValueRef f = emit(em, e->args[2]);
    if (!c || !t || !f)
        return NULL;
    c = to_bool(em, c);
    if (is_float(t) || is_float(f)) {
        t = to_float(em, t);
        f = to_float(em, f);
    } else if (is_bool(em, t) != is_bool(em, f)) {
        t = to_int(em, t);
        f = to_int(em, f);
    }
    return LLVMBuildSelect(em->b, c, t, f, "");
}

static LLVMValueRef emit_param(emitter *em, const expr *e)
{
    enum { MAX_INDICES = 8 };
    LLVMValueRef idx[MAX_INDICES];
    if (!em->env->param || e->nargs > MAX_INDICES)
        return NULL;
    for (int i = 0; i < e->nargs; i++) {
        LLVMValueRef v = emit(em, e->args[i]);
        if (!v || is_float(v))
            return NULL;
        idx[i] = to_int(em, v);
    }
    return normalise(em, em->env->param(em->env->user, e->u.param, idx, e->nargs));
}

static LLVMValueRef emit_leaf(emitter *em, const expr *e)
{
    expr_env *env = em->env;
    switch (e->kind) {
    case EX_CONST_BOOL:
        return LLVMConstInt(em->i1, e->u.ival != 0, false);
    case EX_CONST_INT:
        return iconst(em, e->u.ival);
    case EX_CONST_FLOAT:
        return fconst(em, e->u.fval);
    case EX_COORD:
        return env->coord ? normalise(em, env->coord(env->user, e->u.coord.side, e->u.coord.dim)) : NULL;
    case EX_SIZE:
        return env->size ? normalise(em, env->size(env->user, e->u.size)) : NULL;
    case EX_HEAD:
    case EX_KV_HEAD:
    case EX_BATCH:
    case EX_SCORE:
        return env->leaf ? normalise(em, env->leaf(env->user, e->kind)) : NULL;
    default:
        return NULL;
    }
}

static LLVMValueRef emit_uncached(emitter *em, const expr *e)
{
    LLVMValueRef given = em->env->node ? em->env->node(em->env->user, e) : NULL;
    if (given)
        return given;
    switch (e->kind) {
    case EX_UNARY:
        return e->nargs == 1 ? emit_unary(em, e) : NULL;
    case EX_BINARY:
        return e->nargs == 2 ? emit_binary(em, e) : NULL;
    case EX_SELECT:
        return e->nargs == 3 ? emit_select(em, e) : NULL;
    case EX_PARAM:
        return emit_param(em, e);
    case EX_FORM:
        return NULL; /* forms must be expanded before code generation */
    default:
        return emit_leaf(em, e);
    }
}

/* Shared subtrees are emitted once per call (values dominate each other
 * because everything lands in one basic block). */
static LLVMValueRef emit(emitter *em, const expr *e)
{
    if (!e)
        return NULL;
    size_t h = ((uintptr_t)e >> 4) % MEMO_SLOTS;
    for (size_t i = 0; i < MEMO_SLOTS; i++) {
        size_t s = (h + i) % MEMO_SLOTS;
        if (em->memo_key[s] == e)
            return em->memo_val[s];
        if (!em->memo_key[s]) {
            LLVMValueRef v = emit_uncached(em, e);
            em->memo_key[s] = e;
            em->memo_val[s] = v;
            return v;
        }
    }
    return emit_uncached(em, e); /* table full: no sharing, still correct */
}

LLVMValueRef emit_expr(expr_env *env, const expr *e)
{
    if (!env || !e || !env->builder || !env->int_ty)
        return NULL;
    emitter em;
    memset(&em, 0, sizeof em);
    em.env = env;
    em.b = env->builder;
    em.f32 = LLVMFloatTypeInContext(env->ctx);
    em.i1 = LLVMInt1TypeInContext(env->ctx);
    return emit(&em, e);
}
