/* api_introspect.c — a kernel's argument list for bindings: which tensors it
 * reads and writes (names, dtypes, dimensions by size name), which sizes it
 * takes by name. Computed from the typed recipe on each call, so the answer
 * can never drift from what attnc_args_set_* and launch validation accept
 * (api_args.c, api_validate.c). */
#include <string.h>

#include "runtime/api/api_internal.h"
#include "runtime/api/api_introspect.h"

static bool is_float(dtype d)
{
    return d == DT_F32 || d == DT_F16 || d == DT_BF16;
}

static bool expr_reads_param(const expr *e, int p)
{
    if (!e)
        return false;
    if (e->kind == EX_PARAM && e->u.param == p)
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (expr_reads_param(e->args[i], p))
            return true;
    return false;
}

bool arg_param_has_grad(const recipe *r, int p)
{
    if (p < 0 || p >= r->nparams || !is_float(r->params[p].dtype) || r->params[p].no_grad)
        return false;
    if (r->family == FAMILY_LINEAR)
        return r->linear.decay_param == p;
    return expr_reads_param(r->score, p);
}

const char **arg_grad_names(arena *a, const recipe *r)
{
    const char **names = arena_alloc(a, sizeof *names * (size_t)(r->nparams + 1));
    if (!names)
        return NULL;
    for (int p = 0; p <= r->nparams; p++) {
        names[p] = p < r->nparams && arg_param_has_grad(r, p) ? arena_printf(a, "d%s", r->params[p].name) : NULL;
        if (p < r->nparams && arg_param_has_grad(r, p) && !names[p])
            return NULL;
    }
    return names;
}

/* The enumeration: emit() is called for every entry in order; the walker
 * keeps the one asked for. */
typedef struct walker {
    const recipe *r;
    const char *const *grads; /* NULL: forward list */
    int want, n;
    attnc_arg_info *out;
} walker;

static void emit(walker *w, const attnc_arg_info *info)
{
    if (w->n == w->want && w->out)
        *w->out = *info;
    w->n++;
}

static attnc_arg_info blank(const char *name, attnc_arg_role role)
{
    attnc_arg_info i;
    memset(&i, 0, sizeof i);
    i.name = name;
    i.role = role;
    i.grid_dim = -1;
    return i;
}

/* dims[d] names size `id`; its extent is the recipe's fixed value, if any. */
static void dim_size(const recipe *r, attnc_arg_info *i, int d, size_id id)
{
    i->dims[d] = r->sizes[id].name;
    i->extent[d] = r->sizes[id].fixed;
}

/* q-, k-, v- or o-shaped tensor. kv: k/v's heads and tokens; width: the
 * last extent (head_dim or head_dim_v). */
static void emit_qkvo(walker *w, const char *name, attnc_arg_role role, bool kv, bool vwidth, dtype dt)
{
    const recipe *r = w->r;
    attnc_arg_info i = blank(name, role);
    i.dtype = (attnc_dtype)dt;
    i.ndim = 4;
    dim_size(r, &i, 0, SZ_BATCH);
    dim_size(r, &i, 1, kv && r->gqa ? SZ_KV_HEADS : SZ_HEADS);
    dim_size(r, &i, 2, kv && r->cross ? SZ_KV_TOKENS : SZ_TOKENS);
    i.dims[3] = vwidth ? "head_dim_v" : "head_dim";
    i.extent[3] = vwidth ? r->head_dim_v : r->head_dim;
    emit(w, &i);
}

static void emit_lse(walker *w, attnc_arg_role role, bool optional)
{
    attnc_arg_info i = blank("lse", role);
    i.dtype = ATTNC_F32;
    i.ndim = 3;
    dim_size(w->r, &i, 0, SZ_BATCH);
    dim_size(w->r, &i, 1, SZ_HEADS);
    dim_size(w->r, &i, 2, SZ_TOKENS);
    i.optional = optional;
    emit(w, &i);
}

static void emit_param(walker *w, int p, const char *name, attnc_arg_role role)
{
    const recipe *r = w->r;
    const recipe_param *rp = &r->params[p];
    attnc_arg_info i = blank(name, role);
    i.dtype = (attnc_dtype)rp->dtype;
    i.ndim = rp->ndim;
    for (int d = 0; d < rp->ndim && d < 4; d++) {
        if (rp->const_dims[d] > 0)
            i.extent[d] = rp->const_dims[d];
        else
            dim_size(r, &i, d, rp->dims[d]);
    }
    i.by_value = role == ATTNC_ARG_INPUT && rp->ndim == 0 && rp->dtype == DT_F32;
    emit(w, &i);
}

/* Grid extents, then the extra names of param shapes. */
static void emit_sizes(walker *w)
{
    const recipe *r = w->r;
    for (int s = SZ_GRID0; s < SZ_MAX; s++) {
        bool grid = s < SZ_GRID0 + r->grid_ndim;
        if (!grid && (s < SZ_EXTRA0 || s >= r->nsizes))
            continue;
        attnc_arg_info i = blank(r->sizes[s].name, ATTNC_ARG_SIZE);
        i.dtype = ATTNC_I64;
        i.value = r->sizes[s].fixed;
        i.grid_dim = grid ? s - SZ_GRID0 : -1;
        emit(w, &i);
    }
}

static void walk(walker *w)
{
    const recipe *r = w->r;
    const char *const *g = w->grads;
    bool softmax = r->family == FAMILY_SOFTMAX;
    dtype dt = r->qkv_dtype;
    emit_qkvo(w, "q", ATTNC_ARG_INPUT, false, false, dt);
    emit_qkvo(w, "k", ATTNC_ARG_INPUT, true, false, dt);
    emit_qkvo(w, "v", ATTNC_ARG_INPUT, true, true, dt);
    if (!g) {
        emit_qkvo(w, "o", ATTNC_ARG_OUTPUT, false, true, dt);
        if (softmax)
            emit_lse(w, ATTNC_ARG_OUTPUT, true);
    } else {
        emit_qkvo(w, "o", ATTNC_ARG_INPUT, false, true, dt);
        if (softmax)
            emit_lse(w, ATTNC_ARG_INPUT, false);
        emit_qkvo(w, "do", ATTNC_ARG_INPUT, false, true, dt);
    }
    for (int p = 0; p < r->nparams; p++)
        emit_param(w, p, r->params[p].name, ATTNC_ARG_INPUT);
    if (g) {
        emit_qkvo(w, "dq", ATTNC_ARG_OUTPUT, false, false, dt);
        emit_qkvo(w, "dk", ATTNC_ARG_OUTPUT, true, false, dt);
        emit_qkvo(w, "dv", ATTNC_ARG_OUTPUT, true, true, dt);
        for (int p = 0; p < r->nparams; p++)
            if (g[p])
                emit_param(w, p, g[p], ATTNC_ARG_OUTPUT);
    }
    emit_sizes(w);
}

int arg_table_count(const recipe *r, const char *const *grad_names)
{
    walker w = {r, grad_names, -1, 0, NULL};
    walk(&w);
    return w.n;
}

bool arg_table_entry(const recipe *r, const char *const *grad_names, int i, attnc_arg_info *out)
{
    if (i < 0 || !out)
        return false;
    walker w = {r, grad_names, i, 0, out};
    walk(&w);
    return i < w.n;
}

/* ---- public API ---- */

/* A backward kernel's gradient names (issue 14, runtime/api/api_backward.c:
 * "d<param>" per param with a gradient, NULL for the others; NULL for a
 * forward kernel). A weak reference: a library built without backward
 * kernels has none, and every kernel answers with the forward list. */
const char *const *kernel_bwd_grad_names(const attnc_kernel *k);
#pragma weak kernel_bwd_grad_names

static const char *const *kernel_grad_names(const attnc_kernel *k)
{
    return kernel_bwd_grad_names ? kernel_bwd_grad_names(k) : NULL;
}

int attnc_kernel_arg_count(const attnc_kernel *k)
{
    return k && k->r ? arg_table_count(k->r, kernel_grad_names(k)) : 0;
}

attnc_status attnc_kernel_arg_info(const attnc_kernel *k, int index, attnc_arg_info *out)
{
    if (!k || !k->r)
        return ATTNC_ERR_INVALID_ARGUMENT;
    attnc_kernel *km = (attnc_kernel *)k; /* errors are recorded on the kernel */
    if (!out)
        return kernel_error(km, ATTNC_ERR_INVALID_ARGUMENT, "attnc_kernel_arg_info: out is NULL");
    if (!arg_table_entry(k->r, kernel_grad_names(k), index, out))
        return kernel_error(km, ATTNC_ERR_INVALID_ARGUMENT, "attnc_kernel_arg_info: index %d is not in 0..%d", index,
                            attnc_kernel_arg_count(k) - 1);
    return ATTNC_OK;
}

int attnc_recipe_arg_count(const attnc_recipe *r)
{
    return r && r->r ? arg_table_count(r->r, NULL) : 0;
}

attnc_status attnc_recipe_arg_info(const attnc_recipe *r, int index, attnc_arg_info *out)
{
    if (!r || !r->r)
        return ATTNC_ERR_INVALID_ARGUMENT;
    if (!out)
        return ctx_error(r->ctx, ATTNC_ERR_INVALID_ARGUMENT, "attnc_recipe_arg_info: out is NULL");
    if (!arg_table_entry(r->r, NULL, index, out))
        return ctx_error(r->ctx, ATTNC_ERR_INVALID_ARGUMENT, "attnc_recipe_arg_info: index %d is not in 0..%d", index,
                         attnc_recipe_arg_count(r) - 1);
    return ATTNC_OK;
}
