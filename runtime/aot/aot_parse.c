/* aot_parse.c — the text forms of an AOT launch signature and grid, used by
 * `attnc compile --from-ptx` and the tests:
 *   signature  := param (',' param)*
 *   param      := NAME ':' type
 *   type       := 'ptr' ['?'] ['/' ALIGN] | ('i32' | 'i64') ['>=' MIN] | 'f32' | 'f64'
 *   grid       := dim ',' dim ',' dim
 *   dim        := INT | NAME ['*' NAME] ['/' INT]        (ceil division)
 * e.g. "x:ptr/4, lse:ptr?, n:i32>=1" and "n/256,1,1". */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/aot/aot.h"

static const char *skip_ws(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

/* Copies an identifier into storage; NULL when there is none or no room. */
static const char *take_ident(const char **pp, char *storage, size_t cap, size_t *used)
{
    const char *p = skip_ws(*pp), *start = p;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    size_t n = (size_t)(p - start);
    if (n == 0 || isdigit((unsigned char)*start) || *used + n + 1 > cap)
        return NULL;
    char *dst = storage + *used;
    memcpy(dst, start, n);
    dst[n] = 0;
    *used += n + 1;
    *pp = p;
    return dst;
}

static bool parse_type(const char **pp, aot_param *out)
{
    static const struct {
        const char *word;
        aot_type type;
    } types[] = {{"ptr", AOT_PTR}, {"i32", AOT_I32}, {"i64", AOT_I64}, {"f32", AOT_F32}, {"f64", AOT_F64}};
    const char *p = skip_ws(*pp);
    int t = -1;
    for (int i = 0; i < 5 && t < 0; i++)
        if (!strncmp(p, types[i].word, 3))
            t = i;
    if (t < 0)
        return false;
    out->type = types[t].type;
    out->min = 1;
    out->max = 0; /* unchecked */
    p += 3;
    if (out->type == AOT_PTR && *p == '?')
        out->nullable = true, p++;
    if (out->type == AOT_PTR && *p == '/')
        out->align = (int)strtol(p + 1, (char **)&p, 10);
    if ((out->type == AOT_I32 || out->type == AOT_I64) && !strncmp(p, ">=", 2)) {
        out->min = strtoll(p + 2, (char **)&p, 10);
        out->max = out->type == AOT_I32 ? 2147483647LL : INT64_MAX;
    }
    *pp = p;
    return out->type != AOT_PTR || (out->align >= 0 && out->align <= 4096);
}

int aot_parse_signature(const char *text, aot_param *out, int max, char *storage, size_t cap, strbuf *err)
{
    size_t used = 0;
    int n = 0;
    const char *p = skip_ws(text);
    while (*p) {
        if (n == max) {
            sb_printf(err, "more than %d parameters", max);
            return -1;
        }
        memset(&out[n], 0, sizeof out[n]);
        out[n].name = take_ident(&p, storage, cap, &used);
        p = skip_ws(p);
        if (!out[n].name || *p != ':' || (p++, !parse_type(&p, &out[n]))) {
            sb_printf(err, "bad parameter %d near '%s': write NAME:TYPE (ptr, ptr?, ptr/ALIGN, i32, i32>=MIN, i64, "
                           "f32, f64)",
                      n + 1, p);
            return -1;
        }
        n++;
        p = skip_ws(p);
        if (*p == ',')
            p = skip_ws(p + 1);
        else if (*p) {
            sb_printf(err, "expected ',' near '%s'", p);
            return -1;
        }
    }
    return n;
}

static int param_index(const aot_param *params, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(params[i].name) == len && !strncmp(params[i].name, name, len))
            return i;
    return -1;
}

/* One dim: INT | NAME ['*' NAME] ['/' INT]. */
static bool parse_dim(const char **pp, const aot_param *params, int n, aot_dim *d)
{
    const char *p = skip_ws(*pp);
    d->arg[0] = d->arg[1] = -1;
    d->div = 1;
    if (isdigit((unsigned char)*p)) {
        d->div = strtoll(p, (char **)&p, 10);
        *pp = p;
        return d->div >= 1;
    }
    for (int j = 0; j < 2; j++) {
        const char *start = p = skip_ws(p);
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        d->arg[j] = param_index(params, n, start, (size_t)(p - start));
        if (d->arg[j] < 0)
            return false;
        p = skip_ws(p);
        if (*p != '*')
            break;
        p++;
    }
    if (*p == '/')
        d->div = strtoll(p + 1, (char **)&p, 10);
    *pp = p;
    return d->div >= 1;
}

bool aot_parse_grid(const char *text, const aot_param *params, int nparams, aot_dim out[3], strbuf *err)
{
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        if (!parse_dim(&p, params, nparams, &out[i])) {
            sb_printf(err, "bad grid dim %d in '%s': write INT or NAME[*NAME][/INT] with integer parameters", i,
                      text);
            return false;
        }
        p = skip_ws(p);
        if (i < 2 && *p++ != ',') {
            sb_printf(err, "the grid needs three dims separated by commas: '%s'", text);
            return false;
        }
    }
    if (*p) {
        sb_printf(err, "trailing text in grid '%s'", text);
        return false;
    }
    return true;
}
