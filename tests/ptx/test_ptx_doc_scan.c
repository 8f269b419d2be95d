/* test_ptx_doc_scan.c — the document forward's vector scan
 * (codegen/nvptx_fa2_span.c scan_rows): a causal document mask with i32 ids
 * reads its key range's ids as 16-byte vectors, eight a thread before its
 * loop and eight in it (ld.global.v4.u32, 16 in all), on sm_80 and sm_90a
 * and on the plain and the overlapped key loop; i64 ids and masks without a
 * document cut have none. The cut range is made warp-uniform
 * (nvptx_fa2_span.c warp_uniform: shfl.sync.idx of the first tile and the
 * count, and of the run's bounds where the mask has full tiles inside a
 * document, four in all), and ptxas spills nothing in these kernels. Every
 * kernel goes through ptxas when it is installed. Under TMA (sm_90a) Q's
 * copy is issued before the scan (fa2_ws_issue_q_early): the first
 * cp.async.bulk.tensor comes before the first id load. The scan's results
 * are checked on the GPU by test_gpu_documents. Without ptxas only the PTX
 * text is checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "recipe_ptx.h"

/* The forward kernel of `mask` over ids of `ids_type` (NULL: no param)
 * under spec (NULL: the default schedule) into ptx; *spill: ptxas's spill
 * bytes (-1 without ptxas). */
static void kernel_ptx(const char *name, const char *ids_type, const char *mask, const char *spec, target_arch arch,
                       strbuf *ptx, int *spill)
{
    char text[512];
    snprintf(text, sizeof text, "recipe %s\ninput q, k, v : bf16 [batch, heads, tokens, 128]\n%s%s%s\nmask %s\n",
             name, ids_type ? "param doc : " : "", ids_type ? ids_type : "", ids_type ? " [batch, tokens]" : "", mask);
    arena a;
    arena_init(&a, NULL);
    strbuf err;
    sb_init(&err);
    nvptx_status st = recipe_text_ptx(&a, name, text, strlen(text), spec, arch, NULL, ptx, &err);
    if (st)
        fail_msg("%s [%s]: %s", name, spec ? spec : "default", sb_cstr(&err));
    strbuf log;
    sb_init(&log);
    if (!ptxas_spills(sb_cstr(ptx), arch == TARGET_SM90A ? "sm_90a" : "sm_80", spill, &log))
        fail_msg("%s [%s]: ptxas refused it:\n%s", name, spec ? spec : "default", sb_cstr(&log));
    sb_free(&log);
    sb_free(&err);
    arena_free_all(&a);
}

/* Vector id loads in that kernel; *shfl: its shfl.sync.idx from lane 0
 * (the cut made warp-uniform; the boundary tiles' bit words,
 * nvptx_fa2_doc_bits.c, shuffle from register lanes). */
static int vector_loads(const char *name, const char *ids_type, const char *mask, const char *spec, target_arch arch,
                        int *shfl, int *spill)
{
    strbuf ptx;
    sb_init(&ptx);
    kernel_ptx(name, ids_type, mask, spec, arch, &ptx, spill);
    int n = ptx_count(sb_cstr(&ptx), "ld.global.v4.u32");
    *shfl = ptx_count(sb_cstr(&ptx), ", 0, 31, -1;");
    sb_free(&ptx);
    return n;
}

static void vectors_where_the_scan_reads_i32_ids(void **state)
{
    (void)state;
    static const struct {
        const char *name, *ids, *mask, *spec;
        target_arch arch;
        int want, shfl;
    } cases[] = {
        {"doc_i32", "i32", "causal && document(doc)", NULL, TARGET_SM90A, 16, 4},
        {"doc_i32", "i32", "causal && document(doc)", "q=128 kv=128 stages=2 warps=8", TARGET_SM90A, 16, 4},
        {"doc_i32", "i32", "causal && document(doc)", NULL, TARGET_SM80, 16, 4},
        {"doc_bidir", "i32", "document(doc)", NULL, TARGET_SM90A, 16, 4}, /* bounds cut to the documents too */
        {"doc_i64", "i64", "causal && document(doc)", NULL, TARGET_SM90A, 0, 4},
        {"causal", NULL, "causal", NULL, TARGET_SM90A, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int shfl, spill;
        int n = vector_loads(cases[i].name, cases[i].ids, cases[i].mask, cases[i].spec, cases[i].arch, &shfl, &spill);
        printf("  %-10s %-24s %-32s %-6s ld.global.v4.u32 %d, shfl.sync.idx %d, spills %d bytes\n", cases[i].name,
               cases[i].mask, cases[i].spec ? cases[i].spec : "default", cases[i].arch == TARGET_SM90A ? "sm_90a" : "sm_80",
               n, shfl, spill);
        if (n != cases[i].want || shfl != cases[i].shfl || spill > 0)
            fail_msg("case %zu (%s, %s): %d vector loads, %d shuffles, %d bytes of spills; want %d, %d, 0", i,
                     cases[i].name, cases[i].mask, n, shfl, spill, cases[i].want, cases[i].shfl);
    }
}

/* Under TMA the producer's thread issues Q before the document scan; the
 * plain and the overlapped key loop alike. */
static void q_copy_before_the_scan(void **state)
{
    (void)state;
    static const char *specs[] = {NULL, "q=128 kv=128 stages=2 warps=8"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        strbuf ptx;
        sb_init(&ptx);
        int spill;
        kernel_ptx("doc_i32", "i32", "causal && document(doc)", specs[i], TARGET_SM90A, &ptx, &spill);
        const char *copy = strstr(sb_cstr(&ptx), "cp.async.bulk.tensor");
        const char *scan = strstr(sb_cstr(&ptx), "ld.global.v4.u32");
        printf("  %-32s Q copy at byte %td, first id load at byte %td\n", specs[i] ? specs[i] : "default",
               copy ? copy - sb_cstr(&ptx) : -1, scan ? scan - sb_cstr(&ptx) : -1);
        if (!copy || !scan || copy > scan)
            fail_msg("%s: Q's copy does not come before the scan", specs[i] ? specs[i] : "default");
        sb_free(&ptx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(vectors_where_the_scan_reads_i32_ids),
                                       cmocka_unit_test(q_copy_before_the_scan)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
