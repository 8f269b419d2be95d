/* test_ptx_persist_docs.c — persistent documents (schedule persist=1 on a
 * recipe with a document cut under $ATTNC_PERSIST_DOCS=1, which this test
 * sets: they hang on the GPU as of 2026-12-05; codegen/nvptx_fa2_persist.c
 * fa2_items_scan):
 * the producer warpgroup keeps 32 registers (its warps 1-3 scan), the scan
 * is theirs alone (one bar.red.or over 96 threads on named barrier 1, none
 * over the CTA), the item handoff adds four mbarriers (item_full,
 * item_empty) to the persistent kernel's q_empty, and dynamic items
 * ($ATTNC_PERSIST_DYNAMIC=1) add the counter's two atom.global.add. The
 * same recipe without persist=1 keeps the CTA-wide scan. Through ptxas when
 * it is installed: the scanners' spills at 32 registers (ptxas 13.0, bytes
 * stored + loaded: 132 static, outside the scan loops in the SASS, where the
 * static round's item arithmetic stays live; 0 dynamic) stay within 192 and
 * 16.
 * The kernels themselves are checked on the GPU by test_gpu_documents
 * (persistent_documents_on_gpu). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "recipe_ptx.h"

typedef struct shape {
    int scan_regs, team_or, cta_or, mbar_init, add, spill;
} shape;

static shape kernel_shape(const char *spec, const char *dynamic)
{
    strbuf ptx, err;
    sb_init(&ptx);
    sb_init(&err);
    shape k;
    if (!bench_recipe_ptx_env_spills("doc_causal.attn", spec, "ATTNC_PERSIST_DYNAMIC", dynamic, &ptx, &k.spill, &err))
        fail_msg("[%s]: %s", spec, sb_cstr(&err));
    const char *s = sb_cstr(&ptx);
    k.scan_regs = ptx_count(s, "setmaxnreg.dec.sync.aligned.u32 32;");
    k.team_or = ptx_count(s, "bar.red.or.pred p1, 1, 96");
    k.cta_or = ptx_count(s, "bar.red.or.pred \t"); /* barrier0.or as LLVM 19 prints it */
    k.mbar_init = ptx_count(s, "mbarrier.init");
    k.add = ptx_count(s, "atom.global.add");
    sb_free(&ptx);
    sb_free(&err);
    return k;
}

static void scanners_only_under_persist(void **state)
{
    (void)state;
    const char *plain = "q=128 kv=128 stages=2 warps=8 overlap=1";
    const char *persist = "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1";
    shape p = kernel_shape(plain, NULL);
    shape s = kernel_shape(persist, NULL);
    shape d = kernel_shape(persist, "1");
    printf("  plain:   scan regs %d, team or %d, CTA or %d, mbarrier.init %d, atom.add %d, spills %d\n", p.scan_regs,
           p.team_or, p.cta_or, p.mbar_init, p.add, p.spill);
    printf("  static:  %d, %d, %d, %d, %d, %d\n", s.scan_regs, s.team_or, s.cta_or, s.mbar_init, s.add, s.spill);
    printf("  dynamic: %d, %d, %d, %d, %d, %d\n", d.scan_regs, d.team_or, d.cta_or, d.mbar_init, d.add, d.spill);
    if (p.scan_regs || p.team_or || p.cta_or != 1)
        fail_msg("without persist=1 the whole CTA scans (one CTA-wide bar.red.or, no scanner warps)");
    for (int i = 0; i < 2; i++) {
        const shape *k = i ? &d : &s;
        if (k->scan_regs != 1 || k->team_or != 1 || k->cta_or != 0)
            fail_msg("%s items: the scanner warps (32 registers, one bar.red.or on barrier 1 over 96 threads, none "
                     "over the CTA)",
                     i ? "dynamic" : "static");
        /* q_empty and the handoff's item_full[2], item_empty[2] */
        if (k->mbar_init != p.mbar_init + 5)
            fail_msg("%s items: %d mbarriers, want %d", i ? "dynamic" : "static", k->mbar_init, p.mbar_init + 5);
        if (k->spill > (i ? 16 : 192))
            fail_msg("%s items: %d spill bytes", i ? "dynamic" : "static", k->spill);
    }
    if (s.add != 0 || d.add != 2)
        fail_msg("the counter's two atom.global.add belong to dynamic items only (static %d, dynamic %d)", s.add, d.add);
}

int main(void)
{
    setenv("ATTNC_PERSIST_DOCS", "1", 1); /* they hang on the GPU (H100 2026-12-05): built only under it */
    setenv("ATTNC_DOC_TABLE", "0", 1);    /* their own scans, without the cut table's lookups */
    const struct CMUnitTest tests[] = {cmocka_unit_test(scanners_only_under_persist)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
