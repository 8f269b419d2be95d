/*
 * jit_host.c — embedding attnc as a JIT library through attnc.h.
 *
 *   jit_host [RECIPE.attn [bf16|f16|f32 [HEAD_DIM [TOKENS]]]]
 *
 * Builds the recipe for the CPU backend, fills q, k, v with reproducible
 * random values, launches, and prints a checksum of the output (the sum and
 * the sum of absolute values of o, and a short FNV hash of its bytes), so a
 * CUDA or AOT build of the same recipe can be compared with it. Defaults:
 * recipes/causal.attn, bf16, head dim 128, 1 x 2 heads x 77 tokens (not a
 * multiple of any tile). Exit status 0 on success, 1 on any error (the
 * library's message is printed).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnc.h"

typedef struct tensor_buf {
    attnc_tensor t;
    void *mem;
} tensor_buf;

static size_t dtype_bytes(attnc_dtype d)
{
    return d == ATTNC_F32 ? 4 : 2;
}

/* Element i of a bf16/f16/f32 buffer as a float (attnc's exact widening). */
static float from_bits(attnc_dtype d, const void *p, size_t i)
{
    if (d == ATTNC_F32)
        return ((const float *)p)[i];
    float f;
    (d == ATTNC_F16 ? attnc_f16_to_f32 : attnc_bf16_to_f32)((const uint16_t *)p + i, &f, 1);
    return f;
}

/* Dense [b, h, t, d] tensor; random values in [-1, 1) when seed != 0. */
static int make_tensor(tensor_buf *tb, attnc_dtype dt, int64_t b, int64_t h, int64_t t, int64_t d, uint64_t seed)
{
    size_t n = (size_t)(b * h * t * d);
    tb->mem = calloc(n, dtype_bytes(dt));
    if (!tb->mem)
        return 1;
    tb->t = (attnc_tensor){dt, tb->mem, 4, {b, h, t, d}, {h * t * d, t * d, d, 1}};
    for (size_t i = 0; seed && i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        float v = (float)((seed >> 40) * (1.0 / (1 << 24))) * 2.0f - 1.0f;
        if (dt == ATTNC_F32)
            ((float *)tb->mem)[i] = v;
        else /* round to nearest even, as attnc.h documents */
            (dt == ATTNC_BF16 ? attnc_f32_to_bf16 : attnc_f32_to_f16)(&v, (uint16_t *)tb->mem + i, 1);
    }
    return 0;
}

static int fail(attnc_context *ctx, const char *what, attnc_status st)
{
    fprintf(stderr, "jit_host: %s: %s\n%s\n", what, attnc_status_string(st), attnc_context_errmsg(ctx));
    return 1;
}

static void print_checksum(const tensor_buf *o)
{
    size_t n = (size_t)(o->t.shape[0] * o->t.shape[1] * o->t.shape[2] * o->t.shape[3]);
    double sum = 0, abs_sum = 0;
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *bytes = o->mem;
    for (size_t i = 0; i < n; i++) {
        double v = from_bits(o->t.dtype, o->mem, i);
        sum += v;
        abs_sum += fabs(v);
    }
    for (size_t i = 0; i < n * dtype_bytes(o->t.dtype); i++)
        h = (h ^ bytes[i]) * 0x100000001b3ull;
    printf("o: %zu values, sum %.6f, sum|o| %.6f, fnv1a %016llx\n", n, sum, abs_sum, (unsigned long long)h);
}

static int run(attnc_context *ctx, const char *path, attnc_dtype dt, int64_t d, int64_t t)
{
    attnc_recipe *r = NULL;
    attnc_kernel *k = NULL;
    attnc_args *a = NULL;
    tensor_buf q = {0}, kk = {0}, v = {0}, o = {0};
    int rc = 1;
    attnc_status st = attnc_recipe_from_file(&r, ctx, path);
    if (st) {
        rc = fail(ctx, "recipe", st);
        goto done;
    }
    attnc_build_options opts = ATTNC_BUILD_OPTIONS_INIT; /* CPU backend, the recipe's tiling */
    if ((st = attnc_kernel_build(&k, ctx, r, &opts))) {
        rc = fail(ctx, "build", st);
        goto done;
    }
    printf("recipe %s, schedule \"%s\"\n", attnc_recipe_name(r), attnc_kernel_schedule(k));
    if (make_tensor(&q, dt, 1, 2, t, d, 1) || make_tensor(&kk, dt, 1, 2, t, d, 2) || make_tensor(&v, dt, 1, 2, t, d, 3) ||
        make_tensor(&o, dt, 1, 2, t, d, 0) || (st = attnc_args_create(&a, k))) {
        fprintf(stderr, "jit_host: out of memory or args: %s\n", attnc_kernel_errmsg(k));
        goto done;
    }
    if ((st = attnc_args_set_tensor(a, "q", &q.t)) || (st = attnc_args_set_tensor(a, "k", &kk.t)) ||
        (st = attnc_args_set_tensor(a, "v", &v.t)) || (st = attnc_args_set_tensor(a, "o", &o.t)) ||
        (st = attnc_launch(k, a, NULL))) {
        fprintf(stderr, "jit_host: launch: %s: %s\n", attnc_status_string(st), attnc_kernel_errmsg(k));
        goto done;
    }
    print_checksum(&o);
    rc = 0;
done:
    attnc_args_destroy(a);
    attnc_kernel_destroy(k);
    attnc_recipe_destroy(r);
    free(q.mem), free(kk.mem), free(v.mem), free(o.mem);
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "recipes/causal.attn";
    const char *dts = argc > 2 ? argv[2] : "bf16";
    attnc_dtype dt = !strcmp(dts, "f32") ? ATTNC_F32 : !strcmp(dts, "f16") ? ATTNC_F16 : ATTNC_BF16;
    int64_t d = argc > 3 ? atoll(argv[3]) : 128, t = argc > 4 ? atoll(argv[4]) : 77;
    if (d < 1 || d > 512 || t < 1 || t > 1 << 16) {
        fprintf(stderr, "usage: jit_host [RECIPE.attn [bf16|f16|f32 [HEAD_DIM [TOKENS]]]]\n");
        return 1;
    }
    printf("attnc %s\n", attnc_version());
    attnc_context *ctx = NULL;
    if (attnc_context_create(&ctx, NULL) != ATTNC_OK) {
        fprintf(stderr, "jit_host: cannot create a context\n");
        return 1;
    }
    int rc = run(ctx, path, dt, d, t);
    attnc_context_destroy(ctx);
    return rc;
}
