/* test_ptx_doc_table.c — the document cut shared across heads (on by
 * default; $ATTNC_DOC_TABLE=1 against =0; codegen/nvptx_fa2_doc_table.c): with it a
 * document kernel holds the table and its epoch (module globals), thread 0
 * reads the epoch and the query tile's four tagged 64-bit words
 * (ld.relaxed.gpu), a block that scanned writes them (st.relaxed.gpu), and
 * every block counts itself out once (one atom.release.gpu); the AOT header
 * says its launches must not overlap; persist=1 is dropped on documents,
 * so it keeps the same table. Without the switch, and for a mask without
 * documents under it, none of that. Through ptxas when installed: no more
 * spills than without the switch.
 * The kernels run on the GPU in test_gpu_documents
 * (documents_under_switches_on_gpu). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "recipe_ptx.h"

typedef struct marks {
    int table, ld, st, close, spill;
} marks;

static marks kernel_marks(const char *file, const char *spec, const char *on)
{
    strbuf ptx, err;
    sb_init(&ptx);
    sb_init(&err);
    marks m;
    if (!bench_recipe_ptx_env_spills(file, spec, "ATTNC_DOC_TABLE", on, &ptx, &m.spill, &err))
        fail_msg("%s [%s]: %s", file, spec ? spec : "default", sb_cstr(&err));
    const char *s = sb_cstr(&ptx);
    m.table = ptx_count(s, ".b8 attnc_doc_table[");
    m.ld = ptx_count(s, "ld.relaxed.gpu.global.u64");
    m.st = ptx_count(s, "st.relaxed.gpu.global.u64");
    m.close = ptx_count(s, "atom.release.gpu.global.add.u32");
    sb_free(&ptx);
    sb_free(&err);
    return m;
}

static void table_only_under_the_switch(void **state)
{
    (void)state;
    static const struct {
        const char *file, *spec;
        bool table; /* under the switch */
    } cases[] = {
        {"doc_causal.attn", NULL, true},
        {"doc_causal.attn", "q=128 kv=128 stages=2 warps=8", true},
        {"doc_causal.attn", "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1", true},
        {"causal_d128.attn", NULL, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        marks off = kernel_marks(cases[i].file, cases[i].spec, "0"); /* unset: on */
        marks on = kernel_marks(cases[i].file, cases[i].spec, "1");
        printf("  %-16s %-52s off: table %d ld %d st %d close %d spills %d; on: %d %d %d %d %d\n", cases[i].file,
               cases[i].spec ? cases[i].spec : "default", off.table, off.ld, off.st, off.close, off.spill, on.table,
               on.ld, on.st, on.close, on.spill);
        if (off.table || off.ld || off.st || off.close)
            fail_msg("case %zu: the table without the switch", i);
        if (cases[i].table && (on.table != 1 || on.ld != 4 || on.st != 4 || on.close != 1))
            fail_msg("case %zu: want the table, 4 tagged loads, 4 tagged stores and one count-out", i);
        if (!cases[i].table && (on.table || on.ld || on.st || on.close))
            fail_msg("case %zu: no table here", i);
        if (on.spill > off.spill)
            fail_msg("case %zu: %d spill bytes against %d", i, on.spill, off.spill);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(table_only_under_the_switch)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
