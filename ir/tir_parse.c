/* tir_parse.c — reads the tile IR text form (docs/TILE_IR.md; written by
 * tir_print.c) back into a kernel, then verifies it. Errors come back as
 * "line:col: message". Grammar:
 *   kernel  := 'kernel' NAME header-attr* param* [linear] '{' op* '}'
 *   param   := 'param' NAME DTYPE ['[' DIM (',' DIM)* ']']
 *   linear  := 'linear' (KEY '=' VALUE)*   (linear kernels: the recipe's linear section)
 *   op      := [vals '='] OPNAME [vals] ['{' (KEY '=' VALUE)* '}'] [':' types]
 *              ['args' '(' (%N ':' type),* ')' '{' op* '}']
 *   vals    := %N (',' %N)*
 *   type    := tile<DIMxDIM,DT,SPACE,LAYOUT> | rows<DIM,LAYOUT> | box<EXT> | range | class */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr_parse.h"
#include "tile_ir.h"
#include "tir_text.h"

typedef struct named {
    long id;
    tir_value *v;
} named;

typedef struct tparser {
    arena *a;
    const char *text, *p, *end;
    strbuf *err;
    tir_kernel *k;
    named *vals;
    int nvals, cap;
    bool failed;
    int depth;
} tparser;

static bool perr(tparser *ps, const char *fmt, const char *arg)
{
    if (ps->failed)
        return false;
    ps->failed = true;
    int line = 1, col = 1;
    for (const char *q = ps->text; q < ps->p && q < ps->end; q++) {
        if (*q == '\n')
            line++, col = 1;
        else
            col++;
    }
    sb_printf(ps->err, "%d:%d: ", line, col);
    sb_printf(ps->err, fmt, arg ? arg : "");
    return false;
}

static void skip(tparser *ps)
{
    for (;;) {
        while (ps->p < ps->end && isspace((unsigned char)*ps->p))
            ps->p++;
        if (ps->p + 1 < ps->end && ps->p[0] == '/' && ps->p[1] == '/') {
            while (ps->p < ps->end && *ps->p != '\n')
                ps->p++;
            continue;
        }
        return;
    }
}

static bool accept(tparser *ps, const char *s)
{
    skip(ps);
    size_t n = strlen(s);
    if ((size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, s, n)) {
        ps->p += n;
        return true;
    }
    return false;
}

static bool expect(tparser *ps, const char *s)
{
    return accept(ps, s) || perr(ps, "expected '%s'", s);
}

/* An identifier-like word: letters, digits, _ . - */
static size_t word(tparser *ps, const char **w)
{
    skip(ps);
    *w = ps->p;
    size_t n = 0;
    while (ps->p + n < ps->end && (isalnum((unsigned char)ps->p[n]) || strchr("_.-+", ps->p[n])))
        n++;
    ps->p += n;
    return n;
}

static bool word_eq(const char *w, size_t n, const char *s)
{
    return strlen(s) == n && !memcmp(w, s, n);
}

static int lookup(const char *const *names, int count, const char *w, size_t n)
{
    for (int i = 0; i < count; i++)
        if (word_eq(w, n, names[i]))
            return i;
    return -1;
}

/* The next word copied into buf as a C string, for strtol/strtod. */
static bool number_word(tparser *ps, char *buf, size_t cap)
{
    const char *w;
    size_t n = word(ps, &w);
    if (n == 0 || n >= cap)
        return perr(ps, "number expected", NULL);
    memcpy(buf, w, n);
    buf[n] = 0;
    return true;
}

static bool integer(tparser *ps, long *out)
{
    char buf[32];
    if (!number_word(ps, buf, sizeof buf))
        return false;
    char *e;
    *out = strtol(buf, &e, 10);
    return *e == 0 || perr(ps, "bad number '%s'", buf);
}

static bool named_enum(tparser *ps, const char *const *names, int count, int *out, const char *what)
{
    const char *w;
    size_t n = word(ps, &w);
    *out = lookup(names, count, w, n);
    return *out >= 0 || perr(ps, "unknown %s", what);
}


/* ---- values ---- */

static tir_value *find(tparser *ps, long id)
{
    for (int i = ps->nvals - 1; i >= 0; i--)
        if (ps->vals[i].id == id)
            return ps->vals[i].v;
    return NULL;
}

static bool define(tparser *ps, long id, tir_value *v)
{
    if (find(ps, id))
        return perr(ps, "value defined twice", NULL);
    if (ps->nvals == ps->cap) {
        int cap = ps->cap ? ps->cap * 2 : 64;
        named *p = ARENA_ARRAY(ps->a, named, cap);
        if (!p)
            return perr(ps, "out of memory", NULL);
        if (ps->nvals)
            memcpy(p, ps->vals, sizeof *p * (size_t)ps->nvals);
        ps->vals = p;
        ps->cap = cap;
    }
    ps->vals[ps->nvals++] = (named){id, v};
    return true;
}

static bool value_ref(tparser *ps, long *id)
{
    skip(ps);
    if (!accept(ps, "%"))
        return perr(ps, "value (%%N) expected", NULL);
    return integer(ps, id);
}

/* %a, %b, ... (at least one when required) */
static int value_list(tparser *ps, long *ids, int max)
{
    int n = 0;
    skip(ps);
    if (ps->p >= ps->end || *ps->p != '%')
        return 0;
    do {
        if (n == max)
            return (perr(ps, "too many values", NULL), -1);
        if (!value_ref(ps, &ids[n++]))
            return -1;
    } while (accept(ps, ","));
    return n;
}

/* ---- types ---- */

static bool dim(tparser *ps, const char *w, size_t n, int *out)
{
    if (word_eq(w, n, "Tq") || word_eq(w, n, "Tk") || word_eq(w, n, "?")) {
        *out = w[0] == '?' ? 0 : w[1] == 'q' ? TIR_DIM_TQ : TIR_DIM_TK;
        return true;
    }
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)w[i]) || v > 1000000)
            return perr(ps, "bad extent", NULL);
        v = v * 10 + (w[i] - '0');
    }
    if (n == 0 || v == 0)
        return perr(ps, "bad extent", NULL);
    *out = (int)v;
    return true;
}

/* "8x16", "TqxTk", "?": up to max extents separated by 'x' before ',' or '>'. */
static int extents(tparser *ps, int *out, int max)
{
    skip(ps);
    const char *s = ps->p;
    while (ps->p < ps->end && *ps->p != ',' && *ps->p != '>')
        ps->p++;
    int n = 0;
    for (const char *q = s; q <= ps->p && q < ps->end;) {
        const char *x = q;
        while (x < ps->p && *x != 'x')
            x++;
        if (n == max)
            return (perr(ps, "too many extents", NULL), -1);
        if (!dim(ps, q, (size_t)(x - q), &out[n++]))
            return -1;
        q = x + 1;
        if (x == ps->p)
            break;
    }
    return n;
}

static bool tile_type(tparser *ps, tir_type *t)
{
    int ext[2], dt, sp, lay;
    if (!expect(ps, "<") || extents(ps, ext, 2) != 2)
        return perr(ps, "a tile has two extents (RxC)", NULL);
    if (!expect(ps, ",") || !named_enum(ps, (const char *const[]){"bf16", "f16", "f32", "i32", "i64", "u8"}, 6, &dt, "dtype"))
        return false;
    if (!expect(ps, ",") || !named_enum(ps, tir_space_names, 4, &sp, "memory space") || !expect(ps, ","))
        return false;
    if (!named_enum(ps, tir_layout_names, 6, &lay, "layout") || !expect(ps, ">"))
        return false;
    *t = tir_tile_type(ext[0], ext[1], (dtype)dt, (tir_space)sp);
    t->layout = (tir_layout)lay;
    return true;
}

static bool rows_type(tparser *ps, tir_type *t)
{
    int r, lay;
    if (!expect(ps, "<") || extents(ps, &r, 1) != 1)
        return perr(ps, "rows have one extent", NULL);
    if (!expect(ps, ",") || !named_enum(ps, tir_layout_names, 6, &lay, "layout") || !expect(ps, ">"))
        return false;
    *t = tir_rows_type(r);
    t->layout = (tir_layout)lay;
    return true;
}

static bool box_type(tparser *ps, tir_type *t)
{
    *t = tir_simple_type(TV_BOX);
    if (!expect(ps, "<"))
        return false;
    if (accept(ps, "all"))
        return expect(ps, ">");
    int ext[SCHED_MAX_DIMS];
    int n = extents(ps, ext, SCHED_MAX_DIMS);
    if (n < 0 || !expect(ps, ">"))
        return false;
    if (n == 1 && ext[0] < 0) {
        t->box_ext[0] = ext[0];
        return true;
    }
    for (int i = 0; i < n; i++)
        if (ext[i] <= 0)
            return perr(ps, "a box's extents are numbers, or one of Tq, Tk, all", NULL);
    t->box_ndims = n;
    memcpy(t->box_ext, ext, sizeof(int) * (size_t)n);
    return true;
}

static bool parse_type(tparser *ps, tir_type *t)
{
    const char *w;
    skip(ps);
    size_t n = 0;
    while (ps->p + n < ps->end && isalpha((unsigned char)ps->p[n]))
        n++;
    w = ps->p;
    ps->p += n;
    if (word_eq(w, n, "tile"))
        return tile_type(ps, t);
    if (word_eq(w, n, "rows"))
        return rows_type(ps, t);
    if (word_eq(w, n, "box"))
        return box_type(ps, t);
    if (word_eq(w, n, "range") || word_eq(w, n, "class")) {
        *t = tir_simple_type(w[0] == 'r' ? TV_RANGE : TV_CLASS);
        return true;
    }
    return perr(ps, "type expected (tile, rows, box, range, class)", NULL);
}

/* ---- attributes ---- */

static int resolve_param(void *user, const char *name, size_t len, expr_type *elem)
{
    const tir_kernel *k = user;
    for (int i = 0; i < k->nparams; i++) {
        if (word_eq(name, len, k->params[i].name)) {
            dtype d = k->params[i].dtype;
            *elem = d == DT_BF16 || d == DT_F16 || d == DT_F32 ? TY_FLOAT : TY_INT;
            return i;
        }
    }
    return -1;
}

static bool attr_expr(tparser *ps, expr **out, bool allow_none)
{
    skip(ps);
    if (allow_none && accept(ps, "none")) {
        *out = NULL;
        return true;
    }
    strbuf e;
    sb_init(&e);
    *out = expr_parse(ps->a, &ps->p, ps->end, resolve_param, ps->k, &e);
    if (!*out)
        perr(ps, "in expression: %s", sb_cstr(&e));
    sb_free(&e);
    return *out != NULL;
}

static bool attr_param(tparser *ps, int *out)
{
    const char *w;
    size_t n = word(ps, &w);
    expr_type ty;
    if (word_eq(w, n, "none")) {
        *out = -1;
        return true;
    }
    *out = resolve_param(ps->k, w, n, &ty);
    return *out >= 0 || perr(ps, "unknown param", NULL);
}

static bool attr_flag(tparser *ps, bool *out)
{
    long v;
    if (!integer(ps, &v))
        return false;
    *out = v != 0;
    return v == 0 || v == 1 || perr(ps, "flag must be 0 or 1", NULL);
}

/* A small int attribute (stages, pending); the verifier checks its range. */
static bool attr_int(tparser *ps, int *out)
{
    long v;
    if (!integer(ps, &v))
        return false;
    if (v < -1000 || v > 1000)
        return perr(ps, "integer attribute out of range", NULL);
    *out = (int)v;
    return true;
}

static bool attr_float(tparser *ps, double *out)
{
    char buf[64];
    if (!number_word(ps, buf, sizeof buf))
        return false;
    char *e;
    *out = strtod(buf, &e);
    return *e == 0 || perr(ps, "bad number '%s'", buf);
}

/* lo0 .. hi2 of kv_range */
static bool attr_bound(tparser *ps, tir_op *op, const char *w, size_t n)
{
    int d = w[2] - '0';
    if (d < 0 || d >= SCHED_MAX_DIMS)
        return perr(ps, "bound dim must be 0..2", NULL);
    if (d + 1 > op->range_ndims)
        op->range_ndims = d + 1;
    return attr_expr(ps, w[0] == 'l' ? &op->range_lo[d] : &op->range_hi[d], false);
}

/* partP.loD / partP.hiD of kv_range (a part of its union) */
static bool attr_part(tparser *ps, tir_op *op, const char *w)
{
    int p = w[4] - '0', d = w[8] - '0';
    if (p < 0 || p >= TIR_MAX_PARTS || w[5] != '.' || d < 0 || d >= SCHED_MAX_DIMS)
        return perr(ps, "part bound must be part0..part3 with dims 0..2, e.g. part1.lo0", NULL);
    if (p + 1 > op->range_nparts)
        op->range_nparts = p + 1;
    return attr_expr(ps, w[6] == 'l' ? &op->part_lo[p][d] : &op->part_hi[p][d], false);
}

static bool attribute(tparser *ps, tir_op *op)
{
    const char *w;
    size_t n = word(ps, &w);
    if (n == 0 || !expect(ps, "="))
        return perr(ps, "attribute name expected", NULL);
    int e;
    if (word_eq(w, n, "tensor"))
        return named_enum(ps, tir_tensor_names, TENSOR_COUNT, &e, "tensor") && ((op->tensor = (tir_tensor)e), true);
    if (word_eq(w, n, "param"))
        return attr_param(ps, &op->param);
    if (word_eq(w, n, "span_full"))
        return attr_expr(ps, &op->span_full_expr, false);
    if (word_eq(w, n, "span_mask"))
        return attr_expr(ps, &op->span_mask_expr, false);
    if (word_eq(w, n, "span"))
        return attr_param(ps, &op->span_param) && ((op->span = op->span_param >= 0), true);
    if (word_eq(w, n, "aug"))
        return attr_flag(ps, &op->aug);
    if (word_eq(w, n, "trans_b"))
        return attr_flag(ps, &op->trans_b);
    if (word_eq(w, n, "trans_a"))
        return attr_flag(ps, &op->trans_a);
    if (word_eq(w, n, "reverse"))
        return attr_flag(ps, &op->reverse);
    if (word_eq(w, n, "group"))
        return attr_flag(ps, &op->group);
    if (word_eq(w, n, "strict"))
        return attr_flag(ps, &op->strict);
    if (word_eq(w, n, "dscore"))
        return attr_expr(ps, &op->score_expr, false);
    if (word_eq(w, n, "site"))
        return attr_expr(ps, &op->site_expr, false);
    if (word_eq(w, n, "partial"))
        return attr_expr(ps, &op->partial_expr, false);
    if (word_eq(w, n, "prefetch"))
        return attr_flag(ps, &op->prefetch);
    if (word_eq(w, n, "stages"))
        return attr_int(ps, &op->stages);
    if (word_eq(w, n, "pending"))
        return attr_int(ps, &op->pending);
    if (word_eq(w, n, "base2"))
        return attr_flag(ps, &op->base2);
    if (word_eq(w, n, "value"))
        return attr_float(ps, &op->fval);
    if (word_eq(w, n, "mode"))
        return named_enum(ps, tir_range_names, 4, &e, "range mode") && ((op->range_mode = (tir_range_mode)e), true);
    if (n == 3 && (!memcmp(w, "lo", 2) || !memcmp(w, "hi", 2)))
        return attr_bound(ps, op, w, n);
    if (n == 9 && !memcmp(w, "part", 4) && (!memcmp(w + 6, "lo", 2) || !memcmp(w + 6, "hi", 2)))
        return attr_part(ps, op, w);
    if (word_eq(w, n, "full"))
        return attr_expr(ps, &op->full_expr, false);
    if (word_eq(w, n, "empty"))
        return attr_expr(ps, &op->empty_expr, false);
    if (word_eq(w, n, "score"))
        return attr_expr(ps, &op->score_expr, false);
    if (word_eq(w, n, "mask"))
        return attr_expr(ps, &op->mask_expr, true);
    if (word_eq(w, n, "feature"))
        return named_enum(ps, tir_feature_names, 3, &op->feature, "feature map");
    if (word_eq(w, n, "decay"))
        return named_enum(ps, tir_decay_names, 3, &op->decay, "decay kind");
    return perr(ps, "unknown attribute", NULL);
}

/* ---- ops ---- */

static bool parse_block(tparser *ps, tir_block *b);

static bool results(tparser *ps, tir_op *op, const long *ids, int n)
{
    tir_type types[TIR_MAX_RESULTS];
    if (n == 0)
        return true;
    if (!expect(ps, ":"))
        return false;
    for (int i = 0; i < n; i++) {
        if ((i && !expect(ps, ",")) || !parse_type(ps, &types[i]))
            return false;
        op->results[i] = tir_value_new(ps->a, types[i]);
        if (!op->results[i])
            return perr(ps, "out of memory", NULL);
        op->results[i]->def = op;
    }
    op->nresults = n;
    return true;
}

static bool body(tparser *ps, tir_op *op)
{
    if (!expect(ps, "args") || !expect(ps, "("))
        return false;
    op->body = tir_block_new(ps->a);
    if (!op->body)
        return perr(ps, "out of memory", NULL);
    while (!accept(ps, ")")) {
        long id;
        tir_type t;
        if ((op->body->nargs && !expect(ps, ",")) || !value_ref(ps, &id) || !expect(ps, ":") || !parse_type(ps, &t))
            return false;
        tir_value *v = tir_block_add_arg(ps->a, op->body, t);
        if (!v)
            return perr(ps, "too many body arguments", NULL);
        if (!define(ps, id, v))
            return false;
    }
    if (++ps->depth > 16)
        return perr(ps, "for loops nested too deeply", NULL);
    bool ok = expect(ps, "{") && parse_block(ps, op->body);
    ps->depth--;
    return ok;
}

static bool operands(tparser *ps, tir_op *op)
{
    long ids[TIR_MAX_OPERANDS];
    int n = value_list(ps, ids, TIR_MAX_OPERANDS);
    if (n < 0)
        return false;
    for (int i = 0; i < n; i++) {
        op->operands[i] = find(ps, ids[i]);
        if (!op->operands[i])
            return perr(ps, "value used before its definition", NULL);
    }
    op->noperands = n;
    return true;
}

static bool parse_op(tparser *ps, tir_block *b)
{
    long res[TIR_MAX_RESULTS];
    int nres = value_list(ps, res, TIR_MAX_RESULTS);
    if (nres < 0 || (nres > 0 && !expect(ps, "=")))
        return false;
    const char *w;
    size_t n = word(ps, &w);
    char name[32];
    if (n == 0 || n >= sizeof name)
        return perr(ps, "op name expected", NULL);
    memcpy(name, w, n);
    name[n] = 0;
    bool ok;
    tir_op_kind kind = tir_op_from_name(name, &ok);
    if (!ok)
        return perr(ps, "unknown op '%s'", name);
    tir_op *op = tir_append(ps->a, b, kind, 0, NULL, 0, NULL);
    if (!op)
        return perr(ps, "out of memory", NULL);
    if (!operands(ps, op))
        return false;
    if (accept(ps, "{"))
        while (!accept(ps, "}"))
            if (!attribute(ps, op))
                return false;
    if (!results(ps, op, res, nres))
        return false;
    for (int i = 0; i < nres; i++)
        if (!define(ps, res[i], op->results[i]))
            return false;
    return kind != TIR_FOR || body(ps, op);
}

static bool parse_block(tparser *ps, tir_block *b)
{
    while (!accept(ps, "}")) {
        skip(ps);
        if (ps->p >= ps->end)
            return perr(ps, "missing '}'", NULL);
        if (!parse_op(ps, b))
            return false;
    }
    return true;
}

/* ---- kernel header ---- */

static bool header_int(tparser *ps, const char *key, int *out, int lo, int hi)
{
    long v;
    if (!expect(ps, key) || !expect(ps, "=") || !integer(ps, &v))
        return false;
    if (v < lo || v > hi)
        return perr(ps, "'%s' out of range", key);
    *out = (int)v;
    return true;
}

static bool header_enum(tparser *ps, const char *key, const char *const *names, int count, int *out)
{
    return expect(ps, key) && expect(ps, "=") && named_enum(ps, names, count, out, key);
}

static bool header_schedule(tparser *ps)
{
    if (!expect(ps, "schedule") || !expect(ps, "=") || !expect(ps, "\""))
        return false;
    const char *s = ps->p;
    while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\n')
        ps->p++;
    if (!expect(ps, "\""))
        return false;
    char *spec = arena_strndup(ps->a, s, (size_t)(ps->p - 1 - s));
    strbuf e;
    sb_init(&e);
    int nd = ps->k->grid_ndim > 0 ? ps->k->grid_ndim : 1;
    bool ok = spec && schedule_parse(spec, nd, &ps->k->sched, &e);
    if (!ok)
        perr(ps, "bad schedule: %s", spec ? sb_cstr(&e) : "out of memory");
    sb_free(&e);
    return ok;
}

/* Whether the next word is `key` (not consumed). */
static bool peek_key(tparser *ps, const char *key)
{
    skip(ps);
    const char *save = ps->p, *w;
    size_t n = word(ps, &w);
    ps->p = save;
    return word_eq(w, n, key);
}

static bool size_name(tparser *ps, size_id *out)
{
    const char *w;
    size_t n = word(ps, &w);
    for (int i = 0; i < SZ_MAX; i++)
        if (word_eq(w, n, size_id_name((size_id)i))) {
            *out = (size_id)i;
            return true;
        }
    return perr(ps, "unknown size name", NULL);
}

/* [cross=1] [extra_sizes=N] [fixed=NAME:V,...] */
static bool signature(tparser *ps)
{
    tir_kernel *k = ps->k;
    int extra = 0;
    if (peek_key(ps, "cross") && !(expect(ps, "cross") && expect(ps, "=") && attr_flag(ps, &k->cross)))
        return false;
    if (peek_key(ps, "extra_sizes") && !header_int(ps, "extra_sizes", &extra, 1, SZ_MAX - SZ_EXTRA0))
        return false;
    k->nsizes = SZ_EXTRA0 + extra;
    if (!peek_key(ps, "fixed"))
        return true;
    if (!expect(ps, "fixed") || !expect(ps, "="))
        return false;
    do {
        size_id id;
        long v;
        if (!size_name(ps, &id) || !expect(ps, ":") || !integer(ps, &v))
            return false;
        if (v < 1)
            return perr(ps, "a fixed size is at least 1", NULL);
        k->size_fixed[id] = v;
    } while (accept(ps, ","));
    return true;
}

/* param NAME DT [DIM,...]: a dim is a size name or a literal extent. */
static bool param_dims(tparser *ps, tir_param *p)
{
    if (!accept(ps, "["))
        return true;
    do {
        if (p->ndim == 4)
            return perr(ps, "a param has at most 4 dims", NULL);
        skip(ps);
        if (ps->p < ps->end && isdigit((unsigned char)*ps->p)) {
            long v;
            if (!integer(ps, &v))
                return false;
            p->const_dims[p->ndim++] = v;
        } else if (!size_name(ps, &p->dims[p->ndim++])) {
            return false;
        }
    } while (accept(ps, ","));
    return expect(ps, "]");
}

static bool params(tparser *ps)
{
    tir_kernel *k = ps->k;
    enum { MAXP = 64 };
    k->params = ARENA_ARRAY(ps->a, tir_param, MAXP);
    if (!k->params)
        return perr(ps, "out of memory", NULL);
    while (peek_key(ps, "param") && expect(ps, "param")) {
        const char *w;
        size_t n = word(ps, &w);
        int dt;
        if (n == 0 || k->nparams == MAXP)
            return perr(ps, "param name expected (at most 64 params)", NULL);
        tir_param *p = &k->params[k->nparams];
        p->name = arena_strndup(ps->a, w, n);
        if (!named_enum(ps, (const char *const[]){"bf16", "f16", "f32", "i32", "i64", "u8"}, 6, &dt, "dtype"))
            return false;
        p->dtype = (dtype)dt;
        k->nparams++;
        if (!param_dims(ps, p))
            return false;
    }
    return true;
}

/* linear causal=B feature=F decay=D param=NAME|none normalize=B block=N inter=I (linear kernels) */
static bool linear_line(tparser *ps)
{
    linear_attrs *l = &ps->k->linear;
    int feature, decay, inter;
    if (ps->k->family != FAMILY_LINEAR)
        return true;
    if (!expect(ps, "linear") || !expect(ps, "causal") || !expect(ps, "=") || !attr_flag(ps, &l->causal) ||
        !header_enum(ps, "feature", tir_feature_names, 3, &feature) ||
        !header_enum(ps, "decay", tir_decay_names, 3, &decay) || !expect(ps, "param") || !expect(ps, "=") ||
        !attr_param(ps, &l->decay_param) || !expect(ps, "normalize") || !expect(ps, "=") ||
        !attr_flag(ps, &l->normalize) || !header_int(ps, "block", &l->block, 0, 1 << 16) ||
        !header_enum(ps, "inter", tir_inter_names, 3, &inter))
        return false;
    l->feature = (feature_map)feature;
    l->decay = (decay_kind)decay;
    l->inter = (inter_mode)inter;
    return true;
}

static bool header(tparser *ps)
{
    tir_kernel *k = ps->k;
    const char *w;
    int fam, dt, arch;
    if (!expect(ps, "kernel"))
        return false;
    size_t n = word(ps, &w);
    if (n == 0)
        return perr(ps, "kernel name expected", NULL);
    k->name = arena_strndup(ps->a, w, n);
    if (!header_enum(ps, "family", tir_family_names, 2, &fam) ||
        !header_enum(ps, "dtype", (const char *const[]){"bf16", "f16", "f32", "i32", "i64", "u8"}, 6, &dt))
        return false;
    k->family = fam;
    k->qkv_dtype = (dtype)dt;
    if (!header_int(ps, "d", &k->head_dim, 1, 1 << 16) || !header_int(ps, "dv", &k->head_dim_v, 1, 1 << 16) ||
        !header_int(ps, "grid", &k->grid_ndim, 0, 3) || !header_enum(ps, "arch", tir_arch_names, 3, &arch))
        return false;
    k->arch = (target_arch)arch;
    skip(ps);
    if (ps->p < ps->end && *ps->p == 'd') { /* dil=A[,B[,C]] */
        if (!expect(ps, "dil") || !expect(ps, "="))
            return false;
        int nd = k->grid_ndim > 0 ? k->grid_ndim : 1;
        for (int d = 0; d < nd; d++) {
            long v;
            if ((d && !expect(ps, ",")) || !integer(ps, &v))
                return false;
            if (v < 1 || v > 1 << 20)
                return perr(ps, "'dil' out of range", NULL);
            k->dil[d] = (int)v;
        }
        skip(ps);
    }
    if (ps->p < ps->end && *ps->p == 'p') { /* programs=NAME [elems_param=N] */
        int progs;
        if (!header_enum(ps, "programs", tir_programs_names, PROG_COUNT, &progs))
            return false;
        k->programs = (tir_programs)progs;
        if (k->programs == PROG_ELEMS && !header_int(ps, "elems_param", &k->param, 0, 63))
            return false;
    }
    return signature(ps) && header_schedule(ps) && params(ps) && linear_line(ps);
}

tir_kernel *tir_parse(arena *a, const char *text, size_t len, strbuf *err)
{
    tparser ps = {a, text, text, text + len, err, NULL, NULL, 0, 0, false, 0};
    ps.k = tir_kernel_new(a, "kernel");
    if (!ps.k) {
        sb_puts(err, "out of memory");
        return NULL;
    }
    if (!header(&ps) || !expect(&ps, "{") || !parse_block(&ps, ps.k->body))
        return NULL;
    skip(&ps);
    if (ps.p != ps.end) {
        perr(&ps, "text after the kernel's closing '}'", NULL);
        return NULL;
    }
    strbuf why;
    sb_init(&why);
    bool ok = tir_verify(ps.k, &why);
    if (!ok)
        sb_printf(err, "invalid IR: %s", sb_cstr(&why));
    sb_free(&why);
    return ok ? ps.k : NULL;
}

/* The end of the kernel text starting at p: just past its closing "}" line. */
static const char *kernel_end(const char *p, const char *end)
{
    for (const char *q = p; q + 1 < end; q++)
        if (q[0] == '\n' && q[1] == '}' && (q + 2 == end || q[2] == '\n'))
            return q + 2;
    return end;
}

bool tir_parse_program(arena *a, const char *text, size_t len, tir_program *out, strbuf *err)
{
    memset(out, 0, sizeof *out);
    const char *p = text, *end = text + len;
    for (;;) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p == end)
            break;
        if (out->nkernels == TIR_MAX_KERNELS) {
            sb_printf(err, "a program has at most %d kernels", TIR_MAX_KERNELS);
            return false;
        }
        const char *next = kernel_end(p, end);
        tir_kernel *k = tir_parse(a, p, (size_t)(next - p), err);
        if (!k) {
            sb_printf(err, " (kernel %d of the program)", out->nkernels);
            return false;
        }
        out->kernels[out->nkernels++] = k;
        p = next;
    }
    if (out->nkernels == 0) {
        sb_puts(err, "no kernel in the program text");
        return false;
    }
    return true;
}
