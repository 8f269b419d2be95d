/*
 * Malformed recipes, one per rule of docs/recipe-language.md: each case
 * pins the exact line, column and message of the first diagnostic (through
 * diag_render_brief) and checks that no recipe comes back. Case names
 * start with the section of the language spec they enforce.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"

/* Lines 1-2 of most cases; the line under test is line 3 or later. */
#define HDR "recipe t\ninput q, k, v : bf16 [batch, heads, tokens, 64]\n"
#define GRID HDR "tokens grid(y: 8, x: 16)\n"

typedef struct error_case {
    const char *name;
    const char *src;
    const char *first; /* expected first line of diag_render_brief */
} error_case;

static const error_case cases[] = {
    /* lexical structure */
    {"lexical_unexpected_character", HDR "mask k.t <= q.t $\n", "3:17: error: unexpected character '$'"},
    {"lexical_nul_byte", HDR "mask causal\n\0\n", "4:1: error: NUL byte in the recipe text"},
    {"lexical_invalid_utf8", HDR "mask \xff causal\n", "3:6: error: invalid UTF-8 byte 0xff"},
    {"lexical_invalid_utf8_in_comment", HDR "# caf\xe9\n", "3:6: error: invalid UTF-8 byte 0xe9 in a comment"},
    {"lexical_non_ascii_outside_comment", HDR "mask caus\xc3\xa9\n", "3:10: error: unexpected character '\xc3\xa9'"},
    {"lexical_integer_too_large", HDR "mask k.t < 99999999999999999999\n", "3:12: error: integer literal too large"},
    /* sections */
    {"sections_unknown_section", HDR "maks causal\n", "3:1: error: unknown section 'maks'"},
    {"sections_duplicate_mask", HDR "mask causal\nmask causal\n", "4:1: error: duplicate 'mask' section"},
    {"sections_missing_recipe_line", "input q, k, v : bf16 [batch, heads, tokens, 64]\n",
     "1:1: error: missing 'recipe NAME' line"},
    {"sections_recipe_needs_name", "recipe\n", "1:7: error: expected the recipe's name, found end of line"},
    {"sections_trailing_tokens", HDR "mask causal causal\n",
     "3:13: error: expected end of line after the 'mask' section, found 'causal'"},
    {"sections_not_a_section", HDR "42\n",
     "3:1: error: expected a section (recipe, input, tokens, param, scale, mask, score, linear, tile), found a number"},
    /* inputs */
    {"inputs_missing_v", "recipe t\ninput q, k : bf16 [batch, heads, tokens, 64]\n", "2:1: error: missing input 'v'"},
    {"inputs_unknown_dtype", "recipe t\ninput q, k, v : bf61 [batch, heads, tokens, 64]\n",
     "2:17: error: unknown element type 'bf61' (q, k and v are bf16, f16 or f32)"},
    {"inputs_head_dim_unsupported", "recipe t\ninput q, k, v : f16 [batch, heads, tokens, 80]\n",
     "2:44: error: head dimension 80 is not supported (16, 32, 64, 96, 128 or 256)"},
    {"inputs_bad_shape", "recipe t\ninput q, k, v : f16 [batch, tokens, heads, 64]\n",
     "2:29: error: the shape of q must be [batch, heads, tokens, HEAD_DIM]"},
    {"inputs_dtype_mismatch", "recipe t\ninput q : f16 [batch, heads, tokens, 64]\ninput k, v : bf16 [batch, heads, tokens, 64]\n",
     "3:14: error: q, k and v must share one element type (q is f16, k is bf16)"},
    {"inputs_unknown_input", "recipe t\ninput q, k, v, w : f16 [batch, heads, tokens, 64]\n",
     "2:16: error: an input line declares at most q, k and v"},
    {"inputs_declared_twice", "recipe t\ninput q, k, v : f16 [batch, heads, tokens, 64]\ninput q : f16 [batch, heads, tokens, 64]\n",
     "3:7: error: input 'q' is declared twice"},
    {"inputs_kv_disagree", "recipe t\ninput q, k : f16 [batch, heads, tokens, 64]\ninput v : f16 [batch, kv_heads, tokens, 64]\n",
     "3:23: error: k and v must agree: k has 'heads' here, v has 'kv_heads'"},
    /* token grid */
    {"grid_reserved_name", HDR "tokens grid(t: 8, x: 8)\n", "3:13: error: 't' is reserved and cannot name a grid dimension"},
    {"grid_too_many_dims", HDR "tokens grid(a: 2, b: 2, c: 2, d: 2)\n", "3:31: error: a token grid has at most 3 dimensions"},
    {"grid_zero_extent", HDR "tokens grid(y: 0, x: 8)\n", "3:16: error: grid extent must be from 1 to 16777216, not 0"},
    {"grid_needs_grid_keyword", HDR "tokens mesh(y: 8)\n", "3:8: error: expected 'grid', found 'mesh'"},
    /* params */
    {"params_unknown_dtype", HDR "param doc : int [tokens]\n",
     "3:13: error: unknown element type 'int' (params are bf16, f16, f32, i32, i64 or u8)"},
    {"params_reserved_name", HDR "param head : f32 [heads]\n", "3:7: error: 'head' is already a name in the language"},
    {"params_wrong_index_count", HDR "param doc : i32 [batch, tokens]\nmask doc[q.t] == doc[k.t]\n",
     "4:6: error: 'doc' has 2 dimensions but 1 index is given"},
    {"params_float_index", HDR "param b : f32 [heads]\nscore s + b[1.5]\n", "4:13: error: an index of 'b' must be an int, not float"},
    {"params_tensor_needs_index", HDR "param b : f32 [heads]\nscore s + b\n",
     "4:11: error: 'b' is a tensor with 1 dimension; index it like b[...]"},
    /* names */
    {"names_unknown_name_suggests", HDR "mask k.t <= q.t + windw\n", "3:19: error: unknown name 'windw'"},
    {"names_unknown_coordinate", GRID "mask k.z <= q.y\n", "4:8: error: unknown coordinate 'k.z'"},
    {"names_coordinate_needs_side", HDR "mask t.t <= q.t\n", "3:6: error: only q and k have coordinates, not 't'"},
    {"names_bare_t", HDR "mask t < 3\n", "3:6: error: 't' alone is not a coordinate here"},
    {"names_bare_q", HDR "mask q < 3\n", "3:6: error: 'q' needs a coordinate, e.g. q.t"},
    {"names_unknown_function", HDR "score s * scale + sigmoid(s)\n", "3:19: error: unknown function 'sigmoid'"},
    {"names_unknown_form_suggests", GRID "mask neighbourhood(window: (3, 3))\n",
     "4:6: error: unknown mask form or function 'neighbourhood'"},
    {"names_score_in_mask", HDR "mask s > 0.0\n", "3:6: error: 's' can only be used in a score expression"},
    {"names_form_in_score", HDR "score select(causal, s, 0.0)\n", "3:14: error: the mask form 'causal' can only be used in a mask"},
    /* types */
    {"types_mask_must_be_bool", HDR "mask q.t - k.t\n", "3:6: error: a mask must be a bool expression, not int"},
    {"types_and_needs_bool", HDR "mask causal && 1\n", "3:16: error: '&&' needs a bool, not int"},
    {"types_arith_on_bool", HDR "mask (k.t < q.t) + 1 > 0\n", "3:6: error: '+' needs a number, not bool"},
    {"types_mod_needs_int", HDR "score s % 2\n", "3:9: error: '%' needs int operands, not float"},
    {"types_not_needs_bool", HDR "mask !q.t\n", "3:7: error: '!' needs a bool, not int"},
    {"types_score_not_bool", HDR "score s > 0.0\n", "3:7: error: a score must be a number, not bool"},
    {"types_division_by_zero", HDR "mask k.t / 0 < q.t\n", "3:12: error: division by zero"},
    {"types_comparisons_do_not_chain", HDR "mask 0 <= k.t <= q.t\n", "3:15: error: comparisons do not chain"},
    {"types_tuple_outside_form", HDR "mask (1, 2) == 1\n", "3:6: error: a tuple is only allowed as an argument of a mask form"},
    /* functions */
    {"functions_wrong_arity", HDR "score min(s)\n", "3:7: error: 'min' takes 2 arguments, not 1"},
    {"functions_no_keywords", HDR "score softcap(s, cap: 30.0)\n", "3:18: error: 'softcap' takes no keyword arguments"},
    /* mask forms */
    {"forms_sliding_window_arity", HDR "mask sliding_window(3)\n", "3:6: error: 'sliding_window' needs the argument 'right'"},
    {"forms_sinks_too_many", HDR "mask sinks(4, 5)\n", "3:15: error: 'sinks' takes 1 argument, not 2"},
    {"forms_unknown_keyword", GRID "mask neighborhood(windw: (3, 3))\n", "4:19: error: 'neighborhood' has no argument 'windw'"},
    {"forms_argument_twice", GRID "mask neighborhood((3, 3), window: (3, 3))\n",
     "4:27: error: argument 'window' of 'neighborhood' is given twice"},
    {"forms_needs_arguments", HDR "mask sinks\n", "3:6: error: 'sinks' needs arguments: sinks(n)"},
    {"forms_constant_argument", HDR "mask sliding_window(q.t, 0)\n",
     "3:21: error: argument 'left' of 'sliding_window' must be a constant integer"},
    {"forms_negative_argument", HDR "mask sliding_window(-1, 0)\n",
     "3:21: error: argument 'left' of 'sliding_window' must be at least 0, not -1"},
    {"forms_window_larger_than_grid", GRID "mask neighborhood(window: (9, 7))\n",
     "4:27: error: window 9 is larger than the grid's y extent 8"},
    {"forms_dilation_times_window_exceeds_extent", GRID "mask neighborhood(window: (3, 7), dilation: (1, 3))\n",
     "4:27: error: window 7 with dilation 3 spans 21 tokens, more than the grid's x extent 16"},
    {"forms_stride_larger_than_window", GRID "mask neighborhood(window: (3, 3), stride: (4, 1))\n",
     "4:43: error: stride 4 is larger than the window 3 in dimension y"},
    {"forms_stride_on_causal_dim", GRID "mask neighborhood(window: (3, 3), stride: (2, 1), causal: (true, false))\n",
     "4:43: error: stride 2 on the causal dimension y: causal dimensions need stride 1"},
    {"forms_tuple_size", GRID "mask neighborhood(window: (3, 3, 3))\n",
     "4:27: error: 'window' needs 2 values, one per grid dimension, not 3"},
    {"forms_window_zero", HDR "mask neighborhood(window: 0)\n",
     "3:27: error: argument 'window' of 'neighborhood' must be at least 1, not 0"},
    {"forms_document_needs_param", HDR "mask document(ids)\n", "3:15: error: argument 'ids' of 'document' must name a param"},
    {"forms_document_dtype", HDR "param ids : f32 [tokens]\nmask document(ids)\n",
     "4:15: error: param 'ids' of 'document' must be i32 or i64, not f32"},
    {"forms_blocks_shape", HDR "param tb : u8 [tokens, heads, nqb, nkb]\nmask blocks(tb, bq: 64, bk: 64)\n",
     "4:13: error: block table 'tb' must have shape [nqb, nkb], [heads, nqb, nkb] or [batch, heads, nqb, nkb]"},
    {"forms_neighborhood_needs_self_attention",
     "recipe t\ninput q : f16 [batch, heads, tokens, 64]\ninput k, v : f16 [batch, heads, kv_tokens, 64]\n"
     "mask neighborhood(window: 5)\n",
     "4:6: error: 'neighborhood' needs k and v over the query's tokens, but they use kv_tokens"},
    {"inputs_cross_attention_has_no_grid",
     "recipe t\ninput q : f16 [batch, heads, tokens, 64]\ninput k, v : f16 [batch, heads, kv_tokens, 64]\n"
     "tokens grid(y: H, x: W)\n",
     "3:33: error: a recipe with a token grid needs k and v over the same tokens as q"},
    /* scale and score */
    {"scale_not_constant", HDR "scale = head\n", "3:9: error: scale must be a constant number"},
    {"scale_not_positive", HDR "scale = -0.5\n", "3:9: error: scale must be a positive finite number"},
    {"scale_needs_assign", HDR "scale 0.5\n", "3:7: error: expected '=' after 'scale' (write scale = 0.125), found a number"},
    /* expressions */
    {"expressions_unclosed_paren", HDR "mask (k.t <= q.t\n", "3:17: error: expected ')', found end of line"},
    {"expressions_missing_operand", HDR "mask k.t <= \n", "4:1: error: expected an expression, found end of line"},
    {"expressions_too_deep", HDR "mask ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
                                 "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((\n",
     "3:133: error: expression nested too deeply (more than 128 levels)"},
    /* linear attention */
    {"linear_needs_causality", HDR "linear {\n  feature elu1\n}\n", "3:1: error: the linear section must say 'causal' or 'noncausal'"},
    {"linear_with_mask", HDR "mask causal\nlinear {\n  causal\n}\n", "3:1: error: a linear attention recipe cannot have a 'mask' section"},
    {"linear_unknown_feature", HDR "linear {\n  causal\n  feature elu\n}\n", "5:11: error: unknown feature map 'elu'"},
    {"linear_decay_noncausal", HDR "param d : f32 [heads]\nlinear {\n  noncausal\n  decay d[head]\n}\n",
     "6:3: error: decay needs a causal linear attention"},
    {"linear_decay_shape", HDR "param d : f32 [heads]\nlinear {\n  causal\n  decay d[batch]\n}\n",
     "6:9: error: decay must index a param by head (per head) or by batch, head, t (per token)"},
    {"linear_block_size", HDR "linear {\n  causal\n  split block 48\n}\n",
     "5:15: error: linear block must be a power of two from 16 to 256, not 48"},
    {"linear_missing_brace", HDR "linear {\n  causal\ntile auto\n", "5:1: error: missing '}' to close the linear section opened at line 3"},
    {"linear_unknown_item", HDR "linear {\n  casual\n}\n", "4:3: error: unknown linear attention item 'casual'"},
    {"linear_on_grid", GRID "linear {\n  causal\n}\n", "3:8: error: linear attention runs over a token sequence, not a grid"},
    /* tile */
    {"tile_not_power_of_two", HDR "tile q(96) kv(64)\n",
     "3:1: error: this tile cannot work: tile extents must be powers of two (dim 0: q 96, kv 64)"},
    {"tile_too_many_tokens", HDR "tile q(512) kv(64)\n",
     "3:1: error: this tile cannot work: a tile holds at most 256 tokens (query tile 512, key tile 64)"},
    {"tile_grid_dims_named", GRID "tile q(8, 16) kv(y: 8, x: 8)\n", "4:8: error: q(...) extents must be named by the grid's dimensions"},
    {"tile_grid_dim_missing", GRID "tile q(y: 8) kv(y: 8, x: 8)\n", "4:7: error: q(...) gives no extent for grid dimension 'x'"},
    {"tile_sequence_takes_number", HDR "tile q(y: 128) kv(64)\n", "3:8: error: the recipe has no token grid: q(...) takes one number"},
    {"tile_unknown_option", HDR "tile q(128) kv(64) stage 2\n", "3:20: error: unknown tile option 'stage'"},
    {"tile_option_twice", HDR "tile q(64) kv(64) warps 4 warps 8\n", "3:27: error: 'warps' is given twice in the tile section"},
    {"tile_auto_with_options", HDR "tile auto stages 2\n", "3:11: error: expected end of line after the 'tile' section, found 'stages'"},
    {"tile_stages_range", HDR "tile q(64) kv(64) stages 9\n", "3:1: error: this tile cannot work: stages must be 1 to 4, not 9"},
};

static void first_diag_matches(void **state)
{
    const error_case *c = *state;
    arena a;
    arena_init(&a, NULL);
    size_t len = strlen(c->src);
    if (!strcmp(c->name, "lexical_nul_byte"))
        len += 2; /* the case holds an embedded NUL and a newline after it */
    diag_list d;
    diag_list_init(&d, &a, "t.attn", c->src, len);
    recipe *r = frontend_parse(&a, "t.attn", c->src, len, &d);
    strbuf out;
    sb_init(&out);
    diag_render_brief(&d, &out);
    const char *text = sb_cstr(&out);
    const char *nl = strchr(text, '\n');
    char first[512] = "";
    snprintf(first, sizeof first, "%.*s", nl ? (int)(nl - text) : (int)strlen(text), text);
    if (strcmp(first, c->first))
        print_error("case %s\nall diagnostics:\n%s", c->name, text);
    assert_string_equal(first, c->first);
    assert_null(r);
    assert_true(d.errors >= 1);
    sb_free(&out);
    arena_free_all(&a);
}

/* Several errors in one file are all reported (recovery at the next line). */
static void sections_recovery_reports_every_bad_line(void **state)
{
    const char *src = "recipe t\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nmaks causal\n"
                      "score s * scal\ntile q(96) kv(64)\n";
    arena a;
    arena_init(&a, NULL);
    diag_list d;
    diag_list_init(&d, &a, "t.attn", src, strlen(src));
    assert_null(frontend_parse(&a, "t.attn", src, strlen(src), &d));
    strbuf out;
    sb_init(&out);
    diag_render_brief(&d, &out);
    assert_string_equal(sb_cstr(&out), "3:1: error: unknown section 'maks'\n"
                                        "4:11: error: unknown name 'scal'\n"
                                        "5:1: error: this tile cannot work: tile extents must be powers of two "
                                        "(dim 0: q 96, kv 64)\n");
    sb_clear(&out);
    diag_render(&d, &out);
    assert_non_null(strstr(sb_cstr(&out), "t.attn:3:1: error: unknown section 'maks'\n"
                                          "    3 | maks causal\n"
                                          "      | ^~~~\n"
                                          "  hint: write 'mask'\n"));
    assert_non_null(strstr(sb_cstr(&out), "  hint: write 'scale'\n"));
    sb_free(&out);
    arena_free_all(&a);
}

/* Hints name the nearest known word: forms, keyword arguments, coordinates. */
static void names_hints_suggest_the_nearest_name(void **state)
{
    const char *src = "recipe t\ninput q, k, v : bf16 [batch, heads, tokens, 64]\ntokens grid(y: H, x: W)\n"
                      "mask neighbourhood(window: (3, 3)) || neighborhood(widow: (3, 3)) || k.xx < 2\n";
    arena a;
    arena_init(&a, NULL);
    diag_list d;
    diag_list_init(&d, &a, "t.attn", src, strlen(src));
    assert_null(frontend_parse(&a, "t.attn", src, strlen(src), &d));
    strbuf out;
    sb_init(&out);
    diag_render(&d, &out);
    const char *text = sb_cstr(&out);
    assert_non_null(strstr(text, "t.attn:4:6: error: unknown mask form or function 'neighbourhood'\n"));
    assert_non_null(strstr(text, "  hint: write 'neighborhood'\n"));
    assert_non_null(strstr(text, "t.attn:4:52: error: 'neighborhood' has no argument 'widow'\n"));
    assert_non_null(strstr(text, "  hint: write 'window'\n"));
    assert_non_null(strstr(text, "t.attn:4:72: error: unknown coordinate 'k.xx'\n"));
    assert_non_null(strstr(text, "  hint: write 'k.x'\n"));
    assert_int_equal(d.errors, 3);
    sb_free(&out);
    arena_free_all(&a);
}

/* A tile legal on the host but not on sm_80 is a warning, not an error. */
static void tile_warns_when_only_sm80_refuses(void **state)
{
    const char *src = "recipe t\ninput q, k, v : bf16 [batch, heads, tokens, 64]\ntile q(32) kv(64) warps 4\n";
    arena a;
    arena_init(&a, NULL);
    diag_list d;
    diag_list_init(&d, &a, "t.attn", src, strlen(src));
    recipe *r = frontend_parse(&a, "t.attn", src, strlen(src), &d);
    assert_non_null(r);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 1);
    strbuf out;
    sb_init(&out);
    diag_render_brief(&d, &out);
    assert_non_null(strstr(sb_cstr(&out), "3:1: warning: this tile runs on the CPU but not on sm_80 GPUs: "));
    assert_int_equal(r->sched.q_tile[0], 32);
    assert_false(r->sched.is_auto);
    sb_free(&out);
    arena_free_all(&a);
}

/* An unknown name that reads like a size or param (capitalised, one letter,
 * or near no known name) gets a declaration hint, not a respelling: 'P' is
 * no typo of 'q'. A same-letters name in another case is still respelt. */
static void names_unknown_size_or_param_hints_a_declaration(void **state)
{
    static const struct {
        const char *line, *first, *hint;
    } hints[] = {
        {"mask q.t < P\n", "3:12: error: unknown name 'P'",
         "declare it: 'param P : i32' (a value given at launch), or make it a size by naming it in a param's shape"},
        {"mask k.t < q.t + x\n", "3:18: error: unknown name 'x'",
         "declare it: 'param x : i32' (a value given at launch), or make it a size by naming it in a param's shape"},
        {"mask k.t <= q.t + window\n", "3:19: error: unknown name 'window'",
         "declare it: 'param window : i32' (a value given at launch), or make it a size by naming it in a param's "
         "shape"},
        {"score s + Bias\n", "3:11: error: unknown name 'Bias'",
         "declare it: 'param Bias : f32' (a value given at launch), or make it a size by naming it in a param's shape"},
        {"mask doc[q.t] == doc[k.t]\n", "3:6: error: unknown name 'doc'",
         "declare it: 'param doc : i32 [...]' (a tensor given at launch, one extent per index)"},
        {"mask q.t < Tokens\n", "3:12: error: unknown name 'Tokens'", "write 'tokens'"},
        {"mask q.t < tokns\n", "3:12: error: unknown name 'tokns'", "write 'tokens'"},
        {"param doc : i32 [tokens]\nmask dco[q.t] == 0\n", "4:6: error: unknown name 'dco'", "write 'doc'"},
    };
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++) {
        char src[256], want[512];
        snprintf(src, sizeof src, HDR "%s", hints[i].line);
        arena a;
        arena_init(&a, NULL);
        diag_list d;
        diag_list_init(&d, &a, "t.attn", src, strlen(src));
        assert_null(frontend_parse(&a, "t.attn", src, strlen(src), &d));
        strbuf out;
        sb_init(&out);
        diag_render_brief(&d, &out);
        snprintf(want, sizeof want, "%s\n", hints[i].first);
        if (strncmp(sb_cstr(&out), want, strlen(want)))
            print_error("case %zu: %s", i, sb_cstr(&out));
        assert_int_equal(strncmp(sb_cstr(&out), want, strlen(want)), 0); /* the first diagnostic */
        sb_clear(&out);
        diag_render(&d, &out);
        snprintf(want, sizeof want, "  hint: %s\n", hints[i].hint);
        if (!strstr(sb_cstr(&out), want))
            print_error("case %zu:\n%s", i, sb_cstr(&out));
        assert_non_null(strstr(sb_cstr(&out), want));
        sb_free(&out);
        arena_free_all(&a);
    }
}

int main(void)
{
    enum { N = sizeof cases / sizeof *cases };
    static struct CMUnitTest tests[N + 4];
    for (int i = 0; i < N; i++)
        tests[i] = (struct CMUnitTest){cases[i].name, first_diag_matches, NULL, NULL, (void *)&cases[i]};
    tests[N] = (struct CMUnitTest)cmocka_unit_test(sections_recovery_reports_every_bad_line);
    tests[N + 1] = (struct CMUnitTest)cmocka_unit_test(tile_warns_when_only_sm80_refuses);
    tests[N + 2] = (struct CMUnitTest)cmocka_unit_test(names_hints_suggest_the_nearest_name);
    tests[N + 3] = (struct CMUnitTest)cmocka_unit_test(names_unknown_size_or_param_hints_a_declaration);
    return _cmocka_run_group_tests("frontend_errors", tests, N + 4, NULL, NULL);
}
