/* nvptx_linear_bound.c — the block-boundary terms of the linear backward's
 * decay gradient (nvptx_linear_bwd.c says why they are needed): the
 * forward-time dq scan keeps its state at every block start, the reversed
 * dk scan takes the inner product of its own state with it at the same
 * boundary (lk.bstate_mode, nvptx_linear_tile.h).
 *
 * Both scans run the same plan (D = Dv of dO/V, Dv = D of K/Q), so a state
 * register has the same (row, column) in both: the slot is written and
 * read in fragment order (register pair i of thread t at word i x threads
 * + t, two bf16 a word), coalesced, no layout knowledge needed. The dot is
 * summed in f32 in a fixed order: registers, then a butterfly over the
 * warp, then the warps in order by thread 0 (deterministic). */
#include "nvptx_linear_tile.h"

static LLVMValueRef c32(lk *L, long long v)
{
    return nv_i32(&L->t.nv, v);
}

/* Word 0 of this thread's part of boundary slot `jb` - 1 (jb >= 1). */
static LLVMValueRef slot_word(lk *L, LLVMValueRef jb)
{
    LLVMBuilderRef b = L->t.nv.b;
    LLVMValueRef per = LLVMBuildSExt(b, LLVMBuildSub(b, L->nblocks, c32(L, 1), ""), L->t.nv.i64, "");
    LLVMValueRef slot = LLVMBuildAdd(b, LLVMBuildMul(b, LLVMBuildSExt(b, L->bh, L->t.nv.i64, ""), per, ""),
                                     LLVMBuildSExt(b, LLVMBuildSub(b, jb, c32(L, 1), ""), L->t.nv.i64, ""), "");
    LLVMValueRef w = LLVMBuildMul(b, slot, nv_i64(&L->t.nv, (long long)L->p->D * L->p->Dv / 2), "");
    return LLVMBuildAdd(b, w, LLVMBuildZExt(b, L->t.tid, L->t.nv.i64, ""), "");
}

static LLVMValueRef word_ptr(lk *L, LLVMValueRef w0, int i)
{
    LLVMValueRef w = LLVMBuildAdd(L->t.nv.b, w0, nv_i64(&L->t.nv, (long long)i * L->t.threads), "");
    return nv_gep(&L->t.nv, L->bstate, LLVMBuildShl(L->t.nv.b, w, nv_i64(&L->t.nv, 2), ""));
}

/* The reversed block j' starts at boundary ntok - j' C: its index. */
static LLVMValueRef dot_boundary(lk *L, LLVMValueRef j)
{
    return LLVMBuildSub(L->t.nv.b, L->nblocks, j, "jb");
}

void lk_boundary(lk *L, LLVMValueRef j)
{
    nt *t = &L->t;
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    bool store = L->bstate_mode == BSTATE_STORE;
    LLVMValueRef jb = store ? j : dot_boundary(L, j);
    LLVMValueRef has = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, jb, c32(L, 1), ""),
                                    LLVMBuildICmp(b, LLVMIntSLT, jb, L->nblocks, ""), ""); /* CTA-uniform */
    LLVMBasicBlockRef join = nt_if(t, has);
    nt_frag S;
    nt_fvar_get(t, &L->S, &S);
    LLVMValueRef w0 = slot_word(L, jb);
    if (store) {
        for (int i = 0; 2 * i < S.n; i++)
            LLVMSetAlignment(LLVMBuildStore(b, nv_pack2(nv, DT_BF16, S.v[2 * i], S.v[2 * i + 1]), word_ptr(L, w0, i)), 4);
    } else {
        LLVMValueRef acc = nv_f32(nv, 0);
        for (int i = 0; 2 * i < S.n; i++) {
            LLVMValueRef w = LLVMBuildLoad2(b, nv->i32, word_ptr(L, w0, i), "");
            LLVMSetAlignment(w, 4);
            LLVMValueRef x[2];
            nt_unpack_pair(t, DT_BF16, w, x);
            acc = LLVMBuildFAdd(b, acc, LLVMBuildFMul(b, x[0], S.v[2 * i], ""), "");
            acc = LLVMBuildFAdd(b, acc, LLVMBuildFMul(b, x[1], S.v[2 * i + 1], ""), "");
        }
        for (int m = 16; m >= 1; m >>= 1)
            acc = LLVMBuildFAdd(b, acc, nv_shfl_xor_f32(nv, acc, m), "");
        LLVMBasicBlockRef l0 = nt_if(t, LLVMBuildICmp(b, LLVMIntEQ, t->lane, c32(L, 0), ""));
        LLVMValueRef off = LLVMBuildAdd(b, c32(L, L->off_z), LLVMBuildShl(b, t->warp, c32(L, 2), ""), "");
        LLVMBuildStore(b, acc, nt_sptr(t, off));
        nt_endif(t, l0);
    }
    nt_endif(t, join);
}

void lk_boundary_sum(lk *L, LLVMValueRef j)
{
    nt *t = &L->t;
    nv_ctx *nv = &t->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef jb = dot_boundary(L, j);
    LLVMValueRef has = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, jb, c32(L, 1), ""),
                                    LLVMBuildICmp(b, LLVMIntSLT, jb, L->nblocks, ""), "");
    has = LLVMBuildAnd(b, has, LLVMBuildICmp(b, LLVMIntEQ, t->tid, c32(L, 0), ""), "");
    LLVMBasicBlockRef join = nt_if(t, has);
    LLVMValueRef s = nv_f32(nv, 0);
    for (int w = 0; w < t->threads / 32; w++)
        s = LLVMBuildFAdd(b, s, LLVMBuildLoad2(b, nv->f32, nt_sptr(t, c32(L, L->off_z + 4 * w)), ""), "");
    /* token b = jb C of this (batch, head), float 4 of its 8 */
    LLVMValueRef tok = LLVMBuildMul(b, jb, c32(L, L->p->C), "");
    LLVMValueRef row = LLVMBuildAdd(b, LLVMBuildMul(b, LLVMBuildSExt(b, L->bh, nv->i64, ""), LLVMBuildSExt(b, L->nreal, nv->i64, ""), ""),
                                    LLVMBuildSExt(b, tok, nv->i64, ""), "");
    LLVMValueRef idx = LLVMBuildAdd(b, LLVMBuildShl(b, row, nv_i64(nv, 3), ""), nv_i64(nv, 4), "");
    LLVMSetAlignment(LLVMBuildStore(b, s, nv_gep(nv, L->dot_ws, LLVMBuildShl(b, idx, nv_i64(nv, 2), ""))), 4);
    nt_endif(t, join);
}
