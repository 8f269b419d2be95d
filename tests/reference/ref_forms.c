/* ref_forms.c — the reference's own reading of each named mask form, written
 * from the definitions in frontend/forms.h (not from the front end's
 * expansion). Arguments arrive normalised as constants; param forms carry
 * the param index. */
#include <math.h>
#include <stdlib.h>

#include "frontend/forms.h"
#include "ref_expr.h"

static int64_t arg(const expr *f, int i)
{
    if (i >= f->nargs || !f->args[i])
        return 0;
    const expr *a = f->args[i];
    return a->kind == EX_CONST_FLOAT ? (int64_t)a->u.fval : a->u.ival;
}

static int64_t imin(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t imax(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* One dimension of a (generalized) neighborhood: query i, key j, extent L. */
static bool nbhd_dim(int64_t i, int64_t j, int64_t L, int64_t w, int64_t dil, int64_t st, bool causal)
{
    if (dil < 1)
        dil = 1;
    if (st < 1)
        st = 1;
    int64_t g = ref_floor_mod(i, dil);
    if (ref_floor_mod(j, dil) != g)
        return false;
    int64_t lg = ref_floor_div(L - g + dil - 1, dil);
    int64_t ip = ref_floor_div(i, dil), jp = ref_floor_div(j, dil);
    if (causal)
        return imax(ip - w + 1, 0) <= jp && jp <= ip;
    int64_t c = imin(ref_floor_div(ip, st) * st + st / 2, lg - 1);
    int64_t start = imax(0, imin(c - w / 2, lg - w)); /* lg < w: the whole group */
    return start <= jp && jp < start + w;
}

static bool neighborhood(const ref_point *p, const expr *f)
{
    int nd = p->grid_ndim > 0 ? p->grid_ndim : 1;
    for (int d = 0; d < nd; d++) {
        int64_t i = p->grid_ndim > 0 ? p->q_c[d] : p->q_t;
        int64_t j = p->grid_ndim > 0 ? p->k_c[d] : p->k_t;
        int64_t L = p->grid_ndim > 0 ? p->sizes[SZ_GRID0 + d] : p->sizes[SZ_TOKENS];
        int64_t w = arg(f, d), dil = arg(f, nd + d), st = arg(f, 2 * nd + d);
        bool causal = arg(f, 3 * nd + d) != 0;
        if (!nbhd_dim(i, j, L, w, dil, st, causal))
            return false;
    }
    return true;
}

static bool radial(const ref_point *p, const expr *f)
{
    int64_t F = arg(f, 0), W = arg(f, 1);
    int64_t fi = ref_floor_div(p->q_t, F), fj = ref_floor_div(p->k_t, F);
    int64_t si = ref_floor_mod(p->q_t, F), sj = ref_floor_mod(p->k_t, F);
    int64_t d = llabs(fi - fj);
    int64_t e = 0; /* floor(log2(max(d, 1))) */
    for (int64_t x = d < 1 ? 1 : d; x > 1; x >>= 1)
        e++;
    return llabs(si - sj) * ((int64_t)1 << e) < W;
}

/* Radial Attention's mask per frame pair, from its definition (forms.h),
 * in floating point like the published implementation: widths are real
 * numbers, a band keeps |si - sj| <= width. */
static int bit_length(int64_t x)
{
    int n = 0;
    for (; x > 0; x >>= 1)
        n++;
    return n;
}

static bool radial_video(const ref_point *p, const expr *f)
{
    int64_t F = arg(f, 0), B = arg(f, 1);
    double decay = (double)arg(f, 2) / (double)((int64_t)1 << arg(f, 3));
    int64_t fi = ref_floor_div(p->q_t, F), fj = ref_floor_div(p->k_t, F);
    int64_t d = llabs(fi - fj), ds = llabs(ref_floor_mod(p->q_t, F) - ref_floor_mod(p->k_t, F));
    if (arg(f, 4) && fj == 0)
        return true; /* the first frame is a sink */
    double undecayed = ldexp(1.0, bit_length(F)) / ldexp(1.0, bit_length(d));
    if (undecayed < (double)B && d % (int64_t)((double)B / undecayed) != 0)
        return false; /* thinned: only every floor(B / width)-th frame distance */
    if (d <= 1)
        return true;
    double width = undecayed * decay;
    return (double)ds <= (width >= (double)B ? width : (double)B);
}

/* ids[.., t] for ids of shape [tokens] or [batch, tokens]. */
static double doc_id(const ref_point *p, int param, int64_t t)
{
    if (!p->params || param < 0 || param >= p->nparams)
        return 0;
    const ref_view *v = &p->params[param];
    int64_t idx[2] = {p->batch, t};
    return v->ndim >= 2 ? ref_view_get(v, idx, 2) : ref_view_get(v, &idx[1], 1);
}

static bool blocks(const ref_point *p, const expr *f)
{
    int param = (int)arg(f, 0);
    int64_t bq = arg(f, 1), bk = arg(f, 2);
    if (!p->params || param < 0 || param >= p->nparams)
        return false;
    const ref_view *v = &p->params[param];
    int64_t qb = ref_floor_div(p->q_t, bq), kb = ref_floor_div(p->k_t, bk);
    int64_t idx4[4] = {p->batch, p->head, qb, kb};
    int skip = 4 - (v->ndim < 2 ? 2 : v->ndim > 4 ? 4 : v->ndim); /* leading dims absent */
    return ref_view_get(v, idx4 + skip, 4 - skip) != 0;
}

bool ref_form_holds(const ref_point *p, const expr *f)
{
    int64_t i = p->q_t, j = p->k_t;
    switch ((mask_form)f->u.form) {
    case FORM_CAUSAL: return j <= i;
    case FORM_SLIDING_WINDOW: return i - arg(f, 0) <= j && j <= i + arg(f, 1);
    case FORM_NEIGHBORHOOD: return neighborhood(p, f);
    case FORM_RADIAL: return radial(p, f);
    case FORM_RADIAL_VIDEO: return radial_video(p, f);
    case FORM_STRIDED_HEADS: {
        int64_t S = arg(f, 0), lw = arg(f, 1);
        return j <= i && (i - j < lw || ref_floor_mod(j, S) == ref_floor_mod(p->head, S));
    }
    case FORM_SINKS: return j < arg(f, 0);
    case FORM_DOCUMENT: return doc_id(p, (int)arg(f, 0), i) == doc_id(p, (int)arg(f, 0), j);
    case FORM_BLOCKS: return blocks(p, f);
    case FORM_FULL: return true;
    case FORM_COUNT: break;
    }
    return false;
}
