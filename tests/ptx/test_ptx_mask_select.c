/* test_ptx_mask_select.c — how the forward masks a partial tile's scores
 * (codegen/nvptx_fa2_softmax.c, keep_frozen). LLVM splits a select on
 * `a && b` into one select per term; a small mask with `||` is frozen into
 * one predicate instead, so its PTX has one `selp.f32 ..., -inf` per score
 * element where its conjunction twin (the same terms without the `||`
 * branch) has one per term and element. A conjunction stays a chain
 * (frozen, the predicates of a neighborhood's many terms spill). No ptxas
 * needed: the PTX text is read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "recipe_ptx.h"

/* selp.f32 instructions whose false operand is -inf (0fFF800000). */
static int count_ninf_selects(const char *ptx)
{
    int n = 0;
    for (const char *p = strstr(ptx, "selp.f32"); p; p = strstr(p + 1, "selp.f32")) {
        const char *eol = strchr(p, '\n');
        const char *inf = strstr(p, "0fFF800000");
        n += inf && (!eol || inf < eol);
    }
    return n;
}

static int ninf_selects(const char *name, const char *mask, target_arch arch)
{
    char text[512];
    snprintf(text, sizeof text, "recipe %s\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nmask %s\n", name, mask);
    arena a;
    arena_init(&a, NULL);
    strbuf err, ptx;
    sb_init(&err);
    sb_init(&ptx);
    nvptx_status st = recipe_text_ptx(&a, name, text, strlen(text), NULL, arch, NULL, &ptx, &err);
    if (st)
        fail_msg("%s: %s", name, sb_cstr(&err));
    int n = count_ninf_selects(sb_cstr(&ptx));
    sb_free(&err);
    sb_free(&ptx);
    arena_free_all(&a);
    return n;
}

static void disjunction_is_one_select(void **state)
{
    (void)state;
    for (int arch = 0; arch < 2; arch++) {
        target_arch t = arch ? TARGET_SM90A : TARGET_SM80;
        /* without the persistent kernel's peeled first tile (ATTNC_PEEL_ALL), a third copy of the mask */
        setenv("ATTNC_PEEL_ALL", "0", 1);
        int sinks = ninf_selects("sinks_window", "causal && (sinks(4) || sliding_window(2047, 0))", t);
        unsetenv("ATTNC_PEEL_ALL");
        int twin = ninf_selects("window_only", "causal && sliding_window(2047, 0)", t);
        printf("  %s: sinks || window %d selects, window alone %d\n", arch ? "sm_90a" : "sm_80", sinks, twin);
        /* one per element against one per term (three terms and the
         * key bound) and element; a little slack for selects outside the mask */
        if (sinks <= 0 || 2 * sinks >= twin)
            fail_msg("sinks || window: %d -inf selects, its conjunction twin %d: the `||` mask is not one "
                     "predicate", sinks, twin);
    }
}

/* ATTNC_MASK_INSIDE=1 (opt-in): a sequence's partial key tile inside the
 * sequence takes a second copy of the mask without the key-bound test, so
 * the kernel holds more -inf selects; unset, the kernel is the default's. */
static void inside_tiles_copy_the_mask(void **state)
{
    (void)state;
    const char *mask = "causal && sliding_window(1023, 0)";
    int plain = ninf_selects("window", mask, TARGET_SM90A);
    setenv("ATTNC_MASK_INSIDE", "1", 1);
    int inside = ninf_selects("window", mask, TARGET_SM90A);
    setenv("ATTNC_MASK_INSIDE", "0", 1);
    int off = ninf_selects("window", mask, TARGET_SM90A);
    unsetenv("ATTNC_MASK_INSIDE");
    printf("  window 1023: %d -inf selects, %d under ATTNC_MASK_INSIDE=1, %d at =0\n", plain, inside, off);
    if (inside < plain + 64 || off != plain)
        fail_msg("ATTNC_MASK_INSIDE: %d -inf selects against %d (=0: %d): want a second mask copy under =1 only",
                 inside, plain, off);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(disjunction_is_one_select),
                                       cmocka_unit_test(inside_tiles_copy_the_mask)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
