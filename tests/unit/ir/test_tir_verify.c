/* The verifier rejects hand-written broken tile IR with a message naming the
 * op (index and printed form), the operand and the rule; one test per rule.
 * Each case edits one line of a small valid kernel. */
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
    "kernel t family=softmax dtype=bf16 d=64 dv=64 grid=0 arch=host schedule=\"q=64 kv=64 stages=2 warps=4 block=64 inter=state\"\n"
    "param bias f32\n"
    "{\n"
    "  %0 = qtile : box<64>\n"
    "  %1 = load %0 { tensor=q } : tile<64x64,bf16,reg,host>\n"
    "  %2 = fill { value=-inf } : rows<64,host>\n"
    "  %3 = fill { value=0 } : rows<64,host>\n"
    "  %4 = fill { value=0 } : tile<64x64,f32,reg,host>\n"
    "  %5 = kv_range %0 { mode=all } : range\n"
    "  %6, %7, %8 = for %5, %2, %3, %4 : rows<64,host>, rows<64,host>, tile<64x64,f32,reg,host> args(%9: box<64>, %10: rows<64,host>, %11: rows<64,host>, %12: tile<64x64,f32,reg,host>) {\n"
    "    %13 = load %9 { tensor=k } : tile<64x64,bf16,shared,host>\n"
    "    %14 = dot %1, %13 { trans_b=1 } : tile<64x64,f32,reg,host>\n"
    "    %15 = tile_class %0, %9 { full=(le k.hi0 q.lo0) empty=(lt q.hi0 k.lo0) } : class\n"
    "    %16 = score %14, %0, %9, %15 { score=(mul s 0.125) mask=(le k.t q.t) base2=0 } : tile<64x64,f32,reg,host>\n"
    "    %17, %18, %19, %20 = softmax_update %16, %10, %11 { base2=0 } : tile<64x64,bf16,reg,host>, rows<64,host>, rows<64,host>, rows<64,host>\n"
    "    %21 = load %9 { tensor=v } : tile<64x64,bf16,shared,host>\n"
    "    %22 = rescale %12, %20 : tile<64x64,f32,reg,host>\n"
    "    %23 = dot %17, %21, %22 { trans_b=0 } : tile<64x64,f32,reg,host>\n"
    "    yield %18, %19, %23\n"
    "  }\n"
    "  %24, %25 = finalize %8, %6, %7 { base2=0 } : tile<64x64,bf16,reg,host>, rows<64,host>\n"
    "  store %0, %24 { tensor=o }\n"
    "  store %0, %25 { tensor=lse }\n"
    "}\n";

/* Parses base with `from` replaced by `to`; returns the error text (static). */
static const char *parse_edited(const char *from, const char *to)
{
    static char msg[4096];
    char *text = malloc(strlen(base) + strlen(to) + 1);
    const char *at = strstr(base, from);
    assert_non_null(at);
    size_t pre = (size_t)(at - base);
    memcpy(text, base, pre);
    strcpy(text + pre, to);
    strcat(text, at + strlen(from));
    arena a;
    arena_init(&a, NULL);
    strbuf err;
    sb_init(&err);
    tir_kernel *k = tir_parse(&a, text, strlen(text), &err);
    snprintf(msg, sizeof msg, "%s", k ? "" : sb_cstr(&err));
    sb_free(&err);
    arena_free_all(&a);
    free(text);
    return msg;
}

static void expect_error(const char *from, const char *to, const char *const *parts)
{
    const char *msg = parse_edited(from, to);
    for (; *parts; parts++) {
        if (!strstr(msg, *parts))
            fprintf(stderr, "message: %s\nmissing: %s\n", msg, *parts);
        assert_non_null(strstr(msg, *parts));
    }
}

#define EXPECT(from, to, ...) expect_error((from), (to), (const char *const[]){__VA_ARGS__, NULL})

static void base_kernel_is_valid(void **state)
{
    assert_string_equal(parse_edited("kernel", "kernel"), "");
}

static void dot_shapes_must_agree(void **state)
{
    EXPECT("%13 = load %9 { tensor=k } : tile<64x64", "%13 = load %9 { tensor=k } : tile<64x32", "op 8 `%14 = dot %1, %13",
           "operand 1 (%13)", "dot shapes mismatch: a is 64x64, b (transposed) is 64x32");
}

static void dot_accumulates_in_f32(void **state)
{
    EXPECT("%23 = dot %17, %21, %22 { trans_b=0 } : tile<64x64,f32", "%23 = dot %17, %21, %22 { trans_b=0 } : tile<64x64,bf16",
           "op 14 `%23 = dot", "result 0", "dot accumulates in f32");
}

static void values_are_used_inside_their_scope(void **state)
{
    EXPECT("store %0, %24 { tensor=o }", "store %0, %23 { tensor=o }", "op 17 `store %0, %23", "operand 1 (%23)",
           "value used before its definition (or outside its scope)");
}

static void values_are_defined_before_use(void **state)
{
    EXPECT("%14 = dot %1, %13", "%14 = dot %1, %21", "value used before its definition");
}

static void yield_arity_matches_for_results(void **state)
{
    EXPECT("yield %18, %19, %23", "yield %18, %19", "op 15 `yield %18, %19`", "yield arity: 2 values for a for with 3 results");
}

static void yield_types_match_for_results(void **state)
{
    EXPECT("yield %18, %19, %23", "yield %18, %19, %17", "operand 2 (%17)", "yield value type differs from for result 2");
}

static void yield_ends_the_body(void **state)
{
    EXPECT("    yield %18, %19, %23\n", "", "op 6 `%6, %7, %8 = for", "for body does not end with yield");
    EXPECT("%21 = load %9 { tensor=v }", "yield %18, %19, %12\n    %21 = load %9 { tensor=v }",
           "yield must be the last op of a for body");
}

static void for_body_args_match_inits(void **state)
{
    EXPECT("%12: tile<64x64,f32,reg,host>) {", "%12: tile<64x64,f32,reg,host>, %99: range) {",
           "for body args: expected 4 (the kv box, then one per init), found 5");
    EXPECT("args(%9: box<64>, %10: rows<64,host>", "args(%9: box<64>, %10: rows<32,host>", "operand 1 (%2)",
           "for body arg 1 (%10) must have the init's type");
    EXPECT("args(%9: box<64>", "args(%9: range", "for body arg 0 (%9) must be the key box");
}

static void for_results_match_inits(void **state)
{
    EXPECT("for %5, %2, %3, %4 : rows<64,host>, rows<64,host>", "for %5, %2, %3, %4 : rows<64,host>, rows<64,any>",
           "result 1", "for result must have the type of init 2");
}

static void softmax_update_operand_types(void **state)
{
    EXPECT("softmax_update %16, %10, %11", "softmax_update %16, %10, %12", "op 11 `%17, %18, %19, %20 = softmax_update",
           "operand 2 (%12): must be a rows, not a tile");
    EXPECT("softmax_update %16, %10, %11", "softmax_update %9, %10, %11", "operand 0 (%9): must be a tile, not a box");
}

static void score_mask_is_bool(void **state)
{
    EXPECT("mask=(le k.t q.t)", "mask=(add k.t 1)", "op 10 `%16 = score", "score's mask= must be a bool expression");
}

static void stores_write_outputs(void **state)
{
    EXPECT("store %0, %24 { tensor=o }", "store %0, %25 { tensor=o }", "operand 1 (%25): must be a tile, not a rows");
    EXPECT("%13 = load %9 { tensor=k }", "%13 = load %9 { tensor=dq }", "load reads q, k, v, o, do, dox, a param (tiles), lse or delta (rows), not dq");
}

static void load_param_exists(void **state)
{
    EXPECT("%13 = load %9 { tensor=k }", "%13 = load %9 { tensor=param param=none }", "load of param -1: the kernel has 1 params");
}

static void kv_range_bounds_are_ints(void **state)
{
    EXPECT("{ mode=all }", "{ mode=bounds lo0=true hi0=0 }", "op 5 `%5 = kv_range %0", "kv_range bounds of dim 0 must be int expressions");
}

/* Unions: 2..4 parts on a bounds range, each with int lo/hi per dim. */
static void kv_range_parts(void **state)
{
    const char *ok = "{ mode=bounds lo0=0 hi0=3 part0.lo0=0 part0.hi0=0 part1.lo0=(div q.lo0 64) part1.hi0=3 }";
    assert_string_equal(parse_edited("{ mode=all }", ok), "");
    EXPECT("{ mode=all }", "{ mode=all part0.lo0=0 part0.hi0=0 part1.lo0=1 part1.hi0=2 }",
           "parts belong to kv_range or q_range with mode=bounds (q_range: or inverse)");
    EXPECT("{ mode=all }", "{ mode=bounds lo0=0 hi0=3 part0.lo0=0 part0.hi0=0 }", "a union range has 2 to 4 parts, not 1");
    EXPECT("{ mode=all }", "{ mode=bounds lo0=0 hi0=3 part0.lo0=0 part0.hi0=0 part1.lo0=1 }",
           "part 1 of the range needs int lo0 and hi0");
    EXPECT("{ mode=all }", "{ mode=bounds lo0=0 hi0=3 part4.lo0=0 }", "part bound must be part0..part3");
}

/* Document spans: a param, on a bounds range. */
static void kv_range_span(void **state)
{
    assert_string_equal(parse_edited("{ mode=all }", "{ mode=bounds lo0=0 hi0=3 span=bias }"), "");
    EXPECT("{ mode=all }", "{ mode=all span=bias }", "span belongs to kv_range with mode=bounds");
    EXPECT("{ mode=all }", "{ mode=bounds lo0=0 hi0=3 span=nope }", "unknown param");
}

static void rescale_rows_match(void **state)
{
    EXPECT("%22 = rescale %12, %20 : tile<64x64", "%22 = rescale %1, %0 : tile<64x64", "operand 1 (%0): must be a rows, not a box");
}

static void finalize_arity(void **state)
{
    EXPECT("%24, %25 = finalize %8, %6, %7", "%24, %25 = finalize %8, %6", "finalize acc, m, l has two results (o, lse)");
}

static void tile_class_needs_exprs(void **state)
{
    EXPECT("full=(le k.hi0 q.lo0)", "full=(add k.hi0 1)", "tile_class needs bool full= and empty= expressions");
}

static void parse_errors_have_positions(void **state)
{
    const char *m = parse_edited("%14 = dot", "%14 = dott");
    if (!strstr(m, "12:15: unknown op 'dott'"))
        fprintf(stderr, "%s\n", m);
    assert_non_null(strstr(m, "12:15: unknown op 'dott'"));
    assert_non_null(strstr(parse_edited("tile<64x64,f32,reg,host> args", "tile<64x64,f99,reg,host> args"), "unknown dtype"));
    assert_non_null(strstr(parse_edited("mask=(le k.t q.t)", "mask=(le k.t q.zz)"), "in expression: bad coordinate"));
    assert_non_null(strstr(parse_edited("store %0, %25 { tensor=lse }\n}\n", "store %0, %25 { tensor=lse }\n}\nx"),
                           "text after the kernel's closing '}'"));
    assert_non_null(strstr(parse_edited("mask=(le k.t q.t)", "mask=(le k.t q.t"), "in expression: unknown name"));
    assert_non_null(strstr(parse_edited("%6, %7, %8 = for", "%6, %7, %7 = for"), "value defined twice"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base_kernel_is_valid),
        cmocka_unit_test(dot_shapes_must_agree),
        cmocka_unit_test(dot_accumulates_in_f32),
        cmocka_unit_test(values_are_used_inside_their_scope),
        cmocka_unit_test(values_are_defined_before_use),
        cmocka_unit_test(yield_arity_matches_for_results),
        cmocka_unit_test(yield_types_match_for_results),
        cmocka_unit_test(yield_ends_the_body),
        cmocka_unit_test(for_body_args_match_inits),
        cmocka_unit_test(for_results_match_inits),
        cmocka_unit_test(softmax_update_operand_types),
        cmocka_unit_test(score_mask_is_bool),
        cmocka_unit_test(stores_write_outputs),
        cmocka_unit_test(load_param_exists),
        cmocka_unit_test(kv_range_bounds_are_ints),
        cmocka_unit_test(kv_range_parts),
        cmocka_unit_test(kv_range_span),
        cmocka_unit_test(rescale_rows_match),
        cmocka_unit_test(finalize_arity),
        cmocka_unit_test(tile_class_needs_exprs),
        cmocka_unit_test(parse_errors_have_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
