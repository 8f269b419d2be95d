/* expr_range.c — static ranges of integer expressions; see expr_range.h.
 * Bounds are computed in 128 bits, so a result that leaves int64 is seen
 * exactly, then reported as not fitting. */
#include "expr_range.h"

#include "tile_ir.h"

typedef __int128 i128;

typedef struct rng {
    bool fits;
    i128 lo, hi;
} rng;

enum { PAD = 512 }; /* coordinates of padded lanes past an extent (a tile and more) */

static const rng NONE = {true, 0, 0}; /* a float or bool value: no int range */

static rng mk(i128 lo, i128 hi)
{
    return (rng){lo >= INT64_MIN && hi <= INT64_MAX, lo, hi};
}

static rng both(rng r, bool fits)
{
    r.fits = r.fits && fits;
    return r;
}

static i128 min2(i128 a, i128 b)
{
    return a < b ? a : b;
}

static i128 max2(i128 a, i128 b)
{
    return a > b ? a : b;
}

void range_env_init(range_env *env, int grid_ndim, const int64_t *fixed)
{
    *env = (range_env){0};
    env->grid_ndim = grid_ndim;
    for (int s = 0; s < SZ_MAX; s++) {
        bool f = fixed && fixed[s] > 0;
        env->size_lo[s] = f ? fixed[s] : 0;
        env->size_hi[s] = f ? fixed[s] : size_limit((size_id)s);
    }
}

/* Values of indices below size s: [0, hi - 1], padded for coordinates. */
static rng below(const range_env *env, size_id s, int pad)
{
    return mk(-1, (i128)env->size_hi[s] - 1 + pad);
}

static rng coord(const expr *e, const range_env *env)
{
    int d = e->u.coord.dim;
    bool k = e->u.coord.side == SIDE_K;
    if (d >= TIR_BOX_HI)
        d -= TIR_BOX_HI;
    else if (d >= TIR_BOX_LO)
        d -= TIR_BOX_LO;
    if (d < 0 || env->grid_ndim == 0)
        return below(env, k ? SZ_KV_TOKENS : SZ_TOKENS, PAD);
    return below(env, (size_id)(SZ_GRID0 + (d < 3 ? d : 0)), PAD);
}

static rng param(const expr *e, const range_env *env)
{
    if (e->type != TY_INT)
        return NONE;
    dtype dt = e->u.param >= 0 && e->u.param < env->nparams && e->u.param < RANGE_MAX_PARAMS
                   ? env->param_dtype[e->u.param]
                   : DT_I64;
    if (dt == DT_U8)
        return mk(0, 255);
    if (dt == DT_I32)
        return mk(INT32_MIN, INT32_MAX);
    return mk(INT64_MIN, INT64_MAX);
}

static rng leaf(const expr *e, const range_env *env)
{
    switch (e->kind) {
    case EX_CONST_INT: return mk(e->u.ival, e->u.ival);
    case EX_CONST_BOOL: return mk(0, 1);
    case EX_COORD: return coord(e, env);
    case EX_HEAD: return below(env, SZ_HEADS, 0);
    case EX_KV_HEAD: return below(env, SZ_KV_HEADS, 0);
    case EX_BATCH: return below(env, SZ_BATCH, 0);
    case EX_SIZE:
        return (unsigned)e->u.size < SZ_MAX ? mk(env->size_lo[e->u.size], env->size_hi[e->u.size]) : mk(0, 0);
    default: return NONE; /* constants of other types, the score, forms */
    }
}

static int ilog2(i128 x)
{
    int r = 0;
    while (x > 1) {
        x >>= 1;
        r++;
    }
    return r;
}

static i128 pow2(i128 x)
{
    return x < 0 ? 0 : x > 62 ? (i128)1 << 62 : (i128)1 << (int)x;
}

static rng unary(const expr *e, rng x)
{
    switch (e->u.unop) {
    case UN_NEG: return e->type == TY_INT ? both(mk(-x.hi, -x.lo), x.fits) : x;
    case UN_ABS:
        if (e->type != TY_INT)
            return x;
        if (x.lo >= 0)
            return x;
        return both(x.hi <= 0 ? mk(-x.hi, -x.lo) : mk(0, max2(-x.lo, x.hi)), x.fits);
    case UN_NOT: return both(mk(0, 1), x.fits);
    case UN_FLOOR: return both(mk(INT64_MIN, INT64_MAX), x.fits); /* saturates: never wraps */
    case UN_LOG2I: return both(mk(ilog2(max2(x.lo, 1)), ilog2(max2(x.hi, 1))), x.fits);
    case UN_POW2I: return both(mk(pow2(x.lo), pow2(x.hi)), x.fits);
    default: return both(NONE, x.fits); /* float functions */
    }
}

/* Floor division of values in x by values in y. */
static rng floordiv(rng x, rng y)
{
    bool fits = x.fits && y.fits && !(x.lo == INT64_MIN && y.lo <= -1 && y.hi >= -1); /* INT64_MIN div -1 wraps */
    if (y.lo >= 1 || y.hi <= -1) { /* one sign: monotone in each argument; corners bound it */
        i128 c[4] = {x.lo / y.lo, x.lo / y.hi, x.hi / y.lo, x.hi / y.hi};
        i128 lo = c[0], hi = c[0];
        for (int i = 1; i < 4; i++)
            lo = min2(lo, c[i]), hi = max2(hi, c[i]);
        return both(mk(lo - 1, hi + 1), fits); /* -1/+1: truncation against floor */
    }
    i128 m = max2(x.lo < 0 ? -x.lo : x.lo, x.hi < 0 ? -x.hi : x.hi); /* |a div b| <= |a|; 0 for b = 0 */
    return both(mk(-m, m), fits);
}

static rng floormod(rng x, rng y)
{
    bool fits = x.fits && y.fits;
    if (y.lo >= 1)
        return both(x.lo >= 0 && x.hi < y.lo ? x : mk(0, y.hi - 1), fits);
    i128 m = max2(y.lo < 0 ? -y.lo : y.lo, y.hi < 0 ? -y.hi : y.hi);
    return both(mk(m > 0 ? -(m - 1) : 0, m > 0 ? m - 1 : 0), fits);
}

static rng binary(const expr *e, rng x, rng y)
{
    bool fits = x.fits && y.fits;
    if (e->type != TY_INT)
        return both(e->type == TY_BOOL ? mk(0, 1) : NONE, fits);
    switch (e->u.binop) {
    case BIN_ADD: return both(mk(x.lo + y.lo, x.hi + y.hi), fits);
    case BIN_SUB: return both(mk(x.lo - y.hi, x.hi - y.lo), fits);
    case BIN_MUL: {
        /* |operands| < 2^64: every product fits in 128 bits */
        i128 c[4] = {x.lo * y.lo, x.lo * y.hi, x.hi * y.lo, x.hi * y.hi};
        i128 lo = c[0], hi = c[0];
        for (int i = 1; i < 4; i++)
            lo = min2(lo, c[i]), hi = max2(hi, c[i]);
        return both(mk(lo, hi), fits);
    }
    case BIN_DIV: return floordiv(x, y);
    case BIN_MOD: return floormod(x, y);
    case BIN_MIN: return both(mk(min2(x.lo, y.lo), min2(x.hi, y.hi)), fits);
    case BIN_MAX: return both(mk(max2(x.lo, y.lo), max2(x.hi, y.hi)), fits);
    default: return both(mk(0, 1), fits);
    }
}

/* The largest |value| of any int node seen, for fits_i32. */
typedef struct walk {
    const range_env *env;
    i128 maxabs;
} walk;

static rng range_of(const expr *e, walk *w);

static rng note(const expr *e, walk *w)
{
    rng r = range_of(e, w);
    if (e && e->type == TY_INT) {
        i128 m = max2(r.lo < 0 ? -r.lo : r.lo, r.hi < 0 ? -r.hi : r.hi);
        w->maxabs = max2(w->maxabs, m);
    }
    return r;
}

static rng range_of(const expr *e, walk *w)
{
    const range_env *env = w->env;
    if (!e)
        return NONE;
    switch (e->kind) {
    case EX_UNARY: return unary(e, note(e->args[0], w));
    case EX_BINARY: {
        rng x = note(e->args[0], w), y = note(e->args[1], w);
        if (!x.fits || !y.fits) /* a part may wrap: the values below are meaningless */
            return (rng){false, 0, 0};
        return binary(e, x, y);
    }
    case EX_SELECT: {
        rng c = note(e->args[0], w), t = note(e->args[1], w), f = note(e->args[2], w);
        return (rng){c.fits && t.fits && f.fits, min2(t.lo, f.lo), max2(t.hi, f.hi)};
    }
    case EX_PARAM: {
        bool fits = true;
        for (int i = 0; i < e->nargs; i++)
            fits = fits && note(e->args[i], w).fits;
        return both(param(e, env), fits);
    }
    default: return leaf(e, env);
    }
}

int_range expr_int_range(const expr *e, const range_env *env)
{
    walk w = {env, 0};
    rng r = note(e, &w);
    if (!r.fits)
        return (int_range){false, 0, 0, false};
    return (int_range){true, (int64_t)r.lo, (int64_t)r.hi, w.maxabs <= INT32_MAX};
}
