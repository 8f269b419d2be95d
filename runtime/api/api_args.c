/* api_args.c — attnc_args: named tensors and sizes for one launch. Only
 * descriptors are copied; the data stays the caller's. Full validation
 * happens at launch (api_validate.c). */
#include <string.h>

#include "runtime/api/api_internal.h"

static const char *const fixed_names[ARG_NFIXED] = {"q", "k", "v", "o", "lse"};

attnc_status attnc_args_create(attnc_args **out, const attnc_kernel *kc)
{
    if (out)
        *out = NULL;
    if (!kc)
        return ATTNC_ERR_INVALID_ARGUMENT;
    attnc_kernel *k = (attnc_kernel *)kc; /* errors are recorded on the kernel */
    if (!out)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "attnc_args_create: out is NULL");
    attnc_context *ctx = k->ctx;
    int n = kernel_arg_tensors(k);
    attnc_args *a = ctx_calloc(ctx, sizeof *a);
    if (a) {
        a->k = k;
        a->ntensors = n;
        a->tensors = ctx_calloc(ctx, sizeof *a->tensors * (size_t)n);
        a->tensor_set = ctx_calloc(ctx, sizeof *a->tensor_set * (size_t)n);
        a->scalar_f32 = ctx_calloc(ctx, sizeof *a->scalar_f32 * (size_t)(k->r->nparams + 1));
    }
    if (!a || !a->tensors || !a->tensor_set || !a->scalar_f32) {
        attnc_args_destroy(a);
        return kernel_error(k, ATTNC_ERR_NOMEM, "out of memory creating launch arguments");
    }
    *out = a;
    return ATTNC_OK;
}

void attnc_args_destroy(attnc_args *a)
{
    if (!a)
        return;
    attnc_context *ctx = a->k->ctx;
    ctx_free(ctx, a->tensors);
    ctx_free(ctx, a->tensor_set);
    ctx_free(ctx, a->scalar_f32);
    ctx_free(ctx, a);
}

/* Index of a tensor name, or -1. */
static int tensor_index(const attnc_args *a, const char *name)
{
    for (int i = 0; i < ARG_NFIXED; i++)
        if (!strcmp(name, fixed_names[i]))
            return i;
    const recipe *r = a->k->r;
    for (int i = 0; i < r->nparams; i++)
        if (r->params[i].name && !strcmp(name, r->params[i].name))
            return ARG_NFIXED + i;
    return a->k->bwd ? bwd_tensor_index(a->k, name) : -1;
}

attnc_status attnc_args_set_tensor(attnc_args *a, const char *name, const attnc_tensor *t)
{
    if (!a)
        return ATTNC_ERR_INVALID_ARGUMENT;
    if (!name || !t)
        return kernel_error(a->k, ATTNC_ERR_INVALID_ARGUMENT, "attnc_args_set_tensor: %s is NULL", !name ? "name" : "tensor");
    int i = tensor_index(a, name);
    int cu = i < 0 ? varlen_arg_index(name) : -1; /* a recipe param of that name comes first */
    if (cu >= 0 && (t->ndim < 0 || t->ndim > 4))
        return kernel_error(a->k, ATTNC_ERR_INVALID_ARGUMENT, "tensor '%s': ndim %d is not 0..4", name, t->ndim);
    if (cu >= 0) { /* checked at launch (api_varlen.c) */
        a->cu_seqlens[cu] = *t;
        a->cu_seqlens_set[cu] = true;
        return ATTNC_OK;
    }
    if (i < 0)
        return kernel_error(a->k, ATTNC_ERR_INVALID_ARGUMENT,
                            "attnc_args_set_tensor: recipe '%s' has no tensor '%s' (q, k, v, o, lse, its params, "
                            "cu_seqlens_q and cu_seqlens_k%s)",
                            a->k->r->name, name, a->k->bwd ? "; backward: do, dq, dk, dv and d<param>" : "");
    if (t->ndim < 0 || t->ndim > 4)
        return kernel_error(a->k, ATTNC_ERR_INVALID_ARGUMENT, "tensor '%s': ndim %d is not 0..4", name, t->ndim);
    a->tensors[i] = *t;
    a->tensor_set[i] = true;
    return ATTNC_OK;
}

attnc_status attnc_args_set_data(attnc_args *a, int n, const char *const *names, void *const *data)
{
    if (!a)
        return ATTNC_ERR_INVALID_ARGUMENT;
    if (n < 0 || (n > 0 && (!names || !data)))
        return kernel_error(a->k, ATTNC_ERR_INVALID_ARGUMENT, "attnc_args_set_data: n < 0 or names/data NULL");
    /* Every name first: a bad one changes nothing. */
    for (int j = 0; j < n; j++) {
        int i = names[j] ? tensor_index(a, names[j]) : -1;
        int cu = names[j] && i < 0 ? varlen_arg_index(names[j]) : -1;
        if (cu >= 0 && a->cu_seqlens_set[cu])
            continue;
        if (i < 0 || !a->tensor_set[i] || a->tensors[i].ndim == 0)
            return kernel_error(a->k, ATTNC_ERR_INVALID_ARGUMENT,
                                "attnc_args_set_data: '%s' is not a tensor set earlier with attnc_args_set_tensor",
                                names[j] ? names[j] : "(null)");
    }
    for (int j = 0; j < n; j++) {
        int i = tensor_index(a, names[j]);
        if (i >= 0)
            a->tensors[i].data = data[j];
        else
            a->cu_seqlens[varlen_arg_index(names[j])].data = data[j];
    }
    return ATTNC_OK;
}

/* A size settable by name: grid dims and extra names. -1 otherwise. */
static int size_index(const recipe *r, const char *name)
{
    for (int d = 0; d < r->grid_ndim; d++)
        if (r->sizes[SZ_GRID0 + d].name && !strcmp(name, r->sizes[SZ_GRID0 + d].name))
            return SZ_GRID0 + d;
    for (int s = SZ_EXTRA0; s < r->nsizes && s < SZ_MAX; s++)
        if (r->sizes[s].name && !strcmp(name, r->sizes[s].name))
            return s;
    return -1;
}

attnc_status attnc_args_set_size(attnc_args *a, const char *name, int64_t value)
{
    if (!a)
        return ATTNC_ERR_INVALID_ARGUMENT;
    if (!name)
        return kernel_error(a->k, ATTNC_ERR_INVALID_ARGUMENT, "attnc_args_set_size: name is NULL");
    int s = size_index(a->k->r, name);
    if (s < 0)
        return kernel_error(a->k, ATTNC_ERR_INVALID_ARGUMENT,
                            "attnc_args_set_size: '%s' is not a grid dimension or extra size of recipe '%s' "
                            "(batch, heads, tokens and kv_heads come from the tensor shapes)",
                            name, a->k->r->name);
    if (value < 0 || value > size_limit((size_id)s))
        return kernel_error(a->k, ATTNC_ERR_INVALID_ARGUMENT, "size '%s' = %lld is not in 0..%lld%s", name,
                            (long long)value, (long long)size_limit((size_id)s),
                            s < SZ_EXTRA0 ? " (ATTNC_MAX_TOKENS)" : " (ATTNC_MAX_SIZE)");
    a->sizes[s] = value;
    a->size_set[s] = true;
    return ATTNC_OK;
}

attnc_status attnc_args_set_scalar(attnc_args *a, const char *name, double value)
{
    if (!a)
        return ATTNC_ERR_INVALID_ARGUMENT;
    if (!name)
        return kernel_error(a->k, ATTNC_ERR_INVALID_ARGUMENT, "attnc_args_set_scalar: name is NULL");
    int i = tensor_index(a, name);
    const recipe *r = a->k->r;
    if (i < ARG_NFIXED || i >= ARG_NFIXED + r->nparams || r->params[i - ARG_NFIXED].ndim != 0 || r->params[i - ARG_NFIXED].dtype != DT_F32)
        return kernel_error(a->k, ATTNC_ERR_INVALID_ARGUMENT,
                            "attnc_args_set_scalar: '%s' is not a scalar f32 param of recipe '%s'", name, r->name);
    float *slot = &a->scalar_f32[i - ARG_NFIXED];
    *slot = (float)value;
    attnc_tensor t = {ATTNC_F32, slot, 0, {0}, {0}};
    a->tensors[i] = t;
    a->tensor_set[i] = true;
    return ATTNC_OK;
}
