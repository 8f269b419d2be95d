/*
 * `attnc run --param NAME=VALUE | NAME=@FILE` (attnc run --help): the
 * values reach both the kernel and the fp64 reference — seen in the count
 * of query rows left with no key, which each recipe below makes depend on
 * the param (200 tokens, 2 heads: 400 rows) — from a number, a .npy file
 * (ints, f64 and f16 converted) and a raw file; every wrong name, value,
 * type, shape or size is one line and exit status 1, before anything runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "npy_write.h"
#include "run_attnc.h"

static char dir[] = "/tmp/attnc_params_XXXXXX";

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void write_text(const char *name, const char *text)
{
    char p[256];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    if (!mkdtemp(dir))
        return -1;
    /* keys before a scalar int P, the query's own position excluded from none */
    write_text("prefix.attn", "recipe prefix\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nparam P : i32\n"
                              "mask k.t < P && k.t <= q.t\n");
    /* a scalar f32, passed by value */
    write_text("lo.attn", "recipe lo\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nparam lo : f32\nmask k.t < lo\n");
    /* strictly earlier keys of the same document: a document's first row is empty */
    write_text("doc.attn", "recipe doc\ninput q, k, v : bf16 [batch, heads, tokens, 64]\n"
                           "param doc : i32 [batch, tokens]\nmask document(doc) && k.t < q.t\n");
    /* a per-head threshold: thr[0] < 0 empties head 0's 200 rows */
    write_text("thr.attn", "recipe thr\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nparam thr : f32 [heads]\n"
                           "mask k.t < thr[head]\n");
    write_text("u8.attn", "recipe u8\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nparam on : u8 [heads]\n"
                          "mask on[head] == 1\n");
    char p[256];
    int32_t ids[200];
    for (int i = 0; i < 200; i++)
        ids[i] = i;
    path_of(p, sizeof p, "distinct.npy");
    npy_write(p, "<i4", false, "(1, 200)", ids, sizeof ids);
    uint8_t small[200] = {0};
    path_of(p, sizeof p, "u8ids.npy"); /* u1 into an i32 param: one document */
    npy_write(p, "|u1", false, "(1, 200)", small, sizeof small);
    double thr[2] = {-1.0, 1e9};
    path_of(p, sizeof p, "thr.npy");
    npy_write(p, "<f8", false, "(2,)", thr, sizeof thr);
    uint16_t thr16[2] = {0xbc00 /* -1 */, 0x63d0 /* 1000 */};
    path_of(p, sizeof p, "thr16.npy");
    npy_write(p, "<f2", false, "(2,)", thr16, sizeof thr16);
    float thr32[2] = {-1.0f, 1e9f};
    path_of(p, sizeof p, "thr.raw");
    FILE *f = fopen(p, "wb");
    fwrite(thr32, sizeof thr32, 1, f);
    fclose(f);
    path_of(p, sizeof p, "short.raw");
    f = fopen(p, "wb");
    fwrite(thr32, 4, 1, f);
    fclose(f);
    float fids[200] = {0};
    path_of(p, sizeof p, "fids.npy");
    npy_write(p, "<f4", false, "(1, 200)", fids, sizeof fids);
    int64_t wide[2] = {1, 300};
    path_of(p, sizeof p, "wide.npy");
    npy_write(p, "<i8", false, "(2,)", wide, sizeof wide);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs `run RECIPE --check ARGS` and checks it passes with `empty` rows with no key. */
static void expect_empty_rows(const char *recipe, const char *args, int empty)
{
    char cmd[1024], want[128];
    snprintf(cmd, sizeof cmd, "run %s/%s --check %s", dir, recipe, args);
    run_result r;
    run_attnc(cmd, &r);
    if (r.status != 0)
        print_error("attnc %s\n%s%s", cmd, r.out, r.err);
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want, "; %d rows with no kept key\n", empty);
    if (!strstr(r.out, want))
        print_error("attnc %s\n%s", cmd, r.out);
    assert_non_null(strstr(r.out, want));
    assert_non_null(strstr(r.out, "\nOK (tolerance"));
}

static void numbers_reach_kernel_and_reference(void **state)
{
    expect_empty_rows("prefix.attn", "--param P=0", 400);
    expect_empty_rows("prefix.attn", "--param=P=1", 0);
    expect_empty_rows("prefix.attn", "--param P=-7", 400);
    expect_empty_rows("lo.attn", "--param lo=-0.5", 400);
    expect_empty_rows("lo.attn", "--param lo=0.5", 0);
    expect_empty_rows("doc.attn", "--param doc=0", 2); /* one document: the first row of each head */
    expect_empty_rows("u8.attn", "--param on=1", 0);
    expect_empty_rows("u8.attn", "--param on=0", 400);
}

static void files_reach_kernel_and_reference(void **state)
{
    char args[512];
    snprintf(args, sizeof args, "--param doc=@%s/distinct.npy", dir);
    expect_empty_rows("doc.attn", args, 400);
    snprintf(args, sizeof args, "--param doc=@%s/u8ids.npy", dir);
    expect_empty_rows("doc.attn", args, 2);
    snprintf(args, sizeof args, "--param thr=@%s/thr.npy", dir);
    expect_empty_rows("thr.attn", args, 200);
    snprintf(args, sizeof args, "--param thr=@%s/thr16.npy", dir);
    expect_empty_rows("thr.attn", args, 200);
    snprintf(args, sizeof args, "--param thr=@%s/thr.raw", dir);
    expect_empty_rows("thr.attn", args, 200);
}

static void bad_params_are_user_errors(void **state)
{
    static const struct {
        const char *recipe, *args, *err;
    } cases[] = {
        {"prefix.attn", "--param P2=3", "--param P2: recipe prefix has no param 'P2' (its params: P); did you mean 'P'?"},
        {"lo.attn", "--param P=3", "--param P: recipe lo has no param 'P' (its params: lo)"},
        {"prefix.attn", "--param P=1 --param P=2", "--param P is given twice"},
        {"prefix.attn", "--param P", "--param wants NAME=VALUE or NAME=@FILE, not 'P'"},
        {"prefix.attn", "--param =3", "--param wants NAME=VALUE or NAME=@FILE, not '=3'"},
        {"prefix.attn", "--param P=", "--param wants NAME=VALUE or NAME=@FILE, not 'P='"},
        {"prefix.attn", "--param P=1.5", "--param P=1.5: P is i32; write an integer in -2147483648..2147483647"},
        {"prefix.attn", "--param P=3000000000",
         "--param P=3000000000: P is i32; write an integer in -2147483648..2147483647"},
        {"prefix.attn", "--param P=ten", "--param P=ten: P is i32; write an integer in -2147483648..2147483647"},
        {"u8.attn", "--param on=256", "--param on=256: on is u8; write an integer in 0..255"},
        {"u8.attn", "--param on=-1", "--param on=-1: on is u8; write an integer in 0..255"},
        {"lo.attn", "--param lo=nan", "--param lo=nan: lo is f32; write a finite number that fits it (e.g. lo=0.5)"},
        {"lo.attn", "--param lo=1e39", "--param lo=1e39: lo is f32; write a finite number that fits it (e.g. lo=0.5)"},
        {"lo.attn", "--param lo=1x", "--param lo=1x: lo is f32; write a finite number that fits it (e.g. lo=0.5)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512], want[512];
        snprintf(args, sizeof args, "run %s/%s %s", dir, cases[i].recipe, cases[i].args);
        snprintf(want, sizeof want, "attnc run: %s\nsee attnc run --help\n", cases[i].err);
        expect_error(args, 1, want);
    }
}

/* `attnc run --grad --check --no-grad P`: P's gradient neither computed
 * nor checked (no "check dthr" line), the others still checked; a name
 * that is no param, and --no-grad without --grad, are user errors. */
static void no_grad_holds_params_constant(void **state)
{
    (void)state;
    char p[256], args[600];
    /* a bias per key (per head alone would have an exact gradient of 0: the
     * softmax ignores a shift of every score in a row) */
    write_text("bias.attn", "recipe bias\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nparam b : f32 [heads, tokens]\n"
                            "mask causal\nscore s * scale + b[head, k.t]\n");
    path_of(p, sizeof p, "bias.attn");
    run_result r;
    snprintf(args, sizeof args, "run %s --grad --check --shape tokens=70", p);
    run_attnc(args, &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "check db "));
    snprintf(args, sizeof args, "run %s --grad --check --shape tokens=70 --no-grad b", p);
    run_attnc(args, &r);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "check db "));
    assert_non_null(strstr(r.out, "check dq "));
    assert_non_null(strstr(r.out, "OK ("));
    snprintf(args, sizeof args, "run %s --grad --no-grad c", p);
    run_attnc(args, &r);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "no_grad: recipe 'bias' has no param 'c' (its params: b)"));
    snprintf(args, sizeof args, "run %s --no-grad b", p);
    run_attnc(args, &r);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "--no-grad goes with --grad"));
}

/* A bias per head has an exact gradient of 0 (the softmax ignores a shift
 * of a row): the kernel's rounding noise is checked against the scale of
 * the terms that cancel, not against 0 (which failed it at rel L2 1e9). */
static void cancelling_gradient_checks_against_its_terms(void **state)
{
    (void)state;
    char p[256], args[600];
    write_text("biash.attn", "recipe biash\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nparam b : f32 [heads]\n"
                             "mask causal\nscore s * scale + b[head]\n");
    path_of(p, sizeof p, "biash.attn");
    run_result r;
    snprintf(args, sizeof args, "run %s --grad --check --shape tokens=70", p);
    run_attnc(args, &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "check db "));
    assert_non_null(strstr(r.out, "(of its terms' scale: the exact gradient cancels)"));
}

static void bad_files_are_user_errors(void **state)
{
    static const struct {
        const char *recipe, *param, *file, *err;
    } cases[] = {
        {"doc.attn", "doc", "thr.npy", "the array's shape is (2,), the param's is [1, 200]"},
        {"thr.attn", "thr", "distinct.npy", "the array's shape is (1, 200), the param's is [2]"},
        {"doc.attn", "doc", "fids.npy", "doc is i32; save integers (e.g. np.int32), not floats"},
        {"u8.attn", "on", "wide.npy", "element 1 does not fit u8 (0..255)"},
        {"thr.attn", "thr", "short.raw",
         "4 bytes, but thr [2] of f32 needs 8 (2 elements of 4 bytes; or give a .npy file)"},
        {"thr.attn", "thr", "missing.npy", "No such file or directory"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512], want[768];
        snprintf(args, sizeof args, "run %s/%s --param %s=@%s/%s", dir, cases[i].recipe, cases[i].param, dir,
                 cases[i].file);
        snprintf(want, sizeof want, "attnc run: --param %s=@%s/%s: %s\nsee attnc run --help\n", cases[i].param, dir,
                 cases[i].file, cases[i].err);
        expect_error(args, 1, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_reach_kernel_and_reference),
        cmocka_unit_test(files_reach_kernel_and_reference),
        cmocka_unit_test(bad_params_are_user_errors),
        cmocka_unit_test(bad_files_are_user_errors),
        cmocka_unit_test(no_grad_holds_params_constant),
        cmocka_unit_test(cancelling_gradient_checks_against_its_terms),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
