/*
 * The .npy reader behind `attnc run --param NAME=@FILE` (cli/npy.h):
 * headers of format 1.0 and 2.0, shapes (), (n,) and (a, b), every number
 * dtype it takes decoded exactly (f16 subnormals and infinities, sign
 * extension, u64 above INT64_MAX flagged), and one-line refusals of what
 * it does not take.
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
#include <unistd.h>

#include "npy.h"
#include "npy_write.h"

typedef struct file {
    unsigned char buf[4096];
    size_t len;
} file;

/* A .npy image made by npy_write (through a temporary file). */
static void make(file *f, const char *descr, bool fortran, const char *shape, const void *data, size_t bytes)
{
    char path[] = "/tmp/attnc_npy_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_true(npy_write(path, descr, fortran, shape, data, bytes));
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    f->len = fread(f->buf, 1, sizeof f->buf, in);
    fclose(in);
    unlink(path);
}

static void parse_ok(const file *f, npy_array *a)
{
    strbuf err;
    sb_init(&err);
    bool ok = npy_parse(f->buf, f->len, a, &err);
    if (!ok)
        print_error("%s\n", sb_cstr(&err));
    assert_true(ok);
    sb_free(&err);
}

static void parse_fails(const file *f, const char *why)
{
    npy_array a;
    strbuf err;
    sb_init(&err);
    assert_false(npy_parse(f->buf, f->len, &a, &err));
    assert_string_equal(sb_cstr(&err), why);
    sb_free(&err);
}

static void reads_shapes_and_ints(void **state)
{
    file f;
    npy_array a;
    int32_t ids[6] = {0, -1, 7, 2147483647, -2147483647 - 1, 5};
    make(&f, "<i4", false, "(2, 3)", ids, sizeof ids);
    assert_true(npy_is_npy(f.buf, f.len));
    assert_int_equal(f.len % 64, sizeof ids % 64); /* header padded like numpy's */
    parse_ok(&f, &a);
    assert_int_equal(a.kind, 'i');
    assert_int_equal(a.elem_size, 4);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 2);
    assert_int_equal(a.shape[1], 3);
    assert_int_equal(a.count, 6);
    bool big = false;
    for (int i = 0; i < 6; i++)
        assert_int_equal(npy_get_i(&a, (size_t)i, &big), ids[i]);
    assert_false(big);

    int16_t s[1] = {-2};
    make(&f, "<i2", false, "()", s, sizeof s); /* a 0-d array */
    parse_ok(&f, &a);
    assert_int_equal(a.ndim, 0);
    assert_int_equal(a.count, 1);
    assert_int_equal(npy_get_i(&a, 0, &big), -2);

    uint64_t u[2] = {UINT64_MAX, 3};
    make(&f, "<u8", false, "(2,)", u, sizeof u);
    parse_ok(&f, &a);
    npy_get_i(&a, 0, &big);
    assert_true(big);
    big = false;
    assert_int_equal(npy_get_i(&a, 1, &big), 3);
    assert_false(big);

    uint8_t b[3] = {1, 0, 255};
    make(&f, "|u1", false, "(3,)", b, sizeof b);
    parse_ok(&f, &a);
    assert_int_equal(npy_get_i(&a, 2, &big), 255);
    make(&f, "|b1", false, "(3,)", b, 1);
    parse_fails(&f, "the .npy data is 1 bytes, its shape needs 3");
}

static void reads_floats(void **state)
{
    file f;
    npy_array a;
    double d[3] = {-1.0, 1e9, 0.1};
    make(&f, "<f8", false, "(3,)", d, sizeof d);
    parse_ok(&f, &a);
    for (int i = 0; i < 3; i++)
        assert_true(npy_get_f(&a, (size_t)i) == d[i]);
    float s[2] = {1.5f, -0.0f};
    make(&f, "<f4", false, "(2,)", s, sizeof s);
    parse_ok(&f, &a);
    assert_true(npy_get_f(&a, 0) == 1.5);
    assert_true(signbit(npy_get_f(&a, 1)));
    /* f16: 1.5, the smallest subnormal 2^-24, -inf, 65504 (the largest), NaN */
    uint16_t h[5] = {0x3e00, 0x0001, 0xfc00, 0x7bff, 0x7e00};
    make(&f, "<f2", false, "(5,)", h, sizeof h);
    parse_ok(&f, &a);
    assert_true(npy_get_f(&a, 0) == 1.5);
    assert_true(npy_get_f(&a, 1) == ldexp(1.0, -24));
    assert_true(isinf(npy_get_f(&a, 2)) && npy_get_f(&a, 2) < 0);
    assert_true(npy_get_f(&a, 3) == 65504.0);
    assert_true(isnan(npy_get_f(&a, 4)));
    int8_t i8[1] = {-5};
    make(&f, "|i1", false, "(1,)", i8, 1);
    parse_ok(&f, &a);
    assert_true(npy_get_f(&a, 0) == -5.0); /* ints read as floats too */
}

static void reads_format_2(void **state)
{
    file f;
    int64_t v[2] = {4, -4};
    make(&f, "<i8", false, "(2,)", v, sizeof v);
    /* the same header with a 4-byte length: version 2.0 */
    file g;
    size_t hlen = (size_t)f.buf[8] | (size_t)f.buf[9] << 8;
    memcpy(g.buf, f.buf, 8);
    g.buf[6] = 2;
    g.buf[8] = (unsigned char)(hlen & 0xff), g.buf[9] = (unsigned char)(hlen >> 8), g.buf[10] = g.buf[11] = 0;
    memcpy(g.buf + 12, f.buf + 10, f.len - 10);
    g.len = f.len + 2;
    npy_array a;
    parse_ok(&g, &a);
    bool big = false;
    assert_int_equal(npy_get_i(&a, 1, &big), -4);
    g.buf[6] = 4;
    parse_fails(&g, ".npy format version 4 is not one attnc reads (1, 2, 3)");
}

static void refuses_what_it_does_not_take(void **state)
{
    file f;
    int32_t v[6] = {0};
    make(&f, ">i4", false, "(2,)", v, 8);
    parse_fails(&f, ".npy dtype '>i4' is big-endian; save it little-endian (e.g. '<i4')");
    make(&f, "<i4", true, "(2, 3)", v, 24);
    parse_fails(&f, "the .npy array is in Fortran order; save a C-ordered array (np.ascontiguousarray)");
    make(&f, "<c8", false, "(1,)", v, 8);
    parse_fails(&f, ".npy dtype '<c8' is not a number type attnc reads (floats, ints, bools)");
    make(&f, "<U5", false, "(1,)", v, 20);
    parse_fails(&f, ".npy dtype '<U5' is not a number type attnc reads (floats, ints, bools)");
    make(&f, "<i4", false, "(2,)", v, 12);
    parse_fails(&f, "the .npy data is 12 bytes, its shape needs 8");
    make(&f, "<i4", false, "(9223372036854775807, 9223372036854775807)", v, 8);
    parse_fails(&f, "bad 'shape' in the .npy header");
    make(&f, "<i4", false, "(4611686018427387906,)", v, 8); /* 4 bytes each would wrap to 8 */
    parse_fails(&f, "bad 'shape' in the .npy header");
    make(&f, "<i4", false, "(99999999999999999999,)", v, 8);
    parse_fails(&f, "bad 'shape' in the .npy header");
    make(&f, "<i4", false, "(-2,)", v, 8);
    parse_fails(&f, "bad 'shape' in the .npy header");
    /* a structured dtype: descr is a list */
    static const char structured[] = "\x93NUMPY\x01\x00\x43\x00{'descr': [('a', '<i4')], 'fortran_order': False, "
                                     "'shape': (1,), }\n";
    memcpy(f.buf, structured, sizeof structured - 1);
    f.len = sizeof structured - 1;
    parse_fails(&f, "no 'descr' string in the .npy header (a structured dtype?)");
    f.buf[8] = 0xff; /* header length past the end */
    parse_fails(&f, "the .npy header runs past the end of the file");
    memcpy(f.buf, "\x93NUMPZ", 6);
    assert_false(npy_is_npy(f.buf, f.len));
    parse_fails(&f, "not a .npy file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_shapes_and_ints),
        cmocka_unit_test(reads_floats),
        cmocka_unit_test(reads_format_2),
        cmocka_unit_test(refuses_what_it_does_not_take),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
