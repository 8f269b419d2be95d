/* test_aot.c — the AOT generator: spec checks, signature/grid parsing, and
 * the generated files compiled with the system C compiler (strict flags),
 * linked against nothing of attnc/LLVM/CUDA, run without a driver (clear
 * "no CUDA driver" status), argument validation, and a damaged image
 * caught by the dry self-check. */
#include "tmpdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "runtime/aot/aot.h"
#include "runtime/compile/ptxas.h"

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    b[len] = 0;
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void write_all(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
}


typedef struct fixture {
    char *ptx;
    size_t ptx_len;
    aot_param params[8];
    char names[256];
    int nparams;
    aot_spec spec;
} fixture;

static void make_spec(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->ptx = read_all(ATTNC_SOURCE_DIR "/examples/add_one.ptx", &f->ptx_len);
    strbuf err;
    sb_init(&err);
    f->nparams = aot_parse_signature("x:ptr/4, n:i32>=1", f->params, 8, f->names, sizeof f->names, &err);
    assert_int_equal(f->nparams, 2);
    f->spec = (aot_spec){.name = "add_one", .entry = "add_one", .arch = "sm_80", .ptx = f->ptx,
                         .ptx_len = f->ptx_len, .params = f->params, .nparams = f->nparams,
                         .block = {256, 1, 1}, .recipe = "(hand-written PTX)"};
    assert_true(aot_parse_grid("n/256, 1, 1", f->params, f->nparams, f->spec.grid, &err));
    sb_free(&err);
}

static void test_parse(void **state)
{
    (void)state;
    aot_param p[4];
    char names[64];
    strbuf err;
    sb_init(&err);
    assert_int_equal(aot_parse_signature("q:ptr, lse:ptr?/8, t:i64>=16, s:f32", p, 4, names, sizeof names, &err), 4);
    assert_string_equal(p[1].name, "lse");
    assert_true(p[1].nullable && p[1].align == 8 && p[1].type == AOT_PTR);
    assert_true(p[2].type == AOT_I64 && p[2].min == 16 && p[2].max == INT64_MAX);
    assert_true(p[3].type == AOT_F32);
    aot_dim g[3];
    assert_true(aot_parse_grid("t/64,t*t,7", p, 4, g, &err));
    assert_true(g[0].arg[0] == 2 && g[0].arg[1] == -1 && g[0].div == 64);
    assert_true(g[1].arg[0] == 2 && g[1].arg[1] == 2 && g[1].div == 1);
    assert_true(g[2].arg[0] == -1 && g[2].div == 7);
    assert_int_equal(aot_parse_signature("q ptr", p, 4, names, sizeof names, &err), -1);
    assert_int_equal(aot_parse_signature("q:int", p, 4, names, sizeof names, &err), -1);
    assert_int_equal(aot_parse_signature("a:ptr,b:ptr,c:ptr,d:ptr,e:ptr", p, 4, names, sizeof names, &err), -1);
    assert_false(aot_parse_grid("zz/2,1,1", p, 4, g, &err));
    assert_false(aot_parse_grid("1,1", p, 4, g, &err));
    assert_false(aot_parse_grid("1,1,1,1", p, 4, g, &err));
    sb_free(&err);
}

static void test_spec_checks(void **state)
{
    (void)state;
    fixture f;
    make_spec(&f);
    strbuf err;
    sb_init(&err);
    assert_true(aot_check_spec(&f.spec, &err));
    aot_spec bad = f.spec;
    bad.name = "add-one";
    assert_false(aot_check_spec(&bad, &err));
    bad = f.spec;
    bad.entry = "add_two";
    assert_false(aot_check_spec(&bad, &err));
    bad = f.spec;
    bad.block[0] = 2048;
    assert_false(aot_check_spec(&bad, &err));
    bad = f.spec;
    bad.grid[0].arg[0] = 0; /* a pointer parameter in the grid */
    assert_false(aot_check_spec(&bad, &err));
    sb_free(&err);
    free(f.ptx);
}

static const char host_main[] =
    "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include \"add_one.h\"\n"
    "#define CHECK(c) do { if (!(c)) { printf(\"FAILED line %d: %s [%s]\\n\", __LINE__, #c, add_one_errmsg()); "
    "return 1; } } while (0)\n"
    "int main(int argc, char **argv)\n{\n"
    "    if (argc > 1 && !strcmp(argv[1], \"damaged\"))\n        return add_one_self_check() == add_one_ERR_IMAGE ? 0 : 1;\n"
    "    CHECK(add_one_self_check() == add_one_OK);\n"
    "    CHECK(add_one_validate(NULL) == add_one_ERR_INVALID_ARGUMENT);\n"
    "    add_one_args a = {NULL, 1000};\n"
    "    CHECK(add_one_validate(&a) == add_one_ERR_INVALID_ARGUMENT && strstr(add_one_errmsg(), \"'x' is NULL\"));\n"
    "    a.x = (void *)0x1002;\n"
    "    CHECK(add_one_validate(&a) == add_one_ERR_INVALID_ARGUMENT && strstr(add_one_errmsg(), \"aligned\"));\n"
    "    a.x = (void *)0x1000; a.n = 0;\n"
    "    CHECK(add_one_validate(&a) == add_one_ERR_INVALID_ARGUMENT && strstr(add_one_errmsg(), \"outside\"));\n"
    "    a.n = 1000;\n    CHECK(add_one_validate(&a) == add_one_OK);\n"
    "    uint64_t g[3];\n    add_one_grid(&a, g);\n    CHECK(g[0] == 4 && g[1] == 1 && g[2] == 1);\n"
    "    int st = add_one_launch(&a, NULL); /* ATTNC_LIBCUDA points nowhere */\n"
    "    CHECK(st == add_one_ERR_NO_DRIVER && strstr(add_one_errmsg(), \"no CUDA driver\"));\n"
    "    CHECK(!strcmp(add_one_status_string(st), \"no CUDA driver\"));\n"
    "    printf(\"ok: %s\\n\", add_one_errmsg());\n    return 0;\n}\n";

static void test_generate_build_run(void **state)
{
    (void)state;
    fixture f;
    make_spec(&f);
    char *dir = tmpdir_make(), path[512];
    strbuf err;
    sb_init(&err);
    /* With ptxas present the cubin is embedded as well. */
    unsigned char *cubin = NULL;
    snprintf(path, sizeof path, "%s/add_one.cubin", dir);
    int ptxas = ptxas_run(ATTNC_SOURCE_DIR "/examples/add_one.ptx", "sm_80", path, &err);
    assert_true(ptxas >= 0);
    if (ptxas == 1) {
        cubin = (unsigned char *)read_all(path, &f.spec.cubin_len);
        f.spec.cubin = cubin;
    }
    assert_int_equal(aot_generate(&f.spec, dir, &err), AOT_OK);
    snprintf(path, sizeof path, "%s/main.c", dir);
    write_all(path, host_main, strlen(host_main));
    assert_int_equal(test_sh("cd %s && cc -std=c11 -Wall -Wextra -Werror -pedantic -O1 -pthread -o prog main.c add_one.c",
                        dir), 0);
    assert_int_equal(test_sh("cd %s && ATTNC_LIBCUDA=/nonexistent/libcuda.so.1 ./prog", dir), 0);
    /* Links nothing of attnc, LLVM or CUDA. */
    assert_int_equal(test_sh("cd %s && readelf -d prog | grep NEEDED | grep -Eq 'attnc|LLVM|cuda'", dir) != 0, 1);
    /* A flipped byte of the embedded PTX is caught by the dry self-check. */
    size_t n;
    snprintf(path, sizeof path, "%s/add_one.c", dir);
    char *src = read_all(path, &n);
    char *arr = strstr(src, "add_one_ptx[");
    assert_non_null(arr);
    char *byte = strstr(arr, "0x");
    byte[2] = byte[2] == '7' ? '6' : '7';
    write_all(path, src, n);
    free(src);
    assert_int_equal(test_sh("cd %s && cc -std=c11 -pthread -o prog2 main.c add_one.c && ./prog2 damaged", dir), 0);
    sb_free(&err);
    free(cubin);
    free(f.ptx);
    tmpdir_remove(dir);
}

static const char recipe_main[] =
    "#include <stdio.h>\n#include <string.h>\n#include \"causal_sm_80.h\"\n"
    "int main(void)\n{\n    if (causal_sm_80_self_check() != causal_sm_80_OK)\n        return 1;\n"
    "    causal_sm_80_args a;\n    memset(&a, 0, sizeof a);\n"
    "    a.q = a.k = a.v = a.o = (void *)0x10000;\n"
    "    /* sizes 0: an empty launch, valid, and a no-op even without a driver (as attnc_launch) */\n"
    "    if (causal_sm_80_validate(&a) != causal_sm_80_OK || causal_sm_80_launch(&a, NULL) != causal_sm_80_OK)\n"
    "        return 2;\n"
    "    a.size[0] = 1; a.size[1] = 2; a.size[2] = 2; a.size[3] = 77; a.size[4] = 77;\n"
    "    int64_t st[4] = {2 * 77 * 128, 77 * 128, 128, 1};\n"
    "    memcpy(a.q_stride, st, sizeof st); memcpy(a.k_stride, st, sizeof st);\n"
    "    memcpy(a.v_stride, st, sizeof st); memcpy(a.o_stride, st, sizeof st);\n"
    "    a.k_stride[3] = 2;\n"
    "    if (causal_sm_80_validate(&a) != causal_sm_80_ERR_INVALID_ARGUMENT || !strstr(causal_sm_80_errmsg(), \"stride 1\"))\n"
    "        return 6;\n"
    "    a.k_stride[3] = 1; a.size[2] = 1; /* kv_heads != heads without GQA */\n"
    "    if (causal_sm_80_validate(&a) != causal_sm_80_ERR_INVALID_ARGUMENT)\n        return 7;\n"
    "    a.size[2] = 2;\n"
    "    uint64_t g[3];\n    causal_sm_80_grid(&a, g);\n"
    "    if (causal_sm_80_validate(&a) != causal_sm_80_OK || g[0] != 1 || g[1] != 2 || g[2] != 1)\n        return 3;\n"
    "    a.o = (void *)0x10008; /* rows must be 16-byte aligned */\n"
    "    if (causal_sm_80_validate(&a) != causal_sm_80_ERR_INVALID_ARGUMENT)\n        return 4;\n"
    "    a.o = (void *)0x10000;\n"
    "    return causal_sm_80_launch(&a, NULL) == causal_sm_80_ERR_NO_DRIVER ? 0 : 5;\n}\n";

/* `attnc compile recipes/causal.attn --aot` end to end (NVPTX code
 * generator, ptxas when present), then the output built and run. */
static void test_recipe_aot(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), path[512];
    assert_int_equal(test_sh("%s/bin/attnc compile %s/recipes/causal.attn --aot --arch sm_80 -o %s > /dev/null",
                        ATTNC_BINARY_DIR, ATTNC_SOURCE_DIR, dir), 0);
    snprintf(path, sizeof path, "%s/m.c", dir);
    write_all(path, recipe_main, strlen(recipe_main));
    assert_int_equal(test_sh("cd %s && test -s causal_sm_80.ptx && cc -std=c11 -Wall -Wextra -Werror -pedantic -pthread "
                        "-o m m.c causal_sm_80.c && ATTNC_LIBCUDA=/nonexistent ./m",
                        dir), 0);
    /* Bad input: exit 1 with a message, nothing written. */
    assert_int_equal(test_sh("%s/bin/attnc compile %s/no-such.attn --aot -o %s/x 2>/dev/null", ATTNC_BINARY_DIR, dir, dir),
                     1 << 8);
    assert_int_equal(test_sh("%s/bin/attnc compile %s/recipes/causal.attn --aot --schedule 'q=63' -o %s/x 2>/dev/null",
                        ATTNC_BINARY_DIR, ATTNC_SOURCE_DIR, dir), 1 << 8);
    tmpdir_remove(dir);
}

/* The generated header documents its ABI (item 9 of #12): every size index
 * by name, dtypes and head dims, lse optional (or forbidden for linear
 * attention), the params' types and shapes, strides, the launch, streams and
 * ordering (serial kernels say their launches must not overlap). */
static void expect_lines(const char *path, const char *const *want)
{
    size_t n;
    char *h = read_all(path, &n);
    for (; *want; want++)
        if (!strstr(h, *want))
            fail_msg("%s lacks \"%s\"", path, *want);
    free(h);
}

static void test_header_abi(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), path[512];
    assert_int_equal(test_sh("%s/bin/attnc compile %s/recipes/block_sparse.attn --aot -o %s > /dev/null", ATTNC_BINARY_DIR,
                        ATTNC_SOURCE_DIR, dir),
                     0);
    snprintf(path, sizeof path, "%s/block_sparse_sm_80.h", dir);
    const char *const sparse[] = {"bf16 tensors", "q [batch, heads, tokens, 128]",
                                  "k [batch, kv_heads, kv_tokens, 128]", "f32 [batch, heads, tokens]",
                                  "or NULL: not written", "strides in elements", "[0]  batch      0..65535",
                                  "[2]  kv_heads   = heads", "[3]  tokens     0..2^30", "[8]  nqb", "[9]  nkb",
                                  "others          unused", "p_table     device pointer to u8 [heads, nqb, nkb]",
                                  "Launch: grid (ceil(tokens / 128), heads, batch), 256 threads",
                                  "Streams:", "returns without waiting", "Ordering: launches are independent",
                                  "thread-safe", NULL};
    expect_lines(path, sparse);
    assert_int_equal(test_sh("%s/bin/attnc compile %s/recipes/neighborhood2d.attn --aot -o %s > /dev/null",
                        ATTNC_BINARY_DIR, ATTNC_SOURCE_DIR, dir),
                     0);
    snprintf(path, sizeof path, "%s/neighborhood2d_sm_80.h", dir);
    const char *const grid[] = {"[5]  H          0..2^30, grid extent 0", ">= 7 (window)", "[6]  W",
                                "grid (ceil(H / 8) * ceil(W / 16), heads, batch)", NULL};
    expect_lines(path, grid);
    assert_int_equal(test_sh("%s/bin/attnc compile %s/recipes/lightning2.attn --aot --schedule 'q=64 kv=64 block=64 "
                        "inter=chain' -o %s > /dev/null",
                        ATTNC_BINARY_DIR, ATTNC_SOURCE_DIR, dir),
                     0);
    snprintf(path, sizeof path, "%s/lightning2_sm_80.h", dir);
    const char *const linear[] = {"lse         must be NULL", "p_decay     device pointer to f32 [heads]",
                                  "launches must not overlap", NULL};
    expect_lines(path, linear);
    tmpdir_remove(dir);
}

/* The backward program's launcher (relpos_bias2d: a bias table with a
 * gradient): workspace size by the documented layout, the checks beyond
 * the forward's, and a clear "no CUDA driver" once arguments are valid. */
static const char bwd_main[] =
    "#include <stdio.h>\n#include <string.h>\n#include \"rb.h\"\n"
    "#define CHECK(c) do { if (!(c)) { printf(\"failed: %s (%s)\\n\", #c, rb_errmsg()); return 1; } } while (0)\n"
    "int main(void)\n{\n    static _Alignas(256) unsigned char ws[1 << 20];\n    rb_bwd_args a;\n"
    "    memset(&a, 0, sizeof a);\n"
    "    /* empty sizes: nothing to check the workspace for */\n"
    "    CHECK(rb_backward_workspace_bytes(&a) == 0 || rb_backward_workspace_bytes(&a) % 256 == 0);\n"
    "    char *base = (char *)0x100000;\n"
    "    a.q = base; a.k = base + 0x10000; a.v = base + 0x20000; a.o = base + 0x30000; a.lse = base + 0x40000;\n"
    "    a.dout = base + 0x50000; a.dq = base + 0x60000; a.dk = base + 0x70000; a.dv = base + 0x80000;\n"
    "    a.p_rpb = base + 0x90000; a.grad_rpb = base + 0xa0000;\n"
    "    a.size[0] = 1; a.size[1] = 2; a.size[2] = 2; a.size[3] = 64; a.size[4] = 64; a.size[5] = 8; a.size[6] = 8;\n"
    "    int64_t st[4] = {2 * 64 * 64, 64 * 64, 64, 1}, ls[3] = {2 * 64, 64, 1};\n"
    "    memcpy(a.q_stride, st, sizeof st); memcpy(a.k_stride, st, sizeof st); memcpy(a.v_stride, st, sizeof st);\n"
    "    memcpy(a.o_stride, st, sizeof st); memcpy(a.dout_stride, st, sizeof st); memcpy(a.dq_stride, st, sizeof st);\n"
    "    memcpy(a.dk_stride, st, sizeof st); memcpy(a.dv_stride, st, sizeof st); memcpy(a.lse_stride, ls, sizeof ls);\n"
    "    uint64_t need = rb_backward_workspace_bytes(&a);\n"
    "    /* delta: 1 x 2 x 64 f32 = 512 bytes; then the slices of drpb */\n"
    "    CHECK(need >= 512 + 256 && need % 256 == 0 && need <= sizeof ws);\n"
    "    CHECK(rb_backward(&a, ws, need - 256, NULL) == rb_ERR_INVALID_ARGUMENT && strstr(rb_errmsg(), \"workspace\"));\n"
    "    CHECK(rb_backward(&a, ws + 16, need, NULL) == rb_ERR_INVALID_ARGUMENT);\n"
    "    a.lse = NULL;\n    CHECK(rb_backward(&a, ws, need, NULL) == rb_ERR_INVALID_ARGUMENT && strstr(rb_errmsg(), \"lse\"));\n"
    "    a.lse = base + 0x40000; a.dq_stride[2] = 63;\n"
    "    CHECK(rb_backward(&a, ws, need, NULL) == rb_ERR_INVALID_ARGUMENT && strstr(rb_errmsg(), \"dq\"));\n"
    "    a.dq_stride[2] = 64; a.dout = base + 0x50008;\n"
    "    CHECK(rb_backward(&a, ws, need, NULL) == rb_ERR_INVALID_ARGUMENT && strstr(rb_errmsg(), \"do\"));\n"
    "    a.dout = base + 0x50000; a.grad_rpb = NULL;\n"
    "    CHECK(rb_backward(&a, ws, need, NULL) == rb_ERR_INVALID_ARGUMENT && strstr(rb_errmsg(), \"drpb\"));\n"
    "    a.grad_rpb = base + 0xa0000; a.size[2] = 1; /* the forward's checks: kv_heads without GQA */\n"
    "    CHECK(rb_backward(&a, ws, need, NULL) == rb_ERR_INVALID_ARGUMENT);\n"
    "    a.size[2] = 2;\n"
    "    CHECK(rb_backward(&a, ws, need, NULL) == rb_ERR_NO_DRIVER); /* ATTNC_LIBCUDA points nowhere */\n"
    "    printf(\"ok: %s\\n\", rb_errmsg());\n    return 0;\n}\n";

static void test_backward_aot(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), path[512];
    assert_int_equal(test_sh("ATTNC_PTXAS=/nonexistent %s/bin/attnc compile %s/recipes/relpos_bias2d.attn --aot --backward "
                        "--name rb -o %s > /dev/null",
                        ATTNC_BINARY_DIR, ATTNC_SOURCE_DIR, dir),
                     0);
    snprintf(path, sizeof path, "%s/rb.h", dir);
    const char *const doc[] = {"rb_bwd_args", "void *dout;", "int64_t dout_stride[4];", "void *grad_rpb;",
                               "attnc_bwd_pre, attnc_bwd_dkv, attnc_bwd_dq, attnc_bwd_dparam", "delta (f32",
                               "uint64_t rb_backward_workspace_bytes(const rb_bwd_args *a);", NULL};
    expect_lines(path, doc);
    snprintf(path, sizeof path, "%s/m.c", dir);
    write_all(path, bwd_main, strlen(bwd_main));
    assert_int_equal(test_sh("cd %s && test -s rb.bwd.ptx && cc -std=c11 -Wall -Wextra -Werror -pedantic -Wconversion "
                        "-pthread -o m m.c rb.c && ATTNC_LIBCUDA=/nonexistent ./m",
                        dir), 0);
    /* --no-grad rpb: the table held constant, no grad_rpb field, no dparam kernel */
    assert_int_equal(test_sh("ATTNC_PTXAS=/nonexistent %s/bin/attnc compile %s/recipes/relpos_bias2d.attn --aot --backward "
                        "--no-grad rpb --name rc -o %s > /dev/null && ! grep -qE 'grad_rpb|attnc_bwd_dparam' %s/rc.h && "
                        "grep -q 'attnc_bwd_pre, attnc_bwd_dkv, attnc_bwd_dq' %s/rc.h && cd %s && cc -std=c11 -Wall "
                        "-Wextra -Werror -pedantic -Wconversion -pthread -c rc.c",
                        ATTNC_BINARY_DIR, ATTNC_SOURCE_DIR, dir, dir, dir, dir),
                     0);
    assert_int_equal(test_sh("%s/bin/attnc compile %s/recipes/relpos_bias2d.attn --aot --backward --no-grad rbp -o %s/y "
                        "2>/dev/null",
                        ATTNC_BINARY_DIR, ATTNC_SOURCE_DIR, dir),
                     1 << 8);
    tmpdir_remove(dir);
}

/* Linear attention's backward (lightning2: chained scans, the decay's gate
 * kernel): no lse, its own workspace (8 f32 a token of row dots, D x Dv
 * bf16 states per 64 tokens: 100 tokens x 2 heads = 6400 + 102400 bytes),
 * none with the decay held constant, GQA refused before any driver call. */
static const char lin_main[] =
    "#include <stdio.h>\n#include <string.h>\n#include \"lb.h\"\n#include \"lc.h\"\n"
    "#define CHECK(c) do { if (!(c)) { printf(\"failed: %s (%s)\\n\", #c, lb_errmsg()); return 1; } } while (0)\n"
    "int main(void)\n{\n    static _Alignas(256) unsigned char ws[1 << 18];\n    lb_bwd_args a;\n    lc_bwd_args c;\n"
    "    memset(&a, 0, sizeof a);\n    char *base = (char *)0x100000;\n"
    "    a.q = base; a.k = base + 0x10000; a.v = base + 0x20000; a.o = base + 0x30000;\n"
    "    a.dout = base + 0x50000; a.dq = base + 0x60000; a.dk = base + 0x70000; a.dv = base + 0x80000;\n"
    "    a.p_decay = base + 0x90000; a.grad_decay = base + 0xa0000;\n"
    "    a.size[0] = 1; a.size[1] = 2; a.size[2] = 2; a.size[3] = 100; a.size[4] = 100;\n"
    "    int64_t st[4] = {2 * 100 * 128, 100 * 128, 128, 1};\n"
    "    memcpy(a.q_stride, st, sizeof st); memcpy(a.k_stride, st, sizeof st); memcpy(a.v_stride, st, sizeof st);\n"
    "    memcpy(a.o_stride, st, sizeof st); memcpy(a.dout_stride, st, sizeof st); memcpy(a.dq_stride, st, sizeof st);\n"
    "    memcpy(a.dk_stride, st, sizeof st); memcpy(a.dv_stride, st, sizeof st);\n"
    "    uint64_t need = lb_backward_workspace_bytes(&a);\n"
    "    CHECK(need == 6400 + 102400);\n"
    "    CHECK(lb_backward(&a, ws, need - 256, NULL) == lb_ERR_INVALID_ARGUMENT && strstr(lb_errmsg(), \"workspace\"));\n"
    "    a.size[2] = 1;\n"
    "    CHECK(lb_backward(&a, ws, need, NULL) == lb_ERR_INVALID_ARGUMENT && strstr(lb_errmsg(), \"kv_heads\"));\n"
    "    a.size[2] = 2;\n"
    "    CHECK(lb_backward(&a, ws, need, NULL) == lb_ERR_NO_DRIVER); /* ATTNC_LIBCUDA points nowhere */\n"
    "    memset(&c, 0, sizeof c);\n"
    "    c.q = a.q; c.k = a.k; c.v = a.v; c.o = a.o; c.dout = a.dout; c.dq = a.dq; c.dk = a.dk; c.dv = a.dv;\n"
    "    c.p_decay = a.p_decay;\n    memcpy(c.size, a.size, sizeof c.size);\n"
    "    memcpy(c.q_stride, st, sizeof st); memcpy(c.k_stride, st, sizeof st); memcpy(c.v_stride, st, sizeof st);\n"
    "    memcpy(c.o_stride, st, sizeof st); memcpy(c.dout_stride, st, sizeof st); memcpy(c.dq_stride, st, sizeof st);\n"
    "    memcpy(c.dk_stride, st, sizeof st); memcpy(c.dv_stride, st, sizeof st);\n"
    "    CHECK(lc_backward_workspace_bytes(&c) == 0); /* the decay held constant: no workspace */\n"
    "    CHECK(lc_backward(&c, NULL, 0, NULL) == lc_ERR_NO_DRIVER);\n"
    "    printf(\"ok: %s\\n\", lb_errmsg());\n    return 0;\n}\n";

static void test_backward_aot_linear(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), path[512];
    assert_int_equal(test_sh("ATTNC_PTXAS=/nonexistent %s/bin/attnc compile %s/recipes/lightning2.attn --aot --backward "
                        "--arch sm_90a --name lb -o %s > /dev/null && ATTNC_PTXAS=/nonexistent %s/bin/attnc compile "
                        "%s/recipes/lightning2.attn --aot --backward --no-grad decay --arch sm_90a --name lc -o %s "
                        "> /dev/null",
                        ATTNC_BINARY_DIR, ATTNC_SOURCE_DIR, dir, ATTNC_BINARY_DIR, ATTNC_SOURCE_DIR, dir),
                     0);
    snprintf(path, sizeof path, "%s/lb.h", dir);
    const char *const doc[] = {"attnc_lin_bwd_dq, attnc_lin_bwd_dk, attnc_lin_bwd_dv, attnc_lin_bwd_gate",
                               "lse unused", "backward launches must not overlap", "void *grad_decay;", NULL};
    expect_lines(path, doc);
    snprintf(path, sizeof path, "%s/lc.h", dir);
    /* the decay held constant on sm_90a: the fused dK/dV scan, as the library's JIT builds it */
    const char *const frozen[] = {"attnc_lin_bwd_dq, attnc_lin_bwd_dkv.", "it): none.", NULL};
    expect_lines(path, frozen);
    snprintf(path, sizeof path, "%s/m.c", dir);
    write_all(path, lin_main, strlen(lin_main));
    /* both in one program: every generated name is prefixed */
    assert_int_equal(test_sh("cd %s && cc -std=c11 -Wall -Wextra -Werror -pedantic -Wconversion -pthread -o m m.c lb.c lc.c "
                        "&& ATTNC_LIBCUDA=/nonexistent ./m",
                        dir),
                     0);
    tmpdir_remove(dir);
}

/* The bulk dQ's backward (ATTNC_BWD_DQ=bulk, sm_90a): the accumulator
 * holds whole query tiles (batch x heads x query tiles x Tq x D f32, rows
 * past the sequence included), as the runtime sizes it; 100 tokens in
 * 64-token query tiles: 2 x 128 rows of 128 f32 after delta's 800 bytes
 * (1024 rounded). */
static const char bulk_main[] =
    "#include <stdio.h>\n#include <string.h>\n#include \"cb.h\"\n"
    "#define CHECK(c) do { if (!(c)) { printf(\"failed: %s (%s)\\n\", #c, cb_errmsg()); return 1; } } while (0)\n"
    "int main(void)\n{\n    static _Alignas(256) unsigned char ws[1 << 18];\n    cb_bwd_args a;\n"
    "    memset(&a, 0, sizeof a);\n    char *base = (char *)0x100000;\n"
    "    a.q = base; a.k = base + 0x10000; a.v = base + 0x20000; a.o = base + 0x30000; a.lse = base + 0x40000;\n"
    "    a.dout = base + 0x50000; a.dq = base + 0x60000; a.dk = base + 0x70000; a.dv = base + 0x80000;\n"
    "    a.size[0] = 1; a.size[1] = 2; a.size[2] = 2; a.size[3] = 100; a.size[4] = 100;\n"
    "    int64_t st[4] = {2 * 100 * 128, 100 * 128, 128, 1}, ls[3] = {2 * 100, 100, 1};\n"
    "    memcpy(a.q_stride, st, sizeof st); memcpy(a.k_stride, st, sizeof st); memcpy(a.v_stride, st, sizeof st);\n"
    "    memcpy(a.o_stride, st, sizeof st); memcpy(a.dout_stride, st, sizeof st); memcpy(a.dq_stride, st, sizeof st);\n"
    "    memcpy(a.dk_stride, st, sizeof st); memcpy(a.dv_stride, st, sizeof st); memcpy(a.lse_stride, ls, sizeof ls);\n"
    "    uint64_t need = cb_backward_workspace_bytes(&a);\n"
    "    CHECK(need == 1024 + 2 * 128 * 128 * 4);\n"
    "    CHECK(cb_backward(&a, ws, need - 256, NULL) == cb_ERR_INVALID_ARGUMENT && strstr(cb_errmsg(), \"workspace\"));\n"
    "    CHECK(cb_backward(&a, ws, need, NULL) == cb_ERR_NO_DRIVER); /* ATTNC_LIBCUDA points nowhere */\n"
    "    printf(\"ok: %s\\n\", cb_errmsg());\n    return 0;\n}\n";

static void test_backward_aot_bulk(void **state)
{
    (void)state;
    char *dir = tmpdir_make(), path[512];
    assert_int_equal(test_sh("ATTNC_PTXAS=/nonexistent ATTNC_BWD_DQ=bulk ATTNC_BWD_MMA=wgmma %s/bin/attnc compile "
                        "%s/recipes/causal.attn --aot --backward --arch sm_90a --name cb -o %s > /dev/null",
                        ATTNC_BINARY_DIR, ATTNC_SOURCE_DIR, dir),
                     0);
    snprintf(path, sizeof path, "%s/cb.h", dir);
    const char *const doc[] = {"mma=wgmma", "(dQ bulk)", "(TMA producer)", "attnc_bwd_pre, attnc_bwd_dkv, attnc_bwd_dq_cvt",
                               "tensor maps (TMA) of q and dout encoded per launch",
                               "dqacc (f32 [batch, heads, query tiles, Tq x head_dim]", NULL};
    expect_lines(path, doc);
    snprintf(path, sizeof path, "%s/cb.c", dir);
    const char *const src[] = {"cb_bwd_qtile[3] = {64, 1, 1}", "query tiles x Tq", "void *const mp[2] = {a->q, a->dout};",
                               NULL};
    expect_lines(path, src);
    snprintf(path, sizeof path, "%s/m.c", dir);
    write_all(path, bulk_main, strlen(bulk_main));
    assert_int_equal(test_sh("cd %s && cc -std=c11 -Wall -Wextra -Werror -pedantic -Wconversion -pthread -o m m.c cb.c && "
                        "ATTNC_LIBCUDA=/nonexistent ./m",
                        dir), 0);
    /* bulk needs the wgmma schedule: on sm_80 the dQ kernel, no accumulator */
    assert_int_equal(test_sh("ATTNC_PTXAS=/nonexistent ATTNC_BWD_DQ=bulk %s/bin/attnc compile %s/recipes/causal.attn --aot "
                        "--backward --arch sm_80 --name c8 -o %s > /dev/null",
                        ATTNC_BINARY_DIR, ATTNC_SOURCE_DIR, dir),
                     0);
    snprintf(path, sizeof path, "%s/c8.h", dir);
    const char *const sync[] = {"attnc_bwd_pre, attnc_bwd_dkv, attnc_bwd_dq.", NULL};
    expect_lines(path, sync);
    assert_int_equal(test_sh("grep -q 'dQ bulk\\|dqacc (' %s/c8.h", dir), 1 << 8);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_spec_checks),
        cmocka_unit_test(test_generate_build_run),
        cmocka_unit_test(test_recipe_aot),
        cmocka_unit_test(test_header_abi),
        cmocka_unit_test(test_backward_aot),
        cmocka_unit_test(test_backward_aot_bulk),
        cmocka_unit_test(test_backward_aot_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
