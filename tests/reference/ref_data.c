/* ref_data.c — random inputs, poisoning, comparison and dumps; see
 * ref_data.h. */
#include "ref_data.h"

#include <math.h>
#include <string.h>

#include "ref_dtype.h"

void ref_rng_seed(ref_rng *g, uint64_t seed)
{
    g->s = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
}

uint64_t ref_rng_next(ref_rng *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double ref_rng_uniform(ref_rng *g, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(ref_rng_next(g) >> 11) * 0x1.0p-53);
}

static void put(dtype dt, void *data, size_t i, float x)
{
    switch (dt) {
    case DT_BF16: ((uint16_t *)data)[i] = ref_f32_to_bf16(x); break;
    case DT_F16: ((uint16_t *)data)[i] = ref_f32_to_f16(x); break;
    case DT_F32: ((float *)data)[i] = x; break;
    case DT_I32: ((int32_t *)data)[i] = (int32_t)x; break;
    case DT_I64: ((int64_t *)data)[i] = (int64_t)x; break;
    case DT_U8: ((uint8_t *)data)[i] = (uint8_t)x; break;
    }
}

double ref_get(dtype dt, const void *data, size_t i)
{
    switch (dt) {
    case DT_BF16: return ref_bf16_to_f32(((const uint16_t *)data)[i]);
    case DT_F16: return ref_f16_to_f32(((const uint16_t *)data)[i]);
    case DT_F32: return ((const float *)data)[i];
    case DT_I32: return ((const int32_t *)data)[i];
    case DT_I64: return (double)((const int64_t *)data)[i];
    case DT_U8: return ((const uint8_t *)data)[i];
    }
    return 0;
}

void ref_fill_uniform(dtype dt, void *data, size_t n, ref_rng *g, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        put(dt, data, i, (float)ref_rng_uniform(g, lo, hi));
}

/* The poison: a signalling NaN with a payload no kernel produces (they
 * write quiet NaNs), so an unwritten element is told apart from a NaN the
 * semantics require. */
enum { POISON_F32 = 0x7fa5a5a5u, POISON_HALF_BF16 = 0x7fa5u, POISON_HALF_F16 = 0x7d25u };

void ref_poison(dtype dt, void *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (dt == DT_F32)
            ((uint32_t *)data)[i] = POISON_F32;
        else if (dt == DT_BF16 || dt == DT_F16)
            ((uint16_t *)data)[i] = dt == DT_BF16 ? POISON_HALF_BF16 : POISON_HALF_F16;
        else
            put(dt, data, i, NAN);
    }
}

bool ref_is_poison(dtype dt, const void *data, size_t i)
{
    if (dt == DT_F32)
        return ((const uint32_t *)data)[i] == POISON_F32;
    if (dt == DT_BF16 || dt == DT_F16)
        return ((const uint16_t *)data)[i] == (dt == DT_BF16 ? POISON_HALF_BF16 : POISON_HALF_F16);
    return false;
}

double ref_tolerance(dtype dt)
{
    return dt == DT_BF16 ? 1e-2 : dt == DT_F16 ? 2e-3 : 1e-5;
}

static void finish(ref_compare_result *r, double num, double den, double tol)
{
    r->rel_l2 = den > 0 ? sqrt(num / den) : sqrt(num);
    r->ok = r->nan_count == 0 && r->bad_inf == 0 && r->nan_missing == 0 && r->unwritten == 0 && r->rel_l2 < tol;
}

/* Element i against a NaN reference: true when handled (counted). */
static bool nan_cases(ref_compare_result *r, double ref, double a, bool poison)
{
    if (poison) {
        r->unwritten++;
        return true;
    }
    if (!isnan(ref))
        return false;
    if (isnan(a))
        r->nan_expected++; /* a NaN row, as the semantics say */
    else
        r->nan_missing++;
    return true;
}

ref_compare_result ref_compare(const double *ref, dtype dt, const void *out, size_t n, double tol)
{
    ref_compare_result r = {0};
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double a = ref_get(dt, out, i), d = a - ref[i];
        if (nan_cases(&r, ref[i], a, ref_is_poison(dt, out, i)))
            continue;
        if (!isfinite(a)) { /* NaN never passes where the reference is a number */
            r.nan_count++;
            continue;
        }
        num += d * d;
        den += ref[i] * ref[i];
        if (fabs(d) > r.max_abs) {
            r.max_abs = fabs(d);
            r.worst = i;
        }
    }
    finish(&r, num, den, tol);
    return r;
}

ref_compare_result ref_compare_lse(const double *ref, const float *out, size_t n, double tol)
{
    ref_compare_result r = {0};
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double a = out[i];
        if (nan_cases(&r, ref[i], a, ref_is_poison(DT_F32, out, i)))
            continue;
        if (isnan(a)) {
            r.nan_count++;
            continue;
        }
        r.empty_rows += ref[i] == -INFINITY;
        if (ref[i] == -INFINITY || a == -INFINITY) {
            r.bad_inf += !(ref[i] == -INFINITY && a == -INFINITY);
            continue;
        }
        double d = a - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
        if (fabs(d) > r.max_abs) {
            r.max_abs = fabs(d);
            r.worst = i;
        }
    }
    finish(&r, num, den, tol);
    return r;
}

bool ref_dump(const char *path, const double *ref, dtype dt, const void *out, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f, "# index reference actual\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%zu %.17g %.9g\n", i, ref[i], ref_get(dt, out, i));
    return fclose(f) == 0;
}
