/* test_program.c — attnc_program_build_kv_split on the CPU against the fp64
 * reference: the keys cut into 1, 2, 3 and 5 ranges, each a launch of the
 * global-coordinates forward kernel, then the LSE merge. Recipes with
 * masks that depend on global key positions (causal, windows, documents,
 * sinks, ALiBi), a mask that leaves rows without any key, cross attention,
 * GQA; shapes that do not divide the tiles, fewer keys than ranges (empty
 * ranges), BSHD. Fresh random inputs and poisoned outputs per case
 * (ref_check_kernel). Prints one line per case; exits 1 when any fails. */
#include <stdio.h>
#include <string.h>

#include "reference/ref_check.h"
#include "runtime/api/api_typed.h"

typedef struct pcase {
    const char *name, *text;
} pcase;

static const pcase cases[] = {
    {"dense", "input q, k, v : bf16 [batch, heads, tokens, 64]\n"},
    {"causal", "input q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal\n"},
    {"window", "input q, k, v : f16 [batch, heads, tokens, 64]\nmask sliding_window(37, 5)\n"},
    {"document", "input q, k, v : bf16 [batch, heads, tokens, 64]\nparam doc : i32 [batch, tokens]\n"
                 "mask causal && document(doc)\n"},
    {"no_keys", "input q, k, v : bf16 [batch, heads, tokens, 64]\nmask k.t >= q.t + 9\n"},
    {"sinks_alibi", "input q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal && (sinks(4) || "
                    "sliding_window(20, 0))\nscore s * scale + alibi_slope(head) * float(k.t - q.t)\n"},
    {"gqa_f32", "input q : f32 [batch, heads, tokens, 32]\ninput k, v : f32 [batch, kv_heads, tokens, 32]\n"
                "mask causal\n"},
    {"cross", "input q : bf16 [batch, heads, tokens, 64]\ninput k, v : bf16 [batch, heads, kv_tokens, 64]\n"
              "mask k.t <= q.t + kv_tokens - tokens\n"},
};

static const ref_shape shapes[] = {
    {.batch = 2, .heads = 3, .kv_heads = 1, .tokens = 77, .kv_tokens = 131},
    {.batch = 1, .heads = 2, .kv_heads = 1, .tokens = 200, .kv_tokens = 45, .bshd = true},
    {.batch = 1, .heads = 2, .kv_heads = 2, .tokens = 3, .kv_tokens = 4},
};

static attnc_status launch_program(void *user, attnc_kernel *k, attnc_args *a)
{
    (void)k;
    return attnc_program_launch(user, a, NULL);
}

static bool run_case(attnc_context *ctx, const pcase *c, int splits, int si, uint64_t seed)
{
    char text[1024];
    snprintf(text, sizeof text, "recipe %s\n%s", c->name, c->text);
    attnc_recipe *rc = NULL;
    attnc_program *p = NULL;
    if (attnc_recipe_from_text(&rc, ctx, c->name, text, strlen(text)) ||
        attnc_program_build_kv_split(&p, ctx, rc, splits, NULL)) {
        printf("[FAIL] %s: %s\n", c->name, attnc_context_errmsg(ctx));
        attnc_recipe_destroy(rc);
        return false;
    }
    ref_shape sh = shapes[si];
    const recipe *r = attnc_recipe_typed(rc);
    if (!r->cross)
        sh.kv_tokens = 0;
    if (!r->gqa)
        sh.kv_heads = 0;
    ref_check_opts co = {.seed = seed, .check = true, .launch = launch_program, .launch_user = p};
    ref_check_result res;
    bool ok = ref_check_kernel((attnc_kernel *)attnc_program_kernel(p), r, &sh, &co, &res);
    printf("[%s] %s splits=%d shape %d seed %llu: %s %s\n", ok ? "PASS" : "FAIL", c->name, splits, si,
           (unsigned long long)seed, res.msg, ok ? "" : attnc_program_errmsg(p));
    attnc_program_destroy(p);
    attnc_recipe_destroy(rc);
    return ok;
}

/* Misuse: a bad launch is refused before anything runs. */
static bool misuse(attnc_context *ctx)
{
    const char *text = "recipe c\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal\n";
    attnc_recipe *rc = NULL;
    attnc_program *p = NULL;
    bool ok = !attnc_recipe_from_text(&rc, ctx, "c", text, strlen(text));
    ok = ok && attnc_program_build_kv_split(&p, ctx, rc, 0, NULL) == ATTNC_ERR_INVALID_ARGUMENT && !p;
    ok = ok && !attnc_program_build_kv_split(&p, ctx, rc, 2, NULL);
    attnc_args *a = NULL;
    ok = ok && !attnc_program_args_create(&a, p);
    ok = ok && attnc_program_launch(p, a, NULL) == ATTNC_ERR_INVALID_ARGUMENT; /* nothing set */
    uint16_t q[64 * 4], kv[64 * 5], o[64 * 4];
    attnc_tensor tq = {ATTNC_BF16, q, 4, {1, 1, 4, 64}, {256, 256, 64, 1}};
    attnc_tensor tk = {ATTNC_BF16, kv, 4, {1, 1, 5, 64}, {320, 320, 64, 1}};
    attnc_tensor to = {ATTNC_BF16, o, 4, {1, 1, 4, 64}, {256, 256, 64, 1}};
    memset(o, 0x7f, sizeof o);
    ok = ok && !attnc_args_set_tensor(a, "q", &tq) && !attnc_args_set_tensor(a, "k", &tk) &&
         !attnc_args_set_tensor(a, "v", &tk) && !attnc_args_set_tensor(a, "o", &to);
    ok = ok && attnc_program_launch(p, a, NULL) == ATTNC_ERR_INVALID_ARGUMENT; /* 5 keys, 4 queries */
    ok = ok && o[0] == 0x7f7f && strstr(attnc_program_errmsg(p), "not cross-attention");
    attnc_args_destroy(a);
    attnc_program_destroy(p);
    attnc_recipe_destroy(rc);
    printf("[%s] misuse\n", ok ? "PASS" : "FAIL");
    return ok;
}

static attnc_status build_global(attnc_context *ctx, const char *text, attnc_recipe **rc, attnc_kernel **k)
{
    attnc_build_options o = ATTNC_BUILD_OPTIONS_INIT;
    o.flags = ATTNC_BUILD_GLOBAL_COORDS;
    attnc_status st = attnc_recipe_from_text(rc, ctx, "g", text, strlen(text));
    return st ? st : attnc_kernel_build(k, ctx, *rc, &o);
}

static bool has_size(const attnc_kernel *k, const char *name)
{
    for (int i = 0; i < attnc_kernel_arg_count(k); i++) {
        attnc_arg_info ai;
        if (!attnc_kernel_arg_info(k, i, &ai) && ai.role == ATTNC_ARG_SIZE && !strcmp(ai.name, name))
            return true;
    }
    return false;
}

/* A global kernel directly: its sizes, the block-inside-the-problem rule,
 * recipes it refuses. */
static bool global_kernel(attnc_context *ctx)
{
    attnc_recipe *rc = NULL;
    attnc_kernel *k = NULL;
    bool ok = !build_global(ctx, "recipe c\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal\n", &rc, &k);
    ok = ok && has_size(k, "q_offset") && has_size(k, "k_offset") && has_size(k, "tokens_global") &&
         !has_size(k, "head_offset");
    uint16_t buf[64 * 8] = {0};
    attnc_tensor t = {ATTNC_BF16, buf, 4, {1, 1, 8, 64}, {512, 512, 64, 1}};
    attnc_args *a = NULL;
    ok = ok && !attnc_args_create(&a, k) && !attnc_args_set_tensor(a, "q", &t) && !attnc_args_set_tensor(a, "k", &t) &&
         !attnc_args_set_tensor(a, "v", &t) && !attnc_args_set_tensor(a, "o", &t);
    ok = ok && !attnc_args_set_size(a, "q_offset", 0) && !attnc_args_set_size(a, "k_offset", 3) &&
         !attnc_args_set_size(a, "tokens_global", 10);
    ok = ok && attnc_launch(k, a, NULL) == ATTNC_ERR_INVALID_ARGUMENT && strstr(attnc_kernel_errmsg(k), "lies past");
    ok = ok && !attnc_args_set_size(a, "k_offset", 2) && attnc_launch(k, a, NULL) == ATTNC_OK;
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    k = NULL, rc = NULL;
    const char *lin = "recipe l\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nlinear {\n  causal\n"
                      "  split block 64 intra quadratic inter state\n}\n";
    ok = ok && build_global(ctx, lin, &rc, &k) == ATTNC_ERR_UNSUPPORTED && !k;
    attnc_recipe_destroy(rc);
    rc = NULL;
    const char *clash = "recipe x\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nparam p : f32 [q_offset]\n"
                        "score s + p[0]\n";
    ok = ok && build_global(ctx, clash, &rc, &k) == ATTNC_ERR_UNSUPPORTED && !k &&
         strstr(attnc_context_errmsg(ctx), "already has a size 'q_offset'");
    attnc_recipe_destroy(rc);
    printf("[%s] global kernel\n", ok ? "PASS" : "FAIL");
    return ok;
}

int main(void)
{
    attnc_context *ctx;
    if (attnc_context_create(&ctx, NULL))
        return 1;
    static const int splits[] = {1, 2, 3, 5};
    int failed = !misuse(ctx) + !global_kernel(ctx);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int s = 0; s < 4; s++)
            for (int si = 0; si < 3; si++)
                failed += !run_case(ctx, &cases[i], splits[s], si, 1000 * i + 10 * (uint64_t)s + (uint64_t)si + 1);
    attnc_context_destroy(ctx);
    printf("%s\n", failed ? "FAILED" : "OK");
    return failed ? 1 : 0;
}
