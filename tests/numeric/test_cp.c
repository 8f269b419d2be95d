/* test_cp.c — context parallelism with simulated ranks on the CPU against
 * the fp64 reference (the single-device result's definition): ring, zigzag
 * and Ulysses over R = 2, 4 and 8 ranks for dense, causal, sliding-window,
 * document, rows without keys, GQA, and 3-D neighborhood recipes (a token
 * grid sharded along its outermost axis in padded slabs). Fresh random
 * inputs, poisoned outputs, shapes that divide neither the tiles nor the
 * ranks, BSHD. Also checks that mask analysis skips whole blocks: a causal
 * ring computes R(R+1)/2 of the R^2 block pairs, a neighborhood only its
 * halo's. Prints one line per case; exits 1 when any fails. */
#include <stdio.h>
#include <string.h>

#include "reference/ref_check.h"
#include "runtime/api/api_typed.h"

typedef struct ccase {
    const char *name, *text;
    ref_shape shape;
} ccase;

#define SEQ(B, H, KH, T, BSHD) {.batch = B, .heads = H, .kv_heads = KH, .tokens = T, .bshd = BSHD}

static const ccase cases[] = {
    {"dense", "input q, k, v : bf16 [batch, heads, tokens, 64]\n", SEQ(2, 8, 0, 157, false)},
    {"causal", "input q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal\n", SEQ(1, 8, 0, 203, true)},
    {"window", "input q, k, v : bf16 [batch, heads, tokens, 64]\nmask sliding_window(23, 0)\n", SEQ(1, 8, 0, 190, false)},
    {"document", "input q, k, v : bf16 [batch, heads, tokens, 64]\nparam doc : i32 [batch, tokens]\n"
                 "mask causal && document(doc)\n", SEQ(2, 8, 0, 121, false)},
    {"no_keys", "input q, k, v : bf16 [batch, heads, tokens, 64]\nmask k.t >= q.t + 40\n", SEQ(1, 8, 0, 150, false)},
    {"gqa_alibi", "input q : bf16 [batch, heads, tokens, 64]\ninput k, v : bf16 [batch, kv_heads, tokens, 64]\n"
                  "mask causal\nscore s * scale + alibi_slope(head) * float(k.t - q.t)\n", SEQ(1, 8, 4, 99, false)},
    {"nbh3d", "input q, k, v : bf16 [batch, heads, tokens, 64]\ntokens grid(time: T, y: H, x: W)\n"
              "mask neighborhood(window: (3, 5, 5), causal: (true, false, false))\n",
     {.batch = 1, .heads = 8, .grid = {11, 7, 6}}},
};

static const char *const kinds[] = {"ring", "zigzag", "ulysses"};

static attnc_status launch_sim(void *user, attnc_kernel *k, attnc_args *a)
{
    (void)k;
    return attnc_cp_launch_simulated(user, a, NULL);
}

/* Block pairs a ring must compute for a causal mask: R(R+1)/2 (zigzag: all 2R x 2R pairs on or below the diagonal). */
static bool stats_ok(const ccase *c, attnc_cp_kind kind, int R, int64_t computed, int64_t skipped)
{
    if (kind == ATTNC_CP_ULYSSES)
        return computed == R && skipped == 0;
    int64_t n = kind == ATTNC_CP_ZIGZAG ? 2 * R : R;
    if (c->shape.grid[0]) /* slabs past the grid's end hold no query */
        return skipped > 0 && computed + skipped <= n * n;
    if (computed + skipped != n * n)
        return false;
    if (!strcmp(c->name, "causal") || !strcmp(c->name, "gqa_alibi"))
        return computed == n * (n + 1) / 2;
    if (!strcmp(c->name, "dense") || !strcmp(c->name, "document"))
        return skipped == 0;
    return skipped > 0; /* windows, neighborhoods, no_keys: some blocks are never fetched */
}

static bool run_case(attnc_context *ctx, const ccase *c, attnc_cp_kind kind, int R, uint64_t seed)
{
    char text[1024];
    snprintf(text, sizeof text, "recipe %s\n%s", c->name, c->text);
    attnc_recipe *rc = NULL;
    attnc_cp_plan *p = NULL;
    attnc_cp_options o = ATTNC_CP_OPTIONS_INIT;
    o.kind = kind;
    o.ranks = R;
    if (attnc_recipe_from_text(&rc, ctx, c->name, text, strlen(text)) || attnc_cp_plan_create(&p, ctx, rc, NULL, &o)) {
        printf("[FAIL] %s: %s\n", c->name, attnc_context_errmsg(ctx));
        attnc_recipe_destroy(rc);
        return false;
    }
    ref_check_opts co = {.seed = seed, .check = true, .launch = launch_sim, .launch_user = p};
    ref_check_result res;
    bool ok = ref_check_kernel((attnc_kernel *)attnc_cp_kernel(p), attnc_recipe_typed(rc), &c->shape, &co, &res);
    int64_t computed, skipped;
    attnc_cp_last_stats(p, &computed, &skipped);
    bool sok = !ok || stats_ok(c, kind, R, computed, skipped);
    printf("[%s] %s %s R=%d: %s blocks computed %lld skipped %lld%s %s\n", ok && sok ? "PASS" : "FAIL", c->name,
           kinds[kind], R, res.msg, (long long)computed, (long long)skipped, sok ? "" : " (unexpected)",
           ok ? "" : attnc_cp_errmsg(p));
    attnc_cp_plan_destroy(p);
    attnc_recipe_destroy(rc);
    return ok && sok;
}

/* Misuse and the NCCL path's status without a communicator or a GPU. */
static bool misuse(attnc_context *ctx)
{
    const char *text = "recipe c\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal\n";
    attnc_recipe *rc = NULL;
    attnc_cp_plan *p = NULL;
    attnc_cp_options o = ATTNC_CP_OPTIONS_INIT;
    bool ok = !attnc_recipe_from_text(&rc, ctx, "c", text, strlen(text));
    o.ranks = 0;
    ok = ok && attnc_cp_plan_create(&p, ctx, rc, NULL, &o) == ATTNC_ERR_INVALID_ARGUMENT && !p;
    o.ranks = 2;
    o.nccl_comm = &o; /* never dereferenced: the CPU backend has no NCCL path */
    attnc_status st = attnc_cp_plan_create(&p, ctx, rc, NULL, &o);
    ok = ok && (st == ATTNC_ERR_UNSUPPORTED || st == ATTNC_ERR_NO_DRIVER) && !p;
    o.nccl_comm = NULL;
    o.kind = ATTNC_CP_ULYSSES;
    o.ranks = 3;
    ok = ok && !attnc_cp_plan_create(&p, ctx, rc, NULL, &o);
    attnc_args *a = NULL;
    ok = ok && !attnc_cp_args_create(&a, p);
    ok = ok && attnc_cp_launch(p, a, NULL) == ATTNC_ERR_NO_DRIVER; /* no communicator */
    uint16_t buf[64 * 4 * 4] = {0};
    attnc_tensor t = {ATTNC_BF16, buf, 4, {1, 4, 4, 64}, {1024, 256, 64, 1}};
    ok = ok && !attnc_args_set_tensor(a, "q", &t) && !attnc_args_set_tensor(a, "k", &t) &&
         !attnc_args_set_tensor(a, "v", &t) && !attnc_args_set_tensor(a, "o", &t);
    ok = ok && attnc_cp_launch_simulated(p, a, NULL) == ATTNC_ERR_INVALID_ARGUMENT; /* 4 heads over 3 ranks */
    ok = ok && strstr(attnc_cp_errmsg(p), "divisible");
    attnc_args_destroy(a);
    attnc_cp_plan_destroy(p);
    attnc_recipe_destroy(rc);
    printf("[%s] misuse\n", ok ? "PASS" : "FAIL");
    return ok;
}

int main(void)
{
    attnc_context *ctx;
    if (attnc_context_create(&ctx, NULL))
        return 1;
    static const int ranks[] = {2, 4, 8};
    int failed = !misuse(ctx);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int k = 0; k < 3; k++)
            for (int r = 0; r < 3; r++) {
                if (k == ATTNC_CP_ULYSSES && cases[i].shape.kv_heads && cases[i].shape.kv_heads % ranks[r])
                    continue; /* kv heads must split over the ranks */
                failed += !run_case(ctx, &cases[i], (attnc_cp_kind)k, ranks[r], 100 * i + 10 * (uint64_t)k + (uint64_t)r + 1);
            }
    attnc_context_destroy(ctx);
    printf("%s\n", failed ? "FAILED" : "OK");
    return failed ? 1 : 0;
}
