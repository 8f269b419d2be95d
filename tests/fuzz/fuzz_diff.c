/*
 * fuzz_diff.c — the differential fuzzer: libFuzzer bytes -> a valid random
 * recipe and shape (recipe_gen.c) -> the CPU backend through the public
 * API -> compared with the fp64 reference (tests/reference) under the
 * dtype's tolerance, NaN never passing; then the same launch on one thread
 * must give the same bytes as on three.
 *
 * A recipe the front end rejects, a kernel build or launch that fails for
 * any reason but an argument the runtime documents as invalid (a window
 * larger than a grid dim), a mismatch or a thread-count difference prints
 * the recipe, the shape and the reason, then calls abort(), which libFuzzer
 * reports like a crash. ATTNC_FUZZ_PRINT=1 prints every case (=text: only
 * the recipe text on stdout, and nothing is run: seeds for fuzz_pipeline);
 * ATTNC_FUZZ_HOSTILE=1 lets the generator write huge integer constants
 * (the overflow cases of issue #12, off by default). The same file builds
 * with gcc and replay_main.c for ctest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recipe_gen.h"
#include "reference/ref_capture.h"
#include "reference/ref_check.h"
#include "runtime/api/api_typed.h"
#include "runtime/include/attnc.h"

static bool env_on(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

static void print_case(gen_case *c)
{
    const ref_shape *s = &c->shape;
    fprintf(stderr, "---- recipe\n%s---- shape batch=%lld heads=%lld kv_heads=%lld tokens=%lld kv_tokens=%lld "
                    "grid=%lldx%lldx%lld%s seed=%llu\n",
            sb_cstr(&c->text), (long long)s->batch, (long long)s->heads, (long long)s->kv_heads,
            (long long)s->tokens, (long long)s->kv_tokens, (long long)s->grid[0], (long long)s->grid[1],
            (long long)s->grid[2], s->bshd ? " bshd" : "", (unsigned long long)c->seed);
}

/* Prints the case and what went wrong, then aborts: a finding. */
static void finding(gen_case *c, const char *what, const char *detail)
{
    print_case(c);
    fprintf(stderr, "fuzz_diff: %s: %s\n", what, detail);
    abort();
}

/* One launch on `threads` threads; false when it did not run. */
static bool launch(attnc_kernel *k, const recipe *r, gen_case *c, const char *threads, bool check, ref_capture *cap,
                   ref_check_result *res)
{
    setenv("ATTNC_NUM_THREADS", threads, 1);
    ref_mem_ops mem = ref_capture_ops(cap);
    ref_check_opts co = {.seed = c->seed, .check = check, .mem = &mem};
    ref_check_kernel(k, r, &c->shape, &co, res);
    return res->launched && cap->n == 2;
}

static void run_kernel(attnc_kernel *k, const recipe *r, gen_case *c)
{
    ref_capture three = {0}, one = {0};
    ref_check_result res;
    if (!launch(k, r, c, "3", true, &three, &res)) {
        ref_capture_clear(&three);
        if (res.status == ATTNC_ERR_INVALID_ARGUMENT && strstr(res.msg, "neighborhood window"))
            return; /* a grid dim smaller than the window: the documented launch-time check */
        finding(c, "launch failed", res.msg);
    }
    if (!res.ok)
        finding(c, "CPU backend differs from the fp64 reference", res.msg);
    if (!launch(k, r, c, "1", false, &one, &res))
        finding(c, "the one-thread launch failed", res.msg);
    bool same = ref_capture_same(&three, &one);
    ref_capture_clear(&three);
    ref_capture_clear(&one);
    if (!same)
        finding(c, "outputs differ between 1 and 3 threads", "not bit-identical");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gen_case c;
    setenv("ATTNC_NO_TUNED", "1", 1); /* `tile auto` runs the default schedule: no tuning database read */
    gen_case_make(data, size, env_on("ATTNC_FUZZ_HOSTILE"), &c);
    const char *print = getenv("ATTNC_FUZZ_PRINT");
    if (print && !strcmp(print, "text")) {
        fputs(sb_cstr(&c.text), stdout);
        sb_free(&c.text);
        return 0;
    }
    if (env_on("ATTNC_FUZZ_PRINT"))
        print_case(&c);
    attnc_context *ctx = NULL;
    attnc_recipe *rc = NULL;
    attnc_kernel *k = NULL;
    if (attnc_context_create(&ctx, NULL))
        finding(&c, "context", "out of memory");
    const char *text = sb_cstr(&c.text);
    if (attnc_recipe_from_text(&rc, ctx, "fz.attn", text, strlen(text)))
        finding(&c, "the front end rejects a generated recipe", attnc_context_errmsg(ctx));
    attnc_status st = attnc_kernel_build(&k, ctx, rc, NULL);
    if (st)
        finding(&c, "the CPU kernel does not build", attnc_context_errmsg(ctx));
    recipe r = *attnc_recipe_typed(rc);
    run_kernel(k, &r, &c);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    attnc_context_destroy(ctx);
    sb_free(&c.text);
    return 0;
}
