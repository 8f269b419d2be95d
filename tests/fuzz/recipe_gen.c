/* recipe_gen.c — fuzzer bytes -> a valid recipe and shape; see recipe_gen.h. */
#include "recipe_gen.h"

#include <string.h>

enum { MAX_DEPTH = 3, SEQ_MAX = 200, GRID_TOKENS_MAX = 400, LUT = 17 };

typedef struct gen {
    const uint8_t *p;
    size_t n, i;
    bool hostile;
    int nd;               /* grid dims, 0: a sequence */
    const char *dim[3];   /* coordinate names, outermost first */
    bool named[3];        /* extent bound at launch (else fixed) */
    bool cross, gqa;
    int64_t mins[3];      /* neighborhood window x dilation per dim */
    bool ids, table, table_heads, flag, lut, bias; /* params the text uses */
    bool blocks_done;     /* one blocks() per recipe: its table's shape follows its bq, bk */
    int64_t bq, bk;
} gen;

/* The next choice in [0, n); 0 once the bytes run out. */
static unsigned pick(gen *g, unsigned n)
{
    if (n <= 1 || g->i >= g->n)
        return 0;
    unsigned v = g->p[g->i++];
    if (n > 256 && g->i < g->n)
        v = v << 8 | g->p[g->i++];
    return v % n;
}

static int64_t range(gen *g, int64_t lo, int64_t hi)
{
    return lo + (int64_t)pick(g, (unsigned)(hi - lo + 1));
}

/* ---- integer expressions (masks and scores) ----
 * Each returns a bound on its absolute value so callers keep products and
 * float terms in range. */

static int64_t int_expr(gen *g, strbuf *o, int depth);

static int64_t int_const(gen *g, strbuf *o)
{
    if (g->hostile && pick(g, 3) == 0) {
        static const char *huge[] = {"4611686018427387904", "9223372036854775807", "(9223372036854775807 + 1)",
                                     "(-9223372036854775807 - 1)", "4294967296"};
        sb_puts(o, huge[pick(g, 5)]);
        return INT64_MAX / 4; /* keeps callers from stacking more on it */
    }
    int64_t v = range(g, 0, 20);
    sb_printf(o, "%lld", (long long)v);
    return v;
}

static int64_t int_leaf(gen *g, strbuf *o)
{
    switch (pick(g, 10)) {
    case 0: return int_const(g, o);
    case 1: sb_puts(o, "q.t"); return 4 * SEQ_MAX;
    case 2: sb_puts(o, "k.t"); return 4 * SEQ_MAX;
    case 3: sb_puts(o, "head"); return 8;
    case 4: sb_puts(o, "kv_head"); return 8;
    case 5: sb_puts(o, "batch"); return 2;
    case 6: sb_puts(o, pick(g, 2) ? "heads" : "tokens"); return 4 * SEQ_MAX;
    case 7:
    case 8:
        if (g->nd > 0) {
            sb_printf(o, "%s.%s", pick(g, 2) ? "q" : "k", g->dim[pick(g, (unsigned)g->nd)]);
            return SEQ_MAX;
        }
        sb_puts(o, pick(g, 2) ? "q.t" : "k.t");
        return 4 * SEQ_MAX;
    default:
        sb_puts(o, "(q.t - k.t)");
        return 8 * SEQ_MAX;
    }
}

static int64_t bmax(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX / 4 - b ? INT64_MAX / 4 : a + b;
}

static void bool_expr(gen *g, strbuf *o, int depth, bool in_mask);

static int64_t int_expr(gen *g, strbuf *o, int depth)
{
    if (depth >= MAX_DEPTH)
        return int_leaf(g, o);
    int64_t a, b;
    switch (pick(g, 14)) {
    case 0:
    case 1:
    case 2: return int_leaf(g, o);
    case 3:
    case 4:
        sb_putc(o, '(');
        a = int_expr(g, o, depth + 1);
        sb_puts(o, pick(g, 2) ? " + " : " - ");
        b = int_expr(g, o, depth + 1);
        sb_putc(o, ')');
        return sat_add(a, b);
    case 5: { /* times a small constant: no overflow */
        int64_t c = range(g, 0, 5);
        sb_putc(o, '(');
        a = int_expr(g, o, depth + 1);
        sb_printf(o, " * %lld)", (long long)c);
        return a > INT64_MAX / 8 ? INT64_MAX / 4 : a * c;
    }
    case 6:
    case 7: /* floor division / modulo; a run-time zero divisor gives 0 */
        sb_putc(o, '(');
        a = int_expr(g, o, depth + 1);
        sb_puts(o, pick(g, 2) ? " / " : " % ");
        if (pick(g, 2)) {
            sb_printf(o, "%lld", (long long)range(g, 1, 16));
        } else { /* zero at run time for some pairs, never a constant zero (an error) */
            static const char *div[] = {"(q.t - k.t)", "(k.t % 3)", "head", "(q.t / 5 - k.t / 5)", "kv_head", "batch"};
            sb_puts(o, div[pick(g, 6)]);
        }
        sb_putc(o, ')');
        return a;
    case 8:
        sb_puts(o, "abs(");
        a = int_expr(g, o, depth + 1);
        sb_putc(o, ')');
        return a;
    case 9:
    case 10:
        sb_puts(o, pick(g, 2) ? "min(" : "max(");
        a = int_expr(g, o, depth + 1);
        sb_puts(o, ", ");
        b = int_expr(g, o, depth + 1);
        sb_putc(o, ')');
        return bmax(a, b);
    case 11:
        sb_puts(o, "clamp(");
        a = int_expr(g, o, depth + 1);
        sb_puts(o, ", ");
        b = int_expr(g, o, depth + 1);
        sb_puts(o, ", ");
        b = bmax(b, int_expr(g, o, depth + 1));
        sb_putc(o, ')');
        return bmax(a, b);
    case 12:
        sb_puts(o, "(-");
        a = int_expr(g, o, depth + 1);
        sb_putc(o, ')');
        return a;
    default:
        sb_puts(o, "select(");
        bool_expr(g, o, depth + 1, false);
        sb_puts(o, ", ");
        a = int_expr(g, o, depth + 1);
        sb_puts(o, ", ");
        b = int_expr(g, o, depth + 1);
        sb_putc(o, ')');
        return bmax(a, b);
    }
}

/* ---- mask forms ---- */

/* One value per dim: "v" for a sequence or 1-D grid, "(a, b, ...)" else. */
static void per_dim(gen *g, strbuf *o, const char *key, const int64_t *v, bool boolean)
{
    int nd = g->nd > 0 ? g->nd : 1;
    sb_printf(o, ", %s: ", key);
    if (nd > 1)
        sb_putc(o, '(');
    for (int d = 0; d < nd; d++) {
        if (d)
            sb_puts(o, ", ");
        if (boolean)
            sb_puts(o, v[d] ? "true" : "false");
        else
            sb_printf(o, "%lld", (long long)v[d]);
    }
    if (nd > 1)
        sb_putc(o, ')');
}

static void form_neighborhood(gen *g, strbuf *o)
{
    int nd = g->nd > 0 ? g->nd : 1;
    bool write_dil = pick(g, 2), write_stride = pick(g, 2), write_causal = pick(g, 2);
    int64_t w[3], dil[3], st[3], causal[3];
    for (int d = 0; d < nd; d++) {
        w[d] = range(g, 1, 7);
        dil[d] = write_dil && pick(g, 3) == 0 ? range(g, 2, 3) : 1;
        causal[d] = write_causal && pick(g, 4) == 0;
        st[d] = write_stride && !causal[d] ? range(g, 1, w[d]) : 1;
        g->mins[d] = bmax(g->mins[d], w[d] * dil[d]);
    }
    sb_puts(o, "neighborhood(window: ");
    if (nd > 1)
        sb_putc(o, '(');
    for (int d = 0; d < nd; d++)
        sb_printf(o, "%s%lld", d ? ", " : "", (long long)w[d]);
    if (nd > 1)
        sb_putc(o, ')');
    if (write_dil)
        per_dim(g, o, "dilation", dil, false);
    if (write_stride)
        per_dim(g, o, "stride", st, false);
    if (write_causal)
        per_dim(g, o, "causal", causal, true);
    sb_putc(o, ')');
}

static void form(gen *g, strbuf *o)
{
    unsigned f = pick(g, 12);
    if (f >= 10) /* neighborhoods twice as often: the richest form */
        f = 3;
    switch (f) {
    case 0: sb_puts(o, pick(g, 2) ? "causal" : "causal()"); break;
    case 1: sb_printf(o, "sliding_window(%lld, %lld)", (long long)range(g, 0, 40), (long long)range(g, 0, 40)); break;
    case 2: sb_printf(o, "sinks(%lld)", (long long)range(g, 0, 20)); break;
    case 3:
        if (g->cross)
            sb_puts(o, "causal");
        else
            form_neighborhood(g, o);
        break;
    case 4:
        if (g->cross)
            sb_puts(o, "full");
        else
            sb_printf(o, "radial(frame: %lld, window: %lld)", (long long)range(g, 1, 64), (long long)range(g, 1, 64));
        break;
    case 5:
        sb_printf(o, "strided_heads(stride: %lld, local: %lld)", (long long)range(g, 1, 8), (long long)range(g, 1, 64));
        break;
    case 6:
        if (g->cross) {
            sb_printf(o, "sinks(%lld)", (long long)range(g, 0, 8));
        } else {
            g->ids = true;
            sb_puts(o, "document(ids)");
        }
        break;
    case 7:
        if (g->blocks_done) {
            sb_puts(o, "full");
            break;
        }
        g->blocks_done = g->table = true;
        g->table_heads = pick(g, 2);
        g->bq = range(g, 1, 64);
        g->bk = range(g, 1, 64);
        sb_printf(o, "blocks(table, %lld, %lld)", (long long)g->bq, (long long)g->bk);
        break;
    case 8: sb_puts(o, pick(g, 2) ? "full" : "full()"); break;
    default: sb_puts(o, "causal"); break;
    }
}

static void comparison(gen *g, strbuf *o, int depth)
{
    static const char *cmp[] = {" < ", " <= ", " > ", " >= ", " == ", " != "};
    int_expr(g, o, depth + 1);
    sb_puts(o, cmp[pick(g, 6)]);
    int_expr(g, o, depth + 1);
}

/* A bool; in a mask, named forms too (4 in 12 at each node). */
static void bool_expr(gen *g, strbuf *o, int depth, bool in_mask)
{
    unsigned kind = depth >= MAX_DEPTH ? pick(g, 2) * 4 : pick(g, 12);
    if (kind < 4) {
        if (in_mask)
            form(g, o);
        else
            comparison(g, o, depth);
        return;
    }
    switch (kind) {
    case 4:
    case 5:
    case 6: comparison(g, o, depth); break;
    case 7:
    case 8:
        sb_putc(o, '(');
        bool_expr(g, o, depth + 1, in_mask);
        sb_puts(o, pick(g, 2) ? " && " : " || ");
        bool_expr(g, o, depth + 1, in_mask);
        sb_putc(o, ')');
        break;
    case 9:
        sb_puts(o, "!(");
        bool_expr(g, o, depth + 1, in_mask);
        sb_putc(o, ')');
        break;
    case 10:
        g->flag = true;
        sb_printf(o, "flag[%s] %s 0", pick(g, 2) ? "head" : "kv_head", pick(g, 2) ? "!=" : "==");
        break;
    default:
        g->lut = true;
        sb_puts(o, "lut[clamp(");
        int_expr(g, o, depth + 1);
        sb_printf(o, ", 0, %d)] != 0", LUT - 1);
        break;
    }
}

/* ---- scores ---- */

/* A float term of absolute value at most about `cap`. */
static void float_term(gen *g, strbuf *o, double cap, int depth)
{
    switch (depth >= MAX_DEPTH ? 0 : pick(g, 9)) {
    case 0:
    case 1: { /* an int scaled into range */
        strbuf t;
        sb_init(&t);
        int64_t b = int_expr(g, &t, depth + 1);
        double c = cap / (double)(b > 0 ? b : 1);
        sb_printf(o, "%.6g * float(%s)", c, sb_cstr(&t));
        sb_free(&t);
        break;
    }
    case 2:
        g->bias = true;
        sb_printf(o, "%.3g * bias[head]", cap);
        break;
    case 3:
        sb_printf(o, "%.3g * tanh(", cap);
        float_term(g, o, 3.0, depth + 1);
        sb_putc(o, ')');
        break;
    case 4:
        sb_printf(o, "softcap(");
        float_term(g, o, cap * 2, depth + 1);
        sb_printf(o, ", %.3g)", cap);
        break;
    case 5: /* ALiBi, with the distance capped */
        sb_printf(o, "alibi_slope(head) * float(clamp(q.t - k.t, %lld, %lld))", (long long)-(int64_t)cap,
                  (long long)cap);
        break;
    case 6:
        sb_printf(o, "%.3g * exp(-abs(", cap);
        float_term(g, o, 3.0, depth + 1);
        sb_puts(o, "))");
        break;
    case 7:
        sb_puts(o, "select(");
        bool_expr(g, o, depth + 1, false);
        sb_puts(o, ", ");
        float_term(g, o, cap, depth + 1);
        sb_puts(o, ", ");
        float_term(g, o, cap, depth + 1);
        sb_putc(o, ')');
        break;
    default:
        sb_printf(o, "sqrt(abs(");
        float_term(g, o, cap * cap > 100 ? 100 : cap * cap, depth + 1);
        sb_puts(o, "))");
        break;
    }
}

static void score(gen *g, strbuf *o)
{
    static const char *base[] = {"s * scale", "s * scale * 0.5", "softcap(s * scale, 5.0)", "s * scale + 1.0"};
    sb_puts(o, base[pick(g, 4)]);
    for (int n = (int)pick(g, 4); n > 0; n--) {
        sb_puts(o, pick(g, 2) ? " + " : " - ");
        float_term(g, o, (double)range(g, 1, 6), 1);
    }
}

/* ---- sections ---- */

static const char *const DTYPES[3] = {"bf16", "f16", "f32"};
static const int HEAD_DIMS[4] = {16, 32, 64, 128};

static void grid_section(gen *g, strbuf *o, const int64_t *fixed)
{
    if (g->nd == 0)
        return;
    static const char *ext_names[3] = {"Z", "Y", "X"};
    sb_puts(o, "tokens grid(");
    for (int d = 0; d < g->nd; d++) {
        const char *ext = ext_names[3 - g->nd + d];
        if (g->named[d])
            sb_printf(o, "%s%s: %s", d ? ", " : "", g->dim[d], ext);
        else
            sb_printf(o, "%s%s: %lld", d ? ", " : "", g->dim[d], (long long)fixed[d]);
    }
    sb_puts(o, ")\n");
}

static void tile_section(gen *g, strbuf *o)
{
    if (pick(g, 3) == 0) {
        sb_puts(o, pick(g, 2) ? "tile auto\n" : "");
        return;
    }
    sb_puts(o, "tile");
    for (int side = 0; side < 2; side++) {
        sb_puts(o, side ? " kv(" : " q(");
        int budget = 8; /* log2 of 256 tokens a tile */
        int nd = g->nd > 0 ? g->nd : 1;
        for (int d = 0; d < nd; d++) {
            int lg = (int)pick(g, (unsigned)(budget < 7 ? budget + 1 : 8));
            if (nd == 1 && lg < 3)
                lg += 3; /* sequences: 8 and up */
            budget -= lg;
            if (g->nd > 0)
                sb_printf(o, "%s%s: %d", d ? ", " : "", g->dim[d], 1 << lg);
            else
                sb_printf(o, "%d", 1 << lg);
        }
        sb_putc(o, ')');
    }
    if (pick(g, 2))
        sb_printf(o, " stages %d", (int)range(g, 1, 4));
    sb_putc(o, '\n');
}

static void params(gen *g, strbuf *o)
{
    if (g->ids)
        sb_puts(o, "param ids : i32 [batch, tokens]\n");
    if (g->table)
        sb_printf(o, "param table : %s [%snqb, nkb]\n", pick(g, 2) ? "u8" : "i32", g->table_heads ? "heads, " : "");
    if (g->flag)
        sb_puts(o, "param flag : i32 [heads]\n");
    if (g->lut)
        sb_printf(o, "param lut : u8 [%d]\n", LUT);
    if (g->bias)
        sb_puts(o, "param bias : f32 [heads]\n");
}

/* Extents: at least the mask's minimum; fixed ones written into the grid. */
static void shape_softmax(gen *g, gen_case *c, int64_t *fixed)
{
    ref_shape *s = &c->shape;
    s->batch = range(g, 1, 2);
    s->heads = range(g, 1, 4);
    s->kv_heads = g->gqa ? (s->heads % 2 == 0 && pick(g, 2) ? s->heads / 2 : 1) : 0;
    if (g->nd == 0) {
        s->tokens = range(g, bmax(g->mins[0], 1), bmax(g->mins[0], 1) + SEQ_MAX - 1);
        s->kv_tokens = g->cross ? range(g, 1, SEQ_MAX) : 0;
        return;
    }
    int64_t total = 1;
    for (int d = 0; d < g->nd; d++) {
        int64_t lo = bmax(g->mins[d], 1);
        int64_t e = range(g, lo, lo + (g->nd == 3 ? 4 : 10));
        while (total * e > GRID_TOKENS_MAX && e > lo)
            e--;
        total *= e;
        if (g->named[d])
            s->grid[d] = e;
        else
            fixed[d] = e;
    }
}

static void make_softmax(gen *g, gen_case *c)
{
    strbuf mask, sc, head;
    sb_init(&mask);
    sb_init(&sc);
    sb_init(&head);
    static const unsigned nd_weights[8] = {0, 0, 0, 0, 1, 2, 2, 3};
    g->nd = (int)nd_weights[pick(g, 8)];
    static const char *names3[3] = {"z", "y", "x"};
    for (int d = 0; d < g->nd; d++) {
        g->dim[d] = names3[3 - g->nd + d];
        g->named[d] = pick(g, 4) != 0;
    }
    g->gqa = pick(g, 4) == 0;
    g->cross = g->nd == 0 && pick(g, 6) == 0;
    int dt = (int)pick(g, 3);
    int hd = HEAD_DIMS[pick(g, 3)], hdv = pick(g, 3) ? hd : HEAD_DIMS[pick(g, 4)];
    bool has_mask = pick(g, 8) != 0, has_score = pick(g, 3) != 0;
    if (has_mask)
        bool_expr(g, &mask, 0, true);
    if (has_score)
        score(g, &sc);
    int64_t fixed[3] = {0, 0, 0};
    shape_softmax(g, c, fixed);
    sb_printf(&head, "recipe fz\ninput q : %s [batch, heads, tokens, %d]\n", DTYPES[dt], hd);
    const char *kvh = g->gqa ? "kv_heads" : "heads", *kvt = g->cross ? "kv_tokens" : "tokens";
    sb_printf(&head, "input k : %s [batch, %s, %s, %d]\n", DTYPES[dt], kvh, kvt, hd);
    sb_printf(&head, "input v : %s [batch, %s, %s, %d]\n", DTYPES[dt], kvh, kvt, hdv);
    grid_section(g, &head, fixed);
    params(g, &head);
    if (pick(g, 4) == 0)
        sb_printf(&head, "scale = %s\n", pick(g, 2) ? "0.125" : "1 / sqrt(48)");
    sb_append(&c->text, head.data, head.len);
    if (has_mask)
        sb_printf(&c->text, "mask %s\n", sb_cstr(&mask));
    if (has_score)
        sb_printf(&c->text, "score %s\n", sb_cstr(&sc));
    tile_section(g, &c->text);
    sb_free(&mask);
    sb_free(&sc);
    sb_free(&head);
}

static void make_linear(gen *g, gen_case *c)
{
    int dt = (int)pick(g, 3);
    int hd = HEAD_DIMS[pick(g, 3)], hdv = pick(g, 2) ? hd : HEAD_DIMS[pick(g, 3)];
    bool causal = pick(g, 4) != 0;
    static const char *features[3] = {"identity", "elu1", "relu"};
    int feature = (int)pick(g, 3);
    int decay = causal ? (int)pick(g, 3) : 0; /* none, per head, per token */
    bool normalize = feature != 0 && pick(g, 2); /* positive features: no near-zero denominators */
    strbuf *o = &c->text;
    sb_printf(o, "recipe fz\ninput q, k : %s [batch, heads, tokens, %d]\n", DTYPES[dt], hd);
    sb_printf(o, "input v : %s [batch, heads, tokens, %d]\n", DTYPES[dt], hdv);
    if (decay == 1)
        sb_puts(o, "param decay : f32 [heads]\n");
    else if (decay == 2)
        sb_puts(o, "param gate : f32 [batch, heads, tokens]\n");
    sb_printf(o, "linear {\n  %s\n  feature %s\n", causal ? "causal" : "noncausal", features[feature]);
    sb_puts(o, decay == 1 ? "  decay decay[head]\n" : decay == 2 ? "  decay gate[batch, head, t]\n" : "");
    if (normalize)
        sb_puts(o, "  normalize\n");
    sb_printf(o, "  split block %d inter %s\n}\n", 16 << pick(g, 5), pick(g, 2) ? "state" : "chunked");
    ref_shape *s = &c->shape;
    s->batch = range(g, 1, 2);
    s->heads = range(g, 1, 3);
    s->tokens = range(g, 1, SEQ_MAX);
}

void gen_case_make(const uint8_t *data, size_t size, bool hostile, gen_case *c)
{
    gen g;
    memset(&g, 0, sizeof g);
    g.p = data;
    g.n = size;
    g.hostile = hostile;
    memset(c, 0, sizeof *c);
    sb_init(&c->text);
    c->seed = 1 + pick(&g, 1000);
    bool linear = pick(&g, 8) == 7;
    if (linear)
        make_linear(&g, c);
    else
        make_softmax(&g, c);
    c->shape.bshd = pick(&g, 4) == 0;
}
