/* test_ptx_edges.c — recipes at the edges of the semantics
 * (docs/recipe-language.md §3.10) through NVPTX and ptxas for sm_80 and
 * sm_90a: +inf / NaN logits, int masks that need 64 bits (a constant past
 * 2^31, an i64 param, a wrapping product), fixed sizes and kv_tokens. The
 * 64-bit ones must compute in 64 bits (not truncate to 32): their mask
 * compares 64-bit values, where a 32-bit mask has only the kernel's own two
 * 64-bit compares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ptxas_run.h"
#include "recipe_ptx.h"

typedef struct edge {
    const char *name;
    const char *body;   /* the recipe after its first two lines */
    bool wide;          /* the mask needs 64-bit ints */
} edge;

static const edge edges[] = {
    {"inf_logit", "mask causal\nscore s * scale + 1.0 / float(q.t - k.t - 7)\n", false},
    {"nan_logit", "mask causal\nscore s * scale + log(float(k.t - q.t + 3))\n", false},
    {"big_constant", "mask (k.t - q.t) * 3000000000 <= 0\n", true},
    {"wrap_constant", "mask abs(k.t - q.t - 9223372036854775807 - 1) > 0\n", true},
    {"i64_param", "param pos : i64 [tokens]\nmask pos[k.t] - pos[q.t] < 4294967296\n", true},
};

/* setp instructions on .s64 operands ("setp.lt.s64 \t..."). */
static int count64(const char *ptx)
{
    int n = 0;
    for (const char *p = strstr(ptx, "setp."); p; p = strstr(p + 1, "setp.")) {
        const char *sp = strchr(p, ' ');
        n += sp && sp - p > 4 && !strncmp(sp - 4, ".s64", 4);
    }
    return n;
}

static void assemble(const char *name, const char *text, bool wide)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/attnc_ptx_edge_%d_%s.attn", (int)getpid(), name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    for (int arch = 0; arch < 2; arch++) {
        const char *an = arch ? "sm_90a" : "sm_80";
        arena a;
        arena_init(&a, NULL);
        strbuf err, ptx, log;
        sb_init(&err);
        sb_init(&ptx);
        sb_init(&log);
        nvptx_status st = recipe_ptx(&a, path, NULL, arch ? TARGET_SM90A : TARGET_SM80, NULL, &ptx, &err);
        if (st)
            fail_msg("%s %s: %s", name, an, sb_cstr(&err));
        if (!ptxas_check(sb_cstr(&ptx), an, &log))
            fail_msg("%s: ptxas %s rejected the PTX:\n%s", name, an, sb_cstr(&log));
        int setp64 = count64(sb_cstr(&ptx));
        if (wide != (setp64 > 8))
            fail_msg("%s %s: %d 64-bit compares; the mask is computed in %s bits", name, an, setp64,
                     wide ? "32" : "64");
        printf("  %-14s %-6s ok\n", name, an);
        sb_free(&err);
        sb_free(&ptx);
        sb_free(&log);
        arena_free_all(&a);
    }
    unlink(path);
}

static void edge_recipes(void **state)
{
    (void)state;
    char text[1024];
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        snprintf(text, sizeof text, "recipe %s\ninput q, k, v : bf16 [batch, heads, tokens, 64]\n%s", edges[i].name,
                 edges[i].body);
        assemble(edges[i].name, text, edges[i].wide);
    }
    assemble("fixed_sizes",
             "recipe fixed_sizes\ninput q : bf16 [2, 8, tokens, 128]\ninput k, v : bf16 [2, 2, tokens, 128]\n"
             "mask causal && k.t + heads >= q.t\n",
             false);
    assemble("cross_fixed", "recipe cross_fixed\ninput q : bf16 [batch, heads, 100, 64]\n"
                            "input k, v : bf16 [batch, heads, 300, 64]\n",
             false);
}

int main(void)
{
    if (!ptxas_available()) {
        printf("skipped: no ptxas\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(edge_recipes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
