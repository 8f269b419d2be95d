/* doc_spans.c — document spans of query tiles (doc_spans.h). */
#include "runtime/host/doc_spans.h"

#include <stdlib.h>

#include "runtime/api/api_internal.h"

typedef struct id_at {
    int64_t id, t;
} id_at;

static int by_id_then_token(const void *a, const void *b)
{
    const id_at *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->t < y->t ? -1 : x->t > y->t;
}

static int64_t id_of(const attnc_tensor *ids, int64_t b, int64_t t)
{
    const char *base = ids->data;
    int64_t off = ids->ndim == 2 ? b * ids->stride[0] + t * ids->stride[1] : t * ids->stride[0];
    if (ids->dtype == ATTNC_I64)
        return ((const int64_t *)(const void *)base)[off];
    return ((const int32_t *)(const void *)base)[off];
}

/* One row: first[t] / last[t] = the first / last token with t's id. */
static void row_extents(const attnc_tensor *ids, int64_t b, int64_t n, id_at *pairs, int64_t *first, int64_t *last)
{
    for (int64_t t = 0; t < n; t++)
        pairs[t] = (id_at){id_of(ids, b, t), t};
    qsort(pairs, (size_t)n, sizeof *pairs, by_id_then_token);
    for (int64_t g = 0; g < n;) {
        int64_t e = g;
        while (e + 1 < n && pairs[e + 1].id == pairs[g].id)
            e++;
        for (int64_t i = g; i <= e; i++) {
            first[pairs[i].t] = pairs[g].t;
            last[pairs[i].t] = pairs[e].t;
        }
        g = e + 1;
    }
}

bool doc_spans_build(attnc_context *ctx, const attnc_tensor *ids, int64_t batch, int64_t tokens, int64_t q_tile,
                     int64_t *spans)
{
    int64_t nqt = (tokens + q_tile - 1) / q_tile, rows = ids->ndim == 2 ? batch : 1;
    id_at *pairs = ctx_alloc(ctx, sizeof *pairs * (size_t)tokens);
    int64_t *first = ctx_alloc(ctx, sizeof *first * (size_t)tokens);
    int64_t *last = ctx_alloc(ctx, sizeof *last * (size_t)tokens);
    bool ok = pairs && first && last;
    for (int64_t b = 0; ok && b < rows; b++) {
        row_extents(ids, b, tokens, pairs, first, last);
        for (int64_t i = 0; i < nqt; i++) {
            int64_t lo = tokens, hi = -1, end = (i + 1) * q_tile < tokens ? (i + 1) * q_tile : tokens;
            for (int64_t q = i * q_tile; q < end; q++) {
                lo = first[q] < lo ? first[q] : lo;
                hi = last[q] > hi ? last[q] : hi;
            }
            spans[(b * nqt + i) * 2] = lo;
            spans[(b * nqt + i) * 2 + 1] = hi;
        }
    }
    for (int64_t b = rows; ok && b < batch; b++) /* ids [tokens]: every row alike */
        for (int64_t i = 0; i < 2 * nqt; i++)
            spans[b * nqt * 2 + i] = spans[i];
    ctx_free(ctx, pairs);
    ctx_free(ctx, first);
    ctx_free(ctx, last);
    return ok;
}
