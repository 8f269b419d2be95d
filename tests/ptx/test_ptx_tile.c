/* test_ptx_tile.c — the tile builder (codegen/nvptx/tile.h) on small
 * kernels through NVPTX and ptxas for sm_80 and sm_90a: every data path
 * (cp.async copy with zero-filled rows, ldmatrix plain and .trans, mma
 * from registers and from shared tiles, map, row reductions, C -> A,
 * stores to shared and global) and a loop whose state lives in fragment
 * variables, which must leave no local memory (SROA made the phis) and no
 * spills; wgmma from a swizzled tile on sm_90a, and its refusal on sm_80;
 * the softmax forward's operations (copies by a subset of threads with a
 * row_at hook and into a swizzled tile, strided loops, an accumulator as
 * the A operand, refused as B); the producer's (an mbarrier ring, TMA
 * copies, wgmma left running and waited for). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codegen/nvptx/tile.h"
#include "codegen/nvptx_target.h"
#include "ptxas_run.h"

typedef struct kern {
    LLVMContextRef c;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    nt t;
    LLVMValueRef arg[4]; /* a, b, out (global bf16/f32), n (i32 rows) */
} kern;

static void open_kernel(kern *k, target_arch arch, int threads)
{
    k->c = LLVMContextCreate();
    k->m = nvptx_module_create(k->c, "tile_test", arch);
    k->b = LLVMCreateBuilderInContext(k->c);
    nv_ctx nv;
    nv_ctx_init(&nv, k->c, k->m, k->b);
    LLVMTypeRef params[4] = {nv.pg, nv.pg, nv.pg, nv.i32};
    LLVMValueRef fn = LLVMAddFunction(k->m, "tile_test", LLVMFunctionType(LLVMVoidTypeInContext(k->c), params, 4, 0));
    for (unsigned i = 0; i < 4; i++)
        k->arg[i] = LLVMGetParam(fn, i);
    nt_begin(&k->t, nv, fn, threads, arch);
    nv_annotate(&k->t.nv, fn, "kernel", 1);
    nv_annotate(&k->t.nv, fn, "maxntidx", threads);
}

/* Finishes the kernel, emits PTX into ptx; false when the builder or the
 * target refused (message in err). */
static bool close_kernel(kern *k, target_arch arch, strbuf *ptx, strbuf *err)
{
    LLVMBuildRetVoid(k->b);
    bool ok = !k->t.error;
    if (!ok)
        sb_puts(err, k->t.error);
    else
        ok = nvptx_module_to_ptx(k->m, arch, ptx, err);
    LLVMDisposeBuilder(k->b);
    LLVMDisposeModule(k->m);
    LLVMContextDispose(k->c);
    return ok;
}

static nt_gtile gtile(kern *k, int which, int stride, LLVMValueRef rows, dtype dt)
{
    nv_ctx *nv = &k->t.nv;
    nt_gtile g = {k->arg[which], nv_i64(nv, 0), nv_i32(nv, 0), nv_i64(nv, stride), rows, dt, NULL, NULL};
    return g;
}

static LLVMValueRef twice(nt *t, LLVMValueRef v, LLVMValueRef row, LLVMValueRef col, void *ud)
{
    (void)row, (void)col, (void)ud;
    return LLVMBuildFMul(t->nv.b, v, nv_f32(&t->nv, 2.0), "");
}

/* exp2(s - rowmax) masked to col <= row: the shape of an attention step. */
static LLVMValueRef softmaxish(nt *t, LLVMValueRef v, LLVMValueRef row, LLVMValueRef col, void *ud)
{
    LLVMValueRef *mx = ud;
    LLVMBuilderRef b = t->nv.b;
    LLVMValueRef e = nv_ex2(&t->nv, LLVMBuildFSub(b, v, mx[0], ""));
    return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLE, col, row, ""), e, nv_f32(&t->nv, 0), "");
}

/* One warp: A (16 x 64) and B (64 x 32) copied to shared memory (rows past
 * n zero-filled), then for 4 steps: S = A · B^T-ish products, a map, row
 * max and sum, P = S as A operand, O += P · B-slab; O to shared and global. */
static void build_loop_kernel(kern *k)
{
    nt *t = &k->t;
    nv_ctx *nv = &t->nv;
    nt_smem sa = nt_tile(t, nv_i32(nv, 0), 16, 64, DT_BF16, 64 * 2 + 16);
    nt_smem sb = nt_tile(t, nv_i32(nv, 16 * 144), 64, 32, DT_BF16, 32 * 2 + 16);
    nt_smem so = nt_tile(t, nv_i32(nv, 16 * 144 + 64 * 80), 16, 32, DT_BF16, 32 * 2 + 16);
    nt_copy_g2s(t, sa, gtile(k, 0, 64, k->arg[3], DT_BF16));
    nt_copy_g2s(t, sb, gtile(k, 1, 32, k->arg[3], DT_BF16));
    nt_cp_commit(t);
    nt_cp_wait(t, 0);
    nt_barrier(t);
    nt_smem_map(t, sb, DT_BF16, k->arg[3], twice, NULL);
    nt_barrier(t);
    nt_frag a, o, s, p;
    nt_load(t, &a, NT_A, sa, false);
    nt_zero(t, &o, 16, 32);
    nt_fvar ov = nt_fvar_new(t, &o);
    nt_loop loop;
    LLVMValueRef i = nt_for(t, &loop, nv_i32(nv, 0), nv_i32(nv, 4));
    nt_zero(t, &s, 16, 16);
    /* S = A · (rows 16 i.. of B as 16 x 32, transposed: 32 x 16)... kept
     * square: A's first 32 columns against B's 16 rows read transposed. */
    nt_smem bsl = nt_sub(t, sb, LLVMBuildMul(nv->b, i, nv_i32(nv, 16), ""), nv_i32(nv, 0), 16, 32);
    nt_frag a32;
    nt_load(t, &a32, NT_A, nt_sub(t, sa, nv_i32(nv, 0), nv_i32(nv, 0), 16, 32), false);
    nt_mma(t, &s, nt_reg(&a32), nt_shared(bsl, true), DT_BF16);
    LLVMValueRef mx[2], sum[2];
    nt_row_max(t, &s, mx);
    nt_map(t, &s, softmaxish, mx);
    nt_row_sum(t, &s, sum);
    nt_scale_rows(t, &s, sum);
    nt_to_a(t, &p, &s, DT_BF16);
    nt_fvar_get(t, &ov, &o);
    nt_mma(t, &o, nt_reg(&p), nt_shared(bsl, false), DT_BF16);
    nt_fvar_set(t, &ov, &o);
    nt_for_end(t, &loop);
    nt_fvar_get(t, &ov, &o);
    nt_mma(t, &o, nt_reg(&a), nt_shared(sb, false), DT_BF16); /* K = 64 from shared, streamed */
    nt_frag bf;
    nt_load(t, &bf, NT_B, nt_sub(t, sb, nv_i32(nv, 0), nv_i32(nv, 0), 16, 32), false);
    nt_map(t, &bf, twice, NULL);
    nt_frag a16;
    nt_load(t, &a16, NT_A, nt_sub(t, sa, nv_i32(nv, 0), nv_i32(nv, 16), 16, 16), false);
    nt_mma(t, &o, nt_reg(&a16), nt_reg(&bf), DT_BF16);
    nt_store_shared(t, &o, so);
    nt_store_global(t, &o, gtile(k, 2, 32, k->arg[3], DT_BF16));
}

/* Builds a kernel for sm_80 and sm_90a: its PTX must hold every needle (a
 * NULL-ended list), no local memory (fragment variables became registers)
 * and pass ptxas, without spills when no_spills. */
static void check_arches(void (*build)(kern *), int threads, const char *const *needles, bool no_spills)
{
    for (int arch = 0; arch < 2; arch++) {
        target_arch ta = arch ? TARGET_SM90A : TARGET_SM80;
        const char *an = arch ? "sm_90a" : "sm_80";
        kern k;
        strbuf ptx, err, log;
        sb_init(&ptx);
        sb_init(&err);
        sb_init(&log);
        open_kernel(&k, ta, threads);
        build(&k);
        if (!close_kernel(&k, ta, &ptx, &err))
            fail_msg("%s: %s", an, sb_cstr(&err));
        const char *text = sb_cstr(&ptx);
        for (const char *const *n = needles; *n; n++)
            if (!strstr(text, *n))
                fail_msg("%s: no %s in the PTX", an, *n);
        assert_null(strstr(text, ".local"));
        if (ptxas_available()) {
            if (!ptxas_check(text, an, &log))
                fail_msg("ptxas %s rejected the PTX:\n%s", an, sb_cstr(&log));
            if (no_spills)
                assert_int_equal(ptxas_spill_bytes(sb_cstr(&log)), 0);
        }
        sb_free(&ptx);
        sb_free(&err);
        sb_free(&log);
    }
}

static void loop_kernel(void **state)
{
    (void)state;
    static const char *const needles[] = {"mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
                                          "ldmatrix.sync.aligned.m8n8.x4.shared.b16",
                                          "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16",
                                          "cp.async.cg.shared.global", "shfl.sync.bfly", NULL};
    check_arches(build_loop_kernel, 32, needles, true);
}

/* A warpgroup: O (each warp's 16 x 64) = A (16 x 64 registers) · B, B a
 * 64 x 64 swizzled tile; wgmma on sm_90a, refused (t.error) on sm_80. */
static bool build_wgmma(target_arch arch, strbuf *ptx, strbuf *err)
{
    kern k;
    open_kernel(&k, arch, 128);
    nt *t = &k.t;
    nv_ctx *nv = &t->nv;
    nt_smem sa = nt_tile(t, nv_i32(nv, 0), 64, 64, DT_BF16, 64 * 2 + 16);
    nt_smem sb = nt_tile(t, nv_i32(nv, 16384), 64, 64, DT_BF16, 0);
    sb.layout = NT_SWIZZLE128;
    nt_frag a, o;
    nt_load(t, &a, NT_A, nt_sub(t, sa, LLVMBuildMul(nv->b, t->warp, nv_i32(nv, 16), ""), nv_i32(nv, 0), 16, 64), false);
    nt_zero(t, &o, 16, 64);
    nt_mma(t, &o, nt_reg(&a), nt_shared(sb, false), DT_BF16);
    nt_store_global(t, &o, gtile(&k, 2, 64, k.arg[3], DT_BF16));
    return close_kernel(&k, arch, ptx, err);
}

/* A kernel of sm_90a operations: on sm_90a its PTX holds every needle,
 * passes ptxas and leaves no local memory (loop state in registers); on
 * sm_80 the builder refuses it, naming sm_90a. */
static void sm90a_only(bool (*build)(target_arch, strbuf *, strbuf *), const char *const *needles)
{
    strbuf ptx, err, log;
    sb_init(&ptx);
    sb_init(&err);
    sb_init(&log);
    if (!build(TARGET_SM90A, &ptx, &err))
        fail_msg("sm_90a: %s", sb_cstr(&err));
    for (int i = 0; needles[i]; i++)
        if (!strstr(sb_cstr(&ptx), needles[i]))
            fail_msg("no %s in the PTX", needles[i]);
    assert_null(strstr(sb_cstr(&ptx), ".local"));
    if (ptxas_available() && !ptxas_check(sb_cstr(&ptx), "sm_90a", &log))
        fail_msg("ptxas sm_90a rejected the PTX:\n%s", sb_cstr(&log));
    sb_free(&ptx);
    sb_init(&ptx);
    sb_free(&err);
    sb_init(&err);
    assert_false(build(TARGET_SM80, &ptx, &err));
    assert_non_null(strstr(sb_cstr(&err), "sm_90a"));
    sb_free(&ptx);
    sb_free(&err);
    sb_free(&log);
}

static void wgmma_hook(void **state)
{
    (void)state;
    static const char *const needles[] = {"wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16", NULL};
    sm90a_only(build_wgmma, needles);
}

/* row_at: the tile's rows in reverse order of the global rows, n of them. */
static LLVMValueRef reversed_row(nt *t, LLVMValueRef row, LLVMValueRef *ok, void *ud)
{
    LLVMValueRef n = ud;
    LLVMBuilderRef b = t->nv.b;
    *ok = LLVMBuildICmp(b, LLVMIntSLT, row, n, "");
    LLVMValueRef r = LLVMBuildSub(b, LLVMBuildSub(b, n, nv_i32(&t->nv, 1), ""), row, "");
    return LLVMBuildMul(b, LLVMBuildSExt(b, r, t->nv.i64, ""), nv_i64(&t->nv, 32), "");
}

/* Two warps; the copies by the first only (a builder copy with its own
 * tid/threads), rows found by a row_at hook, one copy into a swizzled
 * tile; a strided loop carrying an accumulator and a scalar; an
 * accumulator used as the A operand (rounded per k16 slab). */
static void build_ops_kernel(kern *k)
{
    nt *t = &k->t;
    nv_ctx *nv = &t->nv;
    nt_smem sb = nt_tile(t, nv_i32(nv, 0), 16, 32, DT_BF16, 32 * 2 + 16);
    nt_smem sw = nt_tile(t, nv_i32(nv, 4096), 16, 64, DT_BF16, 0);
    sw.layout = NT_SWIZZLE128;
    nt_gtile src = {.base = k->arg[1], .dt = DT_BF16, .row_at = reversed_row, .ud = k->arg[3]};
    nt loader = *t;
    loader.threads = 32;
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(nv->b, LLVMIntULT, t->tid, nv_i32(nv, 32), ""));
    nt_copy_g2s(&loader, sb, src);
    nt_copy_g2s(&loader, sw, gtile(k, 0, 64, k->arg[3], DT_BF16));
    nt_cp_commit(t);
    nt_cp_wait(t, 0);
    nt_endif(t, join);
    nt_barrier(t);
    nt_frag s, o, bf;
    nt_zero(t, &o, 16, 32);
    nt_fvar ov = nt_fvar_new(t, &o);
    LLVMValueRef cnt = nt_var(t, nv->i32, nv_i32(nv, 0), "cnt");
    nt_loop loop;
    nt_for_step(t, &loop, nv_i32(nv, 0), k->arg[3], 2);
    nt_load(t, &bf, NT_B, nt_sub(t, sb, nv_i32(nv, 0), nv_i32(nv, 0), 16, 32), false);
    nt_smem sq = nt_sub(t, sb, nv_i32(nv, 0), nv_i32(nv, 0), 16, 16);
    nt_zero(t, &s, 16, 16);
    nt_mma(t, &s, nt_shared(sq, false), nt_shared(sq, true), DT_BF16);
    nt_map(t, &s, twice, NULL);
    nt_fvar_get(t, &ov, &o);
    nt_mma(t, &o, nt_reg(&s), nt_reg(&bf), DT_BF16); /* s: an accumulator as A */
    nt_mma(t, &o, nt_reg(&s), nt_shared(sb, false), DT_BF16);
    nt_fvar_set(t, &ov, &o);
    nt_set(t, cnt, LLVMBuildAdd(nv->b, nt_get(t, cnt), nv_i32(nv, 1), ""));
    nt_for_end(t, &loop);
    nt_fvar_get(t, &ov, &o);
    nt_scale_rows(t, &o, (LLVMValueRef[2]){LLVMBuildSIToFP(nv->b, nt_get(t, cnt), nv->f32, ""), NULL});
    nt_store_global(t, &o, gtile(k, 2, 32, k->arg[3], DT_BF16));
}

static void ops_kernel(void **state)
{
    (void)state;
    static const char *const needles[] = {"cp.async.cg.shared.global",
                                          "cvt.rn.bf16x2.f32", /* the accumulator rounded as an A operand */
                                          "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", NULL};
    check_arches(build_ops_kernel, 64, needles, false);
}

/* nt_mma refuses an accumulator as the B operand. */
static void c_as_b_refused(void **state)
{
    (void)state;
    kern k;
    strbuf ptx, err;
    sb_init(&ptx);
    sb_init(&err);
    open_kernel(&k, TARGET_SM80, 32);
    nt_frag c, o;
    nt_zero(&k.t, &c, 16, 16);
    nt_zero(&k.t, &o, 16, 16);
    nt_mma(&k.t, &o, nt_reg(&c), nt_reg(&c), DT_BF16);
    assert_false(close_kernel(&k, TARGET_SM80, &ptx, &err));
    assert_non_null(strstr(sb_cstr(&err), "nt_mma"));
    sb_free(&ptx);
    sb_free(&err);
}

/* A producer warpgroup and a computing one over a two-slot mbarrier ring
 * (sm_90a): thread 128 fills slot j % 2 with a 64 x 64 tile by TMA once
 * the slot's previous tile was released; each computing warp waits for
 * it, S = K K^T left running (nt_mma_async) and waited for, O += S K (S,
 * an accumulator, packed as wgmma's register A), releases the slot. */
static bool build_ring(target_arch arch, strbuf *ptx, strbuf *err)
{
    kern k;
    open_kernel(&k, arch, 256);
    nt *t = &k.t;
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    nt_ring full = {0, 2}, empty = {16, 2};
    LLVMBasicBlockRef join = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, t->tid, nv_i32(nv, 0), ""));
    for (int s = 0; s < 2; s++) {
        nt_mbar_init(t, nt_ring_bar(t, &full, nv_i32(nv, s)), 1);
        nt_mbar_init(t, nt_ring_bar(t, &empty, nv_i32(nv, s)), 4);
    }
    nt_mbar_init_fence(t);
    nt_endif(t, join);
    nt_barrier(t);
    nt_branch role = nt_if_else(t, LLVMBuildICmp(b, LLVMIntUGE, t->warp, nv_i32(nv, 4), ""));
    nt_return_unless(t, LLVMBuildICmp(b, LLVMIntEQ, t->tid, nv_i32(nv, 128), ""));
    nt_loop fill;
    LLVMValueRef j = nt_for(t, &fill, nv_i32(nv, 0), k.arg[3]);
    nt_ring_wait_prev(t, &empty, j);
    LLVMValueRef slot = nt_ring_slot(t, &full, j), bar = nt_ring_bar(t, &full, slot);
    nt_smem dst = nt_tile_sw(t, LLVMBuildAdd(b, nv_i32(nv, 1024), LLVMBuildMul(b, slot, nv_i32(nv, 8192), ""), ""), 64,
                             64, DT_BF16);
    nt_tmap src = {.map = k.arg[0], .crd = {LLVMBuildMul(b, j, nv_i32(nv, 64), ""), nv_i32(nv, 0)}, .n = 2};
    nt_mbar_expect_tx(t, bar, nt_bytes(dst));
    nt_copy_tma(t, dst, &src, bar);
    nt_for_end(t, &fill);
    nt_loop_no_unroll(t, &fill);
    nt_else(t, &role);
    nt_frag o, sc;
    nt_zero(t, &o, 16, 64);
    nt_fvar ov = nt_fvar_new(t, &o);
    nt_loop use;
    j = nt_for(t, &use, nv_i32(nv, 0), k.arg[3]);
    nt_ring_wait(t, &full, j);
    slot = nt_ring_slot(t, &full, j);
    nt_smem kt = nt_tile_sw(t, LLVMBuildAdd(b, nv_i32(nv, 1024), LLVMBuildMul(b, slot, nv_i32(nv, 8192), ""), ""), 64,
                            64, DT_BF16);
    nt_zero(t, &sc, 16, 64);
    nt_mma_op op = {&sc, nt_shared(kt, false), nt_shared(kt, true), NULL};
    nt_mma_async(t, &op, 1, DT_BF16);
    nt_frag *in_flight[1] = {&sc};
    nt_mma_wait(t, 0, in_flight, 1);
    nt_fvar_get(t, &ov, &o);
    nt_mma(t, &o, nt_reg(&sc), nt_shared(kt, false), DT_BF16);
    nt_fvar_set(t, &ov, &o);
    LLVMBasicBlockRef lane0 = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, t->lane, nv_i32(nv, 0), ""));
    nt_mbar_arrive(t, nt_ring_bar(t, &empty, slot));
    nt_endif(t, lane0);
    nt_for_end(t, &use);
    nt_fvar_get(t, &ov, &o);
    nt_store_global(t, &o, gtile(&k, 2, 64, k.arg[3], DT_BF16));
    nt_endif_else(t, &role);
    return close_kernel(&k, arch, ptx, err);
}

static void ring_kernel(void **state)
{
    (void)state;
    static const char *const needles[] = {"mbarrier.init.shared::cta.b64",
                                          "mbarrier.try_wait.parity.shared::cta.b64",
                                          "mbarrier.arrive.expect_tx.shared::cta.b64",
                                          "cp.async.bulk.tensor.3d.shared::cluster.global",
                                          "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16",
                                          "wgmma.wait_group.sync.aligned 0",
                                          NULL};
    sm90a_only(build_ring, needles);
}

/* The backward's forms (sm_90a, one warpgroup): two products under one
 * wait (nt_mma_group, descriptors stepped in the asm: wg_steps), the
 * second's B a dynamic column block (nt_col_block); then O += S K left
 * running with its packed A registers (a_live) through the wait, a named
 * barrier and setmaxnreg around it. */
static bool build_group(target_arch arch, strbuf *ptx, strbuf *err)
{
    kern k;
    open_kernel(&k, arch, 128);
    nt *t = &k.t;
    nv_ctx *nv = &t->nv;
    t->wg_steps = true;
    nt_setmaxnreg(t, true, 232);
    nt_smem kt = nt_tile_sw(t, nv_i32(nv, 1024), 64, 128, DT_BF16);
    nt_smem blk = nt_col_block(t, kt, LLVMBuildAnd(nv->b, k.arg[3], nv_i32(nv, 1), ""), 64);
    nt_frag s0, s1, o, a;
    nt_zero(t, &s0, 16, 64);
    nt_zero(t, &s1, 16, 64);
    nt_mma_op two[2] = {{&s0, nt_shared(nt_col_block(t, kt, nv_i32(nv, 0), 64), false), nt_shared(blk, true), NULL},
                        {&s1, nt_shared(blk, false), nt_shared(blk, true), NULL}};
    nt_mma_group(t, two, 2, DT_BF16);
    nt_zero(t, &o, 16, 128);
    nt_mma_op pv = {&o, nt_reg(&s0), nt_shared(kt, false), &a};
    nt_mma_async(t, &pv, 1, DT_BF16);
    nt_bar_sync(t, nv_i32(nv, 1), 128);
    nt_frag *in_flight[2] = {&o, &a};
    nt_mma_wait(t, 0, in_flight, 2);
    nt_mma(t, &o, nt_reg(&s1), nt_shared(kt, false), DT_BF16);
    nt_store_global(t, &o, gtile(&k, 2, 128, k.arg[3], DT_BF16));
    return close_kernel(&k, arch, ptx, err);
}

static void group_kernel(void **state)
{
    (void)state;
    static const char *const needles[] = {"setmaxnreg.inc.sync.aligned.u32 232",
                                          "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16",
                                          "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
                                          "bar.sync",
                                          NULL};
    sm90a_only(build_group, needles);
}

int main(void)
{
    if (!ptxas_available())
        printf("note: no ptxas; checking the PTX text only\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loop_kernel),
        cmocka_unit_test(wgmma_hook),
        cmocka_unit_test(ops_kernel),
        cmocka_unit_test(c_as_b_refused),
        cmocka_unit_test(ring_kernel),
        cmocka_unit_test(group_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
