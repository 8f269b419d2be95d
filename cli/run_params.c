/* run_params.c — see run_params.h. */
#include "run_params.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "commands.h"
#include "npy.h"
#include "reference/ref_dtype.h"

bool run_params_add(run_params *p, const char *arg, strbuf *err)
{
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : 0;
    if (!eq || n == 0 || !eq[1]) {
        sb_printf(err, "--param wants NAME=VALUE or NAME=@FILE, not '%s'", arg);
        return false;
    }
    if (n >= sizeof p->v[0].name || p->n == RUN_MAX_PARAMS) {
        sb_printf(err, "--param '%.*s': %s", (int)(n < 64 ? n : 64), arg,
                  p->n == RUN_MAX_PARAMS ? "too many --param options" : "name too long");
        return false;
    }
    memcpy(p->v[p->n].name, arg, n);
    p->v[p->n].name[n] = 0;
    p->v[p->n++].value = eq + 1;
    return true;
}

/* The index of param `name` in r, or -1 after a one-line error. */
static int find_param(const recipe *r, const char *name)
{
    const char *names[64];
    int np = r->nparams < 64 ? r->nparams : 64;
    for (int i = 0; i < np; i++) {
        names[i] = r->params[i].name;
        if (!strcmp(names[i], name))
            return i;
    }
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "--param %s: recipe %s has no param '%s'", name, r->name, name);
    if (np == 0)
        sb_puts(&sb, " (it has no params)");
    for (int j = 0; j < np; j++)
        sb_printf(&sb, "%s%s%s", j ? ", " : " (its params: ", names[j], j == np - 1 ? ")" : "");
    cli_did_you_mean(&sb, name, names, np);
    cli_usage_error("run", "%s", sb.failed ? "--param: unknown name" : sb_cstr(&sb));
    sb_free(&sb);
    return -1;
}

static bool is_float(dtype dt)
{
    return dt == DT_F32 || dt == DT_F16 || dt == DT_BF16;
}

/* Stores a float into element j of a float param; false when it does not fit. */
static bool put_f(dtype dt, void *host, size_t j, double v)
{
    float f = (float)v;
    if (!isfinite(v) || !isfinite(f))
        return false;
    if (dt == DT_F32)
        ((float *)host)[j] = f;
    else {
        uint16_t h = dt == DT_BF16 ? ref_f32_to_bf16(f) : ref_f32_to_f16(f);
        float back = dt == DT_BF16 ? ref_bf16_to_f32(h) : ref_f16_to_f32(h);
        if (!isfinite(back))
            return false;
        ((uint16_t *)host)[j] = h;
    }
    return true;
}

/* Stores an integer into element j of an int param; false when out of range. */
static bool put_i(dtype dt, void *host, size_t j, int64_t v)
{
    if (dt == DT_U8 && (v < 0 || v > UINT8_MAX))
        return false;
    if (dt == DT_I32 && (v < INT32_MIN || v > INT32_MAX))
        return false;
    if (dt == DT_U8)
        ((uint8_t *)host)[j] = (uint8_t)v;
    else if (dt == DT_I32)
        ((int32_t *)host)[j] = (int32_t)v;
    else
        ((int64_t *)host)[j] = v;
    return true;
}

static const char *range_of(dtype dt)
{
    return dt == DT_U8 ? "0..255" : dt == DT_I32 ? "-2147483648..2147483647" : "a 64-bit signed integer";
}

static size_t numel(const attnc_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= (size_t)t->shape[d];
    return n;
}

static void shape_text(char *buf, size_t cap, const int64_t *shape, int ndim, char open, char close)
{
    size_t k = (size_t)snprintf(buf, cap, "%c", open);
    for (int d = 0; d < ndim && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < cap)
        snprintf(buf + k, cap - k, "%s%c", ndim == 1 && open == '(' ? "," : "", close);
}

/* --param NAME=NUMBER: every element. */
static bool fill_scalar(const recipe_param *rp, const char *text, void *host, size_t n, char *msg, size_t cap)
{
    char *end = NULL;
    errno = 0;
    bool ok;
    if (is_float(rp->dtype)) {
        double v = strtod(text, &end);
        ok = *end == 0 && errno == 0;
        for (size_t j = 0; ok && j < n; j++)
            ok = put_f(rp->dtype, host, j, v);
        if (!ok)
            snprintf(msg, cap, "--param %s=%s: %s is %s; write a finite number that fits it (e.g. %s=0.5)", rp->name,
                     text, rp->name, dtype_name(rp->dtype), rp->name);
    } else {
        long long v = strtoll(text, &end, 10);
        ok = *end == 0 && errno == 0;
        for (size_t j = 0; ok && j < n; j++)
            ok = put_i(rp->dtype, host, j, v);
        if (!ok)
            snprintf(msg, cap, "--param %s=%s: %s is %s; write an integer in %s", rp->name, text, rp->name,
                     dtype_name(rp->dtype), range_of(rp->dtype));
    }
    return ok;
}

/* The file at path, whole (malloc'd); NULL with why in msg. */
static unsigned char *read_all(const char *name, const char *path, size_t *len, char *msg, size_t cap)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t n = 0, cap_b = 0;
    while (f) {
        if (n == cap_b) {
            cap_b = cap_b ? cap_b * 2 : 1 << 16;
            unsigned char *nb = cap_b <= (size_t)1 << 32 ? realloc(buf, cap_b) : NULL;
            if (!nb)
                break;
            buf = nb;
        }
        size_t k = fread(buf + n, 1, cap_b - n, f);
        n += k;
        if (k == 0) {
            if (!ferror(f)) {
                fclose(f);
                *len = n;
                return buf ? buf : malloc(1);
            }
            break;
        }
    }
    snprintf(msg, cap, "--param %s=@%s: %s", name, path, f ? "cannot read it (or too large)" : strerror(errno));
    if (f)
        fclose(f);
    free(buf);
    return NULL;
}

static bool fill_npy(const recipe_param *rp, const attnc_tensor *t, const char *path, const unsigned char *buf,
                     size_t len, void *host, char *msg, size_t cap)
{
    npy_array a;
    strbuf err;
    sb_init(&err);
    bool ok = npy_parse(buf, len, &a, &err);
    if (!ok)
        snprintf(msg, cap, "--param %s=@%s: %s", rp->name, path, err.failed ? "bad .npy file" : sb_cstr(&err));
    sb_free(&err);
    if (!ok)
        return false;
    bool same = a.ndim == t->ndim || (t->ndim == 0 && a.ndim == 1 && a.shape[0] == 1);
    for (int d = 0; same && d < t->ndim; d++)
        same = a.shape[d] == t->shape[d];
    if (!same) {
        char have[160], want[160];
        shape_text(have, sizeof have, a.shape, a.ndim, '(', ')');
        shape_text(want, sizeof want, t->shape, t->ndim, '[', ']');
        snprintf(msg, cap, "--param %s=@%s: the array's shape is %s, the param's is %s", rp->name, path, have, want);
        return false;
    }
    if (!is_float(rp->dtype) && a.kind == 'f') {
        snprintf(msg, cap, "--param %s=@%s: %s is %s; save integers (e.g. np.int32), not floats", rp->name, path,
                 rp->name, dtype_name(rp->dtype));
        return false;
    }
    for (size_t j = 0; j < a.count; j++) {
        bool big = false;
        int64_t iv = is_float(rp->dtype) ? 0 : npy_get_i(&a, j, &big);
        if (is_float(rp->dtype) ? put_f(rp->dtype, host, j, npy_get_f(&a, j)) : !big && put_i(rp->dtype, host, j, iv))
            continue;
        snprintf(msg, cap, "--param %s=@%s: element %zu does not fit %s (%s)", rp->name, path, j,
                 dtype_name(rp->dtype), is_float(rp->dtype) ? "not finite in it" : range_of(rp->dtype));
        return false;
    }
    return true;
}

/* --param NAME=@FILE: .npy, or raw little-endian elements of the dtype. */
static bool fill_file(const recipe_param *rp, const attnc_tensor *t, const char *path, void *host, char *msg,
                      size_t cap)
{
    size_t len = 0, n = numel(t), es = (size_t)dtype_size(rp->dtype);
    unsigned char *buf = read_all(rp->name, path, &len, msg, cap);
    if (!buf)
        return false;
    bool ok;
    if (npy_is_npy(buf, len)) {
        ok = fill_npy(rp, t, path, buf, len, host, msg, cap);
    } else if (len != n * es) {
        char want[160];
        shape_text(want, sizeof want, t->shape, t->ndim, '[', ']');
        snprintf(msg, cap,
                 "--param %s=@%s: %zu bytes, but %s %s of %s needs %zu (%zu elements of %zu bytes; or give a .npy "
                 "file)",
                 rp->name, path, len, rp->name, want, dtype_name(rp->dtype), n * es, n, es);
        ok = false;
    } else {
        memcpy(host, buf, len); /* little-endian, the host's order */
        ok = true;
    }
    free(buf);
    return ok;
}

/* The param's shape, as ref_check lays it out (contiguous). */
static void param_shape(const recipe_param *rp, const int64_t *sizes, attnc_tensor *t)
{
    memset(t, 0, sizeof *t);
    t->dtype = (attnc_dtype)rp->dtype;
    t->ndim = rp->ndim;
    for (int d = rp->ndim - 1; d >= 0; d--) {
        t->shape[d] = rp->const_dims[d] > 0 ? rp->const_dims[d] : sizes[rp->dims[d]];
        t->stride[d] = d == rp->ndim - 1 ? 1 : t->stride[d + 1] * t->shape[d + 1];
    }
}

int run_params_load(run_params *p, const recipe *r, const int64_t *sizes)
{
    for (int i = 0; i < p->n; i++) {
        for (int j = 0; j < i; j++)
            if (!strcmp(p->v[j].name, p->v[i].name))
                return cli_usage_error("run", "--param %s is given twice", p->v[i].name);
        int k = find_param(r, p->v[i].name);
        if (k < 0)
            return EXIT_USER;
        const recipe_param *rp = &r->params[k];
        attnc_tensor t;
        param_shape(rp, sizes, &t);
        p->v[i].index = k;
        p->v[i].bytes = numel(&t) * (size_t)dtype_size(rp->dtype);
        p->v[i].data = malloc(p->v[i].bytes ? p->v[i].bytes : 1);
        if (!p->v[i].data) {
            fprintf(stderr, "attnc run: out of memory for --param %s\n", rp->name);
            return EXIT_INTERNAL;
        }
        char msg[1024];
        const char *v = p->v[i].value;
        bool ok = v[0] == '@' ? fill_file(rp, &t, v + 1, p->v[i].data, msg, sizeof msg)
                              : fill_scalar(rp, v, p->v[i].data, numel(&t), msg, sizeof msg);
        if (!ok)
            return cli_usage_error("run", "%s", msg);
    }
    return EXIT_OK;
}

void run_params_free(run_params *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->v[i].data);
        p->v[i].data = NULL;
    }
}

bool run_params_fill(void *user, int index, const attnc_tensor *t, void *host, char *msg, size_t cap)
{
    const run_params *p = user;
    for (int i = 0; i < p->n; i++) {
        if (p->v[i].index != index || !p->v[i].data)
            continue;
        if (numel(t) * (size_t)dtype_size((dtype)t->dtype) != p->v[i].bytes) {
            snprintf(msg, cap, "internal error: --param %s: the run's tensor is not the size loaded", p->v[i].name);
            return false;
        }
        memcpy(host, p->v[i].data, p->v[i].bytes);
    }
    return true; /* not given: the random values stay */
}
