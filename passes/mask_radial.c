/* mask_radial.c — see mask_radial.h. */
#include "mask_radial.h"

#include "../frontend/forms.h"

static bool const_int(const expr *e, int64_t *v)
{
    if (!e || e->kind != EX_CONST_INT)
        return false;
    *v = e->u.ival;
    return true;
}

bool mask_radial_rule(const recipe *r, radial_rule *out)
{
    const expr *f = r->mask_surface;
    *out = (radial_rule){0};
    if (r->grid_ndim != 0 || !f || f->kind != EX_FORM)
        return false;
    int64_t a[5] = {0};
    if (f->u.form == FORM_RADIAL_VIDEO && f->nargs >= 5) {
        for (int i = 0; i < 5; i++)
            if (!const_int(f->args[i], &a[i]))
                return false;
        if (a[0] < 1 || a[1] < 1 || a[2] < 1 || a[3] < 0 || a[3] > 30)
            return false;
        *out = (radial_rule){.video = true, .frame = a[0], .block = a[1], .decay_k = a[2], .decay_m = a[3],
                             .sink = a[4] != 0};
        return true;
    }
    if (f->u.form == FORM_RADIAL && f->nargs >= 2 && const_int(f->args[0], &a[0]) && const_int(f->args[1], &a[1]) &&
        a[0] >= 1) {
        *out = (radial_rule){.frame = a[0], .window = a[1]};
        return true;
    }
    return false;
}

/* 2^bl(x), bl the bit length (1 for x = 0). */
static int64_t pow2_bitlen(int64_t x)
{
    int64_t p = 1;
    while (p <= x)
        p *= 2;
    return p;
}

int64_t mask_radial_width(const radial_rule *rr, int64_t d)
{
    int64_t F = rr->frame;
    if (!rr->video) { /* |ds| * 2^floor(log2(max(d, 1))) < W */
        int64_t e = 0;
        for (int64_t x = d > 1 ? d : 1; x > 1; x >>= 1)
            e++;
        if (rr->window <= 0)
            return -1;
        int64_t w = (rr->window - 1) >> (e < 62 ? e : 62);
        return w < F ? w : F;
    }
    int64_t P = pow2_bitlen(F), G = pow2_bitlen(d), B = rr->block;
    if (P < B * G && d % (B * G / P) != 0)
        return -1; /* split: only every (B G / P)-th frame distance */
    if (d <= 1)
        return F;
    int64_t w = P * rr->decay_k / (G << rr->decay_m);
    w = w > B ? w : B;
    return w < F ? w : F;
}

/* sum over t <= T of clamp(t, 0, m) */
static int64_t ramp(int64_t T, int64_t m)
{
    if (T <= 0)
        return 0;
    if (T <= m)
        return T * (T + 1) / 2;
    return m * (m + 1) / 2 + (T - m) * m;
}

/* Pairs (x, y) of [x0, x1] x [y0, y1] with y - x <= c: per x, the
 * clamp(x + c - y0 + 1, 0, ny) keys of the column. */
static int64_t below(int64_t x0, int64_t x1, int64_t y0, int64_t y1, int64_t c)
{
    int64_t ny = y1 - y0 + 1;
    return ramp(x1 + c - y0 + 1, ny) - ramp(x0 + c - y0, ny);
}

/* Pairs of [x0, x1] x [y0, y1] with |x - y| <= w (w < 0: none). */
static int64_t band(int64_t x0, int64_t x1, int64_t y0, int64_t y1, int64_t w)
{
    if (w < 0 || x1 < x0 || y1 < y0)
        return 0;
    return below(x0, x1, y0, y1, w) - below(x0, x1, y0, y1, -w - 1);
}

/* Frame fi's positions [x0, x1] against frame fj's [y0, y1]. */
static int64_t frame_pair(const radial_rule *rr, int64_t fi, int64_t fj, int64_t x0, int64_t x1, int64_t y0,
                          int64_t y1)
{
    if (x1 < x0 || y1 < y0)
        return 0;
    if (rr->video && rr->sink && fj == 0)
        return (x1 - x0 + 1) * (y1 - y0 + 1);
    return band(x0, x1, y0, y1, mask_radial_width(rr, fi > fj ? fi - fj : fj - fi));
}

/* A token range's frames: the first and last (maybe partial, maybe the
 * same) and the whole ones between [w0, w1] (w0 > w1: none). */
typedef struct span {
    int64_t f0, f1, w0, w1;
    int64_t lo, hi; /* the range */
} span;

static span span_of(int64_t F, int64_t lo, int64_t hi)
{
    span s = {lo / F, hi / F, lo / F, hi / F, lo, hi};
    if (lo % F != 0)
        s.w0++;
    if (hi % F != F - 1)
        s.w1--;
    return s;
}

/* Frame f's positions inside the span's range. */
static void positions(const span *s, int64_t F, int64_t f, int64_t *a, int64_t *b)
{
    *a = f == s->f0 ? s->lo - f * F : 0;
    *b = f == s->f1 ? s->hi - f * F : F - 1;
}

static bool whole(const span *s, int64_t f)
{
    return f >= s->w0 && f <= s->w1;
}

/* Query frame fi against every key frame of k. */
static int64_t row_of_frames(const radial_rule *rr, const span *k, int64_t fi, int64_t x0, int64_t x1)
{
    int64_t F = rr->frame, n = 0;
    for (int64_t fj = k->f0; fj <= k->f1; fj++) {
        int64_t y0, y1;
        positions(k, F, fj, &y0, &y1);
        n += frame_pair(rr, fi, fj, x0, x1, y0, y1);
    }
    return n;
}

/* Whole query frames [a1, a2] against whole key frames [c1, c2]: frame
 * pairs of one signed distance count the same. */
static int64_t whole_frames(const radial_rule *rr, int64_t a1, int64_t a2, int64_t c1, int64_t c2)
{
    int64_t F = rr->frame, n = 0;
    if (a1 > a2 || c1 > c2)
        return 0;
    if (rr->video && rr->sink && c1 == 0) {
        n += (a2 - a1 + 1) * F * F;
        c1 = 1;
    }
    for (int64_t delta = a1 - c2; delta <= a2 - c1; delta++) { /* delta = fi - fj */
        int64_t lo = a1 > c1 + delta ? a1 : c1 + delta, hi = a2 < c2 + delta ? a2 : c2 + delta;
        if (hi >= lo)
            n += (hi - lo + 1) * band(0, F - 1, 0, F - 1, mask_radial_width(rr, delta < 0 ? -delta : delta));
    }
    return n;
}

/* The span's partial frames (0, 1 or 2 of them). */
static int partial_frames(const span *s, int64_t f[2])
{
    int n = 0;
    if (!whole(s, s->f0))
        f[n++] = s->f0;
    if (s->f1 != s->f0 && !whole(s, s->f1))
        f[n++] = s->f1;
    return n;
}

int64_t mask_radial_count(const radial_rule *rr, int64_t q0, int64_t q1, int64_t k0, int64_t k1)
{
    int64_t F = rr->frame, n = 0, pq[2], pk[2];
    if (q1 < q0 || k1 < k0)
        return 0;
    span q = span_of(F, q0, q1), k = span_of(F, k0, k1);
    int nq = partial_frames(&q, pq), nk = partial_frames(&k, pk);
    for (int i = 0; i < nq; i++) { /* partial query frames against every key frame */
        int64_t x0, x1;
        positions(&q, F, pq[i], &x0, &x1);
        n += row_of_frames(rr, &k, pq[i], x0, x1);
    }
    for (int j = 0; j < nk; j++) { /* whole query frames against the partial key frames */
        int64_t y0, y1;
        positions(&k, F, pk[j], &y0, &y1);
        for (int64_t fi = q.w0; fi <= q.w1; fi++)
            n += frame_pair(rr, fi, pk[j], 0, F - 1, y0, y1);
    }
    return n + whole_frames(rr, q.w0, q.w1, k.w0, k.w1);
}
