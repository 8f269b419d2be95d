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
 *   2. otherwise every thread scans a share of the range's tokens (the
 *      forward's i32 ids: 16-byte vectors, SCAN_VECS loaded an iteration
 *      ahead, then the rest and the others one id a load, four in flight per
 *      thread, 16 under ATTNC_DOC_FULL=1) for ids v1
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

LLVMValueRef fa2_doc_id(fa2 *f, int p, LLVMValueRef t)
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

/* The vector head of a scan (scan_rows): the address of token start, and
 * how many whole 16-byte vectors (4 ids) it reads from there. */
typedef struct scan_vec {
    LLVMValueRef first, start, nvec;
} scan_vec;

/* Token t's id (i64; valid: t is inside the scanned range) into the
 * accumulators. */
static void scan_id(fa2 *f, LLVMValueRef id, LLVMValueRef t, LLVMValueRef valid, const scan_in *in, scan_acc *a)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
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

/* One token t, its id read with the param's bounds clamps. */
static void scan_one(fa2 *f, LLVMValueRef t, LLVMValueRef valid, const scan_in *in, scan_acc *a)
{
    scan_id(f, fa2_doc_id(f, in->param, t), t, valid, in, a);
}

enum { ACC_N = 5 };

static LLVMValueRef *acc_field(scan_acc *a, int i)
{
    LLVMValueRef *fields[ACC_N] = {&a->other, &a->lo, &a->hi, &a->olo, &a->ohi};
    return fields[i];
}

/* Vectors a thread keeps in flight (scan_rows): loaded an iteration ahead,
 * so twice this many are live. */
enum { SCAN_VECS = 8 };

/* Four i32 ids at p (global, 16-byte aligned): inline PTX, so that LLVM
 * keeps the load where it is (it folds the next iteration's loads, carried
 * to this one in variables, back into this one's: a phi of loads). */
static LLVMValueRef load4(fa2 *f, LLVMValueRef p)
{
    nv_ctx *nv = &f->nv;
    LLVMValueRef addr = LLVMBuildPtrToInt(nv->b, p, nv->i64, "");
    LLVMTypeRef tys[4] = {nv->i32, nv->i32, nv->i32, nv->i32};
    LLVMValueRef r = nv_asm(nv, LLVMStructTypeInContext(nv->c, tys, 4, false),
                            "ld.global.v4.u32 {$0, $1, $2, $3}, [$4];", "=r,=r,=r,=r,l", &addr, 1);
    LLVMValueRef v = LLVMGetUndef(LLVMVectorType(nv->i32, 4));
    for (int e = 0; e < 4; e++)
        v = LLVMBuildInsertElement(nv->b, v, LLVMBuildExtractValue(nv->b, r, (unsigned)e, ""), nv_i32(nv, e), "");
    return v;
}

/* This thread's vectors v0 + u * threads (u < SCAN_VECS; vector v holds
 * tokens start + 4v ...), each at or past nvec reading vector 0 instead
 * (in bounds; nvec > 0). */
static void load_vectors(fa2 *f, const scan_vec *sv, LLVMValueRef v0, LLVMValueRef out[SCAN_VECS])
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    for (int u = 0; u < SCAN_VECS; u++) {
        LLVMValueRef v = LLVMBuildAdd(b, v0, nv_i32(nv, u * f->threads), "");
        v = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, v, sv->nvec, ""), v, nv_i32(nv, 0), "");
        out[u] = load4(f, nv_gep(nv, sv->first, LLVMBuildMul(b, LLVMBuildZExt(b, v, nv->i64, ""), nv_i64(nv, 16), "")));
    }
}

/* The ids of this thread's vectors from v0 (load_vectors) into the
 * accumulators, those at or past nvec left out. */
static void scan_vectors(fa2 *f, const scan_vec *sv, LLVMValueRef v0, LLVMValueRef ids[SCAN_VECS], const scan_in *in,
                         scan_acc *a)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef t0 = LLVMBuildAdd(b, sv->start, LLVMBuildMul(b, v0, nv_i32(nv, 4), ""), "");
    for (int u = 0; u < SCAN_VECS; u++) {
        LLVMValueRef v = LLVMBuildAdd(b, v0, nv_i32(nv, u * f->threads), "");
        LLVMValueRef ok = LLVMBuildICmp(b, LLVMIntSLT, v, sv->nvec, "");
        for (int e = 0; e < 4; e++) {
            LLVMValueRef id = LLVMBuildSExt(b, LLVMBuildExtractElement(b, ids[u], nv_i32(nv, e), ""), nv->i64, "");
            scan_id(f, id, LLVMBuildAdd(b, t0, nv_i32(nv, u * f->threads * 4 + e), ""), ok, in, a);
        }
    }
}

/* The head of a scan of i32 ids read as 16-byte vectors (the ids' rows are
 * contiguous, kernel ABI): the whole vectors of [start, min(end, the row's
 * length)), a thread's vectors CTA-strided, each iteration loading the next
 * one's SCAN_VECS before it scans its own. H100, 2026-12-05 (run43 ->
 * run44, TFLOP/s): 64 documents of 1024 tokens at N=65536 1.197 / 1.195 ->
 * 1.168 ms, 8 documents level within the noise (the per-token loads with
 * clamped indices, four address instructions each, are what it replaces;
 * the documents' gap to the same tiles as a batch, 1.17 against 0.72 ms
 * for 64, lies mostly elsewhere). i64 ids, and a row not 16-byte aligned
 * at start, read nothing here (no GPU has run those through it). Returns
 * the first token left to the checked loop. */
static LLVMValueRef scan_rows(fa2 *f, LLVMValueRef start, LLVMValueRef end, const scan_in *in, scan_acc var)
{
    nv_ctx *nv = &f->nv;
    nt *t = &f->t;
    LLVMBuilderRef b = nv->b;
    const tir_param *rp = &f->p->k->params[in->param];
    if (rp->dtype != DT_I32)
        return start;
    bool batched = rp->ndim == 2;
    LLVMValueRef ext = fa2_param_extent(f, rp, batched ? 1 : 0); /* the token dim */
    LLVMValueRef row = f->param[in->param];
    if (batched) { /* row min(batch, rows - 1), as id_at's clamp */
        LLVMValueRef rows = fa2_param_extent(f, rp, 0);
        LLVMValueRef r = nv_smax(nv, nv_smin(nv, f->batch, LLVMBuildSub(b, rows, nv_i32(nv, 1), "")), nv_i32(nv, 0));
        LLVMValueRef words = LLVMBuildZExt(b, LLVMBuildMul(b, r, ext, ""), nv->i64, "");
        row = nv_gep(nv, row, LLVMBuildMul(b, words, nv_i64(nv, 4), ""));
    }
    scan_vec sv = {.start = start};
    LLVMValueRef len = nv_smax(nv, LLVMBuildSub(b, nv_smin(nv, end, ext), start, ""), nv_i32(nv, 0));
    sv.first = nv_gep(nv, row, LLVMBuildMul(b, LLVMBuildZExt(b, nv_smax(nv, start, nv_i32(nv, 0)), nv->i64, ""),
                                             nv_i64(nv, 4), ""));
    LLVMValueRef low = LLVMBuildAnd(b, LLVMBuildPtrToInt(b, sv.first, nv->i64, ""), nv_i64(nv, 15), "");
    LLVMValueRef aligned = LLVMBuildICmp(b, LLVMIntEQ, low, nv_i64(nv, 0), "");
    sv.nvec = LLVMBuildSelect(b, aligned, LLVMBuildSDiv(b, len, nv_i32(nv, 4), ""), nv_i32(nv, 0), "nvec");
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildICmp(b, LLVMIntSGT, sv.nvec, nv_i32(nv, 0), ""), "scan.rows");
    int step = SCAN_VECS * f->threads;
    LLVMValueRef ids[SCAN_VECS], held[SCAN_VECS], next[SCAN_VECS];
    load_vectors(f, &sv, f->tid, ids);
    for (int u = 0; u < SCAN_VECS; u++)
        held[u] = nt_var(t, LLVMTypeOf(ids[u]), ids[u], "scan.ids");
    scan_acc a;
    nt_loop l;
    LLVMValueRef v0 = nt_for_step(t, &l, f->tid, sv.nvec, step);
    for (int i = 0; i < ACC_N; i++)
        *acc_field(&a, i) = *acc_field(&var, i) ? nt_get(t, *acc_field(&var, i)) : NULL;
    for (int u = 0; u < SCAN_VECS; u++)
        ids[u] = nt_get(t, held[u]);
    load_vectors(f, &sv, LLVMBuildAdd(b, v0, nv_i32(nv, step), ""), next); /* in flight while these are scanned */
    scan_vectors(f, &sv, v0, ids, in, &a);
    for (int u = 0; u < SCAN_VECS; u++)
        nt_set(t, held[u], next[u]);
    for (int i = 0; i < ACC_N; i++)
        if (*acc_field(&var, i))
            nt_set(t, *acc_field(&var, i), *acc_field(&a, i));
    nt_for_end(t, &l);
    nv_endif(nv, join);
    return LLVMBuildAdd(b, start, LLVMBuildMul(b, sv.nvec, nv_i32(nv, 4), ""), "");
}

/* Tokens [start, end) shared over the CTA's threads (vectors: the whole
 * 16-byte vectors by scan_rows first), then scan_unroll() clamped loads in
 * flight per thread and iteration; runs: also olo/ohi. The accumulators
 * are variables across the loops (nvptx/tile.h). */
static scan_acc scan(fa2 *f, LLVMValueRef start, LLVMValueRef end, const scan_in *in, bool runs, bool vectors)
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
    if (vectors)
        start = scan_rows(f, start, end, in, var);
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
    scan_acc q = scan(f, in->t_lo, LLVMBuildAdd(nv->b, in->t_hi, nv_i32(nv, 1), ""), in, false, false);
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
    scan_in in = {param, fa2_doc_id(f, param, t_lo), fa2_doc_id(f, param, t_hi), t_lo, t_hi};
    LLVMValueRef other = tile_has_other_ids(f, &in, words, runs);
    LLVMValueRef start = LLVMBuildMul(b, r->lo, nv_i32(nv, r->T), "");
    LLVMValueRef end = nv_smin(nv, LLVMBuildMul(b, LLVMBuildAdd(b, r->lo, r->cnt, ""), nv_i32(nv, r->T), ""), r->ext);
    LLVMBasicBlockRef join = nv_if(nv, LLVMBuildNot(b, other, ""), "span.scan");
    scan_acc k = scan(f, start, end, &in, runs, r->vectors);
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

/* v as lane 0 holds it (shfl.sync.idx): the same value in every lane, and
 * one ptxas can prove warp-uniform. The cut range comes from shared words
 * each thread loads, which ptxas cannot prove equal across the warp, so the
 * key loop's tile index, ring slots and wgmma descriptors derived from it
 * lived in vector registers and were moved to uniform ones before every
 * HGMMA (SASS, doc_causal overlap=1: ~80 more instructions a key tile than
 * causal's, which keeps them in uniform registers). */
static LLVMValueRef warp_uniform(fa2 *f, LLVMValueRef v)
{
    return nv_shfl_idx(&f->nv, v, nv_i32(&f->nv, 0));
}

/* The cut (r_lo[0], r_cnt[0], run_lo, run_hi) scanned by the CTA through
 * the shared words at the first K slot, the ids read as 16-byte vectors
 * first. */
static void doc_span_scanned(fa2 *f, bool runs)
{
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    int Tk = f->p->kv_ext[0];
    fa2_span_range keys = {f->r_lo[0], f->r_cnt[0], Tk, f->kext[0], true};
    fa2_span s;
    fa2_span_scan(f, f->p->span_param, f->q_lo[0], f->q_hi[0], &keys, f->smem, runs, &s);
    if (runs) { /* one id in the query tile, else no run (no tile starts after INT_MAX) */
        f->run_lo = LLVMBuildSelect(b, s.one, s.olo, nv_i32(nv, 0x7fffffff), "");
        f->run_hi = s.ohi;
    }
    fa2_span_cut(f, &s, Tk, &f->r_lo[0], &f->r_cnt[0]);
}

/* The cut through the table (nvptx_fa2_doc_table.c): thread 0 reads this
 * launch's tag and the query tile's entry and passes a hit on in shared
 * words 4-8 (beside the scan's 0-3, in the first K slot); on a hit every
 * thread takes the cut from there, else the CTA scans and thread 0
 * publishes it. */
static void doc_span_table(fa2 *f, bool runs)
{
    nt *t = &f->t;
    nv_ctx *nv = &f->nv;
    LLVMBuilderRef b = nv->b;
    LLVMValueRef x = LLVMBuildSDiv(b, f->q_lo[0], nv_i32(nv, f->p->q_ext[0]), "q_tile");
    LLVMValueRef usable, entry = fa2_doc_table_entry(f, f->batch, x, &usable);
    f->doc_tag = nt_var(t, nv->i32, NULL, "doc.tag");
    LLVMValueRef thread0 = LLVMBuildICmp(b, LLVMIntEQ, f->tid, nv_i32(nv, 0), "");
    LLVMBasicBlockRef join = nt_if(t, thread0);
    LLVMValueRef tag = fa2_doc_table_epoch(f), vals[4];
    nt_set(t, f->doc_tag, tag);
    LLVMValueRef hit = fa2_doc_table_find(f, entry, usable, tag, vals);
    LLVMBuildStore(b, LLVMBuildZExt(b, hit, nv->i32, ""), word(f, f->smem, 8));
    for (int w = 0; w < 4; w++)
        LLVMBuildStore(b, vals[w], word(f, f->smem, 4 + w));
    nt_endif(t, join);
    nv_barrier(nv);
    LLVMValueRef *dst[4] = {&f->r_lo[0], &f->r_cnt[0], &f->run_lo, &f->run_hi};
    LLVMValueRef var[4];
    for (int w = 0; w < 4; w++)
        var[w] = nt_var(t, nv->i32, NULL, "doc.cut");
    hit = LLVMBuildICmp(b, LLVMIntNE, LLVMBuildLoad2(b, nv->i32, word(f, f->smem, 8), ""), nv_i32(nv, 0), "");
    nt_branch br = nt_if_else(t, hit);
    for (int w = 0; w < 4; w++)
        nt_set(t, var[w], LLVMBuildLoad2(b, nv->i32, word(f, f->smem, 4 + w), "doc.cut"));
    if (f->p->wgmma || f->span_fence) /* the words are refilled by TMA: order the generic accesses first */
        nv_wg_proxy_fence(nv);
    nv_barrier(nv); /* read before the copies overwrite the words */
    nt_else(t, &br);
    doc_span_scanned(f, runs);
    LLVMValueRef cut[4] = {f->r_lo[0], f->r_cnt[0], runs ? f->run_lo : NULL, runs ? f->run_hi : NULL};
    for (int w = 0; w < 4; w++)
        if (cut[w])
            nt_set(t, var[w], cut[w]);
    LLVMBasicBlockRef pub = nt_if(t, thread0);
    fa2_doc_table_publish(f, entry, usable, nt_get(t, f->doc_tag), cut);
    nt_endif(t, pub);
    nt_endif_else(t, &br);
    for (int w = 0; w < (runs ? 4 : 2); w++)
        *dst[w] = nt_get(t, var[w]);
    /* counted in after the barriers: its release fence waits for thread 0's
     * loads and stores, which no other thread should wait behind */
    LLVMBasicBlockRef count = nt_if(t, thread0);
    fa2_doc_table_count_in(f);
    nt_endif(t, count);
}

void fa2_doc_span(fa2 *f)
{
    bool runs = f->p->span_full != NULL;
    if (fa2_doc_table_on(f))
        doc_span_table(f, runs);
    else
        doc_span_scanned(f, runs);
    f->r_lo[0] = warp_uniform(f, f->r_lo[0]);
    f->r_cnt[0] = warp_uniform(f, f->r_cnt[0]);
    if (runs) {
        f->run_lo = warp_uniform(f, f->run_lo);
        f->run_hi = warp_uniform(f, f->run_hi);
    }
    f->r_total = f->r_cnt[0];
}
