/* tile_tma.c — the TMA copy (tile.h): one cp.async.bulk.tensor per
 * 64-column block of a swizzled tile (a tensor map's box is 64 two-byte
 * columns, one 128-byte swizzle row), completing on an mbarrier; the same
 * boxes prefetched into L2 (cp.async.bulk.prefetch.tensor); and a box
 * stored from shared memory (a bulk group). */
#include "tile.h"

#include <stdio.h>
#include <string.h>

/* One box's cp.async.bulk.tensor: `head` (its opcode and operands up to
 * the map) with `lead` operands first in args, then the map, {col, crd},
 * and one operand `last` after the box: "head [$m, {$c, ...}], [$last];". */
static void tma_box(nt *t, const char *head, LLVMValueRef *args, int lead, const char *lead_cons, LLVMValueRef map,
                    int col, const LLVMValueRef *crd, int n, LLVMValueRef last)
{
    nv_ctx *nv = &t->nv;
    char text[200], cons[64];
    int k = lead;
    args[k] = LLVMBuildPtrToInt(nv->b, map, nv->i64, "");
    args[k + 1] = nv_i32(nv, col);
    int len = snprintf(text, sizeof text, "%s [$%d, {$%d", head, k, k + 1);
    snprintf(cons, sizeof cons, "%sl,r", lead_cons);
    for (int i = 0; i < n; i++) {
        args[k + 2 + i] = crd[i];
        len += snprintf(text + len, sizeof text - (size_t)len, ", $%d", k + 2 + i);
        strcat(cons, ",r");
    }
    args[k + 2 + n] = last;
    snprintf(text + len, sizeof text - (size_t)len, "}], [$%d];", k + 2 + n);
    strcat(cons, ",r,~{memory}");
    nv_asm(nv, NULL, text, cons, args, k + 3 + n);
}

void nt_copy_tma_box(nt *t, LLVMValueRef map, LLVMValueRef dst, LLVMValueRef bar, int col, const LLVMValueRef *crd, int n)
{
    char head[96];
    snprintf(head, sizeof head, "cp.async.bulk.tensor.%dd.shared::cluster.global.mbarrier::complete_tx::bytes [$0],",
             n + 1);
    LLVMValueRef args[8] = {dst};
    tma_box(t, head, args, 1, "r,", map, col, crd, n, bar);
}

void nt_store_tma_box(nt *t, LLVMValueRef map, LLVMValueRef src, int col, const LLVMValueRef *crd, int n)
{
    char head[96];
    snprintf(head, sizeof head, "cp.async.bulk.tensor.%dd.global.shared::cta.bulk_group", n + 1);
    LLVMValueRef args[8];
    tma_box(t, head, args, 0, "", map, col, crd, n, src);
}

void nt_store_tma_wait_read(nt *t)
{
    nt_store_tma_commit(t);
    nt_store_tma_wait_reads(t);
}

void nt_store_tma_commit(nt *t)
{
    nv_asm(&t->nv, NULL, "cp.async.bulk.commit_group;", "~{memory}", NULL, 0);
}

void nt_store_tma_wait_reads(nt *t)
{
    nv_asm(&t->nv, NULL, "cp.async.bulk.wait_group.read 0;", "~{memory}", NULL, 0);
}

void nt_copy_tma(nt *t, nt_smem dst, const nt_tmap *src, LLVMValueRef bar)
{
    if (dst.layout != NT_SWIZZLE128 || dst.cols % 64 || src->n > 4) {
        if (!t->error)
            t->error = "nt_copy_tma: a TMA copy fills a swizzled tile of 64-column blocks (at most 4 coordinates)";
        return;
    }
    LLVMValueRef base = nt_saddr(t, dst.off);
    for (int c = 0; c < dst.cols / 64; c++) {
        LLVMValueRef at = LLVMBuildAdd(t->nv.b, base, nv_i32(&t->nv, c * dst.brows * 128), "");
        nt_copy_tma_box(t, src->map, at, bar, c * 64, src->crd, src->n);
    }
}

void nt_prefetch_tma(nt *t, const nt_tmap *src, int cols)
{
    if (cols % 64 || src->n > 4) {
        if (!t->error)
            t->error = "nt_prefetch_tma: a TMA prefetch covers 64-column blocks (at most 4 coordinates)";
        return;
    }
    nv_ctx *nv = &t->nv;
    for (int c = 0; c < cols / 64; c++) {
        LLVMValueRef args[6] = {LLVMBuildPtrToInt(nv->b, src->map, nv->i64, ""), nv_i32(nv, c * 64)};
        char text[160], cons[32] = "l,r";
        int len = snprintf(text, sizeof text, "cp.async.bulk.prefetch.tensor.%dd.L2.global.tile [$0, {$1", src->n + 1);
        for (int i = 0; i < src->n; i++) {
            args[2 + i] = src->crd[i];
            len += snprintf(text + len, sizeof text - (size_t)len, ", $%d", 2 + i);
            strcat(cons, ",r");
        }
        snprintf(text + len, sizeof text - (size_t)len, "}];");
        strcat(cons, ",~{memory}");
        nv_asm(nv, NULL, text, cons, args, 2 + src->n);
    }
}
