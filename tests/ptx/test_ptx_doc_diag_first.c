/* test_ptx_doc_diag_first.c — $ATTNC_DOC_DIAG_FIRST=1 (experimental;
 * codegen/nvptx_fa2_span.c fa2_doc_diag_first): a document kernel issues
 * its range's last key tile (the diagonal) with Q, before the cut's table
 * lookup or scan, and runs it first. Checked on the PTX: unset and =0 give
 * the default's kernel; under =1 the copies issued before the first
 * barrier after Q's are Q's two boxes plus K's and V's two each (the
 * default: Q's only), the cut's shared words leave the first slot (which
 * that copy fills) for the last one, and through ptxas (when installed)
 * the kernel spills no more than without it and keeps every product
 * asynchronous. Kernels where it does not apply (no document, persistent
 * blocks, the plain loop) are unchanged. Not yet run on a GPU. */
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
    char *ptx;
    int spill;
} marks;

static marks kernel_marks(const char *file, const char *spec, const char *value)
{
    strbuf ptx, err;
    sb_init(&ptx);
    sb_init(&err);
    marks m;
    if (!bench_recipe_ptx_env_spills(file, spec, "ATTNC_DOC_DIAG_FIRST", value, &ptx, &m.spill, &err))
        fail_msg("%s [%s]: %s", file, spec ? spec : "default", sb_cstr(&err));
    m.ptx = strdup(sb_cstr(&ptx));
    sb_free(&ptx);
    sb_free(&err);
    return m;
}

/* Tensor copies from the first one (Q's) up to the next CTA barrier. */
static int copies_before_barrier(const char *ptx)
{
    const char *at = strstr(ptx, "cp.async.bulk.tensor");
    if (!at)
        return 0;
    const char *bar = strstr(at, "bar.sync \t0;");
    int n = 0;
    for (const char *p = at; p && (!bar || p < bar); p = strstr(p + 1, "cp.async.bulk.tensor"))
        n++;
    return n;
}

static void diagonal_with_q(void **state)
{
    (void)state;
    static const struct {
        const char *file, *spec;
        bool applies;
    } cases[] = {
        {"doc_causal.attn", NULL, true},
        {"doc_causal.attn", "q=128 kv=128 stages=3 warps=8 overlap=1", true},
        {"doc_causal.attn", "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws", false}, /* the plain loop */
        {"causal_d128.attn", NULL, false},
        {"sinks_swa_w2047.attn", NULL, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        marks unset = kernel_marks(cases[i].file, cases[i].spec, NULL);
        marks off = kernel_marks(cases[i].file, cases[i].spec, "0");
        marks on = kernel_marks(cases[i].file, cases[i].spec, "1");
        int early[2] = {copies_before_barrier(off.ptx), copies_before_barrier(on.ptx)};
        int first_words[2] = {ptx_count(off.ptx, "[attnc_smem]"), ptx_count(on.ptx, "[attnc_smem]")};
        printf("  %-20s %-44s copies before the cut %d -> %d, words in the first slot %d -> %d, spills %d -> %d\n",
               cases[i].file, cases[i].spec ? cases[i].spec : "default", early[0], early[1], first_words[0],
               first_words[1], off.spill, on.spill);
        assert_string_equal(unset.ptx, off.ptx);
        if (!cases[i].applies) {
            assert_string_equal(on.ptx, off.ptx);
        } else {
            assert_int_equal(early[0], 2);
            assert_int_equal(early[1], 6);
            assert_true(first_words[0] > 0);
            assert_int_equal(first_words[1], 0);
            assert_true(on.spill <= off.spill);
            if (ptxas_available()) {
                strbuf log;
                sb_init(&log);
                const char *why = ptxas_clean(on.ptx, "sm_90a", &log);
                if (why)
                    fail_msg("%s: %s:\n%s", cases[i].file, why, sb_cstr(&log));
                sb_free(&log);
            }
        }
        free(unset.ptx), free(off.ptx), free(on.ptx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(diagonal_with_q)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
