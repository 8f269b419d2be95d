/* test_gpu_radial.c — the CUDA backend against the fp64 reference on
 * Radial Attention's masks (radial, radial_token) over many frames: frames
 * that divide no tile, key tiles across a frame boundary, token counts that
 * end inside a frame, decays below and above 1, sink on and off, blocks
 * wider than the band, and a frame shorter than the key tile (no key-frame
 * hoisting there). Each case runs with ATTNC_MASK_FRAMES=0 and 1
 * (codegen/nvptx_fa2_frames.c: the mask's key-frame subtrees computed once
 * per tile and row, tiles across a frame boundary classified by their
 * parts; part of kernel cache keys, so each mode gets its own kernels)
 * under auto, mma.sync with small key tiles, the sm_90a TMA producer with
 * 64-key tiles and the ping-pong loop (overlap=2); then with
 * ATTNC_TMA_SKIP_EMPTY=1 too (nvptx_fa2_ws.c: the TMA producer copies no
 * tile the class proves empty) under the two TMA-producer schedules. Device outputs are poisoned before each
 * launch. Without a driver: "skipped: no CUDA driver". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_case.h"

typedef struct radial_case {
    const char *mask;
    int dim;
    int64_t tokens;
} radial_case;

static const radial_case cases[] = {
    {"radial(frame: 200, block: 64, decay: 1, sink: true)", 128, 1400},
    {"radial(frame: 333, block: 128, decay: 0.5, sink: false)", 64, 1700},
    {"radial(frame: 130, block: 32, decay: 1.5, sink: true)", 128, 1300},
    {"radial(frame: 257, block: 16, decay: 0.25, sink: false)", 64, 1542},
    {"radial_token(frame: 300, window: 200)", 128, 1500},
    {"radial(frame: 1560, block: 128, decay: 1, sink: true)", 128, 3200},
    {"radial(frame: 40, block: 16, decay: 1, sink: true)", 64, 800}, /* frame < key tile */
};

static const char *const schedules[] = {NULL, "q=64 kv=16 stages=3 warps=4 mma=sync",
                                        "q=128 kv=64 stages=2 warps=8 mma=wgmma_ws",
                                        "q=128 kv=128 stages=2 warps=8 overlap=2"};
enum { NSCHED = sizeof schedules / sizeof schedules[0] };

/* mode 0: both switches off; 1: ATTNC_MASK_FRAMES=1; 2: and
 * ATTNC_TMA_SKIP_EMPTY=1 (the TMA producer copies no empty tile; only the
 * schedules with a TMA producer). */
static int run_mode(int mode, uint64_t *seed)
{
    setenv("ATTNC_MASK_FRAMES", mode ? "1" : "0", 1);
    setenv("ATTNC_TMA_SKIP_EMPTY", mode == 2 ? "1" : "0", 1);
    printf("ATTNC_MASK_FRAMES=%d ATTNC_TMA_SKIP_EMPTY=%d\n", mode > 0, mode == 2);
    attnc_context *ctx;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[256], name[32];
        snprintf(body, sizeof body, "input q, k, v : bf16 [batch, heads, tokens, %d]\nmask %s\n", cases[i].dim,
                 cases[i].mask);
        snprintf(name, sizeof name, "radial%zu", i);
        ref_shape shape = {.batch = 1, .heads = 1, .tokens = cases[i].tokens}; /* the fp64 reference runs on the host */
        printf("%s: %s, %lld tokens\n", name, cases[i].mask, (long long)cases[i].tokens);
        for (int s = 0; s < NSCHED; s++)
            if (mode < 2 || s == 0 || s == 2)
                failed += gpu_check_text_line(ctx, name, body, &shape, schedules[s], (*seed)++);
    }
    attnc_context_destroy(ctx);
    return failed;
}

static void radial_on_gpu(void **state)
{
    (void)state;
    uint64_t seed = 4000;
    int failed = run_mode(0, &seed) + run_mode(1, &seed) + run_mode(2, &seed);
    unsetenv("ATTNC_MASK_FRAMES");
    unsetenv("ATTNC_TMA_SKIP_EMPTY");
    assert_int_equal(failed, 0);
}

int main(void)
{
    if (!gpu_available())
        return 0;
    const struct CMUnitTest tests[] = {cmocka_unit_test(radial_on_gpu)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
