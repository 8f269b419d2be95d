/* nvptx_fa2_span.c — the document span cut (a kv_range with `span`,
 * ir/tile_ir.h) on the GPU, computed by the whole CTA before its loop:
 * every pair the mask keeps has ids[.., q.t] == ids[.., k.t]. The scan
 * (fa2_span_scan) takes a tile of tokens on one side and a range of
 * tokens on the other: the forward's query tile against its key range
 * (fa2_doc_span), the backward's dK/dV key tile against its query range
 * (nvptx_bwd_span.c, the same cut transposed):
 *
 *   1. v1, v2 = the ids of the tile's first and last token; every thread
 *      checks a share of the tile's tokens, and barrier0.or tells whether
 *      some token has another id (then the range stays as it is:
 *      documents shorter than a tile);
 *   2. otherwise every thread scans a share of the range's tokens (four
 *      loads in flight per thread, 16 under ATTNC_DOC_FULL=1) for ids v1
 *      or v2, and shared-memory atomics give the first and last such
 *      token; the range is cut to their tiles (empty when there is none,
 *      fa2_span_cut).
 * The scan reads ids (4 or 8 bytes a token) over the static range only,
 * any ids being allowed (documents need not be contiguous).
 *   3. with p->span_full (the mask's full test without its document filter)
 *      and a query tile of one id v, the same scan also gives the last key
 *      before the tile and the first after it with another id: every key
 *      between them has id v (the tile's own tokens are keys too:
 *      self-attention), so a key tile strictly inside that run pairs only
 *      tokens of one document and is full when span_full holds on its box
 *      (fa2_tile_partial): no per-element id compares there.
 * The forward's shared words live where the first K tile goes; the barrier
 * after they are read comes before the prologue's first copy. */
#include "nvptx_fa2.h"

/* Loads in flight per thread: the scan is latency bound (one CTA per SM
 * under wgmma_ws), so the full-tile runs (nvptx_kernel.h: on unless
 * ATTNC_DOC_FULL=0) also keep 16. */
static int scan_unroll(void)
{
    return nvptx_doc_full_mode() != 0 ? 16 : 4;
}

static LLVMValueRef id_at(fa2 *f, int p, LLVMValueRef t)
{
    LLVMValueRef idx[2] = {f->batch, t};
    bool batched = f->p->k->params[p].ndim == 2;
    LLVMValueRef v = fa2_param_elem(f, p, batched ? idx : &idx[1], batched ? 2 : 1);
    return LLVMTypeOf(v) == f->nv.i64 ? v : LLVMBuildSExt(f->nv.b, v, f->nv.i64, "");
}

/* What the scan compares against: the param, the tile's two ids and its
 * first / last token (runs: the other ids' tokens below / above it). */
typedef struct scan_in {
    int param;
    LLVMValueRef v1, v2, t_lo, t_hi;
} scan_in;

typedef struct scan_acc {
    LLVMValueRef other; /* i32: a token with an id other than v1, v2 was seen */
    LLVMValueRef lo, hi; /* i32: first / last token with id v1 or v2 (INT_MAX / -1: none) */
    LLVMValueRef olo, ohi; /* i32: last token before t_lo / first after t_hi with another id (-1 / INT_MAX) */
} scan_acc;

/* One token t (valid: inside the scanned range) into the accumulators. */
static void scan_one(fa2 *f, LLVMValueRef t, LLVMValueRef valid, const scan_in *in, scan_acc *a)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef id = id_at(f, in->param, t);
    LLVMValueRef same =
        LLVMBuildOr(b, LLVMBuildICmp(b, LLVMIntEQ, id, in->v1, ""), LLVMBuildICmp(b, LLVMIntEQ, id, in->v2, ""), "");
    LLVMValueRef hit = LLVMBuildAnd(b, valid, same, "");
    LLVMValueRef miss = LLVMBuildAnd(b, valid, LLVMBuildNot(b, same, ""), "");
    a->other = LLVMBuildOr(b, a->other, LLVMBuildZExt(b, miss, nv->i32, ""), "");
    a->lo = LLVMBuildSelect(b, hit, nv_smin(nv, a->lo, t), a->lo, "");
    a->hi = LLVMBuildSelect(b, hit, nv_smax(nv, a->hi, t), a->hi, "");
    if (!a->olo)
        return;
    LLVMValueRef below = LLVMBuildAnd(b, miss, LLVMBuildICmp(b, LLVMIntSLT, t, in->t_lo, ""), "");
    LLVMValueRef above = LLVMBuildAnd(b, miss, LLVMBuildICmp(b, LLVMIntSGT, t, in->t_hi, ""), "");
    a->olo = LLVMBuildSelect(b, below, nv_smax(nv, a->olo, t), a->olo, "");
    a->ohi = LLVMBuildSelect(b, above, nv_smin(nv, a->ohi, t), a->ohi, "");
}

enum { ACC_N = 5 };

static LLVMValueRef *acc_field(scan_acc *a, int i)
{
    LLVMValueRef *fields[ACC_N] = {&a->other, &a->lo, &a->hi, &a->olo, &a->ohi};
    return fields[i];
}

/* Tokens [start, end) shared over the CTA's threads, scan_unroll() loads
 * in flight per thread and iteration; runs: also olo/ohi. The accumulators
 * are variables across the loop (nvptx/tile.h). */
static scan_acc scan(fa2 *f, LLVMValueRef start, LLVMValueRef end, const scan_in *in, bool runs)
{
    nv_ctx *nv = &f->nv;
    nt *t = &f->t;
    LLVMBuilderRef b = nv->b;
    scan_acc var = {nv_i32(nv, 0), nv_i32(nv, 0x7fffffff), nv_i32(nv, -1), NULL, NULL}, a;
    if (runs) {
        var.olo = nv_i32(nv, -1);
        var.ohi = nv_i32(nv, 0x7fffffff);
    }
    for (int i = 0; i < ACC_N; i++)
        if (*acc_field(&var, i))
            *acc_field(&var, i) = nt_var(t, nv->i32, *acc_field(&var, i), "scan");
    int unroll = scan_unroll();
    nt_loop l;
    LLVMValueRef tk = nt_for_step(t, &l, LLVMBuildAdd(b, start, f->tid, ""), end, unroll * f->threads);
    for (int i = 0; i < ACC_N; i++)
        *acc_field(&a, i) = *acc_field(&var, i) ? nt_get(t, *acc_field(&var, i)) : NULL;
    for (int u = 0; u < unroll; u++) {
        LLVMValueRef tu = LLVMBuildAdd(b, tk, nv_i32(nv, u * f->threads), "");
        scan_one(f, tu, LLVMBuildICmp(b, LLVMIntSLT, tu, end, ""), in, &a);
    }
    for (int i = 0; i < ACC_N; i++)
        if (*acc_field(&var, i))
            nt_set(t, *acc_field(&var, i), *acc_field(&a, i));
    nt_for_end(t, &l);
    for (int i = 0; i < ACC_N; i++)
        *acc_field(&a, i) = *acc_field(&var, i) ? nt_get(t, *acc_field(&var, i)) : NULL;
    return a;
}

static LLVMValueRef word(fa2 *f, LLVMValueRef words, int i)
{
    return nv_gep(&f->nv, words, nv_i32(&f->nv, 4 * i));
}

/* Whether some token of the tile has an id other than v1, v2 (all
 * threads); thread 0 also resets the shared words on the way. */
static LLVMValueRef tile_has_other_ids(fa2 *f, const scan_in *in, LLVMValueRef words, bool runs)
{
    nv_ctx *nv = &f->nv;
    scan_acc q = scan(f, in->t_lo, LLVMBuildAdd(nv->b, in->t_hi, nv_i32(nv, 1), ""), in, false);
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildICmp(nv->b, LLVMIntEQ, f->tid, nv_i32(nv, 0), ""), "span.init");
    LLVMBuildStore(nv->b, nv_i32(nv, 0x7fffffff), word(f, words, 0));
    LLVMBuildStore(nv->b, nv_i32(nv, -1), word(f, words, 1));
    if (runs) {
        LLVMBuildStore(nv->b, nv_i32(nv, -1), word(f, words, 2));
        LLVMBuildStore(nv->b, nv_i32(nv, 0x7fffffff), word(f, words, 3));
    }
    nv_endif(nv, join);
    LLVMValueRef any = nv_call(nv, "llvm.nvvm.barrier0.or", NULL, 0, &q.other, 1);
    return LLVMBuildICmp(nv->b, LLVMIntNE, any, nv_i32(nv, 0), "");
}

void fa2_span_scan(fa2 *f, int param, LLVMValueRef t_lo, LLVMValueRef t_hi, const fa2_span_range *r,
                   LLVMValueRef words, bool runs, fa2_span *out)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    scan_in in = {param, id_at(f, param, t_lo), id_at(f, param, t_hi), t_lo, t_hi};
    LLVMValueRef other = tile_has_other_ids(f, &in, words, runs);
    LLVMValueRef start = LLVMBuildMul(b, r->lo, nv_i32(nv, r->T), "");
    LLVMValueRef end = nv_smin(nv, LLVMBuildMul(b, LLVMBuildAdd(b, r->lo, r->cnt, ""), nv_i32(nv, r->T), ""), r->ext);
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildNot(b, other, ""), "span.scan");
    scan_acc k = scan(f, start, end, &in, runs);
    LLVMBasicBlockRef publish = nv_if(nv, LLVMBuildICmp(b, LLVMIntSGE, k.hi, nv_i32(nv, 0), ""), "span.publish");
    LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpMin, word(f, words, 0), k.lo, LLVMAtomicOrderingMonotonic, false);
    LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpMax, word(f, words, 1), k.hi, LLVMAtomicOrderingMonotonic, false);
    nv_endif(nv, publish);
    if (runs) { /* words 2, 3 start at -1 / INT_MAX: only real tokens move them */
        LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpMax, word(f, words, 2), k.olo, LLVMAtomicOrderingMonotonic, false);
        LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpMin, word(f, words, 3), k.ohi, LLVMAtomicOrderingMonotonic, false);
    }
    nv_endif(nv, join);
    nv_barrier(nv);
    out->other = other;
    out->one = LLVMBuildAnd(b, LLVMBuildNot(b, other, ""), LLVMBuildICmp(b, LLVMIntEQ, in.v1, in.v2, ""), "");
    out->lo = LLVMBuildLoad2(b, nv->i32, word(f, words, 0), "span.lo");
    out->hi = LLVMBuildLoad2(b, nv->i32, word(f, words, 1), "span.hi");
    out->olo = runs ? LLVMBuildLoad2(b, nv->i32, word(f, words, 2), "span.olo") : NULL;
    out->ohi = runs ? LLVMBuildLoad2(b, nv->i32, word(f, words, 3), "span.ohi") : NULL;
    if (f->p->wgmma || f->span_fence) /* the words are refilled by TMA / read by wgmma: order the generic writes first */
        nv_wg_proxy_fence(&f->nv);
    nv_barrier(nv); /* read before the caller's copies overwrite the words */
}

void fa2_span_cut(fa2 *f, const fa2_span *s, int T, LLVMValueRef *r_lo, LLVMValueRef *r_cnt)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    /* tiles [lo / T, hi / T], nothing when no token matched */
    LLVMValueRef found = LLVMBuildICmp(b, LLVMIntSGE, s->hi, nv_i32(nv, 0), "");
    LLVMValueRef last = LLVMBuildSub(b, LLVMBuildAdd(b, *r_lo, *r_cnt, ""), nv_i32(nv, 1), "");
    LLVMValueRef nlo = nv_smax(nv, *r_lo, LLVMBuildSDiv(b, nv_smax(nv, s->lo, nv_i32(nv, 0)), nv_i32(nv, T), ""));
    LLVMValueRef nhi = nv_smin(nv, last, LLVMBuildSDiv(b, nv_smax(nv, s->hi, nv_i32(nv, 0)), nv_i32(nv, T), ""));
    nhi = LLVMBuildSelect(b, found, nhi, LLVMBuildSub(b, nlo, nv_i32(nv, 1), ""), "");
    LLVMValueRef cnt = nv_smax(nv, LLVMBuildAdd(b, LLVMBuildSub(b, nhi, nlo, ""), nv_i32(nv, 1), ""), nv_i32(nv, 0));
    *r_lo = LLVMBuildSelect(b, s->other, *r_lo, nlo, "");
    *r_cnt = LLVMBuildSelect(b, s->other, *r_cnt, cnt, "");
}

void fa2_doc_span(fa2 *f)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    int Tk = f->p->kv_ext[0];
    bool runs = f->p->span_full != NULL;
    fa2_span_range keys = {f->r_lo[0], f->r_cnt[0], Tk, f->kext[0]};
    fa2_span s;
    fa2_span_scan(f, f->p->span_param, f->q_lo[0], f->q_hi[0], &keys, f->smem, runs, &s);
    if (runs) { /* one id in the query tile, else no run (no tile starts after INT_MAX) */
        f->run_lo = LLVMBuildSelect(b, s.one, s.olo, nv_i32(nv, 0x7fffffff), "");
        f->run_hi = s.ohi;
    }
    fa2_span_cut(f, &s, Tk, &f->r_lo[0], &f->r_cnt[0]);
    f->r_total = f->r_cnt[0];
}
