/* ref_run.c — the reference's entry point: checks the problem's sizes
 * (limits of ir/expr.h, products that must fit in 64 bits) and picks the
 * family. */
#include "reference.h"

#include "support/checked.h"

bool ref_softmax(const ref_problem *p, double *o, double *lse, const char **err);
bool ref_linear(const ref_problem *p, double *o, const char **err);

/* Every size within its limit, the grid's product equal to tokens, and every
 * tensor's element count (times 8 bytes, the widened copies) within int64. */
static bool sizes_ok(const ref_problem *p, const char **err)
{
    const int64_t *sz = p->sizes;
    for (int i = SZ_BATCH; i <= SZ_KV_TOKENS; i++)
        if (sz[i] < 0 || sz[i] > size_limit((size_id)i)) {
            *err = "reference: a size is negative or over its limit";
            return false;
        }
    int64_t n;
    if (p->r->grid_ndim > 0 && (!ck_product(sz + SZ_GRID0, p->r->grid_ndim, &n) || n != sz[SZ_TOKENS])) {
        *err = "reference: the grid's extents do not multiply to tokens";
        return false;
    }
    int dim = p->r->head_dim > p->r->head_dim_v ? p->r->head_dim : p->r->head_dim_v;
    int64_t heads = sz[SZ_HEADS] > sz[SZ_KV_HEADS] ? sz[SZ_HEADS] : sz[SZ_KV_HEADS];
    int64_t tokens = sz[SZ_TOKENS] > sz[SZ_KV_TOKENS] ? sz[SZ_TOKENS] : sz[SZ_KV_TOKENS];
    if (!ck_mul3(sz[SZ_BATCH], heads, tokens, &n) || !ck_mul3(n, dim, 8, &n)) {
        *err = "reference: the tensors of these sizes do not fit in 64-bit byte counts";
        return false;
    }
    return true;
}

bool ref_run(const ref_problem *p, double *o, double *lse, const char **err)
{
    static const char *dummy;
    if (!err)
        err = &dummy;
    if (!p || !p->r || !o) {
        *err = "reference: missing recipe or output";
        return false;
    }
    if (!sizes_ok(p, err))
        return false;
    const int64_t *sz = p->sizes;
    if (sz[SZ_BATCH] == 0 || sz[SZ_HEADS] == 0 || sz[SZ_TOKENS] == 0)
        return true; /* an empty problem: no output element */
    if (!p->q.data || (sz[SZ_KV_TOKENS] > 0 && (!p->k.data || !p->v.data))) {
        *err = "reference: missing tensor";
        return false;
    }
    if (p->r->family == FAMILY_LINEAR) {
        if (lse)
            for (int64_t i = 0; i < sz[SZ_BATCH] * sz[SZ_HEADS] * sz[SZ_TOKENS]; i++)
                lse[i] = 0; /* linear attention has no LSE */
        return ref_linear(p, o, err);
    }
    return ref_softmax(p, o, lse, err);
}
