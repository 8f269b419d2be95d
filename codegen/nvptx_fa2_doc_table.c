/* nvptx_fa2_doc_table.c — the document cut shared across heads (on by
 * default; $ATTNC_DOC_TABLE=0 turns it off; fa2_doc_table_on).
 *
 * Every (query tile, head) block of a document kernel scans the causal
 * prefix's ids for its cut (nvptx_fa2_span.c), though the cut depends on
 * the query tile and the batch row only: H100 2026-12-05 (run43), 64
 * documents of 1024 at N=65536 took 1.17 ms against 0.72 for the same tiles
 * as a batch, about 5 us a block. With the table, the first block of a
 * (batch, query tile) to finish its scan publishes the cut in a module-global
 * entry; blocks of the other heads that start later read it instead of
 * scanning (a block that finds no entry scans, as before; two blocks that
 * both scan write the same values).
 *
 * Entries are tagged with the launch: a module-global epoch, read by one
 * thread of every block when it starts (fa2_doc_table_epoch); once the
 * cut is known that thread counts the block in (fa2_doc_table_count_in, a
 * release atomic after the read), and the last block in, every block having
 * read the epoch by then, advances it and zeroes the count at once, so the
 * next launch (stream order) tags anew and ignores this launch's entries.
 * (Counted out at the block's end instead, the atomic's round trip held the
 * SM's next block back; at the start it overlaps the first K/V copy.) The
 * entries (tag = epoch + 1: the table's zeroed memory never matches). An
 * entry is four 64-bit words, each (tag << 32) | value, written and read
 * as single-copy-atomic aligned 64-bit accesses (.relaxed.gpu: no stale L1
 * copy), so a reader takes an entry whose four tags are this launch's, and
 * needs no acquire, whose latency would sit before the block's first copy.
 * Launches of such a kernel must not overlap (nvptx_kernel_info.serial).
 * Query tiles past the table's FA2_DOC_TABLE_ENTRIES (batch x tiles)
 * always scan. */
#include "nvptx_fa2.h"
#include "nvptx_kernel.h"

bool fa2_doc_table_on(const fa2 *f)
{
    const fa_plan *p = f->p;
    /* on unless $ATTNC_DOC_TABLE=0 (H100 2026-12-05 run52, against FlexAttention's 5.335 ms: 8 documents at
     * N=65536 3.998 / 3.936 -> 3.388 / 3.588 ms, 64 documents 1.020 -> 0.795 / 0.789) */
    if (!f->doc_table_ok || nvptx_doc_table_mode() == 0 || p->span_param < 0 || p->range != RANGE_BOUNDS)
        return false;
    /* the cut must not depend on the head: the range's bounds read no head or tensor */
    for (int d = 0; d < p->ndims; d++)
        for (int i = 0; i < 2; i++) {
            const expr *e = i ? p->hi[d] : p->lo[d];
            if (e && (expr_uses_kind(e, EX_HEAD) || expr_uses_kind(e, EX_KV_HEAD) || expr_uses_kind(e, EX_PARAM)))
                return false;
        }
    return true;
}

/* The epoch (word 0) and the blocks counted in (word 1). */
static LLVMValueRef epoch_word(fa2 *f, int i)
{
    return nv_gep(&f->nv, nv_global_array(&f->nv, f->nv.i32, 2, "attnc_doc_epoch", 16), nv_i32(&f->nv, 4 * i));
}

LLVMValueRef fa2_doc_table_epoch(fa2 *f)
{
    LLVMValueRef p = epoch_word(f, 0);
    LLVMValueRef e = nv_asm(&f->nv, f->nv.i32, "ld.relaxed.gpu.global.u32 $0, [$1];", "=r,l,~{memory}", &p, 1);
    return LLVMBuildAdd(f->nv.b, e, nv_i32(&f->nv, 1), "doc.tag");
}

void fa2_doc_table_count_in(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef in = epoch_word(f, 1);
    /* release: this block's epoch read comes before it counts in (inline:
     * LLVM 19's NVPTX prints a release atomicrmw as a relaxed atom) */
    LLVMValueRef n = nv_asm(nv, nv->i32, "atom.release.gpu.global.add.u32 $0, [$1], 1;", "=r,l,~{memory}", &in, 1);
    LLVMValueRef gx = nv_sreg(nv, "nctaid.x"), gy = nv_sreg(nv, "nctaid.y"), gz = nv_sreg(nv, "nctaid.z");
    LLVMValueRef blocks = LLVMBuildMul(b, LLVMBuildMul(b, gx, gy, ""), gz, "");
    LLVMBasicBlockRef join =
        nt_if(&f->t, LLVMBuildICmp(b, LLVMIntEQ, n, LLVMBuildSub(b, blocks, nv_i32(nv, 1), ""), ""));
    LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpXchg, in, nv_i32(nv, 0), LLVMAtomicOrderingMonotonic, false);
    LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpAdd, epoch_word(f, 0), nv_i32(nv, 1), LLVMAtomicOrderingMonotonic,
                       false);
    nt_endif(&f->t, join);
}

LLVMValueRef fa2_doc_table_entry(fa2 *f, LLVMValueRef batch, LLVMValueRef x, LLVMValueRef *usable)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef g = nv_global_array(nv, nv->i64, FA2_DOC_TABLE_ENTRIES * 4, "attnc_doc_table", 16);
    LLVMValueRef i = LLVMBuildAdd(b, LLVMBuildMul(b, batch, fa2_q_tiles(f), ""), x, "doc.entry");
    *usable = LLVMBuildICmp(b, LLVMIntULT, i, nv_i32(nv, FA2_DOC_TABLE_ENTRIES), "");
    i = LLVMBuildSelect(b, *usable, i, nv_i32(nv, 0), "");
    return nv_gep(nv, g, LLVMBuildMul(b, LLVMBuildZExt(b, i, nv->i64, ""), nv_i64(nv, 32), ""));
}

LLVMValueRef fa2_doc_table_find(fa2 *f, LLVMValueRef entry, LLVMValueRef usable, LLVMValueRef tag,
                                LLVMValueRef out[4])
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef hit = usable;
    for (int w = 0; w < 4; w++) {
        LLVMValueRef p = nv_gep(nv, entry, nv_i32(nv, 8 * w));
        LLVMValueRef v = nv_asm(nv, nv->i64, "ld.relaxed.gpu.global.u64 $0, [$1];", "=l,l,~{memory}", &p, 1);
        LLVMValueRef t = LLVMBuildTrunc(b, LLVMBuildLShr(b, v, nv_i64(nv, 32), ""), nv->i32, "");
        hit = LLVMBuildAnd(b, hit, LLVMBuildICmp(b, LLVMIntEQ, t, tag, ""), "doc.hit");
        out[w] = LLVMBuildTrunc(b, v, nv->i32, "doc.val");
    }
    return hit;
}

void fa2_doc_table_publish(fa2 *f, LLVMValueRef entry, LLVMValueRef usable, LLVMValueRef tag,
                           const LLVMValueRef vals[4])
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMBasicBlockRef join = nt_if(&f->t, usable);
    LLVMValueRef hi = LLVMBuildShl(b, LLVMBuildZExt(b, tag, nv->i64, ""), nv_i64(nv, 32), "");
    for (int w = 0; w < 4; w++) {
        LLVMValueRef v = vals[w] ? vals[w] : nv_i32(nv, 0);
        LLVMValueRef args[2] = {nv_gep(nv, entry, nv_i32(nv, 8 * w)),
                                LLVMBuildOr(b, hi, LLVMBuildZExt(b, v, nv->i64, ""), "")};
        nv_asm(nv, NULL, "st.relaxed.gpu.global.u64 [$0], $1;", "l,l,~{memory}", args, 2);
    }
    nt_endif(&f->t, join);
}
