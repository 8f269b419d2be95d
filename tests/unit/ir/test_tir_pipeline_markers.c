/* The pipeline markers of the tile IR (docs/TILE_IR.md, "Pipelining"):
 * `for {stages}`, `load {prefetch}`, `wait`, `barrier`. A valid pipelined
 * kernel parses and round trips; each verifier rule for the markers is
 * broken once by editing one line, and the message must name the rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/tile_ir.h"

static const char *const base =
    "kernel t family=softmax dtype=bf16 d=64 dv=64 grid=0 arch=sm_80 schedule=\"q=64 kv=64 stages=2 warps=4\"\n"
    "{\n"
    "  %0 = qtile : box<64>\n"
    "  %1 = load %0 { tensor=q } : tile<64x64,bf16,reg,mma_a>\n"
    "  %2 = fill { value=-inf } : rows<64,mma_acc>\n"
    "  %3 = fill { value=0 } : rows<64,mma_acc>\n"
    "  %4 = fill { value=0 } : tile<64x64,f32,reg,mma_acc>\n"
    "  %5 = kv_range %0 { mode=all } : range\n"
    "  %6, %7, %8 = for %5, %2, %3, %4 { stages=2 } : rows<64,mma_acc>, rows<64,mma_acc>, tile<64x64,f32,reg,mma_acc> args(%9: box<64>, %10: rows<64,mma_acc>, %11: rows<64,mma_acc>, %12: tile<64x64,f32,reg,mma_acc>) {\n"
    "    %13 = load %9 { tensor=k prefetch=1 } : tile<64x64,bf16,shared,smem_row>\n"
    "    wait %13 { pending=1 }\n"
    "    %14 = dot %1, %13 { trans_b=1 } : tile<64x64,f32,reg,mma_acc>\n"
    "    %15 = tile_class %0, %9 { full=(le k.hi0 q.lo0) empty=(lt q.hi0 k.lo0) } : class\n"
    "    %16 = score %14, %0, %9, %15 { score=(mul s 0.125) mask=(le k.t q.t) base2=0 } : tile<64x64,f32,reg,mma_acc>\n"
    "    %17, %18, %19, %20 = softmax_update %16, %10, %11 { base2=0 } : tile<64x64,bf16,reg,mma_a>, rows<64,mma_acc>, rows<64,mma_acc>, rows<64,mma_acc>\n"
    "    %21 = load %9 { tensor=v prefetch=1 } : tile<64x64,bf16,shared,smem_row>\n"
    "    %22 = rescale %12, %20 : tile<64x64,f32,reg,mma_acc>\n"
    "    wait %21 { pending=1 }\n"
    "    %23 = dot %17, %21, %22 { trans_b=0 } : tile<64x64,f32,reg,mma_acc>\n"
    "    barrier\n"
    "    yield %18, %19, %23\n"
    "  }\n"
    "  %24, %25 = finalize %8, %6, %7 { base2=0 } : tile<64x64,bf16,reg,mma_acc>, rows<64,mma_acc>\n"
    "  store %0, %24 { tensor=o }\n"
    "  store %0, %25 { tensor=lse }\n"
    "}\n";

/* Parses base with `from` replaced by `to`; returns the error text, "" when
 * it parsed (and then checks print -> text round trips when to == from). */
static const char *parse_edited(const char *from, const char *to)
{
    static char msg[4096];
    const char *at = strstr(base, from);
    assert_non_null(at);
    char *text = malloc(strlen(base) + strlen(to) + 1);
    assert_non_null(text);
    size_t pre = (size_t)(at - base);
    memcpy(text, base, pre);
    strcpy(text + pre, to);
    strcat(text, at + strlen(from));
    arena a;
    arena_init(&a, NULL);
    strbuf err, out;
    sb_init(&err);
    sb_init(&out);
    tir_kernel *k = tir_parse(&a, text, strlen(text), &err);
    snprintf(msg, sizeof msg, "%s", k ? "" : sb_cstr(&err));
    if (k) {
        tir_print(&out, k);
        assert_string_equal(sb_cstr(&out), text);
    }
    sb_free(&err);
    sb_free(&out);
    arena_free_all(&a);
    free(text);
    return msg;
}

static void expect_error(const char *from, const char *to, const char *const *parts)
{
    const char *msg = parse_edited(from, to);
    assert_true(msg[0] != 0);
    for (; *parts; parts++) {
        if (!strstr(msg, *parts))
            fprintf(stderr, "message: %s\nmissing: %s\n", msg, *parts);
        assert_non_null(strstr(msg, *parts));
    }
}

#define EXPECT(from, to, ...) expect_error((from), (to), (const char *const[]){__VA_ARGS__, NULL})

static void pipelined_kernel_is_valid_and_round_trips(void **state)
{
    (void)state;
    assert_string_equal(parse_edited("kernel", "kernel"), "");
    assert_string_equal(parse_edited("wait %13 { pending=1 }", "wait %13 { pending=0 }"), "");
}

static void stages_is_in_range(void **state)
{
    (void)state;
    EXPECT("{ stages=2 }", "{ stages=9 }", "for stages=9 must be in [0, 8]");
    EXPECT("{ stages=2 }", "{ stages=-1 }", "for stages=-1 must be in [0, 8]");
}

static void prefetch_needs_a_pipelined_loop(void **state)
{
    (void)state;
    /* no stages on the for: its prefetched load is the first op to fail */
    EXPECT(" { stages=2 } :", " :", "op 7 ", "prefetched load must be in the body of a for with stages >= 1");
    EXPECT("load %0 { tensor=q }", "load %0 { tensor=q prefetch=1 }", "op 1 ",
           "prefetched load must be in the body of a for with stages >= 1");
}

static void wait_pending_is_below_stages(void **state)
{
    (void)state;
    EXPECT("wait %13 { pending=1 }", "wait %13 { pending=2 }", "wait pending=2 must be in [0, stages-1 = 1]");
    EXPECT("wait %13 { pending=1 }", "wait %13 { pending=-1 }", "wait pending=-1 must be in");
    EXPECT("{ stages=2 }", "{ stages=1 }", "wait pending=1 must be in [0, stages-1 = 0]");
}

static void wait_names_a_prefetched_load_of_the_loop(void **state)
{
    (void)state;
    EXPECT("{ tensor=k prefetch=1 }", "{ tensor=k }", "operand 0 (%13)",
           "wait must name a prefetched load of the same loop body");
    EXPECT("wait %13 {", "wait %1 {", "operand 0 (%1)", "wait must name a prefetched load of the same loop body");
    EXPECT("wait %13 {", "wait %14 {", "value used before its definition");
}

static void wait_comes_before_the_first_use(void **state)
{
    (void)state;
    EXPECT("    wait %13 { pending=1 }\n    %14 = dot %1, %13 { trans_b=1 } : tile<64x64,f32,reg,mma_acc>\n",
           "    %14 = dot %1, %13 { trans_b=1 } : tile<64x64,f32,reg,mma_acc>\n    wait %13 { pending=1 }\n",
           "the tile is used before its wait (op `dot`)");
}

static void wait_is_inside_a_pipelined_loop(void **state)
{
    (void)state;
    EXPECT("  store %0, %24 { tensor=o }\n", "  wait %1 { pending=0 }\n  store %0, %24 { tensor=o }\n",
           "wait must be in the body of a for with stages >= 1");
}

static void barrier_rules(void **state)
{
    (void)state;
    EXPECT("  store %0, %24 { tensor=o }\n", "  barrier\n  store %0, %24 { tensor=o }\n",
           "barrier must be inside a for body");
    EXPECT("    barrier\n", "    barrier %13\n", "barrier takes no operands");
}

static void markers_only_on_their_ops(void **state)
{
    (void)state;
    EXPECT("{ tensor=q }", "{ tensor=q stages=2 }", "stages is an attribute of for only");
    EXPECT("{ trans_b=1 }", "{ trans_b=1 prefetch=1 }", "prefetch is an attribute of load only");
    EXPECT("{ trans_b=1 }", "{ trans_b=1 pending=1 }", "pending is an attribute of wait only");
    EXPECT("yield %18, %19, %23", "yield %18, %19, %23 { pending=1 }", "pending is an attribute of wait only");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pipelined_kernel_is_valid_and_round_trips),
        cmocka_unit_test(stages_is_in_range),
        cmocka_unit_test(prefetch_needs_a_pipelined_loop),
        cmocka_unit_test(wait_pending_is_below_stages),
        cmocka_unit_test(wait_names_a_prefetched_load_of_the_loop),
        cmocka_unit_test(wait_comes_before_the_first_use),
        cmocka_unit_test(wait_is_inside_a_pipelined_loop),
        cmocka_unit_test(barrier_rules),
        cmocka_unit_test(markers_only_on_their_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
