/* ref_check.c — one numeric check of a kernel against the fp64 reference;
 * see ref_check.h. */
#include "ref_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frontend/forms.h"
#include "reference.h"
#include "support/checked.h"

enum { T_Q, T_K, T_V, T_O, T_LSE, T_FIXED };

typedef struct buf {
    void *host, *dev;
    size_t bytes;
    attnc_tensor t;
} buf;

typedef struct run {
    const recipe *r;
    const ref_check_opts *o;
    int64_t sizes[SZ_MAX];
    buf t[T_FIXED];
    buf *params;
    ref_rng rng;
} run;

/* Extras named by a blocks() table get their natural size: ceil(T / bq). */
static void infer_block_extras(const recipe *r, const expr *e, int64_t *sz)
{
    if (!e)
        return;
    if (e->kind == EX_FORM && e->u.form == FORM_BLOCKS && e->nargs >= 3) {
        int p = (int)e->args[0]->u.ival;
        int64_t bq = e->args[1]->u.ival, bk = e->args[2]->u.ival;
        if (p >= 0 && p < r->nparams && r->params[p].ndim >= 2 && bq > 0 && bk > 0) {
            const recipe_param *rp = &r->params[p];
            size_id a = rp->dims[rp->ndim - 2], b = rp->dims[rp->ndim - 1];
            if (a >= SZ_EXTRA0 && rp->const_dims[rp->ndim - 2] <= 0)
                sz[a] = (sz[SZ_TOKENS] + bq - 1) / bq;
            if (b >= SZ_EXTRA0 && rp->const_dims[rp->ndim - 1] <= 0)
                sz[b] = (sz[SZ_KV_TOKENS] + bk - 1) / bk;
        }
    }
    for (int i = 0; i < e->nargs; i++)
        infer_block_extras(r, e->args[i], sz);
}

static void min_extents_of(const recipe *r, const expr *e, int64_t *mins)
{
    if (!e)
        return;
    if (e->kind == EX_FORM && e->u.form == FORM_NEIGHBORHOOD) {
        int nd = r->grid_ndim > 0 ? r->grid_ndim : 1;
        for (int d = 0; d < nd && nd + d < e->nargs; d++) {
            int64_t dil = e->args[nd + d]->u.ival > 0 ? e->args[nd + d]->u.ival : 1;
            if (e->args[d]->u.ival * dil > mins[d])
                mins[d] = e->args[d]->u.ival * dil;
        }
    }
    for (int i = 0; i < e->nargs; i++)
        min_extents_of(r, e->args[i], mins);
}

void ref_min_extents(const recipe *r, int64_t *mins)
{
    mins[0] = mins[1] = mins[2] = 0;
    min_extents_of(r, r->mask_surface, mins);
}

void ref_default_shape(const recipe *r, ref_shape *sh)
{
    memset(sh, 0, sizeof *sh);
    const recipe_size *z = r->sizes;
    sh->batch = z[SZ_BATCH].fixed > 0 ? z[SZ_BATCH].fixed : 1;
    int64_t kvh = z[SZ_KV_HEADS].fixed;
    sh->heads = z[SZ_HEADS].fixed > 0 ? z[SZ_HEADS].fixed : kvh > 0 ? 2 * kvh : 2;
    sh->kv_heads = r->gqa ? (kvh > 0 ? kvh : 1) : 0;
    int64_t mins[3];
    ref_min_extents(r, mins);
    sh->tokens = r->grid_ndim > 0 ? 0 /* grids: the product */
               : z[SZ_TOKENS].fixed > 0 ? z[SZ_TOKENS].fixed
               : mins[0] + 5 > 200 ? mins[0] + 5 : 200;
    sh->kv_tokens = z[SZ_KV_TOKENS].fixed > 0 ? z[SZ_KV_TOKENS].fixed : 0;
    for (int d = 0; d < r->grid_ndim; d++) {
        int64_t e = r->grid_ndim == 3 ? 7 : 13;
        sh->grid[d] = r->sizes[SZ_GRID0 + d].fixed > 0 ? 0 : (mins[d] + 5 > e ? mins[d] + 5 : e);
    }
}

/* A 0 field means the default, unless the shape's zero mask says 0. */
static int64_t given(const ref_shape *sh, size_id id, int64_t v, int64_t dflt)
{
    return v > 0 || (sh->zero >> id & 1u) ? v : dflt;
}

void ref_shape_sizes(const recipe *r, const ref_shape *sh, int64_t *sz)
{
    memset(sz, 0, sizeof(int64_t) * SZ_MAX);
    sz[SZ_BATCH] = sh->batch;
    sz[SZ_HEADS] = sh->heads;
    sz[SZ_KV_HEADS] = given(sh, SZ_KV_HEADS, sh->kv_heads, sh->heads);
    sz[SZ_TOKENS] = sh->tokens;
    if (r->grid_ndim > 0) {
        int64_t fixed, t = 1;
        for (int d = 0; d < r->grid_ndim; d++) {
            fixed = r->sizes[SZ_GRID0 + d].fixed;
            sz[SZ_GRID0 + d] = given(sh, (size_id)(SZ_GRID0 + d), sh->grid[d], fixed > 0 ? fixed : 8);
            if (t >= 0 && !ck_mul(t, sz[SZ_GRID0 + d], &t))
                t = -1; /* overflow: ref_shape_check says so */
        }
        sz[SZ_TOKENS] = t;
    }
    sz[SZ_KV_TOKENS] = r->cross ? given(sh, SZ_KV_TOKENS, sh->kv_tokens, sz[SZ_TOKENS]) : sz[SZ_TOKENS];
    for (int s = SZ_EXTRA0; s < SZ_MAX; s++)
        sz[s] = r->sizes[s].fixed > 0 ? r->sizes[s].fixed : sh->extra[s - SZ_EXTRA0];
    if (sz[SZ_TOKENS] >= 0 && sz[SZ_TOKENS] <= SIZE_LIMIT_TOKENS && sz[SZ_KV_TOKENS] <= SIZE_LIMIT_TOKENS)
        infer_block_extras(r, r->mask_surface, sz);
    for (int s = SZ_EXTRA0; s < SZ_MAX; s++)
        if (sz[s] <= 0 && !(sh->zero >> s & 1u))
            sz[s] = 4;
}

static const char *limit_macro(size_id id)
{
    return id == SZ_BATCH ? "ATTNC_MAX_BATCH" : id <= SZ_KV_HEADS ? "ATTNC_MAX_HEADS" : id < SZ_EXTRA0 ? "ATTNC_MAX_TOKENS"
                                                                                                    : "ATTNC_MAX_SIZE";
}

/* Bytes the check allocates for a tensor of n elements of esize bytes:
 * host and device copies and a double per element (reference, gathers). */
static bool add_bytes(int64_t n, int esize, int64_t *total)
{
    int64_t b;
    return ck_mul(n, 2 * esize + 16, &b) && ck_add(*total, b, total);
}

bool ref_shape_check(const recipe *r, const int64_t *sz, char *msg, size_t cap)
{
    for (int s = 0; s < SZ_MAX; s++) {
        bool used = s <= SZ_KV_TOKENS || (s >= SZ_GRID0 && s < SZ_GRID0 + r->grid_ndim) ||
                    (s >= SZ_EXTRA0 && s < r->nsizes);
        const char *nm = r->sizes[s].name ? r->sizes[s].name : size_id_name((size_id)s);
        if ((s == SZ_TOKENS || s == SZ_KV_TOKENS) && r->grid_ndim > 0)
            continue; /* the grid's product: below */
        if (used && (sz[s] < 0 || sz[s] > size_limit((size_id)s))) {
            snprintf(msg, cap, "%s = %lld is not in 0..%lld (%s)", nm, (long long)sz[s],
                     (long long)size_limit((size_id)s), limit_macro((size_id)s));
            return false;
        }
    }
    if (r->grid_ndim > 0 && (sz[SZ_TOKENS] < 0 || sz[SZ_TOKENS] > SIZE_LIMIT_TOKENS)) {
        size_t len = (size_t)snprintf(msg, cap, "the token grid");
        for (int d = 0; d < r->grid_ndim && len < cap; d++)
            len += (size_t)snprintf(msg + len, cap - len, "%s %s = %lld", d ? " x" : "", r->sizes[SZ_GRID0 + d].name,
                                    (long long)sz[SZ_GRID0 + d]);
        if (len < cap)
            snprintf(msg + len, cap - len, " holds more than %lld tokens (ATTNC_MAX_TOKENS)", (long long)SIZE_LIMIT_TOKENS);
        return false;
    }
    if (sz[SZ_HEADS] > 0 && (sz[SZ_KV_HEADS] < 1 || sz[SZ_HEADS] % sz[SZ_KV_HEADS])) {
        snprintf(msg, cap, "heads = %lld must be a multiple of kv_heads = %lld", (long long)sz[SZ_HEADS],
                 (long long)sz[SZ_KV_HEADS]);
        return false;
    }
    int64_t total = 0, n;
    int es = dtype_size(r->qkv_dtype), dmax = r->head_dim > r->head_dim_v ? r->head_dim : r->head_dim_v;
    bool ok = ck_mul3(sz[SZ_BATCH], sz[SZ_HEADS], sz[SZ_TOKENS], &n) && add_bytes(n, 4, &total) && /* lse */
              ck_mul(n, dmax, &n) && add_bytes(n, es, &total) && add_bytes(n, es, &total) &&      /* q, o */
              ck_mul3(sz[SZ_BATCH], sz[SZ_KV_HEADS], sz[SZ_KV_TOKENS], &n) && ck_mul(n, dmax, &n) &&
              add_bytes(n, es, &total) && add_bytes(n, es, &total);                                 /* k, v */
    for (int i = 0; ok && i < r->nparams; i++) {
        const recipe_param *rp = &r->params[i];
        n = 1;
        for (int d = 0; ok && d < rp->ndim; d++)
            ok = ck_mul(n, rp->const_dims[d] > 0 ? rp->const_dims[d] : sz[rp->dims[d]], &n);
        ok = ok && add_bytes(n, dtype_size(rp->dtype), &total);
    }
    if (!ok) {
        snprintf(msg, cap, "the tensors of this shape need more than 2^63 bytes");
        return false;
    }
    return true;
}

/* Shape and strides of q/k/v/o in the chosen layout. */
static void layout4(attnc_tensor *t, int64_t b, int64_t h, int64_t s, int64_t d, bool bshd)
{
    int64_t shape[4] = {b, h, s, d};
    memcpy(t->shape, shape, sizeof shape);
    t->ndim = 4;
    t->stride[3] = 1;
    if (bshd) {
        t->stride[1] = d;
        t->stride[2] = h * d;
        t->stride[0] = s * h * d;
    } else {
        t->stride[2] = d;
        t->stride[1] = s * d;
        t->stride[0] = h * s * d;
    }
}

/* Element count of a tensor; fits (ref_shape_check ran first). */
static size_t numel(const attnc_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        if (!ck_mul(n, t->shape[d], &n))
            return SIZE_MAX / 16; /* unreachable after ref_shape_check; fails the allocation */
    return (size_t)n;
}

static bool alloc_buf(run *R, buf *b, dtype dt)
{
    b->t.dtype = (attnc_dtype)dt;
    b->bytes = numel(&b->t) * (size_t)dtype_size(dt);
    b->host = calloc(1, b->bytes ? b->bytes : 1);
    if (!b->host)
        return false;
    if (R->o->mem && b->t.ndim > 0) { /* 0-dim params are host values on every backend */
        b->dev = R->o->mem->alloc(R->o->mem->user, b->bytes ? b->bytes : 1);
        if (!b->dev)
            return false;
    }
    b->t.data = b->dev ? b->dev : b->host;
    return true;
}

static void free_buf(run *R, buf *b)
{
    free(b->host);
    if (b->dev)
        R->o->mem->free(R->o->mem->user, b->dev);
}

/* Random values suited to the param's role (decay rates, ids, tables). */
static void fill_param(run *R, int i, buf *b)
{
    const recipe_param *rp = &R->r->params[i];
    size_t n = numel(&b->t);
    const recipe_linear *lin = &R->r->linear;
    bool decay = R->r->family == FAMILY_LINEAR && lin->decay_param == i;
    if (decay && lin->decay == DECAY_PER_HEAD)
        ref_fill_uniform(rp->dtype, b->host, n, &R->rng, 0.7, 0.999);
    else if (decay)
        ref_fill_uniform(rp->dtype, b->host, n, &R->rng, -0.5, -0.01);
    else if (rp->dtype == DT_F32 || rp->dtype == DT_BF16 || rp->dtype == DT_F16)
        ref_fill_uniform(rp->dtype, b->host, n, &R->rng, -1.0, 1.0);
    else
        for (size_t j = 0; j < n; j++) { /* ids / table flags: small ints, 0 included */
            int64_t v = (int64_t)(ref_rng_next(&R->rng) % (rp->dtype == DT_U8 ? 2 : 3));
            if (rp->dtype == DT_U8)
                ((uint8_t *)b->host)[j] = (uint8_t)v;
            else if (rp->dtype == DT_I32)
                ((int32_t *)b->host)[j] = (int32_t)v;
            else
                ((int64_t *)b->host)[j] = v;
        }
}

static bool make_params(run *R)
{
    int np = R->r->nparams;
    R->params = calloc((size_t)(np > 0 ? np : 1), sizeof *R->params);
    if (!R->params)
        return false;
    for (int i = 0; i < np; i++) {
        const recipe_param *rp = &R->r->params[i];
        attnc_tensor *t = &R->params[i].t;
        t->ndim = rp->ndim;
        for (int d = rp->ndim - 1; d >= 0; d--) {
            t->shape[d] = rp->const_dims[d] > 0 ? rp->const_dims[d] : R->sizes[rp->dims[d]];
            if (R->o->nseq > 0 && rp->const_dims[d] <= 0 && rp->dims[d] == SZ_BATCH)
                t->shape[d] = R->o->nseq; /* varlen: one row per sequence */
            t->stride[d] = d == rp->ndim - 1 ? 1 : t->stride[d + 1] * t->shape[d + 1];
        }
        if (!alloc_buf(R, &R->params[i], rp->dtype))
            return false;
        fill_param(R, i, &R->params[i]);
    }
    return true;
}

/* The caller's param values over the random ones (ref_check_opts.set_param). */
static bool set_params(run *R, ref_check_result *res)
{
    for (int i = 0; R->o->set_param && i < R->r->nparams; i++)
        if (!R->o->set_param(R->o->set_param_user, i, &R->params[i].t, R->params[i].host, res->msg, sizeof res->msg)) {
            res->status = ATTNC_ERR_INVALID_ARGUMENT;
            return false;
        }
    return true;
}

static bool make_tensors(run *R, const ref_shape *sh)
{
    const recipe *r = R->r;
    const int64_t *z = R->sizes;
    layout4(&R->t[T_Q].t, z[SZ_BATCH], z[SZ_HEADS], z[SZ_TOKENS], r->head_dim, sh->bshd);
    layout4(&R->t[T_K].t, z[SZ_BATCH], z[SZ_KV_HEADS], z[SZ_KV_TOKENS], r->head_dim, sh->bshd);
    layout4(&R->t[T_V].t, z[SZ_BATCH], z[SZ_KV_HEADS], z[SZ_KV_TOKENS], r->head_dim_v, sh->bshd);
    layout4(&R->t[T_O].t, z[SZ_BATCH], z[SZ_HEADS], z[SZ_TOKENS], r->head_dim_v, sh->bshd);
    attnc_tensor *l = &R->t[T_LSE].t;
    l->ndim = 3;
    l->shape[0] = z[SZ_BATCH], l->shape[1] = z[SZ_HEADS], l->shape[2] = z[SZ_TOKENS];
    l->stride[2] = 1, l->stride[1] = z[SZ_TOKENS], l->stride[0] = z[SZ_HEADS] * z[SZ_TOKENS];
    for (int i = 0; i < T_FIXED; i++)
        if (!alloc_buf(R, &R->t[i], i == T_LSE ? DT_F32 : r->qkv_dtype))
            return false;
    for (int i = T_Q; i <= T_V; i++)
        ref_fill_uniform(r->qkv_dtype, R->t[i].host, numel(&R->t[i].t), &R->rng, -2.0, 2.0);
    ref_poison(r->qkv_dtype, R->t[T_O].host, numel(&R->t[T_O].t));
    ref_poison(DT_F32, R->t[T_LSE].host, numel(&R->t[T_LSE].t));
    return make_params(R);
}

static bool upload_all(run *R)
{
    const ref_mem_ops *m = R->o->mem;
    if (!m)
        return true;
    bool ok = true;
    for (int i = 0; i < T_FIXED; i++)
        ok = ok && m->upload(m->user, R->t[i].dev, R->t[i].host, R->t[i].bytes);
    for (int i = 0; i < R->r->nparams; i++)
        ok = ok && (!R->params[i].dev || m->upload(m->user, R->params[i].dev, R->params[i].host, R->params[i].bytes));
    return ok;
}

static attnc_status set_args(run *R, attnc_args *a)
{
    static const char *names[T_FIXED] = {"q", "k", "v", "o", "lse"};
    const recipe *r = R->r;
    attnc_status st = ATTNC_OK;
    for (int i = 0; i < T_FIXED && !st; i++)
        if (i != T_LSE || r->family == FAMILY_SOFTMAX)
            st = attnc_args_set_tensor(a, names[i], &R->t[i].t);
    for (int i = 0; i < r->nparams && !st; i++) {
        if (r->params[i].ndim == 0 && r->params[i].dtype == DT_F32) /* by value: works for every backend */
            st = attnc_args_set_scalar(a, r->params[i].name, *(const float *)R->params[i].host);
        else
            st = attnc_args_set_tensor(a, r->params[i].name, &R->params[i].t);
    }
    for (int d = 0; d < r->grid_ndim && !st; d++)
        st = attnc_args_set_size(a, r->sizes[SZ_GRID0 + d].name, R->sizes[SZ_GRID0 + d]);
    if (R->o->nseq > 0) { /* host memory on every backend */
        attnc_tensor cq = {ATTNC_I32, (void *)R->o->cu_q, 1, {R->o->nseq + 1}, {1}}, ck = cq;
        ck.data = (void *)(R->o->cu_k ? R->o->cu_k : R->o->cu_q);
        if (!st)
            st = attnc_args_set_tensor(a, "cu_seqlens_q", &cq);
        if (!st && R->o->cu_k)
            st = attnc_args_set_tensor(a, "cu_seqlens_k", &ck);
    }
    for (int s = SZ_EXTRA0; s < r->nsizes && s < SZ_MAX && !st; s++)
        if (r->sizes[s].name && r->sizes[s].fixed <= 0)
            st = attnc_args_set_size(a, r->sizes[s].name, R->sizes[s]);
    return st;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static bool launch(run *R, attnc_kernel *k, ref_check_result *res)
{
    attnc_args *a = NULL;
    res->status = attnc_args_create(&a, k);
    if (!res->status)
        res->status = set_args(R, a);
    double t0 = now_ms();
    if (!res->status)
        res->status = R->o->launch ? R->o->launch(R->o->launch_user, k, a) : attnc_launch(k, a, NULL);
    const ref_mem_ops *m = R->o->mem;
    if (!res->status && m && m->sync && !m->sync(m->user))
        res->status = ATTNC_ERR_CUDA;
    res->launch_ms = now_ms() - t0;
    attnc_args_destroy(a);
    if (res->status) {
        snprintf(res->msg, sizeof res->msg, "launch failed: %s: %s", attnc_status_string(res->status),
                 attnc_kernel_errmsg(k));
        return false;
    }
    if (m)
        for (int i = T_O; i <= T_LSE; i++)
            if (!m->download(m->user, R->t[i].host, R->t[i].dev, R->t[i].bytes)) {
                snprintf(res->msg, sizeof res->msg, "copying outputs back failed");
                return false;
            }
    res->launched = true;
    return true;
}

static ref_view view_of(const buf *b)
{
    ref_view v = {(dtype)b->t.dtype, b->host, b->t.ndim, {0}, {0}};
    memcpy(v.shape, b->t.shape, sizeof v.shape);
    memcpy(v.stride, b->t.stride, sizeof v.stride);
    return v;
}

/* The actual output o gathered into contiguous [b, h, t, d] order. */
static void *gather_o(const run *R)
{
    const attnc_tensor *t = &R->t[T_O].t;
    int es = dtype_size(R->r->qkv_dtype);
    char *out = malloc(numel(t) * (size_t)es + 1);
    if (!out)
        return NULL;
    size_t i = 0;
    for (int64_t b = 0; b < t->shape[0]; b++)
        for (int64_t h = 0; h < t->shape[1]; h++)
            for (int64_t s = 0; s < t->shape[2]; s++)
                for (int64_t d = 0; d < t->shape[3]; d++, i++) {
                    int64_t off = b * t->stride[0] + h * t->stride[1] + s * t->stride[2] + d * t->stride[3];
                    memcpy(out + i * (size_t)es, (const char *)R->t[T_O].host + off * es, (size_t)es);
                }
    return out;
}

static void dump(const run *R, const double *ref_o, const void *o, const double *ref_lse, ref_check_result *res)
{
    if (!R->o->dump_prefix)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s.o.txt", R->o->dump_prefix);
    bool ok = ref_dump(path, ref_o, R->r->qkv_dtype, o, numel(&R->t[T_O].t));
    if (res->has_lse) {
        snprintf(path, sizeof path, "%s.lse.txt", R->o->dump_prefix);
        ok = ok && ref_dump(path, ref_lse, DT_F32, R->t[T_LSE].host, numel(&R->t[T_LSE].t));
    }
    size_t len = strlen(res->msg);
    snprintf(res->msg + len, sizeof res->msg - len, "%s %s.{o,lse}.txt", ok ? "; tensors written to" : "; could not write",
             R->o->dump_prefix);
}

static bool compare(run *R, ref_check_result *res)
{
    ref_view params[16];
    int np = R->r->nparams < 16 ? R->r->nparams : 16;
    for (int i = 0; i < np; i++)
        params[i] = view_of(&R->params[i]);
    ref_problem p = {R->r, {0}, view_of(&R->t[T_Q]), view_of(&R->t[T_K]), view_of(&R->t[T_V]), params};
    memcpy(p.sizes, R->sizes, sizeof p.sizes);
    size_t no = numel(&R->t[T_O].t), nl = numel(&R->t[T_LSE].t);
    double *ref_o = malloc(sizeof(double) * (no + 1)), *ref_lse = malloc(sizeof(double) * (nl + 1));
    void *o = gather_o(R);
    const char *why = "out of memory";
    bool ok = ref_o && ref_lse && o &&
              (R->o->nseq > 0 ? ref_run_varlen(&p, R->o->nseq, R->o->cu_q, R->o->cu_k ? R->o->cu_k : R->o->cu_q, ref_o,
                                               ref_lse, &why)
                              : ref_run(&p, ref_o, ref_lse, &why));
    if (!ok) {
        snprintf(res->msg, sizeof res->msg, "reference failed: %s", why);
    } else {
        res->o = ref_compare(ref_o, R->r->qkv_dtype, o, no, res->tol);
        res->has_lse = R->r->family == FAMILY_SOFTMAX;
        if (res->has_lse)
            res->lse = ref_compare_lse(ref_lse, R->t[T_LSE].host, nl, res->tol);
        ok = res->o.ok && (!res->has_lse || res->lse.ok);
        snprintf(res->msg, sizeof res->msg,
                 "o: rel L2 %.3g, max abs %.3g, %zu non-finite, %zu NaN missing, %zu unwritten; lse: rel L2 %.3g, "
                 "max abs %.3g, %zu NaN, %zu NaN missing, %zu unwritten, %zu -inf mismatches, %zu empty rows, %zu NaN "
                 "rows as required (tolerance %.0e)",
                 res->o.rel_l2, res->o.max_abs, res->o.nan_count, res->o.nan_missing, res->o.unwritten,
                 res->lse.rel_l2, res->lse.max_abs, res->lse.nan_count, res->lse.nan_missing, res->lse.unwritten,
                 res->lse.bad_inf, res->lse.empty_rows, res->lse.nan_expected, res->tol);
        if (!ok)
            dump(R, ref_o, o, ref_lse, res);
    }
    free(ref_o);
    free(ref_lse);
    free(o);
    return ok;
}

/* What the q, k, v, o and lse tensors take, for an out-of-memory message. */
static double tensor_gib(const run *R)
{
    double bytes = 0;
    for (int i = 0; i < T_FIXED; i++) {
        double n = 1;
        for (int d = 0; d < R->t[i].t.ndim; d++)
            n *= (double)R->t[i].t.shape[d];
        bytes += n * dtype_size(i == T_LSE ? DT_F32 : R->r->qkv_dtype);
    }
    return bytes / (1024.0 * 1024.0 * 1024.0);
}

bool ref_check_kernel(attnc_kernel *k, const recipe *r, const ref_shape *sh, const ref_check_opts *o,
                      ref_check_result *res)
{
    memset(res, 0, sizeof *res);
    run R;
    memset(&R, 0, sizeof R);
    R.r = r;
    R.o = o;
    ref_rng_seed(&R.rng, o->seed);
    ref_shape_sizes(r, sh, R.sizes);
    res->tol = ref_tolerance(r->qkv_dtype);
    char why[512];
    if (!ref_shape_check(r, R.sizes, why, sizeof why)) {
        res->status = ATTNC_ERR_INVALID_ARGUMENT;
        snprintf(res->msg, sizeof res->msg, "bad shape: %s", why);
        return false;
    }
    bool ok = make_tensors(&R, sh);
    if (!ok)
        snprintf(res->msg, sizeof res->msg, "out of memory allocating tensors (%.3g GiB)", tensor_gib(&R));
    ok = ok && set_params(&R, res);
    ok = ok && upload_all(&R);
    ok = ok && launch(&R, k, res);
    if (ok && o->check)
        ok = compare(&R, res);
    else if (ok)
        snprintf(res->msg, sizeof res->msg, "ran (not checked)");
    res->ok = ok;
    for (int i = 0; i < T_FIXED; i++)
        free_buf(&R, &R.t[i]);
    for (int i = 0; R.params && i < r->nparams; i++)
        free_buf(&R, &R.params[i]);
    free(R.params);
    return ok;
}
