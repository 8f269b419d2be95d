/* ref_bwd_check.c — one end-to-end check of a backward kernel against the
 * fp64 reference, and finite differences of its param gradients; see
 * ref_bwd_check.h. */
#include "ref_bwd_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { B_Q, B_K, B_V, B_O, B_LSE, B_DO, B_DQ, B_DK, B_DV, B_N };
static const char *const names[B_N] = {"q", "k", "v", "o", "lse", "do", "dq", "dk", "dv"};

typedef struct tbuf {
    void *host;
    void *dev; /* o->mem: the device copy the launches use */
    size_t bytes;
    attnc_tensor t;
} tbuf;

struct ref_bwd_data {
    const recipe *r;
    ref_param_fill_fn fill; /* NULL: role-based random values */
    void *fill_user;
    int64_t sizes[SZ_MAX];
    tbuf t[B_N];
    tbuf *params, *dparams; /* [nparams]; dparams[i].host NULL: no gradient */
    ref_rng rng;
    const ref_mem_ops *mem; /* NULL: host memory */
};

static size_t numel(const attnc_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= (size_t)t->shape[d];
    return n;
}

static bool alloc(tbuf *b, dtype dt)
{
    b->t.dtype = (attnc_dtype)dt;
    b->bytes = (numel(&b->t) + 1) * (size_t)dtype_size(dt);
    b->host = calloc(numel(&b->t) + 1, (size_t)dtype_size(dt));
    b->t.data = b->host;
    return b->host != NULL;
}

/* [batch, heads, tokens, dim] in BHSD or BSHD order. */
static void layout4(attnc_tensor *t, int64_t b, int64_t h, int64_t s, int64_t d, bool bshd)
{
    t->ndim = 4;
    t->shape[0] = b, t->shape[1] = h, t->shape[2] = s, t->shape[3] = d;
    t->stride[3] = 1;
    t->stride[bshd ? 1 : 2] = d;
    t->stride[bshd ? 2 : 1] = (bshd ? h : s) * d;
    t->stride[0] = s * h * d;
}

static void contiguous(attnc_tensor *t, const recipe_param *rp, const int64_t *sizes)
{
    t->ndim = rp->ndim;
    for (int d = rp->ndim - 1; d >= 0; d--) {
        t->shape[d] = rp->const_dims[d] > 0 ? rp->const_dims[d] : sizes[rp->dims[d]];
        t->stride[d] = d == rp->ndim - 1 ? 1 : t->stride[d + 1] * t->shape[d + 1];
    }
}

static bool is_float(dtype dt)
{
    return dt == DT_F32 || dt == DT_BF16 || dt == DT_F16;
}

/* Values suited to each param's role: decay rates, log gates, tables, ids. */
static void fill_param(ref_bwd_data *D, int i)
{
    const recipe *r = D->r;
    const recipe_param *rp = &r->params[i];
    tbuf *b = &D->params[i];
    size_t n = numel(&b->t);
    if (D->fill && is_float(rp->dtype)) {
        D->fill(D->fill_user, i, b->host, n, rp->dtype);
        return;
    }
    bool decay = r->family == FAMILY_LINEAR && r->linear.decay_param == i;
    if (decay && r->linear.decay == DECAY_PER_HEAD)
        ref_fill_uniform(rp->dtype, b->host, n, &D->rng, 0.7, 0.999);
    else if (decay)
        ref_fill_uniform(rp->dtype, b->host, n, &D->rng, -0.5, -0.01);
    else if (is_float(rp->dtype))
        ref_fill_uniform(rp->dtype, b->host, n, &D->rng, -1.0, 1.0);
    else
        for (size_t j = 0; j < n; j++) {
            int64_t v = (int64_t)(ref_rng_next(&D->rng) % (rp->dtype == DT_U8 ? 2 : 3));
            if (rp->dtype == DT_U8)
                ((uint8_t *)b->host)[j] = (uint8_t)v;
            else if (rp->dtype == DT_I32)
                ((int32_t *)b->host)[j] = (int32_t)v;
            else
                ((int64_t *)b->host)[j] = v;
        }
}

static bool make_data(ref_bwd_data *D, const ref_shape *sh, const ref_check_opts *o, char *msg, size_t cap)
{
    const recipe *r = D->r;
    const int64_t *z = D->sizes;
    int64_t dims[B_N] = {r->head_dim, r->head_dim, r->head_dim_v, r->head_dim_v, 0,
                         r->head_dim_v, r->head_dim, r->head_dim, r->head_dim_v};
    bool kv[B_N] = {false, true, true, false, false, false, false, true, true};
    for (int i = 0; i < B_N; i++) {
        if (i == B_LSE) {
            attnc_tensor *l = &D->t[i].t;
            l->ndim = 3;
            l->shape[0] = z[SZ_BATCH], l->shape[1] = z[SZ_HEADS], l->shape[2] = z[SZ_TOKENS];
            l->stride[2] = 1, l->stride[1] = z[SZ_TOKENS], l->stride[0] = z[SZ_HEADS] * z[SZ_TOKENS];
        } else {
            layout4(&D->t[i].t, z[SZ_BATCH], z[kv[i] ? SZ_KV_HEADS : SZ_HEADS], z[kv[i] ? SZ_KV_TOKENS : SZ_TOKENS],
                    dims[i], sh->bshd);
        }
        if (!alloc(&D->t[i], i == B_LSE ? DT_F32 : r->qkv_dtype))
            return false;
    }
    for (int i = B_Q; i <= B_V; i++)
        ref_fill_uniform(r->qkv_dtype, D->t[i].host, numel(&D->t[i].t), &D->rng, -2.0, 2.0);
    ref_fill_uniform(r->qkv_dtype, D->t[B_DO].host, numel(&D->t[B_DO].t), &D->rng, -1.0, 1.0);
    for (int i = B_O; i < B_N; i++)
        if (i != B_DO)
            ref_poison(i == B_LSE ? DT_F32 : r->qkv_dtype, D->t[i].host, numel(&D->t[i].t));
    int np = r->nparams;
    D->params = calloc((size_t)np + 1, sizeof *D->params);
    D->dparams = calloc((size_t)np + 1, sizeof *D->dparams);
    if (!D->params || !D->dparams)
        return false;
    for (int i = 0; i < np; i++) {
        contiguous(&D->params[i].t, &r->params[i], z);
        if (!alloc(&D->params[i], r->params[i].dtype))
            return false;
        fill_param(D, i);
        if (o->set_param && !o->set_param(o->set_param_user, i, &D->params[i].t, D->params[i].host, msg, cap))
            return false;
        if (!ref_param_has_grad(r, i))
            continue;
        D->dparams[i].t = D->params[i].t;
        if (!alloc(&D->dparams[i], r->params[i].dtype))
            return false;
        ref_poison(r->params[i].dtype, D->dparams[i].host, numel(&D->dparams[i].t));
    }
    return true;
}

/* ---- device memory (o->mem): every buffer mirrored, outputs read back ---- */

static bool up(const ref_mem_ops *m, tbuf *b)
{
    if (!b->host)
        return true;
    b->dev = m->alloc(m->user, b->bytes);
    if (!b->dev || !m->upload(m->user, b->dev, b->host, b->bytes))
        return false;
    b->t.data = b->dev;
    return true;
}

static bool to_device(ref_bwd_data *D)
{
    const ref_mem_ops *m = D->mem;
    bool ok = true;
    for (int i = 0; i < B_N; i++)
        ok = ok && up(m, &D->t[i]);
    for (int i = 0; i < D->r->nparams; i++)
        /* a 0-dim param is a host value on every backend; its gradient is device memory */
        ok = ok && (D->params[i].t.ndim == 0 || up(m, &D->params[i])) && up(m, &D->dparams[i]);
    return ok;
}

static bool down(const ref_mem_ops *m, tbuf *b, bool read)
{
    bool ok = !read || !b->dev || m->download(m->user, b->host, b->dev, b->bytes);
    if (b->dev)
        m->free(m->user, b->dev);
    b->dev = NULL;
    b->t.data = b->host;
    return ok;
}

/* Reads the outputs back (when `read`) and frees every device copy. */
static bool to_host(ref_bwd_data *D, bool read)
{
    const ref_mem_ops *m = D->mem;
    bool ok = !read || !m->sync || m->sync(m->user);
    for (int i = 0; i < B_N; i++)
        ok = down(m, &D->t[i], read && (i >= B_O && i != B_DO)) && ok;
    for (int i = 0; i < D->r->nparams; i++)
        ok = down(m, &D->params[i], false) && down(m, &D->dparams[i], read) && ok;
    return ok;
}

static attnc_status set_common(const ref_bwd_data *D, attnc_args *a)
{
    const recipe *r = D->r;
    attnc_status st = ATTNC_OK;
    for (int i = B_Q; i <= B_LSE && !st; i++)
        if (i != B_LSE || r->family == FAMILY_SOFTMAX)
            st = attnc_args_set_tensor(a, names[i], &D->t[i].t);
    for (int i = 0; i < r->nparams && !st; i++)
        st = attnc_args_set_tensor(a, r->params[i].name, &D->params[i].t);
    for (int d = 0; d < r->grid_ndim && !st; d++)
        st = attnc_args_set_size(a, r->sizes[SZ_GRID0 + d].name, D->sizes[SZ_GRID0 + d]);
    for (int s = SZ_EXTRA0; s < r->nsizes && s < SZ_MAX && !st; s++)
        if (r->sizes[s].name && r->sizes[s].fixed <= 0)
            st = attnc_args_set_size(a, r->sizes[s].name, D->sizes[s]);
    return st;
}

static attnc_status set_backward(const ref_bwd_data *D, attnc_args *a)
{
    attnc_status st = set_common(D, a);
    for (int i = B_DO; i <= B_DV && !st; i++)
        st = attnc_args_set_tensor(a, names[i], &D->t[i].t);
    for (int i = 0; i < D->r->nparams && !st; i++)
        if (D->dparams[i].host) {
            char nm[160];
            snprintf(nm, sizeof nm, "d%s", D->r->params[i].name);
            st = attnc_args_set_tensor(a, nm, &D->dparams[i].t);
        }
    return st;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static bool launch(const ref_bwd_data *D, attnc_kernel *k, bool backward, double *ms, ref_bwd_result *res)
{
    attnc_args *a = NULL;
    attnc_status st = attnc_args_create(&a, k);
    if (!st)
        st = backward ? set_backward(D, a) : set_common(D, a);
    double t0 = now_ms();
    if (!st)
        st = attnc_launch(k, a, NULL);
    *ms = now_ms() - t0;
    attnc_args_destroy(a);
    if (st) {
        res->status = st;
        snprintf(res->msg, sizeof res->msg, "%s launch failed: %s: %s", backward ? "backward" : "forward",
                 attnc_status_string(st), attnc_kernel_errmsg(k));
    }
    return !st;
}

static ref_view view(const tbuf *b)
{
    ref_view v = {(dtype)b->t.dtype, b->host, b->t.ndim, {0}, {0}};
    memcpy(v.shape, b->t.shape, sizeof v.shape);
    memcpy(v.stride, b->t.stride, sizeof v.stride);
    return v;
}

/* The reference problem of a run (params as views; at most 16). */
static ref_problem problem(const ref_bwd_data *D, ref_view *params)
{
    for (int i = 0; i < D->r->nparams && i < 16; i++)
        params[i] = view(&D->params[i]);
    ref_problem p = {D->r, {0}, view(&D->t[B_Q]), view(&D->t[B_K]), view(&D->t[B_V]), params};
    memcpy(p.sizes, D->sizes, sizeof p.sizes);
    return p;
}

static void summarise(ref_bwd_result *res)
{
    size_t len = 0;
    for (int i = 0; i < res->ngrads && len < sizeof res->msg; i++) {
        const ref_grad_result *g = &res->grads[i];
        len += (size_t)snprintf(res->msg + len, sizeof res->msg - len, "%s%s: rel L2 %.3g max abs %.3g%s%s",
                                i ? "; " : "", g->name, g->cmp.rel_l2, g->cmp.max_abs,
                                g->cmp.nan_count ? " NON-FINITE" : "", g->nonzero_at_zero ? " NONZERO-AT-ZERO" : "");
    }
}

/* Element (b, h, t, c) of a 4-d buffer as double. */
static double at4(const tbuf *x, int64_t b, int64_t h, int64_t t, int64_t c)
{
    const attnc_tensor *v = &x->t;
    int64_t off = b * v->stride[0] + h * v->stride[1] + t * v->stride[2] + c * v->stride[3];
    return ref_load_elem((dtype)v->dtype, x->host, off);
}

/* Whether row (b, h, t) of x is exactly 0 in every column. */
static bool zero_row(const tbuf *x, int64_t b, int64_t h, int64_t t)
{
    for (int64_t c = 0; c < x->t.shape[3]; c++)
        if (at4(x, b, h, t, c) != 0.0) /* NaN fails too */
            return false;
    return true;
}

static void coords(const ref_bwd_data *D, int64_t t, int64_t *c)
{
    int nd = D->r->grid_ndim;
    c[0] = c[1] = c[2] = 0;
    if (nd == 0)
        c[0] = t;
    for (int d = nd - 1; d >= 0; d--) {
        c[d] = t % D->sizes[SZ_GRID0 + d];
        t /= D->sizes[SZ_GRID0 + d];
    }
}

/* Does any query of the kv head's group keep key j (mask true, row not empty)? */
static bool key_seen(const ref_bwd_data *D, ref_point *pt, int64_t b, int64_t g, int64_t j)
{
    const recipe *r = D->r;
    const expr *mask = r->mask_surface ? r->mask_surface : r->mask;
    int64_t group = D->sizes[SZ_HEADS] / D->sizes[SZ_KV_HEADS];
    pt->batch = b, pt->kv_head = g, pt->k_t = j;
    coords(D, j, pt->k_c);
    const float *lse = D->t[B_LSE].host;
    for (pt->head = g * group; pt->head < (g + 1) * group; pt->head++)
        for (pt->q_t = 0; pt->q_t < D->sizes[SZ_TOKENS]; pt->q_t++) {
            if (isinf(lse[(b * D->sizes[SZ_HEADS] + pt->head) * D->sizes[SZ_TOKENS] + pt->q_t]))
                continue;
            coords(D, pt->q_t, pt->q_c);
            if (!mask || ref_eval_bool(pt, mask))
                return true;
        }
    return false;
}

/* Gradients that must be exactly 0 and are not: dq rows of queries with no
 * kept key (the forward's lse = -inf), dk and dv rows of keys no query
 * keeps. Softmax family only. */
static size_t structural_nonzeros(const ref_bwd_data *D)
{
    if (D->r->family != FAMILY_SOFTMAX)
        return 0;
    const int64_t *z = D->sizes;
    const float *lse = D->t[B_LSE].host;
    size_t bad = 0;
    for (int64_t b = 0; b < z[SZ_BATCH]; b++)
        for (int64_t h = 0; h < z[SZ_HEADS]; h++)
            for (int64_t t = 0; t < z[SZ_TOKENS]; t++)
                if (lse[(b * z[SZ_HEADS] + h) * z[SZ_TOKENS] + t] == -INFINITY && !zero_row(&D->t[B_DQ], b, h, t))
                    bad++;
    ref_view params[16];
    for (int i = 0; i < D->r->nparams && i < 16; i++)
        params[i] = view(&D->params[i]);
    ref_point pt = {0};
    pt.sizes = z;
    pt.params = params;
    pt.nparams = D->r->nparams;
    pt.grid_ndim = D->r->grid_ndim;
    for (int64_t b = 0; b < z[SZ_BATCH]; b++)
        for (int64_t g = 0; g < z[SZ_KV_HEADS]; g++)
            for (int64_t j = 0; j < z[SZ_KV_TOKENS]; j++)
                if (!key_seen(D, &pt, b, g, j))
                    bad += !zero_row(&D->t[B_DK], b, g, j) + !zero_row(&D->t[B_DV], b, g, j);
    return bad;
}

static bool compare(const ref_bwd_data *D, ref_bwd_result *res)
{
    ref_view params[16], dparams[16];
    if (D->r->nparams > 16) {
        snprintf(res->msg, sizeof res->msg, "the check handles at most 16 params");
        return false;
    }
    ref_problem p = problem(D, params);
    for (int i = 0; i < D->r->nparams; i++) {
        dparams[i] = view(&D->dparams[i]);
        if (!D->dparams[i].host)
            dparams[i].data = NULL;
    }
    ref_view dout = view(&D->t[B_DO]);
    ref_grad_outputs out = {view(&D->t[B_DQ]), view(&D->t[B_DK]), view(&D->t[B_DV]), dparams};
    const char *err = "reference failed";
    /* zeros by cancellation to rounding; the structural ones exactly, below */
    bool ok = ref_check_grads_slack(&p, &dout, &out, res->tol, 0.1 * res->tol, res->grads, &res->ngrads, &err);
    if (res->ngrads == 0) {
        snprintf(res->msg, sizeof res->msg, "reference failed: %s", err);
        return false;
    }
    summarise(res);
    size_t bad = structural_nonzeros(D), len = strlen(res->msg);
    snprintf(res->msg + len, sizeof res->msg - len, "; %zu rows of masked queries or unseen keys not exactly 0", bad);
    return ok && bad == 0;
}

void ref_bwd_data_free(ref_bwd_data *D)
{
    if (!D)
        return;
    for (int i = 0; i < B_N; i++)
        free(D->t[i].host);
    for (int i = 0; D->params && i < D->r->nparams; i++) {
        free(D->params[i].host);
        free(D->dparams[i].host);
    }
    free(D->params);
    free(D->dparams);
    free(D);
}

const void *ref_bwd_data_tensor(const ref_bwd_data *D, const char *name, size_t *bytes)
{
    for (int i = 0; i < B_N; i++)
        if (!strcmp(names[i], name)) {
            *bytes = D->t[i].bytes;
            return D->t[i].host;
        }
    for (int i = 0; name[0] == 'd' && i < D->r->nparams; i++)
        if (D->dparams[i].host && !strcmp(D->r->params[i].name, name + 1)) {
            *bytes = D->dparams[i].bytes;
            return D->dparams[i].host;
        }
    *bytes = 0;
    return NULL;
}

bool ref_bwd_data_same(const ref_bwd_data *a, const ref_bwd_data *b, char *which, size_t cap)
{
    static const char *const fixed[3] = {"dq", "dk", "dv"};
    char nm[96];
    for (int i = 0; i < 3 + a->r->nparams; i++) {
        snprintf(nm, sizeof nm, i < 3 ? "%s" : "d%s", i < 3 ? fixed[i] : a->r->params[i - 3].name);
        size_t na, nb;
        const void *x = ref_bwd_data_tensor(a, nm, &na), *y = ref_bwd_data_tensor(b, nm, &nb);
        if (i >= 3 && !x && !y)
            continue; /* a param without a gradient */
        if (!x || !y || na != nb || memcmp(x, y, na)) {
            if (which && cap)
                snprintf(which, cap, "%s", nm);
            return false;
        }
    }
    return true;
}

static bool check_backward(attnc_kernel *fwd, attnc_kernel *bwd, const recipe *r, const ref_shape *sh,
                           const ref_check_opts *o, ref_param_fill_fn fill, void *user, ref_bwd_result *res,
                           ref_bwd_data **keep);

bool ref_check_backward(attnc_kernel *fwd, attnc_kernel *bwd, const recipe *r, const ref_shape *sh,
                        const ref_check_opts *o, ref_bwd_result *res, ref_bwd_data **keep)
{
    return check_backward(fwd, bwd, r, sh, o, NULL, NULL, res, keep);
}

bool ref_check_backward_fill(attnc_kernel *fwd, attnc_kernel *bwd, const recipe *r, const ref_shape *sh,
                             const ref_check_opts *o, ref_param_fill_fn fill, void *user, ref_bwd_result *res)
{
    return check_backward(fwd, bwd, r, sh, o, fill, user, res, NULL);
}

static bool check_backward(attnc_kernel *fwd, attnc_kernel *bwd, const recipe *r, const ref_shape *sh,
                           const ref_check_opts *o, ref_param_fill_fn fill, void *user, ref_bwd_result *res,
                           ref_bwd_data **keep)
{
    memset(res, 0, sizeof *res);
    if (keep)
        *keep = NULL;
    res->tol = ref_grad_tolerance(r->qkv_dtype);
    ref_bwd_data *D = calloc(1, sizeof *D);
    if (!D) {
        snprintf(res->msg, sizeof res->msg, "out of memory");
        return false;
    }
    D->r = r;
    D->mem = o->mem;
    D->fill = fill;
    D->fill_user = user;
    ref_rng_seed(&D->rng, o->seed);
    ref_shape_sizes(r, sh, D->sizes);
    bool ok = make_data(D, sh, o, res->msg, sizeof res->msg);
    if (!ok && !res->msg[0])
        snprintf(res->msg, sizeof res->msg, "out of memory allocating tensors");
    else if (!ok)
        res->status = ATTNC_ERR_INVALID_ARGUMENT; /* a --param value refused */
    bool dev = ok && D->mem;
    if (dev && !to_device(D)) {
        snprintf(res->msg, sizeof res->msg, "device memory: allocation or upload failed");
        ok = false;
    }
    ok = ok && launch(D, fwd, false, &res->fwd_ms, res) && launch(D, bwd, true, &res->bwd_ms, res);
    if (dev && !to_host(D, ok) && ok) {
        snprintf(res->msg, sizeof res->msg, "device memory: synchronize or download failed");
        ok = false;
    }
    res->launched = ok;
    if (ok && o->check)
        ok = compare(D, res);
    else if (ok)
        snprintf(res->msg, sizeof res->msg, "ran (not checked)");
    res->ok = ok;
    if (keep)
        *keep = D;
    else
        ref_bwd_data_free(D);
    return ok;
}

/* ---- finite differences of the param gradients ---- */

/* L = Σ dO ∘ O with the reference forward. */
static bool loss(const ref_bwd_data *D, double *out)
{
    ref_view params[16];
    ref_problem p = problem(D, params);
    const attnc_tensor *o = &D->t[B_O].t;
    size_t n = numel(o);
    double *ref_o = malloc(sizeof(double) * (n + 1));
    const char *err;
    bool ok = ref_o && ref_run(&p, ref_o, NULL, &err);
    double l = 0;
    const attnc_tensor *dt = &D->t[B_DO].t;
    size_t i = 0;
    for (int64_t b = 0; ok && b < o->shape[0]; b++)
        for (int64_t h = 0; h < o->shape[1]; h++)
            for (int64_t s = 0; s < o->shape[2]; s++)
                for (int64_t d = 0; d < o->shape[3]; d++, i++) {
                    int64_t off = b * dt->stride[0] + h * dt->stride[1] + s * dt->stride[2] + d * dt->stride[3];
                    l += ref_o[i] * ref_load_elem((dtype)dt->dtype, D->t[B_DO].host, off);
                }
    free(ref_o);
    *out = l;
    return ok;
}

static bool fd_param(const ref_bwd_data *D, int p, double tol, char *msg, size_t cap)
{
    float *x = D->params[p].host;
    const float *g = D->dparams[p].host;
    size_t n = numel(&D->params[p].t);
    double num = 0, den = 0;
    for (size_t e = 0; e < n; e++) {
        float x0 = x[e];
        double h = 1e-3 * (fabs(x0) > 1 ? fabs(x0) : 1), lp, lm;
        x[e] = (float)(x0 + h);
        double hp = (double)x[e] - x0;
        bool ok = loss(D, &lp);
        x[e] = (float)(x0 - h);
        double hm = x0 - (double)x[e];
        ok = ok && loss(D, &lm);
        x[e] = x0;
        if (!ok) {
            snprintf(msg, cap, "reference forward failed");
            return false;
        }
        double fd = (lp - lm) / (hp + hm);
        num += (g[e] - fd) * (g[e] - fd);
        den += fd * fd;
        if (!isfinite(g[e])) {
            snprintf(msg, cap, "d%s[%zu] = %g is not finite", D->r->params[p].name, e, (double)g[e]);
            return false;
        }
    }
    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    snprintf(msg, cap, "d%s vs central differences: rel L2 %.3g over %zu elements (tolerance %.0e)",
             D->r->params[p].name, rel, n, tol);
    return rel <= tol;
}

bool ref_check_param_fd(const ref_bwd_data *D, double tol, char *msg, size_t cap)
{
    snprintf(msg, cap, "no f32 param gradient to check");
    bool ok = true;
    for (int p = 0; p < D->r->nparams && ok; p++)
        if (D->dparams[p].host && D->r->params[p].dtype == DT_F32)
            ok = fd_param(D, p, tol, msg, cap);
    return ok;
}
