/* tune_rank.c — orders autotuner candidates by a small cost model so that
 * `attnc tune --max N` times the N most promising ones, the default first.
 *
 * The model (also in docs/runtime.md) scores each candidate; lower is
 * better, ties keep the enumeration order:
 *  - GPU: shared memory per CTA ~ (q tile x D + stages x kv tile x 2D) x
 *    element size; registers per thread ~ 40 + (q tile x D + 1.5 x q tile x
 *    kv tile) / threads. A candidate that cannot keep one CTA on an SM
 *    (smem over the arch's per-SM budget, or registers over 255) goes last.
 *    Otherwise warps resident per SM (CTAs x warps, counted up to 16) earn
 *    up to 4 points, and a query tile under 64 on long sequences (>= 1024
 *    query tokens) costs 4.
 *  - Every target: distance from the default schedule, |log2| of each tile
 *    extent ratio, plus half a point per pipeline stage and per doubling of
 *    warps away from it (block size and inter mode for linear attention).
 * The default itself always comes first (added if it was not enumerated). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tune/autotune.h"

typedef struct ranked {
    schedule s;
    double score;
    int order;
} ranked;

static double log2_ratio(int a, int b)
{
    return a > 0 && b > 0 ? fabs(log2((double)a / (double)b)) : 0;
}

static double distance(const schedule *s, const schedule *d)
{
    double x = 0;
    for (int i = 0; i < s->ndims && i < SCHED_MAX_DIMS; i++)
        x += log2_ratio(s->q_tile[i], d->q_tile[i]) + log2_ratio(s->kv_tile[i], d->kv_tile[i]);
    x += 0.5 * abs(s->stages - d->stages) + 0.5 * log2_ratio(s->warps, d->warps);
    x += log2_ratio(s->linear_block, d->linear_block) + (s->inter != d->inter ? 0.5 : 0);
    return x;
}

/* Occupancy part of the GPU model: CTAs per SM (0: does not fit). */
static int ctas_per_sm(const schedule *s, target_arch arch, int head_dim, int elem_size)
{
    double q = schedule_q_tokens(s), kv = schedule_kv_tokens(s), threads = 32.0 * (s->warps > 0 ? s->warps : 4);
    double smem = (q * head_dim + (s->stages > 0 ? s->stages : 1) * kv * 2.0 * head_dim) * elem_size;
    double regs = 40 + (q * head_dim + 1.5 * q * kv) / threads;
    double smem_sm = arch == TARGET_SM90A ? 228.0 * 1024 : 164.0 * 1024;
    if (regs > 255 || smem > smem_sm)
        return 0;
    int by_smem = (int)(smem_sm / (smem > 0 ? smem : 1)), by_regs = (int)(65536 / (regs * threads));
    int by_warps = (int)(64 * 32 / threads), n = by_smem < by_regs ? by_smem : by_regs;
    return n < by_warps ? n : by_warps;
}

static double score(const schedule *s, const schedule *d, const tune_rank_ctx *c)
{
    double x = distance(s, d);
    if (c->arch == TARGET_HOST)
        return x;
    int ctas = ctas_per_sm(s, c->arch, c->head_dim, c->elem_size);
    if (ctas < 1)
        return x + 1000;
    int warps = ctas * s->warps;
    x -= (warps < 16 ? warps : 16) / 4.0;
    if (c->q_tokens >= 1024 && s->q_tile[0] * (s->ndims > 1 ? s->q_tile[1] : 1) < 64)
        x += 4;
    return x;
}

static int by_score(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return x->order - y->order;
}

static bool same(const schedule *a, const schedule *b)
{
    strbuf x, y;
    sb_init(&x);
    sb_init(&y);
    schedule_print(&x, a);
    schedule_print(&y, b);
    bool eq = !strcmp(sb_cstr(&x), sb_cstr(&y));
    sb_free(&x);
    sb_free(&y);
    return eq;
}

int tune_rank(schedule *c, int n, const schedule *def, const tune_rank_ctx *ctx)
{
    ranked *r = calloc((size_t)n + 1, sizeof *r);
    if (!r)
        return n; /* unranked, still correct */
    int m = 0;
    r[m++] = (ranked){*def, -1e9, -1};
    for (int i = 0; i < n; i++)
        if (!same(&c[i], def))
            r[m] = (ranked){c[i], score(&c[i], def, ctx), i}, m++;
    qsort(r, (size_t)m, sizeof *r, by_score);
    for (int i = 0; i < m; i++)
        c[i] = r[i].s;
    free(r);
    return m;
}
