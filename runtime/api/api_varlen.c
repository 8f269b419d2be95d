/* api_varlen.c — varlen launches (attnc.h, "Variable-length (packed)
 * batches"): B sequences packed along the token axis, given by
 * cu_seqlens_q / cu_seqlens_k (int32 [B+1], host memory).
 *
 * Each sequence is an ordinary launch on slices of the packed tensors: its
 * tokens at local coordinates 0..L-1 with tokens = L, so every mask, score
 * and param index is the sequence's own and no tile of another sequence
 * is ever visited, on every backend, with no change to the kernels. The
 * whole launch is validated first (the arrays, the packed tensors, then
 * each sequence's slice launch), so a bad sequence runs nothing. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "support/checked.h"
#include "runtime/api/api_backend.h"
#include "runtime/api/api_backward.h"
#include "runtime/api/api_internal.h"

static const char *const cu_names[2] = {"cu_seqlens_q", "cu_seqlens_k"};

int varlen_arg_index(const char *name)
{
    for (int i = 0; i < 2; i++)
        if (name && !strcmp(name, cu_names[i]))
            return i;
    return -1;
}

/* Which token axis (0: q's, 1: k's) a tensor of the args is packed along,
 * or -1 for a param or param gradient (sliced by its dims' names). */
static int packed_side(const attnc_kernel *k, int i)
{
    int np = k->r->nparams, bwd = ARG_NFIXED + np;
    if (i == ARG_Q || i == ARG_O || i == ARG_LSE || i == bwd + BWD_DO || i == bwd + BWD_DQ)
        return 0;
    if (i == ARG_K || i == ARG_V || i == bwd + BWD_DK || i == bwd + BWD_DV)
        return 1;
    return -1;
}

/* The recipe param a tensor index describes (a param or its gradient), or NULL. */
static const recipe_param *param_of(const attnc_kernel *k, int i)
{
    int np = k->r->nparams, g = ARG_NFIXED + np + BWD_NFIXED;
    if (i >= ARG_NFIXED && i < ARG_NFIXED + np)
        return &k->r->params[i - ARG_NFIXED];
    if (k->bwd && i >= g && i < g + np)
        return &k->r->params[i - g];
    return NULL;
}

static const char *arg_name(const attnc_kernel *k, int i)
{
    static const char *const fixed[ARG_NFIXED] = {"q", "k", "v", "o", "lse"};
    static const char *const bfixed[BWD_NFIXED] = {"do", "dq", "dk", "dv"};
    int np = k->r->nparams, bwd = ARG_NFIXED + np;
    if (i < ARG_NFIXED)
        return fixed[i];
    if (i < bwd)
        return k->r->params[i - ARG_NFIXED].name;
    if (i < bwd + BWD_NFIXED)
        return bfixed[i - bwd];
    const char *const *g = kernel_bwd_grad_names(k);
    return g && g[i - bwd - BWD_NFIXED] ? g[i - bwd - BWD_NFIXED] : "d<param>";
}

/* What a param dim slices by: 0 tokens (q side), 1 kv_tokens (k side), 2
 * batch (one row per sequence), -1 shared. */
static int dim_slice(const recipe_param *rp, int d)
{
    if (rp->const_dims[d] > 0)
        return -1;
    return rp->dims[d] == SZ_TOKENS ? 0 : rp->dims[d] == SZ_KV_TOKENS ? 1 : rp->dims[d] == SZ_BATCH ? 2 : -1;
}

typedef struct varlen {
    const attnc_tensor *cu[2]; /* q's and k's arrays (k's may be q's) */
    int64_t nseq;
    int64_t total[3]; /* q tokens, k tokens, sequences: the extent each slice kind needs */
} varlen;

static int64_t cu_at(const attnc_tensor *t, int64_t i)
{
    return ((const int32_t *)t->data)[i * t->stride[0]];
}

static attnc_status check_array(attnc_kernel *k, const attnc_tensor *t, const char *nm)
{
    if (t->dtype != ATTNC_I32 || t->ndim != 1)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "tensor '%s': must be int32 with ndim 1 ([batch + 1])", nm);
    if (t->shape[0] < 2 || t->shape[0] - 1 > ATTNC_MAX_BATCH)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                            "tensor '%s': shape[0] = %lld; a varlen launch has 1 to %lld sequences (shape[0] = "
                            "sequences + 1)",
                            nm, (long long)t->shape[0], (long long)ATTNC_MAX_BATCH);
    if (!t->data || (uintptr_t)t->data % 4)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "tensor '%s': data is NULL or not 4-byte aligned", nm);
    if (t->stride[0] < 1 || t->stride[0] > ((int64_t)1 << 40))
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "tensor '%s': stride[0] = %lld is not in 1..2^40", nm,
                            (long long)t->stride[0]);
    return ATTNC_OK;
}

/* 0 first, never decreasing, last = the packed token count. */
static attnc_status check_offsets(attnc_kernel *k, const attnc_tensor *t, const char *nm, int64_t total, const char *of)
{
    if (cu_at(t, 0) != 0)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "tensor '%s': element 0 is %lld; it must be 0", nm,
                            (long long)cu_at(t, 0));
    for (int64_t b = 1; b < t->shape[0]; b++)
        if (cu_at(t, b) < cu_at(t, b - 1))
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                "tensor '%s': element %lld = %lld is less than element %lld = %lld (offsets never "
                                "decrease)",
                                nm, (long long)b, (long long)cu_at(t, b), (long long)(b - 1), (long long)cu_at(t, b - 1));
    int64_t last = cu_at(t, t->shape[0] - 1);
    if (last != total)
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                            "tensor '%s': the last element is %lld but %s has %lld tokens (shape[2]); it must equal them",
                            nm, (long long)last, of, (long long)total);
    return ATTNC_OK;
}


/* A packed tensor's strides are non-negative and its last element lies
 * within 2^62 bytes of its first, so every slice's offset fits in 64 bits
 * (each slice is validated again as a launch of its own). */
static attnc_status check_span(attnc_kernel *k, const attnc_tensor *t, const char *nm)
{
    int64_t span = 0, bytes;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] <= 1)
            continue;
        if (t->shape[d] < 0 || t->stride[d] < 0 || !ck_muladd(t->shape[d] - 1, t->stride[d], span, &span))
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                "tensor '%s': shape[%d] = %lld, stride[%d] = %lld: negative, or offsets overflow", nm,
                                d, (long long)t->shape[d], d, (long long)t->stride[d]);
    }
    if (!ck_muladd(span, tensor_elem_size(t->dtype), tensor_elem_size(t->dtype), &bytes) || bytes > ((int64_t)1 << 62))
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "tensor '%s' spans more than 2^62 bytes", nm);
    return ATTNC_OK;
}

/* Everything about the packed launch that slices rely on. */
static attnc_status check_packed(attnc_kernel *k, const attnc_args *a, varlen *vl)
{
    const recipe *r = k->r;
    if (r->grid_ndim > 0)
        return kernel_error(k, ATTNC_ERR_UNSUPPORTED,
                            "recipe '%s' has a token grid; varlen launches (cu_seqlens) take token sequences only",
                            r->name);
    if (r->global_coords)
        return kernel_error(k, ATTNC_ERR_UNSUPPORTED,
                            "a kernel built with ATTNC_BUILD_GLOBAL_COORDS has no varlen launch (cu_seqlens)");
    if (!a->cu_seqlens_set[0])
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                            "cu_seqlens_k is set but cu_seqlens_q is not (a varlen launch needs cu_seqlens_q)");
    vl->cu[0] = &a->cu_seqlens[0];
    vl->cu[1] = a->cu_seqlens_set[1] ? &a->cu_seqlens[1] : vl->cu[0];
    attnc_status st;
    for (int s = 0; s < 2; s++)
        if ((st = check_array(k, vl->cu[s], cu_names[s == 1 && a->cu_seqlens_set[1]])))
            return st;
    if (vl->cu[1]->shape[0] != vl->cu[0]->shape[0])
        return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                            "cu_seqlens_q has shape [%lld] but cu_seqlens_k [%lld]; both are [sequences + 1]",
                            (long long)vl->cu[0]->shape[0], (long long)vl->cu[1]->shape[0]);
    vl->nseq = vl->cu[0]->shape[0] - 1;
    for (int i = ARG_Q; i <= ARG_K; i++)
        if (!a->tensor_set[i] || a->tensors[i].ndim != 4)
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT, "tensor '%s' is %s", i == ARG_Q ? "q" : "k",
                                a->tensor_set[i] ? "not 4-D" : "not set (attnc_args_set_tensor)");
    /* every packed tensor has batch 1 */
    for (int i = 0; i < a->ntensors; i++)
        if (a->tensor_set[i] && packed_side(k, i) >= 0 && a->tensors[i].ndim >= 1 && a->tensors[i].shape[0] != 1)
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                "tensor '%s': shape[0] = %lld; in a varlen launch (cu_seqlens) tensors are packed "
                                "along the tokens with batch 1",
                                arg_name(k, i), (long long)a->tensors[i].shape[0]);
    for (int i = 0; i < a->ntensors; i++)
        if (a->tensor_set[i] && (st = check_span(k, &a->tensors[i], arg_name(k, i))))
            return st;
    vl->total[0] = a->tensors[ARG_Q].shape[2];
    vl->total[1] = a->tensors[ARG_K].shape[2];
    vl->total[2] = vl->nseq;
    for (int i = 0; i < a->ntensors; i++) { /* each slice must lie inside its tensor */
        int side = packed_side(k, i);
        if (a->tensor_set[i] && side >= 0 && a->tensors[i].ndim >= 3 && a->tensors[i].shape[2] != vl->total[side])
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                "tensor '%s': shape[2] = %lld but %s has %lld tokens; packed tensors share them",
                                arg_name(k, i), (long long)a->tensors[i].shape[2], side ? "k" : "q",
                                (long long)vl->total[side]);
    }
    if ((st = check_offsets(k, vl->cu[0], "cu_seqlens_q", vl->total[0], "q")) ||
        (st = check_offsets(k, vl->cu[1], a->cu_seqlens_set[1] ? "cu_seqlens_k" : "cu_seqlens_q (for k)", vl->total[1],
                            "k")))
        return st;
    if (!r->cross)
        for (int64_t b = 0; b < vl->nseq; b++) {
            int64_t lq = cu_at(vl->cu[0], b + 1) - cu_at(vl->cu[0], b);
            int64_t lk = cu_at(vl->cu[1], b + 1) - cu_at(vl->cu[1], b);
            if (lq != lk)
                return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                    "sequence %lld has %lld query tokens but %lld key tokens, and recipe '%s' is not "
                                    "cross-attention (declare k and v with kv_tokens)",
                                    (long long)b, (long long)lq, (long long)lk, r->name);
        }
    for (int64_t b = 0; k->bwd && b < vl->nseq; b++) /* an empty launch writes nothing: dk, dv would stay unset */
        if (cu_at(vl->cu[0], b + 1) == cu_at(vl->cu[0], b) && cu_at(vl->cu[1], b + 1) > cu_at(vl->cu[1], b))
            return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                "sequence %lld has keys but no query; a varlen backward launch needs a query in every "
                                "sequence with keys (its dk and dv would not be written)",
                                (long long)b);
    /* params: sliced dims must span the whole packed extent; gradients of shared params would need a sum */
    const char *const *grads = kernel_bwd_grad_names(k);
    for (int i = 0; i < a->ntensors; i++) {
        const recipe_param *rp = param_of(k, i);
        if (!rp || !a->tensor_set[i])
            continue;
        bool sliced = false;
        for (int d = 0; d < rp->ndim && d < a->tensors[i].ndim; d++) {
            int s = dim_slice(rp, d);
            if (s < 0)
                continue;
            sliced = true;
            static const char *const what[3] = {"total query tokens", "total key tokens", "sequences"};
            if (a->tensors[i].shape[d] != vl->total[s])
                return kernel_error(k, ATTNC_ERR_INVALID_ARGUMENT,
                                    "tensor '%s': shape[%d] = %lld but a varlen launch has %lld %s (cu_seqlens)",
                                    arg_name(k, i), d, (long long)a->tensors[i].shape[d], (long long)vl->total[s],
                                    what[s]);
        }
        if (!sliced && grads && i < ARG_NFIXED + r->nparams && grads[rp - r->params])
            return kernel_error(k, ATTNC_ERR_UNSUPPORTED,
                                "the gradient '%s' of param '%s' would sum over the sequences of a varlen launch, "
                                "which the backward does not do yet (launch the sequences one by one)",
                                grads[rp - r->params], rp->name);
    }
    return ATTNC_OK;
}

/* t sliced along dim d to [start, start + len). Pointer arithmetic on the
 * integer value: on CUDA data is a device address. */
static void slice(attnc_tensor *t, int d, int64_t start, int64_t len)
{
    t->data = (void *)((uintptr_t)t->data + (uintptr_t)start * (uintptr_t)t->stride[d] * (uintptr_t)tensor_elem_size(t->dtype));
    t->shape[d] = len;
}

/* sub = a restricted to sequence b (tensors in `buf`, a's count). */
static void make_sub(const attnc_kernel *k, const attnc_args *a, const varlen *vl, int64_t b, attnc_tensor *buf,
                     attnc_args *sub)
{
    *sub = *a;
    sub->tensors = buf;
    sub->cu_seqlens_set[0] = sub->cu_seqlens_set[1] = false;
    int64_t start[3], len[3];
    for (int s = 0; s < 2; s++) {
        start[s] = cu_at(vl->cu[s], b);
        len[s] = cu_at(vl->cu[s], b + 1) - start[s];
    }
    start[2] = b;
    len[2] = 1;
    for (int i = 0; i < a->ntensors; i++) {
        buf[i] = a->tensors[i];
        if (!a->tensor_set[i] || buf[i].ndim == 0)
            continue;
        int side = packed_side(k, i);
        if (side >= 0) {
            if (buf[i].ndim >= 3)
                slice(&buf[i], 2, start[side], len[side]);
            continue;
        }
        const recipe_param *rp = param_of(k, i);
        for (int d = 0; rp && d < rp->ndim && d < buf[i].ndim; d++) {
            int s = dim_slice(rp, d);
            if (s >= 0)
                slice(&buf[i], d, start[s], len[s]);
        }
    }
}

static attnc_status validate_sub(attnc_kernel *k, const attnc_args *sub)
{
    if (k->bwd) {
        bwd_problem bp;
        return bwd_validate(k, sub, &bp);
    }
    launch_problem p;
    return launch_validate(k, sub, &p);
}

/* Prefixes k's message with the sequence it is about. */
static attnc_status seq_error(attnc_kernel *k, attnc_status st, int64_t b)
{
    char msg[ERRMSG_CAP - 64];
    memcpy(msg, k->errmsg, sizeof msg - 1); /* the prefix must fit: cut the end */
    msg[sizeof msg - 1] = 0;
    return kernel_error(k, st, "varlen launch, sequence %lld: %s", (long long)b, msg);
}

/* One sequence's launch (the backend's launch_each calls it, each on its
 * stream: sequences may overlap on the GPU). */
typedef struct varlen_run {
    attnc_kernel *k;
    const attnc_args *a;
    const varlen *vl;
    attnc_tensor *buf;
} varlen_run;

static attnc_status launch_one(void *user, int64_t b, void *stream)
{
    varlen_run *run = user;
    attnc_args sub;
    make_sub(run->k, run->a, run->vl, b, run->buf, &sub);
    attnc_status st = attnc_launch(run->k, &sub, stream);
    return st ? seq_error(run->k, st, b) : st;
}

static attnc_status launch_in_turn(void *stream, int64_t n, varlen_run *run)
{
    attnc_status st = ATTNC_OK;
    for (int64_t b = 0; b < n && !st; b++)
        st = launch_one(run, b, stream);
    return st;
}

attnc_status launch_varlen(attnc_kernel *k, const attnc_args *a, void *stream)
{
    varlen vl;
    attnc_status st = check_packed(k, a, &vl);
    if (st)
        return st;
    attnc_tensor *buf = ctx_alloc(k->ctx, sizeof *buf * (size_t)a->ntensors);
    if (!buf)
        return kernel_error(k, ATTNC_ERR_NOMEM, "out of memory: varlen launch arguments");
    attnc_args sub;
    for (int64_t b = 0; b < vl.nseq && !st; b++) { /* every sequence valid before any runs */
        make_sub(k, a, &vl, b, buf, &sub);
        if ((st = validate_sub(k, &sub)))
            st = seq_error(k, st, b);
    }
    if (!st) {
        varlen_run run = {k, a, &vl, buf};
        const backend_ops *ops = backend_find(k->backend);
        strbuf err;
        sb_init(&err);
        st = ops && ops->launch_each ? ops->launch_each(stream, vl.nseq, launch_one, &run, &err)
                                     : launch_in_turn(stream, vl.nseq, &run);
        if (st && err.len) /* the fan-out's own failure (a sequence's launch set k's message) */
            st = kernel_error(k, st, "varlen launch: %s", sb_cstr(&err));
        sb_free(&err);
    }
    ctx_free(k->ctx, buf);
    return st;
}
