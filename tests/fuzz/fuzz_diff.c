/*
 * fuzz_diff.c — the differential fuzzer: libFuzzer bytes -> a valid random
 * recipe and shape (recipe_gen.c) -> the CPU backend through the public
 * API -> compared with the fp64 reference (tests/reference) under the
 * dtype's tolerance, NaN never passing; then the same launch on one thread
 * must give the same bytes as on three. For one input in GRAD_EVERY (by a
 * hash of its bytes; every input when ATTNC_FUZZ_GRAD=all) the backward
 * program is built too and its gradients (dq, dk, dv, d<param>) are checked
 * against the fp64 reference (ref_check_backward), then rerun on one thread:
 * the CPU backward promises bit-identical gradients for any thread count
 * (attnc.h, attnc_kernel_build_backward).
 *
 * A recipe the front end rejects, a kernel build or launch that fails for
 * any reason but an argument the runtime documents as invalid (a window
 * larger than a grid dim) or, for the backward, a score attnc documents as
 * having no derivative (ATTNC_ERR_RECIPE), a mismatch or a thread-count
 * difference prints the recipe, the shape and the reason, then calls
 * abort(), which libFuzzer reports like a crash. ATTNC_FUZZ_PRINT=1 prints
 * every case (=text: only the recipe text on stdout, and nothing is run:
 * seeds for fuzz_pipeline); ATTNC_FUZZ_HOSTILE=1 lets the generator write
 * huge integer constants (the overflow cases of issue #12, off by
 * default). The same file builds with gcc and replay_main.c for ctest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_hash.h"
#include "recipe_gen.h"
#include "reference/ref_bwd_check.h"
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

/* False when the launch was refused as documented (nothing more to check). */
static bool run_kernel(attnc_kernel *k, const recipe *r, gen_case *c)
{
    ref_capture three = {0}, one = {0};
    ref_check_result res;
    if (!launch(k, r, c, "3", true, &three, &res)) {
        ref_capture_clear(&three);
        if (res.status == ATTNC_ERR_INVALID_ARGUMENT && strstr(res.msg, "neighborhood window"))
            return false; /* a grid dim smaller than the window: the documented launch-time check */
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
    return true;
}

/* ---- gradients ---- */

/* The gradient check costs a backward build (one JIT compile per phase of
 * the program: nearly all of its time but on the largest grids) and the
 * fp64 reference backward, about 3 times the forward's check (0.65 s
 * against 0.2 s an input under ASan), so one input in GRAD_EVERY gets it:
 * a size limit would save little and skip the big neighborhoods. The fuzzer
 * keeps over half its rate and still reaches every recipe form. The choice
 * hashes the input's bytes, so a replayed input is checked exactly as it
 * was when found. ATTNC_FUZZ_GRAD=all checks every input (the ctest replay
 * does), =0 none. */
enum { GRAD_EVERY = 4 };

static bool grad_wanted(const uint8_t *data, size_t size)
{
    const char *v = getenv("ATTNC_FUZZ_GRAD");
    if (v && !strcmp(v, "all"))
        return true;
    if (v && !strcmp(v, "0"))
        return false;
    return (fuzz_hash_bytes(data, size) >> 16) % GRAD_EVERY == 0; /* the high bits mix better */
}

/* The backward program, or NULL for the one refusal attnc documents on the
 * CPU for generated recipes: a score with no derivative (ATTNC_ERR_RECIPE,
 * attnc.h and docs/recipe-language.md §8). Built without
 * ATTNC_BUILD_DETERMINISTIC: the CPU promises bit-identical gradients
 * either way, so the one-thread rerun below checks the promise as given. */
static attnc_kernel *build_backward(attnc_context *ctx, const attnc_recipe *rc, gen_case *c)
{
    attnc_kernel *bwd = NULL;
    attnc_status st = attnc_kernel_build_backward(&bwd, ctx, rc, NULL);
    if (st == ATTNC_ERR_RECIPE && strstr(attnc_context_errmsg(ctx), "has no gradient"))
        return NULL;
    if (st)
        finding(c, "the CPU backward does not build", attnc_context_errmsg(ctx));
    return bwd;
}

static void grad_launch(attnc_kernel *fwd, attnc_kernel *bwd, const recipe *r, gen_case *c, const char *threads,
                        bool check, ref_bwd_result *res, ref_bwd_data **keep)
{
    setenv("ATTNC_NUM_THREADS", threads, 1);
    ref_check_opts co = {.seed = c->seed, .check = check};
    ref_check_backward(fwd, bwd, r, &c->shape, &co, res, keep);
}

static void run_backward(attnc_context *ctx, const attnc_recipe *rc, attnc_kernel *fwd, const recipe *r,
                         gen_case *c)
{
    attnc_kernel *bwd = build_backward(ctx, rc, c);
    if (!bwd)
        return;
    ref_bwd_result res;
    ref_bwd_data *three = NULL, *one = NULL;
    grad_launch(fwd, bwd, r, c, "3", true, &res, &three);
    if (!res.launched)
        finding(c, "the backward launch failed", res.msg);
    if (!res.ok)
        finding(c, "CPU backward gradients differ from the fp64 reference", res.msg);
    grad_launch(fwd, bwd, r, c, "1", false, &res, &one);
    if (!res.launched)
        finding(c, "the one-thread backward launch failed", res.msg);
    char which[160];
    bool same = ref_bwd_data_same(three, one, which, sizeof which);
    ref_bwd_data_free(three);
    ref_bwd_data_free(one);
    attnc_kernel_destroy(bwd);
    if (!same)
        finding(c, "gradients differ between 1 and 3 threads (not bit-identical)", which);
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
    bool grad = grad_wanted(data, size);
    if (env_on("ATTNC_FUZZ_PRINT"))
        fprintf(stderr, "---- gradients %s\n", grad ? "checked" : "not checked (not this input's turn)");
    if (run_kernel(k, &r, &c) && grad)
        run_backward(ctx, rc, k, &r, &c);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(rc);
    attnc_context_destroy(ctx);
    sb_free(&c.text);
    return 0;
}
