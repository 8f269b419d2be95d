/* npy.c — see npy.h. The header is a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * read here by a small scanner, not a Python parser. */
#include "npy.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

bool npy_is_npy(const unsigned char *buf, size_t len)
{
    return len >= sizeof magic && !memcmp(buf, magic, sizeof magic);
}

/* The text after 'key': in the header (quotes ' or "), or NULL. */
static const char *value_of(const char *h, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = h; (p = strpbrk(p, "'\"")); p++)
        if (!strncmp(p + 1, key, k) && p[k + 1] == p[0]) {
            const char *v = p + k + 2;
            while (*v == ' ')
                v++;
            if (*v != ':')
                return NULL;
            for (v++; *v == ' ';)
                v++;
            return v;
        }
    return NULL;
}

static bool parse_descr(const char *v, npy_array *a, strbuf *err)
{
    char q = v ? *v : 0;
    if (q != '\'' && q != '"') {
        sb_puts(err, "no 'descr' string in the .npy header (a structured dtype?)");
        return false;
    }
    const char *end = strchr(v + 1, q);
    size_t n = end ? (size_t)(end - v - 1) : 0;
    char d[16];
    if (n < 3 || n >= sizeof d) {
        sb_printf(err, ".npy dtype '%.*s' is not a number type", (int)(n < 16 ? n : 16), v + 1);
        return false;
    }
    memcpy(d, v + 1, n);
    d[n] = 0;
    char order = d[0], kind = d[1];
    char *rest;
    long size = strtol(d + 2, &rest, 10);
    bool sized = *rest == 0 && (kind == 'f' ? size == 2 || size == 4 || size == 8
                                : kind == 'b' ? size == 1
                                : (kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8));
    if (!strchr("<>|=", order) || !sized) {
        sb_printf(err, ".npy dtype '%s' is not a number type attnc reads (floats, ints, bools)", d);
        return false;
    }
    if (order == '>' && size > 1) {
        sb_printf(err, ".npy dtype '%s' is big-endian; save it little-endian (e.g. '<%c%ld')", d, kind, size);
        return false;
    }
    a->kind = kind;
    a->elem_size = (int)size;
    return true;
}

static bool parse_shape(const char *v, npy_array *a, strbuf *err)
{
    if (!v || *v != '(') {
        sb_puts(err, "no 'shape' tuple in the .npy header");
        return false;
    }
    a->ndim = 0;
    a->count = 1;
    for (const char *p = v + 1;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            return true;
        char *end;
        errno = 0;
        long long x = isdigit((unsigned char)*p) ? strtoll(p, &end, 10) : -1;
        /* the byte count must fit size_t too (descr is parsed first) */
        if (x < 0 || errno || a->ndim == NPY_MAX_DIMS ||
            (x > 0 && a->count > SIZE_MAX / (size_t)a->elem_size / (size_t)x)) {
            sb_puts(err, "bad 'shape' in the .npy header");
            return false;
        }
        a->shape[a->ndim++] = x;
        a->count *= (size_t)x;
        p = end;
    }
}

bool npy_parse(const unsigned char *buf, size_t len, npy_array *out, strbuf *err)
{
    memset(out, 0, sizeof *out);
    if (!npy_is_npy(buf, len) || len < 10) {
        sb_puts(err, "not a .npy file");
        return false;
    }
    int major = buf[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        start = 10;
    } else if ((major == 2 || major == 3) && len >= 12) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        start = 12;
    } else {
        sb_printf(err, ".npy format version %d is not one attnc reads (1, 2, 3)", major);
        return false;
    }
    if (hlen > len - start || hlen > 1 << 20) {
        sb_puts(err, "the .npy header runs past the end of the file");
        return false;
    }
    char *h = malloc(hlen + 1);
    if (!h) {
        sb_puts(err, "out of memory");
        return false;
    }
    memcpy(h, buf + start, hlen);
    h[hlen] = 0;
    const char *fo = value_of(h, "fortran_order");
    bool ok = parse_descr(value_of(h, "descr"), out, err) && parse_shape(value_of(h, "shape"), out, err);
    if (ok && (!fo || strncmp(fo, "False", 5))) {
        sb_puts(err, "the .npy array is in Fortran order; save a C-ordered array (np.ascontiguousarray)");
        ok = false;
    }
    free(h);
    size_t data = len - start - hlen;
    if (ok && data != out->count * (size_t)out->elem_size) {
        sb_printf(err, "the .npy data is %zu bytes, its shape needs %zu", data, out->count * (size_t)out->elem_size);
        ok = false;
    }
    out->data = buf + start + hlen;
    return ok;
}

/* Little-endian bytes of element i, zero-extended to 64 bits. */
static uint64_t raw_bits(const npy_array *a, size_t i)
{
    uint64_t x = 0;
    const unsigned char *p = a->data + i * (size_t)a->elem_size;
    for (int b = a->elem_size - 1; b >= 0; b--)
        x = x << 8 | p[b];
    return x;
}

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) /* subnormal */
             : e == 31 ? (m ? NAN : INFINITY)
                       : ldexp(1024 + m, e - 25); /* (1 + m/1024) * 2^(e-15) */
    return h & 0x8000 ? -v : v;
}

double npy_get_f(const npy_array *a, size_t i)
{
    uint64_t x = raw_bits(a, i);
    if (a->kind != 'f') {
        bool big = false;
        return (double)npy_get_i(a, i, &big);
    }
    if (a->elem_size == 2)
        return half_to_double((uint16_t)x);
    if (a->elem_size == 4) {
        uint32_t u = (uint32_t)x;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    double d;
    memcpy(&d, &x, 8);
    return d;
}

int64_t npy_get_i(const npy_array *a, size_t i, bool *too_big)
{
    uint64_t x = raw_bits(a, i);
    int bits = a->elem_size * 8;
    if (a->kind == 'i' && bits < 64 && (x >> (bits - 1)) & 1)
        x |= ~0ull << bits; /* sign-extend */
    if (a->kind == 'u' && x > INT64_MAX)
        *too_big = true;
    return (int64_t)x;
}
