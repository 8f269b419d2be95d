/* kernel_abi.c — the GPU kernels' parameter-role tables and the one walk
 * that marshals a launch's arguments by them; see kernel_abi.h. */
#include "kernel_abi.h"

const kabi_tensor_info kabi_tensors[KABI_ALL_TENSORS] = {
    {"q", "q", "q_stride", 4, false, KABI_DIM_QK, false, false},
    {"k", "k", "k_stride", 4, true, KABI_DIM_QK, false, false},
    {"v", "v", "v_stride", 4, true, KABI_DIM_V, false, false},
    {"o", "o", "o_stride", 4, false, KABI_DIM_V, true, false},
    {"lse", "lse", "lse_stride", 3, false, KABI_DIM_NONE, true, true},
    {"do", "dout", "dout_stride", 4, false, KABI_DIM_V, false, false},
    {"dq", "dq", "dq_stride", 4, false, KABI_DIM_QK, true, false},
    {"dk", "dk", "dk_stride", 4, true, KABI_DIM_QK, true, false},
    {"dv", "dv", "dv_stride", 4, true, KABI_DIM_V, true, false},
};

const kabi_ws_info kabi_workspaces[KABI_NWS] = {
    {"delta", "f32 [batch, heads, tokens], rowsum(dO * O)"},
    {"dqacc", "f32 [batch, heads, tokens, head_dim], the atomic dQ accumulator"},
};

kabi_type kabi_param_type(bool scalar, bool is_float)
{
    return !scalar ? KABI_PTR : is_float ? KABI_F32 : KABI_I64;
}

void kabi_param_types(int n, const bool *scalar, const bool *is_float, kabi_type *types)
{
    for (int i = 0; i < n && i < KABI_MAX_PARAMS; i++)
        types[i] = kabi_param_type(scalar[i], is_float[i]);
}

static void add(kernel_abi *a, kabi_role role, kabi_type type, int which, int count)
{
    a->e[a->n++] = (kabi_entry){role, type, which, count};
}

static void add_params(kernel_abi *out, int nparams, const kabi_type *types)
{
    for (int i = 0; i < nparams && i < KABI_MAX_PARAMS; i++)
        add(out, KABI_PARAM, types[i], i, 1);
}

void kernel_abi_forward(kernel_abi *out, int nparams, const kabi_type *types, bool tma, bool o_tma)
{
    out->n = 0;
    for (int t = 0; t < KABI_NTENSORS; t++)
        add(out, KABI_TENSOR, KABI_PTR, t, 1);
    for (int t = 0; t < KABI_NTENSORS; t++)
        add(out, KABI_STRIDES, KABI_I64, t, kabi_tensors[t].rank);
    add(out, KABI_SIZES, KABI_I32, 0, SZ_MAX);
    add_params(out, nparams, types);
    for (int t = KABI_Q; tma && t <= KABI_V; t++)
        add(out, KABI_TMAP, KABI_MAP, t, 1);
    if (tma && o_tma)
        add(out, KABI_TMAP, KABI_MAP, KABI_O, 1);
}

void kernel_abi_backward(kernel_abi *out, int nparams, const kabi_type *types, int ngrad, bool tma)
{
    out->n = 0;
    for (int t = 0; t < KABI_ALL_TENSORS; t++)
        add(out, KABI_TENSOR, KABI_PTR, t, 1);
    for (int w = 0; w < KABI_NWS; w++)
        add(out, KABI_WS, KABI_PTR, w, 1);
    for (int t = 0; t < KABI_ALL_TENSORS; t++)
        add(out, KABI_STRIDES, KABI_I64, t, kabi_tensors[t].rank);
    add(out, KABI_SIZES, KABI_I32, 0, SZ_MAX);
    add_params(out, nparams, types);
    for (int j = 0; j < ngrad && j < KABI_MAX_PARAMS; j++) {
        add(out, KABI_DPARAM, KABI_PTR, j, 1);
        add(out, KABI_DSLICES, KABI_PTR, j, 1);
        add(out, KABI_DMODE, KABI_I32, j, 1);
    }
    if (tma) { /* the dK/dV kernel's producer (nvptx_bwd_ring.c) copies Q and dO tiles */
        add(out, KABI_TMAP, KABI_MAP, KABI_Q, 1);
        add(out, KABI_TMAP, KABI_MAP, KABI_DO, 1);
    }
}

int kernel_abi_nargs(const kernel_abi *a)
{
    int n = 0;
    for (int i = 0; i < a->n; i++)
        n += a->e[i].count;
    return n;
}

/* A recipe param's value as its kernel argument type. */
static void put_param(kabi_slot *s, kabi_type t, const kabi_values *v, int i)
{
    if (t == KABI_PTR)
        s->p = v->param_ptr[i];
    else if (t == KABI_F32)
        s->f32 = (float)v->param_scalar[i];
    else
        s->i64 = (int64_t)v->param_scalar[i];
}

int kernel_abi_marshal(const kernel_abi *a, const kabi_values *v, kabi_slot *slots, void **args, void *const *maps)
{
    int n = 0, nmaps = 0;
    for (int e = 0; e < a->n; e++) {
        const kabi_entry *en = &a->e[e];
        for (int i = 0; i < en->count; i++, n++) {
            kabi_slot *s = &slots[n];
            args[n] = s;
            switch (en->role) {
            case KABI_TENSOR: s->p = v->ptr[en->which]; break;
            case KABI_STRIDES: s->i64 = v->stride[en->which][i]; break;
            case KABI_SIZES: s->i32 = (int32_t)v->size[i]; break;
            case KABI_PARAM: put_param(s, en->type, v, en->which); break;
            case KABI_TMAP: args[n] = maps ? maps[nmaps++] : NULL; break;
            case KABI_WS: s->p = v->ws[en->which]; break;
            case KABI_DPARAM: s->p = v->dparam[en->which]; break;
            case KABI_DSLICES: s->p = v->dslices[en->which]; break;
            case KABI_DMODE: s->i32 = v->dmode[en->which]; break;
            }
        }
    }
    return n;
}
