/* kernel_abi.c — the forward kernel's parameter-role table; see kernel_abi.h. */
#include "kernel_abi.h"

const kabi_tensor_info kabi_tensors[KABI_NTENSORS] = {
    {"q", "q_stride", 4, false, KABI_DIM_QK, false, false},   {"k", "k_stride", 4, true, KABI_DIM_QK, false, false},
    {"v", "v_stride", 4, true, KABI_DIM_V, false, false},     {"o", "o_stride", 4, false, KABI_DIM_V, true, false},
    {"lse", "lse_stride", 3, false, KABI_DIM_NONE, true, true},
};

kabi_type kabi_param_type(bool scalar, bool is_float)
{
    return !scalar ? KABI_PTR : is_float ? KABI_F32 : KABI_I64;
}

static void add(kernel_abi *a, kabi_role role, kabi_type type, int which, int count)
{
    a->e[a->n++] = (kabi_entry){role, type, which, count};
}

void kernel_abi_forward(kernel_abi *out, int nparams, const kabi_type *types, bool tma)
{
    out->n = 0;
    for (int t = 0; t < KABI_NTENSORS; t++)
        add(out, KABI_TENSOR, KABI_PTR, t, 1);
    for (int t = 0; t < KABI_NTENSORS; t++)
        add(out, KABI_STRIDES, KABI_I64, t, kabi_tensors[t].rank);
    add(out, KABI_SIZES, KABI_I32, 0, SZ_MAX);
    for (int i = 0; i < nparams && i < KABI_MAX_PARAMS; i++)
        add(out, KABI_PARAM, types[i], i, 1);
    for (int t = 0; tma && t < KABI_NMAPS; t++)
        add(out, KABI_TMAP, KABI_MAP, KABI_Q + t, 1);
}

int kernel_abi_nargs(const kernel_abi *a)
{
    int n = 0;
    for (int i = 0; i < a->n; i++)
        n += a->e[i].count;
    return n;
}
