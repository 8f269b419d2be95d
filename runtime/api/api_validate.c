/* api_validate.c — every check a launch makes before touching memory:
 * presence, pointers, dtypes, ranks, shapes against the recipe and each
 * other, the size limits of attnc.h, strides (non-negative, head dim
 * contiguous, outputs never self-overlapping, byte offsets within 2^62),
 * alignment, sizes bound by name, params, and launch-time bounds of named
 * forms. Every product and sum of sizes and strides is overflow-checked
 * (support/checked.h). Each failure names the tensor, the dimension and the
 * rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/forms.h"
#include "support/checked.h"
#include "runtime/api/api_internal.h"
#include "runtime/program/program.h"

_Static_assert(ATTNC_MAX_BATCH == SIZE_LIMIT_BATCH && ATTNC_MAX_HEADS == SIZE_LIMIT_HEADS &&
                   ATTNC_MAX_TOKENS == SIZE_LIMIT_TOKENS && ATTNC_MAX_SIZE == SIZE_LIMIT_EXTRA,
               "attnc.h's limits are ir/expr.h's");

static const char *const tnames[ARG_NFIXED] = {"q", "k", "v", "o", "lse"};
/* Where batch, heads, kv_heads, tokens and kv_tokens are read from. */
static const char *const from[] = {"q's shape[0]", "q's shape[1]", "k's shape[1]", "q's shape[2]", "k's shape[2]"};
static const int64_t SHAPE_MAX = ((int64_t)1 << 31) - 1; /* any one extent */
static const int64_t BYTES_MAX = (int64_t)1 << 62;        /* a tensor's span */

typedef struct vctx {
    attnc_kernel *k;
    const attnc_args *a;
    launch_problem *p;
} vctx;

#define FAIL(v, ...) kernel_error((v)->k, ATTNC_ERR_INVALID_ARGUMENT, __VA_ARGS__)

static const char *tensor_name(const vctx *v, int i)
{
    return i < ARG_NFIXED ? tnames[i] : v->k->r->params[i - ARG_NFIXED].name;
}

static int cmp_dim(const void *x, const void *y)
{
    const int64_t *a = x, *b = y; /* {stride, extent} pairs */
    return (a[0] > b[0]) - (a[0] < b[0]);
}

/* Non-negative strides, the last element within 2^62 bytes of the first
 * (so every byte offset a kernel computes fits in 64 bits), and (for
 * outputs) no two elements at one address. */
static attnc_status check_strides(vctx *v, int i, const attnc_tensor *t, int esize, bool output)
{
    int64_t dims[4][2];
    int n = 0;
    int64_t span = 0; /* offset of the last element, in elements */
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] <= 1)
            continue;
        if (t->stride[d] < 0)
            return FAIL(v, "tensor '%s': stride[%d] = %lld is negative", tensor_name(v, i), d, (long long)t->stride[d]);
        int64_t bytes;
        if (!ck_muladd(t->shape[d] - 1, t->stride[d], span, &span) || !ck_muladd(span, esize, esize, &bytes) ||
            bytes > BYTES_MAX)
            return FAIL(v, "tensor '%s': stride[%d] = %lld makes offsets overflow (a tensor must span at most 2^62 bytes)",
                        tensor_name(v, i), d, (long long)t->stride[d]);
        dims[n][0] = t->stride[d];
        dims[n][1] = t->shape[d];
        n++;
    }
    if (!output)
        return ATTNC_OK;
    qsort(dims, (size_t)n, sizeof dims[0], cmp_dim);
    int64_t covered = 0; /* last offset reachable with the smaller strides (<= span) */
    for (int j = 0; j < n; j++) {
        if (dims[j][0] <= covered)
            return FAIL(v, "output tensor '%s': strides make elements overlap (stride %lld inside a span of %lld); "
                           "outputs need a one-to-one layout",
                        tensor_name(v, i), (long long)dims[j][0], (long long)covered + 1);
        covered += (dims[j][1] - 1) * dims[j][0];
    }
    return ATTNC_OK;
}

/* A tensor with a zero extent has no elements: its data may be NULL and
 * its strides anything. */
static bool is_empty(const attnc_tensor *t)
{
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] == 0)
            return true;
    return false;
}

/* Rank, dtype and shape range of one tensor. */
static attnc_status check_shape(vctx *v, int i, int ndim, dtype dt)
{
    const attnc_tensor *t = &v->a->tensors[i];
    const char *nm = tensor_name(v, i);
    if (t->ndim != ndim)
        return FAIL(v, "tensor '%s': ndim is %d, expected %d", nm, t->ndim, ndim);
    if ((int)t->dtype != (int)dt)
        return FAIL(v, "tensor '%s': dtype %s, expected %s", nm, (unsigned)t->dtype <= ATTNC_U8 ? dtype_name((dtype)t->dtype) : "?",
                    dtype_name(dt));
    for (int d = 0; d < ndim; d++)
        if (t->shape[d] < 0 || t->shape[d] > SHAPE_MAX)
            return FAIL(v, "tensor '%s': shape[%d] = %lld is not in 0..2^31-1", nm, d, (long long)t->shape[d]);
    return ATTNC_OK;
}

/* Pointer, alignment, contiguity and strides of one tensor (shape checked). */
static attnc_status check_layout(vctx *v, int i, dtype dt, bool output)
{
    const attnc_tensor *t = &v->a->tensors[i];
    const char *nm = tensor_name(v, i);
    if (is_empty(t))
        return ATTNC_OK; /* no element is ever addressed: any data and strides */
    if (!t->data)
        return FAIL(v, "tensor '%s': data is NULL", nm);
    if ((uintptr_t)t->data % (uintptr_t)dtype_size(dt))
        return FAIL(v, "tensor '%s': data %p is not aligned to its %d-byte elements", nm, t->data, dtype_size(dt));
    if (i <= ARG_O && t->shape[3] > 1 && t->stride[3] != 1)
        return FAIL(v, "tensor '%s': stride[3] = %lld; the head dimension must be contiguous (stride 1)", nm,
                    (long long)t->stride[3]);
    return check_strides(v, i, t, dtype_size(dt), output);
}

static attnc_status check_tensor(vctx *v, int i, int ndim, dtype dt, bool output)
{
    attnc_status st = check_shape(v, i, ndim, dt);
    return st ? st : check_layout(v, i, dt, output);
}

/* shape[d] of tensor i must equal want (named for the message). */
static attnc_status expect_dim(vctx *v, int i, int d, int64_t want, const char *what)
{
    int64_t got = v->a->tensors[i].shape[d];
    if (got != want)
        return FAIL(v, "tensor '%s': shape[%d] = %lld but %s is %lld", tensor_name(v, i), d, (long long)got, what,
                    (long long)want);
    return ATTNC_OK;
}

static attnc_status check_heads_tokens(vctx *v);

/* batch, heads, kv_heads, tokens, kv_tokens read from q and k and checked
 * against attnc.h's ATTNC_MAX_* (before anything multiplies them). */
static attnc_status read_sizes(vctx *v)
{
    const attnc_tensor *q = &v->a->tensors[ARG_Q], *kt = &v->a->tensors[ARG_K];
    int64_t *sz = v->p->sizes;
    sz[SZ_BATCH] = q->shape[0];
    sz[SZ_HEADS] = q->shape[1];
    sz[SZ_TOKENS] = q->shape[2];
    sz[SZ_KV_HEADS] = kt->shape[1];
    sz[SZ_KV_TOKENS] = kt->shape[2];
    static const char *const macro[] = {"ATTNC_MAX_BATCH", "ATTNC_MAX_HEADS", "ATTNC_MAX_HEADS", "ATTNC_MAX_TOKENS",
                                        "ATTNC_MAX_TOKENS"};
    for (int s = SZ_BATCH; s <= SZ_KV_TOKENS; s++)
        if (v->p->sizes[s] > size_limit((size_id)s))
            return FAIL(v, "%s = %lld (%s) is over the limit %lld (%s)", size_id_name((size_id)s),
                        (long long)v->p->sizes[s], from[s], (long long)size_limit((size_id)s), macro[s]);
    return ATTNC_OK;
}

static attnc_status check_qkvo_shapes(vctx *v)
{
    const recipe *r = v->k->r;
    int64_t *sz = v->p->sizes;
    attnc_status st;
    if ((st = expect_dim(v, ARG_Q, 3, r->head_dim, "the recipe's head_dim")) ||
        (st = expect_dim(v, ARG_K, 0, sz[SZ_BATCH], "batch (from q)")) ||
        (st = expect_dim(v, ARG_K, 3, r->head_dim, "the recipe's head_dim")) || (st = check_heads_tokens(v)) ||
        (st = expect_dim(v, ARG_V, 0, sz[SZ_BATCH], "batch (from q)")) ||
        (st = expect_dim(v, ARG_V, 1, sz[SZ_KV_HEADS], "kv_heads (from k)")) ||
        (st = expect_dim(v, ARG_V, 2, sz[SZ_KV_TOKENS], "kv_tokens (from k)")) ||
        (st = expect_dim(v, ARG_V, 3, r->head_dim_v, "the recipe's head_dim_v")) ||
        (st = expect_dim(v, ARG_O, 0, sz[SZ_BATCH], "batch (from q)")) ||
        (st = expect_dim(v, ARG_O, 1, sz[SZ_HEADS], "heads (from q)")) ||
        (st = expect_dim(v, ARG_O, 2, sz[SZ_TOKENS], "tokens (from q)")) ||
        (st = expect_dim(v, ARG_O, 3, r->head_dim_v, "the recipe's head_dim_v")))
        return st;
    if (v->a->tensor_set[ARG_LSE] &&
        ((st = expect_dim(v, ARG_LSE, 0, sz[SZ_BATCH], "batch (from q)")) ||
         (st = expect_dim(v, ARG_LSE, 1, sz[SZ_HEADS], "heads (from q)")) ||
         (st = expect_dim(v, ARG_LSE, 2, sz[SZ_TOKENS], "tokens (from q)"))))
        return st;
    return ATTNC_OK;
}

static attnc_status check_heads_tokens(vctx *v)
{
    const recipe *r = v->k->r;
    int64_t *sz = v->p->sizes;
    if (!r->gqa && sz[SZ_KV_HEADS] != sz[SZ_HEADS])
        return FAIL(v, "tensor 'k': shape[1] = %lld but q has %lld heads and recipe '%s' does not declare kv_heads (GQA)",
                    (long long)sz[SZ_KV_HEADS], (long long)sz[SZ_HEADS], r->name);
    if (sz[SZ_HEADS] > 0 && (sz[SZ_KV_HEADS] < 1 || sz[SZ_HEADS] % sz[SZ_KV_HEADS]))
        return FAIL(v, "heads = %lld must be a multiple of kv_heads = %lld", (long long)sz[SZ_HEADS],
                    (long long)sz[SZ_KV_HEADS]);
    if (!r->cross && sz[SZ_KV_TOKENS] != sz[SZ_TOKENS])
        return FAIL(v, "tensor 'k': shape[2] = %lld but q has %lld tokens and recipe '%s' is not cross-attention",
                    (long long)sz[SZ_KV_TOKENS], (long long)sz[SZ_TOKENS], r->name);
    return ATTNC_OK;
}

/* The grid's extents multiply (overflow-checked) to q's tokens. */
static attnc_status check_grid_product(vctx *v)
{
    const recipe *r = v->k->r;
    const int64_t *sz = v->p->sizes;
    char dims[160] = "";
    for (int d = 0; d < r->grid_ndim; d++) {
        size_t len = strlen(dims);
        snprintf(dims + len, sizeof dims - len, "%s%s = %lld", d ? " x " : "", r->sizes[SZ_GRID0 + d].name,
                 (long long)sz[SZ_GRID0 + d]);
    }
    int64_t prod;
    if (!ck_product(sz + SZ_GRID0, r->grid_ndim, &prod) || prod > SIZE_LIMIT_TOKENS)
        return FAIL(v, "the token grid %s holds more than %lld tokens (ATTNC_MAX_TOKENS)", dims,
                    (long long)SIZE_LIMIT_TOKENS);
    if (prod != sz[SZ_TOKENS])
        return FAIL(v, "the token grid holds %lld tokens (%s) but q has tokens = %lld", (long long)prod, dims,
                    (long long)sz[SZ_TOKENS]);
    return ATTNC_OK;
}

/* Grid dims and extra sizes: bound by name or fixed by the recipe; fixed
 * standard sizes must match the tensors; the grid's product (checked) must
 * be q's tokens. A zero size is only allowed in an empty launch. */
static attnc_status check_named_sizes(vctx *v)
{
    const recipe *r = v->k->r;
    int64_t *sz = v->p->sizes;
    for (int s = 0; s < SZ_MAX; s++) {
        bool named = (s >= SZ_GRID0 && s < SZ_GRID0 + r->grid_ndim) || (s >= SZ_EXTRA0 && s < r->nsizes);
        int64_t fixed = r->sizes[s].fixed;
        const char *nm = r->sizes[s].name ? r->sizes[s].name : size_id_name((size_id)s);
        if (named) {
            if (v->a->size_set[s] && fixed > 0 && v->a->sizes[s] != fixed)
                return FAIL(v, "size '%s' = %lld but the recipe fixes it to %lld", nm, (long long)v->a->sizes[s],
                            (long long)fixed);
            if (!v->a->size_set[s] && fixed <= 0)
                return FAIL(v, "size '%s' is not set (attnc_args_set_size)", nm);
            sz[s] = v->a->size_set[s] ? v->a->sizes[s] : fixed;
            if (sz[s] > size_limit((size_id)s))
                return FAIL(v, "size '%s' = %lld is over the limit %lld", nm, (long long)sz[s],
                            (long long)size_limit((size_id)s));
        } else if (s <= SZ_KV_TOKENS && fixed > 0 && sz[s] != fixed) {
            return FAIL(v, "%s = %lld (%s) but recipe '%s' fixes it to %lld", nm, (long long)sz[s], from[s], r->name,
                        (long long)fixed);
        }
    }
    return r->grid_ndim > 0 ? check_grid_product(v) : ATTNC_OK;
}

bool launch_is_empty(const launch_problem *p)
{
    return p->sizes[SZ_BATCH] == 0 || p->sizes[SZ_HEADS] == 0 || p->sizes[SZ_TOKENS] == 0;
}

int tensor_elem_size(attnc_dtype t)
{
    switch (t) {
    case ATTNC_U8: return 1;
    case ATTNC_BF16:
    case ATTNC_F16: return 2;
    case ATTNC_F32:
    case ATTNC_I32: return 4;
    case ATTNC_I64: return 8;
    }
    return 1;
}

bool tensor_is_contiguous(const attnc_tensor *t)
{
    int64_t want = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] > 1 && t->stride[d] != want)
            return false;
        want *= t->shape[d];
    }
    return true;
}

double launch_scalar_value(const attnc_tensor *t)
{
    if (!t->data)
        return 0;
    float f;
    switch (t->dtype) {
    case ATTNC_F32: return *(const float *)t->data;
    case ATTNC_BF16: attnc_bf16_to_f32(t->data, &f, 1); return f;
    case ATTNC_F16: attnc_f16_to_f32(t->data, &f, 1); return f;
    case ATTNC_I32: return *(const int32_t *)t->data;
    case ATTNC_I64: return (double)*(const int64_t *)t->data;
    case ATTNC_U8: return *(const uint8_t *)t->data;
    }
    return 0;
}

/* Outside an empty launch every extra size is >= 1: a param with a zero
 * extent would be read out of range. */
static attnc_status check_nonempty_sizes(vctx *v)
{
    const recipe *r = v->k->r;
    for (int s = SZ_EXTRA0; s < r->nsizes; s++)
        if (v->p->sizes[s] == 0 && !r->sizes[s].zero_ok)
            return FAIL(v, "size '%s' is 0 but the launch is not empty (only a launch with batch, heads or tokens 0 "
                           "may have zero sizes)",
                        r->sizes[s].name ? r->sizes[s].name : "?");
    return ATTNC_OK;
}

/* A global kernel's block lies inside the whole problem: a sequence's
 * offset + tokens within the global tokens; a slab (which may be padded)
 * starts inside the grid. */
static attnc_status check_global(vctx *v)
{
    const recipe *r = v->k->r;
    const int64_t *sz = v->p->sizes;
    if (!r->global_coords)
        return ATTNC_OK;
    for (int side = 0; side < 2; side++) {
        int off = side ? r->global_k_off : r->global_q_off, ax = side ? r->global_kv_axis : r->global_q_axis;
        bool grid = r->grid_ndim > 0;
        int64_t local = grid ? 0 : sz[side ? SZ_KV_TOKENS : SZ_TOKENS];
        if (grid ? sz[off] >= sz[ax] : sz[off] + local > sz[ax])
            return FAIL(v, "%s = %lld%s%lld %s lies past %s = %lld", r->sizes[off].name, (long long)sz[off],
                        grid ? "" : " + ", (long long)local, grid ? "(a row)" : "tokens", r->sizes[ax].name,
                        (long long)sz[ax]);
    }
    return ATTNC_OK;
}

static attnc_status check_params(vctx *v)
{
    const recipe *r = v->k->r;
    for (int i = 0; i < r->nparams; i++) {
        const recipe_param *rp = &r->params[i];
        int ti = ARG_NFIXED + i;
        if (!v->a->tensor_set[ti])
            return FAIL(v, "runtime param '%s' is not set (attnc_args_set_tensor%s)", rp->name,
                        rp->ndim == 0 ? " or attnc_args_set_scalar" : "");
        attnc_status st = check_tensor(v, ti, rp->ndim, rp->dtype, false);
        if (st)
            return st;
        for (int d = 0; d < rp->ndim; d++) {
            int64_t want = rp->const_dims[d] > 0 ? rp->const_dims[d] : v->p->sizes[rp->dims[d]];
            const char *what = rp->const_dims[d] > 0 ? "the recipe's literal" : r->sizes[rp->dims[d]].name;
            if ((st = expect_dim(v, ti, d, want, what ? what : size_id_name(rp->dims[d]))))
                return st;
        }
    }
    return ATTNC_OK;
}

/* neighborhood(): a window (times dilation) larger than its grid dim. */
static attnc_status check_forms(vctx *v, const expr *e)
{
    if (!e)
        return ATTNC_OK;
    const recipe *r = v->k->r;
    if (e->kind == EX_FORM && e->u.form == FORM_NEIGHBORHOOD) {
        int nd = r->grid_ndim > 0 ? r->grid_ndim : 1;
        for (int d = 0; d < nd && 2 * nd + d < e->nargs; d++) {
            int64_t w = e->args[d]->u.ival, dil = e->args[nd + d]->u.ival;
            int s = recipe_window_size(r, d);
            int64_t L = v->p->sizes[s];
            if (w * (dil < 1 ? 1 : dil) > L)
                return FAIL(v, "neighborhood window %lld x dilation %lld is larger than %s = %lld", (long long)w,
                            (long long)dil, r->sizes[s].name ? r->sizes[s].name : "tokens", (long long)L);
        }
    }
    for (int i = 0; i < e->nargs; i++) {
        attnc_status st = check_forms(v, e->args[i]);
        if (st)
            return st;
    }
    return ATTNC_OK;
}

attnc_status launch_validate(attnc_kernel *k, const attnc_args *a, launch_problem *p)
{
    if (a->k != k)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "attnc_launch: the args were made for another kernel");
    memset(p, 0, sizeof *p);
    vctx v = {k, a, p};
    const recipe *r = k->r;
    for (int i = ARG_Q; i <= ARG_O; i++)
        if (!a->tensor_set[i])
            return FAIL(&v, "tensor '%s' is not set (attnc_args_set_tensor)", tnames[i]);
    attnc_status st;
    for (int i = ARG_Q; i < ARG_NFIXED; i++) /* shapes first, then the limits, then the strides */
        if (a->tensor_set[i] && (st = check_shape(&v, i, i == ARG_LSE ? 3 : 4, i == ARG_LSE ? DT_F32 : r->qkv_dtype)))
            return st;
    if ((st = read_sizes(&v)))
        return st;
    for (int i = ARG_Q; i < ARG_NFIXED; i++) {
        if (!a->tensor_set[i])
            continue;
        if ((st = check_layout(&v, i, i == ARG_LSE ? DT_F32 : r->qkv_dtype, i >= ARG_O)))
            return st;
        p->t[i] = &a->tensors[i];
    }
    if (a->tensor_set[ARG_LSE] && r->family == FAMILY_LINEAR)
        return FAIL(&v, "tensor 'lse': linear attention has no log-sum-exp output");
    if ((st = check_qkvo_shapes(&v)) || (st = check_named_sizes(&v)) || (st = check_params(&v)))
        return st;
    /* an empty launch computes nothing, so no window can be too large */
    if (!launch_is_empty(p) && ((st = check_nonempty_sizes(&v)) || (st = check_global(&v)) ||
                                  (st = check_forms(&v, r->mask_surface))))
        return st;
    p->params = a->tensors + ARG_NFIXED;
    return ATTNC_OK;
}
