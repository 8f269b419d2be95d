/*
 * `attnc run` with hostile and edge-case shapes (issue #12, items 13, 15,
 * 17): sizes over the limits or whose products overflow are user errors
 * (exit 1, a message naming the size and the limit) found before anything
 * is allocated; empty shapes run and check fine (exit 0). Runs the built
 * binary; also the fp64 reference's own size checks (ref_run).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reference/reference.h"
#include "runtime/api/api_typed.h"

typedef struct cli_out {
    int status;
    char out[8192], err[8192];
} cli_out;

static void read_all(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
}

/* Under AddressSanitizer (which reserves terabytes of address space) no
 * address-space limit can be set; its allocator refuses huge sizes anyway. */
#if defined(__SANITIZE_ADDRESS__)
#define MEM_LIMIT ""
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEM_LIMIT ""
#endif
#endif
#ifndef MEM_LIMIT
#define MEM_LIMIT "ulimit -v 4194304 && "
#endif

/* `attnc ARGS` from the source folder, under a memory limit of 4 GiB so a
 * shape that got past the checks fails loudly instead of swapping. */
static void attnc(const char *args, cli_out *r)
{
    char out[] = "/tmp/attnc_sizes_outXXXXXX", err[] = "/tmp/attnc_sizes_errXXXXXX";
    int fo = mkstemp(out), fe = mkstemp(err);
    assert_true(fo >= 0 && fe >= 0);
    close(fo);
    close(fe);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && " MEM_LIMIT "timeout 120 %s/bin/attnc %s >%s 2>%s", ATTNC_SOURCE_DIR,
             ATTNC_BINARY_DIR, args, out, err);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    r->status = WEXITSTATUS(st);
    read_all(out, r->out, sizeof r->out);
    read_all(err, r->err, sizeof r->err);
    unlink(out);
    unlink(err);
}

static void expect(const char *args, int status, const char *in_err)
{
    cli_out r;
    attnc(args, &r);
    if (r.status != status || (in_err && !strstr(r.err, in_err)))
        fail_msg("attnc %s: exit %d (want %d)\nstdout: %s\nstderr: %s\n(want '%s' in stderr)", args, r.status, status,
                 r.out, r.err, in_err ? in_err : "");
}

/* Each row: arguments, then what stderr must say. All exit 1. */
static void hostile_shapes(void **state)
{
    (void)state;
    static const char *const rows[][2] = {
        {"run recipes/neighborhood3d.attn --backend cpu --shape T=968973220,H=49477,W=384773",
         "the token grid T = 968973220 x H = 49477 x W = 384773 holds more than 1073741824 tokens (ATTNC_MAX_TOKENS)"},
        {"run recipes/neighborhood2d.attn --shape H=65536,W=65536",
         "the token grid H = 65536 x W = 65536 holds more than 1073741824 tokens"},
        {"run recipes/neighborhood2d.attn --shape H=32768,W=32769", "holds more than 1073741824 tokens"},
        {"run recipes/causal.attn --shape tokens=2147483647", "tokens = 2147483647 is not in 0..1073741824"},
        {"run recipes/causal.attn --shape batch=65536", "batch = 65536 is not in 0..65535 (ATTNC_MAX_BATCH)"},
        {"run recipes/causal.attn --shape heads=70000", "heads = 70000 is not in 0..65535 (ATTNC_MAX_HEADS)"},
        {"run recipes/causal.attn --shape batch=65535,heads=65535,tokens=1073741824",
         "the tensors of this shape need more than 2^63 bytes"},
        {"run recipes/gqa.attn --shape heads=3,kv_heads=2", "heads = 3 must be a multiple of kv_heads = 2"},
        {"run recipes/causal.attn --shape tokens=2147483648", "--shape wants key=integer from 0 to 2^31-1"},
        {"run recipes/causal.attn --shape tokens=-1", "--shape wants key=integer"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        expect(rows[i][0], 1, rows[i][1]);
}

/* Issue #12 item 17: an empty launch is a valid no-op. */
static void empty_shapes(void **state)
{
    (void)state;
    static const char *const rows[] = {
        "run recipes/causal.attn --shape batch=0 --check",
        "run recipes/causal.attn --shape heads=0 --check",
        "run recipes/causal.attn --shape tokens=0 --check",
        "run recipes/neighborhood2d.attn --shape H=0 --check",
        "run recipes/neighborhood3d.attn --shape T=4,H=0,W=20 --check",
        "run recipes/gqa.attn --shape heads=0,kv_heads=0 --check",
        "run recipes/lightning2.attn --shape batch=0 --check",
        "run recipes/block_sparse.attn --shape tokens=0,nqb=0 --check",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        expect(rows[i], 0, NULL);
}

/* Issue #12 item 6 through the CLI: a recipe with fixed heads and kv_heads
 * runs at its own sizes by default and checks against the reference; a
 * --shape that contradicts it is refused at launch (exit 1). */
static void fixed_size_recipe(void **state)
{
    (void)state;
    char path[64], args[256];
    snprintf(path, sizeof path, "/tmp/attnc_fixed_%d.attn", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("recipe fixed_heads\ninput q : bf16 [batch, 8, tokens, 64]\ninput k, v : bf16 [batch, 2, tokens, 64]\n"
          "mask causal && k.t + heads * 4 >= q.t\n",
          f);
    fclose(f);
    snprintf(args, sizeof args, "run %s --check", path);
    cli_out r;
    attnc(args, &r);
    if (r.status != 0 || !strstr(r.out, "heads=8 kv_heads=2") || !strstr(r.out, "\nOK"))
        fail_msg("exit %d\n%s\n%s", r.status, r.out, r.err);
    snprintf(args, sizeof args, "run %s --shape heads=4 --check", path);
    expect(args, 1, "heads = 4 (q's shape[1]) but recipe 'fixed_heads' fixes it to 8");
    unlink(path);
}

/* The reference refuses sizes over the limits or a grid that does not
 * multiply to tokens, and computes nothing (true) for an empty problem. */
static void reference_sizes(void **state)
{
    (void)state;
    static const char *text = "recipe g\ninput q, k, v : f32 [batch, heads, tokens, 16]\ntokens grid(y: H, x: W)\n";
    attnc_context *ctx;
    attnc_recipe *rc;
    assert_int_equal(attnc_context_create(&ctx, NULL), ATTNC_OK);
    assert_int_equal(attnc_recipe_from_text(&rc, ctx, "g.attn", text, strlen(text)), ATTNC_OK);
    static float buf[16];
    double o[16], lse[1];
    ref_view v = {DT_F32, buf, 4, {1, 1, 1, 16}, {16, 16, 16, 1}};
    ref_problem p = {attnc_recipe_typed(rc), {0}, v, v, v, NULL};
    const char *why = NULL;
    int64_t bad[][SZ_MAX] = {
        {1, 1, 1, 968973220LL * 49477, 968973220LL * 49477, 968973220, 49477},
        {1, 1, 1, INT64_C(1) << 32, INT64_C(1) << 32, 65536, 65536},
        {65536, 1, 1, 1, 1, 1, 1},
        {1, 1, 1, 6, 6, 2, 2},
        {1, -1, 1, 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(p.sizes, bad[i], sizeof p.sizes);
        assert_false(ref_run(&p, o, lse, &why));
        assert_non_null(strstr(why, "reference:"));
    }
    int64_t empty[SZ_MAX] = {1, 1, 1, 0, 0, 0, 7};
    memcpy(p.sizes, empty, sizeof p.sizes);
    o[0] = NAN;
    assert_true(ref_run(&p, o, lse, &why));
    assert_true(isnan(o[0])); /* nothing written */
    attnc_recipe_destroy(rc);
    attnc_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostile_shapes),
        cmocka_unit_test(empty_shapes),
        cmocka_unit_test(fixed_size_recipe),
        cmocka_unit_test(reference_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
