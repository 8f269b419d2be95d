/* test_cp_ring.c — the per-rank ring of attnc_cp_launch (program_cp_ring.c,
 * the code NCCL runs) on the CPU with a loopback transport: each rank gets
 * only its own shard (ring: segment r; zigzag: segments r and 2R-1-r,
 * concatenated), ranks run one after the other, and where NCCL would
 * receive rank-1's block the transport copies that rank's shard. The
 * ranks' outputs, put back together, are compared with the fp64 reference
 * (ref_check_kernel): causal, sliding-window, document and 3-D
 * neighborhood recipes over 2 and 4 ranks. Prints one line per case. */
#include <stdio.h>
#include <string.h>

#include "reference/ref_check.h"
#include "runtime/api/api_typed.h"
#include "cp_loopback.h"

enum { MAXR = 4 };

static attnc_status launch_ranks(void *user, attnc_kernel *k, attnc_args *a)
{
    (void)k;
    return cp_loopback_launch(user, a);
}

typedef struct rcase {
    const char *name, *text;
    ref_shape shape;
} rcase;

static const rcase cases[] = {
    {"causal", "input q, k, v : bf16 [batch, heads, tokens, 64]\nmask causal\n",
     {.batch = 2, .heads = 4, .tokens = 160, .bshd = true}},
    {"window", "input q, k, v : f16 [batch, heads, tokens, 64]\nmask sliding_window(30, 0)\n",
     {.batch = 1, .heads = 4, .tokens = 240}},
    {"document", "input q, k, v : bf16 [batch, heads, tokens, 64]\nparam doc : i32 [batch, tokens]\n"
                 "mask causal && document(doc)\n", {.batch = 2, .heads = 4, .tokens = 80}},
    {"nbh3d", "input q, k, v : bf16 [batch, heads, tokens, 64]\ntokens grid(time: T, y: H, x: W)\n"
              "mask neighborhood(window: (3, 5, 5), causal: (true, false, false))\n",
     {.batch = 1, .heads = 4, .grid = {16, 6, 7}}},
};

int main(void)
{
    attnc_context *ctx;
    if (attnc_context_create(&ctx, NULL))
        return 1;
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int kind = ATTNC_CP_RING; kind <= ATTNC_CP_ULYSSES; kind++)
            for (int R = 2; R <= MAXR; R *= 2) {
                char text[1024];
                snprintf(text, sizeof text, "recipe %s\n%s", cases[i].name, cases[i].text);
                attnc_recipe *rc = NULL;
                attnc_cp_options o = ATTNC_CP_OPTIONS_INIT;
                o.kind = (attnc_cp_kind)kind;
                o.ranks = R;
                attnc_cp_plan *p = NULL;
                if (attnc_recipe_from_text(&rc, ctx, cases[i].name, text, strlen(text)) ||
                    attnc_cp_plan_create(&p, ctx, rc, NULL, &o)) {
                    printf("[FAIL] %s: %s\n", cases[i].name, attnc_context_errmsg(ctx));
                    failed++;
                    attnc_recipe_destroy(rc);
                    continue;
                }
                ref_check_opts co = {.seed = 50 + i * 10 + (uint64_t)(kind * 4 + R), .check = true,
                                     .launch = launch_ranks, .launch_user = p};
                ref_check_result res;
                bool ok = ref_check_kernel((attnc_kernel *)attnc_cp_kernel(p), attnc_recipe_typed(rc),
                                           &cases[i].shape, &co, &res);
                printf("[%s] %s %s R=%d (per rank, loopback): %s %s\n", ok ? "PASS" : "FAIL", cases[i].name,
                       (const char *[]){"ring", "zigzag", "ulysses"}[kind], R, res.msg, ok ? "" : attnc_cp_errmsg(p));
                failed += !ok;
                attnc_cp_plan_destroy(p);
                attnc_recipe_destroy(rc);
            }
    attnc_context_destroy(ctx);
    printf("%s\n", failed ? "FAILED" : "OK");
    return failed ? 1 : 0;
}
